"""Image sets for metrics: a dermsynth dataset directory (manifest.csv) or a plain folder of images.

Images are read as RGB uint8 (the quantised protocol: generated images are also rounded to uint8
before features are taken). A batch needs one resolution; an image whose size differs from the set's
first readable image is resized to it with area averaging and counted in ``resized``. An unreadable
image is skipped, named in ``skipped``, and never stops the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
CACHE_DIRNAME = ".dermsynth-cache"


@dataclass
class ImageSet:
    """Files of one set, with labels (-1 = unknown), class names and the manifest's split if any."""

    root: Path
    files: list[Path]
    labels: np.ndarray
    class_names: list[str]
    splits: list[str] | None = None
    skipped: list[str] = field(default_factory=list)
    resized: int = 0

    def __len__(self) -> int:
        return len(self.files)

    @property
    def has_labels(self) -> bool:
        return bool(len(self.labels)) and bool((self.labels >= 0).all())

    def subset(self, idx) -> ImageSet:
        idx = np.asarray(idx, dtype=int)
        return ImageSet(
            self.root,
            [self.files[i] for i in idx],
            self.labels[idx],
            self.class_names,
            [self.splits[i] for i in idx] if self.splits is not None else None,
        )


def _class_names(df, labels: np.ndarray) -> list[str]:
    from dermsynth.core.manifest import CLASS_NAMES

    n = int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0
    names = list(CLASS_NAMES) + [f"class{i}" for i in range(len(CLASS_NAMES), n)]
    if "class_name" in df.columns:
        for lbl, nm in zip(labels, df["class_name"], strict=True):
            if lbl >= 0 and isinstance(nm, str) and nm:
                names[lbl] = nm
    return names[: max(n, 0)] if n else []


def open_image_set(directory: str | os.PathLike, num: int | None = None) -> ImageSet:
    """Images of ``directory`` in manifest order (or sorted file order), the first ``num`` of them."""
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: image directory not found")
    if (root / "manifest.csv").is_file():
        from dermsynth.core.manifest import read_manifest

        df = read_manifest(root)
        if num is not None:
            df = df.iloc[:num]
        files = [root / f for f in df["file"]]
        labels = np.asarray(df["label"].fillna(-1).astype(int))
        splits = (
            [str(s) for s in df["split"]] if "split" in df.columns and df["split"].notna().any() else None
        )
        return ImageSet(root, files, labels, _class_names(df, labels), splits)
    files = sorted(
        p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and CACHE_DIRNAME not in p.parts
    )
    if num is not None:
        files = files[:num]
    if not files:
        raise ValueError(f"{root}: no manifest.csv and no image files")
    return ImageSet(root, files, np.full(len(files), -1, dtype=int), [])


def _read(path: Path) -> np.ndarray | None:
    from dermsynth.core.io import read_rgb

    try:
        return read_rgb(path)
    except (ValueError, OSError):
        return None


def iter_batches(
    images: ImageSet, batch_size: int, workers: int = 4
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (indices into ``images``, uint8 [B, H, W, 3]); bad files are recorded and skipped."""
    import cv2

    size: tuple[int, int] | None = None
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for start in range(0, len(images), batch_size):
            idx = np.arange(start, min(start + batch_size, len(images)))
            arrs = list(pool.map(_read, [images.files[i] for i in idx]))
            keep, out = [], []
            for i, a in zip(idx, arrs, strict=True):
                if a is None:
                    images.skipped.append(str(images.files[i]))
                    continue
                size = size or a.shape[:2]
                if a.shape[:2] != size:
                    a = cv2.resize(a, (size[1], size[0]), interpolation=cv2.INTER_AREA)
                    images.resized += 1
                keep.append(i)
                out.append(a)
            if keep:
                yield np.asarray(keep), np.stack(out)


def thumbnails(batch: np.ndarray, size: int) -> np.ndarray:
    """uint8 [B, H, W, 3] -> uint8 [B, size, size, 3] by area averaging (memorisation pixel space)."""
    import cv2

    return np.stack([cv2.resize(a, (size, size), interpolation=cv2.INTER_AREA) for a in batch])
