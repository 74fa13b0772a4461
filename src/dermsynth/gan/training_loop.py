"""The StyleGAN2-ADA training loop as setup / step / maintenance (DESIGN.md 3.11).

Reference: Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data" (the
training procedure: phases Gmain/Greg/Dmain/Dreg with lazy regularisation, G EMA with ramp-up
(half-life ``ema_kimg``, at most ``ema_rampup * cur_nimg``), ADA every ``ada_interval`` steps, ticks of
``tick`` kimg, snapshots every ``snap`` ticks).

* :func:`setup` builds (or resumes) everything a run needs into a :class:`Run`.
* :func:`training_step` runs one minibatch through all phases, the EMA and the ADA update.
* :func:`maintenance` closes a tick: stats line, log, TensorBoard, image grid, network snapshot,
  training state, metrics.
* :func:`train` is the loop.

Determinism: before each step the global torch/numpy RNGs are re-seeded from ``(seed, step, rank)``,
and maintenance runs under saved-and-restored RNG state, so a resumed run draws exactly the numbers
an uninterrupted one draws. Gradients are averaged over ranks by one all-reduce per phase.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dermsynth.core import distributed as dist
from dermsynth.core.config import save_config
from dermsynth.core.seeding import derive_seed
from dermsynth.core.stats import StatsWriter
from dermsynth.gan import training_setup as ts
from dermsynth.gan.augment import AugmentPipe
from dermsynth.gan.augment_ada import AdaController
from dermsynth.gan.augment_fast import make_augment_pipe
from dermsynth.gan.loss import LossConfig, StyleGAN2Loss
from dermsynth.gan.sampler import InfiniteSampler
from dermsynth.gan.train_config import TrainConfig, config_dict
from dermsynth.gan.train_data import TrainingData, load_training_data
from dermsynth.gan.training_snapshot import TickStats
from dermsynth.gan.training_state import (
    latest_state,
    list_states,
    rng_state,
    save_training_state,
    set_rng_state,
    state_path,
)

#: Training states kept in a run directory (the newest; an older one is a fallback if the newest is torn).
KEEP_STATES = 2


@dataclasses.dataclass
class Counters:
    cur_nimg: int = 0
    cur_tick: int = 0
    batch_idx: int = 0
    tick_start_nimg: int = 0


@dataclasses.dataclass
class Run:
    """Everything a running training holds (built by :func:`setup`)."""

    cfg: TrainConfig
    run_dir: Path
    device: torch.device
    data: TrainingData
    sampler: InfiniteSampler
    G: torch.nn.Module
    D: torch.nn.Module
    G_ema: torch.nn.Module
    augment_pipe: AugmentPipe | None
    ada: AdaController | None
    loss: StyleGAN2Loss
    opts: dict[str, torch.optim.Optimizer]
    phases: list[ts.Phase]
    frozen_d: set[str]
    stats: TickStats
    writer: StatsWriter
    counters: Counters
    log: Callable[[str], None]
    tb: Any = None
    start_time: float = 0.0
    tick_start_time: float = 0.0
    elapsed_before: float = 0.0  # training seconds spent before a resume
    last_row: dict[str, Any] = dataclasses.field(default_factory=dict)
    hooks: dict[str, Callable] = dataclasses.field(default_factory=dict)


# ===================================================================================================
# Setup
# ===================================================================================================
def make_logger(run_dir: Path, echo: Callable[[str], None] | None = print) -> Callable[[str], None]:
    """A function that appends a line to ``log.txt`` (rank 0 only) and echoes it."""

    def log(msg: str) -> None:
        if not dist.is_main():
            return
        with open(run_dir / "log.txt", "a", encoding="utf-8") as f:
            f.write(msg + "\n")
        if echo is not None:
            echo(msg)

    return log


def configure_backends(cfg: TrainConfig, device: torch.device) -> None:
    """TF32 switch and cuDNN benchmark on CUDA."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = cfg.tf32
        torch.backends.cudnn.allow_tf32 = cfg.tf32
        torch.backends.cudnn.benchmark = True


def setup(
    cfg: TrainConfig,
    run_dir: str | os.PathLike,
    data: TrainingData | None = None,
    echo: Callable[[str], None] | None = print,
    build: Callable[[TrainConfig, int], tuple[torch.nn.Module, torch.nn.Module]] | None = None,
) -> Run:
    """Build a run in ``run_dir``: fresh, transferred from ``--resume``, or continued from its latest state."""
    run_dir = Path(run_dir)
    if dist.is_main():
        run_dir.mkdir(parents=True, exist_ok=True)
    dist.barrier()
    log = make_logger(run_dir, echo)
    # "cuda" under torchrun means this rank's GPU (cuda:LOCAL_RANK), which dist.device("auto") picks
    device = dist.device("auto" if cfg.device == "cuda" and torch.cuda.is_available() else cfg.device)
    configure_backends(cfg, device)
    data = (
        data if data is not None else load_training_data(cfg.data, cond=cfg.cond, mirror=cfg.mirror, warn=log)
    )
    if cfg.cond and data.c_dim > cfg.c_dim:
        raise ValueError(f"{cfg.data}: labels need c_dim {data.c_dim}, the config has {cfg.c_dim}")
    data.c_dim = cfg.c_dim if cfg.cond else 0  # the config decides (a skipped image may hide a class)
    _check_config(cfg, run_dir)

    torch.manual_seed(derive_seed(cfg.seed, "init"))  # same initial weights on every rank
    G, D = (build or ts.build_training_networks)(cfg, data.c_dim)
    G, D = G.to(device).train(), D.to(device).train()
    if cfg.channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    G_ema = ts.ema_copy(G)
    G.requires_grad_(False)
    D.requires_grad_(False)

    augment_pipe, ada = None, None
    if cfg.aug != "noaug":
        augment_pipe = (
            make_augment_pipe(cfg.augpipe, cfg.augment_impl, p=cfg.p).to(device).train().requires_grad_(False)
        )
        if cfg.aug == "ada":
            ada = AdaController(cfg.target, cfg.ada_kimg, cfg.ada_interval, cfg.p_max)
    stats = TickStats(device)
    loss = StyleGAN2Loss(
        G,
        D,
        LossConfig(cfg.gamma, cfg.style_mixing, cfg.pl_weight),
        augment_pipe=augment_pipe,
        report=stats.report,
        on_real_logits=ada.accumulate if ada is not None else None,
    )
    if cfg.compile:
        loss.synthesis_main = torch.compile(G.synthesis)
        loss.D_main = torch.compile(D)
    adam = ts.adam_settings(cfg)
    opts = {"G": ts.make_optimizer(G, adam["G"]), "D": ts.make_optimizer(D, adam["D"])}
    run = Run(
        cfg=cfg,
        run_dir=run_dir,
        device=device,
        data=data,
        sampler=InfiniteSampler(len(data), seed=cfg.seed),
        G=G,
        D=D,
        G_ema=G_ema,
        augment_pipe=augment_pipe,
        ada=ada,
        loss=loss,
        opts=opts,
        phases=ts.make_phases(cfg),
        frozen_d=set(ts.frozen_d_parameters(D, cfg.freezed)),
        stats=stats,
        writer=StatsWriter(run_dir / "stats.jsonl" if dist.is_main() else None),
        counters=Counters(),
        log=log,
    )
    state = latest_state(run_dir, warn=log)
    if state is not None:
        restore_state(run, state)
    else:
        if cfg.resume:
            transfer(run, cfg.resume)
        broadcast_parameters(run)
        if dist.is_main():
            save_config(cfg, run_dir)
    _open_tensorboard(run)
    run.start_time = run.tick_start_time = time.time()
    return run


def _check_config(cfg: TrainConfig, run_dir: Path) -> None:
    """A run directory belongs to one configuration (``kimg``, ``metrics`` and ``device`` may change)."""
    p = run_dir / "config.json"
    if not p.exists():
        return
    from dermsynth.core.config import load_config

    old = load_config(p)
    new = config_dict(cfg)
    diff = sorted(k for k in new if k not in ts.VOLATILE_OPTIONS and _jsonish(old.get(k)) != _jsonish(new[k]))
    if diff:
        raise ValueError(f"{p}: this run directory was made with different options {diff}; use another --out")


def _jsonish(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def transfer(run: Run, path: str) -> None:
    """``--resume NETWORK``: start G, D, G_ema from an exported network (matching names and shapes)."""
    src = ts.load_transfer_source(path)
    for name, module in (("G", run.G), ("D", run.D), ("G_ema", run.G_ema)):
        sd = src.get(name) or (src.get("G_ema") if name == "G" else src.get("G") if name == "G_ema" else None)
        if sd is None:
            run.log(f"--resume {path}: no {name} in the file; {name} starts from scratch")
            continue
        copied, skipped = ts.copy_matching(sd, module)
        run.log(
            f"--resume {path}: {name} copied {len(copied)} tensors, kept {len(skipped)} new ({skipped[:4]}...)"
        )


def broadcast_parameters(run: Run) -> None:
    """Rank 0's weights to every rank (identical anyway when built from the same seed)."""
    if not dist.is_initialized():
        return
    for module in (run.G, run.D, run.G_ema):
        for t in list(module.parameters()) + list(module.buffers()):
            torch.distributed.broadcast(t.data, src=0)


def _open_tensorboard(run: Run) -> None:
    if not dist.is_main():
        return
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional on lean GPU boxes
        run.log("tensorboard not installed: no TensorBoard events")
        return
    run.tb = SummaryWriter(
        str(run.run_dir), purge_step=run.counters.cur_nimg + 1 if run.counters.cur_nimg else None
    )


# ===================================================================================================
# State
# ===================================================================================================
def collect_state(run: Run) -> dict[str, Any]:
    """The training state as tensors and plain containers (see training_state)."""
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
        "elapsed": run.elapsed_before + (time.time() - run.start_time),
        "world_size": dist.world_size(),
    }


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
    set_rng_state(state["rng"])
    run.counters = Counters(**state["counters"])
    run.elapsed_before = float(state["elapsed"])
    if dist.is_main():
        truncate_stats(run.run_dir / "stats.jsonl", run.counters.cur_tick - 1)
    run.log(f"resumed from kimg {run.counters.cur_nimg / 1000:.3f} (tick {run.counters.cur_tick})")


def truncate_stats(path: Path, last_tick: int) -> None:
    """Keep only the stats lines of ticks <= ``last_tick`` (and no torn trailing line)."""
    from dermsynth.core.io import atomic_write_text
    from dermsynth.core.stats import read_jsonl

    if not path.exists():
        return
    import json

    rows = [r for r in read_jsonl(path) if r.get("tick", -1) <= last_tick]
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))


# ===================================================================================================
# Step
# ===================================================================================================
def seed_step(cfg: TrainConfig, batch_idx: int) -> None:
    """Global RNGs as a function of (seed, step, rank): resumed and uninterrupted runs agree."""
    s = derive_seed(cfg.seed, "step", batch_idx, dist.rank())
    torch.manual_seed(s)
    np.random.seed(s % (2**32))
    random.seed(s)


def fetch_batch(run: Run) -> tuple[torch.Tensor, torch.Tensor]:
    """This rank's reals for the current global batch (sampler addressed by image count)."""
    cfg = run.cfg
    idx = run.sampler.rank_indices(run.counters.cur_nimg, cfg.batch, dist.rank(), dist.world_size())
    img, c = run.data.batch(idx, run.device)
    if cfg.channels_last:
        img = img.contiguous(memory_format=torch.channels_last)
    return img, c


def sample_gen_c(run: Run, n: int) -> torch.Tensor:
    """Generator classes drawn like the data's labels."""
    if not run.data.c_dim:
        return torch.zeros(n, 0, device=run.device)
    labels = run.data.labels[np.random.randint(len(run.data.labels), size=n)]
    return run.data.one_hot(labels, run.device)


def sync_gradients(module: torch.nn.Module, frozen: set[str] = frozenset()) -> None:
    """Average gradients over ranks with one all-reduce; replace NaN/Inf like the official code."""
    # Parameters without a gradient are the same on every rank (same graph), so they can be skipped.
    params = [p for name, p in module.named_parameters() if name not in frozen and p.grad is not None]
    if not params:
        return
    flat = torch.cat([p.grad.flatten() for p in params])
    if dist.is_initialized():
        torch.distributed.all_reduce(flat)
        flat /= dist.world_size()
    torch.nan_to_num(flat, nan=0, posinf=1e5, neginf=-1e5, out=flat)
    for p, g in zip(params, flat.split([p.numel() for p in params]), strict=True):
        p.grad = g.view_as(p)


def run_phase(run: Run, phase: ts.Phase, real: torch.Tensor, real_c: torch.Tensor) -> None:
    """One phase: zero grads, accumulate over micro-batches, average over ranks, Adam step.

    As in the official loop each micro-batch's loss is its mean times the phase interval, and the
    gradients of the rounds are summed (not averaged); processes average (DDP).
    """
    cfg = run.cfg
    module = run.G if phase.module == "G" else run.D
    frozen = run.frozen_d if phase.module == "D" else set()
    opt = run.opts[phase.module]
    per_gpu = cfg.batch // dist.world_size()
    rounds = per_gpu // cfg.batch_gpu
    gen_z = torch.randn(per_gpu, run.G.z_dim, device=run.device)
    gen_c = sample_gen_c(run, per_gpu)
    opt.zero_grad(set_to_none=True)
    ts.set_trainable(module, True, frozen)
    for r in range(rounds):
        sl = slice(r * cfg.batch_gpu, (r + 1) * cfg.batch_gpu)
        run.loss.accumulate_gradients(
            phase.name, real[sl], real_c[sl], gen_z[sl], gen_c[sl], gain=phase.interval
        )
    ts.set_trainable(module, False)
    sync_gradients(module, frozen)
    opt.step()


def update_ema(run: Run) -> None:
    """G_ema <- lerp(G, G_ema, beta), beta = 0.5 ** (batch / ema_nimg), ema_nimg ramped up."""
    cfg = run.cfg
    ema_nimg = cfg.ema_kimg * 1000
    if cfg.ema_rampup is not None:
        ema_nimg = min(ema_nimg, run.counters.cur_nimg * cfg.ema_rampup)
    beta = 0.5 ** (cfg.batch / max(ema_nimg, 1e-8))
    with torch.no_grad():
        ema, cur = list(run.G_ema.parameters()), list(run.G.parameters())
        torch._foreach_lerp_(ema, cur, 1.0 - beta)  # p_ema + (1 - beta) (p - p_ema), one fused call
        for b_ema, b in zip(run.G_ema.buffers(), run.G.buffers(), strict=True):
            b_ema.copy_(b)


def training_step(run: Run) -> None:
    """One global minibatch: every due phase, EMA, counters, ADA."""
    c = run.counters
    seed_step(run.cfg, c.batch_idx)
    real, real_c = fetch_batch(run)
    for phase in run.phases:
        if c.batch_idx % phase.interval == 0:
            run_phase(run, phase, real, real_c)
    update_ema(run)
    c.cur_nimg += run.cfg.batch
    c.batch_idx += 1
    if run.ada is not None and c.batch_idx % run.cfg.ada_interval == 0:
        run.ada.update(run.augment_pipe, run.cfg.batch, reduce=_sum_over_ranks)
    if "step" in run.hooks:
        run.hooks["step"](run)


def _sum_over_ranks(t: torch.Tensor) -> torch.Tensor:
    if not dist.is_initialized():
        return t
    backend_dev = (
        torch.device("cuda", torch.cuda.current_device())
        if torch.distributed.get_backend() == "nccl"
        else "cpu"
    )
    t = t.to(backend_dev)
    torch.distributed.all_reduce(t)
    return t.cpu()


# ===================================================================================================
# Maintenance
# ===================================================================================================
def tick_done(run: Run) -> bool:
    c = run.counters
    return c.cur_tick == 0 or c.cur_nimg >= c.tick_start_nimg + run.cfg.tick * 1000


def maintenance(run: Run, done: bool) -> dict[str, Any]:
    """Close a tick: stats, log, TensorBoard; every ``snap`` ticks images, network, state and metrics."""
    from dermsynth.gan import training_snapshot as snap

    with _preserved_rng():
        row = snap.tick_stats(run)
        run.last_row = row
        if done or run.counters.cur_tick % run.cfg.snap == 0:
            snap.write_image_grid(run)
            snap.write_network(run)
            run.counters.tick_start_nimg = run.counters.cur_nimg
            run.counters.cur_tick += 1
            save_state(run)
            snap.run_metrics(run)
        else:
            run.counters.tick_start_nimg = run.counters.cur_nimg
            run.counters.cur_tick += 1
    run.tick_start_time = time.time()
    return row


def save_state(run: Run) -> None:
    """Write ``training-state-{kimg}.pt`` (rank 0); keep only the newest ``KEEP_STATES`` files."""
    state = collect_state(run)  # every rank joins nothing here; only rank 0 writes
    if dist.is_main():
        kimg = run.counters.cur_nimg // 1000
        save_training_state(state_path(run.run_dir, kimg), state)
        for _, old in list_states(run.run_dir)[KEEP_STATES:]:  # ~1 GB each at 256 px: keep the newest
            old.unlink(missing_ok=True)
    dist.barrier()


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


# ===================================================================================================
# Loop
# ===================================================================================================
def train(run: Run, progress: Callable[[Run], None] | None = None) -> Run:
    """Train until ``cfg.kimg``; ``progress(run)`` is called after every step (e.g. a rich bar)."""
    total = int(run.cfg.kimg * 1000)
    if run.counters.cur_nimg == 0 and run.counters.cur_tick == 0:
        run.log(f"training for {run.cfg.kimg} kimg in {run.run_dir}")
    while run.counters.cur_nimg < total:
        training_step(run)
        done = run.counters.cur_nimg >= total
        if progress is not None:
            progress(run)
        if done or tick_done(run):
            maintenance(run, done)
    if run.tb is not None:
        run.tb.close()
    return run
