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


def train_split() -> tuple[Path, pd.DataFrame]:
    """(the isic2017-256 folder, its labels.csv rows of the ``train`` split); a clear error when absent."""
    from dermsynth.core.paths import shared_data_dir

    src = shared_data_dir() / "isic2017-256"
    if not (src / "labels.csv").exists():
        raise SystemExit(
            f"{src / 'labels.csv'}: not found; set DERMSYNTH_SHARED_DATA to the shared data folder"
        )
    lab = pd.read_csv(src / "labels.csv", dtype={"image_id": str})
    return src, lab[lab["split"] == "train"]


def prepare_data(runs: Path, res: int = RES) -> Path:
    """``RUNS/isic2017-train-<res>``: the isic2017-256 ``train`` split, ingested once at ``res`` px."""
    out = runs / f"isic2017-train-{res}"
    if (out / "dataset.json").exists():
        return out
    src, lab = train_split()
    lab = lab[["image_id", "melanoma"]]
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


def progress(keep: Path = KEEP, plot: Path | None = None) -> str:
    """A markdown table of the kept run's progress (kimg, training hours, median sec/kimg, ADA p, the FID
    curve); with ``plot``, the FID curve as a PNG (the card's "has the FID stopped falling" figure)."""
    from dermsynth.core.stats import read_jsonl

    stats = read_jsonl(keep / "stats.jsonl")
    fids = read_jsonl(keep / f"metric-{METRICS}.jsonl")
    if not stats:
        return "no stats.jsonl in " + str(keep)
    lines = ["| kimg | training hours | sec/kimg (median of the ticks since the last row) | ADA p | FID (1k vs train, EfficientNet-Lite0) |",
             "| --- | --- | --- | --- | --- |"]  # fmt: skip
    last_kimg, rows = -1.0, []
    for f in fids:
        kimg = f["kimg"]
        tick_rows = [r for r in stats if last_kimg < r["kimg"] <= kimg + 1e-9]
        at = tick_rows[-1] if tick_rows else {}
        secs = sorted(r["sec_per_kimg"] for r in tick_rows if r.get("sec_per_kimg")) or [float("nan")]
        rows.append((kimg, at.get("time_s", float("nan")) / 3600, secs[len(secs) // 2], at.get("augment_p", 0),
                     f["results"][METRICS]))  # fmt: skip
        last_kimg = kimg
    end = stats[-1]
    if not fids or end["kimg"] > last_kimg:
        secs = sorted(r["sec_per_kimg"] for r in stats if r["kimg"] > last_kimg and r.get("sec_per_kimg"))
        rows.append((end["kimg"], end["time_s"] / 3600, secs[len(secs) // 2] if secs else float("nan"),
                     end.get("augment_p", 0), None))  # fmt: skip
    for kimg, hours, spk, p, fid in rows:
        lines.append(
            f"| {kimg:.1f} | {hours:.2f} | {spk:.0f} | {p:.3f} | {'' if fid is None else f'{fid:.1f}'} |"
        )
    if plot is not None and fids:
        from dermsynth.core.figures import pyplot, save_figure

        plt = pyplot()
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.plot([f["kimg"] for f in fids], [f["results"][METRICS] for f in fids], "o-")
        ax.set_xlabel("kimg (128 px run, grown from the 64 px network at 172 kimg)")
        ax.set_ylabel("FID, 1k vs train (EffNet-Lite0)")
        save_figure(fig, plot)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--kimg", type=float, default=100000, help="stop at this many kimg (default: until stopped)"
    )
    ap.add_argument(
        "--runs", type=Path, default=ROOT / "runs", help="working folder (data and run directory)"
    )
    ap.add_argument("--device", default="auto")
    ap.add_argument(
        "--nhwc", action=argparse.BooleanOptionalAction, default=True,
        help="channels_last in every block (speed only: 1.30x on 2 AMD EPYC cores, benchmarks/train_throughput.py)",
    )  # fmt: skip
    ap.add_argument(
        "--compile", action=argparse.BooleanOptionalAction, default=True,
        help="torch.compile the main passes (speed only: 1.31x on 2 AMD EPYC cores, benchmarks/train_throughput.py)",
    )  # fmt: skip
    ap.add_argument("--no-metrics", action="store_true", help=f"skip the snapshot metric {METRICS}")
    ap.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    ap.add_argument("--progress", action="store_true", help="print the kept run's progress table and exit")
    ap.add_argument("--plot", type=Path, default=None, help="with --progress: the FID curve as a PNG")
    a = ap.parse_args()
    if a.progress:
        print(progress(KEEP, a.plot))
        return
    data = prepare_data(a.runs)
    cmd = [*dermsynth(), "gan", "train", "--data", str(data), "--out", str(a.runs / "gan"), *OPTIONS,
           "--kimg", str(a.kimg), "--device", a.device, "--keep", str(KEEP)]  # fmt: skip
    cmd += ["--nhwc"] * a.nhwc + ["--compile"] * a.compile + ([] if a.no_metrics else ["--metrics", METRICS])
    cmd += ["--dry-run"] * a.dry_run
    print(" ".join(cmd), flush=True)
    os.execv(cmd[0], cmd)  # the trainer itself receives SIGTERM / Ctrl-C and stops cleanly


if __name__ == "__main__":
    main()
