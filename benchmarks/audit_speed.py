"""Images per second of the whole bias audit (``dermsynth bias audit``) on this machine (issue 27.6).

Runs ``audit_dataset`` (scoring, decisions, manifest and summary written; no figures) on the same ``--n``
real images for each method: ``heuristic`` (the six classical detectors), ``best`` with the shipped
``isic2017-artifacts`` model as shipped (its 8-view test-time augmentation where ``model.json`` keeps it),
and the same model with TTA off. Images: isic2017-256 ``val`` and ``train`` (shared data), resized to
``--size`` (the demo's embedded sample is 128 px), else phantom renders. Prints the CPU, the torch
threads, the load average before each run (other jobs on the cores slow every figure), and the TTA
decision recorded in ``model.json`` (TTA is kept only where it pays in cross-validated F1).

    PYTHONPATH=src python benchmarks/audit_speed.py [--n 200] [--size 128] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import pandas as pd

from dermsynth.core.io import read_rgb, write_png
from dermsynth.core.manifest import write_manifest
from dermsynth.core.paths import shared_data_dir

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_throughput import cpu_name  # noqa: E402 (the benchmarks' one CPU-name reader)


def make_dataset(d: Path, n: int, size: int) -> str:
    """A dataset folder of ``n`` images at ``size`` px; returns what they are."""
    (d / "images").mkdir(parents=True)
    root = shared_data_dir() / "isic2017-256"
    rows = []
    if (root / "labels.csv").is_file():
        lab = pd.read_csv(root / "labels.csv", dtype={"image_id": str})
        lab = pd.concat([lab[lab["split"] == "val"], lab[lab["split"] == "train"]]).head(n)
        for i, m in zip(lab["image_id"], lab["melanoma"], strict=True):
            img = cv2.resize(
                read_rgb(root / "images" / f"{i}.jpg"), (size, size), interpolation=cv2.INTER_AREA
            )
            write_png(d / "images" / f"{i}.png", img)
            rows.append((i, int(m)))
        what = f"isic2017-256 val + train, {len(rows)} images at {size} px"
    else:
        from dermsynth.data.phantom import render_phantom

        for k in range(n):
            p = render_phantom(k, 0, size)
            write_png(d / "images" / f"ph{k:05d}.png", p.image)
            rows.append((f"ph{k:05d}", int(p.label)))
        what = f"phantom renders, {n} images at {size} px (no shared data)"
    man = pd.DataFrame(
        {
            "image_id": [r[0] for r in rows],
            "file": [f"images/{r[0]}.png" for r in rows],
            "label": [r[1] for r in rows],
            "class_name": ["melanoma" if r[1] else "not_melanoma" for r in rows],
            "source": "real",
        }
    )
    write_manifest(man, d)
    return what


def model_without_tta(model: Path, out: Path) -> Path:
    """A copy of the audit model whose ``model.json`` turns TTA off (weights shared by copy)."""
    out.mkdir(parents=True)
    for f in model.iterdir():
        if f.is_file():
            shutil.copyfile(f, out / f.name)
    meta = json.loads((out / "model.json").read_text())
    meta["tta"] = False
    (out / "model.json").write_text(json.dumps(meta, indent=2))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", default="isic2017-artifacts", help="audit model (name or folder)")
    args = ap.parse_args()
    import torch

    from dermsynth.bias.audit import audit_dataset
    from dermsynth.models import resolve

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    model = resolve(args.model)
    meta = json.loads((model / "model.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        what = make_dataset(tmp / "base", args.n, args.size)
        no_tta = model_without_tta(model, tmp / "model-no-tta")
        print(f"{cpu_name()}, {os.cpu_count()} logical CPUs, torch threads {args.threads}; {what}")
        print(
            f"model {args.model}: TTA in model.json {meta.get('tta')}; decision: {meta.get('tta_selection')}"
        )
        runs = [
            ("heuristic", "heuristic"),
            (f"best, model as shipped (TTA {meta.get('tta')})", f"best:{model}"),
            ("best, model without TTA", f"best:{no_tta}"),
        ]
        for label, spec in runs:
            d = tmp / f"run{len(label)}"
            shutil.copytree(tmp / "base", d)
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            audit_dataset(d, spec, figures=False, device="cpu")
            sec = time.perf_counter() - t0
            print(
                f"  {label:40s} {args.n / sec:7.1f} images/s ({sec:6.1f} s; load average before {load:.1f})"
            )
            shutil.rmtree(d)


if __name__ == "__main__":
    main()
