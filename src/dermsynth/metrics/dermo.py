"""A dermoscopy feature space: a dermsynth classifier or artifact model as feature extractor.

The classify and bias stages save timm state dicts (``.safetensors`` or ``.pt``) with a JSON beside
them (same stem, ``.json``) holding at least ``{"model": timm_name}``; optional keys used here:
``input_size`` (or ``img_size``), ``mean``, ``std``, ``in_chans``, ``model_kwargs``. The network is built
with ``num_classes=0`` so it returns pooled pre-logit features; the classifier head in the checkpoint
is ignored. Default normalisation is EfficientNet-Lite's mean = std = 0.5 (core.pretrained).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth")
_PREFIXES = ("module.", "model.", "_orig_mod.", "backbone.")


def _pair(path: Path) -> tuple[Path, Path]:
    """(weights file, json file) from either of them."""
    if path.suffix == ".json":
        meta = path
        cands = [path.with_suffix(s) for s in WEIGHT_SUFFIXES]
    else:
        meta = path.with_suffix(".json")
        cands = [path]
    weights = next((c for c in cands if c.is_file()), None)
    if weights is None:
        raise FileNotFoundError(f"{cands[0]}: weights file not found (looked for {[c.name for c in cands]})")
    if not meta.is_file():
        raise FileNotFoundError(f'{meta}: model description not found (JSON with {{"model": timm_name}})')
    return weights, meta


def _read_state_dict(path: Path) -> dict:
    import torch

    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    sd = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "model_state"):
        if isinstance(sd, dict) and isinstance(sd.get(key), dict):
            sd = sd[key]
    return sd


def _strip(sd: dict, own: dict) -> dict:
    """Drop wrapper prefixes (``module.``, ``model.`` ...) until the keys match the model's."""
    for _ in range(3):
        if any(k in own for k in sd):
            break
        for p in _PREFIXES:
            if all(k.startswith(p) for k in sd):
                sd = {k[len(p) :]: v for k, v in sd.items()}
                break
    return sd


def resolve_dermo_checkpoint(spec: str | os.PathLike) -> Path:
    """The checkpoint file a ``dermo`` feature-space spec names: a path to the weights or JSON, or a
    shipped model's name (``isic2017-melanoma``, ``isic2017-artifacts``; ``dermsynth models list``).

    FileNotFoundError names the file when it does not exist.
    """
    path = Path(spec).expanduser()
    if not path.exists():
        from dermsynth.models import list_models, resolve_spec

        if str(spec) in list_models():  # a shipped classifier, e.g. isic2017-melanoma (sha256 checked)
            return resolve_spec(str(spec)) / "model.safetensors"
        raise FileNotFoundError(
            f"{path}: dermo feature-space checkpoint not found (a timm state dict .safetensors/.pt/.pth "
            f"with a JSON beside it, or that JSON)"
        )
    return path


def load_feature_model(path: str | os.PathLike):
    """(timm feature network in eval mode, info) from a dermsynth checkpoint + JSON description."""
    import timm

    weights, meta_path = _pair(resolve_dermo_checkpoint(path))
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{meta_path}: not valid JSON ({e})") from None
    name = meta.get("model") or meta.get("model_name") or meta.get("arch")
    if not name:
        raise ValueError(f"{meta_path}: no 'model' key naming the timm architecture")
    kwargs = dict(meta.get("model_kwargs") or {})
    if "in_chans" in meta:
        kwargs["in_chans"] = int(meta["in_chans"])
    try:
        net = timm.create_model(name, pretrained=False, num_classes=0, **kwargs)
    except RuntimeError as e:
        raise ValueError(f"{meta_path}: timm cannot build {name!r} ({e})") from None
    own = net.state_dict()
    sd = _strip(_read_state_dict(weights), own)
    fit = {k: v for k, v in sd.items() if k in own and tuple(own[k].shape) == tuple(v.shape)}
    missing = [k for k in own if k not in fit and not k.endswith("num_batches_tracked")]
    if missing:
        raise ValueError(
            f"{weights}: {len(missing)} of {len(own)} tensors of {name} missing or mis-shaped "
            f"(first: {missing[:3]}); is this a {name} checkpoint?"
        )
    net.load_state_dict(fit, strict=False)
    size = meta.get("input_size") or meta.get("img_size") or meta.get("image_size")
    if isinstance(size, (list, tuple)):
        size = size[-1]
    st = weights.stat()
    info = {
        "model": name,
        "weights": f"checkpoint:{weights.name}",
        "path": str(weights.resolve()),
        "size_bytes": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "input_size": int(size) if size else None,
        "mean": list(meta.get("mean", (0.5, 0.5, 0.5))),
        "std": list(meta.get("std", (0.5, 0.5, 0.5))),
        "task": meta.get("task") or meta.get("kind"),
    }
    return net.eval(), info
