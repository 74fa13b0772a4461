"""What every source reader produces: one :class:`SourceItem` per input (a csv row or an image file).

Inputs are counted so that ``ingested + rejected == inputs`` holds: each csv row is one input, and
each image-type file that no row names is one more (rejected as "no csv row"). Files that are plainly
not images (csv, json, txt, licences ...) are listed as *ignored* and reported, not counted.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

IMAGE_EXTS = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm",
              ".pgm", ".pbm", ".dcm", ".dicom", ".j2k", ".jp2"}  # fmt: skip
IGNORED_EXTS = {".csv", ".tsv", ".json", ".jsonl", ".txt", ".md", ".rst", ".html", ".htm", ".xml", ".yaml",
                ".yml", ".pdf", ".zip", ".tar", ".gz", ".py", ".ipynb", ".log", ".ini", ".cfg", ".db",
                ".sqlite", ".pkl", ".npz", ".npy"}  # fmt: skip

#: Source column names that would clash with the manifest schema are renamed on the way in.
_RENAME = {"split": "source_split", "label": "source_label", "file": "source_file", "seed": "source_seed",
           "class_name": "source_class_name", "source": "source_name", "parent_id": "source_parent_id"}  # fmt: skip


@dataclass
class SourceItem:
    """One input: where its image is, its label and metadata, or why it is rejected already."""

    source: str  # shown in rejects.csv: a path relative to SRC, or "train.csv:12"
    image_id: str | None
    path: str | None = None  # the image file, or the zip archive when ``member`` is set
    member: str | None = None
    label: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    reject: str | None = None


@dataclass
class SourceListing:
    """All inputs of one source, plus files skipped as plainly not images."""

    fmt: str
    src: Path
    items: list[SourceItem]
    ignored: list[str] = field(default_factory=list)
    defaults: dict[str, Any] = field(default_factory=dict)  # e.g. licence for a whole dataset


def rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def scan_files(
    root: Path, recursive: bool = True, exclude: Iterable[Path] = ()
) -> tuple[list[Path], list[Path]]:
    """(image candidates, ignored files) under ``root``, sorted; hidden files are ignored."""
    excluded = {p.resolve() for p in exclude}
    it = root.rglob("*") if recursive else root.iterdir()
    cands, ignored = [], []
    for p in sorted(it):
        if not p.is_file() or p.resolve() in excluded:
            continue
        if any(part.startswith(".") for part in p.relative_to(root).parts):
            ignored.append(p)
        elif p.suffix.lower() in IGNORED_EXTS:
            ignored.append(p)
        else:
            cands.append(p)
    return cands, ignored


def safe_id(text: str) -> str:
    """An image id usable as a file name: anything but ``[A-Za-z0-9._-]`` becomes ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text.strip()) or "_"


def read_header(path: Path) -> list[str]:
    """First line of a csv file, split into fields (lower-case, stripped)."""
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
            row = next(csv.reader(f), [])
    except OSError as e:
        raise ValueError(f"{path}: cannot read ({e})") from None
    return [c.strip().lower() for c in row]


def read_csv(path: Path, header: bool = True, sep: str = ",") -> pd.DataFrame:
    """A csv as strings ('' for empty cells), column names lower-cased; clear error if unparsable."""
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", sep=sep,
                         header=0 if header else None)  # fmt: skip
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as e:
        raise ValueError(f"{path}: not a readable csv ({e})") from None
    if header:
        df.columns = [str(c).strip().lower() for c in df.columns]
    return df


def require_columns(path: Path, columns: list[str], needed: list[str | tuple[str, ...]]) -> None:
    """Error naming the file when a needed column (or all of a tuple of alternatives) is missing."""
    missing = []
    for need in needed:
        alts = need if isinstance(need, tuple) else (need,)
        if not any(a in columns for a in alts):
            missing.append(" or ".join(alts))
    if missing:
        raise ValueError(
            f"{path}: missing required column(s): {', '.join(missing)} (has: {', '.join(columns)})"
        )


def passthrough(row: dict[str, Any], consumed: set[str]) -> dict[str, Any]:
    """The row's other columns, renamed where they clash with the manifest schema."""
    return {_RENAME.get(k, k): v for k, v in row.items() if k not in consumed}


def file_index(files: list[Path]) -> dict[str, list[Path]]:
    """Image candidates by stem (case kept), each list sorted."""
    idx: dict[str, list[Path]] = {}
    for p in files:
        idx.setdefault(p.stem, []).append(p)
    return idx


def match_rows(rows: list[SourceItem], files: list[Path], root: Path) -> list[SourceItem]:
    """Attach image files to csv rows by id; reject rows without image, duplicate ids and orphans."""
    idx = file_index(files)
    used: set[Path] = set()
    first_row: dict[str, str] = {}
    out: list[SourceItem] = []
    for item in rows:
        iid = item.image_id
        if iid is not None:
            if iid in first_row:
                item.reject = item.reject or f"duplicate id {iid!r} (first in {first_row[iid]})"
            else:  # a row rejected for its label still owns its image file (one input, not two)
                first_row[iid] = item.source
                paths = idx.get(iid, [])
                if paths:
                    item.path = str(paths[0])
                    used.add(paths[0])
                elif item.reject is None:
                    item.reject = f"no image file for id {iid!r} under {root}"
        out.append(item)
    for p in files:
        if p in used:
            continue
        stem = p.stem
        if stem in first_row and idx.get(stem, [None])[0] != p:
            reason = f"duplicate image file for id {stem!r} (using {rel(idx[stem][0], root)})"
        else:
            reason = "no csv row for this image"
        out.append(SourceItem(rel(p, root), stem, str(p), reject=reason))
    return out


def find_image_root(csv_path: Path, ids: list[str], explicit: Path | None) -> tuple[Path, bool]:
    """(image folder, recursive?) for a csv: ``explicit``, else the folder beside it that holds the ids."""
    if explicit is not None:
        if not explicit.is_dir():
            raise FileNotFoundError(f"{explicit}: image folder not found")
        return explicit, True
    base = csv_path.parent
    probe = ids[:50]
    exts = [".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG", ".tif", ".bmp"]
    cands = [d for d in sorted(base.iterdir()) if d.is_dir() and not d.name.startswith(".")]
    cands += [
        dd for d in list(cands) for dd in sorted(d.iterdir()) if dd.is_dir() and not dd.name.startswith(".")
    ]

    def hits(d: Path) -> int:
        return sum(any((d / f"{i}{e}").exists() for e in exts) for i in probe)

    scored = [(hits(d), d) for d in cands]
    best = max(scored, key=lambda t: t[0], default=(0, None))
    if best[0] > 0:
        return best[1], True
    if hits(base) > 0:
        return base, False
    for name in ("images", "train", "jpeg/train"):
        if (base / name).is_dir():
            return base / name, True
    return base, False
