"""Integer range specs used by seeds, layers and direction indices: ``"0-3,7"``."""

from __future__ import annotations


def parse_int_ranges(spec: str) -> list[int]:
    """``"0-3,7,10-11"`` -> ``[0, 1, 2, 3, 7, 10, 11]`` (non-negative integers)."""
    out: list[int] = []
    for part in str(spec).split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise ValueError(f"bad range {part!r}: expected N or N-M") from None
        if b < a:
            raise ValueError(f"bad range {part!r}: end before start")
        out.extend(range(a, b + 1))
    return out
