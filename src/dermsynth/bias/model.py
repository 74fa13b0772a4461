"""Learned multi-label artifact classifier: a timm backbone with one logit per artifact.

The thesis used an external pretrained bias classifier (Bissoto et al. 2020 report ~98% accuracy);
we train our own from any annotated set. Default backbone: the offline ImageNet EfficientNet-Lite0
(``dermsynth.core.pretrained``; inputs normalised with mean = std = 0.5). The export is a
safetensors state dict plus a JSON of everything needed to rebuild and use it (no pickle):
``model.safetensors`` + ``model.json`` (model name, artifacts, image size, per-label thresholds
chosen on validation, the validation F1 of model and heuristic per artifact, and which is better).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from dermsynth.core.io import atomic_path, atomic_write_json
from dermsynth.core.pretrained import LITE_MEAN, LITE_STD

WEIGHTS_FILE = "model.safetensors"
META_FILE = "model.json"


def build_model(model_name: str, num_labels: int, weights: str | os.PathLike | None):
    """A timm classifier with ``num_labels`` logits (weights: 'imagenet', a local path, or None)."""
    from dermsynth.core.pretrained import create_backbone

    return create_backbone(model_name, num_classes=num_labels, weights=weights)


def to_tensor(images: np.ndarray):
    """uint8 [N, H, W, 3] -> float tensor [N, 3, H, W] normalised with the Lite mean/std."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(LITE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(LITE_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def resize_square(rgb: np.ndarray, size: int) -> np.ndarray:
    """Resize (squash) an RGB image to size x size with area interpolation."""
    if rgb.shape[:2] == (size, size):
        return rgb
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)


def save_model(model, meta: dict, out_dir: str | os.PathLike) -> Path:
    """Write ``model.safetensors`` and ``model.json`` atomically into ``out_dir``."""
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(out_dir / WEIGHTS_FILE) as tmp:
        save_file(state, str(tmp))
    atomic_write_json(out_dir / META_FILE, meta)
    return out_dir / META_FILE


def _model_dir(path: str | os.PathLike) -> Path:
    p = Path(path)
    return p if p.is_dir() else p.parent


KIND = "artifact-classifier"


def load_model(path: str | os.PathLike, device: str = "cpu"):
    """Load ``(model in eval mode on ``device``, meta dict)`` from a shipped model's name
    (``isic2017-artifacts``), a model directory or its .json / .safetensors (``device``: cpu, cuda or auto)."""
    from safetensors.torch import load_file

    from dermsynth.models import resolve_spec

    d = _model_dir(resolve_spec(path, kind=KIND))
    meta_path, weights_path = d / META_FILE, d / WEIGHTS_FILE
    for p in (meta_path, weights_path):
        if not p.is_file():
            raise FileNotFoundError(f"{p}: missing (expected {META_FILE} + {WEIGHTS_FILE} from `bias train`)")
    meta = json.loads(meta_path.read_text())
    model, _ = build_model(meta["model"], len(meta["artifacts"]), weights=None)
    sd = load_file(str(weights_path))  # float16 in the shipped copy: loaded into float32 parameters
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd.items()})
    from dermsynth.core.distributed import device as pick_device

    model.to(pick_device(device))
    model.eval()
    return model, meta


#: test-time views by count: (quarter turns, mirrored first); dermoscopy has no preferred orientation.
#: Each set is a group (1: identity; 2: + the mirror; 4: + the half turn of both, i.e. both mirrors; 8:
#: + the quarter turns), and each is the first views of the next, so one pass of 8 gives them all.
VIEWS: dict[int, tuple[tuple[int, bool], ...]] = {
    n: ((0, False), (0, True), (2, False), (2, True), (1, False), (1, True), (3, False), (3, True))[:n]
    for n in (1, 2, 4, 8)
}


def n_views(tta: bool | int | None) -> int:
    """The number of test-time views ``tta`` stands for: True = 8 (every flip and quarter turn), False /
    None = 1, or a count of :data:`VIEWS` (``model.json`` may hold either)."""
    if tta is None or isinstance(tta, bool):
        return 8 if tta else 1
    if int(tta) not in VIEWS:
        raise ValueError(f"test-time augmentation: {tta!r} views; use one of {sorted(VIEWS)} (or true/false)")
    return int(tta)


def predict_views(model, images: np.ndarray, views: int = 8, device=None) -> np.ndarray:
    """Sigmoid probabilities [V, N, labels] of uint8 images [N, S, S, 3], one row per view of
    :data:`VIEWS` (``views`` of them, in that order; the first ``v`` rows are the ``v``-view set)."""
    import torch

    x = to_tensor(images).to(device if device is not None else next(model.parameters()).device)
    out = []
    with torch.inference_mode():
        for k, mirrored in VIEWS[n_views(views)]:
            v = torch.rot90(x.flip(3) if mirrored else x, k, (2, 3))
            out.append(torch.sigmoid(model(v)).float())
    return torch.stack(out).cpu().numpy()


def predict_batch(model, images: np.ndarray, tta: bool | int = True, device=None) -> np.ndarray:
    """Sigmoid probabilities [N, labels] of uint8 images [N, S, S, 3]; with ``tta`` the mean over its
    views (``n_views``: True = the eight flips / quarter turns)."""
    return predict_views(model, images, n_views(tta), device).mean(0)


def predict_proba(
    model, images: Iterable[np.ndarray], size: int, batch_size: int = 64, tta: bool | int = True
) -> np.ndarray:
    """Sigmoid probabilities [N, labels] for RGB uint8 images (any size; squashed to ``size``)."""
    out, batch = [], []
    for img in images:
        batch.append(resize_square(img, size))
        if len(batch) == batch_size:
            out.append(predict_batch(model, np.stack(batch), tta))
            batch.clear()
    if batch:
        out.append(predict_batch(model, np.stack(batch), tta))
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)
