"""Speed of the classical artifact detectors on one core at 256 px (goal: >= 200 images/s for all six).

Images: isic2017-256 from the shared data when present, else phantom renders. OpenCV and numpy are
held to one thread. Prints ms per image per detector and images/s for ``detect`` (all artifacts, with
masks).

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/bias_speed.py [--n 300] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from dermsynth.bias import DETECTORS, detect
from dermsynth.core.io import read_rgb
from dermsynth.core.paths import shared_data_dir


def load_images(n: int) -> tuple[list[np.ndarray], str]:
    """``n`` real 256 px images if the shared data is there, else phantom images."""
    src = shared_data_dir() / "isic2017-256" / "images"
    if src.is_dir():
        files = sorted(src.glob("*.jpg"))[:n]
        return [read_rgb(f) for f in files], f"isic2017-256 ({len(files)} images)"
    from dermsynth.data.phantom import render_phantom

    return [render_phantom(i, 0, 256).image for i in range(n)], f"phantom ({n} images)"


def best_time(fn, imgs: list[np.ndarray], repeat: int) -> float:
    """Best-of-``repeat`` seconds per image."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for im in imgs:
            fn(im)
        times.append((time.perf_counter() - t0) / len(imgs))
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    imgs, what = load_images(args.n)
    print(f"{what}, one thread, best of {args.repeat}")
    for name, fn in DETECTORS.items():
        print(f"  {name:12s} {1000 * best_time(fn, imgs, args.repeat):6.2f} ms/image")
    total = best_time(detect, imgs, args.repeat)
    print(f"  detect (all) {1000 * total:6.2f} ms/image = {1 / total:6.0f} images/s per core (goal >= 200)")


if __name__ == "__main__":
    main()
