"""Training throughput of one network, today's fp32 path against the speed options, side by side (issue 24).

Each variant runs in its own process (an allocator is chosen at process start), builds the same network
from the same config -- by default the shipped ``isic2017-gen`` run's: 128 px, cbase 2048, cmax 128, 2
mapping layers, batch 32, conditional, the faithful ADA pipe at p = 0.2 -- on random data, and times
``dermsynth.gan.train.step.training_step`` (the real step: all four phases with lazy R1 and path-length
regularisation, style mixing, the pipe, G EMA, ADA) over whole 16-step cycles (4 Greg, 1 Dreg) after a
warm-up. The baseline runs first and again last, so drift of a shared machine shows.

    PYTHONPATH=src python benchmarks/train_throughput.py                       # all variants
    PYTHONPATH=src python benchmarks/train_throughput.py --variants fp32,jemalloc --cycles 2

Variants: ``fp32`` (today's path), ``jemalloc`` (fp32 with jemalloc preloaded: the large activation
buffers are not returned to the kernel and faulted in again each step), ``nhwc`` (channels_last in every
block, weights and activations: networks.set_channels_last), ``compile`` (torch.compile of the main G
synthesis and D passes), ``compile+nhwc``, ``compile+jemalloc``, ``bf16``
(the networks' half blocks in bfloat16: a lower precision, a named option with its own FID; only where
the CPU has AVX512-BF16 or AMX). The last line printed is JSON with sec/kimg, kimg/h and the ratio to fp32.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

JEMALLOC = ("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2")
VARIANTS = ("fp32", "jemalloc", "nhwc", "compile", "compile+nhwc", "compile+jemalloc", "bf16")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def jemalloc_path() -> str | None:
    return next((p for p in JEMALLOC if Path(p).exists()), None)


def child(args: argparse.Namespace) -> None:
    """Time whole 16-step cycles of the real training step for one variant; print one JSON line."""
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from dermsynth.gan import train as tl
    from dermsynth.gan.train.config import resolve_train_config
    from dermsynth.gan.train.step import training_step
    from train_speed import random_data

    v = args.child
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = resolve_train_config(
        "auto", args.res, data="<random>", cond=True, c_dim=2, cbase=args.cbase, cmax=args.cmax, map=2,
        kimg=1000, tick=1000, snap=10_000, device="cpu", precision="bf16" if v == "bf16" else "fp32",
        channels_last=("nhwc" in v) or None, compile=v.startswith("compile") or None,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        run = tl.setup(cfg, tmp, data=random_data(max(cfg.batch * 2, 64), args.res, 2), echo=None)
        run.augment_pipe.set_p(0.2)  # every pipe stage active on some images, as in a run with ADA on
        t0 = time.time()
        for _ in range(args.warmup):
            training_step(run)
        warm = time.time() - t0
        cycles = []
        for _ in range(args.cycles):  # a cycle: 16 steps = 4 Greg and 1 Dreg, as their intervals
            t = time.time()
            for _ in range(16):
                training_step(run)
            cycles.append(time.time() - t)
    sec_per_kimg = statistics.median(cycles) / (16 * cfg.batch) * 1000
    print(json.dumps({"variant": v, "sec_per_kimg": round(sec_per_kimg, 2), "warmup_s": round(warm, 1),
                      "cycles_s": [round(c, 1) for c in cycles], "threads": torch.get_num_threads(),
                      "batch": cfg.batch}))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--res", type=int, default=128)
    ap.add_argument("--cbase", type=int, default=2048)
    ap.add_argument("--cmax", type=int, default=128)
    ap.add_argument("--cycles", type=int, default=2, help="timed 16-step cycles per variant (median)")
    ap.add_argument("--warmup", type=int, default=2, help="steps before timing (compile: its compilation)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a)
        return
    wanted = [v.strip() for v in a.variants.split(",") if v.strip()]
    unknown = sorted(set(wanted) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; choose from {VARIANTS}")
    flags = cpu_flags()
    has_bf16 = bool({"avx512_bf16", "amx_bf16"} & flags)
    order = ["fp32"] + [v for v in wanted if v != "fp32"] + ["fp32"]
    results: dict[str, list[dict]] = {}
    skipped = {}
    for v in order:
        env = {**os.environ}
        if "jemalloc" in v:
            lib = jemalloc_path()
            if lib is None:
                skipped[v] = "libjemalloc not installed (Debian: apt-get install libjemalloc2)"
                continue
            env["LD_PRELOAD"] = lib
        if v == "bf16" and not has_bf16:
            skipped[v] = "the CPU has neither AVX512-BF16 nor AMX: bfloat16 is emulated, not faster"
            continue
        cmd = [sys.executable, __file__, "--child", v, "--res", str(a.res), "--cbase", str(a.cbase),
               "--cmax", str(a.cmax), "--cycles", str(a.cycles), "--threads", str(a.threads),
               "--warmup", str(a.warmup + (3 if v.startswith("compile") else 0))]  # fmt: skip
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if out.returncode:
            lines = [ln for ln in out.stderr.splitlines() if ln.strip() and "warn" not in ln.lower()]
            skipped[v] = f"failed (rc {out.returncode}): {lines[-1] if lines else ''}"
            continue
        row = json.loads(out.stdout.strip().splitlines()[-1])
        results.setdefault(v, []).append(row)
        print(json.dumps(row), flush=True)
    base = statistics.mean(r["sec_per_kimg"] for r in results.get("fp32", [])) if "fp32" in results else None
    summary = {}
    for v, rows in results.items():
        s = statistics.mean(r["sec_per_kimg"] for r in rows)
        summary[v] = {"sec_per_kimg": round(s, 2), "kimg_per_hour": round(3600 / s, 2),
                      "ratio_vs_fp32": round(base / s, 3) if base else None}  # fmt: skip
    print(json.dumps({"cpu": cpu_name(), "bf16_hardware": has_bf16, "res": a.res, "cbase": a.cbase,
                      "cmax": a.cmax, "variants": summary, "skipped": skipped,
                      "fp32_first_last_sec_per_kimg": [r["sec_per_kimg"] for r in results.get("fp32", [])],
                      "torch": __import__("torch").__version__}))  # fmt: skip


if __name__ == "__main__":
    main()
