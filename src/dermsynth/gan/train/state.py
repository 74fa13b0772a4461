"""Resumable training state: ``training-state-{kimg:06d}.pt`` (docs/architecture.md R5; cf. edm2 ``CheckpointIO``).

The file holds only tensors and plain Python containers -- G, D and G_ema state dicts, both Adam
states, the augmentation probability and ADA statistics, the path-length mean, the data sampler
position, RNG states (python, numpy, torch CPU and CUDA) and the counters -- so it loads with
``torch.load(weights_only=True)``. Its entries are one table, :data:`STATE_PARTS` (name -> get, put),
that both :func:`collect_state` and :func:`restore_state` walk, as edm2's ``CheckpointIO`` does: a
part cannot be saved and forgotten on restore. It is written through ``core.io.atomic_path``: a run killed at any
moment leaves either the previous file or the new one, never a half-written one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dermsynth.core import distributed as dist
from dermsynth.core.io import atomic_path, atomic_write_text
from dermsynth.core.stats import read_jsonl
from dermsynth.gan.train.run import Counters, Run

#: Training states kept in a run directory (the newest; an older one is a fallback if the newest is torn).
KEEP_STATES = 2

STATE_RE = re.compile(r"^training-state-(\d+)\.pt$")


def state_path(run_dir: str | os.PathLike, kimg: int) -> Path:
    return Path(run_dir) / f"training-state-{int(kimg):06d}.pt"


def rng_state() -> dict[str, Any]:
    """Every global RNG state as tensors / plain lists (weights_only-safe)."""
    np_state = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    out: dict[str, Any] = {
        "python": [py_version, list(py_internal), py_gauss],
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(state: dict[str, Any]) -> None:
    py_version, py_internal, py_gauss = state["python"]
    random.setstate((py_version, tuple(py_internal), py_gauss))
    n = state["numpy"]
    np.random.set_state(
        ("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_training_state(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` atomically (fsync'd temporary file renamed into place)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
    return path


def load_training_state(path: str | os.PathLike, map_location="cpu") -> dict[str, Any]:
    """Load a state file without unpickling code; clear error naming the file when it is unreadable."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # a torn/foreign file: name it and the cause
        raise ValueError(f"{path}: not a readable training state ({type(e).__name__}: {e})") from None


def list_states(run_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """``(kimg, path)`` of the state files in ``run_dir``, newest first."""
    d = Path(run_dir)
    if not d.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in d.iterdir() if (m := STATE_RE.match(p.name))]
    return sorted(found, key=lambda t: t[0], reverse=True)


def latest_state(run_dir: str | os.PathLike, warn=print) -> dict[str, Any] | None:
    """The newest loadable state in ``run_dir`` (a corrupt newest file is reported and skipped)."""
    for _, p in list_states(run_dir):
        try:
            return load_training_state(p)
        except ValueError as e:
            warn(f"warning: {e}; trying an older state")
    return None


# ---------------------------------------------------------------------------------------------------
# A run <-> its training state: one table of stateful parts, read by both directions
# ---------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Part:
    """One entry of the training state: ``get(run)`` -> plain value; ``put(run, value)`` restores it
    (or, for the identity parts, checks that the run matches it). ``optional``: absent in older files."""

    get: Callable[[Run], Any]
    put: Callable[[Run, Any], None]
    optional: bool = False


def _put_augment_p(run: Run, p: torch.Tensor) -> None:
    if run.augment_pipe is not None:
        run.augment_pipe.set_p(float(p))


def _put_ada(run: Run, ada: dict[str, Any]) -> None:
    if run.ada is not None and ada:
        run.ada.load_state_dict(ada)


def _get_sampler(run: Run) -> dict[str, int]:
    return {"position": run.counters.cur_nimg, "seed": run.sampler.seed, "n": run.sampler.n}


def _check_sampler(run: Run, sampler: dict[str, int]) -> None:
    """The sampler is addressed by image count (``counters``); only the dataset size must match."""
    if sampler["n"] != run.sampler.n:
        raise ValueError(
            f"{run.run_dir}: dataset size changed ({sampler['n']} -> {run.sampler.n}) since the saved state"
        )


def _check_fingerprint(run: Run, saved: str | None) -> None:
    if saved is not None and saved != data_fingerprint(run):
        raise ValueError(
            f"{run.run_dir}: the training state was written for another dataset (fingerprint {saved}, "
            f"{run.cfg.data} has {data_fingerprint(run)}): same file names, labels and resolution needed"
        )


def _put_counters(run: Run, counters: dict[str, int]) -> None:
    run.counters = Counters(**counters)


def _put_elapsed(run: Run, elapsed: float) -> None:
    run.clock.elapsed_before = float(elapsed)


def _module(name: str) -> Part:
    return Part(
        lambda run: getattr(run, name).state_dict(), lambda run, sd: getattr(run, name).load_state_dict(sd)
    )


def _optimizer(key: str) -> Part:
    return Part(lambda run: run.opts[key].state_dict(), lambda run, sd: run.opts[key].load_state_dict(sd))


#: The training state, part by part, in file order (the keys of ``training-state-*.pt``; a new part
#: is added here, with its restore, or not at all). Restored in this order.
STATE_PARTS: dict[str, Part] = {
    "G": _module("G"),
    "D": _module("D"),
    "G_ema": _module("G_ema"),
    "opt_G": _optimizer("G"),
    "opt_D": _optimizer("D"),
    "augment_p": Part(
        lambda run: run.augment_pipe.p.detach().cpu() if run.augment_pipe is not None else torch.tensor(0.0),
        _put_augment_p,
    ),
    "ada": Part(lambda run: run.ada.state_dict() if run.ada is not None else {}, _put_ada),
    "loss": Part(lambda run: run.loss.state_dict(), lambda run, sd: run.loss.load_state_dict(sd)),
    "sampler": Part(_get_sampler, _check_sampler),
    "rng": Part(lambda run: rng_state(), lambda run, st: set_rng_state(st)),
    "counters": Part(lambda run: dataclasses.asdict(run.counters), _put_counters),
    "elapsed": Part(lambda run: run.clock.elapsed_before + (time.time() - run.clock.start), _put_elapsed),
    "world_size": Part(lambda run: dist.world_size(), lambda run, n: None),  # recorded; any count continues
    "data_fingerprint": Part(lambda run: data_fingerprint(run), _check_fingerprint, optional=True),
}


def collect_state(run: Run) -> dict[str, Any]:
    """The training state of ``run`` as tensors and plain containers (one entry per :data:`STATE_PARTS`)."""
    return {name: part.get(run) for name, part in STATE_PARTS.items()}


def data_fingerprint(run: Run) -> str:
    """The training set's identity, independent of the machine's paths: a hash of the image file names
    (without folders), their labels, the resolution and the mirror flag."""
    import hashlib

    h = hashlib.sha256()
    h.update(f"{run.data.resolution}:{int(run.data.mirror)}:{len(run.data.files)}\n".encode())
    for name, label in zip(run.data.files, run.data.labels.tolist(), strict=True):
        h.update(f"{Path(name).name}\t{label}\n".encode())
    return h.hexdigest()[:16]


def restore_state(run: Run, state: dict[str, Any]) -> None:
    """Continue from a saved state (every :data:`STATE_PARTS` entry); drop stats lines written after it."""
    missing = [n for n, part in STATE_PARTS.items() if n not in state and not part.optional]
    unknown = sorted(set(state) - set(STATE_PARTS))
    if missing or unknown:
        raise ValueError(
            f"{run.run_dir}: not a training state of this version (missing {missing}, unknown {unknown})"
        )
    for name, part in STATE_PARTS.items():
        part.put(run, state.get(name))
    if dist.is_main():
        truncate_stats(run.run_dir / "stats.jsonl", run.counters.cur_tick - 1)
    run.log(f"resumed from kimg {run.counters.cur_nimg / 1000:.3f} (tick {run.counters.cur_tick})")


def save_state(run: Run) -> None:
    """Write ``training-state-{kimg}.pt`` (rank 0); keep only the newest ``KEEP_STATES`` files; with
    ``cfg.keep``, copy the new state and the run's records there too (:func:`keep_state`)."""
    state = collect_state(run)
    if dist.is_main():
        kimg = run.counters.cur_nimg // 1000
        save_training_state(state_path(run.run_dir, kimg), state)
        for _, old in list_states(run.run_dir)[KEEP_STATES:]:  # ~1 GB each at 256 px: keep the newest
            old.unlink(missing_ok=True)
        if run.cfg.keep:
            keep_state(run.run_dir, run.cfg.keep)
    dist.barrier()


# ---------------------------------------------------------------------------------------------------
# A second home for the newest state (``--keep DIR``): a folder that outlives the machine, e.g. in git
# ---------------------------------------------------------------------------------------------------
#: The run's records that travel with the kept state (the loss curve and metric history of the card).
KEPT_RECORDS = ("config.json", "stats.jsonl", "log.txt")


def _records(run_dir: Path) -> list[Path]:
    names = [run_dir / n for n in KEPT_RECORDS] + sorted(run_dir.glob("metric-*.jsonl"))
    return [p for p in names if p.is_file()]


def keep_state(run_dir: str | os.PathLike, keep_dir: str | os.PathLike) -> Path | None:
    """Copy the newest training state of ``run_dir`` and its records (``config.json``, ``stats.jsonl``,
    ``log.txt``, ``metric-*.jsonl``) into ``keep_dir``, each atomically, then remove the older state
    kept there: ``keep_dir`` always holds one complete, loadable state."""
    import shutil

    run_dir, keep_dir = Path(run_dir), Path(keep_dir)
    found = list_states(run_dir)
    if not found:
        return None
    keep_dir.mkdir(parents=True, exist_ok=True)
    for src in _records(run_dir):
        with atomic_path(keep_dir / src.name) as tmp:
            shutil.copyfile(src, tmp)
    kimg, src = found[0]
    dst = keep_dir / src.name
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)
    for _, old in list_states(keep_dir):
        if old.name != dst.name:
            old.unlink(missing_ok=True)
    return dst


def seed_from_kept(run_dir: str | os.PathLike, keep_dir: str | os.PathLike, log=print) -> Path | None:
    """Where ``keep_dir`` holds a loadable state newer than any in ``run_dir`` (a fresh clone, a new
    machine), copy it and its records into ``run_dir`` so that the run continues from it."""
    import shutil

    run_dir, keep_dir = Path(run_dir), Path(keep_dir)
    kept = list_states(keep_dir)
    if not kept:
        return None
    kimg, src = kept[0]
    own = list_states(run_dir)
    if own and own[0][0] >= kimg:
        return None
    load_training_state(src)  # refuse a torn or foreign file before anything is copied
    run_dir.mkdir(parents=True, exist_ok=True)
    for rec in _records(keep_dir):
        with atomic_path(run_dir / rec.name) as tmp:
            shutil.copyfile(rec, tmp)
    with atomic_path(run_dir / src.name) as tmp:
        shutil.copyfile(src, tmp)
    log(f"--keep {keep_dir}: continuing from its state at kimg {kimg} ({src.name})")
    return run_dir / src.name


def truncate_stats(path: Path, last_tick: int) -> None:
    """Keep only the stats lines of ticks <= ``last_tick`` (and no torn trailing line)."""
    if not path.exists():
        return
    rows = [r for r in read_jsonl(path) if r.get("tick", -1) <= last_tick]
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))
