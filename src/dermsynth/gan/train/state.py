"""Resumable training state: ``training-state-{kimg:06d}.pt`` (docs/architecture.md R5; cf. edm2 ``CheckpointIO``).

The file holds only tensors and plain Python containers -- G, D and G_ema state dicts, both Adam
states, the augmentation probability and ADA statistics, the path-length mean, the data sampler
position, RNG states (python, numpy, torch CPU and CUDA) and the counters -- so it loads with
``torch.load(weights_only=True)``. It is written through ``core.io.atomic_path``: a run killed at any
moment leaves either the previous file or the new one, never a half-written one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import time
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
# A run <-> its training state
# ---------------------------------------------------------------------------------------------------
def collect_state(run: Run) -> dict[str, Any]:
    """The training state of ``run`` as tensors and plain containers."""
    c = run.counters
    return {
        "G": run.G.state_dict(),
        "D": run.D.state_dict(),
        "G_ema": run.G_ema.state_dict(),
        "opt_G": run.opts["G"].state_dict(),
        "opt_D": run.opts["D"].state_dict(),
        "augment_p": run.augment_pipe.p.detach().cpu() if run.augment_pipe is not None else torch.tensor(0.0),
        "ada": run.ada.state_dict() if run.ada is not None else {},
        "loss": run.loss.state_dict(),
        "sampler": {"position": c.cur_nimg, "seed": run.sampler.seed, "n": run.sampler.n},
        "rng": rng_state(),
        "counters": dataclasses.asdict(c),
        "elapsed": run.clock.elapsed_before + (time.time() - run.clock.start),
        "world_size": dist.world_size(),
        "data_fingerprint": data_fingerprint(run),
    }


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
    """Continue from a saved state; drop stats lines written after it (killed run)."""
    run.G.load_state_dict(state["G"])
    run.D.load_state_dict(state["D"])
    run.G_ema.load_state_dict(state["G_ema"])
    run.opts["G"].load_state_dict(state["opt_G"])
    run.opts["D"].load_state_dict(state["opt_D"])
    if run.augment_pipe is not None:
        run.augment_pipe.set_p(float(state["augment_p"]))
    if run.ada is not None and state["ada"]:
        run.ada.load_state_dict(state["ada"])
    run.loss.load_state_dict(state["loss"])
    if state["sampler"]["n"] != run.sampler.n:
        raise ValueError(
            f"{run.run_dir}: dataset size changed ({state['sampler']['n']} -> {run.sampler.n}) since the saved state"
        )
    saved = state.get("data_fingerprint")  # absent in states written before it was recorded
    if saved is not None and saved != data_fingerprint(run):
        raise ValueError(
            f"{run.run_dir}: the training state was written for another dataset (fingerprint {saved}, "
            f"{run.cfg.data} has {data_fingerprint(run)}): same file names, labels and resolution needed"
        )
    set_rng_state(state["rng"])
    run.counters = Counters(**state["counters"])
    run.clock.elapsed_before = float(state["elapsed"])
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
