"""Label normalisation: melanoma = 1, everything else = 0, unknown values reported, never guessed.

ISIC sources spell the class in many ways: SIIM-ISIC 2020 ``target`` 0/1 or ``benign_malignant``,
challenge csvs ``melanoma`` 0.0/1.0 (2017) or one-hot ``MEL`` (2018/2019) or ``benign``/``malignant``
(2016), the ISIC Archive's ``diagnosis_1..3`` hierarchy, folder names. ``malignant`` alone is not
melanoma in the Archive (BCC and SCC are malignant too), so it maps only where the source is melanoma-only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: Folder / label names read as melanoma (case-insensitive).
MELANOMA_NAMES = {"melanoma", "mel", "1", "malignant_melanoma", "mm", "positive", "yes", "true"}
#: Folder / label names read as not melanoma.
BENIGN_NAMES = {
    "not_melanoma", "non_melanoma", "nonmelanoma", "not-melanoma", "non-melanoma", "benign", "0", "nevus",
    "naevus", "nv", "other", "others", "negative", "no", "false", "bkl", "seborrheic_keratosis", "sk",
}  # fmt: skip

ARCHIVE_MELANOMA_D2 = "Malignant melanocytic proliferations (Melanoma)"


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return str(value).strip() == ""


def parse_label(
    value: Any, label_map: Mapping[str, int] | None = None, binary_names: bool = True
) -> int | None:
    """0/1 for a recognised label value, ``None`` otherwise.

    ``label_map`` (lower-case name -> 0/1) takes precedence; numbers 0/1 (also ``1.0``) are accepted;
    ``binary_names`` adds the melanoma / benign name lists above.
    """
    if is_missing(value):
        return None
    text = str(value).strip().lower()
    if label_map and text in label_map:
        return int(label_map[text])
    try:
        num = float(text)
    except ValueError:
        num = None
    if num is not None:
        return int(num) if num in (0.0, 1.0) else None
    if binary_names and text in MELANOMA_NAMES:
        return 1
    if binary_names and text in BENIGN_NAMES:
        return 0
    return None


def parse_label_map(text: str) -> dict[str, int]:
    """CLI form ``"mel=1,nv=0,bkl=0"`` -> ``{"mel": 1, "nv": 0, "bkl": 0}``."""
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.rpartition("=")
        if not sep or value.strip() not in ("0", "1") or not name.strip():
            raise ValueError(f"bad label map entry {part!r}: expected NAME=0 or NAME=1")
        out[name.strip().lower()] = int(value)
    return out


def archive_label(row: Mapping[str, Any]) -> tuple[int | None, str]:
    """ISIC Archive melanoma rule on one metadata row -> (label or None, normalised diagnosis)."""

    def get(k: str) -> str:
        v = row.get(k)
        return "" if is_missing(v) else str(v).strip()

    d1, d2, d3, dx, bm = (
        get("diagnosis_1"),
        get("diagnosis_2"),
        get("diagnosis_3"),
        get("diagnosis"),
        get("benign_malignant"),
    )
    diagnosis = d3 or d2 or dx or d1 or bm
    if d2 == ARCHIVE_MELANOMA_D2 or d3.lower().startswith("melanoma") or dx.lower() == "melanoma":
        return 1, diagnosis
    if d1.lower() == "indeterminate":  # could be melanoma: do not guess
        return None, diagnosis
    if d2 or d3 or dx:  # a known, specific diagnosis that is not melanoma
        return 0, diagnosis
    if d1.lower() == "benign" or bm.lower() == "benign":
        return 0, diagnosis
    return None, diagnosis
