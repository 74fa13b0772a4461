"""Matplotlib for every stage: the headless Agg backend and an atomic PNG save.

Figures are written whole or not at all (a crash never leaves half a PNG behind a finished name).
Matplotlib is imported on first use, never at package import.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from dermsynth.core.io import atomic_write_bytes


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | os.PathLike, dpi: int | None = None, **savefig: Any) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically, then close it; returns ``path``."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi if dpi is not None else "figure", **savefig)
    pyplot().close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)
