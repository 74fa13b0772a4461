"""Metrics at training snapshots: ``compute_for_training`` (called by the gan training loop).

Every rank generates its share of the synthetic images (sample i on rank i % world_size, seeds = i,
classes drawn from the real label distribution) and takes features; ``all_gather_cat`` brings them
together and rank 0 computes the figures against the cached real statistics, appending one line per
metric to ``run_dir/metric-<name>.jsonl`` (StyleGAN2-ADA's layout: ``{"results": {...}, "metric": ...,
"snapshot": ..., "kimg": ..., "total_time": ..., "timestamp": ...}``). Other ranks return ``{}``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from dermsynth.core import distributed as dist
from dermsynth.metrics.compute import (
    _class_names,
    _split_holdout,
    feature_metrics,
    network_features,
    parse_metrics,
    per_class_metrics,
)
from dermsynth.metrics.extractors import get_extractor
from dermsynth.metrics.features import FeatureSet, reference_features
from dermsynth.metrics.generator import sample_labels
from dermsynth.metrics.images import open_image_set


def _gather_rows(arr: np.ndarray, n_pad: int, device) -> np.ndarray:
    """Pad this rank's rows to ``n_pad`` and concatenate every rank's (rank-major order)."""
    t = torch.zeros((n_pad, *arr.shape[1:]), dtype=torch.from_numpy(arr[:0]).dtype, device=device)
    t[: len(arr)] = torch.from_numpy(arr).to(device)
    return dist.all_gather_cat(t).cpu().numpy()


def _rank_major_to_index(num: int, world: int, n_pad: int) -> np.ndarray:
    """Row in the gathered array of every sample index 0..num-1 (sample i lives on rank i % world)."""
    i = np.arange(num)
    return (i % world) * n_pad + i // world


def _write_line(run_dir: Path, metric: str, results: dict, **fields) -> None:
    line = {"results": results, "metric": metric, **fields, "timestamp": time.time()}
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / f"metric-{metric}.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")


@torch.no_grad()
def compute_for_training(
    G_ema,
    dataset_dir,
    metrics,
    run_dir,
    num: int = 10_000,
    features: str = "effnet-lite",
    batch_size: int = 32,
    device=None,
    cache_dir=None,
    kimg: float | None = None,
    snapshot: str | None = None,
    per_class: bool = True,
    **kw,
) -> dict:
    """Compute ``metrics`` for generator ``G_ema`` on all ranks together; rank 0 writes metric-*.jsonl.

    ``kw``: ``ppl_features`` ('lpips' or an extractor spec), ``lpips_weights``, ``ppl_num``, ``inception_weights``,
    ``feature_size``, ``kid_subsets``, ``kid_subset_size``, ``pr_k``, ``seed``. Returns
    ``{metric: {"results": ..., "per_class": ...}}`` on rank 0 and ``{}`` elsewhere.
    """
    t_start = time.perf_counter()
    metrics = parse_metrics(metrics)
    rank, world = dist.rank(), dist.world_size()
    device = dist.device() if device is None else torch.device(device)
    run_dir = Path(run_dir)
    seed = int(kw.get("seed", 0))
    real_set = open_image_set(dataset_dir)
    real_labels = real_set.labels if real_set.has_labels else None
    c_dim = int(getattr(G_ema, "c_dim", 0))
    labels = sample_labels(real_labels, num, c_dim, seed)
    mine = np.arange(rank, num, world)
    n_pad = (num + world - 1) // world
    order = _rank_major_to_index(num, world, n_pad)
    out: dict = {}
    names = _class_names(real_set, None) if real_labels is not None else [f"class{c}" for c in range(c_dim)]
    fkw = dict(
        kid_subsets=int(kw.get("kid_subsets", 100)),
        kid_subset_size=int(kw.get("kid_subset_size", 1000)),
        pr_k=int(kw.get("pr_k", 3)),
        device=device,
        seed=seed,
    )
    common = {"snapshot": snapshot, "kimg": kimg, "num": num, "world_size": world}
    if {"fid", "kid", "pr", "memo"} & set(metrics):
        ext = get_extractor(
            features,
            device=device,
            inception_weights=kw.get("inception_weights"),
            size=kw.get("feature_size"),
        )
        lab = labels[mine] if labels is not None else None
        fs = network_features(G_ema, ext, mine, lab, batch_size, device, 32 if "memo" in metrics else None)
        o = np.argsort(np.asarray(fs.info["seeds"]))
        feats = _gather_rows(fs.features[o], n_pad, device)[order]
        labs = _gather_rows(fs.labels[o].astype(np.int64), n_pad, device)[order]
        thumbs = _gather_rows(fs.thumbs[o], n_pad, device)[order] if fs.thumbs is not None else None
        if rank == 0:
            fake = FeatureSet(
                feats, labs, [f"seed{i:08d}" for i in range(num)], thumbs, None, {"seeds": list(range(num))}
            )
            real = reference_features(real_set, ext, batch_size, cache_dir, 32)
            res = feature_metrics(real.features, fake.features, metrics, real_stats=real.stats, **fkw)
            pc = (
                per_class_metrics(real, fake, names, metrics, **fkw)
                if per_class and labels is not None
                else {}
            )
            elapsed = time.perf_counter() - t_start
            groups = {"fid": ["fid"], "kid": ["kid", "kid_std"], "pr": ["precision", "recall"]}
            for m in [m for m in metrics if m in groups]:
                r = {k: res[k] for k in groups[m]}
                for cname, vals in pc.items():
                    r.update({f"{k}/{cname}": vals[k] for k in groups[m] if k in vals})
                _write_line(run_dir, m, r, features=ext.name, total_time=elapsed, **common)
                out[m] = {"results": r}
            if "memo" in metrics:
                out["memo"] = _memo_training(real_set, real, fake, G_ema, run_dir, kimg, device, seed)
                _write_line(
                    run_dir,
                    "memo",
                    {"memo_flag": out["memo"]["flag"]},
                    features=ext.name,
                    total_time=time.perf_counter() - t_start,
                    **common,
                )
    if "ppl" in metrics:
        r = _ppl_training(
            G_ema, real_labels, names, num, kw, batch_size, device, mine, n_pad, world, seed, per_class
        )
        if rank == 0:
            _write_line(run_dir, "ppl", r, total_time=time.perf_counter() - t_start, **common)
            out["ppl"] = {"results": r}
    dist.barrier()
    return out


def _ppl_training(
    G, real_labels, names, num, kw, batch_size, device, mine, n_pad, world, seed, per_class
) -> dict:
    """ppl2_wend with samples split over ranks (same values whatever the world size)."""
    from dermsynth.metrics.ppl import aggregate, feature_distance, lpips_distance, path_lengths

    spec = kw.get("ppl_features") or "lpips"
    if spec == "lpips":
        from dermsynth.metrics.lpips import load_lpips

        dfn, key = (
            lpips_distance(load_lpips(kw.get("lpips_weights"), kw.get("lpips_lin_weights"))[0].to(device)),
            "ppl2_wend",
        )
    else:
        dfn, key = feature_distance(get_extractor(spec, device=device)), f"ppl2_wend[{spec}]"
    n = int(kw.get("ppl_num") or num)
    mine = np.arange(dist.rank(), n, world)
    n_pad = (n + world - 1) // world
    order = _rank_major_to_index(n, world, n_pad)
    runs = [(key, sample_labels(real_labels, n, G.c_dim, seed), seed)]
    if per_class and G.c_dim > 0:
        runs += [
            (f"{key}/{names[c] if c < len(names) else c}", np.full(n, c), seed + 1000 + c)
            for c in range(G.c_dim)
        ]
    res = {}
    for name, labels, s in runs:
        d = path_lengths(
            G,
            dfn,
            mine,
            labels[mine] if labels is not None else None,
            float(kw.get("ppl_epsilon", 1e-4)),
            True,
            max(1, batch_size // 2),
            device,
            s,
        )
        d = _gather_rows(d.astype(np.float64), n_pad, device)[order]
        res[name] = aggregate(d)
    return res


def _memo_training(real_set, real, fake, G, run_dir, kimg, device, seed) -> dict:
    from dermsynth.core.io import read_rgb
    from dermsynth.metrics.generator import generate
    from dermsynth.metrics.memorisation import memorisation

    train, hold, how = _split_holdout(real, None, seed)

    def load_fake(i):
        lab = None if fake.labels[i] < 0 else [int(fake.labels[i])]
        return next(generate(G, [i], lab, 1.0, "const", 1, device))[2][0]

    out_dir = run_dir / (f"memo-{int(kimg):06d}" if kimg is not None else "memo")
    res = memorisation(
        fake,
        train,
        hold,
        out_dir,
        load_fake,
        lambda i: read_rgb(real_set.root / train.names[i]),
        device=device,
    )
    res["holdout"] = how
    return res
