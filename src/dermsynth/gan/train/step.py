"""One training step: a global minibatch through every due phase, then the G EMA and the ADA update.

Reference: Karras et al. 2020 (ADA) and the official ``training_loop.py`` procedure: phases Gmain,
Greg, Dmain, Dreg with lazy regularisation (a phase with interval k runs every k-th step with its loss
multiplied by k), G EMA with ramp-up (half-life ``ema_kimg``, at most ``ema_rampup * cur_nimg``), ADA
every ``ada_interval`` steps.

Determinism: before each step the global torch/numpy RNGs are re-seeded from ``(seed, step, rank)``,
so a resumed run draws exactly the numbers an uninterrupted one draws. Gradients are averaged over
ranks by one all-reduce per phase.
"""

from __future__ import annotations

import random

import numpy as np
import torch

from dermsynth.core import distributed as dist
from dermsynth.core.seeding import derive_seed
from dermsynth.gan.train.build import Phase, set_trainable
from dermsynth.gan.train.config import TrainConfig
from dermsynth.gan.train.run import Run


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


def run_phase(run: Run, phase: Phase, real: torch.Tensor, real_c: torch.Tensor) -> None:
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
    set_trainable(module, True, frozen)
    for r in range(rounds):
        sl = slice(r * cfg.batch_gpu, (r + 1) * cfg.batch_gpu)
        run.loss.accumulate_gradients(
            phase.name, real[sl], real_c[sl], gen_z[sl], gen_c[sl], gain=phase.interval
        )
    set_trainable(module, False)
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
