"""Embedded real samples that ship in the package: the default data wherever real images are needed
and none are given (``dermsynth data sample isic2017 --out DIR``).

``isic2017``: images of the ``train`` split of the ISIC 2017 challenge (Codella et al. 2017; CC-0,
ISIC Archive), stored as JPEG at 128 px in ``dermsynth/data/samples/isic2017/`` with ``labels.csv``
(``image_id, melanoma, split`` — our own seeded, stratified train/val/test of the sample — and the
artifact labels of the shipped ``isic2017-artifacts`` audit, not the hand annotations, which may not be
redistributed) and ``LICENSE.txt`` (licence and attribution). Written out in the ingest layout
(``images/*.png``, ``manifest.csv``, ``dataset.json``), with the licence file beside them.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SampleConfig:
    """``data.sample`` of a study: which embedded sample, at what size."""

    name: str = "isic2017"  # embedded sample name (data.source 'sample:NAME' sets it)
    size: int | None = None  # output side in px (None: the stored 128)


SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
SAMPLES = {"isic2017": SAMPLES_DIR / "isic2017"}
LICENSE_FILE = "LICENSE.txt"
INFO_FILE = "sample.json"


def sample_dir(name: str) -> Path:
    """The packaged folder of sample ``name`` (clear error listing the names)."""
    if name not in SAMPLES:
        raise ValueError(f"unknown sample {name!r}; samples: {sorted(SAMPLES)}")
    d = SAMPLES[name]
    if not (d / "labels.csv").is_file():
        raise FileNotFoundError(f"{d / 'labels.csv'}: the embedded sample is missing (reinstall dermsynth)")
    return d


def sample_info(name: str) -> dict:
    """``sample.json`` of a packaged sample: counts, source, size, how it was made."""
    return json.loads((sample_dir(name) / INFO_FILE).read_text(encoding="utf-8"))


def write_sample(name: str, out_dir: str | os.PathLike, size: int | None = None, progress=None):
    """Write sample ``name`` into ``out_dir`` in the ingest layout; returns the ``IngestResult``.

    ``size``: output side (default: the stored size). Re-running is idempotent (ingest's journal).
    """
    import pandas as pd

    from dermsynth.core.manifest import read_manifest, write_annotation_source, write_manifest
    from dermsynth.data.ingest import ingest

    src = sample_dir(name)
    info = sample_info(name)
    out = Path(out_dir)
    res = ingest(src / "labels.csv", out, fmt="isic-challenge", size=size or int(info["size"]),
                 images=src / "images", progress=progress)  # fmt: skip
    man = read_manifest(out)
    lab = pd.read_csv(src / "labels.csv", dtype={"image_id": str}).set_index("image_id")
    # the sample's own split is the manifest split (train / val / test of the sample)
    man["split"] = lab["split"].reindex(man["image_id"]).to_numpy()
    write_manifest(man, out)
    shutil.copyfile(src / LICENSE_FILE, out / LICENSE_FILE)
    # the artifact columns are an audit's predictions, not hand annotations (the report must know)
    write_annotation_source(out, info["artifact_labels"], info.get("audit_method"))
    return res
