"""Readers for label-by-layout sources: one folder per class, and official StyleGAN2-ADA datasets.

* ``folder``: ``SRC/<class>/**/<image>``; the class folder name is the label (``melanoma``, ``benign``,
  ``nevus``, ``0``/``1`` ... or any name given in ``--label-map``).
* ``stylegan``: a folder or zip with ``dataset.json`` = ``{"labels": [["00000/img00000000.png", 1], ...]}``
  (Karras et al., "Training Generative Adversarial Networks with Limited Data", NeurIPS 2020,
  ``dataset_tool.py`` output); ``"labels": null`` means an unlabelled dataset.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path, PurePosixPath

from dermsynth.data.labels import parse_label
from dermsynth.data.source_items import (
    IGNORED_EXTS,
    SourceItem,
    SourceListing,
    passthrough,
    read_csv,
    rel,
    scan_files,
)


def class_dirs(src: Path) -> list[Path]:
    """Sub-folders of ``src`` that hold at least one image-type file."""
    out = []
    for d in sorted(p for p in src.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if scan_files(d)[0]:
            out.append(d)
    return out


def read_folder(
    src: Path, images: Path | None = None, label_map: dict[str, int] | None = None
) -> SourceListing:
    if not src.is_dir():
        raise ValueError(f"{src}: folder-per-class source must be a directory")
    items: list[SourceItem] = []
    ignored: list[str] = []
    seen: dict[str, str] = {}
    top_files, top_ignored = scan_files(src, recursive=False)
    ignored += [str(p) for p in top_ignored]
    for p in top_files:
        items.append(SourceItem(rel(p, src), p.stem, str(p), reject="image not inside a class folder"))
    for d in class_dirs(src):
        label = parse_label(d.name, label_map)
        files, ign = scan_files(d)
        ignored += [str(p) for p in ign]
        for p in files:
            r = rel(p, src)
            item = SourceItem(r, p.stem, str(p), label=label, meta={"diagnosis": d.name})
            if label is None:
                item.reject = f"unknown label: class folder {d.name!r} (map it with --label-map {d.name}=0|1)"
            elif p.stem in seen:
                item.reject = f"duplicate id {p.stem!r} (first in {seen[p.stem]})"
            else:
                seen[p.stem] = r
            items.append(item)
    return SourceListing("folder", src, items, ignored)


def _dermsynth_manifest(src: Path) -> dict[str, dict]:
    """Metadata by file from a dermsynth ``manifest.csv`` beside dataset.json (empty if none)."""
    path = src / "manifest.csv"
    if not path.exists():
        return {}
    df = read_csv(path)
    if "file" not in df.columns:
        return {}
    drop = {"image_id", "file", "label", "class_name", "split"} | {
        c for c in df.columns if c.endswith("_file")
    }
    return {row["file"]: passthrough(row, drop) for row in df.to_dict("records")}


def _ignored(name: str) -> bool:
    p = PurePosixPath(name)
    return p.suffix.lower() in IGNORED_EXTS or any(part.startswith(".") for part in p.parts)


def _load_labels(text: str, where: str) -> list | None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: not valid JSON ({e})") from None
    if not isinstance(data, dict) or "labels" not in data:
        raise ValueError(
            f"{where}: missing required key 'labels' (official form: {{\"labels\": [[file, label], ...]}})"
        )
    labels = data["labels"]
    if labels is not None and not isinstance(labels, list):
        raise ValueError(f"{where}: 'labels' must be a list of [file, label] pairs or null")
    return labels


def read_stylegan(
    src: Path, images: Path | None = None, label_map: dict[str, int] | None = None
) -> SourceListing:
    """Official StyleGAN2-ADA dataset (folder or zip); image files not in dataset.json are orphans."""
    if src.is_file():
        if not zipfile.is_zipfile(src):
            raise ValueError(f"{src}: a stylegan source is a folder or a .zip with dataset.json")
        with zipfile.ZipFile(src) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            if "dataset.json" not in names:
                raise ValueError(f"{src}: zip has no dataset.json")
            labels = _load_labels(zf.read("dataset.json").decode("utf-8", "replace"), f"{src}!dataset.json")
        files = [n for n in names if n != "dataset.json"]
        in_zip = True
        extra = {}
    else:
        meta = src / "dataset.json"
        if not meta.exists():
            raise ValueError(f"{src}: no dataset.json")
        labels = _load_labels(meta.read_text(encoding="utf-8", errors="replace"), str(meta))
        cands, ign = scan_files(src, exclude=[meta])
        files = [rel(p, src) for p in cands] + [rel(p, src) for p in ign]
        in_zip = False
        extra = _dermsynth_manifest(src)
    ignored = [f for f in files if _ignored(f)]
    files = [f for f in files if not _ignored(f)]
    if extra:  # a dermsynth dataset: only its listed image folders are inputs (not twins/, masks/)
        dirs = {
            PurePosixPath(str(e[0])).parent.as_posix()
            for e in labels or []
            if isinstance(e, list | tuple) and e
        }
        ignored += [f for f in files if PurePosixPath(f).parent.as_posix() not in dirs]
        files = [f for f in files if PurePosixPath(f).parent.as_posix() in dirs]
    present = set(files)
    items: list[SourceItem] = []
    listed: set[str] = set()
    seen: dict[str, str] = {}
    for i, entry in enumerate(labels or []):
        where = f"dataset.json:labels[{i}]"
        if not (isinstance(entry, list | tuple) and len(entry) == 2 and isinstance(entry[0], str)):
            items.append(
                SourceItem(where, None, reject=f"malformed entry {entry!r} (expected [file, label])")
            )
            continue
        name = PurePosixPath(entry[0]).as_posix()
        listed.add(name)
        stem = PurePosixPath(name).stem
        label = parse_label(entry[1], label_map, binary_names=False)
        item = SourceItem(f"{where} {name}", stem, label=label, meta=dict(extra.get(name, {})))
        if name in present:
            item.path, item.member = (str(src), name) if in_zip else (str(src / name), None)
        if label is None:
            item.reject = f"unknown label value {entry[1]!r}"
        elif stem in seen:
            item.reject = f"duplicate id {stem!r} (first in {seen[stem]})"
        elif item.path is None:
            item.reject = f"image file {name!r} listed in dataset.json is missing"
        else:
            seen[stem] = name
        items.append(item)
    for f in files:
        if f in listed:
            continue
        reason = (
            "dataset.json has no labels (unlabelled dataset)"
            if labels is None
            else "image not listed in dataset.json"
        )
        path, member = (str(src), f) if in_zip else (str(src / f), None)
        items.append(SourceItem(f, PurePosixPath(f).stem, path, member, reject=reason))
    return SourceListing("stylegan", src, items, ignored)
