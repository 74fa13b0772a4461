"""Memorisation: do generated images sit closer to training images than new real images do?

For every synthetic image, its nearest training image in feature space (the chosen extractor, L2) and
in pixel space (RGB thumbnails, area-downscaled, L2 on [0, 1] values). The reference is the same
distance for held-out real images (never in the training set) to their nearest training image: an
honest generator's samples should not be systematically closer (cf. Meehan et al. 2020, "A
non-parametric test to detect data-copying in generative models"; van den Burg & Williams 2021).

Reported per space: the fraction of synthetic NN distances below the 1st / 5th percentile of held-out
NN distances (expected ~0.01 / 0.05) with an exact one-sided test, and a one-sided Mann-Whitney U
test (synthetic distances stochastically smaller). Those compare against the held-out images' own
distances, and a blurry sample (near everything in pixel L2) shifts the whole distribution much as
copies do; so ``flag`` is set by a tail test (either space) or the Mann-Whitney test in feature space
only, at p < alpha. The paired train-vs-held-out test is reported as a further diagnostic.
Outputs: ``memorisation.json``, ``memorisation.csv`` (every synthetic image, closest first) and
``memorisation_grid.png`` (the closest pairs: synthetic | nearest training image).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch


def nearest(
    query: np.ndarray, ref: np.ndarray, chunk: int = 2048, device="cpu"
) -> tuple[np.ndarray, np.ndarray]:
    """L2 distance and index of each query row's nearest row of ``ref``.

    float64: cdist's matrix-product route loses ~1e-2 absolute in float32 at these norms, which would
    hide exact copies (distance 0).
    """
    r = torch.as_tensor(np.asarray(ref, np.float64), device=device)
    d_out, i_out = [], []
    with torch.no_grad():
        for part in torch.as_tensor(np.asarray(query, np.float64)).split(chunk):
            d, i = torch.cdist(part.to(device), r).min(dim=1)
            d_out.append(d.cpu())
            i_out.append(i.cpu())
    return torch.cat(d_out).numpy().astype(np.float64), torch.cat(i_out).numpy()


def compare(d_fake: np.ndarray, d_hold: np.ndarray) -> dict:
    """Synthetic vs held-out NN distances: tail fractions with exact tests, and Mann-Whitney U.

    For q in (1, 5): the threshold is the j-th smallest held-out distance, j = max(1, ceil(q/100 n_h)).
    If synthetic and held-out distances were exchangeable, the count K of synthetic distances below it
    would follow BetaBinomial(n_f, j, n_h - j + 1) (the j-th order statistic of n_h uniforms is
    Beta(j, n_h - j + 1)); the p-value is P(K >= k). This stays valid for small held-out sets, where a
    plain binomial test against q% would not.
    """
    from scipy.stats import betabinom, mannwhitneyu

    nf, nh = len(d_fake), len(d_hold)
    hold = np.sort(d_hold)
    out: dict = {
        "median_fake": float(np.median(d_fake)),
        "median_holdout": float(np.median(d_hold)),
        "min_fake": float(d_fake.min()),
        "min_holdout": float(hold[0]),
    }
    for q in (1, 5):
        j = max(1, int(np.ceil(q / 100 * nh)))
        thr = float(hold[j - 1])
        k = int((d_fake < thr).sum())
        out[f"holdout_p{q}"] = thr
        out[f"frac_below_p{q}"] = k / nf
        out[f"expected_below_p{q}"] = j / (nh + 1)
        out[f"tail_p{q}_pvalue"] = float(betabinom.sf(k - 1, nf, j, nh - j + 1)) if k > 0 else 1.0
    out["mannwhitney_pvalue"] = float(mannwhitneyu(d_fake, d_hold, alternative="less").pvalue)
    return out


def paired_test(
    fake: np.ndarray, train: np.ndarray, holdout: np.ndarray, seed: int = 0, device="cpu"
) -> dict:
    """Is each synthetic image nearer to the training data than to an equally large held-out set?

    The training set is cut into k disjoint random chunks of the held-out set's size. For a generator
    that copies nothing, a sample's nearest-neighbour distances to the k chunks and to the held-out set
    are exchangeable, so the nearest of the k + 1 is a training chunk with probability k/(k + 1); for
    a copy of a training image it always is (cf. Meehan et al. 2020's
    train-vs-test idea). Blur or shrinkage towards the mean moves all k + 1 distances alike, so unlike
    a comparison with the held-out images' own distances this does not mistake blurry samples for
    copies. One-sided binomial test; the same among the "tail" samples (nearer to the data than 95% of
    held-out images are to the training set), where a few copies stand out.
    """
    from scipy.stats import binomtest

    n = min(len(train), len(holdout))
    k = max(1, len(train) // n)
    perm = np.random.default_rng(seed).permutation(len(train))
    d_chunks = np.stack([nearest(fake, train[perm[i * n : (i + 1) * n]], device=device)[0] for i in range(k)])
    d_ho, _ = nearest(fake, holdout[:n], device=device)
    ho_not_nearest = d_ho > d_chunks.min(axis=0)
    p0 = k / (k + 1)

    def test(mask: np.ndarray) -> tuple[float, float]:
        m, hits = int(mask.sum()), int(ho_not_nearest[mask].sum())
        return hits / max(m, 1), float(binomtest(hits, m, p0, "greater").pvalue) if m else 1.0

    frac, p = test(np.ones(len(fake), bool))
    d_hold_own, _ = nearest(holdout[:n], train[perm[:n]], device=device)
    tail = np.minimum(d_chunks.min(axis=0), d_ho) < np.quantile(d_hold_own, 0.05)
    tfrac, tp = test(tail)
    return {
        "train_chunks": k,
        "expected_frac_train_nearest": p0,
        "frac_train_nearest": frac,
        "paired_pvalue": p,
        "tail_n": int(tail.sum()),
        "tail_frac_train_nearest": tfrac,
        "tail_paired_pvalue": tp,
    }


def _grid(pairs: list[tuple[np.ndarray, np.ndarray]], cell: int = 96) -> np.ndarray:
    """Rows of (synthetic | nearest training image) pairs, 4 pairs per row, uint8."""
    import cv2

    cols = 4
    rows = (len(pairs) + cols - 1) // cols
    g = np.full((rows * (cell + 4), cols * (2 * cell + 12), 3), 255, np.uint8)
    for n, (a, b) in enumerate(pairs):
        y, x = (n // cols) * (cell + 4), (n % cols) * (2 * cell + 12)
        for j, im in enumerate((a, b)):
            g[y : y + cell, x + j * cell : x + (j + 1) * cell] = cv2.resize(
                im, (cell, cell), interpolation=cv2.INTER_AREA
            )
    return g


def memorisation(
    fake,
    train,
    holdout,
    out_dir: str | os.PathLike,
    load_fake: Callable[[int], np.ndarray],
    load_train: Callable[[int], np.ndarray],
    top_k: int = 32,
    alpha: float = 0.01,
    device="cpu",
) -> dict:
    """Nearest-training-image analysis of FeatureSets ``fake`` against ``train``, reference ``holdout``."""
    from dermsynth.core.io import atomic_path, atomic_write_json, write_png

    if len(train) < 2 or len(holdout) < 2:
        raise ValueError(
            f"memorisation needs >= 2 training and held-out real images, got {len(train)} and {len(holdout)}"
        )
    res: dict = {"num_fake": len(fake), "num_train": len(train), "num_holdout": len(holdout)}
    dist, idx = {}, {}
    spaces = {"feature": lambda fs: fs.features}
    if fake.thumbs is not None and train.thumbs is not None and holdout.thumbs is not None:
        spaces["pixel"] = lambda fs: fs.thumbs.reshape(len(fs.thumbs), -1).astype(np.float32) / 255
    for name, get in spaces.items():
        dist[name], idx[name] = nearest(get(fake), get(train), device=device)
        d_hold, _ = nearest(get(holdout), get(train), device=device)
        res[name] = compare(dist[name], d_hold)
        res[name].update(paired_test(get(fake), get(train), get(holdout), device=device))
    # Copies show up in the tails (the paired train-vs-held-out test is reported alongside). A whole-distribution shift
    # counts only in feature space: in pixel space a blurry, averaged sample is close in L2 to
    # everything, so Mann-Whitney there flags blur, not copying (it is still reported).
    pvals = [res[s][k] for s in spaces for k in ("tail_p1_pvalue", "tail_p5_pvalue")]
    pvals.append(res["feature"]["mannwhitney_pvalue"])
    res["alpha"] = alpha
    res["flag"] = bool(min(pvals) < alpha)
    res["flag_reason"] = (
        "synthetic images sit closer to training images than held-out real images do"
        if res["flag"]
        else "no evidence of copying at this alpha"
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    order = np.argsort(dist["feature"])
    hold = {s: np.sort(nearest(spaces[s](holdout), spaces[s](train), device=device)[0]) for s in spaces}
    import csv

    with atomic_path(out_dir / "memorisation.csv") as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        header = [
            "rank",
            "fake",
            "fake_label",
            "nearest_train_feature",
            "feature_distance",
            "feature_holdout_quantile",
        ]
        if "pixel" in spaces:
            header += ["nearest_train_pixel", "pixel_distance", "pixel_holdout_quantile"]
        w.writerow(header)
        for r, i in enumerate(order):
            row = [
                r,
                fake.names[i],
                int(fake.labels[i]),
                train.names[idx["feature"][i]],
                f"{dist['feature'][i]:.6g}",
                f"{np.searchsorted(hold['feature'], dist['feature'][i]) / len(hold['feature']):.4f}",
            ]
            if "pixel" in spaces:
                row += [
                    train.names[idx["pixel"][i]],
                    f"{dist['pixel'][i]:.6g}",
                    f"{np.searchsorted(hold['pixel'], dist['pixel'][i]) / len(hold['pixel']):.4f}",
                ]
            w.writerow(row)
    pairs = [(load_fake(int(i)), load_train(int(idx["feature"][i]))) for i in order[:top_k]]
    write_png(out_dir / "memorisation_grid.png", _grid(pairs))
    if "pixel" in spaces:
        order_px = np.argsort(dist["pixel"])
        pairs = [(load_fake(int(i)), load_train(int(idx["pixel"][i]))) for i in order_px[:top_k]]
        write_png(out_dir / "memorisation_grid_pixel.png", _grid(pairs))
    res["closest"] = [
        {
            "fake": fake.names[i],
            "train": train.names[idx["feature"][i]],
            "feature_distance": float(dist["feature"][i]),
        }
        for i in order[:10]
    ]
    res["files"] = {"csv": str(out_dir / "memorisation.csv"), "grid": str(out_dir / "memorisation_grid.png")}
    atomic_write_json(out_dir / "memorisation.json", res)
    return res
