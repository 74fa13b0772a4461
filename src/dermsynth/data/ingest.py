"""``dermsynth data ingest``: any supported source -> ``DIR/images/*.png`` + manifest, dataset.json, rejects.

Steps: list the source (``sources``; a missing required column fails here, before any work), skip what
the journal proves done, decode + square + resize the rest (``decode``, ``resize``) in worker
processes, then write ``manifest.csv`` (docs/architecture.md Data flow: manifest columns + normalised metadata + licence),
``dataset.json`` (official StyleGAN2-ADA form), ``rejects.csv`` (source, image_id, reason) and
``config.json``. Every input ends up ingested or rejected: ``ingested + rejected == inputs``.
Resizing follows the thesis (OpenCV Lanczos, centre crop, 256 x 256; Rosén & Zoubi 2022, Sec. 3.2).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing as mp
import os
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from dermsynth.core.config import save_config
from dermsynth.core.io import atomic_path, atomic_write_text, sha256_json
from dermsynth.core.manifest import CLASS_NAMES, MANIFEST_COLUMNS, write_dataset_json, write_manifest
from dermsynth.data.decode import DEFAULT_MAX_PIXELS, ImageRejected, decode_image
from dermsynth.data.journal import JOURNAL_NAME, JournalWriter, is_done, load_journal, source_signature
from dermsynth.data.labels import is_missing
from dermsynth.data.pngio import write_png_fast
from dermsynth.data.resize import CROPS, FILTERS, resize_square
from dermsynth.data.source_items import SourceItem, rel, safe_id
from dermsynth.data.sources import FORMATS, list_source

#: Normalised metadata columns, right after the schema columns.
META_COLUMNS = ["age_approx", "sex", "anatom_site", "diagnosis", "license", "attribution"]
#: What ingest records about each source image.
FACT_COLUMNS = ["orig_width", "orig_height", "orig_format", "ingest_notes"]
_VERSION = 1  # bump when the pixel pipeline changes: journal records of older runs are then redone


@dataclass(frozen=True)
class IngestConfig:
    """Everything that determines an ingest run (written to ``config.json``)."""

    src: str  # a folder, a csv or a StyleGAN2-ADA zip
    format: str = "auto"  # auto | isic2020 | isic-archive | isic-challenge | folder | stylegan
    size: int = 256  # output side N (N x N PNG); the thesis: 256 (Sec. 3.2)
    crop: str = "center"  # center (centred square) | pad (mirror-padded square) | stretch
    resize_filter: str = "lanczos"  # lanczos (OpenCV, as the thesis) | area | box
    max_pixels: int = DEFAULT_MAX_PIXELS  # larger images are rejected as decompression bombs
    images: str | None = None  # image folder of csv sources (None: found beside the csv)
    label_map: dict[str, int] = field(default_factory=dict)  # extra label names, e.g. {mel: 1, nv: 0}
    workers: int = 1  # worker processes (do not change the output)
    reduced_decode: bool = True  # JPEG DCT-domain downscaling where it is exact enough (faster)

    def pixel_settings(self) -> str:
        """Hash of what changes the output pixels (the journal's settings key)."""
        return sha256_json(
            [_VERSION, self.size, self.crop, self.resize_filter, self.max_pixels, self.reduced_decode]
        )[:16]


@dataclass
class IngestResult:
    out_dir: Path
    format: str
    inputs: int
    ingested: int
    rejected: int
    skipped: int  # already done by an earlier run (validated by the journal)
    ignored: list[str]
    reasons: Counter

    def summary(self) -> str:
        return f"ingested {self.ingested} + rejected {self.rejected} = {self.inputs} inputs"


def check_config(cfg: IngestConfig) -> None:
    if cfg.format != "auto" and cfg.format not in FORMATS:
        raise ValueError(f"unknown format {cfg.format!r}; choose from {['auto', *FORMATS]}")
    if cfg.crop not in CROPS:
        raise ValueError(f"unknown crop {cfg.crop!r}; choose from {list(CROPS)}")
    if cfg.resize_filter not in FILTERS:
        raise ValueError(f"unknown resize filter {cfg.resize_filter!r}; choose from {list(FILTERS)}")
    if not 8 <= cfg.size <= 4096:
        raise ValueError(f"size must be between 8 and 4096, got {cfg.size}")
    if cfg.max_pixels < 1 or cfg.workers < 1:
        raise ValueError("max_pixels and workers must be positive")


@lru_cache(maxsize=4)
def _zip(path: str) -> zipfile.ZipFile:
    return zipfile.ZipFile(path)  # one handle per worker process, reused


def read_source_bytes(item: SourceItem) -> bytes:
    try:
        if item.member is not None:
            return _zip(item.path).read(item.member)
        with open(item.path, "rb") as f:
            return f.read()
    except (OSError, zipfile.BadZipFile, KeyError) as e:
        raise ImageRejected(f"cannot read file: {e}") from None


def _convert(item: SourceItem, cfg: IngestConfig) -> tuple[np.ndarray, str, dict]:
    """Decode, crop and resize one source image: (pixels [N, N, 3], channel order, manifest facts)."""
    dec = decode_image(
        read_source_bytes(item),
        target=cfg.size,
        crop=cfg.crop,
        max_pixels=cfg.max_pixels,
        reduce=cfg.reduced_decode,
    )
    out = resize_square(dec.pixels, cfg.size, cfg.crop, cfg.resize_filter, box=dec.box)
    facts = {
        "orig_width": dec.width,
        "orig_height": dec.height,
        "orig_format": dec.fmt,
        "ingest_notes": "|".join(dec.notes),
    }
    return out, dec.order, facts


def convert_one(item: SourceItem, cfg: IngestConfig) -> tuple[np.ndarray, dict]:
    """Source image -> RGB [size, size, 3] + facts for the manifest; ImageRejected on a bad file."""
    out, order, facts = _convert(item, cfg)
    return (out if order == "rgb" else np.ascontiguousarray(out[..., ::-1])), facts


def _work(task: tuple[int, SourceItem, str], cfg: IngestConfig, out_dir: Path) -> tuple[int, str, dict | str]:
    """Worker: convert and write one image. Returns (k, 'ok', record) or (k, 'reject', reason)."""
    k, item, file = task
    try:
        out, order, facts = _convert(item, cfg)
        # no fsync per image: the journal's SHA-256 check on the next run catches a file a crash broke
        data = write_png_fast(out_dir / file, out, order)
    except ImageRejected as e:
        return k, "reject", str(e)
    except Exception as e:  # noqa: BLE001 - one bad image never kills the run
        return k, "reject", f"unexpected error: {type(e).__name__}: {e}"
    return k, "ok", {"file": file, "sha256": hashlib.sha256(data).hexdigest(), "facts": facts}


def _context() -> mp.context.BaseContext:
    """Forkserver (fork after threads can deadlock), preloaded with this module: workers start fast."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["dermsynth.data.ingest"])
    return ctx


def _init_worker() -> None:
    cv2.setNumThreads(1)


def _assign_files(items: list[SourceItem]) -> list[str | None]:
    """Output file per item (``images/<safe id>.png``); clashes after sanitising are rejected."""
    files: list[str | None] = []
    taken: dict[str, str] = {}
    for item in items:
        if item.reject is not None or item.image_id is None:
            files.append(None)
            continue
        file = f"images/{safe_id(item.image_id)}.png"
        if file in taken:
            item.reject = f"duplicate id {item.image_id!r} (same output file as {taken[file]})"
            files.append(None)
        else:
            taken[file] = item.source
            files.append(file)
    return files


def _manifest_row(
    item: SourceItem, file: str, fmt: str, facts: dict, defaults: dict, src: Path
) -> dict[str, Any]:
    meta = dict(item.meta)
    source = meta.pop("source_name", "") or fmt
    row: dict[str, Any] = {
        "image_id": Path(file).stem,
        "file": file,
        "label": item.label,
        "class_name": CLASS_NAMES[item.label],
        "source": source,
        "split": meta.pop("split", ""),  # a source's own split (ISIC challenges), else set by `data split`
        "patient_id": meta.pop("patient_id", ""),
        "parent_id": "",
        "seed": "",
    }
    for col in META_COLUMNS:
        v = meta.pop(col, "")
        row[col] = defaults.get(col, "") if is_missing(v) else v
    src_path = f"{item.path}!{item.member}" if item.member else rel(Path(item.path), src)
    row["source_path"] = src_path
    row.update({k: facts.get(k, "") for k in FACT_COLUMNS})
    row.update({k: v for k, v in meta.items() if k not in row})
    return row


def _run_tasks(tasks, cfg, out_dir, journal, sigs, settings, on_done) -> dict[int, tuple[str, Any]]:
    results: dict[int, tuple[str, Any]] = {}
    work = partial(_work, cfg=cfg, out_dir=out_dir)
    if cfg.workers <= 1 or len(tasks) < 2:
        it = map(work, tasks)
        pool = None
    else:
        pool = _context().Pool(cfg.workers, initializer=_init_worker)
        it = pool.imap(work, tasks, chunksize=max(1, min(16, len(tasks) // (cfg.workers * 8))))
    try:
        for k, status, payload in it:
            if status == "ok":
                journal.add(
                    {
                        "file": payload["file"],
                        "sha256": payload["sha256"],
                        "sig": sigs[k],
                        "settings": settings,
                        "facts": payload["facts"],
                    }
                )
            results[k] = (status, payload)
            on_done()
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    return results


def ingest(
    src: str | os.PathLike,
    out_dir: str | os.PathLike,
    fmt: str = "auto",
    size: int = 256,
    crop: str = "center",
    resize_filter: str = "lanczos",
    workers: int = 1,
    images: str | os.PathLike | None = None,
    label_map: dict[str, int] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: Callable[[int, int], None] | None = None,
    reduced_decode: bool = True,
) -> IngestResult:
    """Ingest ``src`` into ``out_dir``; re-running is idempotent and resumes an interrupted run."""
    cfg = IngestConfig(str(src), fmt, size, crop, resize_filter, max_pixels, None if images is None else str(images),
                       dict(label_map or {}), workers, reduced_decode)  # fmt: skip
    return run_ingest(cfg, out_dir, progress)


def run_ingest(
    cfg: IngestConfig, out_dir: str | os.PathLike, progress: Callable[[int, int], None] | None = None
) -> IngestResult:
    """:func:`ingest` from a config: the stage's one entry point (CLI and pipeline)."""
    check_config(cfg)
    src = Path(cfg.src)
    listing = list_source(src, cfg.format, Path(cfg.images) if cfg.images else None, cfg.label_map)
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    items = listing.items
    files = _assign_files(items)
    settings = cfg.pixel_settings()
    old = load_journal(out)
    sigs: dict[int, str] = {}
    results: dict[int, tuple[str, Any]] = {}
    tasks = []
    for k, (item, file) in enumerate(zip(items, files, strict=True)):
        if file is None:
            results[k] = ("reject", item.reject or "no image id")
            continue
        try:
            sigs[k] = source_signature(item.path, item.member)
        except OSError as e:
            results[k] = ("reject", f"cannot read file: {e}")
            continue
        if is_done(old.get(file), out, sigs[k], settings):
            results[k] = ("skip", old[file])
        else:
            tasks.append((k, item, file))
    n_total, n_skip = len(items), sum(1 for s, _ in results.values() if s == "skip")
    done = [len(results)]

    def tick() -> None:
        done[0] += 1
        if progress:
            progress(done[0], n_total)

    if progress:
        progress(done[0], n_total)
    journal = JournalWriter(out)
    try:
        results.update(_run_tasks(tasks, cfg, out, journal, sigs, settings, tick))
    finally:
        journal.close()
    return _write_outputs(out, listing, files, results, sigs, cfg, n_skip)


def _write_outputs(out, listing, files, results, sigs, cfg, n_skip) -> IngestResult:
    rows, rejects, records = [], [], {}
    for k, item in enumerate(listing.items):
        status, payload = results[k]
        if status == "reject":
            rejects.append({"source": item.source, "image_id": item.image_id or "", "reason": payload})
            continue
        records[files[k]] = {
            "file": files[k],
            "sha256": payload["sha256"],
            "sig": sigs[k],
            "settings": cfg.pixel_settings(),
            "facts": payload["facts"],
        }
        rows.append(
            _manifest_row(item, files[k], listing.fmt, payload["facts"], listing.defaults, listing.src)
        )
    if not rows:
        cols = [*MANIFEST_COLUMNS, *META_COLUMNS]
        df = pd.DataFrame(columns=cols)
    else:
        df = pd.DataFrame(rows)
    write_manifest(df, out)
    write_dataset_json(df, out)
    with atomic_path(out / "rejects.csv") as tmp:
        pd.DataFrame(rejects, columns=["source", "image_id", "reason"]).to_csv(tmp, index=False)
    atomic_write_text(out / JOURNAL_NAME, "".join(f"{_dumps(r)}\n" for r in records.values()))
    n_in, n_ok, n_rej = len(listing.items), len(rows), len(rejects)
    if n_ok + n_rej != n_in:  # every input is accounted for; anything else is a bug, never silent
        raise RuntimeError(f"ingest accounting broken: {n_ok} + {n_rej} != {n_in}")
    reasons = Counter(_reason_kind(r["reason"]) for r in rejects)
    summary = {"inputs": n_in, "ingested": n_ok, "rejected": n_rej,
               "ignored_files": len(listing.ignored), "reject_reasons": dict(reasons), "class_names": CLASS_NAMES}  # fmt: skip
    save_config({"kind": "ingest", **dataclasses.asdict(cfg), "resolved_format": listing.fmt, **summary}, out)
    return IngestResult(out, listing.fmt, n_in, n_ok, n_rej, n_skip, listing.ignored, reasons)


def _dumps(rec: dict) -> str:
    return json.dumps(rec, sort_keys=True)


def _reason_kind(reason: str) -> str:
    """Group reasons for the summary: the text before any quoted detail or colon."""
    return reason.split(":")[0].split("'")[0].split("(")[0].strip()
