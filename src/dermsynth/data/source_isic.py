"""Readers for the csv-described ISIC layouts: SIIM-ISIC 2020, the ISIC Archive (isic-cli), challenges.

* ``isic2020``: ``train.csv`` (``image_name, patient_id, sex, age_approx, anatom_site_general_challenge,
  diagnosis, benign_malignant, target``) + an image folder (Rotemberg et al., Sci. Data 8:34, 2021).
* ``isic-archive``: ``metadata.csv`` as ``isic-cli`` writes it (``isic_id, attribution,
  copyright_license`` then metadata keys, varying by download); melanoma from ``diagnosis_2/3``.
* ``isic-challenge``: ISIC 2016-2019 ground truth: ``image_id, melanoma, ...`` (2017), one-hot
  ``image, MEL, NV, ...`` (2018/2019) or header-less ``ISIC_0000000,benign`` (2016).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dermsynth.data.labels import archive_label, is_missing, parse_label
from dermsynth.data.source_items import (
    IMAGE_EXTS,
    SourceItem,
    SourceListing,
    find_image_root,
    match_rows,
    passthrough,
    read_csv,
    read_header,
    require_columns,
    scan_files,
)
from dermsynth.data.split import normalise_split

_ISIC_ID = re.compile(r"^isic_\d+", re.IGNORECASE)
_ONE_HOT = ["mel", "nv", "bcc", "akiec", "ak", "bkl", "df", "vasc", "scc", "unk"]


def classify_csv(path: Path) -> str | None:
    """The ISIC layout a csv header belongs to, or None."""
    cols = read_header(path)
    if "isic_id" in cols:
        return "isic-archive"
    if "image_name" in cols and ("target" in cols or "benign_malignant" in cols):
        return "isic2020"
    if ("image_id" in cols or "image" in cols) and ("melanoma" in cols or "mel" in cols):
        return "isic-challenge"
    if cols and _ISIC_ID.match(cols[0]) and len(cols) == 2:
        return "isic-challenge"  # ISIC 2016: no header
    return None


def csv_for(src: Path, fmt: str) -> Path:
    """The one csv of layout ``fmt``: ``src`` itself, or the one such csv in directory ``src``."""
    if src.is_file():
        return src
    found = [p for p in sorted(src.glob("*.csv")) if classify_csv(p) == fmt]
    if not found:
        raise ValueError(f"{src}: no {fmt} csv found (looked at {[p.name for p in src.glob('*.csv')]})")
    if len(found) > 1:
        raise ValueError(
            f"{src}: several {fmt} csvs {[p.name for p in found]}; pass the one to ingest as SRC"
        )
    return found[0]


def _strip_ext(name: str) -> str:
    name = name.strip()
    return name[: name.rfind(".")] if Path(name).suffix.lower() in IMAGE_EXTS else name


def _rows(
    path: Path,
    id_col: str | int,
    header: bool,
    row_fn: Callable[[dict[str, Any]], tuple[int | None, str | None, dict]],
) -> list[SourceItem]:
    """One SourceItem per csv row; ``row_fn(row) -> (label, reject reason, meta)``."""
    df = read_csv(path, header=header)
    items = []
    for i, row in enumerate(df.to_dict("records")):
        source = f"{path.name}:{i + (2 if header else 1)}"
        raw = str(row.get(id_col, "")).strip()
        if not raw:
            items.append(SourceItem(source, None, reject=f"empty {id_col} in csv row"))
            continue
        label, reject, meta = row_fn(row)
        items.append(SourceItem(source, _strip_ext(raw), label=label, meta=meta, reject=reject))
    return items


def _listing(
    fmt: str, src: Path, path: Path, rows: list[SourceItem], images: Path | None, defaults=None
) -> SourceListing:
    root, recursive = find_image_root(path, [r.image_id for r in rows if r.image_id], images)
    files, ignored = scan_files(root, recursive, exclude=[path])
    items = match_rows(rows, files, root)
    return SourceListing(fmt, src, items, [str(p) for p in ignored], defaults or {})


def read_isic2020(
    src: Path, images: Path | None = None, label_map: dict[str, int] | None = None
) -> SourceListing:
    path = csv_for(src, "isic2020")
    require_columns(path, read_header(path), ["image_name", ("target", "benign_malignant")])
    lm = {"malignant": 1, **(label_map or {})}  # in SIIM-ISIC 2020 every malignant lesion is melanoma

    def row_fn(row: dict[str, Any]):
        t = parse_label(row.get("target"), lm)
        bm = parse_label(row.get("benign_malignant"), lm)
        reject = None
        if t is not None and bm is not None and t != bm:
            reject = f"conflicting labels target={row.get('target')!r} benign_malignant={row.get('benign_malignant')!r}"
        label = t if t is not None else bm
        if label is None and reject is None:
            reject = f"unknown label value target={row.get('target', '')!r} benign_malignant={row.get('benign_malignant', '')!r}"
        site = row.get("anatom_site_general_challenge", row.get("anatom_site_general", ""))
        meta = {"patient_id": row.get("patient_id", ""), "age_approx": row.get("age_approx", ""),
                "sex": row.get("sex", ""), "anatom_site": site, "diagnosis": row.get("diagnosis", "")}  # fmt: skip
        consumed = {"image_name", "target", "benign_malignant", "patient_id", "age_approx", "sex", "diagnosis",
                    "anatom_site_general_challenge", "anatom_site_general"}  # fmt: skip
        return label, reject, {**meta, **passthrough(row, consumed)}

    rows = _rows(path, "image_name", True, row_fn)
    defaults = {
        "license": "CC BY-NC 4.0",
        "attribution": "ISIC, SIIM-ISIC 2020 Challenge (Rotemberg et al. 2021)",
    }
    return _listing("isic2020", src, path, rows, images, defaults)


def read_isic_archive(
    src: Path, images: Path | None = None, label_map: dict[str, int] | None = None
) -> SourceListing:
    path = src if src.is_file() else src / "metadata.csv"
    if not path.exists():
        path = csv_for(src, "isic-archive")
    cols = read_header(path)
    require_columns(
        path,
        cols,
        ["isic_id", ("diagnosis_1", "diagnosis_2", "diagnosis_3", "diagnosis", "benign_malignant")],
    )

    def row_fn(row: dict[str, Any]):
        label, diagnosis = archive_label(row)
        if label_map and diagnosis.lower() in label_map:
            label = label_map[diagnosis.lower()]
        reject = (
            None if label is not None else f"unknown label: no melanoma decision from diagnosis {diagnosis!r}"
        )
        meta = {"patient_id": row.get("patient_id", ""), "age_approx": row.get("age_approx", ""),
                "sex": row.get("sex", ""), "anatom_site": row.get("anatom_site_general", ""),
                "diagnosis": diagnosis, "license": row.get("copyright_license", ""),
                "attribution": row.get("attribution", "")}  # fmt: skip
        consumed = {
            "isic_id",
            "patient_id",
            "age_approx",
            "sex",
            "anatom_site_general",
            "copyright_license",
            "attribution",
        }
        return label, reject, {**meta, **passthrough(row, consumed)}

    rows = _rows(path, "isic_id", True, row_fn)
    return _listing("isic-archive", src, path, rows, images)


def read_isic_challenge(
    src: Path, images: Path | None = None, label_map: dict[str, int] | None = None
) -> SourceListing:
    path = csv_for(src, "isic-challenge")
    cols = read_header(path)
    lm = {"malignant": 1, **(label_map or {})}  # ISIC 2016 task 3: malignant = melanoma
    if cols and _ISIC_ID.match(cols[0]):  # 2016, no header: id, label

        def row_fn16(row: dict[str, Any]):
            label = parse_label(row.get(1), lm)
            reject = None if label is not None else f"unknown label value {row.get(1)!r}"
            return label, reject, {"diagnosis": row.get(1, "")}

        rows = _rows(path, 0, False, row_fn16)
        return _listing("isic-challenge", src, path, rows, images)
    require_columns(path, cols, [("image_id", "image"), ("melanoma", "mel")])
    id_col = "image_id" if "image_id" in cols else "image"
    lab_col = "melanoma" if "melanoma" in cols else "mel"
    onehot = [c for c in cols if c in _ONE_HOT]

    def row_fn(row: dict[str, Any]):
        label = parse_label(row.get(lab_col), lm)
        reject = None if label is not None else f"unknown label value {lab_col}={row.get(lab_col)!r}"
        diagnosis = "melanoma" if label == 1 else ""
        if onehot:  # 2018/2019: the hot column names the diagnosis
            diagnosis = next((c.upper() for c in onehot if parse_label(row.get(c)) == 1), "")
        elif "seborrheic_keratosis" in row and label == 0:  # 2017: melanoma / seborrheic keratosis / nevus
            diagnosis = "seborrheic_keratosis" if parse_label(row["seborrheic_keratosis"]) == 1 else "nevus"
        meta = {"diagnosis": diagnosis, "age_approx": row.get("age_approx", ""), "sex": row.get("sex", "")}
        if "split" in row:  # the challenge's own split (kept raw in source_split too)
            meta["split"] = normalise_split(row["split"])
        if not is_missing(row.get("patient_id")):
            meta["patient_id"] = row["patient_id"]
        consumed = {id_col, lab_col, "age_approx", "sex", "patient_id", "seborrheic_keratosis", *onehot}
        return label, reject, {**meta, **passthrough(row, consumed)}

    rows = _rows(path, id_col, True, row_fn)
    return _listing("isic-challenge", src, path, rows, images)
