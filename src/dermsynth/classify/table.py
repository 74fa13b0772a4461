"""Predictions files -> the run's table (thesis Table 4.5) with CIs and DeLong p-values vs ``real``.
The table's columns and files belong to ``classify.results`` (which writes and reads them back).

A predictions file has ``image_id, label, score`` and optionally ``split`` (``val`` / ``test``) and
``weights``. Thresholds come from the ``val`` rows (or a separate validation file); metrics from the
``test`` rows (all rows when there is no ``split`` column).
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from dermsynth.classify.delong import delong_test
from dermsynth.classify.metrics import evaluate
from dermsynth.classify.results import TABLE_COLUMNS


def read_predictions(path: str | os.PathLike) -> pd.DataFrame:
    """Read a predictions csv (``image_id, label, score[, split]``); clear error naming the file."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: predictions file not found")
    df = pd.read_csv(p, dtype={"image_id": str})
    missing = [c for c in ("image_id", "label", "score") if c not in df.columns]
    if missing:
        raise ValueError(f"{p}: lacks column(s) {missing}; need image_id, label, score")
    bad = ~np.isfinite(pd.to_numeric(df["score"], errors="coerce"))
    if bad.any():
        warnings.warn(f"{p}: {int(bad.sum())} row(s) without a finite score left out", stacklevel=2)
        df = df[~bad]
    df["score"] = df["score"].astype(float)
    return df.reset_index(drop=True)


def split_val_test(
    df: pd.DataFrame, val: pd.DataFrame | None = None
) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """``(val rows or None, test rows)`` of a predictions table."""
    if "split" in df.columns:
        test = df[df["split"] == "test"]
        if val is None and (df["split"] == "val").any():
            val = df[df["split"] == "val"]
        if test.empty:
            test = df[df["split"] != "val"]
    else:
        test = df
    if test.empty:
        raise ValueError("no test predictions (rows with split == test, or without split)")
    return val, test.reset_index(drop=True)


def row_for(
    df: pd.DataFrame,
    val: pd.DataFrame | None = None,
    threshold: float | None = None,
    rule: str = "youden",
    target_sensitivity: float | None = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict:
    """Table row for one predictions table."""
    val, test = split_val_test(df, val)
    row = evaluate(
        test["label"],
        test["score"],
        None if val is None else val["label"],
        None if val is None else val["score"],
        threshold=threshold,
        rule=rule,
        target_sensitivity=target_sensitivity,
        n_boot=n_boot,
        seed=seed,
    )
    if "weights" in df.columns and len(df):
        row["weights"] = str(df["weights"].iloc[0])
    return row


def paired_delong(a: pd.DataFrame, b: pd.DataFrame) -> dict:
    """DeLong test on the test images two predictions tables share (matched by image_id)."""
    _, ta = split_val_test(a)
    _, tb = split_val_test(b)
    m = ta[["image_id", "label", "score"]].merge(
        tb[["image_id", "label", "score"]], on="image_id", suffixes=("_a", "_b")
    )
    if len(m) == 0:
        raise ValueError("the two predictions share no test image")
    if not (m["label_a"] == m["label_b"]).all():
        raise ValueError("the two predictions disagree on labels of the same image")
    if m["label_a"].nunique() < 2:
        return {"p": math.nan, "n": len(m)}
    out = delong_test(m["label_a"], m["score_a"], m["score_b"])
    out["n"] = len(m)
    return out


def build_table(preds: dict[str, pd.DataFrame], reference: str = "real", **kw) -> pd.DataFrame:
    """One row per setup; ``DeLong_p_vs_real`` pairs each setup with ``reference`` on shared test images."""
    rows = []
    for name, df in preds.items():
        row = {"setup": name, **row_for(df, **kw)}
        if reference in preds and name != reference:
            row["DeLong_p_vs_real"] = paired_delong(df, preds[reference])["p"]
        else:
            row["DeLong_p_vs_real"] = math.nan
        rows.append(row)
    t = pd.DataFrame(rows)
    for c in TABLE_COLUMNS:
        if c not in t.columns:
            t[c] = math.nan if c != "weights" else ""
    return t[list(TABLE_COLUMNS)]
