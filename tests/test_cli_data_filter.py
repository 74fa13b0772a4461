"""`dermsynth data filter` keeps exactly the images without the excluded artifacts."""

from __future__ import annotations

from typer.testing import CliRunner

from dermsynth.cli.main import app
from dermsynth.core.manifest import read_manifest
from dermsynth.data.phantom import make_phantom_dataset


def test_data_filter_cli(tmp_path):
    src = make_phantom_dataset(tmp_path / "ph", n=40, size=32, seed=3)
    res = CliRunner().invoke(
        app, ["data", "filter", str(src), "--exclude", "frame,ruler", "--out", str(tmp_path / "f")]
    )
    assert res.exit_code == 0, res.output
    a, b = read_manifest(src), read_manifest(tmp_path / "f")
    expect = a[(a.dark_corner == 0) & (a.ruler == 0)]
    assert sorted(b["parent_id"].astype(str)) == sorted(expect["image_id"].astype(str))
    assert b[["dark_corner", "ruler"]].to_numpy().sum() == 0
    bad = CliRunner().invoke(
        app, ["data", "filter", str(tmp_path / "nope"), "--exclude", "frame", "--out", str(tmp_path / "g")]
    )
    assert bad.exit_code == 2 and "nope" in bad.output
