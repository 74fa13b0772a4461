"""A small hair segmentation network trained on real twins (issue 19).

Rendered hair on real skin (``clean.twins``) gives pixel labels for free, so a small U-Net (Ronneberger
et al. 2015; three scales, 8-16-24 channels, 24k parameters, < 0.1 MB) learns what on real skin is
hair and what is pigment network, vessels, bubbles or fabric. Its mask replaces the black-hat mask
only where it beats it on held-out twins (``benchmarks/clean_real.py``).

Weights: ``safetensors`` state dict + a JSON card (``<name>.json``: data, command, hardware, time,
figures). ``load_hairnet(path)`` reads a local file and fails clearly when it is missing; nothing is
downloaded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

#: the shipped weights (trained by ``dermsynth.clean.hairnet_train``), beside this package
WEIGHTS = Path(__file__).parent / "weights" / "hairnet.safetensors"
CHANNELS = (8, 16, 24)
THRESHOLD = 0.5


def build(channels: tuple[int, ...] = CHANNELS):
    """The U-Net: conv blocks at full, 1/2 and 1/4 resolution, skip connections, one logit per pixel."""
    import torch
    from torch import nn

    def block(cin: int, cout: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )

    class UNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            c1, c2, c3 = channels
            self.e1, self.e2, self.e3 = block(3, c1), block(c1, c2), block(c2, c3)
            self.u2, self.d2 = nn.ConvTranspose2d(c3, c2, 2, stride=2), block(2 * c2, c2)
            self.u1, self.d1 = nn.ConvTranspose2d(c2, c1, 2, stride=2), block(2 * c1, c1)
            self.head = nn.Conv2d(c1, 1, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [N, 3, H, W] in [0, 1], H, W % 4 == 0
            x1 = self.e1(x)
            x2 = self.e2(nn.functional.max_pool2d(x1, 2))
            x3 = self.e3(nn.functional.max_pool2d(x2, 2))
            y = self.d2(torch.cat([self.u2(x3), x2], 1))
            y = self.d1(torch.cat([self.u1(y), x1], 1))
            return self.head(y)[:, 0]  # [N, H, W] logits

    return UNet()


def to_tensor(rgbs: list[np.ndarray]):
    """uint8 [H, W, 3] images -> float tensor [N, 3, H, W] in [0, 1]."""
    import torch

    return torch.from_numpy(np.stack(rgbs)).permute(0, 3, 1, 2).float().div_(255.0)


def load_hairnet(path: str | os.PathLike = WEIGHTS):
    """(model in eval mode, card dict) from a local ``.safetensors`` file and its ``.json`` card."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: hair network weights not found; train them with "
            "`python -m dermsynth.clean.hairnet_train --out PATH` or pass the path of a local copy"
        )
    card_path = path.with_suffix(".json")
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    net = build(tuple(card.get("channels", CHANNELS)))
    try:
        net.load_state_dict(load_file(str(path)))
    except RuntimeError as e:
        raise ValueError(
            f"{path}: not a hair network state dict for channels {card.get('channels', CHANNELS)}: {e}"
        ) from e
    return net.eval(), card


def hair_probability(net, rgb: np.ndarray) -> np.ndarray:
    """Per-pixel hair probability [H, W] (float32); the image is padded to a multiple of 4."""
    import torch

    h, w = rgb.shape[:2]
    ph, pw = (-h) % 4, (-w) % 4
    x = np.pad(rgb, ((0, ph), (0, pw), (0, 0)), mode="reflect") if ph or pw else rgb
    with torch.inference_mode():
        p = torch.sigmoid(net(to_tensor([x])))[0, :h, :w]
    return p.numpy().astype(np.float32)
