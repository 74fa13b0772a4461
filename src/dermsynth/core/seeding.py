"""Randomness as a function of named seeds (docs/architecture.md R6).

``rng(seed, "phantom", index)`` gives the same numpy Generator for the same names whatever the batch
size, worker count or order in which items are produced.
"""

from __future__ import annotations

import hashlib

import numpy as np


def derive_seed(*keys: object) -> int:
    """A 63-bit integer seed from any sequence of keys (stable across runs and platforms)."""
    h = hashlib.blake2b(repr(keys).encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") & ((1 << 63) - 1)


def rng(*keys: object) -> np.random.Generator:
    return np.random.default_rng(derive_seed(*keys))


def torch_generator(*keys: object, device: str = "cpu"):
    import torch

    g = torch.Generator(device=device)
    g.manual_seed(derive_seed(*keys))
    return g
