"""Synthetic candidates for a reader study from secret random seeds (issue 25.3).

A study whose synthetic stimuli come from seeds 0..N of a generator that readers can get (a shipped
model, a published checkpoint) is not blind: regenerate seeds 0..N, push them through the study's
deterministic processing chain and every synthetic stimulus matches one of them exactly (the issue's
script matched 200 of 200, and with them their labels). So the build draws its synthetic candidates
from seeds taken from the operating system's CSPRNG (:func:`secret_seeds`, the generator's whole
32-bit seed space), a fresh set per class, and keeps them only with the study's truth
(``stimuli.csv``, admin only). The pool folder carries :data:`SECRET_MARK`, which
:func:`dermsynth.survey.build.load_pool` looks for: a synthetic manifest with seeds but without the
mark is refused unless the user says the seeds are public on purpose.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pandas as pd

from dermsynth.core.io import atomic_write_json, write_png
from dermsynth.core.manifest import MANIFEST_COLUMNS, write_dataset_json, write_manifest

#: ``official generate.py`` draws the latent of seed s with ``np.random.RandomState(s)``: 32-bit seeds.
SEED_SPACE = 2**32
#: File in a synthetic dataset folder whose seeds were drawn by :func:`secret_seeds`.
SECRET_MARK = "secret_seeds.json"
CLASS_NAMES = ("not_melanoma", "melanoma")


def secret_seeds(count: int, exclude: set[int] | None = None) -> list[int]:
    """``count`` distinct seeds from ``secrets.randbelow(SEED_SPACE)`` (never from a public seed)."""
    seen = set(exclude or ())
    out: list[int] = []
    while len(out) < count:
        s = secrets.randbelow(SEED_SPACE)
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def generate_secret_pool(
    network: str | Path,
    out: str | Path,
    per_class: int,
    device: str = "cpu",
    truncation_psi: float = 1.0,
    noise_mode: str = "const",
    batch_size: int = 32,
) -> Path:
    """Write ``per_class`` images per class of a class-conditional generator, each class from its own
    secret seeds, as a dataset folder (``images/``, ``manifest.csv`` with the seeds, ``dataset.json``,
    :data:`SECRET_MARK`). ``network`` is a network file or a shipped model's name."""
    from dermsynth.gan import generate_images, load_generator

    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}")
    G = load_generator(network, device=device)
    if G.c_dim != 2:
        raise ValueError(
            f"{network}: the reader study needs a generator conditioned on melanoma / not melanoma "
            f"(2 classes), this one has {G.c_dim}"
        )
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows, used = [], set()
    for label in (0, 1):
        seeds = secret_seeds(per_class, used)
        used.update(seeds)
        for batch_seeds, images, _ in generate_images(
            G, seeds, label, truncation_psi, noise_mode, batch_size, device
        ):
            for s, img in zip(batch_seeds, images, strict=True):
                iid = f"s{s:010d}-{CLASS_NAMES[label]}"
                write_png(out / "images" / f"{iid}.png", img)
                row = {c: "" for c in MANIFEST_COLUMNS}
                row.update(
                    image_id=iid, file=f"images/{iid}.png", label=label, class_name=CLASS_NAMES[label],
                    source="synthetic", seed=s,
                )  # fmt: skip
                rows.append(row)
    df = pd.DataFrame(rows)
    write_manifest(df, out)
    write_dataset_json(df, out)
    info = getattr(G, "network_info", {}) or {}
    atomic_write_json(
        out / SECRET_MARK,
        {
            "seeds": f"secrets.randbelow({SEED_SPACE}), distinct, per class",
            "network": str(info.get("path", network)),
            "network_sha256": str(info.get("weights_sha256", "")),
            "truncation_psi": truncation_psi,
            "noise_mode": noise_mode,
            "per_class": per_class,
        },
    )
    return out
