"""Toy dermoscopy-like datasets (colour blobs) for CI-sized classifier runs and tests.

Not a renderer of realistic lesions (that is ``dermsynth.data.phantom``): a skin-coloured background,
one elliptical blob per image whose darkness / size depends on the class by ``separation``, an optional
dark frame whose frequency per class is set separately (frame bias), and occasional "hair" strokes.
Written in the dermsynth dataset layout (images/*.png + manifest.csv with split, patient_id and the
artifact columns ``dark_corner`` and ``hair``).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from dermsynth.classify.shortcut import dark_frame
from dermsynth.core.io import write_png
from dermsynth.core.manifest import CLASS_NAMES, write_manifest
from dermsynth.core.seeding import rng


def blob_image(label: int, size: int, gen: np.random.Generator, separation: float) -> np.ndarray:
    """A skin background with one lesion blob; melanoma blobs are darker and larger by ``separation``."""
    skin = np.array([200, 160, 135]) + gen.normal(0, 12, 3)
    img = np.clip(skin + gen.normal(0, 6, (size, size, 3)), 0, 255).astype(np.uint8)
    shift = separation * (1 if label else -1)
    dark = np.clip(0.5 + 0.25 * shift + gen.normal(0, 0.12), 0.1, 0.9)
    colour = tuple(float(c) for c in skin * (1 - dark))
    r = size * np.clip(0.22 + 0.06 * shift + gen.normal(0, 0.03), 0.08, 0.4)
    centre = (int(size / 2 + gen.normal(0, size * 0.05)), int(size / 2 + gen.normal(0, size * 0.05)))
    axes = (max(1, int(r)), max(1, int(r * gen.uniform(0.6, 1.0))))
    cv2.ellipse(img, centre, axes, float(gen.uniform(0, 180)), 0, 360, colour, -1, lineType=cv2.LINE_AA)
    return img


def add_hair(img: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    size = img.shape[0]
    for _ in range(int(gen.integers(2, 5))):
        p = gen.integers(0, size, 4)
        cv2.line(img, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), (40, 30, 25), 1, lineType=cv2.LINE_AA)
    return img


def make_blob_dataset(
    out_dir: str | os.PathLike,
    n: int = 200,
    size: int = 32,
    seed: int = 0,
    separation: float = 1.0,
    frame_rate: tuple[float, float] = (0.02, 0.38),
    hair_rate: float = 0.3,
    melanoma_rate: float = 0.5,
    splits: tuple[float, float, float] = (0.6, 0.2, 0.2),
    source: str = "real",
    images_per_patient: int = 2,
) -> Path:
    """Write ``n`` toy images (+ manifest) to ``out_dir``; ``frame_rate`` = P(frame | benign, melanoma).

    Splits are by patient (``images_per_patient`` consecutive images share a patient and a split).
    """
    out = Path(out_dir)
    rows = []
    n_pat = -(-n // images_per_patient)
    pat_split = rng(seed, "toy-split").choice(["train", "val", "test"], size=n_pat, p=list(splits))
    for i in range(n):
        g = rng(seed, "toy", i)
        label = int(g.random() < melanoma_rate)
        img = blob_image(label, size, g, separation)
        hair = bool(g.random() < hair_rate)
        if hair:
            img = add_hair(img, g)
        frame = bool(g.random() < frame_rate[label])
        if frame:
            img = dark_frame(img, g)[0]
        f = f"images/{i:06d}.png"
        write_png(out / f, img)
        pid = i // images_per_patient
        rows.append(
            {
                "image_id": f"{source}-{i:06d}",
                "file": f,
                "label": label,
                "class_name": CLASS_NAMES[label],
                "source": source,
                "split": pat_split[pid],
                "patient_id": f"{source}-p{pid:05d}",
                "dark_corner": int(frame),
                "hair": int(hair),
            }
        )
    write_manifest(pd.DataFrame(rows), out)
    return out
