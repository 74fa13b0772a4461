"""LPIPS-VGG16 distance (Zhang et al. 2018, "The Unreasonable Effectiveness of Deep Features", eq. 1).

d(x0, x1) = sum_l mean_hw || w_l * (f0_l / |f0_l| - f1_l / |f1_l|) ||^2 over the relu1_2 .. relu5_3
activations of VGG16, inputs scaled to [-1, 1] then shifted/scaled by LPIPS' ScalingLayer. This is
the distance StyleGAN2-ADA's PPL uses (its ``vgg16.pkl`` with ``return_lpips=True``).

Weights come from local files only:
- VGG16 ImageNet backbone: torchvision's ``vgg16-397923af.pth`` (``--vgg16-weights`` /
  $DERMSYNTH_VGG16_WEIGHTS / the torch.hub checkpoint cache);
- the linear layers ``lin0..lin4`` (LPIPS v0.1 ``vgg.pth``, BSD-2): shipped inside torchmetrics, or a path.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

VGG16_FILE = "vgg16-397923af.pth"
VGG16_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"
ENV_VAR = "DERMSYNTH_VGG16_WEIGHTS"
_SLICES = (4, 9, 16, 23, 30)  # ends of relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 in vgg16.features
_CHANNELS = (64, 128, 256, 512, 512)


def find_vgg16_weights(path: str | os.PathLike | None = None) -> Path:
    """``path``, else $DERMSYNTH_VGG16_WEIGHTS, else the torch.hub cache; FileNotFoundError naming the file."""
    from dermsynth.metrics.inception import hub_checkpoint_dir

    cands = [Path(path)] if path else ([Path(os.environ[ENV_VAR])] if os.environ.get(ENV_VAR) else [])
    cands = cands or [hub_checkpoint_dir() / VGG16_FILE]
    for p in cands:
        if p.is_file():
            return p
    raise FileNotFoundError(
        f"VGG16 weights not found ({cands[0]}). Get {VGG16_FILE} (528 MB) from {VGG16_URL} "
        f"on a machine with internet and pass --vgg16-weights PATH (option vgg16_weights), set "
        f"{ENV_VAR}=PATH, or put it in {hub_checkpoint_dir()}/. Without it, use a metric in another "
        f"feature space (e.g. ppl10k_wend_effnetlite, pr10k3_effnetlite: not comparable with published values)."
    )


def find_lin_weights(path: str | os.PathLike | None = None) -> Path:
    """LPIPS v0.1 VGG linear-layer weights: ``path`` or the copy shipped with torchmetrics."""
    if path:
        p = Path(path)
    else:
        import importlib.util

        spec = importlib.util.find_spec("torchmetrics")
        if spec is None or spec.origin is None:
            raise FileNotFoundError(
                "LPIPS linear weights: torchmetrics not installed; pass --lpips-lin-weights vgg.pth"
            )
        p = Path(spec.origin).parent / "functional" / "image" / "lpips_models" / "vgg.pth"
    if not p.is_file():
        raise FileNotFoundError(f"{p}: LPIPS v0.1 linear weights (vgg.pth) not found")
    return p


class LPIPSVGG16(torch.nn.Module):
    """LPIPS distance between images in [-1, 1], [N, 3, H, W] -> [N]."""

    def __init__(self, vgg_state: dict | None = None, lin_state: dict | None = None):
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        if vgg_state is None:
            feats = make_layers(cfgs["D"], batch_norm=False)  # VGG16 .features only (no classifier)
        else:
            sd = {
                k.removeprefix("features."): v for k, v in vgg_state.items() if not k.startswith("classifier")
            }
            with torch.device("meta"):  # no random init to overwrite (minutes on a loaded CPU)
                feats = make_layers(cfgs["D"], batch_norm=False)
            feats.load_state_dict(sd, assign=True)
        bounds = (0, *_SLICES)
        self.slices = torch.nn.ModuleList(feats[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True))
        self.lins = torch.nn.ParameterList(torch.nn.Parameter(torch.ones(c)) for c in _CHANNELS)
        if lin_state is not None:
            for i, p in enumerate(self.lins):
                p.data.copy_(lin_state[f"lin{i}.model.1.weight"].flatten())
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))
        self.eval().requires_grad_(False)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Unit-normalised activations of the five VGG stages (channel dim)."""
        h = (x - self.shift) / self.scale
        out = []
        for s in self.slices:
            h = s(h)
            out.append(h / (h.square().sum(dim=1, keepdim=True).sqrt() + 1e-10))
        return out

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        f0, f1 = self.features(x0), self.features(x1)
        d = [
            ((a - b).square() * w.view(1, -1, 1, 1)).sum(1).mean((1, 2))
            for a, b, w in zip(f0, f1, self.lins, strict=True)
        ]
        return torch.stack(d).sum(0)


def load_lpips(vgg_weights: str | os.PathLike | None = None, lin_weights: str | os.PathLike | None = None):
    """(LPIPSVGG16 with local weights, info dict)."""
    vp, lp = find_vgg16_weights(vgg_weights), find_lin_weights(lin_weights)
    vgg = torch.load(vp, map_location="cpu", weights_only=True)
    lin = torch.load(lp, map_location="cpu", weights_only=True)
    net = LPIPSVGG16(vgg, lin)
    return net, {"distance": "lpips-vgg16", "vgg16_weights": str(vp), "lin_weights": str(lp)}
