"""One function per metric kind: ``KIND_FUNCTIONS[kind](evaluation, spec)`` -> results, per class, info.

Every function runs on every rank (the synthetic features and path lengths are gathered across ranks)
and returns ``None`` on ranks other than 0. Result keys start with the metric's name (registry.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dermsynth.metrics.features import FeatureSet
from dermsynth.metrics.frechet import feature_stats, fid_from_features, frechet_distance
from dermsynth.metrics.gather import gather_rows as _gather_rows
from dermsynth.metrics.gather import output_dir
from dermsynth.metrics.gather import rank_major_to_index as _rank_major_to_index
from dermsynth.metrics.kid import kernel_inception_distance
from dermsynth.metrics.precision_recall import precision_recall
from dermsynth.metrics.registry import MetricSpec

#: StyleGAN2-ADA's pr50k3_full uses at most 200k real images (metric_main: max_real=200000).
PR_MAX_REAL = 200_000

Figures = Callable[[np.ndarray, np.ndarray, tuple | None], dict[str, float]]


def _fid(ev, spec: MetricSpec) -> Figures:
    def f(real, fake, real_stats):
        # the cached (mu, sigma) route needs full-rank covariances; else the exact small-set route
        if real_stats is not None and min(len(real), len(fake)) > real.shape[1]:
            return {"": frechet_distance(*real_stats, *feature_stats(fake))}
        return {"": fid_from_features(real, fake)}

    return f


def _kid(ev, spec: MetricSpec) -> Figures:
    o = ev.opts

    def f(real, fake, _):
        mean, std = kernel_inception_distance(fake, real, o.kid_subsets, o.kid_subset_size, 2020 + o.seed)
        return {"": mean, "_std": std}

    return f


def _pr(ev, spec: MetricSpec) -> Figures:
    def f(real, fake, _):
        if spec.official:
            real = real[:PR_MAX_REAL]
        p, r = precision_recall(real, fake, k=spec.k, device=ev.device)
        return {"_precision": p, "_recall": r}

    return f


def _probe(ev, spec: MetricSpec) -> Figures:
    from dermsynth.metrics.probe import linear_probe

    def f(real, fake, _):
        return linear_probe(real, fake, seed=ev.opts.seed)

    return f


def feature_kind(ev, spec: MetricSpec, figures: Figures, need: int = 2) -> dict | None:
    """Overall and per-class figures of a metric on (real, synthetic) features in ``spec.space``."""
    fake = ev.fake(spec.num, spec.space)  # collective: every rank generates its share
    if ev.rank != 0:
        return None
    real = ev.real(spec.space)
    out = {
        "results": {spec.name + k: v for k, v in figures(real.features, fake.features, real.stats).items()}
    }
    out["per_class"], counts = {}, {}
    if ev.opts.per_class and ev.real_set.has_labels and len(fake.labels) and (fake.labels >= 0).all():
        names = ev.class_names(int(max(real.labels.max(), fake.labels.max())) + 1)
        for c in sorted(set(real.labels.tolist()) & set(fake.labels.tolist())):
            r, f = real.labels == c, fake.labels == c
            counts[names[c]] = {"num_real": int(r.sum()), "num_fake": int(f.sum())}
            if r.sum() < need or f.sum() < need:
                note = f"too few images (real {int(r.sum())}, synthetic {int(f.sum())}; need {need})"
                out["per_class"][names[c]] = {f"{spec.name}_note": note}
                continue
            vals = figures(real.features[r], fake.features[f], None)
            out["per_class"][names[c]] = {spec.name + k: v for k, v in vals.items()}
    out["info"] = {"features": ev.extractor(spec.space).info, "num_real": len(real), "num_fake": len(fake)}
    if counts:
        out["info"]["per_class"] = counts
    if spec.kind == "pr":
        out["info"]["k"] = spec.k
    if spec.kind == "kid":
        out["info"].update(subsets=ev.opts.kid_subsets, subset_size=ev.opts.kid_subset_size)
    if spec.kind == "probe":
        from dermsynth.metrics.probe import FOLDS, probe_sizes

        n, m = probe_sizes(len(real), len(fake))
        out["info"].update(folds=FOLDS, per_side=n, control_per_side=m,
                           model="StandardScaler + LogisticRegression(class_weight='balanced')")  # fmt: skip
    return out


def memo_kind(ev, spec: MetricSpec) -> dict | None:
    """Memorisation (memorisation.py) of ``spec.num`` synthetic images in ``spec.space`` + pixel space."""
    from dermsynth.core.io import read_rgb
    from dermsynth.metrics.features import reference_features
    from dermsynth.metrics.images import open_image_set
    from dermsynth.metrics.memorisation import memorisation

    fake = ev.fake(spec.num, spec.space)
    if ev.rank != 0:
        return None
    o, real = ev.opts, ev.real(spec.space)
    holdout = None
    if o.memo_holdout_dir:
        hs = open_image_set(o.memo_holdout_dir)
        holdout = reference_features(
            hs, ev.extractor(spec.space), o.batch_size, o.cache_dir, o.memo_pixel_size, use_cache=o.use_cache
        )
    train, hold, how = split_holdout(real, holdout, o.seed)

    def load_train(i):
        return read_rgb(ev.real_set.root / train.names[i])

    if ev.G is None:

        def load_fake(i):
            return read_rgb(ev.fake_set.root / fake.names[i])
    else:
        from dermsynth.metrics.generator import generate

        def load_fake(i):  # sample i has seed i
            lab = None if fake.labels[i] < 0 else [int(fake.labels[i])]
            return next(generate(ev.G, [i], lab, o.truncation_psi, "const", 1, ev.device))[2][0]

    res = memorisation(
        fake, train, hold, output_dir(o), load_fake, load_train, o.memo_top_k, o.memo_alpha, ev.device
    )
    res["holdout"] = how
    from dermsynth.core.io import atomic_write_json

    atomic_write_json(output_dir(o) / "memorisation.json", res)
    info = {"features": ev.extractor(spec.space).info, "memorisation": res}
    return {"results": {f"{spec.name}_flag": res["flag"]}, "info": info}


def split_holdout(real: FeatureSet, holdout: FeatureSet | None, seed: int, frac: float = 0.1):
    """(train, holdout, how): given held-out set, the manifest's non-train split, or a random 10%."""
    if holdout is not None:
        return real, holdout, "holdout_dir"
    if real.splits is not None:
        tr = np.array([s == "train" for s in real.splits])
        if 2 <= tr.sum() and (~tr).sum() >= 2:
            return real.subset(tr), real.subset(~tr), "manifest split: train vs the rest"
    r = np.random.default_rng(seed)
    n_h = max(2, int(round(frac * len(real))))
    perm = r.permutation(len(real))
    return real.subset(np.sort(perm[n_h:])), real.subset(np.sort(perm[:n_h])), f"random {frac:.0%} of real"


def ppl_distance(ev, space: str):
    """(distance function on [0, 255] image pairs, info) of a PPL space; loaded once per run."""
    if space not in ev._distances:
        from dermsynth.metrics.ppl import feature_distance, lpips_distance

        if space == "lpips":
            from dermsynth.metrics.lpips import load_lpips

            net, info = load_lpips(ev.opts.vgg16_weights, ev.opts.lpips_lin_weights)
            ev._distances[space] = (lpips_distance(net.to(ev.device)), dict(info))
        else:
            ext = ev.extractor(space)
            info = {
                "distance": f"squared L2 of {ext.name} features (NOT LPIPS: not comparable with published PPL)",
                **ext.info,
            }
            ev._distances[space] = (feature_distance(ext), info)
    return ev._distances[space]


def ppl_kind(ev, spec: MetricSpec) -> dict | None:
    """PPL in W, end points, no crop (ppl2_wend's protocol), overall and per class; samples over ranks."""
    from dermsynth.metrics.ppl import aggregate, path_lengths

    dfn, info = ppl_distance(ev, spec.space)
    G, o, n = ev.G, ev.opts, spec.num
    mine = np.arange(ev.rank, n, ev.world)
    n_pad = -(-n // ev.world)
    rows = _rank_major_to_index(n, ev.world, n_pad)
    runs = [(None, ev.sample_labels(n), o.seed)]
    if o.per_class and int(G.c_dim) > 0:
        names = ev.class_names(int(G.c_dim))
        runs += [(names[c], np.full(n, c), o.seed + 1000 + c) for c in range(int(G.c_dim))]
    out: dict = {"results": {}, "per_class": {}}
    on_batch = ev.tick(f"{spec.name}", n * len(runs))
    for cname, labels, seed in runs:
        d = path_lengths(
            G,
            dfn,
            mine,
            labels[mine] if labels is not None else None,
            o.ppl_epsilon,
            False,
            max(1, o.batch_size // 2),
            ev.device,
            seed,
        )
        d = _gather_rows(d.astype(np.float64), n_pad, ev.device)[rows]
        if on_batch:
            on_batch(n)
        if ev.rank == 0:
            target = out["results"] if cname is None else out["per_class"].setdefault(cname, {})
            target[spec.name] = aggregate(d)
    if ev.rank != 0:
        return None
    out["info"] = {**info, "num": n, "epsilon": o.ppl_epsilon, "space": "w", "sampling": "end", "crop": False}
    return out


KIND_FUNCTIONS: dict[str, Callable[[Any, MetricSpec], dict | None]] = {  # (driver.Evaluation, spec)
    "fid": lambda ev, s: feature_kind(ev, s, _fid(ev, s)),
    "kid": lambda ev, s: feature_kind(ev, s, _kid(ev, s)),
    "pr": lambda ev, s: feature_kind(ev, s, _pr(ev, s), need=s.k + 1),
    "probe": lambda ev, s: feature_kind(ev, s, _probe(ev, s), need=10),
    "memo": memo_kind,
    "ppl": ppl_kind,
}
