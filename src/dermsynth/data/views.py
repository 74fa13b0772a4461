"""Views of a dataset for one consumer: the ``train`` split alone, optionally at a smaller side.

The GAN must never see validation or test images: the classifier experiments test on them and the
memorisation check uses them as the held-out reference (``dermsynth run``'s gan stage trains on this view).
"""

from __future__ import annotations

import os
from pathlib import Path


def train_split_view(data: Path, out: Path, resolution: int | None = None) -> Path:
    """A dataset folder holding only the ``train`` split of ``data`` (images linked, not copied; with
    ``resolution``, PNG copies resized to that side with area averaging, for a smaller GAN).

    The GAN must never see validation or test images: the classifier experiments test on them and
    the memorisation check uses them as the held-out reference.
    """
    from dermsynth.core.manifest import read_manifest, write_dataset_json, write_manifest

    df = read_manifest(data)
    if "split" in df.columns and df["split"].notna().any():
        df = df[df["split"] == "train"].reset_index(drop=True)
    if df.empty:
        raise ValueError(f"{data}: no images in the train split")
    if resolution is not None:
        df = df.assign(file=[str(Path(f).with_suffix(".png")) for f in df["file"]])
    for src, f in zip(
        read_manifest(data).set_index("image_id").loc[df["image_id"], "file"], df["file"], strict=True
    ):
        link = out / f
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.exists():
            continue
        if resolution is None:
            os.symlink(os.path.relpath((data / src).resolve(), link.parent.resolve()), link)
        else:
            _resized_png(data / src, link, resolution)
    write_manifest(df, out)
    write_dataset_json(df, out)
    return out


def _resized_png(src: Path, dst: Path, side: int) -> None:
    import cv2

    from dermsynth.core.io import read_rgb, write_png

    rgb = read_rgb(src)
    if rgb.shape[:2] != (side, side):
        rgb = cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA)
    write_png(dst, rgb)
