"""A trained melanoma classifier as a file pair, and prediction with it on any dataset directory.

Export (``dermsynth classify export RUN --setup real --out DIR``): ``DIR/model.safetensors`` (the timm
state dict of the best-validation epoch) + ``DIR/model.json`` (timm name, input size, normalisation,
weights provenance, validation AUC, where it came from). The same pair is the layout of the shipped
``isic2017-melanoma`` (``dermsynth.models``) and what ``metrics.dermo`` reads as a feature space.

Prediction (``dermsynth classify predict DATA --model NAME|PATH --out predictions.csv``): sigmoid
scores of every readable image of a dataset directory, ``image_id,label,score`` (``label`` from the
manifest when there is one, else empty), optionally averaged over the eight flips / 90-degree
rotations (dermoscopy has no up). ``classify metrics`` reads the file as it is.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from dermsynth.core.io import atomic_path, atomic_write_json

WEIGHTS_FILE = "model.safetensors"
META_FILE = "model.json"
KIND = "melanoma-classifier"


def export_classifier(clf, meta: dict, out_dir: str | os.PathLike, half: bool = False) -> Path:
    """Write ``model.safetensors`` (fp16 when ``half``; float tensors only) + ``model.json`` atomically."""
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {}
    for k, v in clf.model.state_dict().items():
        v = v.detach().cpu().contiguous()
        state[k] = v.half() if half and v.is_floating_point() else v
    with atomic_path(out_dir / WEIGHTS_FILE) as tmp:
        save_file(state, str(tmp))
    full = {
        "kind": KIND,
        "model": meta["model"],
        "input_size": int(meta["input_size"]),
        "mean": list(clf.mean),
        "std": list(clf.std),
        "num_classes": 1,
        "dtype": "float16" if half else "float32",
        **{k: v for k, v in meta.items() if k not in ("model", "input_size")},
    }
    atomic_write_json(out_dir / META_FILE, full)
    return out_dir / META_FILE


def export_setup(
    run_dir: str | os.PathLike, setup: str, out_dir: str | os.PathLike, half: bool = False
) -> Path:
    """Export the best-validation model of ``setup`` of a ``classify run`` directory."""
    from dermsynth.classify.trained import load_trained

    clf, exp = load_trained(run_dir, setup)
    done = Path(run_dir) / "setups" / setup / "done.json"
    info = json.loads(done.read_text()) if done.is_file() else {}
    meta = {
        "model": exp.model.name,
        "input_size": exp.model.image_size,
        "weights": clf.weights.shippable(),
        "val_auc": info.get("val_auc"),
        "best_epoch": info.get("best_epoch"),
        "source": {"run": Path(run_dir).name, "setup": setup, "experiment": exp.name},  # a name, not a path
    }
    return export_classifier(clf, meta, out_dir, half)


def _files(path: Path) -> tuple[Path, Path]:
    d = path if path.is_dir() else path.parent
    return d / META_FILE, d / WEIGHTS_FILE


def load_classifier(spec: str | os.PathLike, device: str = "cpu"):
    """``(Classifier in eval mode, meta)`` from a registry name or an exported folder / file."""
    from safetensors.torch import load_file

    from dermsynth.classify.models import Classifier
    from dermsynth.core.distributed import device as pick_device
    from dermsynth.core.pretrained import WeightsInfo, create_backbone
    from dermsynth.models import resolve_spec

    path = resolve_spec(spec, kind=KIND)
    meta_path, weights_path = _files(path)
    for p in (meta_path, weights_path):
        if not p.is_file():
            raise FileNotFoundError(
                f"{p}: missing (a classifier is {META_FILE} + {WEIGHTS_FILE}, see classify export)"
            )
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("kind", KIND) != KIND:
        raise ValueError(f"{meta_path}: a {meta.get('kind')} model, not a melanoma classifier")
    model, _ = create_backbone(meta["model"], num_classes=1, weights=None)
    sd = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(weights_path)).items()}
    model.load_state_dict(sd)
    model.to(pick_device(device)).eval()
    weights = WeightsInfo(meta["model"], f"dermsynth:{spec}", str(weights_path))
    return Classifier(model, weights, tuple(meta["mean"]), tuple(meta["std"])), meta


def _tta_scores(model, x):
    import torch

    views = [torch.rot90(v, k, (2, 3)) for v in (x, x.flip(3)) for k in range(4)]
    return torch.stack([torch.sigmoid(model(v).float().reshape(-1)) for v in views]).mean(0)


def predict_images(
    clf, meta: dict, images: list[np.ndarray], tta: bool = True, batch_size: int = 32
) -> np.ndarray:
    """Melanoma probabilities of RGB uint8 images (any size; squashed to the model's input size)."""
    import torch

    from dermsynth.classify.loader import make_transform

    tf = make_transform(int(meta["input_size"]), clf.mean, clf.std, train=False)
    dev = next(clf.model.parameters()).device
    out = []
    with torch.inference_mode():
        for s in range(0, len(images), batch_size):
            x = torch.stack(
                [
                    tf(torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1))
                    for im in images[s : s + batch_size]
                ]
            )
            x = x.to(dev)
            p = _tta_scores(clf.model, x) if tta else torch.sigmoid(clf.model(x).float().reshape(-1))
            out.append(p.double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def predict_dataset(
    directory: str | os.PathLike,
    model: str | os.PathLike,
    split: str | None = None,
    tta: bool = True,
    batch_size: int = 32,
    device: str = "auto",
    on_batch=None,
) -> pd.DataFrame:
    """``image_id, label, score, weights`` for the images of a dataset directory (one split or all).

    Unreadable images get an empty score and a warning naming the file; the run goes on.
    """
    from dermsynth.classify.data import read_or_warn, select_split
    from dermsynth.core.manifest import read_manifest

    directory = Path(directory)
    df = select_split(read_manifest(directory), directory, split)
    clf, meta = load_classifier(model, device)
    scores = np.full(len(df), np.nan)
    rows = list(range(len(df)))
    for s in range(0, len(rows), batch_size):
        chunk, imgs = [], []
        for i in rows[s : s + batch_size]:
            img = read_or_warn(directory / str(df["file"].iloc[i]), "skipped (empty score)")
            if img is not None:
                imgs.append(img)
                chunk.append(i)
        if imgs:
            scores[chunk] = predict_images(clf, meta, imgs, tta, batch_size)
        if on_batch:
            on_batch(len(rows[s : s + batch_size]))
    label = df["label"] if "label" in df.columns else pd.Series([np.nan] * len(df))
    out = pd.DataFrame(
        {"image_id": df["image_id"].astype(str).values, "label": label.values, "score": scores}
    )
    out["weights"] = clf.weights.weights
    return out
