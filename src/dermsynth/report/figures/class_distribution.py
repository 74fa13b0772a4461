"""Class balance of a dataset, per split (thesis Fig. 3.3)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dermsynth.report.figures._mpl import plt, save


def class_distribution(counts: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """``counts``: rows = split (or 'all'), columns = class names, values = image counts."""
    p = plt()
    fig, ax = p.subplots(figsize=(5, 3))
    counts.plot.bar(ax=ax, rot=0)
    ax.set_ylabel("images")
    ax.set_title(title or "class distribution")
    for c in ax.containers:
        ax.bar_label(c, fontsize=7)
    return save(fig, path)
