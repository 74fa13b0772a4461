"""Artifact prevalence per class (thesis Fig. 3.5)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dermsynth.core.figures import pyplot
from dermsynth.report.figures._mpl import CLASS_COLOURS, save


def bias_prevalence(prev: pd.DataFrame, path: str | Path, title: str = "", names: dict | None = None) -> Path:
    """``prev``: rows = artifacts, columns = class names, values = fraction of images (0..1)."""
    prev = prev.copy()
    prev.index = [(names or {}).get(a, a.replace("_", " ")) for a in prev.index]
    prev.columns = [str(c).replace("_", " ") for c in prev.columns]
    p = pyplot()
    fig, ax = p.subplots(figsize=(5.2, 3))
    (prev * 100).plot.bar(ax=ax, rot=0, color=[CLASS_COLOURS.get(c, None) for c in prev.columns])
    ax.set_ylabel("% of images")
    ax.set_title(title or "artifact prevalence per class")
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return save(fig, path)
