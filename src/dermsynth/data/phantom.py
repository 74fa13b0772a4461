"""The phantom dataset: procedural dermoscopy images with exact ground truth (the embedded default data).

Each image is skin (``phantom_skin``) + a melanoma-like or benign lesion (``phantom_lesion``) + the
artifacts of SIIM-ISIC (``phantom_artifacts``) at configurable per-class rates. The default rates mimic
the biases the thesis worried about (Rosén & Zoubi 2022, Sec. 3.1): dermoscope frames in ~38% of
melanoma and ~2% of benign images (the frame shortcut), hair in ~40% of both, rulers ~20%.

Image ``i`` of seed ``k`` is a function of ``(k, i)`` only (docs/architecture.md R6): the same whatever ``n``,
size of the run or number of workers. The lesion, the label and each artifact draw from their own named
random stream, so changing an artifact rate toggles that artifact and changes nothing else.
The output has the layout of ``dermsynth data ingest``: ``images/``, ``manifest.csv``, ``dataset.json``,
``config.json``; with ``twins`` also ``twins/`` (same lesion, no artifacts) and ``masks/<name>/``.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dermsynth.core.config import save_config
from dermsynth.core.manifest import ARTIFACTS, CLASS_NAMES, write_dataset_json, write_manifest
from dermsynth.core.seeding import rng
from dermsynth.data.phantom_artifacts import (  # noqa: F401 - painters re-exported for other stages
    PAINTERS,
    add_frame,
    add_gel_bubbles,
    add_hair,
    add_ink,
    add_ruler,
)
from dermsynth.data.phantom_lesion import render_lesion
from dermsynth.data.phantom_skin import render_skin
from dermsynth.data.pngio import write_png_fast

#: Artifact columns the phantom writes (manifest order; painting order is ``PAINTERS``).
PHANTOM_ARTIFACTS = [a for a in ARTIFACTS if a in PAINTERS]

#: Default per-class artifact rates (not_melanoma, melanoma), mimicking SIIM-ISIC 2020.
DEFAULT_RATES: dict[str, tuple[float, float]] = {
    "dark_corner": (0.02, 0.38),
    "hair": (0.40, 0.40),
    "ruler": (0.20, 0.20),
    "ink": (0.10, 0.10),
    "gel_bubble": (0.10, 0.10),
}

RateSpec = float | tuple[float, float] | Mapping[str, float]


def normalise_rates(rates: Mapping[str, RateSpec] | None) -> dict[str, tuple[float, float]]:
    """Defaults updated by ``rates``: name -> p (both classes), (p_benign, p_melanoma) or {class: p}."""
    out = dict(DEFAULT_RATES)
    for name, spec in (rates or {}).items():
        if name not in DEFAULT_RATES:
            raise ValueError(f"unknown artifact {name!r}; known: {sorted(DEFAULT_RATES)}")
        if isinstance(spec, Mapping):
            unknown = set(spec) - set(CLASS_NAMES)
            if unknown:
                raise ValueError(f"rate for {name!r}: unknown class(es) {sorted(unknown)}")
            pair = (spec.get(CLASS_NAMES[0], out[name][0]), spec.get(CLASS_NAMES[1], out[name][1]))
        elif isinstance(spec, int | float):
            pair = (spec, spec)
        else:
            pair = tuple(spec)
            if len(pair) != 2:
                raise ValueError(f"rate for {name!r}: expected p or (p_benign, p_melanoma), got {spec!r}")
        pair = (float(pair[0]), float(pair[1]))
        if not all(0.0 <= p <= 1.0 for p in pair):
            raise ValueError(f"rate for {name!r} must lie in [0, 1], got {pair}")
        out[name] = pair
    return out


def parse_rates(text: str) -> dict[str, tuple[float, float]]:
    """CLI form ``"dark_corner=0.02:0.38,hair=0.4"`` (``p`` or ``p_benign:p_melanoma``) -> rates."""
    rates: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"bad rate {part!r}: expected NAME=P or NAME=P_BENIGN:P_MELANOMA")
        try:
            vals = [float(v) for v in value.split(":")]
        except ValueError:
            raise ValueError(f"bad rate {part!r}: not a number") from None
        rates[name.strip()] = vals[0] if len(vals) == 1 else tuple(vals)
    return normalise_rates(rates)


@dataclass(frozen=True)
class PhantomConfig:
    """Everything that determines a phantom dataset (written to ``config.json``)."""

    n: int = 1000  # number of images
    size: int = 256  # image side in pixels
    seed: int = 0  # dataset seed (image i depends only on seed and i)
    twins: bool = False  # also write artifact-free twins and artifact masks
    melanoma_fraction: float = 0.5  # share of melanoma-like lesions
    #: artifact -> (rate among benign, rate among melanoma); defaults mimic SIIM-ISIC (DEFAULT_RATES)
    rates: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_RATES))


@dataclass
class PhantomSample:
    """One rendered phantom image and its ground truth."""

    index: int
    label: int
    image: np.ndarray  # [S, S, 3] uint8, with artifacts
    clean: np.ndarray  # [S, S, 3] uint8, the same lesion without artifacts (the twin)
    lesion_mask: np.ndarray  # [S, S] bool
    artifacts: dict[str, bool]
    artifact_masks: dict[str, np.ndarray]  # name -> [S, S] bool, only for artifacts present
    lesion: dict[str, float] = dataclasses.field(default_factory=dict)


def render_phantom(
    index: int,
    seed: int,
    size: int,
    label: int | None = None,
    rates: Mapping[str, RateSpec] | None = None,
    melanoma_fraction: float = 0.5,
) -> PhantomSample:
    """Render image ``index`` of seed ``seed`` at ``size`` px (label drawn unless given)."""
    if size < 8:
        raise ValueError(f"phantom size must be at least 8 px, got {size}")
    rates_n = normalise_rates(rates)
    if label is None:
        label = int(rng(seed, "phantom", index, "label").random() < melanoma_fraction)
    r = rng(seed, "phantom", index, "lesion")
    skin, tex = render_skin(r, size)
    img_f, lesion_mask, stats = render_lesion(r, label, skin, tex)
    clean = np.clip(np.rint(img_f), 0, 255).astype(np.uint8)
    image = clean
    present: dict[str, bool] = {}
    masks: dict[str, np.ndarray] = {}
    for name, painter in PAINTERS.items():
        ra = rng(seed, "phantom", index, name)
        present[name] = bool(ra.random() < rates_n[name][label])
        if present[name]:
            image, masks[name] = painter(image, ra)
    lesion = {f"lesion_{k}": v for k, v in dataclasses.asdict(stats).items()}
    return PhantomSample(index, label, image, clean, lesion_mask, present, masks, lesion)


def image_id(index: int) -> str:
    return f"phantom_{index:06d}"


def _write_one(index: int, cfg: PhantomConfig, out_dir: Path) -> dict[str, Any]:
    """Render and write image ``index`` (+ twin and masks); return its manifest row."""
    s = render_phantom(index, cfg.seed, cfg.size, rates=cfg.rates, melanoma_fraction=cfg.melanoma_fraction)
    iid = image_id(index)
    row: dict[str, Any] = {
        "image_id": iid,
        "file": f"images/{iid}.png",
        "label": s.label,
        "class_name": CLASS_NAMES[s.label],
        "source": "phantom",
        "split": "",
        "patient_id": "",
        "parent_id": "",
        "seed": cfg.seed,
    }
    write_png_fast(out_dir / row["file"], s.image)
    row.update({name: int(s.artifacts[name]) for name in PHANTOM_ARTIFACTS})
    row.update({k: v if isinstance(v, int) else round(float(v), 5) for k, v in s.lesion.items()})
    if cfg.twins:
        row["twin_file"] = f"twins/{iid}.png"
        row["lesion_mask_file"] = f"masks/lesion/{iid}.png"
        write_png_fast(out_dir / row["twin_file"], s.clean)
        write_png_fast(out_dir / row["lesion_mask_file"], s.lesion_mask.astype(np.uint8) * 255)
        for name, m in s.artifact_masks.items():
            write_png_fast(out_dir / "masks" / name / f"{iid}.png", m.astype(np.uint8) * 255)
    return row


def _context() -> mp.context.BaseContext:
    """Forkserver (fork after threads can deadlock), preloaded with this module: workers start fast."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["dermsynth.data.phantom"])
    return ctx


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)


def make_phantom_dataset(
    out_dir: str | os.PathLike,
    n: int,
    size: int = 256,
    seed: int = 0,
    twins: bool = False,
    rates: Mapping[str, RateSpec] | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    melanoma_fraction: float = 0.5,
) -> Path:
    """Write ``n`` phantom images with manifest, dataset.json and config.json to ``out_dir``.

    ``progress(done, total)`` is called after each image. Returns ``out_dir``.
    """
    cfg = PhantomConfig(n, size, seed, twins, melanoma_fraction, normalise_rates(rates))
    return make_phantom(cfg, out_dir, workers, progress)


def make_phantom(
    cfg: PhantomConfig,
    out_dir: str | os.PathLike,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """:func:`make_phantom_dataset` from a config (``workers`` processes; they do not change the images)."""
    n = cfg.n
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not 0.0 <= cfg.melanoma_fraction <= 1.0:
        raise ValueError(f"melanoma_fraction must lie in [0, 1], got {cfg.melanoma_fraction}")
    cfg = dataclasses.replace(cfg, rates=normalise_rates(cfg.rates))
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    work = partial(_write_one, cfg=cfg, out_dir=out)
    rows: list[dict[str, Any]] = []
    if workers <= 1:
        for i in range(n):
            rows.append(work(i))
            if progress:
                progress(i + 1, n)
    else:
        with _context().Pool(workers, initializer=_init_worker) as pool:
            for row in pool.imap(work, range(n), chunksize=max(1, min(32, n // (workers * 8)))):
                rows.append(row)
                if progress:
                    progress(len(rows), n)
    df = pd.DataFrame(rows)
    write_manifest(df, out)
    write_dataset_json(df, out)
    save_config({"kind": "phantom", **dataclasses.asdict(cfg)}, out)
    return out
