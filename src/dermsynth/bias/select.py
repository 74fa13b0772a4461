"""Per artifact: which detector decides (the heuristic or the learned model) and at which threshold,
chosen so that the choice transfers to unseen images (issue 27.1).

The two sources differ in which scores are unbiased. The heuristic detectors are not trained, so their
scores on *every* annotated training image are fair; the model is trained on all of them but a
holdout, so only its holdout scores are. Tuning the heuristic's threshold on the small holdout (267
images for ISIC 2017) chases noise: on unseen images such a threshold did worse than the detector's
default. Here:

* the heuristic's threshold maximises F1 over all annotated training images (``best_threshold``);
* the model's threshold maximises F1 over the holdout;
* each source's transfer is estimated by ``k``-fold cross-validation on the holdout images (the only
  images fair to both): in each fold, the threshold is chosen without the fold's images (the heuristic
  on every training image outside the fold, the model on the other holdout folds), then the fold's
  images are decided; F1 is taken over the pooled decisions of all folds;
* the model is chosen only when it beats the heuristic on those same images with ``confidence``: in a
  paired bootstrap over the holdout images (``n_boot`` resamples of the out-of-fold decisions), the
  model's F1 is higher in at least that share of resamples. A difference the holdout cannot tell from
  noise (dark corners: 0.960 vs 0.955 on 267 images) goes to the heuristic, which needs no weights;
* a detector whose chosen source transfers below :data:`MIN_F1` (its cross-validated F1 on those images)
  leaves the default audit (``excluded_artifacts``, recorded in ``model.json``; issue 27.4) until a new
  model or detector passes: an audit that flags gel bubbles in three images of four, most of them hair,
  says nothing about gel.

Pure numpy / scikit-learn on score arrays: the callers score the images (``bias.train`` at the end of a
training, ``scripts/ship_models.py artifacts-select`` for the shipped model).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from dermsynth.bias.evaluate import best_threshold

#: the cross-validated F1 a detector needs to stay in the default audit (issue 27.4)
MIN_F1 = 0.6


@dataclass(frozen=True)
class SourceChoice:
    """The decision for one artifact and the figures behind it."""

    source: str  # "model" | "heuristic"
    threshold: float  # of the chosen source
    heuristic_threshold: float  # max F1 over all annotated training images
    model_threshold: float | None  # max F1 over the holdout (None without model scores)
    cv_f1_heuristic: float  # cross-validated F1 on the holdout images
    cv_f1_model: float | None
    p_model_better: float | None  # share of paired bootstrap resamples where the model's F1 is higher
    n_train: int  # annotated training images the heuristic threshold saw
    n_holdout: int

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def cv_f1(self) -> float | None:
        """The chosen source's cross-validated F1 on the holdout images."""
        return self.cv_f1_model if self.source == "model" else self.cv_f1_heuristic


def _f1(truth: np.ndarray, pred: np.ndarray) -> float:
    tp = int(((truth == 1) & pred).sum())
    fp = int(((truth == 0) & pred).sum())
    fn = int(((truth == 1) & ~pred).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0


def folds(n: int, k: int, seed: int) -> np.ndarray:
    """Fold number of each of ``n`` items: a seeded permutation cut into ``k`` near-equal parts."""
    order = np.random.default_rng(seed).permutation(n)
    out = np.empty(n, int)
    out[order] = np.arange(n) % k
    return out


def cv_f1(truth_hold: np.ndarray, score_hold: np.ndarray, *args, **kwargs) -> float:
    """Cross-validated F1 of "choose the max-F1 threshold, then decide" on the holdout images
    (the out-of-fold decisions of :func:`cv_decisions`, same arguments)."""
    return _f1(np.asarray(truth_hold, int), cv_decisions(truth_hold, score_hold, *args, **kwargs))


def cv_decisions(
    truth_hold: np.ndarray,
    score_hold: np.ndarray,
    k: int = 5,
    seed: int = 0,
    truth_rest: np.ndarray | None = None,
    score_rest: np.ndarray | None = None,
) -> np.ndarray:
    """Out-of-fold decisions on the holdout images: the threshold of fold ``f`` is chosen on the
    holdout images outside ``f`` plus, when given, the ``*_rest`` images (training images outside the
    holdout: fair only for an untrained detector)."""
    truth_hold = np.asarray(truth_hold, int)
    score_hold = np.asarray(score_hold, float)
    f = folds(len(truth_hold), k, seed)
    pred = np.zeros(len(truth_hold), bool)
    for j in range(k):
        inside = f != j
        t, s = truth_hold[inside], score_hold[inside]
        if truth_rest is not None:
            t, s = np.concatenate([t, truth_rest]), np.concatenate([s, score_rest])
        thr, _ = best_threshold(t, s)
        pred[~inside] = score_hold[~inside] >= thr
    return pred


def p_better(
    truth: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, n_boot: int = 2000, seed: int = 0
) -> float:
    """Share of paired bootstrap resamples of the images in which ``pred_a``'s F1 beats ``pred_b``'s."""
    truth = np.asarray(truth, int)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(truth), (n_boot, len(truth)))
    t, a, b = truth[idx], pred_a[idx], pred_b[idx]

    def f1(p):
        tp = ((t == 1) & p).sum(1)
        den = 2 * tp + ((t == 0) & p).sum(1) + ((t == 1) & ~p).sum(1)
        return np.where(den > 0, 2 * tp / np.maximum(den, 1), 0.0)

    return float((f1(a) > f1(b)).mean())


def choose_source(
    truth: np.ndarray,
    heuristic: np.ndarray,
    hold: np.ndarray,
    model_hold: np.ndarray | None,
    k: int = 5,
    seed: int = 0,
    confidence: float = 0.9,
    n_boot: int = 2000,
) -> SourceChoice:
    """One artifact: ``truth`` and ``heuristic`` scores of every annotated training image, ``hold`` the
    holdout mask, ``model_hold`` the model's scores on the holdout images (None: heuristic only)."""
    truth = np.asarray(truth, int)
    heuristic = np.asarray(heuristic, float)
    hold = np.asarray(hold, bool)
    h_thr, _ = best_threshold(truth, heuristic)
    pred_h = cv_decisions(truth[hold], heuristic[hold], k, seed, truth[~hold], heuristic[~hold])
    cv_h = _f1(truth[hold], pred_h)
    m_thr = cv_m = p = None
    if model_hold is not None:
        m_thr, _ = best_threshold(truth[hold], model_hold)
        pred_m = cv_decisions(truth[hold], model_hold, k, seed)
        cv_m = _f1(truth[hold], pred_m)
        p = p_better(truth[hold], pred_m, pred_h, n_boot, seed)
    use_model = p is not None and p >= confidence
    return SourceChoice(
        "model" if use_model else "heuristic",
        float(m_thr if use_model else h_thr),
        float(h_thr),
        None if m_thr is None else float(m_thr),
        round(cv_h, 4),
        None if cv_m is None else round(cv_m, 4),
        None if p is None else round(p, 4),
        int(len(truth)),
        int(hold.sum()),
    )


def excluded_artifacts(selection: dict, min_f1: float = MIN_F1) -> dict[str, str]:
    """Artifacts whose chosen source transfers below ``min_f1``, each with the reason in words.

    ``selection``: artifact -> :class:`SourceChoice`, or its ``as_dict()`` as ``model.json`` holds it.
    """
    out = {}
    for a, c in selection.items():
        c = c if isinstance(c, SourceChoice) else SourceChoice(**c)
        f1 = c.cv_f1
        if f1 is not None and f1 < min_f1:
            out[a] = (
                f"its {c.source} detector reached F1 {f1:.3f} < {min_f1:g}, cross-validated on the "
                f"{c.n_holdout} held-out annotated images"
            )
    return out


def mean_cv_f1(selection: dict) -> float:
    """Mean cross-validated holdout F1 of the chosen sources (``SourceChoice`` per artifact)."""
    return float(np.mean([c.cv_f1 for c in selection.values()]))


def choose_views(cv_by_views: dict[int, dict[str, float]], min_gain: float = 0.01) -> int:
    """Test-time views worth their cost (issue 27.6). ``cv_by_views``: per view count, each artifact's
    cross-validated holdout F1 of its chosen source. The reference is the count with the best mean; the
    answer is the fewest views with which no artifact loses more than ``min_gain`` against it. (A rule on
    the mean alone chose 4 views for the shipped model, 0.779 against 0.788, while hair lost 0.039 and ink
    0.026 there, and 0.045 / 0.141 on `val`: a mean hides the one artifact that pays.) Each view costs one
    more forward pass of the model."""
    means = {v: float(np.mean(list(f1.values()))) for v, f1 in cv_by_views.items()}
    ref = cv_by_views[max(sorted(means), key=lambda v: means[v])]
    ok = [v for v, f1 in cv_by_views.items() if all(f1[a] >= ref[a] - min_gain for a in ref)]
    return min(ok)
