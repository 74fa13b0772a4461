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

from collections.abc import Callable

from dermsynth.gan.train.maintenance import maintenance, tick_done
from dermsynth.gan.train.run import Run
from dermsynth.gan.train.step import training_step


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
