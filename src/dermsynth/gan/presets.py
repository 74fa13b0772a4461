"""Network and training presets equal to the official StyleGAN2-ADA ``train.py --cfg`` specs.

Reference: NVlabs/stylegan2-ada-pytorch ``train.py`` (``cfg_specs``): ``auto`` (the thesis's choice)
derives batch, minibatch-std group, channel base, learning rate, R1 gamma and EMA from the
resolution and GPU count; the fixed ones are ``stylegan2``, ``paper256``, ``paper512``, ``paper1024``,
``cifar``. ``tiny`` is ours: small channels and 2 mapping layers for tests and CPU demos at 32-64 px,
with short ticks (0.25 kimg) and a snapshot every 4 ticks.
All official presets use mixed precision on the 4 highest resolutions and conv clamp 256.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from dermsynth.core.config import resolve


@dataclass(frozen=True)
class GanPreset:
    """Architecture + training hyper-parameters of one preset.

    Field names are the training options' (``TrainConfig``: ``map``, ``mbstd``, ``cbase``, ``cmax``,
    ``gamma``, ``style_mixing`` ...), one name per idea; only the networks' constructor arguments
    (:func:`network_kwargs`: ``num_layers``, ``channel_base``, ``mbstd_group_size``) keep the official
    networks' names, because they are the official pickles' ``init_kwargs``.
    """

    name: str
    ref_gpus: int = 8  # GPUs the batch/lrate were tuned for
    kimg: int = 25000  # training length in thousands of real images
    tick: float = 4  # kimg per tick (official train.py: kimg_per_tick=4)
    snap: int = 50  # ticks per snapshot (official train.py: --snap 50)
    batch: int = 32  # total minibatch (mb)
    mbstd: int = 4  # minibatch-std group size (mbstd)
    fmaps: float = 1.0  # channel multiplier: cbase = fmaps * 32768
    cbase: int = 32768  # channel base (official spec: fmaps * 32768)
    cmax: int = 512  # channel max
    lrate: float = 0.002  # Adam lr for G and D (betas 0, 0.99; eps 1e-8)
    gamma: float = 10.0  # R1 weight
    ema_kimg: float = 10.0  # half-life of G_ema in kimg
    ema_rampup: float | None = None  # EMA ramp-up ratio (None = off)
    map: int = 8  # mapping network depth
    num_fp16_res: int = 4  # mixed precision on the N highest resolutions
    conv_clamp: float | None = 256
    z_dim: int = 512
    w_dim: int = 512
    g_architecture: str = "skip"
    d_architecture: str = "resnet"
    pl_weight: float = 2.0  # path-length regulariser weight
    style_mixing: float = 0.9

    @property
    def batch_gpu(self) -> int:
        """Per-GPU batch as in the reference (mb // ref_gpus)."""
        return max(self.batch // self.ref_gpus, 1)


def _spec(name: str, ref_gpus, kimg, mb, mbstd, fmaps, lrate, gamma, ema, ramp, map_, **kw) -> GanPreset:
    return GanPreset(
        name=name, ref_gpus=ref_gpus, kimg=kimg, batch=mb, mbstd=mbstd, fmaps=fmaps,
        cbase=int(fmaps * 32768), lrate=lrate, gamma=gamma, ema_kimg=ema, ema_rampup=ramp,
        map=map_, **kw,
    )  # fmt: skip


#: Fixed presets (``auto`` is filled in from resolution and GPU count by :func:`auto_preset`).
PRESETS: dict[str, GanPreset] = {
    "stylegan2": _spec("stylegan2", 8, 25000, 32, 4, 1, 0.002, 10, 10, None, 8),
    "paper256": _spec("paper256", 8, 25000, 64, 8, 0.5, 0.0025, 1, 20, None, 8),
    "paper512": _spec("paper512", 8, 25000, 64, 8, 1, 0.0025, 0.5, 20, None, 8),
    "paper1024": _spec("paper1024", 8, 25000, 32, 4, 1, 0.002, 2, 10, None, 8),
    "cifar": _spec(
        "cifar",
        2,
        100000,
        64,
        32,
        1,
        0.0025,
        0.01,
        500,
        0.05,
        2,
        d_architecture="orig",
        pl_weight=0.0,
        style_mixing=0.0,
    ),  # fmt: skip
    "tiny": GanPreset(
        name="tiny",
        ref_gpus=1,
        kimg=100,
        batch=8,
        mbstd=4,
        fmaps=1 / 16,
        cbase=2048,
        cmax=64,
        lrate=0.0025,
        gamma=0.05,
        ema_kimg=0.5,
        ema_rampup=0.05,
        map=2,
        num_fp16_res=0,
        conv_clamp=256,
        z_dim=64,
        w_dim=64,
        tick=0.25,
        snap=4,
    ),  # fmt: skip
}
PRESET_NAMES = ["auto", *PRESETS]


def auto_preset(res: int, gpus: int = 1) -> GanPreset:
    """``--cfg auto``: batch, mbstd group, fmaps, lrate, gamma and EMA from resolution and GPU count."""
    mb = max(min(gpus * min(4096 // res, 32), 64), gpus)
    fmaps = 1 if res >= 512 else 0.5
    return _spec(
        "auto", gpus, 25000, mb, min(mb // gpus, 4), fmaps, 0.002 if res >= 1024 else 0.0025,
        0.0002 * res**2 / mb, mb * 10 / 32, 0.05, 2,
    )  # fmt: skip


def get_preset(cfg: str = "auto", res: int = 256, gpus: int = 1, **overrides) -> GanPreset:
    """The preset ``cfg`` (``auto`` resolved for ``res``/``gpus``) with field overrides applied."""
    if cfg == "auto":
        base = {"auto": auto_preset(res, gpus)}
    elif cfg in PRESETS:
        base = PRESETS
    else:
        raise ValueError(f"unknown GAN preset {cfg!r}; choose from {PRESET_NAMES}")
    if "fmaps" in overrides and "cbase" not in overrides and overrides["fmaps"] is not None:
        overrides["cbase"] = int(overrides["fmaps"] * 32768)
    return resolve(base, cfg, **overrides)


def network_kwargs(p: GanPreset, res: int, c_dim: int, img_channels: int = 3) -> tuple[dict, dict]:
    """Constructor kwargs of (Generator, Discriminator) for a preset, as ``train.py`` builds them.

    ``p`` is a :class:`GanPreset` or anything with its architecture fields under the same names (the
    training config ``gan.train.TrainConfig`` has them).
    """
    g = dict(
        z_dim=p.z_dim, c_dim=c_dim, w_dim=p.w_dim, img_resolution=res, img_channels=img_channels,
        mapping_kwargs=dict(num_layers=p.map),
        synthesis_kwargs=dict(
            channel_base=p.cbase, channel_max=p.cmax, num_fp16_res=p.num_fp16_res,
            conv_clamp=p.conv_clamp, architecture=p.g_architecture,
        ),
    )  # fmt: skip
    d = dict(
        c_dim=c_dim, img_resolution=res, img_channels=img_channels, architecture=p.d_architecture,
        channel_base=p.cbase, channel_max=p.cmax, num_fp16_res=p.num_fp16_res,
        conv_clamp=p.conv_clamp, block_kwargs={}, mapping_kwargs={},
        epilogue_kwargs=dict(mbstd_group_size=p.mbstd),
    )  # fmt: skip
    return g, d


def preset_fields() -> list[str]:
    return [f.name for f in dataclasses.fields(GanPreset)]


def preset_defaults(field: str) -> str:
    """``field``'s value in every preset, for option help: ``4 (tiny 0.25)`` -- the common value
    (``auto``'s, which follows the class default) and the presets that differ from it."""
    common = getattr(auto_preset(256), field)
    other = [f"{n} {getattr(p, field):g}" for n, p in PRESETS.items() if getattr(p, field) != common]
    return f"{common:g}" + (f" ({', '.join(other)})" if other else "")
