"""``filter_dataset``: the "no bias" / "no frames" subsets of thesis Table 3.1."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from dermsynth.core.io import write_png
from dermsynth.core.manifest import read_manifest, write_manifest
from dermsynth.data.filter import filter_dataset, resolve_exclude


@pytest.fixture
def ds(tmp_path):
    import numpy as np

    d = tmp_path / "src"
    rows = []
    for i in range(6):
        write_png(d / "images" / f"a{i}.png", np.full((8, 8, 3), i * 20, np.uint8))
        rows.append(
            {
                "image_id": f"a{i}",
                "file": f"images/a{i}.png",
                "label": i % 2,
                "dark_corner_annotated": int(i in (0, 1)),
                "dark_corner": int(i in (0, 2)),
                "dark_corner_score": 0.5,
                "ruler": int(i == 3),
                "ruler_score": 0.1,
                "hair": pd.NA,
            }
        )
    write_manifest(pd.DataFrame(rows), d)
    return d


def test_resolve_exclude_aliases():
    assert resolve_exclude("frame, ruler") == ["dark_corner", "ruler"]
    assert len(resolve_exclude(["all"])) == 6
    with pytest.raises(ValueError, match="unknown artifact"):
        resolve_exclude("frame,spaceship")


def test_by_audit_and_by_annotation(ds, tmp_path):
    a = read_manifest(filter_dataset(ds, tmp_path / "audit", ["frame"], by="audit"))
    assert list(a["image_id"]) == ["a1", "a3", "a4", "a5"]
    b = read_manifest(filter_dataset(ds, tmp_path / "ann", ["frame"], by="annotation"))
    assert list(b["image_id"]) == ["a2", "a3", "a4", "a5"]
    c = read_manifest(filter_dataset(ds, tmp_path / "auto", "frame,ruler"))
    assert list(c["image_id"]) == ["a1", "a4", "a5"]
    assert list(c["parent_id"]) == list(c["image_id"])
    assert all(
        (tmp_path / "auto" / f).read_bytes() == (ds / "images" / f.split("/")[-1]).read_bytes()
        for f in c["file"]
    )
    cfg = json.loads((tmp_path / "auto" / "filter_config.json").read_text())
    assert cfg["n_source"] == 6 and cfg["n_kept"] == 3 and cfg["exclude"] == ["dark_corner", "ruler"]


def test_unknown_flags_are_left_out_and_missing_columns_explained(ds, tmp_path):
    with pytest.raises(ValueError, match="no audit flags for 'ink'"):
        filter_dataset(ds, tmp_path / "x", ["ink"], by="audit")
    with pytest.raises(ValueError, match="no annotation flags for 'ink'"):
        filter_dataset(ds, tmp_path / "y", ["ink"], by="annotation")
    out = filter_dataset(ds, tmp_path / "h", ["hair"], by="annotation")  # column present, every flag unknown
    assert len(read_manifest(out)) == 0
    assert json.loads((out / "filter_config.json").read_text())["n_unknown"] == 6
    with pytest.raises(ValueError, match="must differ"):
        filter_dataset(ds, ds, ["frame"])
    with pytest.raises(ValueError, match="by must be"):
        filter_dataset(ds, tmp_path / "z", ["frame"], by="vibes")
