"""``dermsynth clean`` on a phantom dataset: only flagged images change, manifest, masks, resume, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dermsynth.clean.dataset import CleanConfig, clean_dataset
from dermsynth.core.io import read_rgb
from dermsynth.core.manifest import read_manifest


@pytest.fixture(scope="module")
def phantom(tmp_path_factory):
    from dermsynth.data.phantom import make_phantom_dataset

    rates = {"dark_corner": 0.5, "hair": 0.5, "ruler": 0.0, "ink": 0.0, "gel_bubble": 0.0}
    return make_phantom_dataset(tmp_path_factory.mktemp("ph") / "ph", 10, 96, seed=4, twins=True, rates=rates)


def test_only_flagged_images_change(phantom, tmp_path):
    out = tmp_path / "clean"
    s = clean_dataset(phantom, out, CleanConfig("telea", also_hair=True, max_changed=1.0))
    assert s["n_skipped"] == 0
    src, new = read_manifest(phantom), read_manifest(out)
    assert list(new["parent_id"]) == list(src["image_id"])
    for (_, a), (_, b) in zip(src.iterrows(), new.iterrows(), strict=True):
        flagged = bool(a["dark_corner"]) or bool(a["hair"])
        before, after = read_rgb(phantom / a["file"]), read_rgb(out / b["file"])
        if not flagged:
            assert isinstance(b["method"], float) and np.isnan(b["method"])  # empty: unchanged
            assert (phantom / a["file"]).read_bytes() == (out / b["file"]).read_bytes()
        else:
            expect = "+".join((["telea"] if a["dark_corner"] else []) + (["hair"] if a["hair"] else []))
            assert b["method"] == expect
            mask = read_rgb(out / "masks" / f"{a['image_id']}.png")[..., 0] > 127
            assert np.array_equal(before[~mask], after[~mask])
            assert b["changed_fraction"] == pytest.approx(mask.mean(), abs=1e-4)
    assert s["n_changed"] == int((src["dark_corner"] | src["hair"]).sum())
    assert json.loads((out / "dataset.json").read_text())["labels"][0][0] == new["file"][0]
    assert (out / "figures" / "before_after_frame.png").is_file()


@pytest.mark.parametrize("method", ["telea", "crop"])
def test_no_image_changes_more_than_the_limit(phantom, tmp_path, method):
    """The do-no-harm property: whatever the method, no image loses more than ``max_changed``; images
    the plan would change more are byte-identical copies with the reason in the manifest."""
    limit = 0.2
    out = tmp_path / "clean"
    s = clean_dataset(phantom, out, CleanConfig(method, also_hair=True, max_changed=limit))
    src, new = read_manifest(phantom), read_manifest(out)
    for (_, a), (_, b) in zip(src.iterrows(), new.iterrows(), strict=True):
        before, after = read_rgb(phantom / a["file"]), read_rgb(out / b["file"])
        if before.shape == after.shape:
            assert (before != after).any(axis=2).mean() <= limit  # pixels that really changed
        assert b["changed_fraction"] <= limit
        if isinstance(b["skipped"], str):
            assert b["skipped"] == "too dense" and b["planned_fraction"] > limit
            assert (phantom / a["file"]).read_bytes() == (out / b["file"]).read_bytes()
            assert not isinstance(b["method"], str)
    assert s["n_skipped"] == int(new["skipped"].notna().sum()) > 0  # the 96 px phantom frames are wide
    assert s["max_changed_fraction"] <= limit


def test_rerun_resumes_and_refuses_other_options(phantom, tmp_path):
    out = tmp_path / "clean"
    clean_dataset(phantom, out, CleanConfig("crop"))
    changed = sorted((out / "images").iterdir())
    stamp = {p.name: p.stat().st_mtime_ns for p in changed}
    clean_dataset(phantom, out, CleanConfig("crop"))  # nothing redone
    assert {p.name: p.stat().st_mtime_ns for p in sorted((out / "images").iterdir())} == stamp
    with pytest.raises(FileExistsError, match="cleaned earlier"):
        clean_dataset(phantom, out, CleanConfig("fsr"))
    with pytest.raises(ValueError, match="unknown cleaning method"):
        clean_dataset(phantom, tmp_path / "x", CleanConfig("magic"))


def test_cli_clean(phantom, tmp_path):
    from typer.testing import CliRunner

    from dermsynth.cli.main import app

    r = CliRunner().invoke(app, ["clean", str(phantom), "--method", "hair", "--out", str(tmp_path / "h")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(
        app, ["clean", str(phantom), "--method", "fsr", "--max-changed", "0.05", "--out", str(tmp_path / "f")]
    )
    assert r.exit_code == 0, r.output
    n = int(read_manifest(tmp_path / "f")["skipped"].notna().sum())
    assert n > 0 and f"left {n} flagged image(s) as they were (too dense: {n}" in r.output
    bad = CliRunner().invoke(
        app, ["clean", str(phantom), "--method", "fsr", "--max-changed", "0", "--out", str(tmp_path / "g")]
    )
    assert bad.exit_code != 0 and "max_changed" in bad.output
    new = read_manifest(tmp_path / "h")
    assert set(new["method"].dropna()) == {"hair"}
