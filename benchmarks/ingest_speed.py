"""Ingest speed vs a plain OpenCV loop, and the fidelity of reduced-scale JPEG decoding.

On the same files, in one run:
  plain   single-thread loop: cv2 decode -> centre crop -> INTER_LANCZOS4 resize -> PNG write
  ingest  ``dermsynth.data.ingest`` with 1 and 2 workers (reduced-scale JPEG decode on), and with 1 worker
          and reduced decoding off (the full-decode path)
  PSNR    per image, ingest's reduced-decode output against its full-decode output (goal >= 40 dB)
Goal (issue 2): ingest per core >= 1.5x the plain loop on ../shared/data/isic-archive-fullres, near-linear
with workers. Timings are best-of ``--repeat``; note the load average printed first on a shared machine.

Usage: PYTHONPATH=src python benchmarks/ingest_speed.py [--src DIR] [--size 256] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from dermsynth.core.paths import shared_data_dir
from dermsynth.data.decode import decode_image
from dermsynth.data.ingest import ingest
from dermsynth.data.pngio import encode_png
from dermsynth.data.resize import resize_square


def plain_loop(files: list[Path], out: Path, size: int) -> None:
    """The baseline: what a short script would do, one image after another."""
    out.mkdir(parents=True, exist_ok=True)
    for f in files:
        bgr = cv2.imread(str(f), cv2.IMREAD_COLOR)
        h, w = bgr.shape[:2]
        s = min(h, w)
        crop = bgr[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
        small = cv2.resize(crop, (size, size), interpolation=cv2.INTER_LANCZOS4)
        cv2.imwrite(str(out / f"{f.stem}.png"), small, [cv2.IMWRITE_PNG_COMPRESSION, 1])


def interleaved(files: list[Path], size: int, repeat: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-image stage times (decode, resize, encode) in ms, plain vs ingest, alternating image by
    image so that a changing machine load hits both alike (files are read once, beforehand)."""
    datas = [f.read_bytes() for f in files]
    plain, ours = np.zeros(3), np.zeros(3)
    for _ in range(repeat):
        for data in datas:
            t0 = time.perf_counter()
            bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            t1 = time.perf_counter()
            h, w = bgr.shape[:2]
            s = min(h, w)
            crop = bgr[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
            small = cv2.resize(crop, (size, size), interpolation=cv2.INTER_LANCZOS4)
            t2 = time.perf_counter()
            cv2.imencode(".png", small, [cv2.IMWRITE_PNG_COMPRESSION, 1])
            t3 = time.perf_counter()
            plain += (t1 - t0, t2 - t1, t3 - t2)
            t0 = time.perf_counter()
            dec = decode_image(data, target=size)
            t1 = time.perf_counter()
            out = resize_square(dec.pixels, size, box=dec.box)
            t2 = time.perf_counter()
            encode_png(out, dec.order)
            t3 = time.perf_counter()
            ours += (t1 - t0, t2 - t1, t3 - t2)
    n = repeat * len(datas)
    return plain / n * 1000, ours / n * 1000


def _pipeline(paths: list[Path], size: int) -> float:
    cv2.setNumThreads(1)
    t = time.perf_counter()
    for p in paths:
        dec = decode_image(p.read_bytes(), target=size)
        encode_png(resize_square(dec.pixels, size, box=dec.box), dec.order)
    return time.perf_counter() - t


def cpu_probe(files: list[Path], size: int) -> tuple[float, float]:
    """Seconds for the whole pipeline on all files in 1 process, and the slower of 2 processes each
    doing half: tells whether the machine really offers two cores to this benchmark."""
    import multiprocessing as mp
    from functools import partial

    ctx = mp.get_context("forkserver")
    with ctx.Pool(2) as pool:
        pool.map(abs, range(2))  # start-up outside the timing
        one = pool.apply(_pipeline, (files, size))
        two = max(pool.map(partial(_pipeline, size=size), [files[0::2], files[1::2]]))
    return one, two


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=shared_data_dir() / "isic-archive-fullres")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    files = sorted((args.src / "images").glob("*.jpg"))
    if not files:
        raise SystemExit(f"{args.src}/images: no JPEG files (set DERMSYNTH_SHARED_DATA or pass --src)")
    n = len(files)
    mpx = sum(np.prod(cv2.imread(str(f), cv2.IMREAD_REDUCED_GRAYSCALE_8).shape) * 64 for f in files) / 1e6
    print(
        f"{n} JPEGs (~{mpx:.0f} Mpx) from {args.src}, target {args.size}px; cpus {os.cpu_count()}, load {os.getloadavg()}"
    )
    tmp = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    try:
        rates = {}

        def run_ingest(workers: int, reduced: bool, name: str) -> None:
            out = tmp / name
            shutil.rmtree(out, ignore_errors=True)  # no journal: every repeat does all the work
            ingest(args.src, out, size=args.size, workers=workers, reduced_decode=reduced)

        rates["plain loop (1 thread)"] = n / best_of(
            args.repeat, lambda: plain_loop(files, tmp / "plain", args.size)
        )
        rates["ingest, 1 worker, full decode"] = n / best_of(
            args.repeat, lambda: run_ingest(1, False, "full")
        )
        rates["ingest, 1 worker"] = n / best_of(args.repeat, lambda: run_ingest(1, True, "w1"))
        rates["ingest, 2 workers"] = n / best_of(args.repeat, lambda: run_ingest(2, True, "w2"))
        base = rates["plain loop (1 thread)"]
        for k, v in rates.items():
            print(f"  {k:32s} {v:7.1f} img/s  ({v / base:4.2f}x plain)")
        print(f"  scaling 1 -> 2 workers: {rates['ingest, 2 workers'] / rates['ingest, 1 worker']:.2f}x")
        plain, ours = interleaved(files, args.size, args.repeat)
        for name, t in (("plain", plain), ("ingest", ours)):
            print(
                f"  per image, interleaved, {name:6s}: decode {t[0]:5.1f}  resize {t[1]:5.1f}  png {t[2]:5.1f}  = {t.sum():5.1f} ms"
            )
        print(f"  per-core speed-up of the image pipeline (interleaved): {plain.sum() / ours.sum():.2f}x")
        vals = [
            psnr(
                cv2.imread(str(tmp / "w1" / "images" / f"{f.stem}.png")),
                cv2.imread(str(tmp / "full" / "images" / f"{f.stem}.png")),
            )
            for f in files
        ]
        finite = [v for v in vals if np.isfinite(v)] or [float("nan")]
        same = sum(1 for v in vals if not np.isfinite(v))
        print(f"  PSNR reduced vs full decode: min {np.min(finite):.1f} dB, median {np.median(finite):.1f} dB over {len(vals) - same} images "
              f"({same} identical: too small to reduce)")  # fmt: skip
        one, two = cpu_probe(files, args.size)
        print(f"  machine check, image pipeline without I/O: 1 process {one:.2f} s for all files; "
              f"2 processes {two:.2f} s for half each ({one / two:.2f}x: 2.0 means two free cores)")  # fmt: skip
        print(f"load after: {os.getloadavg()}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
