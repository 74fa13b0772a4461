"""Subsets without chosen artifacts: the "no bias" / "no frames" sets of thesis Table 3.1.

``filter_dataset(src, out, exclude=["frame", "ruler"])`` writes a new dataset directory (manifest
layout: ``images/``, ``manifest.csv``, ``dataset.json``, ``filter_config.json``) holding only the images
flagged with none of the excluded artifacts. Flags come from the audit's columns (``<a>`` beside
``<a>_score``, ``by="audit"``) or from annotation columns (``<a>_annotated`` or a plain ``<a>``,
``by="annotation"``; the layout: ``bias/columns.py``); ``by="auto"`` takes the audit's where present. An image whose flag is unknown
(not audited / not annotated) is left out: the subset promises the artifact is absent. Images are
hard-linked when possible, else copied; ``parent_id`` names the source image.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd

from dermsynth.bias.columns import annotation_column, is_audited
from dermsynth.core.io import atomic_path, atomic_write_json
from dermsynth.core.manifest import ARTIFACTS, read_manifest, write_dataset_json, write_manifest

ALIASES = {
    "frame": "dark_corner",
    "frames": "dark_corner",
    "dark_corners": "dark_corner",
    "bubble": "gel_bubble",
}


def _items(exclude: list[str] | str) -> list[str]:
    return exclude.split(",") if isinstance(exclude, str) else list(exclude)


def resolve_exclude(exclude: list[str] | str) -> list[str]:
    """Artifact names from a list or comma string; ``frame`` means dark_corner, ``all`` every artifact."""
    out: list[str] = []
    for item in (i.strip().lower() for i in _items(exclude) if i.strip()):
        names = ARTIFACTS if item in ("all", "bias", "any") else [ALIASES.get(item, item)]
        for n in names:
            if n not in ARTIFACTS:
                raise ValueError(f"unknown artifact {item!r}; known: {ARTIFACTS} (aliases: frame, all)")
            if n not in out:
                out.append(n)
    if not out:
        raise ValueError("nothing to exclude: name at least one artifact (e.g. frame,ruler)")
    return out


def flag_column(df: pd.DataFrame, artifact: str, by: str) -> str:
    """The manifest column holding ``artifact``'s 0/1 flag for source ``by`` (audit / annotation / auto)."""
    audit = artifact if is_audited(df, artifact) else None
    annotated = annotation_column(df, artifact)  # bias/columns.py
    choice = {"audit": audit, "annotation": annotated, "auto": audit or annotated}.get(by, "?")
    if choice == "?":
        raise ValueError(f"by must be audit, annotation or auto, got {by!r}")
    if choice is None:
        hint = "run `dermsynth bias audit` first" if by != "annotation" else "no annotation column"
        raise ValueError(f"manifest has no {by} flags for {artifact!r} ({hint})")
    return choice


def _link_or_copy(src: Path, dst: Path) -> None:
    if dst.exists():
        return
    with atomic_path(dst) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


def filter_dataset(
    src_dir: str | os.PathLike, out_dir: str | os.PathLike, exclude: list[str] | str, by: str = "auto"
) -> Path:
    """Write the subset of ``src_dir`` without the ``exclude`` artifacts to ``out_dir``; returns it."""
    src, out = Path(src_dir), Path(out_dir)
    if src.resolve() == out.resolve():
        raise ValueError(f"{out}: the output directory must differ from the source")
    df = read_manifest(src)
    names = resolve_exclude(exclude)
    everything = any(str(e).strip().lower() in ("all", "bias", "any") for e in _items(exclude))
    cols = {}
    for a in names:
        try:
            cols[a] = flag_column(df, a, by)
        except ValueError:
            if not everything:  # 'all' means every artifact the manifest has flags for
                raise
    if not cols:
        raise ValueError(f"{src}: manifest has no {by} flags for any artifact")
    names = list(cols)
    flags = df[list(cols.values())].apply(pd.to_numeric, errors="coerce")
    keep = (flags == 0).all(axis=1)
    sub = df[keep].copy()
    files = []
    for f in sub["file"]:
        rel = f"images/{Path(f).name}"
        _link_or_copy(src / f, out / rel)
        files.append(rel)
    sub["parent_id"] = sub["image_id"]
    sub["file"] = files
    write_manifest(sub, out)
    write_dataset_json(sub, out)
    atomic_write_json(
        out / "filter_config.json",
        {
            "source": str(src.resolve()),
            "exclude": names,
            "by": by,
            "columns": cols,
            "n_source": int(len(df)),
            "n_kept": int(len(sub)),
            "n_unknown": int(flags.isna().any(axis=1).sum()),
        },
    )
    return out
