"""Named data sources of an experiment: dataset dirs, or a generator network + class counts.

A network source ``{network: FILE, per_class: N, psi: 1.0, noise_mode: const, seed_start: 0}`` is
rendered once into ``RUN/generated/NAME/`` (images + manifest with ``source=synthetic``, seed, class,
psi) through the GAN stage's public functions ``dermsynth.gan.checkpoint.load_generator`` and
``dermsynth.gan.generate.generate_dataset``; image N of a class is seed ``seed_start + N`` whatever the
batch size, and a rerun renders only the images still missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from dermsynth.classify.data import _resolve, load_dataset
from dermsynth.core.manifest import CLASS_NAMES

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
    """Render seeds ``seed_start ..+per_class`` for both classes from ``network`` into ``out`` (resumable).

    Uses the GAN stage's ``load_generator`` and ``generate_dataset`` (manifest with source=synthetic).
    """
    from dermsynth.core.distributed import device as pick_device
    from dermsynth.gan.checkpoint import load_generator
    from dermsynth.gan.generate import generate_dataset

    dev = pick_device(device)
    G = load_generator(network, device=dev)
    if G.c_dim < len(CLASS_NAMES):
        raise ValueError(
            f"{network}: a class-conditional generator with {len(CLASS_NAMES)} classes is needed"
        )
    seeds = list(range(seed_start, seed_start + per_class))
    generate_dataset(G, out, seeds, list(range(len(CLASS_NAMES))), psi, noise_mode, batch_size, dev)
    return out
