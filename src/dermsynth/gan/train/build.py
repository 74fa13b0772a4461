"""The parts a StyleGAN2-ADA training run is built from: networks, optimisers with lazy-regularisation
correction, phases, transfer sources with frozen D layers, and the name of the run directory.

Reference: Karras et al. 2020 (StyleGAN2, Sec. 3.1 lazy regularisation: with a penalty every k
minibatches the Adam hyper-parameters become lr * k/(k+1), beta ** (k/(k+1))); Mo et al. 2020
("Freeze the Discriminator", FreezeD) for ``--freezed``; Karras et al. 2020 (ADA) for the pipe.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from pathlib import Path

import torch

from dermsynth.core.io import sha256_json
from dermsynth.gan.train.config import TrainConfig, config_dict


@dataclasses.dataclass(frozen=True)
class Phase:
    name: str  # Gmain | Greg | Dmain | Dreg
    module: str  # "G" | "D"
    interval: int


def network_config(cfg: TrainConfig, c_dim: int) -> dict[str, dict]:
    """The constructor arguments of G and D for ``cfg``, as the official ``train.py`` builds them; written
    to ``config.json`` under ``networks``. Everything comes from ``cfg`` (the preset was resolved once,
    into it, by ``resolve_train_config``: z/w size, mapping depth, channels, architectures, fp16 blocks,
    conv clamp, minibatch-std group)."""
    from dermsynth.gan.presets import network_kwargs

    g, d = network_kwargs(cfg, cfg.res, c_dim)
    return {"G": g, "D": d}


def build_training_networks(cfg: TrainConfig, c_dim: int) -> tuple[torch.nn.Module, torch.nn.Module]:
    """G and D for ``cfg`` (:func:`network_config`); ``bf16`` sets the half dtype of the fp16 blocks."""
    from dermsynth.gan.networks import Discriminator, Generator, set_half_dtype

    kwargs = network_config(cfg, c_dim)
    G, D = Generator(**kwargs["G"]), Discriminator(**kwargs["D"])
    if cfg.precision == "bf16":
        set_half_dtype(G, "bf16")
        set_half_dtype(D, "bf16")
    return G, D


def adam_settings(cfg: TrainConfig) -> dict[str, dict]:
    """Effective Adam hyper-parameters of G and D: the lazy-regularisation correction of the official
    training loop, lr * k/(k+1) and beta ** (k/(k+1)) with k = 4 (G) and 16 (D), applies always,
    also when a regulariser's weight is 0 (``cifar``: pl_weight 0; ``--gamma 0``)."""
    out = {}
    for name, lr, k in (("G", cfg.glr, cfg.g_reg_interval), ("D", cfg.dlr, cfg.d_reg_interval)):
        ratio = k / (k + 1) if k else 1.0
        out[name] = dict(lr=lr * ratio, betas=tuple(b**ratio for b in cfg.betas), eps=1e-8)
    return out


def make_optimizer(module: torch.nn.Module, settings: dict) -> torch.optim.Adam:
    """Adam over all of ``module``'s parameters with ``settings`` from :func:`adam_settings`."""
    return torch.optim.Adam(list(module.parameters()), **settings)


def make_phases(cfg: TrainConfig) -> list[Phase]:
    """Gmain/Greg/Dmain/Dreg; a regulariser with zero weight is dropped."""
    phases = [Phase("Gmain", "G", 1)]
    if cfg.pl_weight != 0:
        phases.append(Phase("Greg", "G", cfg.g_reg_interval))
    phases.append(Phase("Dmain", "D", 1))
    if cfg.gamma != 0:
        phases.append(Phase("Dreg", "D", cfg.d_reg_interval))
    return phases


# ---------------------------------------------------------------------------------------------------
_LAYER_ORDER = {"fromrgb": 0, "conv0": 1, "conv1": 2, "skip": 3}


def frozen_d_parameters(D: torch.nn.Module, freezed: int) -> list[str]:
    """Names of D parameters in the first ``freezed`` layers counted from the highest resolution.

    Layers are counted as the official Freeze-D option counts them: per block ``b{res}`` in order of
    decreasing resolution, its ``fromrgb``, ``conv0``, ``conv1`` and ``skip`` layers.
    """
    if freezed <= 0:
        return []
    layers: dict[tuple[int, int], list[str]] = {}
    for name, _ in D.named_parameters():
        m = re.match(r"^b(\d+)\.(fromrgb|conv0|conv1|skip)\.", name)
        if m:
            layers.setdefault((-int(m.group(1)), _LAYER_ORDER[m.group(2)]), []).append(name)
    keys = sorted(layers)[:freezed]
    return [n for k in keys for n in layers[k]]


def set_trainable(module: torch.nn.Module, flag: bool, frozen: set[str] = frozenset()) -> None:
    """requires_grad for every parameter except the frozen ones (always False)."""
    for name, p in module.named_parameters():
        p.requires_grad_(flag and name not in frozen)


def copy_matching(src: dict[str, torch.Tensor], dst: torch.nn.Module) -> tuple[list[str], list[str]]:
    """Copy tensors whose name and shape match into ``dst`` (params and buffers); return (copied, skipped)."""
    own = dict(dst.named_parameters()) | dict(dst.named_buffers())
    copied, skipped = [], []
    with torch.no_grad():
        for name, t in own.items():
            s = src.get(name)
            if s is not None and tuple(s.shape) == tuple(t.shape):
                t.copy_(s.to(t.device, t.dtype))
                copied.append(name)
            else:
                skipped.append(name)
    return copied, skipped


def load_transfer_source(path: str | os.PathLike) -> dict[str, dict[str, torch.Tensor]]:
    """State dicts ``{"G": ..., "D": ..., "G_ema": ...}`` for ``--resume``.

    Accepts a dermsynth export (``NAME.safetensors`` + ``NAME.json``), an official StyleGAN2-ADA pickle
    (read by the restricted unpickler of ``gan.official``, never executing its code) or the official
    safetensors + JSON layout (``X.weights.safetensors`` + ``X.json``).
    """
    from dermsynth.gan.official import import_official

    p = Path(path)
    if p.suffix == ".pkl":
        G, D, G_ema, _ = import_official(p)
        nets = {"G": G, "D": D, "G_ema": G_ema}
    else:
        from dermsynth.gan.checkpoint import load_networks

        try:
            nets = load_networks(p)
        except (ValueError, KeyError, FileNotFoundError) as first:
            try:
                G, D, G_ema, _ = import_official(p)
            except (ValueError, KeyError, FileNotFoundError):
                raise first from None
            nets = {"G": G, "D": D, "G_ema": G_ema}
    return {k: nets[k].state_dict() for k in ("G", "D", "G_ema") if nets.get(k) is not None}


def ema_copy(G: torch.nn.Module) -> torch.nn.Module:
    G_ema = copy.deepcopy(G).eval()
    G_ema.requires_grad_(False)
    return G_ema


# ---------------------------------------------------------------------------------------------------
#: Options a run may change when it is resumed (they do not change what is trained). ``data`` is a path
#: of one machine: the dataset itself is checked by its fingerprint in the training state
#: (:func:`dermsynth.gan.train.state.data_fingerprint`), so a run moves between machines and clones.
#: ``channels_last``, ``compile`` and ``tf32`` change speed and float rounding, not the computation;
#: ``keep`` is where a copy of the state goes.
VOLATILE_OPTIONS = (
    "kimg", "metrics", "device", "data", "channels_last", "compile", "tf32", "keep"
)  # fmt: skip


def run_name(cfg: TrainConfig) -> str:
    """Directory name of a run: dataset, cfg, options, and a hash of the config without ``kimg``.

    Rerunning the same command (even with a larger ``--kimg``) lands in the same directory and resumes.
    """
    d = {k: v for k, v in config_dict(cfg).items() if k not in VOLATILE_OPTIONS}
    tag = Path(cfg.data).name or "data"
    parts = [tag, cfg.cfg, f"res{cfg.res}"]
    if cfg.cond:
        parts.append("cond")
    if cfg.mirror:
        parts.append("mirror")
    return "-".join(parts) + "-" + sha256_json(d)[:8]
