"""The one schema that crosses stages: ``manifest.csv`` (+ ``dataset.json`` for official tools).

Real, cleaned, synthetic and edited images alike are described by rows with the columns below, plus
any metadata and bias columns a stage adds. ``dataset.json`` beside it stays readable by the official
StyleGAN2-ADA tools: ``{"labels": [["images/000000.png", 0], ...]}``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from dermsynth.core.io import atomic_path, atomic_write_json

#: Columns every manifest has, in this order; stages append their own after them.
MANIFEST_COLUMNS = [
    "image_id",
    "file",
    "label",
    "class_name",
    "source",
    "split",
    "patient_id",
    "parent_id",
    "seed",
]

#: Default class names: index = label. Melanoma is always 1.
CLASS_NAMES = ["not_melanoma", "melanoma"]

#: Artifact columns shared by the phantom ground truth, the bias audit and the annotation readers.
ARTIFACTS = ["dark_corner", "hair", "ruler", "ink", "gel_bubble", "gel_border"]


def class_index(name_or_index: str | int, class_names: list[str] = CLASS_NAMES) -> int:
    """Class by name (``melanoma``) or index (``1``); clear error otherwise."""
    if isinstance(name_or_index, int) or str(name_or_index).lstrip("-").isdigit():
        idx = int(name_or_index)
        if not 0 <= idx < len(class_names):
            raise ValueError(f"class index {idx} out of range for classes {class_names}")
        return idx
    try:
        return class_names.index(str(name_or_index))
    except ValueError:
        raise ValueError(f"unknown class {name_or_index!r}; known: {class_names}") from None


def ensure_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Add any missing schema column (empty) and put the schema columns first."""
    df = df.copy()
    for col in MANIFEST_COLUMNS:
        if col not in df.columns:
            df[col] = pd.NA
    rest = [c for c in df.columns if c not in MANIFEST_COLUMNS]
    return df[MANIFEST_COLUMNS + rest]


def read_manifest(path_or_dir: str | os.PathLike) -> pd.DataFrame:
    """Read ``manifest.csv`` from a dataset directory (or the csv itself)."""
    p = Path(path_or_dir)
    if p.is_dir():
        p = p / "manifest.csv"
    if not p.exists():
        raise FileNotFoundError(f"{p}: no manifest.csv (is this a dermsynth dataset directory?)")
    df = pd.read_csv(p, dtype={"image_id": str, "file": str, "patient_id": str, "parent_id": str})
    missing = [c for c in ("image_id", "file", "label") if c not in df.columns]
    if missing:
        raise ValueError(f"{p}: manifest lacks required column(s) {missing}")
    return df


def write_manifest(df: pd.DataFrame, path_or_dir: str | os.PathLike) -> Path:
    """Write ``manifest.csv`` atomically, schema columns first."""
    p = Path(path_or_dir)
    if p.suffix != ".csv":
        p = p / "manifest.csv"
    with atomic_path(p) as tmp:
        ensure_columns(df).to_csv(tmp, index=False)
    return p


def write_dataset_json(df: pd.DataFrame, directory: str | os.PathLike) -> Path:
    """Write the official StyleGAN2-ADA ``dataset.json`` (file path relative to ``directory``, label)."""
    labels = [[str(f), int(lbl)] for f, lbl in zip(df["file"], df["label"], strict=True)]
    p = Path(directory) / "dataset.json"
    atomic_write_json(p, {"labels": labels})
    return p


def image_paths(directory: str | os.PathLike, df: pd.DataFrame | None = None) -> list[Path]:
    """Absolute image paths of a dataset directory, in manifest order."""
    directory = Path(directory)
    df = read_manifest(directory) if df is None else df
    return [directory / f for f in df["file"]]


#: Where a dataset folder says what its artifact annotation columns are (``data`` writes it, the report
#: reads it): ``{"source": <words>, "predicted_by": <audit method spec> | null}``. Annotations that an
#: audit predicted are labels, not ground truth: comparing that audit with them is self-agreement.
ANNOTATIONS_FILE = "annotations.json"


def write_annotation_source(
    directory: str | os.PathLike, source: str, predicted_by: str | None = None
) -> Path:
    """Record where the artifact columns of the dataset in ``directory`` come from."""
    from dermsynth.core.io import atomic_write_json

    p = Path(directory) / ANNOTATIONS_FILE
    atomic_write_json(p, {"source": source, "predicted_by": predicted_by})
    return p


def read_annotation_source(directory: str | os.PathLike) -> dict | None:
    """The dataset's :data:`ANNOTATIONS_FILE`, or None when it records nothing (a damaged file: None)."""
    import json

    p = Path(directory) / ANNOTATIONS_FILE
    try:
        data = json.loads(p.read_text(encoding="utf-8")) if p.is_file() else None
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("source"), str) else None
