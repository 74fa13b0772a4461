"""VGG16 fc2 features for precision/recall (Kynkaanniemi et al. 2019, "Improved Precision and Recall").

The k-NN precision/recall of StyleGAN2-ADA (``pr50k3_full``) runs in the 4096-d fc2 features (after
ReLU) of an ImageNet VGG16 (Simonyan & Zisserman 2015) at 224 x 224. We build torchvision's VGG16 from
its local weights file ``vgg16-397923af.pth`` (the same file LPIPS uses, lpips.find_vgg16_weights),
resize uint8 images to 224 with the TF1-compatible bilinear resize and normalise with the ImageNet
mean/std, as torch-fidelity's ``vgg16`` extractor (its ``fc2_relu`` feature) does. NVIDIA's metric
uses its own TorchScript port of the original VGG16 weights; torchvision's retrained weights give
somewhat different (reportedly higher) precision and recall, so compare values within dermsynth.
"""

from __future__ import annotations

import os

import torch

INPUT_SIZE = 224
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class VGG16Features(torch.nn.Module):
    """uint8 [N, 3, H, W] -> float32 [N, 4096] fc2 features after ReLU."""

    def __init__(self, state_dict: dict | None = None):
        super().__init__()
        import torchvision

        if state_dict is None:
            net = torchvision.models.vgg16()
        else:
            with torch.device("meta"):  # no random init of 138M parameters to overwrite
                net = torchvision.models.vgg16()
            net.load_state_dict(state_dict, assign=True)
        self.features, self.avgpool = net.features, net.avgpool
        self.fc = net.classifier[:4]  # fc1, ReLU, Dropout (identity in eval), fc2
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1) * 255)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1) * 255)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

        x = interpolate_bilinear_2d_like_tensorflow1x(
            x.float(), size=(INPUT_SIZE, INPUT_SIZE), align_corners=False
        )
        x = (x - self.mean) / self.std
        x = self.avgpool(self.features(x)).flatten(1)
        return torch.relu(self.fc(x))


def load_vgg16_features(path: str | os.PathLike | None = None):
    """(VGG16Features in eval mode, info) from the local torchvision weights file (never downloaded)."""
    from dermsynth.metrics.lpips import find_vgg16_weights

    p = find_vgg16_weights(path)
    try:
        net = VGG16Features(torch.load(p, map_location="cpu", weights_only=True))
    except (RuntimeError, KeyError) as e:
        raise ValueError(f"{p}: not torchvision's VGG16 state dict ({e})") from None
    st = p.stat()
    info = {
        "model": "vgg16-fc2-relu",
        "weights": "torchvision vgg16-397923af",
        "path": str(p.resolve()),
        "size_bytes": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "input": "uint8, TF1 bilinear resize to 224, ImageNet mean/std",
    }
    return net.eval(), info
