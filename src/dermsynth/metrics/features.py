"""Feature sets of image sets, and the reference-statistics cache (docs/architecture.md R9).

The real side of every metric is cached: features [N, D] (float32), their mean and covariance
(float64), labels, file names and small pixel thumbnails (for memorisation) go to ``<cache_dir>/real-<key>.npz``, keyed by the sha256 of the
file list with each file's size and mtime, the extractor and its weights (path, size, mtime) and the
settings. Default ``cache_dir``: ``DIR/.dermsynth-cache`` or, when DIR is read-only,
``$XDG_CACHE_HOME/dermsynth/metrics`` (``~/.cache``). A cache hit reads one file and stats the images.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from dermsynth.metrics.images import CACHE_DIRNAME, ImageSet, iter_batches, thumbnails

CACHE_VERSION = 2


@dataclass
class FeatureSet:
    """Features of one image set with what is needed per class and for memorisation."""

    features: np.ndarray  # float32 [N, D]
    labels: np.ndarray  # int [N], -1 unknown
    names: list[str]  # file names (relative) or "seed=S,class=C"
    thumbs: np.ndarray | None = None  # uint8 [N, s, s, 3]
    splits: list[str] | None = None
    info: dict = field(default_factory=dict)
    stats: tuple[np.ndarray, np.ndarray] | None = None  # cached (mu, sigma) of all features

    def __len__(self) -> int:
        return len(self.features)

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """(mu, sigma) of all features, computed once (and cached on disk for reference sets)."""
        if self.stats is None:
            from dermsynth.metrics.frechet import feature_stats

            self.stats = feature_stats(self.features)
        return self.stats

    def subset(self, mask) -> FeatureSet:
        idx = np.flatnonzero(mask) if np.asarray(mask).dtype == bool else np.asarray(mask)
        return FeatureSet(
            self.features[idx],
            self.labels[idx],
            [self.names[i] for i in idx],
            self.thumbs[idx] if self.thumbs is not None else None,
            [self.splits[i] for i in idx] if self.splits is not None else None,
            dict(self.info),
        )


def extract_image_set(
    images: ImageSet,
    extractor,
    batch_size: int = 64,
    thumb_size: int | None = 32,
    on_batch: Callable[[int], None] | None = None,
) -> FeatureSet:
    """Run ``extractor`` over every readable image of ``images``."""
    feats, idxs, thumbs = [], [], []
    t0 = time.perf_counter()
    for idx, batch in iter_batches(images, batch_size):
        x = torch.from_numpy(batch).permute(0, 3, 1, 2)
        feats.append(extractor(x).cpu().numpy())
        idxs.append(idx)
        if thumb_size:
            thumbs.append(thumbnails(batch, thumb_size))
        if on_batch:
            on_batch(len(idx))
    if not feats:
        raise ValueError(f"{images.root}: no readable image among {len(images)} files")
    idx = np.concatenate(idxs)
    return FeatureSet(
        np.concatenate(feats).astype(np.float32),
        images.labels[idx],
        [os.path.relpath(images.files[i], images.root) for i in idx],
        np.concatenate(thumbs) if thumbs else None,
        [images.splits[i] for i in idx] if images.splits is not None else None,
        {
            "num": len(idx),
            "skipped": list(images.skipped),
            "resized": images.resized,
            "extract_s": round(time.perf_counter() - t0, 3),
        },
    )


def default_cache_dir(root: Path) -> Path:
    """``root/.dermsynth-cache`` when writable, else the user cache directory."""
    if os.access(root, os.W_OK):
        return root / CACHE_DIRNAME
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    from dermsynth.core.io import sha256_json

    return base / "dermsynth" / "metrics" / sha256_json(str(root.resolve()))[:16]


def cache_key(images: ImageSet, extractor, settings: dict) -> str:
    """sha256 of (files, sizes, mtimes, labels), the extractor and its weights, and settings."""
    from dermsynth.core.io import sha256_json

    files = []
    for p in images.files:
        try:
            st = p.stat()
            files.append((os.path.relpath(p, images.root), st.st_size, st.st_mtime_ns))
        except OSError:
            files.append((os.path.relpath(p, images.root), -1, -1))
    return sha256_json(
        {
            "v": CACHE_VERSION,
            "files": files,
            "labels": images.labels.tolist(),
            "extractor": extractor.name,
            "weights": extractor.info,
            "settings": settings,
        }
    )


def _save(path: Path, fs: FeatureSet) -> None:
    from dermsynth.core.io import atomic_path, to_json

    with atomic_path(path) as tmp:
        np.savez(
            tmp,
            features=fs.features,
            labels=fs.labels,
            names=np.asarray(fs.names),
            thumbs=fs.thumbs if fs.thumbs is not None else np.zeros((0,), np.uint8),
            splits=np.asarray(fs.splits if fs.splits is not None else []),
            info=np.asarray(to_json(fs.info)),
            mu=fs.mean_cov()[0] if len(fs) > 1 else np.zeros(0),
            sigma=fs.mean_cov()[1] if len(fs) > 1 else np.zeros(0),
        )


def _load(path: Path) -> FeatureSet:
    import json

    with np.load(path, allow_pickle=False) as z:
        thumbs = z["thumbs"] if z["thumbs"].ndim == 4 else None
        splits = [str(s) for s in z["splits"]] if len(z["splits"]) else None
        return FeatureSet(
            z["features"],
            z["labels"],
            [str(n) for n in z["names"]],
            thumbs,
            splits,
            json.loads(str(z["info"])),
            (z["mu"], z["sigma"]) if "mu" in z and z["mu"].size else None,
        )


def reference_features(
    images: ImageSet,
    extractor,
    batch_size: int = 64,
    cache_dir: str | os.PathLike | None = None,
    thumb_size: int = 32,
    on_batch: Callable[[int], None] | None = None,
    use_cache: bool = True,
) -> FeatureSet:
    """Features of a real set, from the cache when its key matches (``info['cache']`` says which)."""
    t0 = time.perf_counter()
    key = cache_key(images, extractor, {"thumb_size": thumb_size})
    cdir = Path(cache_dir) if cache_dir else default_cache_dir(images.root)
    path = cdir / f"real-{key[:24]}.npz"
    if use_cache and path.is_file():
        try:
            fs = _load(path)
            fs.info.update(cache="hit", cache_path=str(path), cache_s=round(time.perf_counter() - t0, 4))
            return fs
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file is recomputed and replaced
    fs = extract_image_set(images, extractor, batch_size, thumb_size, on_batch)
    fs.info.update(cache="miss" if use_cache else "off", cache_path=str(path) if use_cache else None)
    if use_cache:
        try:
            _save(path, fs)
        except OSError as e:
            fs.info["cache_error"] = str(e)
    return fs
