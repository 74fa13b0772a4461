"""The embedded real sample: ships inside the package, writes the ingest layout, carries its licence."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dermsynth.data.sample import sample_dir, sample_info, write_sample


def test_sample_ships_within_budget_with_licence():
    d = sample_dir("isic2017")
    size = sum(p.stat().st_size for p in d.rglob("*") if p.is_file())
    assert size <= 10 * 2**20
    lab = pd.read_csv(d / "labels.csv", dtype={"image_id": str})
    info = sample_info("isic2017")
    assert len(lab) == info["n"] and len(list((d / "images").glob("*.jpg"))) == info["n"]
    assert info["counts"]["melanoma"] == lab["melanoma"].sum() > 50
    assert set(lab["split"]) == {"train", "val", "test"}
    assert (lab["license"] == "CC-0").all()
    assert "Codella" in (d / "LICENSE.txt").read_text()
    # every split holds both classes (the demo trains on train, selects on val, reports on test)
    assert lab.groupby("split")["melanoma"].nunique().min() == 2


def test_write_sample_ingest_layout(tmp_path):
    from dermsynth.core.io import read_rgb
    from dermsynth.core.manifest import read_manifest

    out = tmp_path / "s"
    res = write_sample("isic2017", out, size=64)
    lab = pd.read_csv(sample_dir("isic2017") / "labels.csv", dtype={"image_id": str}).set_index("image_id")
    man = read_manifest(out)
    assert res.ingested == len(lab) == len(man)
    assert (man["label"].to_numpy() == lab.loc[man["image_id"], "melanoma"].to_numpy()).all()
    assert (man["split"].to_numpy() == lab.loc[man["image_id"], "split"].to_numpy()).all()
    assert (man["dark_corner"].to_numpy() == lab.loc[man["image_id"], "dark_corner"].to_numpy()).all()
    assert read_rgb(out / man["file"].iloc[0]).shape == (64, 64, 3)
    ds = json.loads((out / "dataset.json").read_text())
    assert len(ds["labels"]) == len(man)
    assert (out / "LICENSE.txt").is_file()
    # its artifact columns are the shipped audit's predictions, and the folder says so (issue 26.5)
    from dermsynth.core.manifest import read_annotation_source

    prov = read_annotation_source(out)
    assert prov["predicted_by"] == "best:isic2017-artifacts" and "predictions" in prov["source"]
    # a rerun is idempotent: nothing is re-written
    before = (out / "manifest.csv").read_bytes()
    write_sample("isic2017", out, size=64)
    assert (out / "manifest.csv").read_bytes() == before
    assert np.isfinite(man["label"].astype(float)).all()


def test_unknown_sample_is_a_clear_error():
    with pytest.raises(ValueError, match="isic2017"):
        sample_dir("ham10000")
