"""The standard FID Inception-v3 (TensorFlow graph ``pt_inception-2015-12-05``), from a local file only.

torch-fidelity's ``FeatureExtractorInceptionV3`` ('inception-v3-compat') reproduces the TensorFlow
network that TTUR, StyleGAN2-ADA (``inception-2015-12-05.pkl``) and pytorch-fid use, including the
TF1-compatible bilinear resize to 299 x 299 *inside* the network from uint8 input. Its weights file is
the one pytorch-fid publishes (same sha256 prefix 6726825d). We always pass
``feature_extractor_weights_path`` so torch-fidelity never downloads; when no file is found we stop
with a message naming the file, where to get it and where to put it.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Names the same state dict goes by (pytorch-fid, torch-fidelity); the first is the one we ask for.
INCEPTION_FILES = ("pt_inception-2015-12-05-6726825d.pth", "weights-inception-2015-12-05-6726825d.pth")
INCEPTION_URLS = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
)
ENV_VAR = "DERMSYNTH_INCEPTION_WEIGHTS"


def hub_checkpoint_dir() -> Path:
    """torch.hub's checkpoint cache (where torch-fidelity would have put a download)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def find_inception_weights(path: str | os.PathLike | None = None) -> Path:
    """``path``, else $DERMSYNTH_INCEPTION_WEIGHTS, else the torch.hub cache; FileNotFoundError otherwise."""
    if path:
        p = Path(path)
        if p.is_file():
            return p
        raise FileNotFoundError(missing_message(f"{p} does not exist"))
    env = os.environ.get(ENV_VAR)
    if env:
        p = Path(env)
        if p.is_file():
            return p
        raise FileNotFoundError(missing_message(f"${ENV_VAR}={p} does not exist"))
    for name in INCEPTION_FILES:
        p = hub_checkpoint_dir() / name
        if p.is_file():
            return p
    raise FileNotFoundError(missing_message("no local copy found"))


def missing_message(why: str) -> str:
    """What a user must do to make the Inception features available offline."""
    return (
        f"Inception-v3 FID weights not found ({why}). Get the file {INCEPTION_FILES[0]} "
        f"(95 MB) from {INCEPTION_URLS[0]} (or {INCEPTION_URLS[1]}) on a machine with internet, and "
        f"either pass --inception-weights PATH, set {ENV_VAR}=PATH, or put it in {hub_checkpoint_dir()}/. "
        f"For an offline, download-free alternative use a metric in another feature space "
        f"(e.g. fid10k_effnetlite: not comparable with published FIDs)."
    )


def load_inception(path: str | os.PathLike | None = None):
    """(network mapping uint8 NCHW -> 2048-d features, info dict)."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    p = find_inception_weights(path)
    try:
        net = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(p)
        )
    except (RuntimeError, KeyError) as e:
        raise ValueError(f"{p}: not the pt_inception-2015-12-05 state dict ({e})") from None
    st = p.stat()
    info = {
        "model": "inception-v3-compat",
        "weights": "pt_inception-2015-12-05",
        "path": str(p.resolve()),
        "size_bytes": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "input": "uint8, TF1 bilinear resize to 299 inside the network",
    }
    return net, info
