"""Pluggable feature extractors: a registry of callables, ``get_extractor("name[:arg]")``.

Every extractor takes uint8 images [N, 3, H, W] (the quantised protocol of StyleGAN2-ADA: real and
generated images are both uint8 before features are taken) and returns float32 features [N, D].
Each carries ``info``: which weights were used, written into every output. Nothing is downloaded:
all weights come from local files (see ``inception.py``, ``dermo.py``, ``core.pretrained``).

Registered specs:
- ``inception``           Inception-v3 pt_inception-2015-12-05 (FID/KID standard), 2048-d pool features
- ``vgg16``               torchvision VGG16 fc2 after ReLU (precision/recall standard), 4096-d (vgg16.py)
- ``effnet-lite[:lite2]`` offline ImageNet EfficientNet-Lite0 (or Lite2) pooled features (CI-friendly)
- ``effnet-lite:random``  the same network, randomly initialised (tests, plumbing only)
- ``torchscript:PATH``    any TorchScript module: float32 [0, 1] NCHW at stored resolution -> [N, D]
- ``dermo:SPEC``          a dermsynth classifier / artifact model checkpoint (``dermo.resolve_dermo_checkpoint``)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

#: name -> factory(arg: str | None, **kw) -> Extractor
EXTRACTORS: dict[str, Callable[..., Extractor]] = {}


def register_extractor(name: str):
    """Decorator adding a factory ``f(arg, **kw) -> Extractor`` under ``name``."""

    def deco(fn):
        EXTRACTORS[name] = fn
        return fn

    return deco


class Extractor(torch.nn.Module):
    """uint8 [N, 3, H, W] -> float32 [N, D], with provenance in ``info`` and a ``cache_key``."""

    def __init__(self, name: str, net: torch.nn.Module, info: dict[str, Any], prep: Callable | None = None):
        super().__init__()
        self.name = name
        self.net = net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.info = dict(info, extractor=name)
        self.prep = prep

    @property
    def device(self) -> torch.device:
        p = next(self.net.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(
                f"extractor {self.name}: expected uint8 [N, 3, H, W], got {images.dtype} {tuple(images.shape)}"
            )
        return self._run(images.to(self.device))

    def forward_float(self, images: torch.Tensor) -> torch.Tensor:
        """Features of float images in [0, 255] (no quantisation; PPL needs the tiny differences)."""
        if self.prep is None:
            raise ValueError(f"extractor {self.name} takes uint8 only; use effnet-lite, dermo or torchscript")
        return self._run(images.to(self.device).float())

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prep(x) if self.prep is not None else x
        out = self.net(x)
        if isinstance(out, (tuple, list)):
            out = out[0]
        if out.ndim != 2:
            out = out.flatten(1)
        return out.float()


def resize_normalise(size: int | None, mean, std) -> Callable[[torch.Tensor], torch.Tensor]:
    """uint8 -> float in [0, 1] -> bilinear (antialiased) resize to ``size`` -> (x - mean) / std."""
    m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)

    def prep(x: torch.Tensor) -> torch.Tensor:
        x = x.float() / 255
        if size is not None and tuple(x.shape[-2:]) != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        return (x - m.to(x.device)) / s.to(x.device)

    return prep


def get_extractor(spec: str, device: str | torch.device = "cpu", **kw) -> Extractor:
    """Build the extractor named by ``spec`` (``name`` or ``name:arg``) on ``device``.

    Keyword arguments go to the factory (e.g. ``inception_weights=PATH``, ``size=64``).
    """
    name, _, arg = str(spec).partition(":")
    if name not in EXTRACTORS:
        raise ValueError(f"unknown feature extractor {spec!r}; known: {sorted(EXTRACTORS)}")
    ext = EXTRACTORS[name](arg or None, **kw)
    return ext.to(device)


@register_extractor("effnet-lite")
def _effnet_lite(arg: str | None, size: int | None = None, **_) -> Extractor:
    """Offline ImageNet EfficientNet-Lite pooled features (mean = std = 0.5)."""
    from dermsynth.core.pretrained import LITE_MEAN, LITE_STD, create_backbone

    variant = "lite0"
    weights: str | None = "imagenet"
    for part in (arg or "").split(","):
        if part in ("lite0", "lite2"):
            variant = part
        elif part == "random":
            weights = None
        elif part:
            raise ValueError(f"effnet-lite option {part!r}: expected lite0, lite2 or random")
    model_name = f"tf_efficientnet_{variant}"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # random-init is seeded so cached reference features stay valid
        net, winfo = create_backbone(model_name, num_classes=0, weights=weights)
    size = size or {"lite0": 224, "lite2": 260}[variant]
    info = dict(winfo.as_dict(), input_size=size, resize="bilinear-antialias", normalise="mean=std=0.5")
    name = f"effnet-lite:{variant}" + (",random" if weights is None else "") + (f"@{size}" if size else "")
    return Extractor(name, net, info, resize_normalise(size, LITE_MEAN, LITE_STD))


@register_extractor("torchscript")
def _torchscript(arg: str | None, **_) -> Extractor:
    """A user TorchScript module: float32 [0, 1] NCHW at the stored resolution -> [N, D]."""
    from pathlib import Path

    if not arg:
        raise ValueError("torchscript extractor needs a path: --torchscript PATH")
    path = Path(arg)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: TorchScript feature network not found")
    try:
        net = torch.jit.load(str(path), map_location="cpu")
    except RuntimeError as e:
        raise ValueError(f"{path}: not a TorchScript module ({e})") from None
    st = path.stat()
    info = {
        "model": "torchscript",
        "weights": f"torchscript:{path.name}",
        "path": str(path.resolve()),
        "size_bytes": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "input": "float32 [0,1] NCHW, stored resolution",
    }
    return Extractor(f"torchscript:{path.resolve()}", net, info, lambda x: x.float() / 255)


@register_extractor("dermo")
def _dermo(arg: str | None, **_) -> Extractor:
    """A dermsynth classifier / artifact model as feature space (pooled pre-logit features)."""
    from dermsynth.metrics.dermo import load_feature_model, resolve_dermo_checkpoint

    if not arg:
        raise ValueError("dermo extractor needs a checkpoint: --dermo PATH")
    net, info = load_feature_model(resolve_dermo_checkpoint(arg))
    prep = resize_normalise(info["input_size"], info["mean"], info["std"])
    return Extractor(f"dermo:{info['path']}", net, info, prep)


@register_extractor("inception")
def _inception(arg: str | None, inception_weights: str | None = None, **_) -> Extractor:
    """Inception-v3 (pt_inception-2015-12-05) 2048-d features, as torch-fidelity's inception-v3-compat."""
    from dermsynth.metrics.inception import load_inception

    net, info = load_inception(arg or inception_weights)
    return Extractor("inception-v3-compat", net, info)


@register_extractor("vgg16")
def _vgg16(arg: str | None, vgg16_weights: str | None = None, **_) -> Extractor:
    """torchvision VGG16 fc2 (after ReLU) 4096-d features at 224 px, from vgg16-397923af.pth."""
    from dermsynth.metrics.vgg16 import load_vgg16_features

    net, info = load_vgg16_features(arg or vgg16_weights)
    return Extractor("vgg16-fc2-relu", net, info)
