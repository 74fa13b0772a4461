"""Source formats: a registry of readers and auto-detection with a clear error when it is ambiguous."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

from dermsynth.data.labels import parse_label
from dermsynth.data.source_folders import class_dirs, read_folder, read_stylegan
from dermsynth.data.source_isic import classify_csv, read_isic2020, read_isic_archive, read_isic_challenge
from dermsynth.data.source_items import SourceListing, scan_files

Reader = Callable[[Path, Path | None, dict[str, int] | None], SourceListing]

#: Format name -> reader(src, images_dir, label_map).
FORMATS: dict[str, Reader] = {
    "isic2020": read_isic2020,
    "isic-archive": read_isic_archive,
    "isic-challenge": read_isic_challenge,
    "folder": read_folder,
    "stylegan": read_stylegan,
}


def detect_candidates(src: Path, label_map: dict[str, int] | None = None) -> list[tuple[str, str]]:
    """Every (format, evidence) that ``src`` matches."""
    hits: list[tuple[str, str]] = []
    if src.is_file():
        if zipfile.is_zipfile(src):
            with zipfile.ZipFile(src) as zf:
                if "dataset.json" in zf.namelist():
                    hits.append(("stylegan", f"{src.name} holds dataset.json"))
        elif src.suffix.lower() == ".csv":
            fmt = classify_csv(src)
            if fmt:
                hits.append((fmt, f"{src.name} header"))
        return hits
    if (src / "dataset.json").exists():
        hits.append(("stylegan", "dataset.json"))
    for csv_path in sorted(src.glob("*.csv")):
        fmt = classify_csv(csv_path)
        if fmt:
            hits.append((fmt, f"{csv_path.name} header"))
    if not hits:
        dirs = class_dirs(src)
        known = [d.name for d in dirs if parse_label(d.name, label_map) is not None]
        if known:  # one class folder is a dataset too (e.g. only benign/)
            hits.append(("folder", f"class folder(s) {known[:6]}"))
    return hits


def describe_folder(src: Path, label_map: dict[str, int] | None = None) -> str:
    """What a folder holds, for error messages: csv files, image sub-folders (known labels or not)."""
    csvs = sorted(p.name for p in src.glob("*.csv"))
    dirs = class_dirs(src)
    unknown = [d.name for d in dirs if parse_label(d.name, label_map) is None]
    parts = [f"csv files {csvs[:6]} with no ISIC header" if csvs else "no csv file"]
    if dirs:
        parts.append(
            f"image sub-folders {[d.name for d in dirs][:6]}, none named as a class "
            f"(unknown: {unknown[:6]}; map them with --label-map NAME=0|1)"
        )
    else:
        others = sorted(p.name for p in src.iterdir() if p.is_dir() and not p.name.startswith("."))
        parts.append(f"no sub-folder with images (sub-folders: {others[:6]})" if others else "no sub-folders")
    n_top = len(scan_files(src, recursive=False)[0])
    if n_top:
        parts.append(f"{n_top} loose image(s) at the top level (put them in a class folder)")
    return "; ".join(parts)


def detect_format(src: Path, label_map: dict[str, int] | None = None) -> str:
    """The one format ``src`` matches; ValueError naming the evidence when none or several match."""
    if not src.exists():
        raise FileNotFoundError(f"{src}: source not found")
    hits = detect_candidates(src, label_map)
    fmts = sorted({f for f, _ in hits})
    if len(fmts) == 1:
        return fmts[0]
    if not fmts:
        found = describe_folder(src, label_map) if src.is_dir() else f"a {src.suffix or 'plain'} file"
        raise ValueError(
            f"{src}: cannot tell the source format: found {found}. Expected dataset.json, an ISIC csv, "
            f"or class folders named melanoma/benign/nevus/0/1...; or pass --format one of {list(FORMATS)}"
        )
    evidence = "; ".join(f"{f} ({why})" for f, why in hits)
    raise ValueError(f"{src}: ambiguous source format: looks like {evidence}; pass --format")


def list_source(
    src: Path, fmt: str = "auto", images: Path | None = None, label_map: dict[str, int] | None = None
) -> SourceListing:
    """Read ``src`` as ``fmt`` (``auto`` detects) into a :class:`SourceListing` (no pixels decoded)."""
    src = Path(src)
    if fmt == "auto":
        fmt = detect_format(src, label_map)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {['auto', *FORMATS]}")
    if not src.exists():
        raise FileNotFoundError(f"{src}: source not found")
    return FORMATS[fmt](src, images, label_map)
