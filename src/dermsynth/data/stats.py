"""``dermsynth data stats``: class counts and the class-distribution figure (thesis Fig. 3.3).

Fig. 3.3 of Rosén & Zoubi (2022) shows how few melanoma SIIM-ISIC 2020 holds (584 of 33126, 1.8%);
here the same bar chart is drawn for any dataset directory, per split when splits exist, next to
counts per source, licence and (where the manifest has them) artifact prevalence per class.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from dermsynth.bias.columns import artifact_flags
from dermsynth.core.io import atomic_write_json
from dermsynth.core.manifest import CLASS_NAMES, read_manifest


def _counts(series: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in series.value_counts(dropna=True).sort_index().items()}


def dataset_stats(df: pd.DataFrame) -> dict[str, Any]:
    """Counts by class (and split, source, licence) and artifact prevalence by class."""
    labels = df["label"].astype(int)
    names = {i: (CLASS_NAMES[i] if 0 <= i < len(CLASS_NAMES) else str(i)) for i in labels.unique()}
    by_class = {names[i]: int((labels == i).sum()) for i in sorted(names)}
    out: dict[str, Any] = {"images": len(df), "classes": by_class}
    out["melanoma_fraction"] = round(by_class.get("melanoma", 0) / max(len(df), 1), 6)
    split = (
        df["split"].astype("string").fillna("") if "split" in df.columns else pd.Series("", index=df.index)
    )
    if (split != "").any():
        order = ["train", "val", "test"]
        present = [s for s in order if (split == s).any()] + sorted(set(split.unique()) - set(order))
        out["by_split"] = {
            s: {names[i]: int(((split == s) & (labels == i)).sum()) for i in sorted(names)} for s in present
        }
    for col in ("source", "license"):
        if col in df.columns and df[col].notna().any():
            out[f"by_{col}"] = _counts(df[col].astype("string"))
    flags = artifact_flags(df)  # bias/columns.py
    if len(flags.columns):
        prev: dict[str, dict[str, float]] = {}
        for a in flags.columns:
            vals = flags[a]
            prev[a] = {
                names[i]: round(float(vals[labels == i].mean()), 4)
                for i in sorted(names)
                if vals[labels == i].notna().any()
            }
        out["artifact_prevalence"] = prev
    return out


def plot_class_distribution(
    stats: dict[str, Any], path: str | os.PathLike, title: str = "Class distribution"
) -> Path:
    """Bar chart of images per class (grouped by split when present), counts and shares on the bars."""
    from dermsynth.core.figures import pyplot, save_figure

    plt = pyplot()

    groups = stats.get("by_split") or {"all": stats["classes"]}
    classes = list(stats["classes"])
    colours = {"not_melanoma": "#4c72b0", "melanoma": "#c44e52"}
    fig, ax = plt.subplots(figsize=(1.6 + 1.5 * len(groups), 3.6), dpi=120)
    width = 0.8 / max(len(classes), 1)
    for j, cls in enumerate(classes):
        xs = [i + (j - (len(classes) - 1) / 2) * width for i in range(len(groups))]
        ys = [groups[g].get(cls, 0) for g in groups]
        bars = ax.bar(xs, ys, width, label=cls.replace("_", " "), color=colours.get(cls))
        for b, (g, y) in zip(bars, zip(groups, ys, strict=True), strict=True):
            share = y / max(sum(groups[g].values()), 1)
            ax.annotate(
                f"{y}\n{share:.1%}", (b.get_x() + b.get_width() / 2, y), ha="center", va="bottom", fontsize=7
            )
    ax.set_xticks(range(len(groups)), list(groups))
    ax.set_ylabel("images")
    ax.set_title(title)
    ax.margins(y=0.2)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    path = Path(path)
    save_figure(fig, path)
    return path


def write_stats(directory: str | os.PathLike) -> dict[str, Any]:
    """Write ``DIR/stats.json`` and ``DIR/class_distribution.png``; return the stats."""
    directory = Path(directory)
    df = read_manifest(directory)
    if df.empty:
        raise ValueError(f"{directory}: manifest has no images")
    stats = dataset_stats(df)
    atomic_write_json(directory / "stats.json", stats)
    plot_class_distribution(
        stats, directory / "class_distribution.png", title=f"Class distribution: {directory.name}"
    )
    return stats
