"""Figures of the reader study (thesis Figs. 4.11-4.16), with matplotlib's object API (Agg, no pyplot
state): per-image correct-answer counts for real (4.11a) and synthetic (4.11b) images, grids of the
images every reader agreed on (4.12-4.14), mean certainty per image (4.15) and the diagnosis
confusion on real vs synthetic images per background (4.16)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from dermsynth.core.io import atomic_write_bytes, read_rgb

COLORS = {"real": "#1b6ca8", "synthetic": "#d95f02"}


def save(fig: Figure, path: Path) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())
    return path.name


def correct_counts(images: pd.DataFrame, source: str) -> Figure:
    """Fig. 4.11a/b: how many images (y) were answered correctly by k readers (x)."""
    sub = images[images["source"] == source]
    n_max = int(images["n_readers"].max()) if len(images) else 0
    counts = np.bincount(sub["n_correct"].astype(int), minlength=n_max + 1)
    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    ax.bar(np.arange(len(counts)), counts, color=COLORS[source])
    ax.set_xlabel("number of readers who answered correctly")
    ax.set_ylabel("number of images")
    ax.set_title(f"{source} images ({len(sub)})")
    ax.set_xticks(np.arange(len(counts)))
    return fig


def certainty(images: pd.DataFrame) -> Figure:
    """Fig. 4.15: mean certainty per image, sorted, real and synthetic side by side."""
    fig = Figure(figsize=(9, 3.5))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, source in zip(axes, ("real", "synthetic"), strict=True):
        v = images.loc[images["source"] == source, "mean_certainty"].dropna().sort_values().to_numpy()
        ax.bar(np.arange(len(v)), v, color=COLORS[source], width=1.0)
        ax.set_title(f"{source} images")
        ax.set_xlabel("image (sorted)")
        ax.set_ylim(0, 5)
    axes[0].set_ylabel("mean certainty (1-5)")
    return fig


def diagnosis_confusion(diag: pd.DataFrame) -> Figure:
    """Fig. 4.16: 2x2 diagnosis confusion per background (rows) on real / synthetic images (columns)."""
    bgs = list(dict.fromkeys(diag["background"]))
    fig = Figure(figsize=(6, 2.8 * len(bgs)))
    axes = np.atleast_2d(fig.subplots(len(bgs), 2, squeeze=False))
    for i, bg in enumerate(bgs):
        for j, source in enumerate(("real", "synthetic")):
            r = diag[(diag["background"] == bg) & (diag["source"] == source)].iloc[0]
            m = np.array([[r.TP, r.FN], [r.FP, r.TN]])  # rows: true melanoma / not; cols: said melanoma / not
            ax = axes[i, j]
            ax.imshow(m, cmap="Blues", vmin=0, vmax=max(int(m.max()), 1))
            for (y, x), v in np.ndenumerate(m):
                ax.text(
                    x, y, str(v), ha="center", va="center", color="black" if v < m.max() * 0.6 else "white"
                )
            ax.set_xticks([0, 1], ["melanoma", "not mel."])
            ax.set_yticks([0, 1], ["melanoma", "not mel."])
            ax.set_title(f"{bg}: {source}", fontsize=9)
            ax.set_xlabel("reader's diagnosis", fontsize=8)
            ax.set_ylabel("true label", fontsize=8)
    fig.tight_layout()
    return fig


def image_grid(paths: list[Path], title: str, cols: int = 6) -> Figure:
    """A grid of stimuli (Figs. 4.12-4.14)."""
    rows = max(1, int(np.ceil(len(paths) / cols)))
    fig = Figure(figsize=(2 * cols, 2 * rows + 0.4))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, p in zip(axes.ravel(), paths, strict=False):
        ax.imshow(read_rgb(p))
        ax.set_title(p.stem[:8], fontsize=7)
    fig.suptitle(title)
    return fig


def write_all(
    df: pd.DataFrame,
    images: pd.DataFrame,
    agree: pd.DataFrame,
    diag: pd.DataFrame,
    out: Path,
    images_dir=None,
) -> list[str]:
    """Write every figure to ``out``; grids only when ``images_dir`` (the study's images/) is given."""
    files = [
        save(correct_counts(images, "real"), out / "fig4_11a_correct_real.png"),
        save(correct_counts(images, "synthetic"), out / "fig4_11b_correct_synthetic.png"),
        save(certainty(images), out / "fig4_15_certainty.png"),
    ]
    if df["diagnosis"].notna().any():
        files.append(save(diagnosis_confusion(diag), out / "fig4_16_diagnosis_confusion.png"))
    if images_dir is not None:
        folder = Path(images_dir)
        if (folder / "images").is_dir():
            folder = folder / "images"
        for group, g in agree.groupby("group"):
            paths = [folder / f"{i}.png" for i in g["image_id"] if (folder / f"{i}.png").exists()]
            if paths:
                files.append(save(image_grid(paths, group.replace("_", " ")), out / f"grid_{group}.png"))
    return files
