"""Training configuration: an official StyleGAN2-ADA ``--cfg`` preset resolved into one frozen dataclass.

Reference: Karras et al. 2020 (ADA), ``train.py`` option semantics. The per-preset hyper-parameters
(batch, minibatch-std group, channels, learning rate, R1 gamma, EMA half-life and ramp-up, mapping
depth, path-length weight, style mixing) come from the networks stage's presets
(``dermsynth.gan.presets.get_preset``: ``auto`` is computed from the resolution and process count,
batch = max(min(gpus * min(4096 // res, 32), 64), gpus), gamma = 0.0002 res^2 / batch,
ema = batch * 10 / 32 kimg); user options override them. The micro-batch per process is the official
``batch_gpu = batch // ref_gpus`` (``batch // gpus`` with ``--batch``), capped at the process's share. The resolved config is the run's identity:
it is written to ``config.json`` and hashed into the run directory name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from dermsynth.core.config import to_dict

#: Snapshot metrics the GAN stage computes itself; any other name needs ``setup(evaluate=...)``.
OWN_METRICS = ("fd_simple",)


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (written to ``config.json``)."""

    # -- data (official train.py: --data, --cond, --mirror)
    data: str = ""  # dataset folder (images/, dataset.json, manifest.csv)
    cfg: str = "auto"  # preset (--cfg): auto | stylegan2 | paper256 | paper512 | paper1024 | cifar | tiny
    res: int = 0  # image side, from the dataset
    c_dim: int = 0  # number of classes conditioned on (0 = unconditional)
    cond: bool = False  # condition on dataset.json labels
    mirror: bool = False  # add x-flipped copies of the images
    # -- length and bookkeeping
    kimg: float = 25000  # training length in thousands of real images shown to D
    tick: float = 4  # kimg per tick (a stats line); the preset's (GanPreset.tick)
    snap: int = 50  # ticks per snapshot (images, network, training state, metrics); the preset's
    # -- batch and processes
    batch: int = 0  # total minibatch over all processes (official mb)
    batch_gpu: int = 0  # micro-batch per process; gradients summed over its rounds
    gpus: int = 1  # processes (torchrun world size)
    # -- optimisation (Karras et al. 2020; StyleGAN2 lazy regularisation)
    gamma: float = 0.0  # R1 weight
    glr: float = 0.002  # G Adam learning rate (official lrate)
    dlr: float = 0.002  # D Adam learning rate (official lrate)
    betas: tuple[float, float] = (0.0, 0.99)  # Adam betas (before the lazy-regularisation correction)
    # -- architecture (the preset's; config.json also holds the G/D constructor arguments)
    map: int = 2  # mapping network depth
    mbstd: int = 4  # minibatch-std group size
    cbase: int = 32768  # channel base (official fmaps * 32768)
    cmax: int = 512  # channel max
    z_dim: int = 512  # size of the latent z
    w_dim: int = 512  # size of the intermediate latent w
    g_architecture: str = "skip"  # G output structure: orig | skip | resnet
    d_architecture: str = "resnet"  # D structure: orig | skip | resnet
    num_fp16_res: int = 4  # fp16 in the N highest-resolution blocks (0 with precision fp32)
    conv_clamp: float | None = 256  # activation clamp of the fp16 blocks (None with precision fp32)
    # -- G moving average
    ema_kimg: float = 10.0  # half-life of G_ema in kimg
    ema_rampup: float | None = 0.05  # half-life at most ema_rampup * kimg so far (None = off)
    # -- regularisation and mixing
    g_reg_interval: int = 4  # path-length penalty every N minibatches (lazy)
    d_reg_interval: int = 16  # R1 penalty every N minibatches (lazy)
    pl_weight: float = 2.0  # path-length regulariser weight
    style_mixing: float = 0.9  # probability of mixing two latents in a G pass
    # -- augmentation (Karras et al. 2020, ADA)
    aug: str = "ada"  # ada (p adjusted) | noaug | fixed (p constant)
    p: float = 0.0  # augmentation probability (start for ada, value for fixed)
    target: float = 0.6  # ADA target of E[sign(D(real))]
    p_max: float | None = None  # ours: ceiling of the ADA p (None = none, as the official)
    ada_kimg: float = 500  # kimg for p to go from 0 to 1 (official ada_kimg; 100 with resume)
    ada_interval: int = 4  # minibatches between p updates
    augpipe: str = "bgc"  # augmentation groups (official names)
    augment_impl: str = "faithful"  # faithful (official resampling) | fast (one bicubic grid_sample, ours)
    # -- transfer learning
    resume: str | None = None  # exported network (path or registry name) to start from
    freezed: int = 0  # D layers kept frozen (Freeze-D), counted from the highest resolution
    # -- metrics at snapshots
    metrics: tuple[str, ...] = ()  # metric names (fd_simple, fid10k_effnetlite, fid50k_full ...)
    # -- reproducibility and performance
    seed: int = 0  # every random draw derives from it
    precision: str = (
        "fp16"  # fp16 (official: mixed precision in the 4 highest-res blocks, CUDA only) | bf16 | fp32
    )
    channels_last: bool = False  # NHWC memory format
    tf32: bool = False  # TF32 matmuls/convolutions on CUDA
    compile: bool = False  # torch.compile the non-regularisation passes
    device: str = "auto"  # auto (cuda:LOCAL_RANK, else mps, else cpu) | cpu | cuda | cuda:N | mps
    keep: str | None = None  # a second folder that holds the newest training state (e.g. in git)


AUG_MODES = ("ada", "noaug", "fixed")
PRECISIONS = ("fp32", "fp16", "bf16")

#: Options that also override the preset before it is resolved (the rest apply after it); ``glr``
#: overrides the preset's single ``lrate``, so an unset ``dlr`` follows it.
_PRESET_OPTIONS = {"batch": "batch", "gamma": "gamma", "glr": "lrate", "map": "map", "mbstd": "mbstd",
                   "cbase": "cbase", "cmax": "cmax", "ema_kimg": "ema_kimg"}  # fmt: skip


def resolve_train_config(cfg: str, res: int, gpus: int = 1, **overrides) -> TrainConfig:
    """The preset ``cfg`` at resolution ``res`` for ``gpus`` processes, with user ``overrides`` applied.

    As in the official ``train.py``, ``--batch`` does not change the preset's gamma, EMA or mbstd group.
    ``None`` overrides are ignored, so CLI options left unset keep the preset's value.
    """
    from dermsynth.gan.presets import GanPreset, get_preset

    if res < 4 or res & (res - 1):
        raise ValueError(f"resolution must be a power of two >= 4, got {res}")
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(k for k in overrides if k not in known)
    if unknown:
        raise ValueError(f"unknown training option(s) {unknown}")
    user = {k: v for k, v in overrides.items() if v is not None}
    preset_over = {_PRESET_OPTIONS[k]: v for k, v in user.items() if k in _PRESET_OPTIONS}
    pr = get_preset(cfg, res=res, gpus=gpus, **preset_over)
    # One name per idea: every field the preset shares with TrainConfig is copied under its own name.
    shared = {f.name for f in dataclasses.fields(GanPreset)} & {
        f.name for f in dataclasses.fields(TrainConfig)
    }
    spec = {name: getattr(pr, name) for name in sorted(shared)}
    spec.update(glr=pr.lrate, dlr=pr.lrate, precision="fp16" if pr.num_fp16_res > 0 else "fp32")
    # Official micro-batch: the preset's batch over the GPUs it was tuned for (``auto``: this run's
    # GPUs), or --batch over this run's GPUs; never more than a process's share of the batch.
    batch_gpu = user["batch"] // gpus if user.get("batch") else pr.batch // pr.ref_gpus
    spec.update(batch_gpu=max(min(batch_gpu, spec["batch"] // gpus), 1))
    if user.get("resume"):  # official: react faster and skip EMA ramp-up when fine-tuning
        spec.update(ada_kimg=100, ema_rampup=None)
    spec.update(user)
    if spec["precision"] == "fp32":  # official --fp32: no fp16 blocks and no activation clamping
        spec.update(num_fp16_res=0, conv_clamp=None)
    return validate(TrainConfig(cfg=cfg, res=res, gpus=gpus, **spec))


def validate(cfg: TrainConfig) -> TrainConfig:
    """Check option consistency; clear messages naming the option."""
    if cfg.aug not in AUG_MODES:
        raise ValueError(f"--aug must be one of {AUG_MODES}, got {cfg.aug!r}")
    if cfg.precision not in PRECISIONS:
        raise ValueError(f"--precision must be one of {PRECISIONS}, got {cfg.precision!r}")
    if cfg.batch % cfg.gpus:
        raise ValueError(f"--batch {cfg.batch} must be a multiple of the number of processes ({cfg.gpus})")
    per_gpu = cfg.batch // cfg.gpus
    batch_gpu = cfg.batch_gpu or per_gpu
    if per_gpu % batch_gpu:
        raise ValueError(f"--batch-gpu {batch_gpu} must divide the per-process batch {per_gpu}")
    if cfg.aug == "fixed" and cfg.p <= 0:
        raise ValueError("--aug fixed needs --p > 0")
    if not 0 <= cfg.p <= 1 or (cfg.p_max is not None and not 0 < cfg.p_max <= 1):
        raise ValueError("--p must lie in [0, 1] and --p-max in (0, 1]")
    from dermsynth.gan.augment.fast import AUGMENT_IMPLS
    from dermsynth.gan.augment.pipe import AUGPIPE_SPECS

    if cfg.augpipe not in AUGPIPE_SPECS:
        raise ValueError(f"--augpipe must be one of {sorted(AUGPIPE_SPECS)}, got {cfg.augpipe!r}")
    if cfg.augment_impl not in AUGMENT_IMPLS:
        raise ValueError(f"--augment-impl must be one of {sorted(AUGMENT_IMPLS)}, got {cfg.augment_impl!r}")
    if cfg.freezed < 0 or cfg.kimg <= 0 or cfg.tick <= 0 or cfg.snap < 1:
        raise ValueError("--freezed must be >= 0; --kimg and --tick > 0; --snap >= 1")
    if cfg.cond and cfg.c_dim < 1:
        raise ValueError("--cond needs class labels in dataset.json (none found)")
    return dataclasses.replace(cfg, batch_gpu=batch_gpu, betas=tuple(cfg.betas), metrics=tuple(cfg.metrics))


def config_dict(cfg: TrainConfig) -> dict:
    """JSON-ready dict of the config (tuples as lists)."""
    return to_dict(cfg)
