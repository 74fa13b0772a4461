"""Before / after figures of cleaning (thesis Fig. 4.2 frames, Fig. 4.3 hair): original, changed mask, result.

Under each result: its caption, e.g. the share of the image that changed (``changed 3.1%``) or why the
image was left as it is (``skipped: too dense (would change 41.0%)``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dermsynth.core.figures import pyplot, save_figure


def before_after(rows: list[tuple], path: str | os.PathLike, title: str) -> Path:
    """One row per image: ``(image_id, before, changed_mask, after[, caption])``; the caption defaults
    to the changed fraction."""
    plt = pyplot()
    n = max(1, len(rows))
    fig, axes = plt.subplots(n, 3, figsize=(6.0, 2.15 * n + 0.3), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, row in enumerate(rows):
        image_id, before, mask, after = row[:4]
        caption = row[4] if len(row) > 4 else f"changed {np.mean(mask):.1%}"
        axes[k, 0].imshow(before)
        axes[k, 0].set_title(f"{image_id}", fontsize=7)
        axes[k, 1].imshow(mask, cmap="gray", vmin=0, vmax=1)
        axes[k, 1].set_title("changed pixels", fontsize=7)
        axes[k, 2].imshow(after)
        axes[k, 2].set_title("cleaned", fontsize=7)
        axes[k, 2].text(
            0.5, -0.08, caption, transform=axes[k, 2].transAxes, ha="center", va="top", fontsize=7
        )
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)
