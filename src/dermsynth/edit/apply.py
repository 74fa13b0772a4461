"""Applying a direction: w' = w + alpha * n on chosen ws entries (layer-range edits), strips, datasets.

Moving w along n changes every layer's style; restricting the move to a range of ws indices (the
"layer-wise" editing of SeFa and GANSpace) keeps coarse or fine features fixed. Strips lay out
alphas left to right with the unedited image (alpha = 0) in the middle, as the thesis's
Figs. 4.8-4.10. ``until_clean`` steps alpha until a detector stops firing (frame removal).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from dermsynth.edit.sampling import class_labels, map_seeds, synthesize


def parse_alphas(spec: str) -> list[float]:
    """``"-3:3:7"`` (start:stop:count, inclusive) or ``"-2,0,2"`` or ``"1.5"``."""
    try:
        if ":" in spec:
            a, b, n = spec.split(":")
            if int(n) < 1:
                raise ValueError
            return [float(x) for x in np.linspace(float(a), float(b), int(n))]
        return [float(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"bad alphas {spec!r}: expected START:STOP:COUNT or a comma list") from None


def edit_ws(
    ws: torch.Tensor,
    direction: np.ndarray | torch.Tensor,
    alpha: float | Sequence[float] | torch.Tensor,
    layers: Sequence[int] | None = None,
) -> torch.Tensor:
    """ws [N, num_ws, w_dim] moved by alpha (scalar or per sample) along ``direction`` on ``layers`` only."""
    out = ws.clone()
    d = torch.as_tensor(np.asarray(direction), dtype=ws.dtype, device=ws.device).reshape(1, 1, -1)
    if d.shape[-1] != ws.shape[-1]:
        raise ValueError(f"direction has {d.shape[-1]} dims, the network's w has {ws.shape[-1]}")
    a = torch.as_tensor(alpha, dtype=ws.dtype, device=ws.device).reshape(-1, 1, 1)
    idx = list(range(ws.shape[1])) if layers is None or len(layers) == 0 else list(layers)
    if max(idx) >= ws.shape[1] or min(idx) < 0:
        raise ValueError(f"layer indices {idx} out of range for num_ws={ws.shape[1]}")
    out[:, idx] = ws[:, idx] + a * d
    return out


def strip_alphas(alphas: Sequence[float]) -> tuple[list[float], int]:
    """Sorted alphas with 0 included; the index of the original (0) column."""
    vals = sorted(set(float(a) for a in alphas) | {0.0})
    return vals, vals.index(0.0)


def edit_strip(
    G,
    ws: torch.Tensor,
    direction: np.ndarray,
    alphas: Sequence[float],
    layers: Sequence[int] | None = None,
    noise_mode: str = "const",
    batch_size: int = 32,
    device: str = "cpu",
) -> tuple[np.ndarray, list[float], int]:
    """Images [S, A, H, W, 3] of S samples edited by each alpha; alphas used; original column."""
    vals, mid = strip_alphas(alphas)
    cols = [synthesize(G, edit_ws(ws, direction, a, layers), noise_mode, batch_size, device) for a in vals]
    return np.stack(cols, axis=1), vals, mid


def strip_image(
    images: np.ndarray, original_col: int | None = None, pad: int = 2, mark=(255, 196, 0)
) -> np.ndarray:
    """One mosaic uint8 image from [S, A, H, W, 3]; the original column framed in ``mark``."""
    s, a, h, w, _ = images.shape
    out = np.full((s * (h + pad) + pad, a * (w + pad) + pad, 3), 255, np.uint8)
    for i in range(s):
        for j in range(a):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            if j == original_col:
                out[y - pad : y + h + pad, x - pad : x + w + pad] = mark
            out[y : y + h, x : x + w] = images[i, j]
    return out


@dataclass
class CleanResult:
    """Per seed: alpha used, detector scores before/after, status, final image."""

    alpha: np.ndarray
    score_before: np.ndarray
    score_after: np.ndarray
    status: list[str]
    images: np.ndarray


def choose_sign(
    G,
    ws: torch.Tensor,
    direction: np.ndarray,
    detector: Callable,
    probe_alpha: float,
    layers: Sequence[int] | None,
    noise_mode: str,
    batch_size: int,
    device: str,
) -> float:
    """+1 or -1: the sign whose move of ``probe_alpha`` lowers the mean detector score more."""
    lo = detector(
        synthesize(G, edit_ws(ws, direction, -probe_alpha, layers), noise_mode, batch_size, device)
    ).scores.mean()
    hi = detector(
        synthesize(G, edit_ws(ws, direction, probe_alpha, layers), noise_mode, batch_size, device)
    ).scores.mean()
    return -1.0 if lo <= hi else 1.0


def until_clean(
    G,
    ws: torch.Tensor,
    direction: np.ndarray,
    detector: Callable,
    sign: float,
    step: float = 0.5,
    max_alpha: float = 10.0,
    layers: Sequence[int] | None = None,
    noise_mode: str = "const",
    batch_size: int = 32,
    device: str = "cpu",
) -> CleanResult:
    """Step alpha = sign*step, sign*2*step, ... until the detector no longer fires (or |alpha| > max)."""
    if step <= 0 or max_alpha <= 0:
        raise ValueError("step and max alpha must be positive")
    images = synthesize(G, ws, noise_mode, batch_size, device)
    first = detector(images)
    n = len(ws)
    alpha, after = np.zeros(n), first.scores.astype(float).copy()
    status = ["already_clean" if not p else "still_present" for p in first.present]
    active = np.flatnonzero(first.present)
    a = step
    while len(active) and a <= max_alpha + 1e-9:
        edited = synthesize(
            G, edit_ws(ws[active], direction, sign * a, layers), noise_mode, batch_size, device
        )
        det = detector(edited)
        images[active], alpha[active], after[active] = edited, sign * a, det.scores
        for i in active[~det.present]:
            status[i] = "cleaned"
        active = active[det.present]
        a += step
    return CleanResult(alpha, first.scores.astype(float), after, status, images)


def seeds_ws(
    G, seeds: Sequence[int], class_idx: int | None, truncation_psi: float, device: str
) -> tuple[torch.Tensor, np.ndarray | None]:
    """ws of the seeds and their class labels (None for an unconditional G)."""
    labels = class_labels(G, class_idx, len(seeds))
    return map_seeds(G, seeds, labels, truncation_psi, 256, device), labels
