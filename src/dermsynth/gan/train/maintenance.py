"""Maintenance at the end of a training tick: statistics, image grids, network snapshots, metrics.

Statistics go through one channel (docs/architecture.md R8): per-sample loss values are summed on the device
during a tick (:class:`~dermsynth.gan.train.run.TickStats`, no host sync per step), reduced over ranks at the tick's end and
written as one ``stats.jsonl`` line by ``core.stats.StatsWriter`` (plus TensorBoard scalars). Snapshot
metrics -- ``fd_simple`` and whatever the metrics stage's driver returns -- are written here too, one
row shape (:data:`METRIC_ROW_KEYS`) by one writer (:func:`write_metric`) into ``metric-<name>.jsonl``.
"""

from __future__ import annotations

import contextlib
import json
import random
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dermsynth.core import distributed as dist
from dermsynth.core.io import write_png
from dermsynth.core.seeding import torch_generator
from dermsynth.core.stats import append_jsonl
from dermsynth.gan.checkpoint import save_network
from dermsynth.gan.train.config import config_dict
from dermsynth.gan.train.fd_simple import FD_SIMPLE_FEATURES, fd_simple, simple_features
from dermsynth.gan.train.prepare import OWN_METRICS
from dermsynth.gan.train.run import Run
from dermsynth.gan.train.state import save_state


def memory_stats(device: torch.device) -> dict[str, float]:
    """Peak memory: CUDA allocated/reserved (GiB) on GPU, process max RSS (GiB) always."""
    out = {"Resources/peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}
    if device.type == "cuda":
        out["Resources/peak_gpu_mem_gb"] = torch.cuda.max_memory_allocated(device) / 2**30
        out["Resources/peak_gpu_reserved_gb"] = torch.cuda.max_memory_reserved(device) / 2**30
        torch.cuda.reset_peak_memory_stats(device)
    return out


def tick_stats(run: Run) -> dict[str, Any]:
    """Write the tick's stats line, a log line and TensorBoard scalars."""
    c = run.counters
    now = time.time()
    tick_sec = now - run.clock.tick_start
    tick_kimg = (c.cur_nimg - c.tick_start_nimg) / 1000
    total_sec = run.clock.elapsed_before + (now - run.clock.start)
    p = run.augment_pipe.probability if run.augment_pipe is not None else 0.0
    rt = run.ada.last_rt if run.ada is not None else float("nan")
    fields = {
        "tick": c.cur_tick,
        "kimg": c.cur_nimg / 1000,
        "time_s": round(total_sec, 3),
        "sec_per_tick": tick_sec,
        "sec_per_kimg": tick_sec / max(tick_kimg, 1e-9),
        "augment_p": p,
        "ada_rt": rt,
        "pl_mean": float(run.loss.pl_mean),
    }
    fields.update(run.stats.reduce_and_reset())
    fields.update(memory_stats(run.device))
    fields = {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in fields.items()}
    row = run.writer.flush(**fields) if dist.is_main() else fields
    if run.tb is not None:
        for k, v in row.items():
            if k != "tick" and isinstance(v, float):
                run.tb.add_scalar(k, v, global_step=c.cur_nimg, walltime=now)
        run.tb.flush()
    run.log(
        f"tick {c.cur_tick:<5d} kimg {c.cur_nimg / 1000:<8.3f} time {total_sec:<8.1f} "
        f"sec/tick {tick_sec:<7.2f} sec/kimg {fields['sec_per_kimg']:<7.2f} augment {p:.3f} "
        f"G {row.get('Loss/G/loss') or float('nan'):.3f} D {row.get('Loss/D/loss') or float('nan'):.3f}"
    )
    return row


# ---------------------------------------------------------------------------------------------------
def grid_shape(res: int) -> tuple[int, int]:
    """(columns, rows) of the snapshot mosaics: about 1024 px wide, 4..8 images per side."""
    n = int(min(max(1024 // res, 4), 8))
    return n, n


def grid_labels(run: Run) -> np.ndarray:
    """Class per grid cell: row r shows class r % c_dim (all zeros unconditional)."""
    gw, gh = grid_shape(run.data.resolution)
    c_dim = max(run.data.c_dim, 1)
    return np.repeat(np.arange(gh) % c_dim, gw)


def mosaic(img: torch.Tensor, gw: int, gh: int) -> np.ndarray:
    """[gw*gh, C, H, W] in [-1, 1] -> uint8 [gh*H, gw*W, 3]."""
    x = ((img.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()
    n, c, h, w = x.shape
    x = x.reshape(gh, gw, c, h, w).transpose(0, 3, 1, 4, 2).reshape(gh * h, gw * w, c)
    return np.repeat(x, 3, axis=2) if c == 1 else x


def write_reals(run: Run) -> None:
    """``reals.png``: real images, row r of class r % c_dim (first of each class in sampler order)."""
    gw, gh = grid_shape(run.data.resolution)
    labels = grid_labels(run)
    order = run.sampler.indices(0, min(len(run.data), 4096)) % len(run.data.files)
    picks, used = [], {}
    for lab in labels:
        pool = [i for i in order if not run.data.c_dim or run.data.labels[i] == lab] or list(order)
        k = used.get(lab, 0)
        picks.append(pool[k % len(pool)])
        used[lab] = k + 1
    img, _ = run.data.batch(np.asarray(picks), "cpu")
    write_png(run.run_dir / "reals.png", mosaic(img, gw, gh))


@torch.no_grad()
def generate_grid(run: Run) -> torch.Tensor:
    """G_ema's images for the fixed grid latents (seeded by ``cfg.seed``), noise ``const``."""
    gw, gh = grid_shape(run.data.resolution)
    G = run.G_ema
    z = torch.randn(gw * gh, G.z_dim, generator=torch_generator(run.cfg.seed, "grid")).to(run.device)
    c = run.data.one_hot(grid_labels(run), run.device)
    out = []
    for zb, cb in zip(z.split(run.cfg.batch_gpu), c.split(run.cfg.batch_gpu), strict=True):
        ws = G.mapping(zb, cb, truncation_psi=1)
        out.append(G.synthesis(ws, noise_mode="const").float().cpu())
    return torch.cat(out)


def write_image_grid(run: Run) -> None:
    if not dist.is_main():
        return
    if not (run.run_dir / "reals.png").exists():
        write_reals(run)
    gw, gh = grid_shape(run.data.resolution)
    kimg = run.counters.cur_nimg // 1000
    write_png(run.run_dir / f"fakes{kimg:06d}.png", mosaic(generate_grid(run), gw, gh))


# ---------------------------------------------------------------------------------------------------
def network_meta(run: Run) -> dict[str, Any]:
    from dermsynth.core.manifest import CLASS_NAMES  # pandas: imported only when exporting

    c_dim = run.data.c_dim
    names = CLASS_NAMES[:c_dim] if c_dim <= len(CLASS_NAMES) else [str(i) for i in range(c_dim)]
    return {
        "class_names": list(names) if c_dim else [],
        "resolution": run.data.resolution,
        "training": {  # names, not this machine's paths: the network file may ship
            "kimg": run.counters.cur_nimg / 1000,
            "cur_nimg": run.counters.cur_nimg,
            "data": Path(run.cfg.data).name,
            "config": {
                **config_dict(run.cfg),
                "data": Path(run.cfg.data).name,
                "keep": Path(run.cfg.keep).name if run.cfg.keep else None,
            },  # fmt: skip
            "augment_p": run.augment_pipe.probability if run.augment_pipe is not None else 0.0,
        },
    }


def snapshot_stem(run: Run) -> Path:
    return run.run_dir / f"network-{run.counters.cur_nimg // 1000:06d}"


def write_network(run: Run) -> None:
    """``network-{kimg}.safetensors`` + ``.json`` through the networks stage's exporter."""
    if not dist.is_main():
        return
    save_network(snapshot_stem(run), run.G, run.D, run.G_ema, network_meta(run))


# ---------------------------------------------------------------------------------------------------
#: The keys of a ``metric-<name>.jsonl`` row, in order (StyleGAN2-ADA's ``results``/``metric``/
#: ``snapshot``/``total_time``/``timestamp`` plus the count, the feature space and where in training).
METRIC_ROW_KEYS = ("results", "metric", "num", "features", "snapshot", "kimg", "tick", "world_size",
                   "total_time", "timestamp")  # fmt: skip


def metric_row(run: Run, name: str, result: dict[str, Any], total_time: float) -> dict[str, Any]:
    """The ``metric-<name>.jsonl`` row of one metric at this snapshot. ``result``: ``{"results":
    {key: value, "key/class": value ...}, "num": samples, "features": feature space}``."""
    return {
        "results": result["results"],
        "metric": name,
        "num": result.get("num"),
        "features": result.get("features"),
        "snapshot": snapshot_stem(run).name + ".safetensors",
        "kimg": run.counters.cur_nimg / 1000,
        "tick": run.counters.cur_tick - 1,
        "world_size": dist.world_size(),
        "total_time": total_time,
        "timestamp": time.time(),
    }


def write_metric(run: Run, name: str, result: dict[str, Any], total_time: float) -> dict[str, Any]:
    """The one writer of ``metric-<name>.jsonl`` (docs/architecture.md R8): rank 0 appends the row."""
    row = metric_row(run, name, result, total_time)
    if dist.is_main():
        append_jsonl(run.run_dir / f"metric-{name}.jsonl", row)
        run.log(f"metric {name}: {json.dumps(row['results'], default=float)}")
    return row


def run_metrics(run: Run) -> None:
    """Metrics of G_ema: ``fd_simple`` here; any other name (``fid10k_effnetlite``, ``kid50k_full`` ...)
    through ``run.evaluate``, the metrics stage's driver handed to setup (across ranks). Each metric is
    one row of ``metric-<name>.jsonl`` (:func:`write_metric`)."""
    names = list(run.cfg.metrics)
    if not names:
        return
    own = [n for n in names if n in OWN_METRICS]
    other = [n for n in names if n not in OWN_METRICS]
    for name in own:
        t0 = time.perf_counter()
        value, num = compute_fd_simple(run)
        write_metric(run, name, {"results": {name: value}, "num": num, "features": FD_SIMPLE_FEATURES},
                     time.perf_counter() - t0)  # fmt: skip
    if other:  # every rank takes part; the results come back on rank 0
        t0 = time.perf_counter()
        was_training = run.G_ema.training
        result = run.evaluate(
            run.G_ema.eval(),
            run.cfg.data,
            other,
            run.run_dir,
            device=run.device,
            kimg=run.counters.cur_nimg / 1000,
            seed=run.cfg.seed,
        )
        run.G_ema.train(was_training)
        total_time = time.perf_counter() - t0
        for name, res in (result or {}).items():
            write_metric(run, name, res, total_time)


@torch.no_grad()
def compute_fd_simple(run: Run, num: int = 1000) -> tuple[float, int]:
    """Frechet distance on simple features between reals and G_ema samples (fakes split over ranks),
    and the number of images on each side."""
    data = run.data
    n = min(num, len(data.files))
    if run.fd_real_feats is None:
        feats = [
            simple_features(data.batch(np.arange(i, min(i + 256, n)), "cpu")[0]) for i in range(0, n, 256)
        ]
        run.fd_real_feats = torch.cat(feats)
    per_rank = -(-n // dist.world_size())
    G = run.G_ema
    z = torch.randn(
        per_rank * dist.world_size(), G.z_dim, generator=torch_generator(run.cfg.seed, "fd_simple")
    )
    z = z[dist.rank() * per_rank : (dist.rank() + 1) * per_rank].to(run.device)
    gen = (
        np.random.default_rng(dist.rank()).choice(data.labels, size=per_rank)
        if data.c_dim
        else np.zeros(per_rank, int)
    )
    c = data.one_hot(gen, run.device)
    fakes = []
    for zb, cb in zip(z.split(run.cfg.batch_gpu), c.split(run.cfg.batch_gpu), strict=True):
        img = G.synthesis(G.mapping(zb, cb), noise_mode="const")
        fakes.append(simple_features(img.float()).to(run.device))
    feats = dist.all_gather_cat(torch.cat(fakes))[:n].cpu()
    return fd_simple(run.fd_real_feats, feats), n


# ---------------------------------------------------------------------------------------------------
def tick_done(run: Run) -> bool:
    """Whether the current tick has seen ``cfg.tick`` kimg (the first tick closes after one step)."""
    c = run.counters
    return c.cur_tick == 0 or c.cur_nimg >= c.tick_start_nimg + run.cfg.tick * 1000


def maintenance(run: Run, done: bool, metrics: bool = True) -> dict[str, Any]:
    """Close a tick: stats, log, TensorBoard; every ``snap`` ticks (and when ``done``) images, network,
    state and, unless ``metrics`` is False (a run stopped by a signal), metrics."""
    with _preserved_rng():
        row = tick_stats(run)
        run.last_row = row
        if done or run.counters.cur_tick % run.cfg.snap == 0:
            write_image_grid(run)
            write_network(run)
            run.counters.tick_start_nimg = run.counters.cur_nimg
            run.counters.cur_tick += 1
            save_state(run)
            if metrics:
                run_metrics(run)
        else:
            run.counters.tick_start_nimg = run.counters.cur_nimg
            run.counters.cur_tick += 1
    run.clock.tick_start = time.time()
    return row


@contextlib.contextmanager
def _preserved_rng():
    """Run a block without disturbing the global RNG streams of training."""
    py, npy, tch = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(npy)
        torch.set_rng_state(tch)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
