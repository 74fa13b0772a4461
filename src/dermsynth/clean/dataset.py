"""``dermsynth clean``: a new dataset directory with flagged artifacts removed.

Only images whose audit flags the artifact are changed (``dark_corner`` for the frame methods,
``hair`` for hair removal, ``ink`` for ink removal); the others are copied unchanged. Flags come from the source manifest's
audit columns (``dermsynth bias audit``); when it has none, the classical detectors decide. Output:
``images/`` (cleaned images as PNG, unchanged ones as they were), ``masks/<image_id>.png`` (changed
pixels, input geometry), ``manifest.csv`` (``parent_id`` = source image, ``method`` = what was done,
empty when unchanged; ``skipped`` = why a flagged image was left as it is, e.g. ``too dense`` when
cleaning would change more than ``max_changed`` of it (issue 19); ``planned_fraction`` = the share the
plan would change; the parent's audit columns dropped), ``dataset.json``, ``clean_config.json``,
and before/after figures in ``figures/`` (thesis Figs. 4.2, 4.3). Every file is written atomically;
a rerun with the same options skips images already done.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dermsynth.bias.columns import artifact_flags, audit_columns
from dermsynth.bias.registry import THRESHOLDS, scores
from dermsynth.clean.figures import before_after
from dermsynth.clean.methods import MAX_CHANGED, Plan, clean_safely, plan_for
from dermsynth.core.io import atomic_path, atomic_write_json, read_rgb, write_png
from dermsynth.core.manifest import read_manifest, write_dataset_json, write_manifest

FIGURE_ROWS = 6


def audit_flags(
    directory: Path, df: pd.DataFrame, on_image: Callable[[], None] | None = None
) -> pd.DataFrame:
    """``dark_corner`` / ``hair`` / ``ink`` flags per row: the manifest's audit columns, or, for the
    artifacts it has none for, the classical detectors'."""
    cols = ["dark_corner", "hair", "ink"]
    flags = artifact_flags(df, cols).fillna(0).astype(int)
    have = list(flags.columns)
    missing = [c for c in cols if c not in have]
    if not missing:
        return flags
    rows = []
    for f in df["file"]:
        try:
            s = scores(read_rgb(directory / f), missing)
            rows.append({c: int(s[c] >= THRESHOLDS[c]) for c in missing})
        except ValueError:
            rows.append(dict.fromkeys(missing, 0))
        if on_image:
            on_image()
    return pd.concat([flags, pd.DataFrame(rows, index=df.index)], axis=1)[cols]


def _check_config(out: Path, config: dict) -> None:
    p = out / "clean_config.json"
    if p.is_file():
        import json

        old = json.loads(p.read_text())
        if old != config:
            raise FileExistsError(f"{out}: cleaned earlier with {old}; use another --out (asked: {config})")
    atomic_write_json(p, config)


def _copy(src: Path, dst: Path) -> None:
    if dst.exists():
        return
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


@dataclass(frozen=True)
class Done:
    """One image's result: file relative to the output, changed and planned fractions, why it was
    skipped (or ``None``), and a figure row ``(image_id, before, changed, after, caption)`` if new."""

    file: str
    changed_fraction: float
    planned_fraction: float
    skipped: str | None = None
    figure: tuple | None = None


def clean_one(
    src: Path, out: Path, image_id: str, plan: Plan, seed: int, max_changed: float = MAX_CHANGED
) -> Done:
    """Clean or copy one image (copy when there is nothing to do or cleaning would do harm)."""
    if plan.name is None:
        rel = f"images/{src.name}"
        _copy(src, out / rel)
        return Done(rel, 0.0, 0.0)
    rel, mask_path = f"images/{image_id}.png", out / "masks" / f"{image_id}.png"
    if (out / rel).exists() and mask_path.exists():
        changed = read_rgb(mask_path)[..., 0] > 127
        return Done(rel, float(changed.mean()), float(changed.mean()))
    rgb = read_rgb(src)
    res = clean_safely(rgb, plan, seed=(seed, image_id), max_changed=max_changed)
    if res.skipped:
        rel = f"images/{src.name}"
        _copy(src, out / rel)
        caption = f"skipped: {res.skipped} (would change {res.planned_fraction:.1%})"
        return Done(rel, 0.0, res.planned_fraction, res.skipped, (image_id, rgb, res.changed, rgb, caption))
    write_png(out / rel, res.image)
    write_png(mask_path, (res.changed * 255).astype(np.uint8))
    frac = float(res.changed.mean())
    fig = (image_id, rgb, res.changed, res.image, f"changed {frac:.1%}")
    return Done(rel, frac, res.planned_fraction, None, fig)


@dataclass(frozen=True)
class CleanConfig:
    """``dermsynth clean`` (and the pipeline's ``clean:`` section)."""

    method: str = "crop"  # crop | skin-inpaint | fsr | fsr-best | telea | ns | hair | ink
    also_hair: bool = False  # also remove hair (with a frame method)
    also_ink: bool = False  # also remove ink marks (with a frame or hair method)
    max_changed: float = MAX_CHANGED  # do no harm: an image whose cleaning would change more is left as it is
    seed: int = 0  # seed of skin-inpaint's draws


def clean_dataset(
    src_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    cfg: CleanConfig,
    on_image: Callable[[], None] | None = None,
) -> dict:
    """Clean a dataset (see module docstring) as ``cfg`` says; returns a summary (counts per method, errors)."""
    if not isinstance(cfg, CleanConfig):
        raise TypeError(f"clean_dataset takes a CleanConfig, got {type(cfg).__name__}")
    method, also_hair, also_ink, seed, max_changed = (
        cfg.method,
        cfg.also_hair,
        cfg.also_ink,
        cfg.seed,
        cfg.max_changed,
    )
    src_dir, out = Path(src_dir), Path(out_dir)
    if src_dir.resolve() == out.resolve():
        raise ValueError(f"{out}: the output directory must differ from the source")
    df = read_manifest(src_dir)
    if not 0.0 < max_changed <= 1.0:
        raise ValueError(f"max_changed must be in (0, 1], got {max_changed}")
    config = {
        "source": str(src_dir.resolve()),
        "method": method,
        "also_hair": also_hair,
        "also_ink": also_ink,
        "seed": seed,
        "max_changed": max_changed,
    }
    plan_for(method, also_hair, True, True)  # validates the method name
    out.mkdir(parents=True, exist_ok=True)
    _check_config(out, config)
    flags = audit_flags(src_dir, df)
    done: list[Done | None] = []
    methods, errors = [], []
    figs: dict[str, list] = {"frame": [], "hair": [], "ink": []}
    for (_, row), (_, fl) in zip(df.iterrows(), flags.iterrows(), strict=True):
        plan = plan_for(
            method, also_hair, bool(fl["dark_corner"]), bool(fl["hair"]), also_ink, bool(fl["ink"])
        )
        try:
            d = clean_one(src_dir / row["file"], out, str(row["image_id"]), plan, seed, max_changed)
        except (ValueError, OSError) as e:
            errors.append(str(e))
            d, plan = None, Plan(None, False)
        done.append(d)
        methods.append(plan.name if d is not None and d.skipped is None else None)
        if d is not None and d.figure is not None:
            key = "frame" if plan.frame_method else "hair" if plan.hair else "ink"
            if len(figs[key]) < FIGURE_ROWS:
                figs[key].append(d.figure)
        if on_image:
            on_image()
    return _finish(df, out, done, methods, errors, figs, config)


def _finish(df, out: Path, done: list[Done | None], methods, errors, figs, config) -> dict:
    """Write manifest, dataset.json, figures and the summary."""
    new = df.copy()
    new = new.drop(columns=audit_columns(new))
    new["parent_id"] = df["image_id"]
    new["file"] = [d.file if d else None for d in done]
    new["method"] = methods
    new["changed_fraction"] = np.round([d.changed_fraction if d else np.nan for d in done], 5)
    new["planned_fraction"] = np.round([d.planned_fraction if d else np.nan for d in done], 5)
    new["skipped"] = [d.skipped if d else None for d in done]
    new = new[new["file"].notna()]
    write_manifest(new, out)
    write_dataset_json(new, out)
    titles = {
        "frame": "Frame removal (thesis Fig. 4.2)",
        "hair": "Hair removal (thesis Fig. 4.3)",
        "ink": "Ink removal",
    }
    figures = [
        str(before_after(rows, out / "figures" / f"before_after_{k}.png", f"{titles[k]}: {config['method']}"))
        for k, rows in figs.items()
        if rows
    ]
    summary = {
        **config,
        "n_images": int(len(df)),
        "n_changed": int(pd.Series(methods).notna().sum()),
        "by_method": {str(k): int(v) for k, v in pd.Series(methods).value_counts().items()},
        "n_skipped": int(new["skipped"].notna().sum()),
        "skipped_by_reason": {str(k): int(v) for k, v in new["skipped"].value_counts().items()},
        "max_changed_fraction": float(new["changed_fraction"].max()) if len(new) else 0.0,
        "n_errors": len(errors),
        "errors": errors[:50],
        "figures": figures,
    }
    atomic_write_json(out / "clean_summary.json", summary)
    return summary
