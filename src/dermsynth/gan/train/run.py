"""What a running training holds (:class:`Run`), below every part of the loop that works on it.

:func:`~dermsynth.gan.train.prepare.setup` builds a :class:`Run`; :mod:`.step` advances it by one
minibatch; :mod:`.maintenance` closes ticks; :mod:`.state` turns it into a resumable training state and
back; :mod:`.loop` strings these together. Each of those modules imports this one and none imports
another's callers, so the room has no import cycle (tests/test_layering.py checks it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from dermsynth.core import distributed as dist
from dermsynth.core.stats import StatsWriter
from dermsynth.gan.augment import AdaController, AugmentPipe
from dermsynth.gan.train.build import Phase
from dermsynth.gan.train.config import TrainConfig
from dermsynth.gan.train.data import TrainingData
from dermsynth.gan.train.loss import STAT_NAMES, StyleGAN2Loss
from dermsynth.gan.train.sampler import InfiniteSampler

#: ``evaluate(G_ema, dataset_dir, names, run_dir, device=, kimg=, seed=) -> {name: {"results": {...},
#: "num": ..., "features": ...}}`` (on rank 0; ``{}`` elsewhere): the metrics driver the caller hands in
#: (``dermsynth.metrics.compute_for_training``), so that the GAN stage does not import the metrics stage
#: (which imports the GAN stage to load generators). It writes nothing; maintenance writes the rows.
Evaluate = Callable[..., dict]


@dataclasses.dataclass
class Counters:
    """Progress in images and steps; saved in the training state."""

    cur_nimg: int = 0  # real images shown to D so far (all ranks)
    cur_tick: int = 0  # ticks closed so far
    batch_idx: int = 0  # global minibatches so far (phase intervals and ADA count in these)
    tick_start_nimg: int = 0  # cur_nimg when the current tick began


@dataclasses.dataclass
class Clock:
    """Wall time of the run (``elapsed_before``: training seconds spent before a resume)."""

    start: float = 0.0
    tick_start: float = 0.0
    elapsed_before: float = 0.0


class TickStats:
    """Device-side sums and counts of the loss statistics of one tick (no host sync per step)."""

    def __init__(self, device: torch.device):
        self.index = {n: i for i, n in enumerate(STAT_NAMES)}
        self.acc = torch.zeros(len(STAT_NAMES), 2, dtype=torch.float64, device=device)

    def report(self, name: str, value: torch.Tensor) -> None:
        v = value.detach().flatten().to(torch.float64)
        ok = torch.isfinite(v)  # no boolean indexing: it would sync the GPU on every report
        i = self.index[name]
        self.acc[i, 0] += torch.where(ok, v, torch.zeros_like(v)).sum()
        self.acc[i, 1] += ok.sum()

    def reduce_and_reset(self) -> dict[str, float]:
        """Means over all ranks of every statistic seen during the tick; accumulators reset."""
        acc = self.acc.clone()
        if dist.is_initialized():
            torch.distributed.all_reduce(acc)
        acc = acc.cpu()
        self.acc.zero_()
        return {n: float(acc[i, 0] / acc[i, 1]) for n, i in self.index.items() if acc[i, 1] > 0}


@dataclasses.dataclass
class Run:
    """Everything a running training holds. Fixed after setup: the config, data, networks, optimisers
    and the parts of the loss; changing as it trains: ``counters``, ``clock``, ``last_row``."""

    cfg: TrainConfig
    run_dir: Path
    device: torch.device
    data: TrainingData
    sampler: InfiniteSampler  # addressed by image count, so a resume continues the same order
    G: torch.nn.Module
    D: torch.nn.Module
    G_ema: torch.nn.Module
    augment_pipe: AugmentPipe | None  # None with aug=noaug
    ada: AdaController | None  # None unless aug=ada
    loss: StyleGAN2Loss
    opts: dict[str, torch.optim.Optimizer]  # "G", "D"
    phases: list[Phase]  # Gmain, Greg, Dmain, Dreg with their intervals
    frozen_d: set[str]  # D parameters kept fixed (Freeze-D)
    stats: TickStats
    writer: StatsWriter  # stats.jsonl (rank 0)
    log: Callable[[str], None]  # log.txt (rank 0) and echo
    evaluate: Evaluate | None = None  # metrics other than fd_simple at snapshots
    tb: Any = None  # TensorBoard SummaryWriter (rank 0, when tensorboard is installed)
    counters: Counters = dataclasses.field(default_factory=Counters)
    clock: Clock = dataclasses.field(default_factory=Clock)
    last_row: dict[str, Any] = dataclasses.field(default_factory=dict)  # the last stats.jsonl line
    fd_real_feats: torch.Tensor | None = None  # fd_simple's features of the reals (computed once)
    stopped: bool = False  # ended early by SIGTERM / SIGINT, with its training state written


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
