"""Phantom generator speed: images/s (render only, and render + PNG writes) at several sizes.

Usage: PYTHONPATH=src python benchmarks/phantom_speed.py [--n 200] [--sizes 64,128,256] [--workers 1,2]
Prints one line per (size, workers). Figures are noisy on a loaded machine: note the load average.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from dermsynth.data.phantom import make_phantom_dataset, render_phantom


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--sizes", default="64,128,256")
    ap.add_argument("--workers", default="1,2")
    args = ap.parse_args()
    print(f"load average: {os.getloadavg()}  cpus: {os.cpu_count()}")
    for size in (int(s) for s in args.sizes.split(",")):
        render_phantom(0, 0, size)  # warm-up (grids cached)
        t = time.perf_counter()
        for i in range(args.n):
            render_phantom(i, 0, size)
        dt = time.perf_counter() - t
        print(f"size {size:4d}  render only      1 worker : {args.n / dt:7.1f} img/s")
        for w in (int(x) for x in args.workers.split(",")):
            with tempfile.TemporaryDirectory() as tmp:
                t = time.perf_counter()
                make_phantom_dataset(tmp, args.n, size=size, seed=0, workers=w)
                dt = time.perf_counter() - t
            print(f"size {size:4d}  dataset (PNG)   {w:2d} worker : {args.n / dt:7.1f} img/s")


if __name__ == "__main__":
    main()
