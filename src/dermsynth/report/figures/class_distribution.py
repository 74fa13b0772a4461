"""Class balance of a dataset, per split (thesis Fig. 3.3)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dermsynth.core.figures import pyplot
from dermsynth.report.figures._mpl import CLASS_COLOURS, save

SPLITS = ["train", "val", "test"]


def class_distribution(counts: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """``counts``: rows = split (or 'all'), columns = class names, values = image counts."""
    order = [s for s in SPLITS if s in counts.index] + sorted(set(counts.index) - set(SPLITS))
    counts = counts.loc[order]
    counts.columns = [str(c).replace("_", " ") for c in counts.columns]
    p = pyplot()
    fig, ax = p.subplots(figsize=(5.2, 3))
    counts.plot.bar(ax=ax, rot=0, color=[CLASS_COLOURS.get(c, None) for c in counts.columns])
    ax.set_ylabel("images")
    ax.set_xlabel("")
    ax.set_title(title or "class distribution")
    ax.margins(y=0.15)
    for c in ax.containers:
        ax.bar_label(c, fontsize=7)
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return save(fig, path)
