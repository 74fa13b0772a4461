"""Tiny manifest-layout datasets and studies for the survey tests (no real data needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, PngImagePlugin


def make_dataset(root: Path, source: str, per_class: int, seed: int = 0) -> Path:
    """A dataset dir whose files differ by source in every file-level way (format, size, metadata)."""
    g = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for label in (0, 1):
        for k in range(per_class):
            iid = f"{source[:3]}_{label}_{k:03d}"
            if source == "real":  # JPEG, odd sizes, EXIF-like info
                h, w = int(g.integers(40, 60)), int(g.integers(50, 70))
                arr = g.integers(0, 256, (h, w, 3), dtype=np.uint8)
                f = f"images/{iid}.jpg"
                Image.fromarray(arr).save(root / f, quality=int(g.integers(70, 95)))
            else:  # smooth PNG with a text chunk naming the generator
                yy, xx = np.mgrid[0:32, 0:32]
                arr = np.stack([(xx * 8 + label * 40) % 256, yy * 8, (xx + yy) * 4], -1).astype(np.uint8)
                meta = PngImagePlugin.PngInfo()
                meta.add_text("Software", "stylegan2-ada")
                f = f"images/{iid}.png"
                Image.fromarray(arr).save(root / f, pnginfo=meta)
            rows.append(
                {
                    "image_id": iid,
                    "file": f,
                    "label": label,
                    "class_name": ["not_melanoma", "melanoma"][label],
                    "source": source,
                    "ruler": int(k % 5 == 4),
                }
            )
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return root


def make_study(tmp: Path, n: int = 16, seed: int = 0, **kw) -> Path:
    from dermsynth.survey.build import BuildOptions, build_study

    real = make_dataset(tmp / "real", "real", n // 4 + 4, seed=1)
    syn = make_dataset(tmp / "syn", "synthetic", n // 4 + 4, seed=2)
    opts = BuildOptions(n=n, seed=seed, size=kw.pop("size", 32), **kw)
    return build_study(real, syn, tmp / "study", opts).study_dir
