"""Matplotlib set-up shared by the figure modules (Agg backend, atomic PNG save)."""

from __future__ import annotations

import io
from pathlib import Path

from dermsynth.core.io import atomic_write_bytes

#: One colour per class across the report's figures (as `dermsynth data stats` draws them).
CLASS_COLOURS = {"not melanoma": "#4c72b0", "melanoma": "#c44e52"}


def plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    return pyplot


def save(fig, path: str | Path, dpi: int = 110) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt().close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)
