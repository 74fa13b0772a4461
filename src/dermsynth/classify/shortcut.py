"""Frame shortcut test: does the classifier read "dark dermoscope frame = melanoma"?

Thesis §4 and Bissoto et al. (2020): dark corners co-occur with melanoma in ISIC data, so a model can
score frames instead of lesions. We score the real test images (1) split by whether they show a frame
(manifest ``dark_corner`` column from the bias audit or annotations) and (2) *frame-flipped*: a frame
is added to each frameless image (``dermsynth.data.phantom.add_frame``) and removed from each framed
image by cropping to the centred square inside the frame circle (radius from the radial brightness
profile). A model that learned the frame shows a large mean score increase when frames are added and
an AUC drop on the flipped set.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np
import pandas as pd

from dermsynth.classify.loader import ImageTable, make_transform, predict_scores
from dermsynth.classify.metrics import auc
from dermsynth.core.seeding import rng

FRAME = "dark_corner"


def dark_frame(img: np.ndarray, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A dark circular dermoscope frame (radius 0.80-0.98 of the half-size, soft edge); ``(img, mask)``."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    r = gen.uniform(0.80, 0.98) * min(h, w) / 2
    d = np.hypot(yy - (h - 1) / 2, xx - (w - 1) / 2)
    alpha = np.clip((d - r) / max(1.0, 0.04 * min(h, w)), 0, 1)[..., None]
    dark = gen.uniform(0, 25)
    out = (img * (1 - alpha) + dark * alpha).astype(np.uint8)
    return out, alpha[..., 0] > 0.5


def frame_adder(seed: int) -> Callable[[np.ndarray, int], np.ndarray]:
    """``fn(rgb, i)``: image ``i`` with a frame (the phantom renderer's), seeded per image."""
    from dermsynth.data.phantom import add_frame

    def fn(rgb: np.ndarray, i: int) -> np.ndarray:
        # a full visible ring (as most framed dermoscopy images), not a faint corner vignette
        return add_frame(rgb, rng(seed, "shortcut-frame", i), radius=(0.80, 0.98))[0]

    return fn


def frame_radius(rgb: np.ndarray, dark_ratio: float = 0.5) -> float:
    """Radius (pixels) of the bright disc inside a dark circular frame: the first radius beyond 30% of
    the half-size whose ring is darker than ``dark_ratio`` x the centre's brightness (half-size if none)."""
    h, w = rgb.shape[:2]
    gray = rgb.astype(np.float32).mean(axis=2) if rgb.ndim == 3 else rgb.astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - (h - 1) / 2, xx - (w - 1) / 2).astype(int)
    prof = np.bincount(r.ravel(), gray.ravel()) / np.maximum(np.bincount(r.ravel()), 1)
    half = min(h, w) / 2
    centre = float(np.median(gray[r < 0.3 * half]))
    start = int(0.3 * half)
    dark = np.flatnonzero(prof[start:] < dark_ratio * centre)
    return float(start + dark[0]) if len(dark) else half


def remove_frame(rgb: np.ndarray, margin: float = 0.92) -> np.ndarray:
    """Crop the centred square inscribed in the frame's bright disc (side = margin * sqrt(2) * radius),
    resized back to the input size."""
    h, w = rgb.shape[:2]
    side = max(1, min(h, w, int(margin * math.sqrt(2) * frame_radius(rgb))))
    y0, x0 = (h - side) // 2, (w - side) // 2
    return cv2.resize(rgb[y0 : y0 + side, x0 : x0 + side], (w, h), interpolation=cv2.INTER_LINEAR)


def shortcut_summary(
    labels, has_frame, s_orig, s_flip, score_tol: float = 0.1, auc_tol: float = 0.05
) -> dict:
    """Metrics with/without frames and under frame flipping; ``flagged`` when the frame moves the model.

    ``score_change_add``: mean(score with added frame - original) over frameless images;
    ``score_change_remove``: the same over framed images whose frame was cropped away;
    ``auc_change``: AUC(flipped set) - AUC(original set).
    """
    y = np.asarray(labels).astype(int)
    f = np.asarray(has_frame).astype(bool)
    s0, s1 = np.asarray(s_orig, float), np.asarray(s_flip, float)
    ok = np.isfinite(s0) & np.isfinite(s1)
    y, f, s0, s1 = y[ok], f[ok], s0[ok], s1[ok]

    def group(mask):
        return {
            "n": int(mask.sum()),
            "n_melanoma": int(y[mask].sum()),
            "AUC": auc(y[mask], s0[mask]) if mask.any() else math.nan,
            "mean_score": float(s0[mask].mean()) if mask.any() else math.nan,
        }

    add = float((s1 - s0)[~f].mean()) if (~f).any() else math.nan
    rem = float((s1 - s0)[f].mean()) if f.any() else math.nan
    a0, a1 = auc(y, s0), auc(y, s1)
    flagged = bool(
        (np.isfinite(add) and add > score_tol)
        or (np.isfinite(rem) and rem < -score_tol)
        or (math.isfinite(a1 - a0) and a1 - a0 < -auc_tol)
    )
    return {
        "with_frame": group(f),
        "without_frame": group(~f),
        "score_change_add": add,
        "score_change_remove": rem,
        "AUC_original": a0,
        "AUC_flipped": a1,
        "auc_change": a1 - a0,
        "score_tol": score_tol,
        "auc_tol": auc_tol,
        "flagged": flagged,
    }


def shortcut_test(
    model,
    mean,
    std,
    image_size: int,
    test_df: pd.DataFrame,
    device,
    batch_size: int = 64,
    seed: int = 0,
    workers: int = 0,
    scores: np.ndarray | None = None,
) -> dict:
    """Run the frame shortcut test of ``model`` on ``test_df`` (needs a ``dark_corner`` column)."""
    if FRAME not in test_df.columns:
        raise ValueError(
            f"shortcut test needs a `{FRAME}` column (bias audit or annotations) in the test manifest"
        )
    fr = pd.to_numeric(test_df[FRAME], errors="coerce")
    df = test_df[fr.notna()].reset_index(drop=True)
    frame = fr[fr.notna()].to_numpy() > 0
    tf = make_transform(image_size, mean, std, train=False)
    add = frame_adder(seed)

    def flip(rgb: np.ndarray, i: int) -> np.ndarray:
        return remove_frame(rgb) if frame[i] else add(rgb, i)

    if scores is None or len(scores) != len(test_df):
        s0 = predict_scores(model, ImageTable(df["path"], df["label"], tf), batch_size, device, workers)
    else:
        s0 = np.asarray(scores)[fr.notna().to_numpy()]
    s1 = predict_scores(
        model, ImageTable(df["path"], df["label"], tf, image_fn=flip), batch_size, device, workers
    )
    out = shortcut_summary(df["label"].to_numpy(), frame, s0, s1)
    out["n_unlabelled_frame"] = int(fr.isna().sum())
    return out
