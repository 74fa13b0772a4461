"""One generation job: :class:`GenerateConfig` -> :func:`run_generate` -> a synthetic dataset folder.

``dermsynth gan generate`` and the pipeline's generate stage both build a :class:`GenerateConfig` and
call :func:`run_generate` (docs/architecture.md R1, R2): load the generator (a file or a shipped model's
name), pick the classes, optionally the class means of w, then ``generate.generate_dataset`` (resumable).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class GenerateConfig:
    """``dermsynth gan generate``: every seed of ``seeds`` for every class of ``classes``."""

    network: str  # network file (NAME, NAME.safetensors, NAME.json) or a shipped model's name
    out: str  # output dataset folder (images/, manifest.csv, dataset.json); resumable
    seeds: str = "0-99"  # seeds, e.g. 0-999 or 1,5,10-20
    classes: str | None = None  # class names or indices (comma list) or 'all'; None: unconditional network
    trunc: float = 1.0  # truncation psi (1 = none), official generate.py --trunc
    trunc_cutoff: int | None = None  # truncate only the first N ws
    noise_mode: str = "const"  # const | random | none
    class_aware: bool = False  # truncate towards the class mean w
    centers_samples: int = 10000  # samples per class for the class means (cached beside the network)
    save_ws: bool = False  # also write ws.npy (manifest order)
    ema: bool = True  # use G_ema when the network file has it
    batch_size: int = 32  # images per forward pass (does not change the images)
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    grid: str | None = None  # also write a mosaic (rows per class) here


def parse_classes(spec: str | None, class_names: list[str], c_dim: int) -> list[int] | None:
    """Class indices of ``spec`` (names or indices, comma list, or ``all``); None for an unconditional net."""
    from dermsynth.core.manifest import class_index

    if c_dim == 0:
        if spec not in (None, "", "all"):
            raise ValueError("this network is unconditional: leave out the class (--class, config 'classes')")
        return None
    if spec is None:
        raise ValueError(
            f"this network is conditional: name the classes (--class, config 'classes'): one of {class_names}, "
            "an index, a comma list, or 'all'"
        )
    if spec == "all":
        return list(range(c_dim))
    return [class_index(part.strip(), class_names) for part in spec.split(",") if part.strip()]


def run_generate(
    cfg: GenerateConfig,
    on_batch: Callable[[int], None] | None = None,
    log: Callable[[str], None] | None = None,
    on_start: Callable[[int, str], None] | None = None,
) -> pd.DataFrame:
    """Write the images of ``cfg`` (already written ones are kept); returns the manifest.

    ``on_start(total, device)`` is called once the network is loaded, ``on_batch(n)`` after each batch.
    """
    from dermsynth.core.distributed import device as pick_device
    from dermsynth.core.ranges import parse_int_ranges
    from dermsynth.gan.checkpoint import load_generator
    from dermsynth.gan.generate import cached_class_w_centers, generate_dataset

    dev = pick_device(cfg.device)
    G = load_generator(cfg.network, ema=cfg.ema, device=dev)
    classes = parse_classes(cfg.classes, list(G.network_info["class_names"]), G.c_dim)
    seeds = parse_int_ranges(cfg.seeds)
    if not seeds:
        raise ValueError(f"seeds {cfg.seeds!r} give no seeds")
    if on_start:
        on_start(len(seeds) * (len(classes) if classes else 1), str(dev))
    centers = None
    if cfg.class_aware:
        if log:
            log(f"class means of w from {cfg.centers_samples} samples per class (cached beside the network)")
        centers = cached_class_w_centers(G, cfg.network, num_samples=cfg.centers_samples, device=dev)
    return generate_dataset(
        G, cfg.out, seeds, classes, truncation_psi=cfg.trunc, noise_mode=cfg.noise_mode, batch_size=cfg.batch_size,
        device=dev, class_aware=cfg.class_aware, w_centers=centers, truncation_cutoff=cfg.trunc_cutoff,
        save_ws=cfg.save_ws, grid=cfg.grid, on_batch=on_batch,
    )  # fmt: skip
