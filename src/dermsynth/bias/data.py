"""Annotated image sets for training and tuning: a manifest with artifact columns, or images + a csv.

``annotated_images(directory, truth)`` returns one row per annotated image with its path, split and
0/1 artifact columns, from either

- a dermsynth dataset directory whose ``manifest.csv`` carries artifact columns (phantom ground
  truth), or the same directory plus an annotation file (``truth``) matched by image id; or
- a plain image folder (``DIR/images/<id>.jpg|png`` or ``DIR/<id>.*``) plus ``truth`` (isic2017-256
  with its ``labels.csv``, whose ``split`` column is kept).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from dermsynth.bias.annotations import image_key, read_annotations
from dermsynth.bias.columns import flag_artifacts
from dermsynth.core.manifest import read_manifest
from dermsynth.core.seeding import rng

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
EVAL_SPLITS = ("val", "valid", "validation", "test")


def _folder_index(directory: Path) -> dict[str, Path]:
    root = directory / "images" if (directory / "images").is_dir() else directory
    return {p.stem: p for p in sorted(root.iterdir()) if p.suffix.lower() in IMAGE_EXTS}


def _splits_of(truth: Path) -> pd.Series | None:
    from dermsynth.bias.annotations import _sniff_sep

    df = pd.read_csv(truth, sep=_sniff_sep(truth), encoding="utf-8-sig")
    id_col = next((c for c in ("image_id", "image") if c in df.columns), None)
    if id_col is None or "split" not in df.columns:
        return None
    return pd.Series(df["split"].astype(str).values, index=[image_key(v) for v in df[id_col]])


def annotated_images(directory: str | os.PathLike, truth: str | os.PathLike | None = None) -> pd.DataFrame:
    """Rows ``image_id, path, split, <artifacts>`` for every annotated image found (see module doc)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: not a directory")
    has_manifest = (directory / "manifest.csv").is_file()
    if has_manifest:
        man = read_manifest(directory).set_index("image_id", drop=False)
        paths = {i: directory / f for i, f in zip(man["image_id"], man["file"], strict=True)}
        splits = man["split"] if "split" in man.columns else None
    else:
        paths, splits = _folder_index(directory), None
    if truth is not None:
        ann = read_annotations(truth)
        if splits is None or splits.isna().all():
            splits = _splits_of(Path(truth))
    elif has_manifest:
        cols = flag_artifacts(man)
        if not cols:
            raise ValueError(f"{directory}/manifest.csv has no artifact columns; pass an annotation file")
        ann = man[cols].dropna(how="any").astype(int)
    else:
        raise ValueError(f"{directory}: no manifest.csv; pass an annotation file (--truth)")
    ids = [i for i in ann.index if i in paths]
    if not ids:
        raise ValueError(f"{directory}: no image matches an annotated id (e.g. {ann.index[0]!r})")
    out = ann.loc[ids].copy()
    out.insert(0, "path", [str(paths[i]) for i in ids])
    split = splits.reindex(ids) if splits is not None else pd.Series(np.nan, index=ids)
    split = split.astype(object).where(split.notna(), "train")
    out.insert(1, "split", split.astype(str).values)
    out.index.name = "image_id"
    return out


def holdout_split(ids: list[str], fraction: float, seed: int) -> np.ndarray:
    """Bool mask choosing ``fraction`` of ``ids`` for validation, a pure function of (ids, seed)."""
    if not 0 < fraction < 1:
        raise ValueError(f"validation fraction must be in (0, 1), got {fraction}")
    keys = np.array([rng(seed, "bias-holdout", i).random() for i in ids])
    return keys < fraction
