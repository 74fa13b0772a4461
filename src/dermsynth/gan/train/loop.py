"""The StyleGAN2-ADA training loop: step until ``kimg``, closing a tick every ``tick`` kimg.

Reference: Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data" (the
training procedure: ticks of ``tick`` kimg, snapshots every ``snap`` ticks). The parts:

* :func:`~dermsynth.gan.train.prepare.setup` builds (or resumes) a :class:`~dermsynth.gan.train.run.Run`;
* :func:`~dermsynth.gan.train.step.training_step` runs one minibatch through all phases, EMA and ADA;
* :func:`~dermsynth.gan.train.maintenance.maintenance` closes a tick: stats line, log, TensorBoard,
  image grid, network snapshot, training state, metrics.

Maintenance runs under saved-and-restored RNG state, so a resumed run draws exactly the numbers an
uninterrupted one draws.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator

import torch

from dermsynth.core import distributed as dist
from dermsynth.gan.train.maintenance import maintenance, tick_done
from dermsynth.gan.train.run import Run
from dermsynth.gan.train.step import training_step

#: Signals that stop a run cleanly: the current step ends, then a snapshot and the training state are
#: written (no metrics), so no step is lost. A second signal acts as the default one would.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def train(run: Run, progress: Callable[[Run], None] | None = None) -> Run:
    """Train until ``cfg.kimg``; ``progress(run)`` is called after every step (e.g. a rich bar).

    SIGTERM or SIGINT (Ctrl-C) ends the run after the current step with its training state written, so
    rerunning the same command continues exactly where it stopped; ``run.stopped`` is then True.
    """
    total = int(run.cfg.kimg * 1000)
    if run.counters.cur_nimg == 0 and run.counters.cur_tick == 0:
        run.log(f"training for {run.cfg.kimg} kimg in {run.run_dir}")
    with _stop_requests() as requested:
        while run.counters.cur_nimg < total:
            training_step(run)
            done = run.counters.cur_nimg >= total
            if progress is not None:
                progress(run)
            if not done and _agreed(requested(), run):
                run.stopped = True
                run.log(
                    f"stop requested: training state written at kimg {run.counters.cur_nimg / 1000:.3f}; "
                    "rerun the same command to continue"
                )
                maintenance(run, True, metrics=False)
                break
            if done or tick_done(run):
                maintenance(run, done)
    if run.tb is not None:
        run.tb.close()
    return run


def _agreed(flag: bool, run: Run) -> bool:
    """Whether any rank was asked to stop (every rank must stop at the same step)."""
    if not dist.is_initialized():
        return flag
    t = torch.tensor([float(flag)], device=run.device if run.device.type == "cuda" else "cpu")
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    return bool(t.item())


@contextlib.contextmanager
def _stop_requests() -> Iterator[Callable[[], bool]]:
    """Catch STOP_SIGNALS while training (main thread only); yields a function telling whether one came."""
    hit = {"flag": False}
    if threading.current_thread() is not threading.main_thread():
        yield lambda: hit["flag"]
        return
    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}

    def handler(signum, frame):
        hit["flag"] = True
        signal.signal(signum, previous[signum])  # a second signal is not caught

    for s in STOP_SIGNALS:
        signal.signal(s, handler)
    try:
        yield lambda: hit["flag"]
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
