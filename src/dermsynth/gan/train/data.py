"""Training images and labels from a dermsynth dataset directory (docs/architecture.md, Data flow).

A dataset directory holds ``images/*.png`` and ``dataset.json`` (``{"labels": [[file, label], ...]}``,
the official StyleGAN2-ADA layout; ``labels`` may be ``null``) and usually ``manifest.csv``. Labels
come from ``dataset.json``, else from ``manifest.csv`` (``file``, ``label``), else every PNG under
``images/`` is taken unlabelled. Images are loaded once into memory as uint8; an unreadable image or
one of the wrong size is skipped with a warning instead of stopping the run. ``--mirror`` doubles the
dataset with x-flipped copies (index ``i + n`` is image ``i`` flipped), as in the official code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from dermsynth.core.io import read_rgb


class TrainingData:
    """In-memory uint8 images [N, C, H, W] and integer labels (-1 = unlabelled)."""

    def __init__(
        self, images: np.ndarray, labels: np.ndarray, files: list[str], mirror: bool = False, c_dim: int = 0
    ):
        self.images, self.labels, self.files = images, labels, files
        self.mirror = mirror
        self.c_dim = c_dim

    @property
    def resolution(self) -> int:
        return int(self.images.shape[-1])

    @property
    def num_channels(self) -> int:
        return int(self.images.shape[1])

    def __len__(self) -> int:
        return len(self.files) * (2 if self.mirror else 1)

    def batch(self, indices: np.ndarray, device) -> tuple[torch.Tensor, torch.Tensor]:
        """Images scaled to [-1, 1] (float32) and one-hot labels [B, c_dim] for dataset ``indices``."""
        n = len(self.files)
        base = np.asarray(indices) % n
        imgs = torch.from_numpy(self.images[base]).to(device=device, dtype=torch.float32)
        flip_np = np.asarray(indices) >= n
        if flip_np.any():  # decided on the host: no device sync
            flip = torch.from_numpy(flip_np).to(device)
            imgs = torch.where(flip.view(-1, 1, 1, 1), imgs.flip(3), imgs)
        imgs = imgs / 127.5 - 1
        return imgs, self.one_hot(self.labels[base], device)

    def one_hot(self, labels: np.ndarray, device) -> torch.Tensor:
        c = torch.zeros(len(labels), self.c_dim, device=device)
        if self.c_dim:
            c[torch.arange(len(labels)), torch.as_tensor(labels, device=device).long()] = 1
        return c

    def class_frequencies(self) -> np.ndarray:
        """Label frequency (for drawing generator classes like the data's)."""
        if not self.c_dim:
            return np.ones(1)
        counts = np.bincount(self.labels, minlength=self.c_dim).astype(np.float64)
        return counts / counts.sum()


def _label_list(root: Path) -> list[tuple[str, int]]:
    ds = root / "dataset.json"
    if ds.exists():
        try:
            data = json.loads(ds.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(f"{ds}: not valid JSON ({e})") from None
        labels = data.get("labels") if isinstance(data, dict) else None
        if labels:
            return [(str(f), -1 if lab is None else int(lab)) for f, lab in labels]
    if (root / "manifest.csv").exists():
        from dermsynth.core.manifest import read_manifest

        df = read_manifest(root)
        return [
            (str(f), int(lab) if lab == lab else -1) for f, lab in zip(df["file"], df["label"], strict=True)
        ]
    files = (
        sorted((root / "images").glob("*.png")) if (root / "images").is_dir() else sorted(root.glob("*.png"))
    )
    if not files:
        raise FileNotFoundError(f"{root}: no dataset.json, manifest.csv or PNG images")
    return [(str(p.relative_to(root)), -1) for p in files]


def load_training_data(
    root: str | os.PathLike, cond: bool = False, mirror: bool = False, warn: Callable[[str], None] = print
) -> TrainingData:
    """Load a dataset directory for training; ``warn`` receives one line per skipped image."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: dataset directory not found")
    entries = _label_list(root)
    images, labels, files = [], [], []
    size = None
    for rel, lab in entries:
        path = root / rel
        try:
            img = read_rgb(path)
        except (ValueError, FileNotFoundError, OSError) as e:
            warn(f"skipping {path}: {e}")
            continue
        if img.shape[0] != img.shape[1] or img.shape[0] & (img.shape[0] - 1):
            warn(f"skipping {path}: {img.shape[1]}x{img.shape[0]} is not a square power-of-two image")
            continue
        if size is None:
            size = img.shape[0]
        if img.shape[0] != size:
            warn(f"skipping {path}: {img.shape[0]} px, the dataset's first image has {size} px")
            continue
        images.append(img.transpose(2, 0, 1))
        labels.append(lab)
        files.append(rel)
    if not images:
        raise ValueError(f"{root}: no readable training images")
    labels_arr = np.asarray(labels, dtype=np.int64)
    c_dim = 0
    if cond:
        if (labels_arr < 0).any():
            raise ValueError(
                f"{root}: --cond needs a label for every image ({int((labels_arr < 0).sum())} missing)"
            )
        c_dim = int(labels_arr.max()) + 1
    return TrainingData(np.stack(images), labels_arr, files, mirror=mirror, c_dim=c_dim)


def probe_dataset(root: str | os.PathLike, cond: bool = False) -> tuple[int, int, int]:
    """(resolution, c_dim, number of images) from the label list and the first readable image."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: dataset directory not found")
    entries = _label_list(root)
    res = None
    for rel, _ in entries:
        try:
            res = read_rgb(root / rel).shape[0]
            break
        except (ValueError, FileNotFoundError, OSError):
            continue
    if res is None:
        raise ValueError(f"{root}: no readable training images")
    labels = [lab for _, lab in entries]
    if cond and min(labels) < 0:
        raise ValueError(f"{root}: --cond needs a label for every image")
    return int(res), (max(labels) + 1 if cond else 0), len(entries)
