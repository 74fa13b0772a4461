"""Images -> tensors: transforms (torchvision v2), a dataset that survives bad images, a seeded
class-balanced sampler that shards over DDP ranks, and batched scoring.

Augmentation (training only): random resized crop, horizontal/vertical flips, right-angle rotations
(lossless: arbitrary-angle rotation would paint black corners, i.e. a fake dermoscope frame, which is
exactly the bias under study), and colour jitter.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from dermsynth.core import distributed as dist
from dermsynth.core.io import read_rgb
from dermsynth.core.seeding import torch_generator


class RandomRot90(torch.nn.Module):
    """Rotate a CHW tensor by k * 90 degrees, k uniform in {0, 1, 2, 3}."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = int(torch.randint(0, 4, ()).item())
        return torch.rot90(x, k, dims=(-2, -1)) if k else x


def make_transform(size: int, mean, std, train: bool, augment: bool = True) -> v2.Compose:
    """uint8 CHW tensor -> normalised float tensor at ``size`` x ``size``."""
    ops: list = []
    if train and augment:
        ops += [
            v2.RandomResizedCrop(size, scale=(0.6, 1.0), ratio=(0.8, 1.25), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.RandomVerticalFlip(),
            RandomRot90(),
            v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.15, hue=0.02),
        ]
    else:
        ops += [v2.Resize((size, size), antialias=True)]
    ops += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]
    return v2.Compose(ops)


class ImageTable(Dataset):
    """Rows (``path``, ``label``) of a DataFrame; an unreadable image yields ``None`` (dropped in collate).

    ``image_fn`` (optional) maps the RGB array before the transform (e.g. add/remove a frame).
    """

    def __init__(self, paths: list[str], labels: list[int], transform, image_fn=None):
        self.paths, self.labels, self.transform, self.image_fn = (
            list(paths),
            list(labels),
            transform,
            image_fn,
        )

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        try:
            rgb = read_rgb(self.paths[i])
            if self.image_fn is not None:
                rgb = self.image_fn(rgb, i)
        except (ValueError, OSError) as e:
            warnings.warn(f"skipping unreadable image: {e}", stacklevel=2)
            return None
        x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)
        return self.transform(x), float(self.labels[i]), i


def collate_skip_bad(batch):
    """Stack the good items; ``None`` items (unreadable images) are left out."""
    batch = [b for b in batch if b is not None]
    if not batch:
        return None
    x = torch.stack([b[0] for b in batch])
    y = torch.tensor([b[1] for b in batch], dtype=torch.float32)
    idx = torch.tensor([b[2] for b in batch], dtype=torch.long)
    return x, y, idx


def balanced_indices(
    labels: np.ndarray, n: int, seed: int, epoch: int, balance: bool, key: str
) -> np.ndarray:
    """``n`` training indices for one epoch: class-balanced draws with replacement (weights 1/class
    count), or a plain permutation; seeded by (seed, key, epoch) so a resumed run sees the same stream."""
    g = torch_generator(seed, "epoch", key, epoch)
    if balance:
        counts = np.bincount(labels, minlength=2).astype(np.float64)
        w = torch.from_numpy(1.0 / counts[labels])
        return torch.multinomial(w, n, replacement=True, generator=g).numpy()
    return torch.randperm(len(labels), generator=g).numpy()[:n]


def train_loader(ds: ImageTable, idx: np.ndarray, batch_size: int, workers: int) -> DataLoader:
    """Loader over this rank's share of ``idx`` (every rank draws the same ``idx``, takes rank::world)."""
    mine = idx[dist.rank() :: dist.world_size()].tolist()
    return DataLoader(
        torch.utils.data.Subset(ds, mine),
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=collate_skip_bad,
        drop_last=len(mine) > batch_size,
        persistent_workers=False,
    )


@torch.no_grad()
def predict_scores(
    model, ds: ImageTable, batch_size: int, device, workers: int = 0, amp: bool = True
) -> np.ndarray:
    """Melanoma probability (sigmoid of the logit) per item; ``nan`` for unreadable images.

    Under DDP every rank scores ``rank::world`` and the shares are gathered, so all ranks return the
    full vector.
    """
    model.eval()
    n, world, rank = len(ds), dist.world_size(), dist.rank()
    mine = list(range(rank, n, world))
    out = torch.full((len(mine),), float("nan"), dtype=torch.float64)
    pos = {j: k for k, j in enumerate(mine)}
    loader = DataLoader(
        torch.utils.data.Subset(ds, mine),
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=collate_skip_bad,
    )
    use_amp = amp and device.type == "cuda"
    for batch in loader:
        if batch is None:
            continue
        x, _, idx = batch
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            logit = model(x.to(device, non_blocking=True)).float().reshape(-1)
        for j, p in zip(idx.tolist(), torch.sigmoid(logit).double().cpu().tolist(), strict=True):
            out[pos[j]] = p
    if world == 1:
        return out.numpy()
    per = -(-n // world)
    padded = torch.full((per,), float("nan"), dtype=torch.float64, device=device)
    padded[: len(mine)] = out.to(device)
    gathered = dist.all_gather_cat(padded).cpu().numpy().reshape(world, per)
    full = np.full(n, np.nan)
    for r in range(world):
        k = len(range(r, n, world))
        full[r::world] = gathered[r, :k]
    return full
