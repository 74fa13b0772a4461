"""The real floor of the metrics stage: FID of real train vs held-out real images beside generated vs the
same held-out images, in the same features and at the same count."""

from __future__ import annotations

import numpy as np


def test_real_floor_compares_like_with_like(tmp_path):
    from dermsynth.data.phantom import make_phantom_dataset
    from dermsynth.data.split import SplitConfig, split_dataset
    from dermsynth.metrics.driver import MetricOptions
    from dermsynth.pipeline.stages import real_floor

    real = make_phantom_dataset(tmp_path / "real", 40, 32, seed=1)
    split_dataset(real, SplitConfig(val=0.25, test=0.25, seed=0))
    same = make_phantom_dataset(tmp_path / "same", 16, 32, seed=2)  # "generated" = more real-like images
    noise = tmp_path / "noise"
    from dermsynth.core.io import write_png
    from dermsynth.core.manifest import read_manifest, write_manifest

    df = read_manifest(same).copy()
    rng = np.random.default_rng(0)
    for f in df["file"]:
        write_png(noise / f, rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    write_manifest(df, noise)
    opts = MetricOptions(device="cpu", feature_size=32)
    a = real_floor(real, same, ["fid16_effnetlite"], opts)
    b = real_floor(real, noise, ["fid16_effnetlite"], opts)
    assert a["reference"] == "val+test" and a["num"] == 16 and a["num_reference"] == 20
    # the floor does not depend on the generated set; noise is much farther from skin than phantoms
    assert a["results"] == b["results"]
    assert b["generated"]["fid16_effnetlite"] > 2 * a["generated"]["fid16_effnetlite"]
    assert a["results"]["fid16_effnetlite"] > 0


def test_missing_metric_weights_stop_the_run_before_any_work(tmp_path, monkeypatch):
    """Names are checked when the study is read; weights files before the first stage of a real run."""
    import pytest

    from dermsynth.pipeline.config import load_study_config
    from dermsynth.pipeline.runner import run_pipeline
    from dermsynth.pipeline.stages import STAGES

    monkeypatch.delenv("DERMSYNTH_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no-torch-home"))
    cfg = load_study_config(preset_name="thesis-256")  # resolves: no file is read
    with pytest.raises(FileNotFoundError, match="pt_inception-2015-12-05"):
        run_pipeline(cfg, tmp_path / "out", STAGES, log=lambda m: None)
    assert not (tmp_path / "out" / "data").exists()
