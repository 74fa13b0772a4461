"""Scores of one cleaned real twin against its original (issue 19's measure).

PSNR / SSIM (``skimage.metrics``) of the artifact image and of the cleaned image against the original;
precision / recall / IoU of the changed-pixel mask against the rendered mask; and the share of lesion
pixels (``clean.lesion.lesion_mask`` of the original) changed where the artifact was not.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from dermsynth.clean.lesion import lesion_mask

PSNR_CAP = 100.0  # identical images


def psnr(truth: np.ndarray, img: np.ndarray) -> float:
    """PSNR in dB (data range 255), capped at 100 for identical images."""
    if np.array_equal(truth, img):
        return PSNR_CAP
    return float(min(peak_signal_noise_ratio(truth, img, data_range=255), PSNR_CAP))


def ssim(truth: np.ndarray, img: np.ndarray) -> float:
    return float(structural_similarity(truth, img, channel_axis=2, data_range=255))


def mask_scores(changed: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Precision, recall, IoU of ``changed`` against ``truth`` (1.0 where both are empty)."""
    inter = float((changed & truth).sum())
    c, t, u = float(changed.sum()), float(truth.sum()), float((changed | truth).sum())
    return {
        "precision": inter / c if c else 1.0,
        "recall": inter / t if t else 1.0,
        "iou": inter / u if u else 1.0,
    }


def score_twin(
    original: np.ndarray,
    image: np.ndarray,
    truth: np.ndarray,
    out: np.ndarray,
    changed: np.ndarray,
    reference: np.ndarray | None = None,
    lesion: np.ndarray | None = None,
) -> dict[str, float]:
    """All figures for one twin. ``reference``: what ``out`` is compared with (default the original;
    for ``crop`` the original cropped the same way). ``lesion``: default ``lesion_mask(original)``."""
    ref = original if reference is None else reference
    lesion = lesion_mask(original) if lesion is None else lesion
    off = changed & lesion & ~truth
    return {
        "psnr_before": psnr(original, image),
        "psnr_after": psnr(ref, out),
        "ssim_before": ssim(original, image),
        "ssim_after": ssim(ref, out),
        **mask_scores(changed, truth),
        "changed_fraction": float(changed.mean()),
        "truth_fraction": float(truth.mean()),
        "lesion_off_artifact": float(off.sum() / max(1, lesion.sum())),
    }
