"""Reading numbers back from tables and JSON written by other stages (torch-free)."""

from __future__ import annotations

import math
from typing import Any


def finite_float(v: Any) -> float | None:
    """``v`` as a finite float, or None (strings are parsed; NaN, infinities, empty and junk give None)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
