"""Speed of the edit stage: SeFa on the thesis's ``auto`` 256 px affines, and (when the gan stage
provides networks) PCA sampling, edit synthesis and evaluation throughput.

Usage: PYTHONPATH=src python benchmarks/edit_speed.py [--device cuda] [--res 256] [--num 2000]
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from dermsynth.core.paths import shared_fixtures_dir
from dermsynth.edit import Directions, EvalSettings, evaluate_directions, get_scorer, pca_of_generator, sefa
from dermsynth.edit.layers import style_affines_from_state_dict
from dermsynth.edit.sampling import map_seeds, synthesize


def _timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - t


def bench_sefa() -> None:
    tsv = shared_fixtures_dir() / "stylegan2-ada" / "names_auto_res256_c2.tsv"
    if not tsv.exists():
        print(f"sefa: skipped ({tsv} not found)")
        return
    r = np.random.default_rng(0)
    rows = [line.split("\t") for line in tsv.read_text().splitlines() if "\t" in line]
    state = {
        n: r.normal(size=json.loads(s)).astype(np.float32) for n, s in rows if n.endswith(".affine.weight")
    }
    affines = style_affines_from_state_dict(state)
    d, t = _timed(sefa, affines, "all")
    print(
        f"sefa auto-256 ({len(affines)} affines, {sum(a.weight.shape[0] for a in affines)} rows): {t * 1000:.1f} ms"
    )


def bench_network(device: str, res: int, num: int) -> None:
    try:
        from dermsynth.gan import build_networks
    except ImportError:
        print("network benchmarks: skipped (dermsynth.gan not installed)")
        return
    G, _ = build_networks("auto", res, 2)
    G = G.eval().requires_grad_(False).to(device)
    _, t = _timed(pca_of_generator, G, num=20 * num, batch_size=4096, device=device)
    print(f"pca: {20 * num} w sampled + accumulated in {t:.2f} s ({20 * num / t:.0f} w/s) on {device}")
    ws = map_seeds(G, list(range(num)), np.arange(num) % 2, 1.0, 256, device)
    for bs in (16, 64):
        _, t = _timed(synthesize, G, ws, "const", bs, device)
        print(f"synthesis {res}px batch {bs}: {num / t:.1f} img/s on {device}")
    r = np.random.default_rng(0).normal(size=(2, G.w_dim))
    dirs = Directions(r / np.linalg.norm(r, axis=1, keepdims=True), [1, 1], [], "pca")
    s = EvalSettings(num=min(num, 256), alphas=(-3.0, 3.0), batch_size=64, device=device)
    _, t = _timed(
        evaluate_directions, G, dirs, [0, 1], get_scorer("dark_corner"), get_scorer("lesion_area"), s
    )
    n_img = s.num * 5  # reference + 4 edits
    print(
        f"evaluate: 2 directions x 2 alphas on {s.num} samples in {t:.1f} s ({n_img / t:.1f} img/s incl. scoring) on {device}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--res", type=int, default=256)
    ap.add_argument("--num", type=int, default=512)
    a = ap.parse_args()
    print(f"torch {torch.__version__}, device {a.device}, threads {torch.get_num_threads()}")
    bench_sefa()
    bench_network(a.device, a.res, a.num)


if __name__ == "__main__":
    main()
