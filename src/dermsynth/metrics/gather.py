"""Pieces the metrics driver and the metric kinds share: gathering per-rank rows, the output folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dermsynth.core import distributed as dist


def gather_rows(arr: np.ndarray, n_pad: int, device) -> np.ndarray:
    """Pad this rank's rows to ``n_pad`` and concatenate every rank's (rank-major order)."""
    t = torch.zeros((n_pad, *arr.shape[1:]), dtype=torch.from_numpy(arr[:0]).dtype, device=device)
    t[: len(arr)] = torch.from_numpy(arr).to(device)
    return dist.all_gather_cat(t).cpu().numpy()


def rank_major_to_index(num: int, world: int, n_pad: int) -> np.ndarray:
    """Row in the gathered array of every sample index 0..num-1 (sample i lives on rank i % world)."""
    i = np.arange(num)
    return (i % world) * n_pad + i // world


def output_dir(opts) -> Path:
    """Where memorisation files go."""
    return Path(opts.out_dir or "dermsynth-metrics")
