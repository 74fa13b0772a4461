"""Setting up a training run: :func:`setup` builds a :class:`~dermsynth.gan.train.run.Run` in a run
directory -- fresh, transferred from an exported network (``resume``), or continued exactly from the
directory's latest training state.

Reference: Karras et al. 2020 (ADA) for the pipe and its controller; the parts (networks, optimisers,
phases, Freeze-D, transfer) come from :mod:`.build`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from dermsynth.core import distributed as dist
from dermsynth.core.config import load_config
from dermsynth.core.io import atomic_write_json
from dermsynth.core.seeding import derive_seed
from dermsynth.core.stats import StatsWriter
from dermsynth.gan.augment import AdaController, make_augment_pipe
from dermsynth.gan.train import build as parts
from dermsynth.gan.train.config import OWN_METRICS, TrainConfig, config_dict
from dermsynth.gan.train.data import TrainingData, load_training_data
from dermsynth.gan.train.loss import LossConfig, StyleGAN2Loss
from dermsynth.gan.train.run import Evaluate, Run, TickStats, make_logger
from dermsynth.gan.train.sampler import InfiniteSampler
from dermsynth.gan.train.state import latest_state, restore_state, seed_from_kept


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
    evaluate: Evaluate | None = None,
) -> Run:
    """Build a run in ``run_dir``: fresh, transferred from ``--resume``, or continued from its latest state.

    ``evaluate`` computes the snapshot metrics other than ``fd_simple`` (pass
    ``dermsynth.metrics.compute_for_training``).
    """
    other = [m for m in cfg.metrics if m not in OWN_METRICS]
    if other and evaluate is None:
        raise ValueError(
            f"metrics {other} need a metrics driver: pass evaluate= (dermsynth.metrics.compute_for_training)"
        )
    run_dir = Path(run_dir)
    if dist.is_main():
        run_dir.mkdir(parents=True, exist_ok=True)
    dist.barrier()
    log = make_logger(run_dir, echo)
    if cfg.keep and dist.is_main():  # a fresh clone / new machine continues from the kept state
        seed_from_kept(run_dir, cfg.keep, log=log)
    dist.barrier()
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
    G, D = parts.build_training_networks(cfg, data.c_dim)
    G, D = G.to(device).train(), D.to(device).train()
    if cfg.channels_last:  # every block NHWC, float32 ones too (networks.set_channels_last)
        from dermsynth.gan.networks import set_channels_last

        G, D = set_channels_last(G), set_channels_last(D)
    G_ema = parts.ema_copy(G)
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
    adam = parts.adam_settings(cfg)
    opts = {"G": parts.make_optimizer(G, adam["G"]), "D": parts.make_optimizer(D, adam["D"])}
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
        phases=parts.make_phases(cfg),
        frozen_d=set(parts.frozen_d_parameters(D, cfg.freezed)),
        stats=stats,
        writer=StatsWriter(run_dir / "stats.jsonl" if dist.is_main() else None),
        evaluate=evaluate,
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
            nets = {"networks": parts.network_config(cfg, data.c_dim)}
            atomic_write_json(run_dir / "config.json", {**config_dict(cfg), **nets})
    _open_tensorboard(run)
    run.clock.start = run.clock.tick_start = time.time()
    return run


def _check_config(cfg: TrainConfig, run_dir: Path) -> None:
    """A run directory belongs to one configuration (``kimg``, ``metrics`` and ``device`` may change)."""
    p = run_dir / "config.json"
    if not p.exists():
        return

    old = load_config(p)
    new = config_dict(cfg)
    diff = sorted(
        k for k in new if k not in parts.VOLATILE_OPTIONS and _jsonish(old.get(k)) != _jsonish(new[k])
    )
    if diff:
        raise ValueError(f"{p}: this run directory was made with different options {diff}; use another --out")


def _jsonish(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def transfer(run: Run, path: str) -> None:
    """``--resume NETWORK``: start G, D, G_ema from an exported network (matching names and shapes)."""
    src = parts.load_transfer_source(path)
    for name, module in (("G", run.G), ("D", run.D), ("G_ema", run.G_ema)):
        sd = src.get(name) or (src.get("G_ema") if name == "G" else src.get("G") if name == "G_ema" else None)
        if sd is None:
            run.log(f"--resume {path}: no {name} in the file; {name} starts from scratch")
            continue
        copied, skipped = parts.copy_matching(sd, module)
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


def plan_training(
    data: str | os.PathLike, out: str | os.PathLike, preset: str = "auto", **overrides: Any
) -> tuple[TrainConfig, Path]:
    """The resolved config and the run folder of a training on the dataset ``data`` under ``out``.

    The dataset's resolution and label count fill the ``preset`` (``overrides``: other
    :class:`TrainConfig` fields); ``dermsynth gan train`` and the pipeline's gan stage both start here,
    then call :func:`setup` and ``train`` (docs/architecture.md R1).
    """
    from dermsynth.gan.train.build import run_name
    from dermsynth.gan.train.config import resolve_train_config
    from dermsynth.gan.train.data import probe_dataset

    res, c_dim, _ = probe_dataset(data, cond=bool(overrides.get("cond", False)))
    cfg = resolve_train_config(
        preset, res, gpus=dist.world_size(), data=str(Path(data).resolve()), c_dim=c_dim, **overrides
    )
    return cfg, Path(out) / run_name(cfg)
