"""Writing edited images as a dataset in the manifest layout, resumably.

``DIR/images/*.png``, ``DIR/manifest.csv`` (schema of :mod:`dermsynth.core.manifest` plus the edit's
provenance columns) and ``DIR/dataset.json`` (official StyleGAN2-ADA label file). Rows whose image
file exists are kept when the same command is run again, so an interrupted run resumes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dermsynth.core.io import atomic_write_json, write_png
from dermsynth.core.manifest import read_manifest, write_dataset_json, write_manifest


class EditedDatasetWriter:
    """Collects rows, writes images atomically and flushes manifest.csv + dataset.json."""

    def __init__(self, out_dir: str | os.PathLike, conditional: bool) -> None:
        self.out_dir = Path(out_dir)
        (self.out_dir / "images").mkdir(parents=True, exist_ok=True)
        self.conditional = conditional
        self.rows: dict[str, dict[str, Any]] = {}
        if (self.out_dir / "manifest.csv").exists():
            old = read_manifest(self.out_dir)
            for row in old.to_dict("records"):
                if (self.out_dir / str(row["file"])).exists():
                    self.rows[str(row["image_id"])] = row

    def done(self, image_id: str) -> bool:
        return image_id in self.rows

    def add(self, image_id: str, image: np.ndarray, row: dict[str, Any]) -> None:
        file = f"images/{image_id}.png"
        write_png(self.out_dir / file, image)
        self.rows[image_id] = {"image_id": image_id, "file": file, **row}

    def flush(self) -> Path:
        df = pd.DataFrame(list(self.rows.values()))
        if df.empty:
            df = pd.DataFrame(columns=["image_id", "file", "label"])
        path = write_manifest(df, self.out_dir)
        if self.conditional:
            write_dataset_json(df, self.out_dir)
        else:
            atomic_write_json(self.out_dir / "dataset.json", {"labels": None})
        return path
