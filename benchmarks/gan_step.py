"""Median time of one GAN training step (issue 5 sec. 4): the real ``gan.train`` step.

A step is ``dermsynth.gan.train.step.training_step`` on a run built by ``dermsynth.gan.train.setup``
(as benchmarks/train_throughput.py builds it) on an in-memory random dataset: the phases due at that
step (Gmain and Dmain every step; Greg, path length, every 4th; Dreg, R1, every 16th -- lazy
regularisation), style mixing, the augmentation pipe (``--aug``, at ``--p``), G EMA and the ADA
update. Each timed step is reported with the phases it ran; the median is over ``--iters`` consecutive
steps after ``--warmup`` (so mostly Gmain + Dmain steps), ``cycle_s`` (with ``--cycle``) over one whole
16-step cycle. The first step (all four phases) warms up; FLOPs are counted on the second (Gmain +
Dmain: torch's FLOP counter cannot follow the regularisers' ``autograd.grad``). The last line printed
is JSON, e.g. ``{"median_step_s": 1.23, "res": 64, "batch": 8, "device": "cpu", ...}``.

    PYTHONPATH=src python benchmarks/gan_step.py --res 64 --batch 8 --cfg auto --c-dim 2 --device cpu

Needs only torch (+ numpy, safetensors) and dermsynth on the path.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))


def make_run(
    cfg: str,
    res: int,
    batch: int,
    c_dim: int,
    device: torch.device,
    run_dir: str | Path,
    fp32: bool = False,
    channels_last: bool = False,
    tf32: bool = False,
    aug: str = "ada",
    p: float = 0.0,
):
    """A training run (``gan.train.setup``) of preset ``cfg`` on ``max(2 * batch, 64)`` random images."""
    from dermsynth.gan import train as tl
    from dermsynth.gan.train.config import resolve_train_config
    from train_speed import random_data

    tc = resolve_train_config(
        cfg, res, data="<random>", cond=c_dim > 0, c_dim=c_dim, batch=batch, kimg=1000, tick=1000,
        snap=10_000, device=str(device), precision="fp32" if fp32 else None,
        channels_last=channels_last or None, tf32=tf32 or None, aug=aug, p=p if aug == "fixed" else None,
    )  # fmt: skip
    run = tl.setup(tc, run_dir, data=random_data(max(2 * batch, 64), res, c_dim), echo=None)
    if run.augment_pipe is not None and p:
        run.augment_pipe.set_p(p)  # ada: start at p, as a run whose ADA has raised it
    return run


def due_phases(run) -> list[str]:
    """The phases ``training_step`` runs next."""
    return [ph.name for ph in run.phases if run.counters.batch_idx % ph.interval == 0]


def make_step(run) -> Callable[[], None]:
    """One call = one real training step of ``run``."""
    from dermsynth.gan.train.step import training_step

    return lambda: training_step(run)


def count_flops(step: Callable[[], None]) -> float | None:
    """FLOPs of one step (None where the counter cannot follow it, e.g. a regularisation phase)."""
    from torch.utils.flop_counter import FlopCounterMode

    try:
        with FlopCounterMode(display=False) as fc:
            step()
    except RuntimeError:
        return None
    return float(fc.get_total_flops())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--res", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--cfg", default="auto")
    ap.add_argument("--c-dim", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--fp32", action="store_true", help="no mixed precision (CUDA only matters)")
    ap.add_argument("--nhwc", action="store_true", help="channels_last")
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--aug", default="ada", help="ada | noaug | fixed")
    ap.add_argument("--p", type=float, default=0.0, help="augmentation probability (start value for ada)")
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps after the first two")
    ap.add_argument("--cycle", action="store_true", help="also time one whole 16-step cycle")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    with tempfile.TemporaryDirectory() as tmp:
        run = make_run(a.cfg, a.res, a.batch, a.c_dim, device, tmp, fp32=a.fp32, channels_last=a.nhwc,
                       tf32=a.tf32, aug=a.aug, p=a.p)  # fmt: skip
        step = make_step(run)
        step()  # warm-up: all four phases
        counted = due_phases(run)
        flops = count_flops(step)
        times, phases = [], []
        for i in range(a.warmup + a.iters):
            ran = due_phases(run)
            sync()
            t = time.perf_counter()
            step()
            sync()
            dt = time.perf_counter() - t
            if i >= a.warmup:
                times.append(dt)
                phases.append("+".join(ran))
            print(f"step {i}: {dt:.3f} s ({'+'.join(ran)})", flush=True)
        cycle_s = None
        if a.cycle:
            sync()
            t = time.perf_counter()
            for _ in range(16):
                step()
            sync()
            cycle_s = round(time.perf_counter() - t, 3)
    med = statistics.median(times)
    out = {
        "median_step_s": round(med, 4),
        "step_s": [round(t, 4) for t in times],
        "step_phases": phases,
        "cycle_s": cycle_s,
        "res": a.res,
        "batch": run.cfg.batch,
        "batch_gpu": run.cfg.batch_gpu,
        "device": device.type,
        "cfg": a.cfg,
        "c_dim": a.c_dim,
        "precision": run.cfg.precision,
        "nhwc": a.nhwc,
        "aug": a.aug,
        "p": a.p,
        "threads": torch.get_num_threads(),
        "tflop_counted_step": None if flops is None else round(flops / 1e12, 4),
        "counted_step_phases": "+".join(counted),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "torch": torch.__version__,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
