"""Bias detection quality on real images: isic2017-256 (Bissoto et al. 2020 annotations).

Builds a manifest dataset (files pointing at the shared images, nothing copied) for the chosen split,
audits it with each method and prints precision / recall / F1 / AUC per artifact against
``labels.csv``. Thresholds are never tuned here: heuristic thresholds were chosen on the ``train``
split, a model's on its holdout of ``train``; report on ``val``.

    PYTHONPATH=src python benchmarks/bias_real.py --model MODEL_DIR [--split val] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from dermsynth.bias.annotations import labels_dataset
from dermsynth.bias.audit import audit_dataset, parse_method
from dermsynth.bias.evaluate import evaluate_dataset
from dermsynth.core.paths import shared_data_dir


def real_manifest(out: Path, split: str) -> Path:
    """A manifest dataset over the annotated isic2017-256 images of one split (absolute file paths)."""
    return labels_dataset(shared_data_dir() / "isic2017-256", out, split, annotated_only=True)


def tune(split: str, truth: Path) -> None:
    """Heuristic thresholds maximising F1 on ``split`` (how registry.THRESHOLDS were chosen, on train)."""
    from dermsynth.bias.annotations import read_annotations
    from dermsynth.bias.columns import score_column
    from dermsynth.bias.evaluate import best_threshold
    from dermsynth.core.manifest import read_manifest

    with tempfile.TemporaryDirectory() as tmp:
        d = real_manifest(Path(tmp), split)
        audit_dataset(d, parse_method("heuristic"), figures=False)
        df = read_manifest(d).set_index("image_id")
    ann = read_annotations(truth).loc[df.index]
    for a in ann.columns:
        if score_column(a) in df.columns:
            thr, f1 = best_threshold(ann[a].to_numpy(), df[score_column(a)].to_numpy())
            print(f"{a:12s} threshold {thr:.6g}  F1 {f1:.3f} on {split}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model directory from `bias train` (else heuristic only)")
    ap.add_argument("--split", default="val")
    ap.add_argument("--out", default=None, help="keep the audited dataset here")
    ap.add_argument("--json", default=None, help="write all results here")
    ap.add_argument("--device", default="cpu", help="device of the learned model: cpu | cuda")
    ap.add_argument("--tune", action="store_true", help="print F1-optimal heuristic thresholds on --split")
    args = ap.parse_args()
    truth = shared_data_dir() / "isic2017-256" / "labels.csv"
    if args.tune:
        tune(args.split, truth)
        return
    methods = ["heuristic"] + ([f"model:{args.model}", f"best:{args.model}"] if args.model else [])
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(args.out or tmp)
        for m in methods:
            d = real_manifest(base / m.split(":")[0], args.split)
            audit_dataset(d, parse_method(m), figures=bool(args.out), device=args.device)
            results[m.split(":")[0]] = evaluate_dataset(d, truth)
    print(f"isic2017-256 split={args.split}")
    print(
        f"{'method':10s} {'artifact':12s} {'prec':>6s} {'recall':>6s} {'F1':>6s} {'AUC':>6s} {'n_pos':>5s} {'n':>5s}"
    )
    for m, res in results.items():
        for a, r in res.items():
            auc = f"{r['auc']:.3f}" if r["auc"] is not None else "-"
            print(
                f"{m:10s} {a:12s} {r['precision']:6.3f} {r['recall']:6.3f} {r['f1']:6.3f} {auc:>6s} {r['n_pos']:5d} {r['n']:5d}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
