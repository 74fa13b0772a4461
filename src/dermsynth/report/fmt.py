"""Numbers as a reader should see them: rounded to what they can carry, never raw floats or JSON.

Conventions: AUC, accuracy and other rates in [0, 1] to 2 decimals; shares as whole percents; FID,
PPL and other unbounded figures to 3 significant digits; p-values to 1-2 significant digits, with
``< 0.001`` below that; counts with thousands separators.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd

from dermsynth.core.values import finite_float


def is_num(v) -> bool:
    """A finite real number (not bool, not NaN)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(float(v))


def num(v) -> float | None:
    """``v`` as a finite float, or None (strings are parsed; NaN, empty and junk give None)."""
    return finite_float(v)


def count(v) -> str:
    f = num(v)
    return "–" if f is None else f"{int(round(f)):,}"


def rate(v, digits: int = 2) -> str:
    """A rate or AUC in [0, 1]: ``0.71``."""
    f = num(v)
    return "–" if f is None else f"{f:.{digits}f}"


def pct(v) -> str:
    """A share in [0, 1] as a percent: ``0.625 -> 62%`` (``<1%`` for small non-zero shares)."""
    f = num(v)
    if f is None:
        return "–"
    if 0 < f < 0.005:
        return "<1%"
    return f"{100 * f:.0f}%"


def sig(v, digits: int = 3) -> str:
    """Unbounded figures (FID, KID, PPL, distances) to ``digits`` significant digits."""
    f = num(v)
    if f is None:
        return "–"
    if f == int(f) and abs(f) < 1e6:  # whole numbers (an index, a step of 3) carry no decimals
        return f"{int(f):,}"
    mag = math.floor(math.log10(abs(f)))
    dec = max(0, digits - 1 - mag)
    return f"{f:,.{dec}f}"


def pval(v) -> str:
    """``p = 0.013 -> '0.01'``, ``0.0042 -> '0.004'``, ``1e-5 -> '< 0.001'``."""
    f = num(v)
    if f is None:
        return "–"
    if f < 0.001:
        return "< 0.001"
    if f < 0.01:
        return f"{f:.3f}"
    return f"{f:.2f}"


def p_eq(v) -> str:
    """``p = 0.01`` or ``p < 0.001`` for prose."""
    s = pval(v)
    return f"p {s}" if s.startswith("<") else f"p = {s}"


def ci(lo, hi, digits: int = 2) -> str:
    """``[0.64, 0.78]`` (empty when either end is missing)."""
    a, b = num(lo), num(hi)
    return "" if a is None or b is None else f"[{a:.{digits}f}, {b:.{digits}f}]"


def signed(v, digits: int = 3) -> str:
    f = num(v)
    return "–" if f is None else f"{'+' if f > 0 else '−' if f < 0 else ''}{sig(abs(f), digits)}"


def class_label(name) -> str:
    """``not_melanoma -> 'not melanoma'``."""
    return str(name).replace("_", " ")


#: How to show a column, by name (matched case-insensitively, exact first, then by suffix / prefix).
_RULES: list[tuple[Callable[[str], bool], Callable]] = [
    (lambda c: c in {"tp", "fp", "fn", "tn", "n", "images", "n_test", "n_test_melanoma", "readers"}, count),
    (lambda c: c.startswith(("n_", "num_")) or c.endswith(("_n", "count", "correct")), count),
    (lambda c: "p_value" in c or c.endswith(("_p", "pvalue")) or c.startswith("delong_p") or c == "p", pval),
    (
        lambda c: (
            c
            in {
                "acc",
                "tpr",
                "tnr",
                "auc",
                "accuracy",
                "sensitivity",
                "specificity",
                "precision",
                "recall",
                "f1",
                "auc_ci_low",
                "auc_ci_high",
                "ci_low",
                "ci_high",
                "threshold",
                "lesion_iou",
                "ssim_outside",
                "class_kept",
                "removed_frac",
                "induced_frac",
            }
            or c.endswith(("_frac", "_rate", "_at_target", "prevalence", "fraction"))
        ),
        rate,
    ),
]


def column_formatter(col: str) -> Callable:
    c = col.lower().replace(" ", "_")
    for test, fn in _RULES:
        if test(c):
            return fn
    return sig


def _cell(v, fn: Callable) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int | float):
        return fn(v)
    return str(v)


def format_frame(df: pd.DataFrame, formats: dict[str, Callable] | None = None) -> pd.DataFrame:
    """A copy of ``df`` with every cell a display string (per-column rules; ``formats`` overrides)."""
    formats = formats or {}
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        fn = formats.get(col) or column_formatter(str(col))
        out[col] = [_cell(v.item() if hasattr(v, "item") else v, fn) for v in df[col]]
    return out
