"""Classifier models by name: a registry of builders, then any timm model (timm ``@register_model``
style, docs/architecture.md R4).

- ``tf_efficientnet_lite0`` / ``tf_efficientnet_lite2`` (default): offline ImageNet weights from
  ``dermsynth.core.pretrained`` (mean = std = 0.5).
- any other timm name, e.g. ``efficientnet_b2`` as in the thesis: ImageNet weights only from a local
  checkpoint path (nothing is downloaded); ``weights: none`` trains from scratch, with a note.
- ``tiny-cnn``: a three-layer CNN for CI-sized runs.

Every model exposes ``forward_features`` and ``forward_head(x, pre_logits=True)`` (timm's API), so the
embedding stage can read the penultimate layer of any of them. Output: one logit (melanoma).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

from dermsynth.core.pretrained import EFFNET_LITE, LITE_MEAN, LITE_STD, WeightsInfo, create_backbone

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class Classifier:
    """A model with what is needed to feed it and to say where its weights came from."""

    model: object  # torch.nn.Module
    weights: WeightsInfo
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    note: str = ""


_REGISTRY: dict[str, Callable[[str | None], Classifier]] = {}


def register(name: str):
    def deco(fn: Callable[[str | None], Classifier]):
        _REGISTRY[name] = fn
        return fn

    return deco


def _tiny_cnn():
    import torch
    from torch import nn

    class TinyCNN(nn.Module):
        """3 conv blocks (16-32-64 channels, stride 2) -> global average pool -> linear (1 logit)."""

        def __init__(self, width: int = 16):
            super().__init__()
            chans = [3, width, 2 * width, 4 * width]
            layers = []
            for a, b in zip(chans[:-1], chans[1:], strict=True):
                layers += [
                    nn.Conv2d(a, b, 3, stride=2, padding=1, bias=False),
                    nn.BatchNorm2d(b),
                    nn.ReLU(True),
                ]
            self.features = nn.Sequential(*layers)
            self.num_features = chans[-1]
            self.classifier = nn.Linear(chans[-1], 1)

        def forward_features(self, x: torch.Tensor) -> torch.Tensor:
            return self.features(x)

        def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
            x = x.mean(dim=(2, 3))
            return x if pre_logits else self.classifier(x)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.forward_head(self.forward_features(x))

    return TinyCNN()


@register("tiny-cnn")
def _build_tiny(weights: str | None) -> Classifier:
    import torch

    m = _tiny_cnn()
    if weights in (None, "none"):
        return Classifier(m, WeightsInfo("tiny-cnn", "random-init"), LITE_MEAN, LITE_STD)
    if weights == "imagenet":
        raise ValueError("tiny-cnn has no ImageNet weights; use `weights: none` or a checkpoint path")
    m.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return Classifier(m, WeightsInfo("tiny-cnn", f"checkpoint:{weights}", str(weights)), LITE_MEAN, LITE_STD)


SCRATCH_NOTE = "trained from scratch (random initialisation, no pretrained weights) as asked"


def _registry_weights(weights: str | None) -> str | None:
    """A shipped classifier's name (e.g. ``isic2017-melanoma``) -> its verified weights file."""
    from pathlib import Path

    if weights is None or weights == "imagenet" or Path(weights).exists():
        return weights
    from dermsynth.models import list_models, resolve_spec

    if str(weights) in list_models():
        return str(resolve_spec(str(weights)) / "model.safetensors")
    return weights


def build_classifier(name: str, weights: str | None = "imagenet") -> Classifier:
    """A one-logit classifier by name; ``weights``: ``imagenet`` | ``none`` | local checkpoint path."""
    if weights is not None and str(weights).lower() in ("none", "random", "scratch"):
        weights = None
    weights = _registry_weights(weights)
    if name in _REGISTRY:
        c = _REGISTRY[name](weights)
    else:
        c = _build_timm(name, weights)
    if c.weights.weights == "random-init":
        c.note = SCRATCH_NOTE
        if name not in _REGISTRY:
            warnings.warn(f"{name}: {SCRATCH_NOTE}", stacklevel=2)
    return c


def reset_head(model, std: float = 0.01) -> None:
    """Small-normal weights, zero bias for the one-logit head.

    timm's EfficientNet init draws a ``Linear(1280, 1)`` head from U(-1, 1) (range 1/sqrt(fan_out)),
    which starts training with logits in the tens; a small head starts at p ~ 0.5 (loss ~ log 2).
    """
    import torch

    head = model.get_classifier()
    if isinstance(head, torch.nn.Linear):
        torch.nn.init.normal_(head.weight, std=std)
        torch.nn.init.zeros_(head.bias)


def _build_timm(name: str, weights: str | None) -> Classifier:
    c = _build_timm_raw(name, weights)
    reset_head(c.model)
    return c


def _build_timm_raw(name: str, weights: str | None) -> Classifier:
    import timm

    if name not in timm.list_models() and name not in timm.list_models(pretrained=True):
        raise ValueError(f"unknown model {name!r}: not in dermsynth's registry {sorted(_REGISTRY)} nor timm")
    if name in EFFNET_LITE:
        model, info = create_backbone(name, num_classes=1, weights=weights)
        return Classifier(model, info, LITE_MEAN, LITE_STD)
    if weights == "imagenet":
        raise ValueError(
            f"{name}: no offline ImageNet weights are bundled; give `weights: PATH` (a local timm state "
            f"dict, e.g. from timm's hub cache) or `weights: none` to train from scratch, or use "
            f"{sorted(EFFNET_LITE)}"
        )
    model, info = create_backbone(name, num_classes=1, weights=weights)
    cfg = getattr(model, "pretrained_cfg", {}) or {}
    mean = tuple(cfg.get("mean", IMAGENET_MEAN))
    std = tuple(cfg.get("std", IMAGENET_STD))
    return Classifier(model, info, mean, std)


def penultimate(model, x):
    """Penultimate-layer features [B, D] of a timm-style model (``forward_head(pre_logits=True)``)."""
    m = getattr(model, "module", model)
    return m.forward_head(m.forward_features(x), pre_logits=True)
