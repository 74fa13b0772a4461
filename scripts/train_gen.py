"""Continue the training of the shipped generator ``isic2017-gen`` where the last round stopped.

    make train-gen                      # = python scripts/train_gen.py (until stopped; Ctrl-C / SIGTERM)
    python scripts/train_gen.py --kimg 600 --device cpu

The run's newest training state (G, G_ema, D, both Adam states, ADA p and statistics, path-length mean,
sampler position, RNG streams, counters) and its records (``config.json``, ``stats.jsonl``,
``metric-*.jsonl``, ``log.txt``) live in ``training/isic2017-gen/`` in this repository, so a fresh clone
on a new machine continues it exactly: the run directory under ``--runs`` is seeded from that folder
when it has no newer state, and every snapshot (and a stop by SIGTERM / Ctrl-C, after the current step)
writes the new state back there. Commit that folder to keep the round.

The training set is the ``train`` split of ../shared/data/isic2017-256 (``$DERMSYNTH_SHARED_DATA``),
ingested once at the run's resolution into ``RUNS/isic2017-train-<res>``. The options below are the
run's identity (its ``config.json``); only the volatile ones (``--kimg``, ``--device``, ``--nhwc``,
``--compile``, metrics) may change between rounds. The run was grown from the 64 px ``isic2017-gen`` of
commit c09ccb6 (``--resume isic2017-gen`` at the first round: the layers whose names and shapes match
were copied, the 128 px blocks are new); ``--resume`` acts only when a run starts from nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
KEEP = ROOT / "training" / "isic2017-gen"
RES = 128
#: The run's identity: the same options in every round (docs/models.md, the card's command).
OPTIONS = [
    "--cfg", "auto", "--cbase", "2048", "--cmax", "128", "--map", "2", "--cond", "--mirror",
    "--precision", "fp32", "--tick", "1", "--snap", "8", "--seed", "0",
    "--resume", "isic2017-gen",
]  # fmt: skip
#: Snapshot metric: the FID curve of the card (1000 generated vs the training images, EfficientNet-Lite0).
METRICS = "fid1k_effnetlite"


def dermsynth() -> list[str]:
    exe = Path(sys.executable).with_name("dermsynth")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "dermsynth.cli.main"]


def prepare_data(runs: Path, res: int = RES) -> Path:
    """``RUNS/isic2017-train-<res>``: the isic2017-256 ``train`` split, ingested once at ``res`` px."""
    from dermsynth.core.paths import shared_data_dir

    out = runs / f"isic2017-train-{res}"
    if (out / "dataset.json").exists():
        return out
    src = shared_data_dir() / "isic2017-256"
    if not (src / "labels.csv").exists():
        raise SystemExit(
            f"{src / 'labels.csv'}: not found; set DERMSYNTH_SHARED_DATA to the shared data folder"
        )
    lab = pd.read_csv(src / "labels.csv", dtype={"image_id": str})
    lab = lab[lab["split"] == "train"][["image_id", "melanoma"]]
    runs.mkdir(parents=True, exist_ok=True)
    csv = runs / "isic2017-train-labels.csv"
    lab.to_csv(csv, index=False)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [*dermsynth(), "data", "ingest", str(csv), "--format", "isic-challenge",
           "--images", str(src / "images"), "--size", str(res), "--out", str(tmp)]  # fmt: skip
    subprocess.run(cmd, check=True)
    tmp.rename(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--kimg", type=float, default=100000, help="stop at this many kimg (default: until stopped)"
    )
    ap.add_argument(
        "--runs", type=Path, default=ROOT / "runs", help="working folder (data and run directory)"
    )
    ap.add_argument("--device", default="auto")
    ap.add_argument("--nhwc", action="store_true", help="channels_last (speed only)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the main passes (speed only)")
    ap.add_argument("--no-metrics", action="store_true", help=f"skip the snapshot metric {METRICS}")
    ap.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    a = ap.parse_args()
    data = prepare_data(a.runs)
    cmd = [*dermsynth(), "gan", "train", "--data", str(data), "--out", str(a.runs / "gan"), *OPTIONS,
           "--kimg", str(a.kimg), "--device", a.device, "--keep", str(KEEP)]  # fmt: skip
    cmd += ["--nhwc"] * a.nhwc + ["--compile"] * a.compile + ([] if a.no_metrics else ["--metrics", METRICS])
    cmd += ["--dry-run"] * a.dry_run
    print(" ".join(cmd), flush=True)
    os.execv(cmd[0], cmd)  # the trainer itself receives SIGTERM / Ctrl-C and stops cleanly


if __name__ == "__main__":
    main()
