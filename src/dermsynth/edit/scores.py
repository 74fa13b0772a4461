"""Registry of image scorers that label samples for SVM boundaries and judge edits.

A scorer maps uint8 images [N, H, W, 3] to a :class:`Scores` (score per image, presence flag,
optional masks). Specs are ``name`` or ``name:argument``:

- ``dark_corner[:THRESHOLD]``: the bias stage's frame detector (``dermsynth.bias.detect``), present
  from its default threshold or ``THRESHOLD``;
- ``bias:<artifact>``: any artifact of the bias audit;
- ``d_projection``: a conditional discriminator's class score D(x, c=1) - D(x, c=0) (> 0: class 1,
  melanoma), needs ``D`` in the context;
- ``lesion_area``: fraction of the image the lesion segmentation covers;
- ``classifier:RUN_DIR@SETUP``: the best model of a classify-stage run's setup (melanoma probability);
  ``classifier:NAME|DIR``: a shipped (``isic2017-melanoma``) or exported classifier; bare ``classifier``:
  the shipped default melanoma classifier.

New scorers: ``@register_scorer("name")`` on a factory ``(arg, context) -> scorer``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Scores:
    """Per-image scores, presence flags and (for localised artifacts) bool masks [N, H, W]."""

    scores: np.ndarray
    present: np.ndarray
    masks: np.ndarray | None = None


Scorer = Callable[[np.ndarray], Scores]
_REGISTRY: dict[str, Callable[[str | None, dict[str, Any]], Scorer]] = {}
#: scorer names that are gone -> what to use instead
_REMOVED = {"simple_dark_corner": "dark_corner (the bias stage's frame detector)"}


def register_scorer(name: str):
    """Decorator: register a factory ``(arg, context) -> scorer`` under ``name``."""

    def deco(factory):
        _REGISTRY[name] = factory
        return factory

    return deco


def scorer_names() -> list[str]:
    return sorted(_REGISTRY)


def get_scorer(spec: str, **context: Any) -> Scorer:
    """The scorer for ``spec`` (``name`` or ``name:arg``); clear error for unknown names."""
    name, _, arg = spec.partition(":")
    if name in _REMOVED:
        raise ValueError(f"scorer {name!r} was removed; use {_REMOVED[name]}")
    if name not in _REGISTRY:
        raise ValueError(f"unknown scorer {spec!r}; known: {scorer_names()} (as name or name:argument)")
    return _REGISTRY[name](arg or None, context)


def _stack(results: list, with_masks: bool) -> Scores:
    scores = np.array([float(r.score) for r in results])
    present = np.array([bool(r.present) for r in results])
    masks = np.stack([np.asarray(r.mask, bool) for r in results]) if with_masks and results else None
    return Scores(scores, present, masks)


@register_scorer("bias")
def _bias(arg: str | None, context: dict[str, Any], threshold: float | None = None) -> Scorer:
    from dermsynth.bias import detect

    if not arg:
        raise ValueError("scorer 'bias' needs an artifact name, e.g. bias:dark_corner")
    thresholds = {arg: threshold} if threshold is not None else None

    def score(images: np.ndarray) -> Scores:
        results = [detect(im, [arg], thresholds)[arg] for im in images]
        with_masks = all(getattr(r, "mask", None) is not None for r in results)
        return _stack(results, with_masks)

    return score


@register_scorer("dark_corner")
def _dark_corner(arg: str | None, context: dict[str, Any]) -> Scorer:
    return _bias("dark_corner", context, float(arg) if arg else None)


@register_scorer("lesion_area")
def _lesion_area(arg: str | None, context: dict[str, Any]) -> Scorer:
    from dermsynth.edit.lesion import lesion_mask

    def score(images: np.ndarray) -> Scores:
        masks = np.stack([lesion_mask(im) for im in images]) if len(images) else np.zeros((0, 1, 1), bool)
        area = masks.reshape(len(masks), -1).mean(1)
        return Scores(area, area > 0, masks)

    return score


@register_scorer("d_projection")
def _d_projection(arg: str | None, context: dict[str, Any]) -> Scorer:
    import torch

    D = context.get("D")
    if D is None or int(getattr(D, "c_dim", 0)) < 2:
        raise ValueError("scorer 'd_projection' needs a conditional discriminator (none in the network file)")
    device = context.get("device", "cpu")
    pos = int(arg) if arg else 1

    @torch.no_grad()
    def score(images: np.ndarray) -> Scores:
        x = torch.from_numpy(images).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1
        c = torch.zeros(len(x), D.c_dim, device=device)
        c1, c0 = c.clone(), c.clone()
        c1[:, pos] = 1
        c0[:, 0 if pos != 0 else 1] = 1
        s = (D(x, c1) - D(x, c0)).reshape(-1).float().cpu().numpy()
        return Scores(s, s > 0)

    return score


def _exported_classifier(arg: str | None, context: dict[str, Any]) -> Scorer:
    """A shipped or exported melanoma classifier (default: the shipped one); present = p >= 0.5."""
    from dermsynth.classify import load_classifier, predict_images
    from dermsynth.models import default_model

    spec = arg or default_model("edit-class-judge")
    if not spec:
        raise ValueError("scorer 'classifier' needs a model: classifier:RUN_DIR@SETUP or classifier:NAME|DIR")
    clf, meta = load_classifier(spec, context.get("device", "cpu"))

    def score(images: np.ndarray) -> Scores:
        p = predict_images(clf, meta, list(images), tta=False).astype(np.float64)
        return Scores(p, p >= 0.5)

    return score


@register_scorer("classifier")
def _classifier(arg: str | None, context: dict[str, Any]) -> Scorer:
    """``classifier:RUN_DIR@SETUP`` (or ``RUN_DIR`` when the run has one trained setup): the
    classify stage's best model of that setup; score = melanoma probability, present = p >= 0.5."""
    from pathlib import Path

    from dermsynth.classify import load_trained, predict_images

    if not arg or not (Path(arg.partition("@")[0]) / "setups").is_dir():
        return _exported_classifier(arg, context)
    run_dir, _, setup = arg.partition("@")
    if not setup:
        done = sorted(p.parent.name for p in (Path(run_dir) / "setups").glob("*/state.pt"))
        if len(done) != 1:
            raise ValueError(f"classifier:{arg}: name the setup (RUN_DIR@SETUP); trained setups: {done}")
        setup = done[0]
    clf, exp = load_trained(run_dir, setup)
    clf.model.to(context.get("device", "cpu")).eval()
    meta = {"input_size": exp.model.image_size}

    def score(images: np.ndarray) -> Scores:
        p = predict_images(clf, meta, list(images), tta=False).astype(np.float64)
        return Scores(p, p >= 0.5)

    return score
