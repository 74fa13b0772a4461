"""Image generation from a StyleGAN2-ADA generator: per-seed randomness, global or class-aware truncation.

References: the official ``generate.py`` of NVlabs/stylegan2-ada-pytorch (z of seed s is
``np.random.RandomState(s).randn(z_dim)``, so seeds mean the same images as with the official tools;
pixels are ``clamp(img * 127.5 + 128, 0, 255)``) and the truncation trick (Karras et al. 2019,
``w' = w_c + psi (w - w_c)``). The official code truncates towards the global ``w_avg``; class-aware
truncation here uses the mean w of the requested class instead (Kang et al. 2021, "Rebooting ACGAN"
discuss why the global mean drifts between classes), computed from N samples and cached beside the
network, keyed by the network's hash.

Randomness is a function of named seeds (docs/architecture.md R6): image of seed s and class k is the same
whatever the batch size or order; 'random' noise is drawn per seed from its own CPU generator.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from dermsynth.core.distributed import device as dist_device
from dermsynth.core.io import atomic_path, atomic_write_json, write_png
from dermsynth.core.manifest import MANIFEST_COLUMNS, write_dataset_json, write_manifest
from dermsynth.core.seeding import torch_generator
from dermsynth.gan.networks import Generator


def seed_z(seed: int, z_dim: int) -> np.ndarray:
    """The latent of ``seed`` exactly as the official generate.py draws it (float64 [z_dim])."""
    return np.random.RandomState(int(seed)).randn(z_dim)


def _labels(G: Generator, classes: Sequence[int], device) -> torch.Tensor:
    c = torch.zeros([len(classes), G.c_dim], device=device)
    if G.c_dim:
        c[torch.arange(len(classes)), torch.as_tensor(list(classes), dtype=torch.long)] = 1
    return c


def _class_list(G: Generator, n: int, class_idx: int | Sequence[int] | None) -> list[int]:
    if G.c_dim == 0:
        if class_idx not in (None, 0) and not (isinstance(class_idx, Sequence) and set(class_idx) <= {0}):
            raise ValueError("this generator is unconditional: give no class")
        return [0] * n
    if class_idx is None:
        raise ValueError(f"this generator is conditional ({G.c_dim} classes): give a class")
    classes = [int(class_idx)] * n if isinstance(class_idx, int | np.integer) else [int(k) for k in class_idx]
    if len(classes) != n:
        raise ValueError(f"{len(classes)} classes for {n} seeds")
    bad = [k for k in classes if not 0 <= k < G.c_dim]
    if bad:
        raise ValueError(f"class index {bad[0]} out of range for a generator with {G.c_dim} classes")
    return classes


@torch.no_grad()
def map_seeds(
    G: Generator,
    seeds: Sequence[int],
    classes: Sequence[int],
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    w_centers: np.ndarray | None = None,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """ws [N, num_ws, w_dim] of the given seeds/classes, truncated towards ``w_avg`` or class centres."""
    device = torch.device(device)
    z = torch.from_numpy(np.stack([seed_z(s, G.z_dim) for s in seeds])).to(device=device, dtype=torch.float32)
    ws = G.mapping(z, _labels(G, classes, device), truncation_psi=1)
    if truncation_psi == 1:
        return ws
    if w_centers is None:
        center = G.mapping.w_avg.reshape(1, 1, -1)
    else:
        centers = torch.as_tensor(np.asarray(w_centers), dtype=torch.float32, device=device)
        center = centers[torch.as_tensor(list(classes), device=device)].unsqueeze(1)
    cut = ws.shape[1] if truncation_cutoff is None else truncation_cutoff
    ws[:, :cut] = center.lerp(ws[:, :cut], truncation_psi)
    return ws


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """[N, C, H, W] in about [-1, 1] -> uint8 [N, H, W, C] (official rounding)."""
    return (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu().numpy()


@torch.no_grad()
def generate_images(
    G: Generator,
    seeds: Sequence[int],
    class_idx: int | Sequence[int] | None = None,
    truncation_psi: float = 1.0,
    noise_mode: str = "const",
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    class_aware: bool = False,
    w_centers: np.ndarray | None = None,
    truncation_cutoff: int | None = None,
    force_fp32: bool = False,
    fused_modconv: bool | None = None,
) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
    """Yield ``(seeds, uint8 images [B, H, W, C], ws [B, num_ws, w_dim])`` batch by batch.

    ``class_idx``: one class for all seeds or one per seed (None for unconditional generators).
    ``class_aware``: truncate towards each class's mean w (``w_centers`` [c_dim, w_dim], computed with
    :func:`class_w_centers` when not given) instead of the global ``w_avg``.
    ``fused_modconv``: None = shared convolution on CUDA (faster there: 1300 vs 930 img/s at 256 px,
    batch 64, H200, fp32) and the reference's grouped convolution elsewhere.
    """
    if noise_mode not in ("const", "random", "none"):
        raise ValueError(f"noise_mode must be const, random or none, not {noise_mode!r}")
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    device = dist_device(device)
    G = G.eval().to(device)
    if fused_modconv is None and device.type == "cuda":
        fused_modconv = False
    seeds = [int(s) for s in seeds]
    classes = _class_list(G, len(seeds), class_idx)
    if class_aware and G.c_dim == 0:
        raise ValueError("class-aware truncation needs a conditional generator")
    if class_aware and w_centers is None:
        w_centers = class_w_centers(G, device=device)
    for i in range(0, len(seeds), batch_size):
        bs, bc = seeds[i : i + batch_size], classes[i : i + batch_size]
        ws = map_seeds(
            G, bs, bc, truncation_psi, truncation_cutoff, w_centers if class_aware else None, device
        )
        gens = [torch_generator("gan-noise", s) for s in bs] if noise_mode == "random" else None
        img = G.synthesis(
            ws,
            noise_mode=noise_mode,
            force_fp32=force_fp32,
            fused_modconv=fused_modconv,
            noise_generators=gens,
        )
        yield bs, to_uint8(img), ws.cpu().numpy()


@torch.no_grad()
def class_w_centers(
    G: Generator,
    num_samples: int = 10000,
    batch_size: int = 1000,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> np.ndarray:
    """Mean w of each class, [c_dim, w_dim], from ``num_samples`` z per class (seeded)."""
    if G.c_dim == 0:
        raise ValueError("class centres need a conditional generator")
    device = torch.device(device)
    rs = np.random.RandomState(seed)
    z_all = torch.from_numpy(rs.randn(num_samples, G.z_dim)).float()
    centers = np.zeros([G.c_dim, G.w_dim], dtype=np.float64)
    for k in range(G.c_dim):
        total = torch.zeros(G.w_dim, dtype=torch.float64, device=device)
        for i in range(0, num_samples, batch_size):
            z = z_all[i : i + batch_size].to(device)
            w = G.mapping(z, _labels(G, [k] * len(z), device))[:, 0]
            total += w.double().sum(0)
        centers[k] = (total / num_samples).cpu().numpy()
    return centers.astype(np.float32)


def _wcenters_cache(network_path: str | os.PathLike) -> Path:
    """``NAME.wcenters.npz`` beside a user's network; for a shipped model (whose folder belongs to the
    installation) ``$XDG_CACHE_HOME/dermsynth/<model>.wcenters.npz`` instead."""
    from dermsynth.gan.checkpoint import resolve_network
    from dermsynth.models.registry import registry_root

    p = resolve_network(network_path)
    stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
    if registry_root().resolve() in stem.resolve().parents:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dermsynth"
        return base / f"{stem.parent.name}.wcenters.npz"
    return stem.with_name(stem.name + ".wcenters.npz")


def cached_class_w_centers(
    G: Generator,
    network_path: str | os.PathLike,
    num_samples: int = 10000,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """:func:`class_w_centers`, cached in ``NAME.wcenters.npz`` beside the network, keyed by its hash."""
    info = getattr(G, "network_info", {}) or {}
    key = f"{info.get('weights_sha256', 'unknown')}:{info.get('network_key', 'G')}:{num_samples}"
    cache = _wcenters_cache(network_path)
    if cache.exists():
        try:
            with np.load(cache, allow_pickle=False) as data:
                if str(data["key"]) == key:
                    return data["centers"]
        except (OSError, ValueError, KeyError):
            pass  # unreadable or stale cache: recompute
    centers = class_w_centers(G, num_samples=num_samples, device=device)
    with atomic_path(cache) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, centers=centers, key=np.array(key))
    return centers


def image_grid(images: np.ndarray, rows: int) -> np.ndarray:
    """[N, H, W, C] uint8 -> one mosaic with ``rows`` rows (row-major, empty cells black)."""
    n, h, w, c = images.shape
    cols = math.ceil(n / rows)
    grid = np.zeros([rows * h, cols * w, c], dtype=np.uint8)
    for i in range(n):
        r, q = divmod(i, cols)
        grid[r * h : (r + 1) * h, q * w : (q + 1) * w] = images[i]
    return grid


# ----------------------------------------------------------------------------------------------------
# Directory output in the manifest layout.


@dataclass(frozen=True)
class GenerateSettings:
    """Everything that determines the pixels; a resumed run must use the same."""

    network: str
    network_sha256: str
    network_key: str
    truncation_psi: float
    truncation_cutoff: int | None
    noise_mode: str
    class_aware: bool
    class_names: tuple[str, ...]


def image_id(seed: int, class_name: str | None) -> str:
    return f"seed{seed:06d}" if class_name is None else f"seed{seed:06d}-{class_name}"


def generate_dataset(
    G: Generator,
    out_dir: str | os.PathLike,
    seeds: Sequence[int],
    classes: Sequence[int] | None,
    truncation_psi: float = 1.0,
    noise_mode: str = "const",
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    class_aware: bool = False,
    w_centers: np.ndarray | None = None,
    truncation_cutoff: int | None = None,
    save_ws: bool = False,
    grid: str | os.PathLike | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Write ``images/``, ``manifest.csv``, ``dataset.json`` (+ ``ws.npy``, grid) for seeds x classes.

    Every seed is generated for every class in ``classes`` (None for unconditional generators).
    Resumable: images already on disk are kept and not recomputed; settings must match the first run.
    ``on_batch(n)`` is called after each batch with the number of images done in it.
    """
    info = getattr(G, "network_info", {}) or {}
    class_names = tuple(info.get("class_names") or [str(i) for i in range(G.c_dim)])
    settings = GenerateSettings(
        network=str(info.get("path", "")), network_sha256=str(info.get("weights_sha256", "")),
        network_key=str(info.get("network_key", "G")), truncation_psi=float(truncation_psi),
        truncation_cutoff=truncation_cutoff, noise_mode=noise_mode, class_aware=bool(class_aware),
        class_names=class_names,
    )  # fmt: skip
    out = Path(out_dir)
    _check_resume(out, settings)
    atomic_write_json(out / "generate.json", {**asdict(settings), "seeds": len(seeds)})
    plan = [(int(s), k) for k in (classes if G.c_dim else [None]) for s in seeds]
    rows = [_manifest_row(s, k, class_names, settings) for s, k in plan]
    todo = [(s, k) for (s, k), row in zip(plan, rows, strict=True) if not (out / row["file"]).exists()]
    if on_batch and len(plan) > len(todo):
        on_batch(len(plan) - len(todo))
    if class_aware and w_centers is None:
        w_centers = class_w_centers(G, device=dist_device(device))
    for i in range(0, len(todo), batch_size):
        chunk = todo[i : i + batch_size]
        labels = None if G.c_dim == 0 else [k for _, k in chunk]
        for _, images, _ in generate_images(
            G, [s for s, _ in chunk], labels, truncation_psi, noise_mode, len(chunk), device,
            class_aware, w_centers, truncation_cutoff,
        ):  # fmt: skip
            for (s, k), img in zip(chunk, images, strict=True):
                write_png(out / "images" / f"{image_id(s, None if k is None else class_names[k])}.png", img)
        if on_batch:
            on_batch(len(chunk))
    df = pd.DataFrame(rows)
    write_manifest(df, out)
    write_dataset_json(df, out)
    if save_ws:
        _write_ws(
            G,
            out,
            plan,
            truncation_psi,
            truncation_cutoff,
            w_centers if class_aware else None,
            device,
            batch_size,
        )
    if grid is not None:
        _write_grid(out, df, Path(grid), n_rows=len(classes) if G.c_dim and classes else None)
    return df


def _check_resume(out: Path, settings: GenerateSettings) -> None:
    prev = out / "generate.json"
    if not prev.exists():
        return
    old = json.loads(prev.read_text(encoding="utf-8"))
    new = asdict(settings)
    diff = [k for k in new if k != "network" and _norm(old.get(k)) != _norm(new[k])]
    if diff:
        raise ValueError(
            f"{out}: holds images made with other settings ({', '.join(diff)}); choose a new --out"
        )


def _norm(v):
    return list(v) if isinstance(v, tuple | list) else v


def _manifest_row(seed: int, k: int | None, class_names: Sequence[str], s: GenerateSettings) -> dict:
    name = None if k is None else class_names[k]
    iid = image_id(seed, name)
    row = {c: "" for c in MANIFEST_COLUMNS}
    row.update(
        image_id=iid, file=f"images/{iid}.png", label=0 if k is None else k, class_name=name or "",
        source="synthetic", seed=seed, network=Path(s.network).name, network_sha256=s.network_sha256,
        network_key=s.network_key, psi=s.truncation_psi, truncation=("class" if s.class_aware else "global"),
        truncation_cutoff="" if s.truncation_cutoff is None else s.truncation_cutoff, noise_mode=s.noise_mode,
    )  # fmt: skip
    return row


def _write_ws(G, out, plan, psi, cutoff, w_centers, device, batch_size) -> None:
    device = dist_device(device)
    G = G.eval().to(device)
    parts = []
    for i in range(0, len(plan), max(batch_size, 256)):
        chunk = plan[i : i + max(batch_size, 256)]
        ks = [0 if k is None else k for _, k in chunk]
        parts.append(map_seeds(G, [s for s, _ in chunk], ks, psi, cutoff, w_centers, device).cpu().numpy())
    with atomic_path(out / "ws.npy") as tmp:
        with open(tmp, "wb") as f:
            np.save(f, np.concatenate(parts).astype(np.float32))


def _write_grid(out: Path, df: pd.DataFrame, grid: Path, n_rows: int | None, max_cols: int = 8) -> None:
    """Mosaic: one row per class (thesis Figs. 4.4-4.6 style), or rows of ``max_cols`` images."""
    from dermsynth.core.io import read_rgb

    if n_rows:
        groups = [g["file"].tolist()[:max_cols] for _, g in df.groupby("label", sort=True)]
    else:
        files = df["file"].tolist()[: max_cols * max_cols]
        groups = [files[i : i + max_cols] for i in range(0, len(files), max_cols)]
    cols = max(len(g) for g in groups)
    first = read_rgb(out / groups[0][0])
    blank = np.zeros_like(first)
    cells: list[np.ndarray] = []
    for g in groups:
        cells += [read_rgb(out / f) for f in g] + [blank] * (cols - len(g))
    write_png(grid if grid.is_absolute() else out / grid, image_grid(np.stack(cells), len(groups)))
