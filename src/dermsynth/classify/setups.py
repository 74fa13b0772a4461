"""A setup (list of sources with counts / fractions / artifact filters) -> its training set.

Thesis Table 3.1: e.g. ``real`` = 4,000 real images per class, ``synthetic`` = 10,000 synthetic per
class, ``mixed`` = 40% real + 60% synthetic. When a source has fewer images than asked, the setup
takes what there is and warns; for fraction-based setups the total is scaled down so that the
fractions still hold.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pandas as pd

from dermsynth.classify.data import filter_artifacts, sample_per_class
from dermsynth.classify.experiment import SetupSpec


def build_training_set(
    setup: SetupSpec, pools: dict[str, pd.DataFrame], seed: int, cache_dir: Path | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """``(rows, warnings)``: the images a setup trains on, drawn from ``pools`` (name -> rows)."""
    notes: list[str] = []
    filtered = {}
    for s in setup.sources:
        if s.data not in pools:
            raise ValueError(f"setup {setup.name}: data source {s.data!r} is not defined under `data`")
        cache = cache_dir / f"artifacts-{s.data}.csv" if cache_dir else None
        filtered[s] = filter_artifacts(pools[s.data], s.exclude_artifacts, cache)
    counts = _per_class_counts(setup, filtered, notes)
    parts = []
    for s in setup.sources:
        per = counts[s]
        avail = filtered[s]["label"].value_counts().reindex([0, 1], fill_value=0)
        for c in (0, 1):
            if per is not None and avail[c] < per:
                notes.append(
                    f"setup {setup.name}: {s.data} class {c}: {avail[c]} available, not {per} (scaled down)"
                )
        key = f"{s.data}|{','.join(s.exclude_artifacts)}"
        part = sample_per_class(filtered[s], per, seed, key)
        parts.append(part)
    df = pd.concat(parts).drop_duplicates("path").reset_index(drop=True)
    if df.empty or df["label"].nunique() < 2:
        raise ValueError(
            f"setup {setup.name}: the training set needs images of both classes; got {len(df)} images"
        )
    for n in notes:
        warnings.warn(n, stacklevel=2)
    return df, notes


def _per_class_counts(setup: SetupSpec, filtered: dict, notes: list[str]) -> dict:
    """Per-class count of each source: its ``per_class``, or its fraction of a total that all fit.

    With fractions, the total is ``min(per_class, floor(n_s / fraction_s))`` over the fraction sources
    (``n_s`` = the source's smaller class), so that the mix keeps its proportions when data is short.
    """
    out = {s: s.per_class for s in setup.sources if s.fraction is None}
    fsrc = [s for s in setup.sources if s.fraction is not None]
    if not fsrc:
        return out
    total = int(setup.per_class)
    fits = [total]
    for s in fsrc:
        if not 0 < s.fraction <= 1:
            raise ValueError(f"setup {setup.name}: fraction of {s.data} must be in (0, 1], got {s.fraction}")
        n_min = int(filtered[s]["label"].value_counts().reindex([0, 1], fill_value=0).min())
        fits.append(math.floor(n_min / s.fraction + 1e-9))
    eff = min(fits)
    if eff < total:
        notes.append(
            f"setup {setup.name}: {eff} images per class instead of {total} (scaled down, fractions kept)"
        )
    for s in fsrc:
        out[s] = round(s.fraction * eff)
    return out
