"""End to end on phantoms: phantom data -> tiny conditional StyleGAN2-ADA -> SeFa / PCA / SVM
directions -> ``dermsynth edit evaluate`` tables -> frame removal until clean.

Every step is the user-facing command (``python -m dermsynth.cli.main ...``), so this is also a smoke
test of the CLI. Prints a summary (best row per method, until-clean counts, timings) and writes
``summary.json`` in ``--work``. Figures are measured, never asserted.

Usage: PYTHONPATH=src python benchmarks/edit_phantom_eval.py --work /tmp/ep --n 4000 --size 64 --kimg 200
       (CPU rehearsal: --n 200 --size 32 --kimg 0.2 --pca-num 2000 --svm-num 200 --eval-num 32)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def cli(*args: object, log: Path, timeout: float | None = None) -> float:
    """Run ``dermsynth ARGS``; append its output to ``log``; return seconds; raise on failure.
    With ``timeout`` the command is stopped after that many seconds (training: use the last snapshot)."""
    t = time.perf_counter()
    cmd = [sys.executable, "-m", "dermsynth.cli.main", *map(str, args)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = "".join(x.decode() if isinstance(x, bytes) else (x or "") for x in (e.stdout, e.stderr))
        with open(log, "a") as f:
            f.write(f"$ dermsynth {' '.join(map(str, args))}\n(stopped after {timeout} s)\n{out}\n")
        return time.perf_counter() - t
    with open(log, "a") as f:
        f.write(f"$ dermsynth {' '.join(map(str, args))}\n{res.stdout}{res.stderr}\n")
    if res.returncode != 0:
        raise SystemExit(
            f"failed ({res.returncode}): dermsynth {' '.join(map(str, args))}\n{res.stderr[-3000:]}"
        )
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--network", type=Path, default=None, help="Skip phantom + training: use this network")
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--rates", default="dark_corner=0.3")
    ap.add_argument("--kimg", type=float, default=200)
    ap.add_argument("--train-seconds", type=float, default=None, help="Stop training after this long")
    ap.add_argument("--tick", type=float, default=4)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--cfg", default="tiny")
    ap.add_argument("--pca-num", type=int, default=100_000)
    ap.add_argument("--svm-num", type=int, default=10_000)
    ap.add_argument("--eval-num", type=int, default=256)
    ap.add_argument("--alphas", default="-3,3")
    ap.add_argument("--detector", default="dark_corner")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--workers", type=int, default=8)
    a = ap.parse_args()
    w = a.work
    w.mkdir(parents=True, exist_ok=True)
    log = w / "log.txt"
    times: dict[str, float] = {}
    dev = ["--device", a.device]
    if a.network is None:
        phantom = [
            "--out",
            w / "phantom",
            "--n",
            a.n,
            "--size",
            a.size,
            "--rates",
            a.rates,
            "--workers",
            a.workers,
        ]
        times["phantom"] = cli("data", "phantom", *phantom, log=log)
        train = ["--data", w / "phantom", "--out", w / "runs", "--cfg", a.cfg, "--cond", "--kimg", a.kimg]
        train += ["--batch", a.batch, "--tick", a.tick, "--snap", 1, *dev]
        times["train"] = cli("gan", "train", *train, log=log, timeout=a.train_seconds)
        nets = sorted((w / "runs").glob("*/network-*.safetensors"))
        if not nets:
            raise SystemExit(f"training wrote no network snapshot in {w / 'runs'} (see {log})")
        net = nets[-1]
    else:
        net = a.network
    common = ["--network", net, *dev]
    errors: dict[str, str] = {}

    def step(name: str, *args: object) -> bool:
        try:
            times[name] = cli(*args, log=log)
            return True
        except SystemExit as e:
            errors[name] = str(e)[-600:]
            print(f"{name} failed: {errors[name]}", file=sys.stderr)
            return False

    step("sefa", "edit", "directions", *common, "--method", "sefa", "--out", w / "sefa.npz")
    step("pca", "edit", "directions", *common, "--method", "pca", "--num", a.pca_num, "--out", w / "pca.npz")
    svm = ["--method", "svm", "--num", a.svm_num, "--score", a.detector, "--batch-size", 64]
    step("svm", "edit", "directions", *common, *svm, "--out", w / "svm.npz")
    ortho = ["--orthogonal-to", "class", "--out", w / "svm_class_ortho.npz"]
    step("svm_class_ortho", "edit", "directions", *common, *svm, *ortho)
    best, svm_meta = {}, {}
    ev = ["--num", a.eval_num, "--alphas", a.alphas, "--detector", a.detector, "--batch-size", 64]
    for name, idx in (("sefa", "0-9"), ("pca", "0-9"), ("svm", "0"), ("svm_class_ortho", "0")):
        out = w / f"eval-{name}"
        if name in errors or not step(
            f"eval_{name}",
            "edit",
            "evaluate",
            *common,
            "--directions",
            w / f"{name}.npz",
            "--indices",
            idx,
            *ev,
            "--out",
            out,
        ):
            continue
        t = pd.read_csv(out / "table.csv")
        best[name] = t[t["best"]].iloc[0].to_dict()
        if name.startswith("svm"):
            svm_meta[name] = json.loads(str(np.load(w / f"{name}.npz")["meta"]))
    clean = {}
    if "svm" not in errors:
        uc = ["--class", "melanoma", "--seeds", "0-199", "--until-clean", a.detector, "--max-alpha", 10]
        if step(
            "until_clean", "edit", "apply", *common, "--directions", w / "svm.npz", *uc, "--out", w / "clean"
        ):
            clean = pd.read_csv(w / "clean" / "manifest.csv")["status"].value_counts().to_dict()
    summary = {
        "args": {k: str(v) for k, v in vars(a).items()},
        "network": str(net),
        "kimg_of_network": net.stem.removeprefix("network-"),
        "frames_in_samples": {k: int(v["n_present"]) for k, v in best.items()},
        "times_s": times,
        "best": best,
        "until_clean_melanoma_0_199": clean,
        "errors": errors,
        "svm_accuracy": {k: m["accuracy"] for k, m in svm_meta.items()},
        "svm_balanced_accuracy": {k: m["balanced_accuracy"] for k, m in svm_meta.items()},
        "svm_high_low": {k: (m["n_high"], m["n_low"]) for k, m in svm_meta.items()},
    }
    (w / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    cols = [
        "index",
        "alpha",
        "n_present",
        "removed_frac",
        "induced_frac",
        "ssim_outside",
        "lesion_iou",
        "class_kept",
        "eligible",
    ]
    if best:
        print(pd.DataFrame({k: {c: v[c] for c in cols} for k, v in best.items()}).T.to_string())
    print("until clean:", clean, "| svm accuracy:", summary["svm_accuracy"])
    print("times (s):", {k: round(v, 1) for k, v in times.items()})


if __name__ == "__main__":
    main()
