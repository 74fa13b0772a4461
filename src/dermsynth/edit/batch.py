"""Batch editing of many seeds into an "edited" synthetic dataset (manifest layout).

Two modes: fixed alphas (one image per seed and alpha) and ``until_clean`` (each framed sample
moved along the direction until the detector stops firing). Every row records the parent seed,
the direction file, method and index, alpha, layers, truncation and noise mode.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dermsynth.core.manifest import CLASS_NAMES
from dermsynth.edit.apply import choose_sign, edit_ws, seeds_ws, until_clean
from dermsynth.edit.dataset import EditedDatasetWriter
from dermsynth.edit.directions import Directions
from dermsynth.edit.sampling import synthesize


@dataclass(frozen=True)
class EditJob:
    """What to edit and how: the direction, its provenance and the sampling settings."""

    directions: Directions
    index: int
    layers: Sequence[int] | None = None
    class_idx: int | None = None
    truncation_psi: float = 1.0
    noise_mode: str = "const"
    network: str = ""
    directions_file: str = ""
    batch_size: int = 32
    device: str = "cpu"


def class_names_of(G) -> list[str]:
    """Class names of a generator (from its network file's JSON), else the project's defaults."""
    names = list(
        (getattr(G, "network_info", None) or {}).get("class_names") or getattr(G, "class_names", None) or []
    )
    c_dim = int(getattr(G, "c_dim", 0))
    if len(names) < c_dim:
        names = CLASS_NAMES[:c_dim] if c_dim <= len(CLASS_NAMES) else [str(i) for i in range(c_dim)]
    return names


def _base_row(job: EditJob, seed: int, label: int | None, class_names: Sequence[str]) -> dict:
    name = "" if label is None else class_names[label]
    return {
        "label": -1 if label is None else int(label),
        "class_name": name,
        "source": "edited",
        "split": "",
        "patient_id": "",
        # the image id ``dermsynth gan generate`` gives the unedited sample
        "parent_id": f"seed{seed:06d}" if label is None else f"seed{seed:06d}-{name}",
        "seed": int(seed),
        "network": job.network,
        "directions_file": job.directions_file,
        "method": job.directions.method,
        "direction_index": job.index,
        "layers": "all" if not job.layers else ",".join(map(str, job.layers)),
        "truncation_psi": job.truncation_psi,
        "noise_mode": job.noise_mode,
    }


def _chunks(seq: Sequence[int], n: int):
    for i in range(0, len(seq), n):
        yield list(seq[i : i + n])


def edit_to_dataset(
    G,
    job: EditJob,
    seeds: Sequence[int],
    alphas: Sequence[float],
    out_dir: str | os.PathLike,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """One image per (seed, alpha) in ``out_dir``; returns the manifest path. Resumes a partial run."""
    writer = EditedDatasetWriter(out_dir, conditional=int(getattr(G, "c_dim", 0)) > 0)
    d = job.directions.direction(job.index)
    names = class_names_of(G)
    for chunk in _chunks(list(seeds), job.batch_size):
        ws, labels = seeds_ws(G, chunk, job.class_idx, job.truncation_psi, job.device)
        for alpha in alphas:
            ids = [f"seed{s:06d}-k{job.index}-a{alpha:+.3f}" for s in chunk]
            todo = [i for i, iid in enumerate(ids) if not writer.done(iid)]
            if todo:
                imgs = synthesize(
                    G, edit_ws(ws[todo], d, alpha, job.layers), job.noise_mode, job.batch_size, job.device
                )
                for img, i in zip(imgs, todo, strict=True):
                    lab = None if labels is None else int(labels[i])
                    writer.add(ids[i], img, {**_base_row(job, chunk[i], lab, names), "alpha": float(alpha)})
        writer.flush()
        if progress:
            progress(len(chunk))
    return writer.flush()


def clean_to_dataset(
    G,
    job: EditJob,
    seeds: Sequence[int],
    detector: Callable,
    detector_name: str,
    out_dir: str | os.PathLike,
    step: float = 0.5,
    max_alpha: float = 10.0,
    sign: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[Path, float]:
    """Each seed moved until ``detector`` no longer fires (status: already_clean | cleaned |
    still_present); the sign is chosen on the first batch unless given. Returns (manifest, sign)."""
    writer = EditedDatasetWriter(out_dir, conditional=int(getattr(G, "c_dim", 0)) > 0)
    d = job.directions.direction(job.index)
    names = class_names_of(G)
    for chunk in _chunks(list(seeds), job.batch_size):
        ids = {s: f"seed{s:06d}-k{job.index}-clean" for s in chunk}
        chunk = [s for s in chunk if not writer.done(ids[s])]
        if not chunk:
            continue
        ws, labels = seeds_ws(G, chunk, job.class_idx, job.truncation_psi, job.device)
        if sign is None:
            sign = choose_sign(
                G, ws, d, detector, max_alpha / 2, job.layers, job.noise_mode, job.batch_size, job.device
            )
        res = until_clean(
            G, ws, d, detector, sign, step, max_alpha, job.layers, job.noise_mode, job.batch_size, job.device
        )
        for i, s in enumerate(chunk):
            lab = None if labels is None else int(labels[i])
            row = _base_row(job, s, lab, names) | {
                "alpha": float(res.alpha[i]),
                "detector": detector_name,
                "score_before": float(res.score_before[i]),
                "score_after": float(res.score_after[i]),
                "status": res.status[i],
            }
            writer.add(ids[s], res.images[i], row)
        writer.flush()
        if progress:
            progress(len(chunk))
    return writer.flush(), 1.0 if sign is None else float(sign)
