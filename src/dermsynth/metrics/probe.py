"""A linear probe as a two-sample test: how well does a logistic regression on features tell synthetic
images from real ones? (docs/metrics.md, "probe"; the generator's card goal of issue 24).

The probe is a classifier two-sample test (Lopez-Paz and Oquab 2017): standardised features, an
L2-regularised logistic regression (scikit-learn's defaults, class weights balanced), scored by the
balanced accuracy of a stratified, shuffled k-fold cross-validation. 0.5 means the two sets cannot be
told apart by a linear rule in that space; 1.0 means they are separable.

A finite sample is never at exactly 0.5, so the figure comes with a **control**: the same probe on two
disjoint draws of real images of the same size. The synthetic images are as good as real in that space
when their accuracy is within the control's noise.

Both sides are drawn to the same size (seeded), so the accuracy does not depend on which set is larger.
"""

from __future__ import annotations

import numpy as np

#: Cross-validation folds (the issue's protocol: 5-fold).
FOLDS = 5


def probe_accuracy(a: np.ndarray, b: np.ndarray, folds: int = FOLDS, seed: int = 0) -> tuple[float, float]:
    """(mean, std over folds) balanced accuracy of a logistic regression telling rows of ``a`` from ``b``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"probe needs two feature arrays [N, D] of one D, got {a.shape} and {b.shape}")
    if min(len(a), len(b)) < folds:
        raise ValueError(
            f"probe needs at least {folds} rows per set ({folds}-fold), got {len(a)} and {len(b)}"
        )
    x = np.concatenate([a, b])
    y = np.r_[np.zeros(len(a), int), np.ones(len(b), int)]
    model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=5000))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    scores = cross_val_score(model, x, y, cv=cv, scoring="balanced_accuracy")
    return float(scores.mean()), float(scores.std())


def _draw(rng: np.random.Generator, x: np.ndarray, n: int) -> np.ndarray:
    return x[np.sort(rng.choice(len(x), n, replace=False))]


def linear_probe(real: np.ndarray, fake: np.ndarray, folds: int = FOLDS, seed: int = 0) -> dict[str, float]:
    """The probe of ``fake`` against ``real`` and its real-vs-real control; keys are result suffixes.

    ``""``: accuracy on n synthetic vs n real rows, n = min(len(fake), len(real)); ``"_std"`` its spread
    over folds; ``"_control"`` / ``"_control_std"``: two disjoint draws of m = min(n, len(real) // 2) real
    rows each (absent when the real set has fewer than 2 x ``folds`` rows); :func:`probe_sizes` gives n, m.
    """
    rng = np.random.default_rng(seed)
    n = min(len(fake), len(real))
    acc, std = probe_accuracy(_draw(rng, real, n), _draw(rng, fake, n), folds, seed)
    out = {"": acc, "_std": std}
    m = probe_sizes(len(real), len(fake), folds)[1]
    if m:
        perm = rng.permutation(len(real))
        c, c_std = probe_accuracy(real[np.sort(perm[:m])], real[np.sort(perm[m : 2 * m])], folds, seed)
        out.update({"_control": c, "_control_std": c_std})
    return out


def probe_sizes(num_real: int, num_fake: int, folds: int = FOLDS) -> tuple[int, int]:
    """Rows per side of the probe and of its control (0: no control)."""
    n = min(num_real, num_fake)
    m = min(n, num_real // 2)
    return n, m if m >= folds else 0
