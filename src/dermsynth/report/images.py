"""Images for the page: files embedded as data URIs, and tiles of single images picked from a manifest.

Figures (plots, mosaics) are embedded byte for byte. Single images shown as tiles are shrunk to at
most ``TILE_MAX`` pixels (JPEG) so that a report with dozens of 256-px tiles stays a few MB.
"""

from __future__ import annotations

import base64
import io
import struct
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

TILE_MAX = 256


@dataclass(frozen=True)
class Tile:
    """One image of a tile row: its data URI, natural size and a short label under it."""

    uri: str
    width: int
    height: int
    label: str = ""


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG from its header, else through Pillow; (0, 0) if unreadable."""
    try:
        with open(path, "rb") as f:
            head = f.read(24)
        if head[:8] == b"\x89PNG\r\n\x1a\n":
            return struct.unpack(">II", head[16:24])
        from PIL import Image

        with Image.open(path) as im:
            return im.size
    except (OSError, struct.error, ValueError):
        return (0, 0)


def file_uri(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    suffix = Path(path).suffix.lower()
    mime = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}
    return f"data:{mime.get(suffix, 'image/png')};base64,{data}"


def tile(path: Path, label: str = "") -> Tile | None:
    """A tile of one image file (shrunk to ``TILE_MAX``); None if the file cannot be read."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            if max(w, h) > TILE_MAX:
                im.thumbnail((TILE_MAX, TILE_MAX), Image.Resampling.LANCZOS)
                buf = io.BytesIO()
                im.save(buf, "JPEG", quality=90)
                uri = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
                return Tile(uri, im.size[0], im.size[1], label)
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    return Tile(file_uri(path), w, h, label)


def tiles_per_class(
    folder: Path, per_class: int = 4, split: str | None = None, extra: dict[str, str] | None = None
) -> dict[str, list[Tile]]:
    """Up to ``per_class`` image tiles per class of the dataset at ``folder`` (first rows of its manifest,
    restricted to ``split`` when given and present; ``extra`` filters other columns by value)."""
    man = folder / "manifest.csv"
    if not man.is_file():
        return {}
    df = pd.read_csv(man, low_memory=False)
    if "file" not in df.columns:
        return {}
    if split and "split" in df.columns and (df["split"] == split).any():
        df = df[df["split"] == split]
    for col, val in (extra or {}).items():
        if col in df.columns:
            df = df[df[col].astype(str) == val]
    if "class_name" in df.columns and df["class_name"].notna().any():
        key = df["class_name"].astype(str)
    elif "label" in df.columns:
        key = df["label"].astype(str)
    else:
        key = pd.Series("all", index=df.index)
    out: dict[str, list[Tile]] = {}
    for cls in sorted(key.unique()):
        picked = []
        for f in df.loc[key == cls, "file"].head(per_class * 2):
            t = tile(folder / str(f))
            if t is not None:
                picked.append(t)
            if len(picked) == per_class:
                break
        if picked:
            out[cls] = picked
    return out
