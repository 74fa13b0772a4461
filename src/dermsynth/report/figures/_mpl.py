"""The report's figure style over ``core.figures`` (Agg backend, atomic PNG save): class colours, dpi."""

from __future__ import annotations

from pathlib import Path

from dermsynth.core.figures import save_figure

#: One colour per class across the report's figures (as `dermsynth data stats` draws them).
CLASS_COLOURS = {"not melanoma": "#4c72b0", "melanoma": "#c44e52"}


def save(fig, path: str | Path, dpi: int = 110) -> Path:
    """Write a report figure (tight bounding box) atomically and close it."""
    return save_figure(fig, path, dpi=dpi, bbox_inches="tight")
