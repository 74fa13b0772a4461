"""Seconds to compute FID of N vs N images at 256 px; feature extraction images/s; the cached real path.

Runs with torch, numpy, timm, scipy, safetensors only (PYTHONPATH=src): the images are procedural
lesion-like pictures made in memory (no files), quantised to uint8 like real data. Extractors:
``effnet-lite`` (dermsynth's offline EfficientNet-Lite0 at 224 px; random-init when the weights
package is absent: same speed, figure labelled) and ``inception-proxy`` (timm's Inception-v3 at
299 px, random-init: the same architecture and input size as the FID Inception, for timing only).

    PYTHONPATH=src python benchmarks/fid_speed.py --num 10000 --device cuda
    PYTHONPATH=src python benchmarks/fid_speed.py --num 256 --device cpu   # extrapolated to 10k, labelled
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def procedural(n: int, size: int, seed: int, device, chunk: int = 500) -> torch.Tensor:
    """uint8 [n, 3, size, size] made on ``device`` in chunks: skin background + dark elliptical blob + noise."""
    g = torch.Generator(device=device).manual_seed(seed)
    ax = torch.linspace(0, 1, size, device=device)
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    out = torch.empty(n, 3, size, size, dtype=torch.uint8, device=device)
    for i in range(0, n, chunk):
        k = min(chunk, n - i)
        c = torch.rand(k, 2, 1, 1, generator=g, device=device) * 0.4 + 0.3
        r = torch.rand(k, 2, 1, 1, generator=g, device=device) * 0.2 + 0.1
        m = torch.exp(-(((xx - c[:, 0]) / r[:, 0]) ** 2 + ((yy - c[:, 1]) / r[:, 1]) ** 2))[:, None]
        skin = torch.tensor([225.0, 175, 145], device=device).view(1, 3, 1, 1)
        skin = skin + torch.randn(k, 3, 1, 1, generator=g, device=device) * 10
        spot = torch.tensor([110.0, 60, 40], device=device).view(1, 3, 1, 1)
        spot = spot + torch.randn(k, 3, 1, 1, generator=g, device=device) * 15
        img = skin * (1 - m) + spot * m + torch.randn(k, 3, size, size, generator=g, device=device) * 4
        out[i : i + k] = img.clamp(0, 255).to(torch.uint8)
    return out


def make_extractor(name: str, device):
    from dermsynth.metrics.extractors import Extractor, get_extractor, resize_normalise

    if name == "effnet-lite":
        try:
            return get_extractor("effnet-lite", device=device)
        except (FileNotFoundError, ImportError):
            return get_extractor("effnet-lite:random", device=device)  # weights package absent: same speed
    import timm

    net = timm.create_model("inception_v3", pretrained=False, num_classes=0)
    info = {"model": "timm inception_v3", "weights": "random-init (timing proxy for the FID Inception)"}
    return Extractor("inception-proxy", net, info, resize_normalise(299, (0.5,) * 3, (0.5,) * 3)).to(device)


def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def features(ext, images: torch.Tensor, batch: int, device) -> tuple[np.ndarray, float]:
    sync(device)
    t0 = time.perf_counter()
    out = [ext(images[i : i + batch]).cpu() for i in range(0, len(images), batch)]
    sync(device)
    return torch.cat(out).numpy(), time.perf_counter() - t0


def cached_path_seconds(feats: np.ndarray, n_files: int) -> float:
    """Key over n_files (stat each) + load of the cached features + statistics: the whole real side."""
    from dermsynth.metrics.features import FeatureSet, _load, _save, cache_key
    from dermsynth.metrics.images import ImageSet

    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        files = []
        for i in range(n_files):
            p = root / f"{i:06d}.png"
            p.touch()
            files.append(p)
        imgs = ImageSet(root, files, np.zeros(n_files, int), ["a"])

        class E:
            name, info = "effnet-lite", {"weights": "x"}

        path = root / "real.npz"
        _save(path, FeatureSet(feats, np.zeros(len(feats), int), [str(i) for i in range(len(feats))]))
        t0 = time.perf_counter()
        cache_key(imgs, E, {"thumb_size": 32})
        fs = _load(path)
        fs.mean_cov()  # read from the cache file, not recomputed
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--num", type=int, default=10_000)
    ap.add_argument("--res", type=int, default=256)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--extractors", default="effnet-lite,inception-proxy")
    ap.add_argument("--target", type=int, default=10_000, help="extrapolate to this N when --num is smaller")
    args = ap.parse_args()
    from dermsynth.metrics.frechet import fid_from_features
    from dermsynth.metrics.kid import kernel_inception_distance
    from dermsynth.metrics.precision_recall import precision_recall

    dev = torch.device(args.device)
    batch = args.batch or (256 if dev.type == "cuda" else 32)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    name = (
        torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu x{torch.get_num_threads()} threads"
    )
    t0 = time.perf_counter()
    real = procedural(args.num, args.res, 1, dev)
    fake = procedural(args.num, args.res, 2, dev)
    t_gen = time.perf_counter() - t0
    for ename in args.extractors.split(","):
        ext = make_extractor(ename, dev)
        features(ext, real[: min(batch, args.num)], batch, dev)  # warm-up
        fr, tr = features(ext, real, batch, dev)
        ff, tf = features(ext, fake, batch, dev)
        t0 = time.perf_counter()
        fid = fid_from_features(fr, ff)
        t_fid = time.perf_counter() - t0
        t0 = time.perf_counter()
        kernel_inception_distance(ff, fr)
        t_kid = time.perf_counter() - t0
        t0 = time.perf_counter()
        precision_recall(fr, ff, device=dev)
        t_pr = time.perf_counter() - t0
        t_cache = cached_path_seconds(np.resize(fr, (args.target, fr.shape[1])), args.target)
        scale = args.target / args.num
        proxy = ename == "inception-proxy"
        ips = 2 * args.num / (tr + tf)
        row = {
            "device": name,
            "extractor": ename,
            "weights": ext.info.get("weights"),
            "num": args.num,
            "res": args.res,
            "batch": batch,
            "images_per_s": round(ips, 1),
            "fid_stats_s": round(t_fid, 3),
            "kid_s": round(t_kid, 3),
            "pr_s": round(t_pr, 3),
            "fid_total_uncached_s": round(tr + tf + t_fid, 2),
            "fid_total_cached_real_s": round(tf + t_fid, 2),
            f"cached_real_side_s_at_{args.target}": round(t_cache, 4),
            "fid": None if proxy else round(fid, 3),
            "procedural_images_s": round(t_gen, 2),
        }
        if scale != 1:
            # statistics at the target size measured on random features of the same dimension
            rnd = np.random.default_rng(0).standard_normal((args.target, fr.shape[1])).astype(np.float32)
            t0 = time.perf_counter()
            fid_from_features(rnd, rnd[::-1] + 0.1)
            t_fid_target = time.perf_counter() - t0
            t0 = time.perf_counter()
            kernel_inception_distance(rnd, rnd[::-1] + 0.1)
            row[f"kid_s_at_{args.target}"] = round(time.perf_counter() - t0, 2)
            row[f"fid_stats_s_at_{args.target}"] = round(t_fid_target, 2)
            row[f"extrapolated_{args.target}_vs_{args.target}_fid_s"] = round(
                2 * args.target / ips + t_fid_target, 1
            )
            row[f"extrapolated_{args.target}_cached_real_fid_s"] = round(args.target / ips + t_fid_target, 1)
            row["note"] = (
                f"extraction measured on N={args.num} and scaled linearly to N={args.target}; "
                f"FID/KID statistics timed at N={args.target} on random features"
            )
        print(json.dumps(row))


if __name__ == "__main__":
    main()
