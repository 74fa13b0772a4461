"""Metrics at training snapshots: ``compute_for_training`` (called by the gan training loop).

The same driver as ``dermsynth metrics`` (driver.evaluate) on the generator in memory: sample i is
made on rank i % world_size with seed i and a class drawn from the real label distribution, so the
figures equal the standalone command's on the same network and do not depend on the number of GPUs.
Rank 0 appends one line per metric to ``run_dir/metric-<name>.jsonl`` (StyleGAN2-ADA's layout:
``{"results": {...}, "metric": <name>, "snapshot": ..., "kimg": ..., "total_time": ...,
"timestamp": ...}``; per-class figures as ``"<key>/<class>"``). Other ranks return ``{}``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from dermsynth.core import distributed as dist
from dermsynth.metrics.driver import MetricOptions, evaluate


def metric_line(out: dict, name: str, **fields) -> dict:
    """The metric-<name>.jsonl row of metric ``name`` from a driver result (per class as key/class)."""
    keys = [k for k in out["results"] if k == name or k.startswith(name + "_")]
    results = {k: out["results"][k] for k in keys}
    for cname, vals in out["per_class"].items():
        results.update({f"{k}/{cname}": v for k, v in vals.items() if k == name or k.startswith(name + "_")})
    detail = out["details"][name]
    feats = detail.get("features", {}).get("extractor") or detail.get("distance")
    return {"results": results, "metric": name, "num": detail["num"], "features": feats, **fields}


def append_jsonl(path: Path, row: dict) -> None:
    """One JSON line appended and flushed (a crash loses at most the line being written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row, default=float) + "\n")


@torch.no_grad()
def compute_for_training(
    G_ema,
    dataset_dir,
    metrics,
    run_dir,
    device=None,
    kimg: float | None = None,
    snapshot: str | None = None,
    **options,
) -> dict:
    """Compute ``metrics`` (names, registry.py) for ``G_ema`` on all ranks; rank 0 writes metric-<name>.jsonl.

    The sample count comes from each metric's name. ``options``: ``driver.MetricOptions`` fields,
    with the same defaults as the command. Memorisation files go to ``run_dir/memo-<kimg>/``. Returns
    ``{name: {"results": ...}}`` on rank 0 and ``{}`` elsewhere.
    """
    t_start = time.perf_counter()
    run_dir = Path(run_dir)
    options.setdefault("device", str(device) if device is not None else "auto")
    options.setdefault("out_dir", str(run_dir / (f"memo-{int(kimg):06d}" if kimg is not None else "memo")))
    out = evaluate(metrics, dataset_dir, MetricOptions.from_kwargs(**options), G=G_ema)
    result: dict = {}
    if dist.is_main() and out:
        for name in out["metrics"]:
            row = metric_line(
                out,
                name,
                snapshot=snapshot,
                kimg=kimg,
                world_size=dist.world_size(),
                total_time=time.perf_counter() - t_start,
                timestamp=time.time(),
            )
            append_jsonl(run_dir / f"metric-{name}.jsonl", row)
            result[name] = {"results": row["results"]}
    dist.barrier()
    return result
