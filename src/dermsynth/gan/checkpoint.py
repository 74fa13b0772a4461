"""Network export format: ``NAME.safetensors`` (weights) + ``NAME.json`` (how to rebuild them).

docs/architecture.md R5: checkpoints are state dicts, never pickled code (edm2 ``CheckpointIO``, nanoGPT
``model_args``). The safetensors file holds the state dicts of up to three networks with keys prefixed
``G.``, ``D.`` and ``G_ema.``; parameter and buffer names are the official StyleGAN2-ADA ones. The JSON
file names each network's class (from a registry, not a dotted path) and constructor arguments, plus
resolution, class names and provenance. Both files are written atomically.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dermsynth.core.io import atomic_path, atomic_write_json, sha256_file
from dermsynth.core.manifest import CLASS_NAMES
from dermsynth.gan.networks import Discriminator, Generator

FORMAT = "dermsynth-stylegan2-ada"
FORMAT_VERSION = 1
#: Registry of network classes a checkpoint may name (no dotted import paths).
NETWORK_CLASSES: dict[str, type[nn.Module]] = {"Generator": Generator, "Discriminator": Discriminator}
NETWORK_KEYS = ("G", "D", "G_ema")


def network_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """``NAME``, ``NAME.safetensors`` or ``NAME.json`` -> (weights path, json path)."""
    p = Path(path)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")


KIND = "generator"
SHIPPED_STEM = "network"  # a shipped generator's folder holds network.safetensors + network.json


def resolve_network(path: str | os.PathLike) -> Path:
    """A network given as a path (stem, .safetensors or .json) or a shipped model's name
    (``isic2017-gen``, see ``dermsynth.models``; its files' sha256 are checked) -> a local stem."""
    weights_path, json_path = network_paths(path)
    if Path(path).exists() or weights_path.exists() or json_path.exists():
        return Path(path)
    from dermsynth.models import list_models, resolve_spec

    if str(path) in list_models():
        return resolve_spec(str(path), kind=KIND) / SHIPPED_STEM
    return Path(path)


def default_class_names(c_dim: int) -> list[str]:
    return list(CLASS_NAMES) if c_dim == len(CLASS_NAMES) else [str(i) for i in range(c_dim)]


def _state(net: nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v.detach().to("cpu").contiguous().clone() for k, v in net.state_dict().items()}


def save_network(
    stem: str | os.PathLike,
    G: Generator | None = None,
    D: Discriminator | None = None,
    G_ema: Generator | None = None,
    meta: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write ``stem.safetensors`` + ``stem.json``; returns both paths.

    ``meta`` may hold ``class_names`` and any provenance (run directory, kimg, dataset, source file);
    it is stored under ``"meta"`` in the JSON.
    """
    from safetensors.torch import save_file

    nets = {k: n for k, n in (("G", G), ("D", D), ("G_ema", G_ema)) if n is not None}
    if not nets:
        raise ValueError("save_network: give at least one of G, D, G_ema")
    weights_path, json_path = network_paths(stem)
    tensors: dict[str, torch.Tensor] = {}
    for key, net in nets.items():
        tensors.update(_state(net, key))
    with atomic_path(weights_path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT})
    meta = dict(meta or {})
    ref = nets.get("G_ema") or nets.get("G") or nets["D"]
    c_dim = int(ref.c_dim)
    info = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "resolution": int(ref.img_resolution),
        "img_channels": int(ref.img_channels),
        "c_dim": c_dim,
        "class_names": list(meta.pop("class_names", None) or default_class_names(c_dim)),
        "networks": {k: {"class": type(n).__name__, "kwargs": n.init_kwargs} for k, n in nets.items()},
        "weights_file": weights_path.name,
        "weights_sha256": sha256_file(weights_path),
        "meta": meta,
    }
    atomic_write_json(json_path, info)
    return weights_path, json_path


def read_network_info(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON description of a saved network (clear error naming the file if missing or wrong)."""
    weights_path, json_path = network_paths(resolve_network(path))
    if not json_path.exists():
        raise FileNotFoundError(
            f"{json_path}: network description not found (expected beside {weights_path.name})"
        )
    try:
        info = json.loads(json_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{json_path}: not valid JSON ({e})") from None
    if info.get("format") != FORMAT:
        raise ValueError(
            f"{json_path}: not a dermsynth network (format {info.get('format')!r}); "
            "official StyleGAN2-ADA files must first be converted with `dermsynth gan import`"
        )
    return info


def _build(info: dict, key: str, json_path: Path) -> nn.Module:
    spec = info["networks"][key]
    cls = NETWORK_CLASSES.get(spec.get("class"))
    if cls is None:
        raise ValueError(f"{json_path}: network {key} has unknown class {spec.get('class')!r}")
    try:
        return cls(**spec["kwargs"])
    except TypeError as e:
        raise ValueError(f"{json_path}: cannot build {key} from its kwargs ({e})") from None


def load_networks(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict[str, Any]:
    """All networks of a saved file: ``{"G"?, "D"?, "G_ema"?, "info": json dict, "path": weights path}``.

    Networks come back in eval mode with gradients off; nothing is unpickled.
    """
    from safetensors.torch import load_file

    path = resolve_network(path)
    weights_path, json_path = network_paths(path)
    info = read_network_info(path)
    if not weights_path.exists():
        raise FileNotFoundError(f"{weights_path}: weights file not found")
    try:
        tensors = load_file(str(weights_path), device="cpu")
    except Exception as e:  # safetensors raises its own error types
        raise ValueError(f"{weights_path}: unreadable safetensors file ({e})") from None
    out: dict[str, Any] = {"info": info, "path": weights_path}
    for key in info["networks"]:
        net = _build(info, key, json_path)
        prefix = key + "."
        sd = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        load_state_checked(net, sd, f"{weights_path} ({key}, built from {json_path.name})")
        out[key] = net.eval().requires_grad_(False).to(device)
    return out


def load_state_checked(net: nn.Module, sd: dict[str, torch.Tensor], what: str) -> None:
    """``load_state_dict(strict=True)`` with one clear error listing missing/unexpected/mis-shaped keys."""
    own = net.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    bad = [k for k in own if k in sd and tuple(own[k].shape) != tuple(sd[k].shape)]
    if missing or unexpected or bad:
        raise ValueError(
            f"{what}: weights do not match the architecture (missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}, wrong shape {bad[:5]})"
        )
    net.load_state_dict(sd, strict=True)


def load_generator(
    path: str | os.PathLike, ema: bool = True, device: str | torch.device = "cpu"
) -> Generator:
    """The generator of a saved network (``G_ema`` when ``ema`` and present, else ``G``).

    The returned module carries ``G.network_info`` (the JSON, plus ``weights_sha256`` and ``path``).
    """
    nets = load_networks(path, device=device)
    key = "G_ema" if ema and "G_ema" in nets else "G"
    if key not in nets:
        raise ValueError(f"{nets['path']}: holds no generator (networks: {sorted(nets['info']['networks'])})")
    G = nets[key]
    G.network_info = {**nets["info"], "path": str(nets["path"]), "network_key": key}
    return G


def load_discriminator(path: str | os.PathLike, device: str | torch.device = "cpu") -> Discriminator:
    """The discriminator of a saved network."""
    nets = load_networks(path, device=device)
    if "D" not in nets:
        raise ValueError(f"{nets['path']}: holds no discriminator")
    D = nets["D"]
    D.network_info = {**nets["info"], "path": str(nets["path"])}
    return D


def latest_snapshot(folder: str | os.PathLike) -> Path:
    """The newest ``network-<kimg>.safetensors`` under ``folder`` (a training run or a folder of runs;
    the run's ``train-data`` view is not searched)."""
    folder = Path(folder)
    nets = sorted(p for p in folder.rglob("network-*.safetensors") if "train-data" not in p.parts)
    if not nets:
        raise FileNotFoundError(f"{folder}: no network-*.safetensors snapshot")
    return nets[-1]
