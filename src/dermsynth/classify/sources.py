"""Named data sources of an experiment: dataset dirs, or a generator network + class counts.

A network source ``{network: FILE, per_class: N, psi: 1.0, noise_mode: const, seed_start: 0}`` is
rendered once into ``RUN/generated/NAME/`` (images + manifest with ``source=synthetic``, seed, class,
psi) through the GAN stage's public functions ``dermsynth.gan.checkpoint.load_generator`` and
``dermsynth.gan.generate.generate_images``; image N of a class is seed ``seed_start + N`` whatever the
batch size, and a rerun renders only the images still missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dermsynth.classify.data import _resolve, load_dataset
from dermsynth.core.io import write_png
from dermsynth.core.manifest import CLASS_NAMES, write_manifest

NETWORK_KEYS = {"network", "per_class", "psi", "noise_mode", "seed_start", "batch_size"}


def load_source(name: str, spec: Any, base: Path, run_dir: Path, device: str = "auto") -> pd.DataFrame:
    """Rows of the named source (all splits): a dir path, ``{dir: PATH}`` or a network spec."""
    if isinstance(spec, str):
        return load_dataset(_resolve(base, spec), source=name)
    if isinstance(spec, dict) and "dir" in spec:
        return load_dataset(_resolve(base, spec["dir"]), spec.get("split"), source=name)
    if isinstance(spec, dict) and "network" in spec:
        unknown = sorted(set(spec) - NETWORK_KEYS)
        if unknown:
            raise ValueError(f"data.{name}: unknown key(s) {unknown}; known: {sorted(NETWORK_KEYS)}")
        out = run_dir / "generated" / name
        generate_source(
            _resolve(base, spec["network"]),
            out,
            int(spec.get("per_class", 10000)),
            float(spec.get("psi", 1.0)),
            str(spec.get("noise_mode", "const")),
            int(spec.get("seed_start", 0)),
            int(spec.get("batch_size", 32)),
            device,
        )
        return load_dataset(out, source=name)
    raise ValueError(f"data.{name}: expected a dataset dir, {{dir: ...}} or {{network: ..., per_class: N}}")


def _to_uint8_nhwc(batch) -> np.ndarray:
    """A generated batch (torch NCHW float in [-1, 1] or uint8, or numpy NHWC uint8) -> uint8 NHWC."""
    if hasattr(batch, "detach"):
        t = batch.detach().cpu()
        if t.dtype.is_floating_point:
            t = (t * 127.5 + 128).clamp(0, 255).to(dtype=__import__("torch").uint8)
        arr = t.numpy()
        if arr.ndim == 4 and arr.shape[1] in (1, 3) and arr.shape[-1] not in (1, 3):
            arr = arr.transpose(0, 2, 3, 1)
        return np.ascontiguousarray(arr)
    arr = np.asarray(batch)
    if arr.dtype != np.uint8:
        arr = np.clip(arr * 127.5 + 128, 0, 255).astype(np.uint8)
    return arr


def generate_source(
    network: Path,
    out: Path,
    per_class: int,
    psi: float,
    noise_mode: str,
    seed_start: int,
    batch_size: int,
    device: str,
) -> Path:
    """Render ``per_class`` images per class from ``network`` into dataset dir ``out`` (resumable)."""
    try:
        from dermsynth.gan.checkpoint import load_generator
        from dermsynth.gan.generate import generate_images
    except ImportError:
        raise ValueError(
            f"network source {network}: the GAN stage (dermsynth.gan) is not installed in this checkout; "
            "generate images with `dermsynth gan generate` and give the dataset dir instead"
        ) from None
    if not network.is_file():
        raise FileNotFoundError(f"{network}: generator network not found")
    from dermsynth.core.distributed import device as pick_device

    dev = pick_device(device)
    G = load_generator(network)
    rows = []
    for c in range(len(CLASS_NAMES)):
        seeds = list(range(seed_start, seed_start + per_class))
        todo = [s for s in seeds if not (out / "images" / f"c{c}-seed{s:06d}.png").is_file()]
        if todo:
            k = 0
            for batch in generate_images(G, todo, c, psi, noise_mode, batch_size, dev):
                for img in _to_uint8_nhwc(batch):
                    write_png(out / "images" / f"c{c}-seed{todo[k]:06d}.png", img)
                    k += 1
        rows += [
            {
                "image_id": f"{network.stem}-c{c}-seed{s:06d}",
                "file": f"images/c{c}-seed{s:06d}.png",
                "label": c,
                "class_name": CLASS_NAMES[c],
                "source": "synthetic",
                "split": "train",
                "seed": s,
                "network": str(network),
                "psi": psi,
            }
            for s in seeds
        ]
    write_manifest(pd.DataFrame(rows), out)
    return out
