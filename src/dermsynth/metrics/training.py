"""Metrics at training snapshots: ``compute_for_training`` (called by the gan training loop).

The same driver as ``dermsynth metrics`` (driver.evaluate) on the generator in memory: sample i is
made on rank i % world_size with seed i and a class drawn from the real label distribution, so the
figures equal the standalone command's on the same network and do not depend on the number of GPUs.
It returns, per metric, ``{"results": {...}, "num": ..., "features": ...}`` (per-class figures as
``"<key>/<class>"``) on rank 0 and ``{}`` elsewhere; it writes no metric file. The training loop writes
them, with its own fields, as ``metric-<name>.jsonl`` rows through its one writer
(``gan.train.maintenance.write_metric``, docs/architecture.md R8).
"""

from __future__ import annotations

from pathlib import Path

import torch

from dermsynth.metrics.driver import MetricOptions, evaluate


def metric_result(out: dict, name: str) -> dict:
    """Metric ``name`` of a driver result: its figures (per class as key/class), count and features."""
    keys = [k for k in out["results"] if k == name or k.startswith(name + "_")]
    results = {k: out["results"][k] for k in keys}
    for cname, vals in out["per_class"].items():
        results.update({f"{k}/{cname}": v for k, v in vals.items() if k == name or k.startswith(name + "_")})
    detail = out["details"][name]
    feats = detail.get("features", {}).get("extractor") or detail.get("distance")
    return {"results": results, "num": detail["num"], "features": feats}


@torch.no_grad()
def compute_for_training(
    G_ema,
    dataset_dir,
    metrics,
    run_dir,
    device=None,
    kimg: float | None = None,
    **options,
) -> dict:
    """Compute ``metrics`` (names, registry.py) for ``G_ema`` on all ranks.

    The sample count comes from each metric's name. ``options``: ``driver.MetricOptions`` fields,
    with the same defaults as the command. Memorisation files go to ``run_dir/memo-<kimg>/``. Returns
    ``{name: {"results": ..., "num": ..., "features": ...}}`` on rank 0 and ``{}`` elsewhere.
    """
    run_dir = Path(run_dir)
    options.setdefault("device", str(device) if device is not None else "auto")
    options.setdefault("out_dir", str(run_dir / (f"memo-{int(kimg):06d}" if kimg is not None else "memo")))
    out = evaluate(metrics, dataset_dir, MetricOptions.from_kwargs(**options), G=G_ema)
    if not out:
        return {}
    return {name: metric_result(out, name) for name in out["metrics"]}
