"""Audit figures: prevalence of each artifact per class (thesis Fig. 3.5) and example grids (Fig. 3.4)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dermsynth.core.figures import pyplot, save_figure


def prevalence_figure(prevalence: dict[str, dict[str, float]], path: str | os.PathLike) -> Path:
    """Grouped bars: fraction of images with each artifact, one bar per class (``{class: {a: frac}}``)."""
    plt = pyplot()
    classes = list(prevalence)
    artifacts = list(next(iter(prevalence.values()))) if classes else []
    x = np.arange(len(artifacts))
    width = 0.8 / max(1, len(classes))
    fig, ax = plt.subplots(figsize=(1.2 * len(artifacts) + 2, 3.2))
    for i, c in enumerate(classes):
        vals = [100 * prevalence[c][a] for a in artifacts]
        bars = ax.bar(x + (i - (len(classes) - 1) / 2) * width, vals, width, label=c)
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks(x, artifacts, rotation=20)
    ax.set_ylabel("images with artifact (%)")
    ax.set_ylim(0, 105)
    ax.legend(frameon=False)
    ax.set_title("Artifact prevalence per class")
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)


def example_grid(
    images: list[np.ndarray],
    titles: list[str],
    path: str | os.PathLike,
    suptitle: str = "",
    masks: list[np.ndarray] | None = None,
    cols: int = 6,
) -> Path:
    """A grid of RGB images (optionally with a red mask outline) and small titles."""
    plt = pyplot()
    import cv2

    n = max(1, len(images))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols, 1.9 * rows + 0.3), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, (img, title) in enumerate(zip(images, titles, strict=True)):
        show = img.copy()
        if masks is not None and masks[k] is not None and masks[k].any():
            contours, _ = cv2.findContours(
                masks[k].astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE
            )
            cv2.drawContours(show, contours, -1, (255, 0, 0), max(1, img.shape[0] // 200))
        ax = axes.ravel()[k]
        ax.imshow(show)
        ax.set_title(title, fontsize=7)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)
