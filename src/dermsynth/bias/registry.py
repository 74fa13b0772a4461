"""Registry of classical artifact detectors and the one-call API ``detect``.

Each detector (one file per artifact, docs/architecture.md R3-R4) maps an RGB uint8 image to
``(score, mask)``; ``THRESHOLDS`` turns scores into present / absent. The default thresholds were
chosen to maximise F1 on the ``train`` split of isic2017-256 (Bissoto et al. 2020 annotations; see
docs/bias.md), never on the ``val`` split on which the figures are reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dermsynth.bias.common import Detector, check_rgb
from dermsynth.bias.frame import dark_corner
from dermsynth.bias.gel_border import gel_border
from dermsynth.bias.gel_bubble import gel_bubble
from dermsynth.bias.hair import hair
from dermsynth.bias.ink import ink
from dermsynth.bias.ruler import ruler
from dermsynth.core.manifest import ARTIFACTS

#: artifact name (the annotation column) -> detector
DETECTORS: dict[str, Detector] = {
    "dark_corner": dark_corner,
    "hair": hair,
    "ruler": ruler,
    "ink": ink,
    "gel_bubble": gel_bubble,
    "gel_border": gel_border,
}
assert list(DETECTORS) == ARTIFACTS

#: score at or above which the artifact is called present: F1-optimal on isic2017-256 ``train``
#: (``benchmarks/bias_real.py --split train --tune``)
THRESHOLDS: dict[str, float] = {
    "dark_corner": 0.5336,
    "hair": 0.1275,
    "ruler": 0.0803,
    "ink": 0.00064,
    "gel_bubble": 0.1526,
    "gel_border": 0.2344,
}

#: aliases accepted wherever an artifact is named by a user
ALIASES = {"frame": "dark_corner", "dark_corners": "dark_corner", "bubble": "gel_bubble"}


@dataclass(frozen=True)
class ArtifactResult:
    """One detector's answer: a score, the thresholded decision and the artifact's pixel mask [H, W]."""

    score: float
    present: bool
    mask: np.ndarray


def resolve_artifacts(artifacts: list[str] | None) -> list[str]:
    """Canonical artifact names (aliases such as ``frame`` resolved); all of them for ``None``."""
    if artifacts is None:
        return list(DETECTORS)
    out = []
    for a in artifacts:
        name = ALIASES.get(a.strip(), a.strip())
        if name not in DETECTORS:
            raise ValueError(f"unknown artifact {a!r}; known: {list(DETECTORS)} (alias 'frame')")
        if name not in out:
            out.append(name)
    return out


def detect(
    rgb: np.ndarray,
    artifacts: list[str] | None = None,
    thresholds: dict[str, float] | None = None,
) -> dict[str, ArtifactResult]:
    """Run the classical detectors on one RGB uint8 image [H, W, 3].

    Returns ``{artifact: ArtifactResult(score, present, mask)}`` for the requested artifacts (all six
    by default), with the default thresholds unless ``thresholds`` overrides some of them.
    """
    check_rgb(rgb)
    thr = {**THRESHOLDS, **(thresholds or {})}
    out = {}
    for name in resolve_artifacts(artifacts):
        score, mask = DETECTORS[name](rgb)
        out[name] = ArtifactResult(score=score, present=bool(score >= thr[name]), mask=mask)
    return out


def scores(rgb: np.ndarray, artifacts: list[str] | None = None) -> dict[str, float]:
    """Scores only (what the audit and threshold tuning need)."""
    check_rgb(rgb)
    return {name: DETECTORS[name](rgb)[0] for name in resolve_artifacts(artifacts)}
