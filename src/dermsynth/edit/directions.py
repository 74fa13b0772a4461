"""The ``directions.npz`` file shared by every editing method (SeFa, PCA, SVM boundaries).

Layout (``numpy.load(..., allow_pickle=False)`` reads it; nothing is pickled):

- ``directions`` float32 [k, w_dim]: unit rows, most important first (largest eigenvalue /
  explained variance; an SVM file has one row per boundary);
- ``values`` float64 [k]: SeFa eigenvalues, PCA explained variances, SVM held-out accuracies;
- ``layers`` int64 [m]: the ws indices the directions belong to (SeFa: the layers whose affines
  were used; PCA/SVM: every ws index; empty = all). ``edit apply`` moves these ws entries unless
  told otherwise;
- ``method`` str: ``sefa`` | ``pca`` | ``svm``; ``meta`` str: JSON with the method's settings and
  provenance (network file and hash, sample count, scorer, accuracy ...);
- optional extra arrays (``mean`` and ``explained_variance_ratio`` for PCA, ``intercepts`` for SVM).
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dermsynth.core.io import atomic_write_bytes, to_json

METHODS = ("sefa", "pca", "svm")


@dataclass
class Directions:
    """A set of latent directions in W with their scores and provenance."""

    directions: np.ndarray
    values: np.ndarray
    layers: np.ndarray
    method: str
    meta: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.directions = np.atleast_2d(np.asarray(self.directions, dtype=np.float32))
        self.values = np.asarray(self.values, dtype=np.float64).reshape(-1)
        self.layers = np.asarray(self.layers, dtype=np.int64).reshape(-1)
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; expected one of {METHODS}")
        if len(self.values) != len(self.directions):
            raise ValueError(f"{len(self.values)} values for {len(self.directions)} directions")

    @property
    def k(self) -> int:
        return int(self.directions.shape[0])

    @property
    def w_dim(self) -> int:
        return int(self.directions.shape[1])

    def direction(self, index: int) -> np.ndarray:
        """Row ``index`` (clear error when out of range)."""
        if not 0 <= index < self.k:
            raise ValueError(
                f"direction index {index} out of range: the file has {self.k} directions (0-{self.k - 1})"
            )
        return self.directions[index]


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit Euclidean length (zero rows are an error)."""
    x = np.asarray(x, dtype=np.float64)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    if np.any(n == 0):
        raise ValueError("cannot normalise a zero vector")
    return x / n


def fix_signs(vectors: np.ndarray) -> np.ndarray:
    """Deterministic sign per row: the entry of largest magnitude is made positive."""
    vectors = np.array(vectors, dtype=np.float64, copy=True)
    idx = np.argmax(np.abs(vectors), axis=1)
    signs = np.sign(vectors[np.arange(len(vectors)), idx])
    signs[signs == 0] = 1
    return vectors * signs[:, None]


def save_directions(d: Directions, path: str | os.PathLike) -> Path:
    """Write ``d`` to ``path`` (.npz) atomically."""
    path = Path(path)
    arrays = {
        "directions": d.directions.astype(np.float32),
        "values": d.values,
        "layers": d.layers,
        "method": np.array(d.method),
        "meta": np.array(to_json(d.meta, indent=None)),
    }
    clash = set(arrays) & set(d.extra)
    if clash:
        raise ValueError(f"extra arrays may not reuse reserved names {sorted(clash)}")
    arrays.update({k: np.asarray(v) for k, v in d.extra.items()})
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())
    return path


def load_directions(path: str | os.PathLike) -> Directions:
    """Read a ``directions.npz`` written by :func:`save_directions` (or by hand, same keys)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such directions file")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a readable .npz directions file ({e})") from None
    missing = [k for k in ("directions", "values", "layers") if k not in data]
    if missing:
        raise ValueError(f"{path}: lacks array(s) {missing}")
    method = str(data.pop("method", np.array("sefa")))
    meta = json.loads(str(data.pop("meta", np.array("{}"))))
    core = {k: data.pop(k) for k in ("directions", "values", "layers")}
    try:
        return Directions(**core, method=method, meta=meta, extra=data)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
