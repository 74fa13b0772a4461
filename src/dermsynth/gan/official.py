"""Import and export of official StyleGAN2-ADA networks, without ever running their pickled code.

Reference: NVlabs/stylegan2-ada-pytorch network pickles (``network-snapshot-*.pkl``). Each network in
such a pickle is a ``torch_utils.persistence`` object: the pickle calls
``torch_utils.persistence._reconstruct_persistent_obj(meta)`` with ``meta = {type, version,
module_src, class_name, state}``, and the official loader ``exec``s ``module_src``. Here a restricted
unpickler (``pickle.Unpickler.find_class`` allow-list) admits only torch's tensor-rebuild functions,
a few plain containers and numpy scalars, and a stand-in for ``_reconstruct_persistent_obj`` that
just keeps ``meta``; ``module_src`` is never executed. The networks are rebuilt from ``state``:
``_init_kwargs`` gives the constructor arguments and ``_parameters`` / ``_buffers`` / ``_modules``
(recursively) give the weights under the official names, which are also ours.

Second input layout: ``X.weights.safetensors`` (keys ``G.`` / ``D.`` / ``G_ema.`` + official names)
with ``X.json`` (the reference-fixture config, or the constructor kwargs written by
:func:`export_official`). Export writes that layout back, and optionally a ``.pkl`` with the
persistent-object structure, embedding the official ``training/networks.py`` source that the user
points to (we do not ship NVIDIA code).
"""

from __future__ import annotations

import collections
import copy
import inspect
import io
import json
import os
import pickle
import types
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dermsynth.core.io import atomic_path, atomic_write_json, sha256_file
from dermsynth.gan.checkpoint import load_state_checked
from dermsynth.gan.networks import Discriminator, Generator

PERSISTENCE_VERSION = 6  # torch_utils.persistence._version of the official release
OFFICIAL_CLASSES = {"Generator": Generator, "Discriminator": Discriminator}
NETWORK_KEYS = ("G", "D", "G_ema")
_TORCH_INTERNALS = {
    "training", "_parameters", "_buffers", "_non_persistent_buffers_set", "_backward_pre_hooks",
    "_backward_hooks", "_is_full_backward_hook", "_forward_hooks", "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called", "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs",
    "_state_dict_hooks", "_state_dict_pre_hooks", "_load_state_dict_pre_hooks",
    "_load_state_dict_post_hooks", "_modules",
}  # fmt: skip
_OURS_ONLY = {"half_dtype", "init_kwargs", "network_info"}


class PersistentObject:
    """What a ``torch_utils.persistence`` object unpickles to here: its ``meta`` dict, nothing run."""

    def __init__(self, meta: dict):
        if not isinstance(meta, dict):
            raise pickle.UnpicklingError("refused: persistent object without a meta dict")
        self.meta = meta

    @property
    def class_name(self) -> str:
        return str(self.meta.get("class_name"))

    @property
    def state(self) -> dict:
        return self.meta.get("state") or {}

    def __reduce__(self):
        return (_reconstruct_persistent_obj, (self.meta,))


def _reconstruct_persistent_obj(meta: dict) -> PersistentObject:
    """Stand-in for the official function of the same name: keeps ``meta``, never execs its source."""
    return PersistentObject(meta)


class EasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict`` (a dict with attribute access)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _load_storage_from_bytes(b: bytes):
    """Stand-in for ``torch.storage._load_from_bytes``: the same bytes, read with ``weights_only``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.load(io.BytesIO(b), weights_only=True)


def _allowed_globals() -> dict[tuple[str, str], Any]:
    import torch._utils as tu

    allowed: dict[tuple[str, str], Any] = {
        ("torch._utils", "_rebuild_tensor_v2"): tu._rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor"): tu._rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): tu._rebuild_parameter,
        ("torch.storage", "_load_from_bytes"): _load_storage_from_bytes,
        ("torch", "Size"): torch.Size,
        ("torch", "device"): torch.device,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("dnnlib.util", "EasyDict"): EasyDict,
        ("dnnlib", "EasyDict"): EasyDict,
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
        ("numpy", "dtype"): np.dtype,
    }
    if hasattr(tu, "_rebuild_parameter_with_state"):
        allowed[("torch._utils", "_rebuild_parameter_with_state")] = tu._rebuild_parameter_with_state
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(mod, "scalar")] = _numpy_scalar
    return allowed


def _numpy_scalar(dtype: np.dtype, data: bytes | None = None):
    """Stand-in for numpy's scalar rebuild: plain-data dtypes only."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise pickle.UnpicklingError("refused: numpy scalar with an object dtype")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only an allow-list of globals and refuses everything else."""

    def __init__(self, file, source: str = "pickle"):
        super().__init__(file)
        self._allowed = _allowed_globals()
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        fn = self._allowed.get((module, name))
        if fn is None:
            raise pickle.UnpicklingError(
                f"{self._source}: refused: this pickle wants to run {module}.{name}, which is not a tensor, "
                "container or StyleGAN2-ADA network; it was not loaded"
            )
        return fn

    def persistent_load(self, pid):
        raise pickle.UnpicklingError(f"{self._source}: refused: unexpected persistent id {pid!r}")


def restricted_load(path: str | os.PathLike) -> Any:
    """Unpickle ``path`` with :class:`RestrictedUnpickler` (raises ValueError naming the file)."""
    with open(path, "rb") as f:
        try:
            return RestrictedUnpickler(f, source=str(path)).load()
        except pickle.UnpicklingError as e:
            msg = str(e)
            raise ValueError(
                msg if msg.startswith(str(path)) else f"{path}: not a readable pickle ({msg})"
            ) from None
        except (EOFError, pickle.PickleError, AttributeError, TypeError, IndexError) as e:
            raise ValueError(f"{path}: not a readable network pickle ({type(e).__name__}: {e})") from None


# ----------------------------------------------------------------------------------------------------
# Persistent object -> our network.


def _plain(obj: Any) -> Any:
    """EasyDicts / OrderedDicts / numpy scalars -> plain JSON-friendly Python values."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _collect_state(obj: PersistentObject, prefix: str, out: dict[str, torch.Tensor]) -> None:
    state = obj.state
    skip = set(state.get("_non_persistent_buffers_set") or ())
    for group in ("_parameters", "_buffers"):
        for name, t in (state.get(group) or {}).items():
            if t is None or (group == "_buffers" and name in skip):
                continue
            if not isinstance(t, torch.Tensor):
                raise ValueError(f"{prefix}{name}: expected a tensor, got {type(t).__name__}")
            out[prefix + name] = t.detach().to(torch.float32 if t.is_floating_point() else t.dtype)
    for name, child in (state.get("_modules") or {}).items():
        if child is None:
            continue
        if not isinstance(child, PersistentObject):
            raise ValueError(f"{prefix}{name}: sub-module is not a persistent StyleGAN2-ADA object")
        _collect_state(child, f"{prefix}{name}.", out)


def _init_kwargs(obj: PersistentObject, cls: type) -> dict:
    state = obj.state
    kwargs = _plain(dict(state.get("_init_kwargs", state.get("init_kwargs")) or {}))
    args = list(state.get("_init_args", state.get("init_args")) or ())
    if args:  # positional constructor arguments -> names
        params = [p for p in inspect.signature(cls).parameters if p != "self"]
        kwargs.update(dict(zip(params, _plain(args), strict=False)))
    return kwargs


def network_from_persistent(obj: PersistentObject, source: str = "pickle") -> nn.Module:
    """Rebuild our Generator/Discriminator from an official persistent object (weights included)."""
    if obj.meta.get("type", "class") != "class":
        raise ValueError(f"{source}: unsupported persistent object type {obj.meta.get('type')!r}")
    cls = OFFICIAL_CLASSES.get(obj.class_name)
    if cls is None:
        raise ValueError(
            f"{source}: network class {obj.class_name!r} is not a StyleGAN2-ADA Generator/Discriminator"
        )
    kwargs = _init_kwargs(obj, cls)
    try:
        net = cls(**kwargs)
    except TypeError as e:
        raise ValueError(
            f"{source}: {obj.class_name} arguments {sorted(kwargs)} not understood ({e})"
        ) from None
    sd: dict[str, torch.Tensor] = {}
    _collect_state(obj, "", sd)
    load_state_checked(net, sd, f"{source} ({obj.class_name})")
    return net


def _import_pickle(path: Path) -> tuple[dict[str, nn.Module], dict]:
    data = restricted_load(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a dict with G, D, G_ema; got {type(data).__name__}")
    nets = {}
    for key in NETWORK_KEYS:
        obj = data.get(key)
        if obj is None:
            continue
        if not isinstance(obj, PersistentObject):
            raise ValueError(f"{path}: {key} is not a StyleGAN2-ADA persistent network (TensorFlow pickle?)")
        nets[key] = network_from_persistent(obj, source=f"{path}: {key}")
    meta: dict[str, Any] = {"source_format": "official-pkl"}
    tsk = data.get("training_set_kwargs")
    if isinstance(tsk, dict):
        meta["training_set_kwargs"] = {k: v for k, v in _plain(tsk).items() if _is_jsonable(v)}
    return nets, meta


def _is_jsonable(v: Any) -> bool:
    try:
        json.dumps(v)
        return True
    except TypeError:
        return False


# ----------------------------------------------------------------------------------------------------
# Safetensors + JSON layout.


def _layout_paths(src: Path) -> tuple[Path, Path]:
    name = src.name
    for suffix in (".weights.safetensors", ".safetensors", ".json"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    stem = src.with_name(name)
    weights = stem.with_name(name + ".weights.safetensors")
    return weights, stem.with_name(name + ".json")


def kwargs_from_fixture_config(cfg: dict) -> tuple[dict, dict]:
    """(G kwargs, D kwargs) from the reference-fixture JSON keys (res, c_dim, channel_base, ...)."""
    try:
        g = dict(
            z_dim=cfg.get("z_dim", 512), c_dim=cfg["c_dim"], w_dim=cfg.get("w_dim", 512),
            img_resolution=cfg["res"], img_channels=cfg.get("img_channels", 3),
            mapping_kwargs=dict(num_layers=cfg.get("mapping_layers", 8)),
            synthesis_kwargs=dict(
                channel_base=cfg.get("channel_base", 32768), channel_max=cfg.get("channel_max", 512),
                num_fp16_res=cfg.get("num_fp16_res", 0), conv_clamp=cfg.get("conv_clamp"),
                architecture=cfg.get("g_architecture", "skip"),
            ),
        )  # fmt: skip
        d = dict(
            c_dim=cfg["c_dim"], img_resolution=cfg["res"], img_channels=cfg.get("img_channels", 3),
            architecture=cfg.get("d_architecture", "resnet"), channel_base=cfg.get("channel_base", 32768),
            channel_max=cfg.get("channel_max", 512), num_fp16_res=cfg.get("num_fp16_res", 0),
            conv_clamp=cfg.get("conv_clamp"), epilogue_kwargs=dict(mbstd_group_size=cfg.get("mbstd_group_size", 4)),
        )  # fmt: skip
    except KeyError as e:
        raise ValueError(f"config lacks required key {e}") from None
    return g, d


def _import_safetensors(src: Path) -> tuple[dict[str, nn.Module], dict]:
    from safetensors.torch import load_file

    weights, cfg_path = _layout_paths(src)
    if not weights.exists():
        raise FileNotFoundError(f"{weights}: weights file not found")
    if not cfg_path.exists():
        raise FileNotFoundError(f"{cfg_path}: config JSON not found (needed beside {weights.name})")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{cfg_path}: not valid JSON ({e})") from None
    if "G_kwargs" in cfg or "D_kwargs" in cfg:
        g_kwargs, d_kwargs = cfg.get("G_kwargs"), cfg.get("D_kwargs")
    else:
        try:
            g_kwargs, d_kwargs = kwargs_from_fixture_config(cfg)
        except ValueError as e:
            raise ValueError(f"{cfg_path}: {e}") from None
    tensors = load_file(str(weights))
    nets = {}
    for key in NETWORK_KEYS:
        prefix = key + "."
        sd = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        if not sd:
            continue
        kwargs = g_kwargs if key != "D" else d_kwargs
        if kwargs is None:
            raise ValueError(f"{cfg_path}: no constructor arguments for {key}")
        net = (Generator if key != "D" else Discriminator)(**copy.deepcopy(kwargs))
        load_state_checked(net, sd, f"{weights} ({key})")
        nets[key] = net
    if not nets:
        raise ValueError(f"{weights}: no keys prefixed G., D. or G_ema.")
    meta = {
        "source_format": "official-safetensors",
        "config": {k: v for k, v in cfg.items() if _is_jsonable(v)},
    }
    if "class_names" in cfg:
        meta["class_names"] = cfg["class_names"]
    return nets, meta


def import_official(
    src: str | os.PathLike,
) -> tuple[Generator | None, Discriminator | None, Generator | None, dict[str, Any]]:
    """Read an official network pickle or the safetensors+JSON layout -> (G, D, G_ema, meta).

    Missing networks are ``None``. ``meta`` records the source file and its sha256.
    """
    src = Path(src)
    if src.suffix == ".pkl":
        if not src.exists():
            raise FileNotFoundError(f"{src}: no such network pickle")
        nets, meta = _import_pickle(src)
        meta["source_sha256"] = sha256_file(src)
    else:
        nets, meta = _import_safetensors(src)
        meta["source_sha256"] = sha256_file(_layout_paths(src)[0])
    meta["source"] = str(src)
    if not nets:
        raise ValueError(f"{src}: holds none of G, D, G_ema")
    for net in nets.values():
        net.eval().requires_grad_(False)
    return nets.get("G"), nets.get("D"), nets.get("G_ema"), meta


# ----------------------------------------------------------------------------------------------------
# Export.


def export_official(
    out: str | os.PathLike,
    G: Generator | None = None,
    D: Discriminator | None = None,
    G_ema: Generator | None = None,
    meta: dict | None = None,
    module_src: str | os.PathLike | None = None,
) -> list[Path]:
    """Write ``OUT.weights.safetensors`` (official key names, ``G.``/``D.``/``G_ema.``) + ``OUT.json``.

    With ``module_src`` (path to the official ``training/networks.py``, which the user has) also
    write ``OUT.pkl`` in the official persistent-object structure, loadable by the official tools.
    """
    from safetensors.torch import save_file

    nets = {k: n for k, n in (("G", G), ("D", D), ("G_ema", G_ema)) if n is not None}
    if not nets:
        raise ValueError("export_official: give at least one network")
    out = Path(out)
    weights, cfg_path = _layout_paths(out)
    tensors = {
        f"{k}.{name}": t.detach().cpu().contiguous().clone()
        for k, n in nets.items()
        for name, t in n.state_dict().items()
    }
    with atomic_path(weights) as tmp:
        save_file(tensors, str(tmp))
    ref = nets.get("G_ema") or nets.get("G") or nets["D"]
    cfg = {
        "res": int(ref.img_resolution),
        "c_dim": int(ref.c_dim),
        "img_channels": int(ref.img_channels),
        "G_kwargs": (nets.get("G_ema") or nets.get("G")).init_kwargs
        if ("G" in nets or "G_ema" in nets)
        else None,
        "D_kwargs": nets["D"].init_kwargs if "D" in nets else None,
        **{k: v for k, v in (meta or {}).items() if _is_jsonable(v)},
    }
    atomic_write_json(cfg_path, cfg)
    written = [weights, cfg_path]
    if module_src is not None:
        pkl = weights.with_name(weights.name[: -len(".weights.safetensors")] + ".pkl")
        write_official_pickle(
            pkl, nets, Path(module_src), training_set_kwargs=(meta or {}).get("training_set_kwargs")
        )
        written.append(pkl)
    return written


def to_persistent(module: nn.Module, module_src: str, init_kwargs: dict | None = None) -> PersistentObject:
    """Our module -> the persistent-object meta the official loader rebuilds (recursively)."""
    state: dict[str, Any] = {}
    for k, v in module.__dict__.items():
        if k in _TORCH_INTERNALS or k in _OURS_ONLY:
            continue
        if isinstance(v, int | float | str | bool | list | tuple | type(None)):
            state[k] = copy.deepcopy(v)
    state["training"] = False
    state["_parameters"] = collections.OrderedDict(
        (k, None if p is None else nn.Parameter(p.detach().cpu().clone(), requires_grad=False))
        for k, p in module._parameters.items()
    )
    state["_buffers"] = collections.OrderedDict(
        (k, None if b is None else b.detach().cpu().clone()) for k, b in module._buffers.items()
    )
    state["_non_persistent_buffers_set"] = set()
    for hooks in (
        "_backward_hooks",
        "_forward_hooks",
        "_forward_pre_hooks",
        "_state_dict_hooks",
        "_load_state_dict_pre_hooks",
    ):
        state[hooks] = collections.OrderedDict()
    state["_modules"] = collections.OrderedDict(
        (k, None if m is None else to_persistent(m, module_src)) for k, m in module._modules.items()
    )
    state["_init_args"] = ()
    state["_init_kwargs"] = copy.deepcopy(
        init_kwargs if init_kwargs is not None else getattr(module, "init_kwargs", {})
    )
    meta = dict(
        type="class",
        version=PERSISTENCE_VERSION,
        module_src=module_src,
        class_name=type(module).__name__,
        state=state,
    )
    return PersistentObject(meta)


class _OfficialPickler(pickle._Pickler):  # pure-Python pickler: lets us name the official globals
    _NAMES = {
        id(_reconstruct_persistent_obj): ("torch_utils.persistence", "_reconstruct_persistent_obj"),
        id(EasyDict): ("dnnlib.util", "EasyDict"),
    }

    def save_global(self, obj, name=None):
        ref = self._NAMES.get(id(obj))
        if ref is None:
            return super().save_global(obj, name)
        self.save(ref[0])
        self.save(ref[1])
        self.write(pickle.STACK_GLOBAL)
        self.memoize(obj)

    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[types.FunctionType] = save_global
    dispatch[type] = save_global


def write_official_pickle(
    path: Path, nets: dict[str, nn.Module], module_src: Path, training_set_kwargs: dict | None = None
) -> Path:
    """Write a network pickle with the official structure (G, D, G_ema as persistent objects)."""
    if not module_src.is_file():
        raise FileNotFoundError(
            f"{module_src}: official training/networks.py not found (needed to write a .pkl)"
        )
    src_text = module_src.read_text(encoding="utf-8")
    data: dict[str, Any] = {"training_set_kwargs": dict(training_set_kwargs or {})}
    for key, net in nets.items():
        data[key] = to_persistent(net, src_text)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            _OfficialPickler(f, protocol=4).dump(data)
    return path
