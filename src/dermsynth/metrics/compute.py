"""``compute_metrics``: every metric of a synthetic set against a real one, overall and per class.

Real side: features from the cache (``features.reference_features``). Synthetic side: a folder of
images (``fake_dir``) or a generator (``network``), generated with classes drawn from the real label
distribution as in StyleGAN2-ADA. Per-class figures compare the synthetic images of a class with the
real images of that class. Metric names: fid, kid, pr (precision/recall, k=3), ppl (ppl2_wend), memo.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from dermsynth.metrics.extractors import get_extractor
from dermsynth.metrics.features import FeatureSet, extract_image_set, reference_features
from dermsynth.metrics.frechet import feature_stats, fid_from_features, frechet_distance
from dermsynth.metrics.images import open_image_set, thumbnails
from dermsynth.metrics.kid import kernel_inception_distance
from dermsynth.metrics.precision_recall import precision_recall

METRICS = ("fid", "kid", "pr", "ppl", "memo")
#: StyleGAN2-ADA metric names accepted as aliases (the sample count comes from ``num``).
ALIASES = {
    "fid50k_full": "fid",
    "fid50k": "fid",
    "kid50k_full": "kid",
    "kid50k": "kid",
    "pr50k3_full": "pr",
    "pr50k3": "pr",
    "ppl2_wend": "ppl",
    "precision": "pr",
    "recall": "pr",
    "memorisation": "memo",
}
FEATURE_METRICS = {"fid", "kid", "pr", "memo"}
DEFAULT_NUM = 50_000  # fid50k_full / ppl2_wend: the official sample counts

ProgressFn = Callable[[str, int, int | None], None]


def parse_metrics(metrics) -> list[str]:
    """``"fid,kid"`` or a sequence -> validated list in canonical order."""
    names = [
        m.strip().lower() for m in (metrics.split(",") if isinstance(metrics, str) else metrics) if m.strip()
    ]
    names = [ALIASES.get(m, m) for m in names]
    bad = [m for m in names if m not in METRICS]
    if bad or not names:
        raise ValueError(f"unknown metric(s) {bad or names}; choose from {list(METRICS)}")
    return [m for m in METRICS if m in names]


def feature_metrics(
    real: np.ndarray,
    fake: np.ndarray,
    metrics,
    kid_subsets=100,
    kid_subset_size=1000,
    pr_k=3,
    device="cpu",
    seed=0,
    real_stats=None,
) -> dict:
    """fid / kid / precision-recall of two feature sets (what of ``metrics`` applies).

    ``real_stats``: cached (mu, sigma) of ``real``, used when the full covariance route applies.
    """
    out: dict = {}
    if "fid" in metrics:
        if real_stats is not None and min(len(real), len(fake)) > real.shape[1]:
            out["fid"] = frechet_distance(*real_stats, *feature_stats(fake))
        else:
            out["fid"] = fid_from_features(real, fake)
    if "kid" in metrics:
        out["kid"], out["kid_std"] = kernel_inception_distance(
            fake, real, kid_subsets, kid_subset_size, 2020 + seed
        )
    if "pr" in metrics:
        out["precision"], out["recall"] = precision_recall(real, fake, k=pr_k, device=device)
    return out


def per_class_metrics(real: FeatureSet, fake: FeatureSet, class_names, metrics, **kw) -> dict:
    """{class name: metrics} for each class with enough images on both sides (else a note)."""
    out = {}
    need = max(2, kw.get("pr_k", 3) + 1 if "pr" in metrics else 2)
    for c in sorted(set(real.labels.tolist()) & set(fake.labels.tolist())):
        if c < 0:
            continue
        name = class_names[c] if c < len(class_names) else f"class{c}"
        r, f = real.labels == c, fake.labels == c
        if r.sum() < need or f.sum() < need:
            out[name] = {
                "note": f"too few images (real {int(r.sum())}, synthetic {int(f.sum())}; need {need})"
            }
            continue
        out[name] = feature_metrics(real.features[r], fake.features[f], metrics, **kw)
        out[name].update(num_real=int(r.sum()), num_fake=int(f.sum()))
    return out


@torch.no_grad()
def network_features(
    G, extractor, seeds, labels, batch_size=32, device="cpu", thumb_size=32, truncation_psi=1.0, on_batch=None
) -> FeatureSet:
    """Generate images for ``seeds`` (classes ``labels``), quantise to uint8, take features + thumbnails."""
    from dermsynth.metrics.generator import generate

    feats, labs, names, thumbs, seen = [], [], [], [], []
    for s, c, imgs in generate(G, seeds, labels, truncation_psi, "const", batch_size, device):
        feats.append(extractor(torch.from_numpy(imgs).permute(0, 3, 1, 2)).cpu().numpy())
        labs.append(c)
        seen.append(s)
        names += [
            f"seed{int(a):08d}" + (f"-class{int(b)}" if b >= 0 else "") for a, b in zip(s, c, strict=True)
        ]
        if thumb_size:
            thumbs.append(thumbnails(imgs, thumb_size))
        if on_batch:
            on_batch(len(s))
    return FeatureSet(
        np.concatenate(feats).astype(np.float32),
        np.concatenate(labs).astype(int),
        names,
        np.concatenate(thumbs) if thumbs else None,
        None,
        {"seeds": [int(x) for x in np.concatenate(seen)]},
    )


def _split_holdout(real: FeatureSet, holdout: FeatureSet | None, seed: int, frac: float = 0.1):
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


def _ppl(G, real_labels, class_names, per_class, device, batch_size, kw, progress) -> tuple[dict, dict, dict]:
    """ppl2_wend overall (and per class): (results, per-class results, info)."""
    from dermsynth.metrics.generator import sample_labels
    from dermsynth.metrics.ppl import aggregate, feature_distance, lpips_distance, path_lengths

    spec = kw.get("ppl_features") or "lpips"
    if spec == "lpips":
        from dermsynth.metrics.lpips import load_lpips

        net, info = load_lpips(kw.get("lpips_weights"), kw.get("lpips_lin_weights"))
        dist, key = lpips_distance(net.to(device)), "ppl2_wend"
    else:
        ext = get_extractor(spec, device=device, size=kw.get("ppl_feature_size"))
        dist, key = feature_distance(ext), f"ppl2_wend[{spec}]"
        info = {
            "distance": f"squared L2 of {ext.name} features (NOT LPIPS: not comparable with published PPL)",
            **ext.info,
        }
    n = int(kw.get("ppl_num") or kw.get("num") or DEFAULT_NUM)
    eps, seed = float(kw.get("ppl_epsilon", 1e-4)), int(kw.get("seed", 0))
    labels = sample_labels(real_labels, n, G.c_dim, seed)
    bs = max(1, batch_size // 4)
    d = path_lengths(G, dist, np.arange(n), labels, eps, True, bs, device, seed)
    if progress:
        progress("ppl", n, n)
    res, pc = {key: aggregate(d)}, {}
    if per_class and G.c_dim > 0:
        for c in range(G.c_dim):
            lab = np.full(n, c)
            dc = path_lengths(G, dist, np.arange(n), lab, eps, True, bs, device, seed + 1000 + c)
            pc[class_names[c] if c < len(class_names) else f"class{c}"] = {key: aggregate(dc)}
    info.update(num=n, epsilon=eps, space="w", sampling="end", crop=True)
    return res, pc, info


def compute_metrics(
    real_dir,
    fake_dir=None,
    network=None,
    metrics=("fid",),
    features: str = "effnet-lite",
    num: int | None = None,
    batch_size: int = 64,
    device="cpu",
    cache_dir=None,
    per_class: bool = True,
    **kw,
) -> dict:
    """All requested metrics of ``fake_dir`` or ``network`` against ``real_dir``; returns a JSON-able dict.

    Keyword options: ``inception_weights``, ``feature_size`` (extractor input size), ``kid_subsets``
    (100), ``kid_subset_size`` (1000), ``pr_k`` (3), ``ppl_features`` ('lpips' or an extractor spec),
    ``lpips_weights``, ``lpips_lin_weights``, ``ppl_num``, ``ppl_epsilon`` (1e-4), ``truncation_psi`` (1),
    ``out_dir`` (memorisation files; default ./dermsynth-metrics), ``memo_holdout_dir``,
    ``memo_pixel_size`` (32), ``memo_top_k`` (32), ``seed`` (0), ``use_cache`` (True), ``progress``
    (callable(stage, n_done_increment, total)).
    """
    t_start = time.perf_counter()
    metrics = parse_metrics(metrics)
    if (fake_dir is None) == (network is None):
        raise ValueError(
            "give exactly one of a synthetic image directory (--fake) or a generator (--network)"
        )
    if "ppl" in metrics and network is None:
        raise ValueError("ppl needs a generator (--network), not a folder of images")
    device = torch.device(device)
    progress: ProgressFn | None = kw.get("progress")
    seed = int(kw.get("seed", 0))
    thumb = int(kw.get("memo_pixel_size", 32))
    fkw = dict(
        kid_subsets=int(kw.get("kid_subsets", 100)),
        kid_subset_size=int(kw.get("kid_subset_size", 1000)),
        pr_k=int(kw.get("pr_k", 3)),
        device=device,
        seed=seed,
    )
    real_set = open_image_set(real_dir)
    out: dict = {"metrics": metrics, "results": {}, "per_class": {}, "timing": {}}
    out["real"] = {"dir": str(real_dir), "num_files": len(real_set)}
    G = load_network_if(network)
    timing = out["timing"]

    def tick(stage, total):
        return (lambda n: progress(stage, n, total)) if progress else None

    if FEATURE_METRICS & set(metrics):
        ext = get_extractor(
            features,
            device=device,
            inception_weights=kw.get("inception_weights"),
            size=kw.get("feature_size"),
        )
        out["features"] = ext.info
        t0 = time.perf_counter()
        real = reference_features(
            real_set,
            ext,
            batch_size,
            cache_dir,
            thumb,
            tick("real", len(real_set)),
            use_cache=kw.get("use_cache", True),
        )
        timing["real_features_s"] = round(time.perf_counter() - t0, 4)
        out["real"].update({k: v for k, v in real.info.items() if k != "extract_s"}, num=len(real))
        t0 = time.perf_counter()
        if G is None:
            fake_set = open_image_set(fake_dir, num)
            fake = extract_image_set(fake_set, ext, batch_size, thumb, tick("synthetic", len(fake_set)))
            out["fake"] = {"dir": str(fake_dir), **fake.info}
        else:
            from dermsynth.metrics.generator import sample_labels

            n = int(num or DEFAULT_NUM)
            labels = sample_labels(real.labels, n, G.c_dim, seed)
            fake = network_features(
                G,
                ext,
                np.arange(n),
                labels,
                max(1, batch_size // 2),
                device,
                thumb,
                float(kw.get("truncation_psi", 1.0)),
                tick("generate", n),
            )
            out["fake"] = {
                "network": str(network),
                "num": len(fake),
                "truncation_psi": float(kw.get("truncation_psi", 1.0)),
                "labels": "drawn from the real label distribution" if labels is not None else None,
            }
        timing["fake_features_s"] = round(time.perf_counter() - t0, 4)
        t0 = time.perf_counter()
        out["results"].update(
            feature_metrics(real.features, fake.features, metrics, real_stats=real.stats, **fkw)
        )
        names = _class_names(real_set, fake)
        if per_class and real_set.has_labels and (fake.labels >= 0).all():
            for cname, vals in per_class_metrics(real, fake, names, metrics, **fkw).items():
                out["per_class"].setdefault(cname, {}).update(vals)
        timing["metrics_s"] = round(time.perf_counter() - t0, 4)
        if "memo" in metrics:
            t0 = time.perf_counter()
            out["memorisation"] = _memo(
                real_set, real, fake, ext, G, fake_dir, batch_size, cache_dir, thumb, kw, device
            )
            out["results"]["memo_flag"] = out["memorisation"]["flag"]
            timing["memo_s"] = round(time.perf_counter() - t0, 4)
    if "ppl" in metrics:
        t0 = time.perf_counter()
        res, pc, info = _ppl(
            G,
            real_set.labels if real_set.has_labels else None,
            _class_names(real_set, None),
            per_class,
            device,
            batch_size,
            dict(kw, num=num),
            progress,
        )
        out["results"].update(res)
        for cname, vals in pc.items():
            out["per_class"].setdefault(cname, {}).update(vals)
        out["ppl"] = info
        timing["ppl_s"] = round(time.perf_counter() - t0, 4)
    timing["total_s"] = round(time.perf_counter() - t_start, 4)
    out["settings"] = {
        "batch_size": batch_size,
        "device": str(device),
        "per_class": per_class,
        **{k: v for k, v in kw.items() if k != "progress" and isinstance(v, (int, float, str, type(None)))},
    }
    return out


def load_network_if(network):
    if network is None:
        return None
    from dermsynth.metrics.generator import load_network

    return load_network(network)


def _class_names(real_set, fake) -> list[str]:
    n = max(
        [len(real_set.class_names)]
        + ([int(fake.labels.max()) + 1] if fake is not None and len(fake.labels) else [])
    )
    return [real_set.class_names[i] if i < len(real_set.class_names) else f"class{i}" for i in range(n)]


def _memo(real_set, real, fake, ext, G, fake_dir, batch_size, cache_dir, thumb, kw, device) -> dict:
    """Memorisation analysis with loaders for the grid images."""
    from dermsynth.core.io import read_rgb
    from dermsynth.metrics.memorisation import memorisation

    holdout = None
    if kw.get("memo_holdout_dir"):
        hs = open_image_set(kw["memo_holdout_dir"])
        holdout = reference_features(hs, ext, batch_size, cache_dir, thumb)
    train, hold, how = _split_holdout(real, holdout, int(kw.get("seed", 0)))

    def load_train(i):
        return read_rgb(Path(real_set.root) / train.names[i])

    if G is None:
        root = Path(fake_dir)

        def load_fake(i):
            return read_rgb(root / fake.names[i])
    else:
        from dermsynth.metrics.generator import generate

        seeds = fake.info["seeds"]

        def load_fake(i):
            lab = None if fake.labels[i] < 0 else [int(fake.labels[i])]
            return next(
                generate(G, [seeds[i]], lab, float(kw.get("truncation_psi", 1.0)), "const", 1, device)
            )[2][0]

    out_dir = Path(kw.get("out_dir") or "dermsynth-metrics")
    res = memorisation(
        fake,
        train,
        hold,
        out_dir,
        load_fake,
        load_train,
        int(kw.get("memo_top_k", 32)),
        float(kw.get("memo_alpha", 0.01)),
        device,
    )
    res["holdout"] = how
    from dermsynth.core.io import atomic_write_json

    atomic_write_json(out_dir / "memorisation.json", res)
    return res


def write_results(path: str | os.PathLike, results: dict) -> None:
    """Write the result dict as JSON, atomically."""
    from dermsynth.core.io import atomic_write_json

    atomic_write_json(path, results)
