"""Train / val / test splits: patient-level where patient ids exist, stratified by class, deterministic.

One patient's lesions share skin, camera and often diagnosis; an image-level split of SIIM-ISIC 2020
(2056 patients, 33126 images) would put the same patient in train and test and inflate test scores.
Groups are patients (an image without a patient id is its own group); each group goes, largest first
and otherwise in a seeded random order, to the split whose per-class quota it fills best (a greedy
form of stratified group k-fold, cf. scikit-learn ``StratifiedGroupKFold``).

A source that ships its own split (the ISIC challenges' train / validation / test; ingest keeps it in
``source_split``) keeps it: its validation and test images stay there, and only a split the source
lacks is carved out of the source's training images, so a model never trains on the challenge's
validation set.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dermsynth.core.io import atomic_write_json
from dermsynth.core.manifest import read_manifest, write_manifest
from dermsynth.core.seeding import rng
from dermsynth.data.labels import is_missing

SPLITS = ("train", "val", "test")

#: How sources name their splits (lower case) -> ours.
SOURCE_SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val",
                      "validation": "val", "test": "test", "testing": "test"}  # fmt: skip


@dataclass(frozen=True)
class SplitConfig:
    """Everything that determines the split (written to ``split.json``)."""

    val: float = 0.1  # validation fraction of all images
    test: float = 0.1  # test fraction of all images
    seed: int = 0  # split seed
    by_patient: bool = True  # keep each patient's images in one split (False: image level)
    keep_source_split: bool = True  # keep a source's own val/test rows (column source_split)


def normalise_split(value: Any) -> str:
    """A source's split name as ours (``train``/``val``/``test``); ``""`` when missing or unknown."""
    if is_missing(value):
        return ""
    return SOURCE_SPLIT_NAMES.get(str(value).strip().lower(), "")


def _groups(df: pd.DataFrame, by_patient: bool) -> pd.Series:
    """Group key per row: the patient id where present (and ``by_patient``), else the image id."""
    img = "img:" + df["image_id"].astype(str)
    if not by_patient or "patient_id" not in df.columns:
        return img
    pid = df["patient_id"].astype("string").str.strip()
    has = pid.notna() & (pid != "")
    return img.where(~has, "pat:" + pid.fillna(""))


def assign_splits(
    df: pd.DataFrame, val: float = 0.1, test: float = 0.1, seed: int = 0, by_patient: bool = True
) -> pd.Series:
    """Split name per row (index aligned with ``df``); no group is in two splits."""
    if val < 0 or test < 0 or val + test >= 1:
        raise ValueError(f"val ({val}) and test ({test}) must be >= 0 with val + test < 1")
    fracs = np.array([1 - val - test, val, test])
    labels = df["label"].astype(int).to_numpy()
    classes = np.unique(labels)
    groups = _groups(df, by_patient).to_numpy()
    keys, inv = np.unique(groups, return_inverse=True)
    counts = np.zeros((len(keys), len(classes)))  # [G, C] images per group and class
    np.add.at(counts, (inv, np.searchsorted(classes, labels)), 1)
    target = fracs[:, None] * counts.sum(0)[None, :]  # [3, C]
    current = np.zeros_like(target)
    order = rng(seed, "split").permutation(len(keys))
    order = order[np.argsort(-counts[order].sum(1), kind="stable")]  # largest groups first
    where = np.empty(len(keys), dtype=int)
    for g in order:
        need = (target - current) / np.maximum(target, 1e-9)  # relative deficit per split and class
        score = (need * counts[g][None, :]).sum(1) / counts[g].sum()
        score[fracs == 0] = -np.inf
        s = int(np.argmax(score))
        where[g] = s
        current[s] += counts[g]
    return pd.Series(np.array(SPLITS)[where[inv]], index=df.index, name="split")


def split_summary(df: pd.DataFrame) -> dict[str, Any]:
    """Images, melanoma and patients per split, and patients found in more than one split."""
    out: dict[str, Any] = {}
    for s in SPLITS:
        part = df[df["split"] == s]
        pids = (
            part["patient_id"].dropna().astype(str)
            if "patient_id" in df.columns
            else pd.Series([], dtype=str)
        )
        pids = pids[pids.str.strip() != ""]
        out[s] = {
            "images": len(part),
            "melanoma": int((part["label"].astype(int) == 1).sum()),
            "patients": int(pids.nunique()),
        }
    if "patient_id" in df.columns:
        pid = df["patient_id"].astype("string").str.strip()
        sub = df[pid.notna() & (pid != "")]
        per = sub.groupby("patient_id")["split"].nunique()
        out["patients_in_several_splits"] = int((per > 1).sum())
    return out


def split_dataset(
    directory: str | os.PathLike, cfg: SplitConfig | None = None, **overrides: Any
) -> dict[str, Any]:
    """Write the ``split`` column of ``DIR/manifest.csv`` and ``DIR/split.json``; return the summary.

    ``overrides`` are :class:`SplitConfig` fields (``split_dataset(d, val=0.2, seed=1)``).
    """
    cfg = dataclasses.replace(cfg or SplitConfig(), **overrides)
    directory = Path(directory)
    df = read_manifest(directory)
    if df.empty:
        raise ValueError(f"{directory}: manifest has no images to split")
    source = (
        df["source_split"].map(normalise_split)
        if cfg.keep_source_split and "source_split" in df.columns
        else pd.Series("", index=df.index)
    )
    df["split"] = _split_around_source(df, source, cfg)
    write_manifest(df, directory)
    has_pid = (
        "patient_id" in df.columns and (df["patient_id"].astype("string").str.strip().fillna("") != "").any()
    )
    summary = {
        "val_fraction": cfg.val,
        "test_fraction": cfg.test,
        "seed": cfg.seed,
        "level": "patient" if (cfg.by_patient and has_pid) else "image",
        "kept_source_split": sorted(set(source) - {"", "train"}),
        **split_summary(df),
    }
    atomic_write_json(directory / "split.json", summary)
    return summary


def _split_around_source(df: pd.DataFrame, source: pd.Series, cfg: SplitConfig) -> pd.Series:
    """Rows the source put in val/test stay there; the rest are split, drawing only the missing splits.

    Fractions stay fractions of the whole dataset: a source with its own val but no test gets
    ``test * N`` images carved from its training rows.
    """
    fixed = source.isin(["val", "test"])
    if not fixed.any():
        return assign_splits(df, cfg.val, cfg.test, cfg.seed, cfg.by_patient)
    free = df[~fixed]
    n, n_free = len(df), len(free)
    val = 0.0 if (source == "val").any() else cfg.val * n / max(n_free, 1)
    test = 0.0 if (source == "test").any() else cfg.test * n / max(n_free, 1)
    if val + test >= 1:
        raise ValueError(
            f"the source's own split leaves {n_free} images outside val/test: too few to carve "
            f"val {cfg.val} and test {cfg.test} of all {n} images from them"
        )
    out = source.where(fixed, "")
    if n_free:
        out[~fixed] = assign_splits(free, val, test, cfg.seed, cfg.by_patient)
    return out.rename("split")
