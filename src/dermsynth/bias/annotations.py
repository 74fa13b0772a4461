"""Readers for artifact annotation files, as they are.

Two layouts are understood (and any csv with an image id column and artifact columns):

- our ``labels.csv`` of isic2017-256: ``image_id, split, ..., has_bias_annotation, dark_corner, ...``;
  only rows with ``has_bias_annotation == 1`` carry annotations;
- the original file of Bissoto, Valle & Avila (ISIC Workshop @ CVPR 2020):
  ``;image;dark_corner;hair;gel_border;gel_bubble;ruler;ink;patches;label;label_string`` — ``;``
  separated, a leading unnamed index column, image names with a ``.png`` extension.

Both come back as a DataFrame indexed by ``image_id`` (file stem) with the artifact columns (0/1 ints)
that the file has. In a manifest the audit has written, ``<artifact>_annotated`` (the original
annotation it moved aside) is preferred over ``<artifact>`` (the audit's own decision).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pandas as pd

from dermsynth.bias.columns import annotated_column, annotation_column
from dermsynth.core.manifest import ARTIFACTS

ID_COLUMNS = ("image_id", "image", "image_name", "isic_id", "file", "name")


def _sniff_sep(path: Path) -> str:
    with open(path, newline="", encoding="utf-8-sig") as f:
        head = f.readline()
    if not head.strip():
        raise ValueError(f"{path}: empty annotation file")
    try:
        return csv.Sniffer().sniff(head, delimiters=",;\t").delimiter
    except csv.Error:
        return ","


def image_key(name: object) -> str:
    """Image id from a file name or id: directory and extension removed (``ISIC_1.png`` -> ``ISIC_1``)."""
    stem = Path(str(name).strip()).name
    for ext in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"):
        if stem.lower().endswith(ext):
            return stem[: -len(ext)]
    return stem


def read_annotations(path: str | os.PathLike, artifacts: list[str] | None = None) -> pd.DataFrame:
    """Annotation table indexed by ``image_id`` with 0/1 artifact columns (see module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: annotation file not found")
    df = pd.read_csv(path, sep=_sniff_sep(path), encoding="utf-8-sig")
    df = df.loc[:, [c for c in df.columns if not str(c).startswith("Unnamed")]]
    df.columns = [str(c).strip() for c in df.columns]
    id_col = next((c for c in ID_COLUMNS if c in df.columns), None)
    if id_col is None:
        raise ValueError(f"{path}: no image id column (looked for {list(ID_COLUMNS)})")
    if "has_bias_annotation" in df.columns:
        df = df[pd.to_numeric(df["has_bias_annotation"], errors="coerce") == 1]
    wanted = artifacts or ARTIFACTS
    # a manifest the audit has written keeps the original annotations as <artifact>_annotated
    # (bias/columns.py: the audit's own decision is not an annotation)
    for a in wanted:
        col = annotation_column(df, a)
        if col is None:
            df = df.drop(columns=[a], errors="ignore")
        elif col != a:
            df[a] = df[col]
    cols = [a for a in wanted if a in df.columns]
    if not cols:
        raise ValueError(f"{path}: none of the artifact columns {wanted} present")
    out = df[cols].apply(pd.to_numeric, errors="coerce")
    out.index = pd.Index([image_key(v) for v in df[id_col]], name="image_id")
    out = out.dropna(how="all")
    bad = out.isna().any(axis=1) | ~out.isin([0, 1]).all(axis=1)
    if bad.any():
        raise ValueError(
            f"{path}: non-0/1 annotation values for {int(bad.sum())} image(s), e.g. {out.index[bad][0]}"
        )
    if out.index.duplicated().any():
        raise ValueError(f"{path}: duplicated image id {out.index[out.index.duplicated()][0]!r}")
    return out.astype(int)


def labels_dataset(
    root: str | os.PathLike, out: str | os.PathLike, split: str, annotated_only: bool = False
) -> Path:
    """A dataset directory ``out`` (manifest.csv, absolute file paths) over one ``split`` of
    ``root/labels.csv`` (the isic2017-256 layout above; images at ``root/images/<image_id>.jpg``).

    The annotations come along as ``<artifact>_annotated`` (empty where an image has none), which the
    audit leaves alone; ``annotated_only`` keeps only the images with ``has_bias_annotation == 1``.
    """
    from dermsynth.core.manifest import write_manifest

    root, out = Path(root), Path(out)
    lab = pd.read_csv(root / "labels.csv", dtype={"image_id": str})
    lab = lab[lab["split"] == split]
    if annotated_only:
        lab = lab[lab["has_bias_annotation"] == 1]
    df = pd.DataFrame(
        {
            "image_id": lab["image_id"],
            "file": [str(root / "images" / f"{i}.jpg") for i in lab["image_id"]],
            "label": lab["melanoma"].astype(int),
            "class_name": lab["melanoma"].map({0: "not_melanoma", 1: "melanoma"}),
            "source": root.name,
            "split": split,
        }
    )
    for a in ARTIFACTS:
        df[annotated_column(a)] = lab[a].where(lab["has_bias_annotation"] == 1).to_numpy()
    out.mkdir(parents=True, exist_ok=True)
    write_manifest(df, out)
    return out
