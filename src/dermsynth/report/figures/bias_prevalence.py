"""Artifact prevalence per class (thesis Fig. 3.5)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dermsynth.report.figures._mpl import plt, save


def bias_prevalence(prev: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """``prev``: rows = artifacts, columns = class names, values = fraction of images (0..1)."""
    p = plt()
    fig, ax = p.subplots(figsize=(6, 3))
    (prev * 100).plot.bar(ax=ax, rot=0)
    ax.set_ylabel("% of images")
    ax.set_title(title or "artifact prevalence per class")
    return save(fig, path)
