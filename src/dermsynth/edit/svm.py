"""Linear SVM boundaries in W (InterFaceGAN) and orthogonalisation against other boundaries.

Shen et al., "Interpreting the Latent Space of GANs for Semantic Face Editing", CVPR 2020: label
sampled w by an attribute score, keep the most extreme ``fraction`` at each end, fit a linear SVM,
and use the unit normal of the separating hyperplane as the edit direction (pointing towards the
high-score side); "conditional manipulation" projects other boundaries' normals out (Sec. 2.2).
The thesis reports 94.5% SVM accuracy on 20k samples for the frame boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.svm import LinearSVC

from dermsynth.core.seeding import rng


@dataclass(frozen=True)
class Boundary:
    """Unit normal (towards high scores), intercept in the same units, held-out (balanced) accuracy,
    train/test sizes and the numbers of high/low samples."""

    normal: np.ndarray
    intercept: float
    accuracy: float
    n_train: int
    n_test: int
    balanced_accuracy: float = float("nan")
    n_high: int = 0
    n_low: int = 0


def extreme_labels(scores: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the high- and low-scored samples and their labels (1 = high).

    High: score >= the (1 - fraction) quantile; low: score <= the fraction quantile. When both
    quantiles fall on one tied value v (a detector that is 0 on most samples), high is score > v and
    low is score <= v (or high >= v, low < v when v is the maximum). Constant scores are an error.
    """
    if not 0 < fraction <= 0.5:
        raise ValueError(f"fraction must be in (0, 0.5], got {fraction}")
    scores = np.asarray(scores, np.float64)
    hi_q, lo_q = np.quantile(scores, 1 - fraction), np.quantile(scores, fraction)
    if hi_q > lo_q:
        high, low = scores >= hi_q, scores <= lo_q
    else:
        high, low = scores > hi_q, scores < hi_q
        if not low.any():
            low = ~high
        elif not high.any():
            high = ~low
    if not high.any() or not low.any():
        raise ValueError(
            f"the scores do not separate the samples (all {len(scores)} equal {scores[0]:g}): "
            "the scorer fired on none of them; sample more (--num) or use another --score"
        )
    idx = np.concatenate([np.flatnonzero(high), np.flatnonzero(low)])
    return idx, np.concatenate([np.ones(high.sum(), int), np.zeros(low.sum(), int)])


def fit_svm(
    x: np.ndarray, labels: np.ndarray, test_fraction: float = 0.3, C: float = 1.0, seed: int = 0
) -> Boundary:
    """Fit LinearSVC on a random (1 - test_fraction) split, score accuracy on the rest."""
    x = np.asarray(x, np.float64)
    labels = np.asarray(labels, int)
    if len(np.unique(labels)) != 2:
        raise ValueError("the SVM needs samples of both classes; the scores did not separate any")
    perm = rng(seed, "svm-split").permutation(len(x))
    n_test = int(round(len(x) * test_fraction))
    test, train = perm[:n_test], perm[n_test:]
    if len(np.unique(labels[train])) != 2:
        raise ValueError("too few samples: the training split holds only one class")
    svm = LinearSVC(C=C, max_iter=20000, dual="auto", class_weight="balanced", random_state=seed)
    svm.fit(x[train], labels[train])
    pred = svm.predict(x[test]) if n_test else np.zeros(0, int)
    acc = float((pred == labels[test]).mean()) if n_test else float("nan")
    bal = (
        float(np.mean([(pred[labels[test] == c] == c).mean() for c in (0, 1) if (labels[test] == c).any()]))
        if n_test
        else float("nan")
    )
    coef = svm.coef_.reshape(-1)
    norm = float(np.linalg.norm(coef))
    if norm == 0:
        raise ValueError("the SVM found no separating direction")
    return Boundary(
        coef / norm,
        float(svm.intercept_[0]) / norm,
        acc,
        len(train),
        n_test,
        bal,
        int(labels.sum()),
        int((1 - labels).sum()),
    )


def boundary_from_scores(
    w: np.ndarray,
    scores: np.ndarray,
    fraction: float = 0.25,
    test_fraction: float = 0.3,
    C: float = 1.0,
    seed: int = 0,
) -> Boundary:
    """InterFaceGAN boundary: SVM on the extreme-scored w (top vs bottom ``fraction``, see
    :func:`extreme_labels`), classes weighted by their sizes."""
    idx, labels = extreme_labels(np.asarray(scores), fraction)
    return fit_svm(np.asarray(w)[idx], labels, test_fraction, C, seed)


def project_out(direction: np.ndarray, others: list[np.ndarray] | np.ndarray) -> np.ndarray:
    """``direction`` with its components along ``others`` removed (Gram-Schmidt), unit length."""
    d = np.asarray(direction, np.float64).reshape(-1)
    others = np.atleast_2d(np.asarray(others, np.float64)) if len(others) else np.zeros((0, d.size))
    if others.size:
        q, _ = np.linalg.qr(others.T)  # orthonormal basis of the others' span, [w_dim, m]
        d = d - q @ (q.T @ d)
    n = np.linalg.norm(d)
    if n < 1e-8:
        raise ValueError("the direction lies in the span of the boundaries it should be orthogonal to")
    return d / n


def sample_scored_w(
    G,
    num: int,
    scorer,
    class_idx: int | None = None,
    truncation_psi: float = 1.0,
    noise_mode: str = "const",
    batch_size: int = 32,
    device: str = "cpu",
    progress=None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(w [num, w_dim], scores [num], class labels or None) for seeds 0..num-1 with their images scored.

    Conditional G: class ``class_idx`` for all, or classes in turn (seed i -> class i % c_dim).
    ``progress(n)`` is called after each batch with the number of images done.
    """
    from dermsynth.edit.sampling import map_seeds, synthesize

    c_dim = int(getattr(G, "c_dim", 0))
    ws_all, scores_all, labels_all = [], [], []
    for start in range(0, num, batch_size):
        seeds = np.arange(start, min(start + batch_size, num))
        labels = (
            None
            if c_dim == 0
            else (np.full(len(seeds), class_idx) if class_idx is not None else seeds % c_dim)
        )
        ws = map_seeds(G, seeds.tolist(), labels, truncation_psi, batch_size, device)
        images = synthesize(G, ws, noise_mode, batch_size, device)
        ws_all.append(ws[:, 0].numpy())
        scores_all.append(scorer(images).scores)
        if labels is not None:
            labels_all.append(labels)
        if progress is not None:
            progress(len(seeds))
    labels = np.concatenate(labels_all) if labels_all else None
    return np.concatenate(ws_all), np.concatenate(scores_all), labels


def class_boundary(
    G, num: int = 2000, truncation_psi: float = 1.0, device: str = "cpu", seed: int = 0
) -> Boundary:
    """SVM normal separating the w of class 1 from class 0 of a conditional G (mapping only)."""
    from dermsynth.edit.sampling import map_seeds

    if int(getattr(G, "c_dim", 0)) < 2:
        raise ValueError("a class boundary needs a conditional network (c_dim >= 2)")
    seeds = np.arange(1_000_000, 1_000_000 + num)
    labels = seeds % 2
    w = map_seeds(G, seeds.tolist(), labels, truncation_psi, 256, device)[:, 0].numpy()
    return fit_svm(w, labels, seed=seed)


def orthogonalise(
    normal: np.ndarray, specs: list[str], G=None, device: str = "cpu"
) -> tuple[np.ndarray, list[str]]:
    """Project out the boundaries named in ``specs``: ``class`` (SVM class boundary of a conditional G)
    or ``FILE[:K]`` (direction K, or all, of another directions.npz). Returns (unit normal, names)."""
    from dermsynth.edit.directions import load_directions

    others, names = [], []
    for spec in specs:
        if spec == "class":
            b = class_boundary(G, device=device)
            others.append(b.normal)
            names.append(f"class (svm accuracy {b.accuracy:.3f})")
        else:
            file, _, k = spec.partition(":")
            dirs = load_directions(file)
            others.extend(dirs.direction(i) for i in ([int(k)] if k else range(dirs.k)))
            names.append(f"{file}:{k or 'all'}")
    return (project_out(normal, np.array(others)) if others else normal), names


def svm_directions(
    G,
    scorer,
    score_name: str,
    num: int = 10_000,
    class_idx: int | None = None,
    fraction: float = 0.25,
    truncation_psi: float = 1.0,
    orthogonal_to: list[str] = (),
    batch_size: int = 32,
    device: str = "cpu",
    progress=None,
):
    """InterFaceGAN boundary of ``G`` for ``scorer`` as a one-row :class:`Directions` (value: accuracy)."""
    from dermsynth.edit.directions import Directions

    w, scores, _ = sample_scored_w(
        G, num, scorer, class_idx, truncation_psi, "const", batch_size, device, progress
    )
    b = boundary_from_scores(w, scores, fraction)
    normal, ortho = orthogonalise(b.normal, list(orthogonal_to), G, device)
    meta = {
        "num": num,
        "score": score_name,
        "fraction": fraction,
        "truncation_psi": truncation_psi,
        "class": class_idx,
        "accuracy": b.accuracy,
        "balanced_accuracy": b.balanced_accuracy,
        "n_high": b.n_high,
        "n_low": b.n_low,
        "n_train": b.n_train,
        "n_test": b.n_test,
        "score_mean": float(scores.mean()),
        "orthogonal_to": ortho,
        "cos_to_unprojected": float(normal @ b.normal),
    }
    return Directions(
        normal[None],
        [b.accuracy],
        list(range(G.num_ws)),
        "svm",
        meta,
        extra={"intercepts": np.array([b.intercept])},
    )
