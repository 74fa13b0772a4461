"""Measuring edits instead of eyeballing them (issue 7, Sec. 3).

For each direction and alpha, on ``num`` sampled images (seeds ``seed_offset ..``) and, with ``pool``,
samples where the detector fires found among the next ``pool`` seeds (:func:`evaluation_samples`: a
generator that rarely draws the artifact still gets its removal measured on enough samples):

- ``removed_frac``: of the samples where the detector fires, the fraction where it no longer fires
  after the edit; ``induced_frac``: of the clean samples, the fraction where the edit makes it fire;
- ``ssim_outside``: SSIM (scikit-image, Wang et al. 2004) between original and edited image averaged
  over the pixels outside the original's (slightly dilated) artifact mask, i.e. the change the edit
  should not make; ``lpips_outside``: LPIPS (Zhang et al. 2018, the metrics stage's LPIPS-VGG16)
  between the original and the edited image with the original's pixels pasted back inside the
  artifact mask, when a distance is given (its VGG16 weights must be a local file);
- ``lesion_iou``: overlap of the lesion masks (:mod:`dermsynth.edit.lesion`) before and after;
  ``lesion_area_change`` (relative) and ``lesion_colour_change`` (CIELAB ΔE of the mean lesion colour):
  the class-agnostic colour/size statistic;
- ``class_kept``: fraction of samples whose predicted class (the class scorer's presence flag:
  ``d_projection`` of a conditional D > 0, or a classifier's probability >= 0.5) is unchanged.

Best-direction rule (:func:`choose_best`): among rows with ``lesion_iou >= min_lesion_iou`` and (when
measured) ``class_kept >= min_class_kept``, the highest ``removed_frac``, ties broken by the higher
mean of ``ssim_outside`` and ``lesion_iou``; if no row qualifies, the same ranking over all rows and
the result is flagged ``eligible = False``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd
import torch
from skimage.color import rgb2lab
from skimage.metrics import structural_similarity

from dermsynth.edit.apply import edit_strip, edit_ws
from dermsynth.edit.directions import Directions
from dermsynth.edit.lesion import lesion_mask, mask_iou
from dermsynth.edit.sampling import map_seeds, synthesize
from dermsynth.edit.scores import Scores


@dataclass(frozen=True)
class EvalSettings:
    num: int = 64
    alphas: tuple[float, ...] = (-3.0, 3.0)
    layers: tuple[int, ...] | None = None
    class_idx: int | None = None
    truncation_psi: float = 1.0
    noise_mode: str = "const"
    seed_offset: int = 0
    batch_size: int = 32
    device: str = "cpu"
    min_lesion_iou: float = 0.5
    min_class_kept: float = 0.9
    pool: int = 0


def ssim_window(shape: tuple[int, ...]) -> int:
    """SSIM window side: 7 (scikit-image's default) or less for tiny images; always odd."""
    return min(7, min(shape[:2]) // 2 * 2 - 1)


def masked_ssim(a: np.ndarray, b: np.ndarray, exclude: np.ndarray | None = None) -> float:
    """Mean SSIM map of two RGB uint8 images over pixels not in ``exclude`` (all if None)."""
    win = ssim_window(a.shape)
    _, smap = structural_similarity(a, b, channel_axis=2, data_range=255, full=True, win_size=win)
    smap = smap.mean(axis=2)
    keep = np.ones(smap.shape, bool) if exclude is None else ~exclude
    return float(smap[keep].mean()) if keep.any() else float("nan")


def dilate(mask: np.ndarray, frac: float = 1 / 64) -> np.ndarray:
    """``mask`` grown by the SSIM window's half side (or ``frac`` of the image, if more), so that no
    kept pixel's SSIM window reaches into the excluded region."""
    r = max(ssim_window(mask.shape) // 2, int(round(min(mask.shape) * frac)))
    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0


def lesion_colour(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean CIELAB colour of the masked pixels (of the whole image if the mask is empty)."""
    px = img[mask] if mask.any() else img.reshape(-1, 3)
    return rgb2lab(px.reshape(1, -1, 3).astype(np.float64) / 255).reshape(-1, 3).mean(0)


@dataclass
class _Reference:
    images: np.ndarray
    det: Scores
    lesions: np.ndarray
    class_present: np.ndarray | None


@dataclass
class Samples:
    """The evaluation samples: ws [N, num_ws, w_dim], their images, the detector's scores on them and
    how many seeds were looked at to find them."""

    ws: torch.Tensor
    images: np.ndarray
    det: Scores
    searched: int


def _sample_ws(G, s: EvalSettings, seeds: Sequence[int]):
    """ws of ``seeds``; a conditional G draws class ``class_idx`` or, when None, classes in turn by seed."""
    c_dim = int(getattr(G, "c_dim", 0))
    if c_dim == 0:
        labels = None
    elif s.class_idx is not None:
        labels = np.full(len(seeds), s.class_idx)
    else:
        labels = (np.asarray(seeds, np.int64) - s.seed_offset) % c_dim
    return map_seeds(G, seeds, labels, s.truncation_psi, 256, s.device)


def _cat_scores(parts: list[Scores]) -> Scores:
    masks = None if any(p.masks is None for p in parts) else np.concatenate([p.masks for p in parts])
    return Scores(
        np.concatenate([p.scores for p in parts]), np.concatenate([p.present for p in parts]), masks
    )


def _take(x: Scores, keep: np.ndarray) -> Scores:
    return Scores(x.scores[keep], x.present[keep], None if x.masks is None else x.masks[keep])


def evaluation_samples(G, s: EvalSettings, detector: Callable) -> Samples:
    """Seeds ``seed_offset .. seed_offset + num - 1``; then, when ``pool`` > 0 and the detector fires on
    fewer than half of them, the samples where it fires among the next ``pool`` seeds (in seed order),
    added until half of the set has the artifact or the pool is used up."""
    base = list(range(s.seed_offset, s.seed_offset + s.num))
    ws = [_sample_ws(G, s, base)]
    imgs = [synthesize(G, ws[0], s.noise_mode, s.batch_size, s.device)]
    det = [detector(imgs[0])]
    want = s.num // 2 - int(det[0].present.sum())
    start = s.seed_offset + s.num
    end = start + max(s.pool, 0)
    chunk = max(s.batch_size, 64)
    while want > 0 and start < end:
        seeds = list(range(start, min(start + chunk, end)))
        start = seeds[-1] + 1
        w = _sample_ws(G, s, seeds)
        im = synthesize(G, w, s.noise_mode, s.batch_size, s.device)
        d = detector(im)
        keep = np.flatnonzero(d.present)[:want]
        if len(keep):
            ws.append(w[torch.as_tensor(keep)])
            imgs.append(im[keep])
            det.append(_take(d, keep))
            want -= len(keep)
    return Samples(torch.cat(ws), np.concatenate(imgs), _cat_scores(det), start - s.seed_offset)


def _reference(samples: Samples, class_scorer: Callable | None) -> _Reference:
    imgs = samples.images
    cls = class_scorer(imgs).present if class_scorer else None
    return _Reference(imgs, samples.det, np.stack([lesion_mask(im) for im in imgs]), cls)


def outside_composite(original: np.ndarray, edited: np.ndarray, masks: np.ndarray | None) -> np.ndarray:
    """``edited`` with the original's pixels inside each (dilated) artifact mask: a distance between
    ``original`` and this composite sees only the change outside the artifact region."""
    if masks is None:
        return edited
    keep = np.stack([dilate(m) for m in masks])[..., None]
    return np.where(keep, original, edited)


def _row(
    ref: _Reference, edited: np.ndarray, det: Scores, class_scorer: Callable | None, distance: Callable | None
) -> dict:
    framed = ref.det.present
    les = [lesion_mask(im) for im in edited]
    excl = [None] * len(edited) if ref.det.masks is None else [dilate(m) for m in ref.det.masks]
    area0 = ref.lesions.reshape(len(edited), -1).mean(1)
    area1 = np.array([m.mean() for m in les])
    row = {
        "n": len(edited),
        "n_present": int(framed.sum()),
        "removed_frac": float((~det.present[framed]).mean()) if framed.any() else float("nan"),
        "induced_frac": float(det.present[~framed].mean()) if (~framed).any() else float("nan"),
        "score_change": float((det.scores - ref.det.scores).mean()),
        "ssim_outside": float(
            np.nanmean([masked_ssim(a, b, e) for a, b, e in zip(ref.images, edited, excl, strict=True)])
        ),
        "lesion_iou": float(np.mean([mask_iou(a, b) for a, b in zip(ref.lesions, les, strict=True)])),
        "lesion_area_change": float(np.mean(np.abs(area1 - area0) / np.maximum(area0, 1e-3))),
        "lesion_colour_change": float(
            np.mean(
                [
                    np.linalg.norm(lesion_colour(a, ma) - lesion_colour(b, mb))
                    for a, ma, b, mb in zip(ref.images, ref.lesions, edited, les, strict=True)
                ]
            )
        ),
        "lpips_outside": float("nan"),
        "class_kept": float("nan"),
    }
    if distance is not None:
        row["lpips_outside"] = float(
            np.mean(distance(ref.images, outside_composite(ref.images, edited, ref.det.masks)))
        )
    if class_scorer is not None and ref.class_present is not None:
        row["class_kept"] = float((class_scorer(edited).present == ref.class_present).mean())
    return row


def evaluate_directions(
    G,
    directions: Directions,
    indices: Sequence[int],
    detector: Callable,
    class_scorer: Callable | None = None,
    settings: EvalSettings = EvalSettings(),
    progress: Callable[[int], None] | None = None,
    distance: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    samples: Samples | None = None,
) -> pd.DataFrame:
    """One row per (direction index, alpha) with the measures in the module docstring.

    ``distance(a, b)`` (uint8 batches -> [N]), e.g. LPIPS, adds ``lpips_outside``; ``samples``: those of
    :func:`evaluation_samples` (drawn here when None)."""
    s = settings
    samples = samples if samples is not None else evaluation_samples(G, s, detector)
    ws, ref = samples.ws, _reference(samples, class_scorer)
    rows = []
    for k in indices:
        d = directions.direction(k)
        for alpha in s.alphas:
            edited = synthesize(G, edit_ws(ws, d, alpha, s.layers), s.noise_mode, s.batch_size, s.device)
            row = {
                "method": directions.method,
                "index": int(k),
                "alpha": float(alpha),
                "value": float(directions.values[k]),
            }
            rows.append(row | _row(ref, edited, detector(edited), class_scorer, distance))
            if progress:
                progress(1)
    return choose_best(pd.DataFrame(rows), s.min_lesion_iou, s.min_class_kept)


def choose_best(
    table: pd.DataFrame, min_lesion_iou: float = 0.5, min_class_kept: float = 0.9
) -> pd.DataFrame:
    """Add ``eligible`` and ``best`` columns by the rule in the module docstring."""
    t = table.copy()
    ok = t["lesion_iou"] >= min_lesion_iou
    ok &= t["class_kept"].isna() | (t["class_kept"] >= min_class_kept)
    t["eligible"] = ok
    t["best"] = False
    if t.empty:
        return t
    pool = t[ok] if ok.any() else t
    keep = (pool["ssim_outside"].fillna(0) + pool["lesion_iou"].fillna(0)) / 2
    ranked = pool.assign(_r=pool["removed_frac"].fillna(-1), _k=keep).sort_values(
        ["_r", "_k"], ascending=False
    )
    t.loc[ranked.index[0], "best"] = True
    return t


RULE = (
    "among rows with lesion_iou >= min_lesion_iou and (when measured) class_kept >= min_class_kept: "
    "highest removed_frac, ties broken by the higher mean of ssim_outside and lesion_iou"
)


def save_evaluation(table: pd.DataFrame, out_dir, settings: EvalSettings, info: dict) -> pd.Series:
    """Write ``table.csv`` and ``table.json`` (the layout of :mod:`dermsynth.edit.table`) and
    ``figure.png`` to ``out_dir``; return the best row."""
    from pathlib import Path

    from dermsynth.edit.table import write_evaluation

    write_evaluation(out_dir, table, dict(settings.__dict__), RULE, info)
    plot_table(table, Path(out_dir) / "figure.png")
    return table[table["best"]].iloc[0]


def best_strip(
    G,
    directions: Directions,
    index: int,
    s: EvalSettings,
    detector: Callable,
    rows: int = 6,
    samples: Samples | None = None,
) -> tuple[np.ndarray, int]:
    """Strip images [rows, A, H, W, 3] of direction ``index`` over 0, the alphas and their halves,
    on the first evaluation samples where the detector fires (then the others); original column."""
    samples = samples if samples is not None else evaluation_samples(G, s, detector)
    ws, present = samples.ws, samples.det.present
    order = np.concatenate([np.flatnonzero(present), np.flatnonzero(~present)])[:rows]
    alphas = sorted({0.0, *s.alphas, *(a / 2 for a in s.alphas)})
    imgs, _, mid = edit_strip(
        G, ws[order], directions.direction(index), alphas, s.layers, s.noise_mode, s.batch_size, s.device
    )
    return imgs, mid


def plot_table(table: pd.DataFrame, path) -> None:
    """Scatter of removal vs change outside the frame (colour: lesion IoU), best row starred."""
    from dermsynth.core.figures import pyplot, save_figure

    plt = pyplot()

    fig, ax = plt.subplots(figsize=(6, 4.5))
    sc = ax.scatter(
        table["removed_frac"].fillna(0),
        table["ssim_outside"],
        c=table["lesion_iou"],
        cmap="viridis",
        vmin=0,
        vmax=1,
        s=40,
    )
    for _, r in table.iterrows():
        ax.annotate(
            f"{r['index']}:{r['alpha']:+g}",
            (0 if pd.isna(r["removed_frac"]) else r["removed_frac"], r["ssim_outside"]),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    best = table[table["best"]]
    ax.scatter(
        best["removed_frac"].fillna(0),
        best["ssim_outside"],
        marker="*",
        s=250,
        facecolors="none",
        edgecolors="red",
        label="best",
    )
    ax.set_xlim(-0.05, 1.05)
    if not (table["n_present"] > 0).any():
        ax.text(0.5, 0.5, "detector fired on no sample", transform=ax.transAxes, ha="center", color="gray")
    ax.set_xlabel("fraction of framed samples with frame removed")
    ax.set_ylabel("SSIM outside the frame region")
    ax.set_title(f"{table['method'].iloc[0] if len(table) else ''} directions (label index:alpha)")
    fig.colorbar(sc, label="lesion mask IoU before/after")
    ax.legend(loc="lower left")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def lpips_distance(
    net, device: str = "cpu", batch_size: int = 32
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """uint8 batches [N, H, W, 3] x2 -> LPIPS [N] with ``net`` (e.g. ``dermsynth.metrics.lpips.load_lpips()[0]``)."""
    import torch

    net = net.to(device).eval()

    def to_t(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x)).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1

    @torch.no_grad()
    def dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = [
            net(to_t(a[i : i + batch_size]), to_t(b[i : i + batch_size])).float().cpu().numpy()
            for i in range(0, len(a), batch_size)
        ]
        return np.concatenate(out) if out else np.zeros(0)

    return dist
