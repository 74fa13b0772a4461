"""``dermsynth bias audit``: artifact columns for every image of a dataset, a summary and figures.

Methods: ``heuristic`` (the classical detectors with their default thresholds), ``model:PATH`` (the
learned classifier of ``bias train`` for the artifacts it knows, heuristics for the rest) and ``best``
(with a model: per artifact the source ``bias.select`` chose, so that it transfers to unseen images; a
detector the model's ``model.json`` lists as ``excluded`` (below ``bias.select.MIN_F1``) is left out, and
the summary says why; without a model: heuristic). Writes ``<artifact>`` (0/1) and
``<artifact>_score`` into ``DIR/manifest.csv`` atomically (an annotation column of the same name is
kept as ``<artifact>_annotated``), ``DIR/audit_summary.json`` (the layout of both: ``bias/columns.py``),
``DIR/audit/prevalence.png`` (thesis Fig. 3.5) and ``DIR/audit/examples_<artifact>.png`` (Fig. 3.4). Scores are checkpointed in
``DIR/audit/scores.partial.csv`` so an interrupted audit resumes where it stopped.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dermsynth.bias.columns import clear_audit_columns, score_column, set_audit_columns, write_audit_summary
from dermsynth.bias.figures import example_grid, prevalence_figure
from dermsynth.bias.model import load_model, predict_proba
from dermsynth.bias.registry import DETECTORS, THRESHOLDS, scores
from dermsynth.core.io import atomic_path, read_rgb
from dermsynth.core.manifest import read_manifest, write_manifest

CHUNK = 64
EXAMPLES = 12


@dataclass(frozen=True)
class Method:
    """How the audit decides: kind 'heuristic' | 'model' | 'best', and the model directory if any."""

    kind: str
    model: Path | None = None

    @property
    def spec(self) -> str:
        return self.kind + (f":{self.model}" if self.model else "")


@dataclass(frozen=True)
class AuditConfig:
    """``dermsynth bias audit``: which detectors decide, on which device."""

    method: str = "heuristic"  # heuristic | model:PATH | best[:PATH] (better of both per artifact)
    model: str | None = None  # model directory of `bias train` (for method best)
    figures: bool = True  # write the prevalence figure and example grids
    device: str = "auto"  # device of the learned model: auto | cpu | cuda | cuda:N | mps


def parse_method(spec: str = "best", model: str | os.PathLike | None = None) -> Method:
    """``heuristic`` | ``model:PATH`` | ``best`` | ``best:PATH`` (``model`` gives PATH separately).

    PATH may be a shipped model's name. ``best`` without a model uses the shipped default artifact
    model (``isic2017-artifacts``) when the installation has one, else the heuristics.
    """
    kind, _, path = str(spec).partition(":")
    kind = kind.strip().lower()
    if kind not in ("heuristic", "model", "best"):
        raise ValueError(f"unknown audit method {spec!r}: use heuristic, model:PATH or best[:PATH]")
    path = path or (str(model) if model else "")
    if kind == "model" and not path:
        raise ValueError("method 'model' needs a path: --method model:PATH")
    if kind == "heuristic":
        path = ""
    if kind == "best" and not path:
        from dermsynth.models import default_model

        path = default_model("bias-audit") or ""
    return Method(kind, Path(path) if path else None)


@dataclass(frozen=True)
class Decision:
    """Where one artifact's score comes from and the threshold that makes it present."""

    source: str  # 'heuristic' or 'model'
    threshold: float


def excluded(method: Method, meta: dict | None) -> dict[str, str]:
    """Artifacts ``best`` leaves out (the model's ``excluded``), with the reason; explicit ``model:`` and
    ``heuristic`` audits run every detector."""
    if method.kind != "best" or not meta:
        return {}
    return {a: str(why) for a, why in (meta.get("excluded") or {}).items() if a in DETECTORS}


def decisions(method: Method, meta: dict | None) -> dict[str, Decision]:
    """Per-artifact source and threshold for this method (see module docstring)."""
    out = {}
    known = meta["artifacts"] if meta else []
    skip = excluded(method, meta)
    for a in DETECTORS:
        if a in skip:
            continue
        if a in known and (method.kind == "model" or meta["choice"][a] == "model"):
            out[a] = Decision("model", float(meta["thresholds"][a]))
        elif a in known:
            out[a] = Decision("heuristic", float(meta["heuristic"][a]["threshold"]))
        else:
            out[a] = Decision("heuristic", float(THRESHOLDS[a]))
    return out


def _score_chunk(paths: list[Path], model, meta) -> tuple[list[dict], list[str]]:
    """Scores of one chunk of images: rows ``{<a>_heuristic, <a>_model}``; errors for bad files."""
    rows, imgs, errors = [], [], []
    for p in paths:
        try:
            img = read_rgb(p)
        except (ValueError, FileNotFoundError, OSError) as e:
            errors.append(str(e) if str(p) in str(e) else f"{p}: {e}")
            rows.append(None)
            continue
        rows.append({f"{a}_heuristic": s for a, s in scores(img).items()})
        imgs.append(img)
    if model is not None and imgs:
        prob = predict_proba(model, imgs, meta["image_size"], tta=meta.get("tta", False))
        good = [r for r in rows if r is not None]
        for r, pr in zip(good, prob, strict=True):
            r.update({f"{a}_model": float(v) for a, v in zip(meta["artifacts"], pr, strict=True)})
    return rows, errors


def _load_partial(audit_dir: Path, spec: str) -> pd.DataFrame:
    p = audit_dir / "scores.partial.csv"
    if not p.is_file():
        return pd.DataFrame()
    df = pd.read_csv(p, dtype={"image_id": str})
    if "method" not in df.columns or (df["method"] != spec).any():
        return pd.DataFrame()
    return df.set_index("image_id")


def score_dataset(
    directory: Path,
    df: pd.DataFrame,
    method: Method,
    on_image: Callable[[], None] | None = None,
    device: str = "cpu",
) -> tuple[pd.DataFrame, list[str], dict | None]:
    """Raw heuristic / model scores for every manifest row (resumable); (table, errors, model meta)."""
    model, meta = load_model(method.model, device) if method.model else (None, None)
    audit_dir = directory / "audit"
    done = _load_partial(audit_dir, method.spec)
    rows = [done] if len(done) else []
    todo = [(i, f) for i, f in zip(df["image_id"], df["file"], strict=True) if i not in done.index]
    errors: list[str] = []
    for s in range(0, len(todo), CHUNK):
        chunk = todo[s : s + CHUNK]
        res, errs = _score_chunk([directory / f for _, f in chunk], model, meta)
        errors += errs
        ok = [(i, r) for (i, _), r in zip(chunk, res, strict=True) if r is not None]
        if ok:
            part = pd.DataFrame([r for _, r in ok], index=pd.Index([i for i, _ in ok], name="image_id"))
            part["method"] = method.spec
            rows.append(part)
            with atomic_path(audit_dir / "scores.partial.csv") as tmp:
                pd.concat(rows).to_csv(tmp)
        if on_image:
            for _ in chunk:
                on_image()
    table = pd.concat(rows) if rows else pd.DataFrame(index=pd.Index([], name="image_id"))
    return table, errors, meta


def apply_decisions(df: pd.DataFrame, raw: pd.DataFrame, dec: dict[str, Decision]) -> pd.DataFrame:
    """Manifest with ``<a>`` and ``<a>_score`` columns (annotations moved to ``<a>_annotated``); an
    earlier audit's columns of an artifact not decided now are removed (they would pass for this one's)."""
    for a in DETECTORS:
        if a not in dec:
            df = clear_audit_columns(df, a)
    for a, d in dec.items():
        df = set_audit_columns(
            df, a, raw.reindex(df["image_id"])[f"{a}_{d.source}"].to_numpy(dtype=float), d.threshold
        )
    return df


def summarise(
    df: pd.DataFrame,
    dec: dict[str, Decision],
    method: Method,
    errors: list[str],
    left_out: dict | None = None,
) -> dict:
    """The audit summary: per artifact source, threshold, count and prevalence overall and per class;
    ``excluded``: the detectors left out and why."""
    cls = df["class_name"].fillna(df["label"].astype(str)) if "class_name" in df else df["label"].astype(str)
    arts = {}
    for a, d in dec.items():
        flag = df[a].astype("Float64")
        arts[a] = {
            "source": d.source,
            "threshold": d.threshold,
            "n_present": int(flag.sum()),
            "prevalence": float(flag.mean()) if flag.notna().any() else None,
            "prevalence_by_class": {
                str(c): float(flag[cls == c].mean()) for c in sorted(cls.dropna().unique())
            },
        }
    return {
        "method": method.spec,
        "n_images": int(len(df)),
        "n_scored": int(df[next(iter(dec))].notna().sum()),
        "n_errors": len(errors),
        "errors": errors[:50],
        "artifacts": arts,
        "excluded": dict(left_out or {}),
    }


def write_figures(directory: Path, df: pd.DataFrame, summary: dict) -> list[Path]:
    """Prevalence per class and, per artifact, the highest-scoring flagged images with their masks."""
    out_dir = directory / "audit"
    by_class: dict[str, dict[str, float]] = {}
    for a, s in summary["artifacts"].items():
        for c, v in s["prevalence_by_class"].items():
            by_class.setdefault(c, {})[a] = 0.0 if np.isnan(v) else v
    paths = [prevalence_figure(by_class, out_dir / "prevalence.png")] if by_class else []
    for a in summary["artifacts"]:
        top = df[df[a] == 1].sort_values(score_column(a), ascending=False).head(EXAMPLES)
        if top.empty:
            continue
        imgs = [read_rgb(directory / f) for f in top["file"]]
        masks = [DETECTORS[a](im)[1] for im in imgs]
        titles = [f"{i}\n{s:.3g}" for i, s in zip(top["image_id"], top[score_column(a)], strict=True)]
        paths.append(example_grid(imgs, titles, out_dir / f"examples_{a}.png", f"{a}: flagged images", masks))
    return paths


def audit_dataset(
    directory: str | os.PathLike,
    method: Method | str = "best",
    figures: bool = True,
    on_image: Callable[[], None] | None = None,
    device: str = "cpu",
) -> dict:
    """Audit a dataset directory in place (see module docstring); returns the summary."""
    directory = Path(directory)
    method = parse_method(method) if isinstance(method, str) else method
    df = read_manifest(directory)
    raw, errors, meta = score_dataset(directory, df, method, on_image, device)
    used = meta if method.kind != "heuristic" else None
    dec = decisions(method, used)
    df = apply_decisions(df, raw, dec)
    write_manifest(df, directory)
    summary = summarise(df, dec, method, errors, excluded(method, used))
    write_audit_summary(directory, summary)
    for a in DETECTORS:  # an earlier audit's examples of a detector not run now (the report shows them all)
        if a not in dec:
            (directory / "audit" / f"examples_{a}.png").unlink(missing_ok=True)
    if figures:
        summary["figures"] = [str(p) for p in write_figures(directory, df, summary)]
        write_audit_summary(directory, summary)
    (directory / "audit" / "scores.partial.csv").unlink(missing_ok=True)
    return summary
