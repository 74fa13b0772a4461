"""The training room: StyleGAN2-ADA training (Karras et al. 2020) as library calls.

    from dermsynth.gan.train import plan_training, setup, train
    cfg, run_dir = plan_training("DATA", "RUNS", "auto", cond=True, kimg=10)  # preset filled from the data
    run = setup(cfg, run_dir)              # fresh, transferred (cfg.resume) or resumed from its state
    train(run, progress=lambda run: ...)   # training_step / maintenance underneath

Modules, from the bottom up (each imports only those above it in this list):

* :mod:`.config` -- :class:`TrainConfig` (official ``train.py`` names) and the preset resolution;
* :mod:`.data`, :mod:`.sampler` -- the training images and the resumable infinite sampler;
* :mod:`.loss` -- the StyleGAN2 loss with R1 and path-length regularisation;
* :mod:`.build` -- networks, optimisers (lazy-regularisation correction), phases, Freeze-D, run names;
* :mod:`.run` -- :class:`Run`, what a running training holds;
* :mod:`.state` -- the resumable training state file, and a run to / from it;
* :mod:`.prepare` -- :func:`setup`; :mod:`.step` -- one minibatch;
* :mod:`.fd_simple`, :mod:`.maintenance` -- the end of a tick; :mod:`.loop` -- :func:`train`.

The augmentation pipe lives in the sibling room ``gan.augment``. The command is ``dermsynth gan train``
(cli/gan_train.py). Heavy modules are imported on first use of a name.
"""

from __future__ import annotations

from dermsynth.core.lazy import lazy_getattr

_PUBLIC = {
    "KEEP_STATES": "state",
    "Run": "run",
    "TrainConfig": "config",
    "TrainingData": "data",
    "config_dict": "config",
    "load_training_data": "data",
    "plan_training": "prepare",
    "probe_dataset": "data",
    "resolve_train_config": "config",
    "run_name": "build",
    "save_state": "state",
    "setup": "prepare",
    "train": "loop",
    "training_step": "step",
}
__all__ = sorted(_PUBLIC)
__getattr__ = lazy_getattr(__name__, {k: f"{__name__}.{m}" for k, m in _PUBLIC.items()})
