"""Closed-form factorisation of latent semantics (SeFa).

Shen & Zhou, "Closed-Form Factorization of Latent Semantics in GANs", CVPR 2021: a direction n
in W changes the styles of a layer by ``A n``; the directions that change the chosen layers' styles
the most are the top eigenvectors of ``AᵀA`` (Eq. 5), where ``A`` [sum(out_features), w_dim] stacks
the chosen style affines' weights, each row scaled to unit length (as the authors' code does). The
thesis (Sec. 4.4) took SeFa's 6th eigenvector to remove dermoscope frames.

The stored weights are used: the official layers multiply by a constant gain 1/sqrt(w_dim) at run
time, which the row normalisation cancels.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from dermsynth.edit.directions import Directions, fix_signs
from dermsynth.edit.layers import StyleAffine, num_ws_of, parse_layers, style_affines_from_state_dict


def stack_affines(affines: list[StyleAffine], layers: list[int]) -> np.ndarray:
    """A: weights of the affines reading any of ``layers``, stacked on out_features, rows unit length."""
    chosen = [a.weight for a in affines if a.ws_index in set(layers)]
    if not chosen:
        raise ValueError(f"no style affine reads ws indices {layers}")
    A = np.concatenate(chosen, axis=0).astype(np.float64)
    return A / np.linalg.norm(A, axis=1, keepdims=True)


def sefa(
    affines: list[StyleAffine], layers: str | list[int] | None = "all", k: int | None = None
) -> Directions:
    """SeFa directions: eigenvectors of AᵀA as unit rows, largest eigenvalue first."""
    idx = parse_layers(layers, num_ws_of(affines))
    A = stack_affines(affines, idx)
    values, vectors = np.linalg.eigh(A.T @ A)  # ascending, columns
    order = np.argsort(values)[::-1]
    values, vectors = values[order], fix_signs(vectors[:, order].T)
    if k is not None:
        values, vectors = values[:k], vectors[:k]
    meta = {
        "layers": idx,
        "affines": [a.name for a in affines if a.ws_index in set(idx)],
        "rows": int(A.shape[0]),
    }
    return Directions(vectors, values, idx, "sefa", meta)


def sefa_from_state_dict(
    state: Mapping[str, object],
    layers: str | list[int] | None = "all",
    prefix: str | None = None,
    k: int | None = None,
) -> Directions:
    """SeFa on a state dict / safetensors dict in the official key layout (``G.synthesis.b8...``)."""
    return sefa(style_affines_from_state_dict(state, prefix), layers, k)
