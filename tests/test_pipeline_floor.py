"""The real floor, a protocol of the one metrics driver (metrics/floor.py): FID of real train vs held-out
real images beside generated vs the same held-out images, in the same features and at the same count."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    from dermsynth.core.io import write_png
    from dermsynth.core.manifest import read_manifest, write_manifest
    from dermsynth.data.phantom import make_phantom_dataset
    from dermsynth.data.split import SplitConfig, split_dataset

    tmp = tmp_path_factory.mktemp("floor")
    real = make_phantom_dataset(tmp / "real", 40, 32, seed=1)
    split_dataset(real, SplitConfig(val=0.25, test=0.25, seed=0))
    same = make_phantom_dataset(tmp / "same", 16, 32, seed=2)  # "generated" = more real-like images
    noise = tmp / "noise"
    df = read_manifest(same).copy()
    rng = np.random.default_rng(0)
    for f in df["file"]:
        write_png(noise / f, rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    write_manifest(df, noise)
    return real, same, noise


def _opts(**kw):
    from dermsynth.metrics.driver import MetricOptions

    return MetricOptions(device="cpu", feature_size=32, use_cache=False, floor=True, **kw)


def test_real_floor_compares_like_with_like(sets):
    from dermsynth.core.manifest import read_manifest
    from dermsynth.metrics import compute_metrics, extractors, fid_from_features
    from dermsynth.metrics.features import extract_image_set
    from dermsynth.metrics.images import open_image_set

    real, same, noise = sets
    a = compute_metrics(real, fake_dir=same, metrics=["fid16_effnetlite"], options=_opts())["floor"]
    b = compute_metrics(real, fake_dir=noise, metrics=["fid16_effnetlite"], options=_opts())["floor"]
    splits = read_manifest(real)["split"]
    n_train, n_held = int((splits == "train").sum()), int(splits.isin(["val", "test"]).sum())
    assert a["reference"] == "val+test" and a["num"] == min(16, n_train) and a["num_reference"] == n_held
    # the floor does not depend on the generated set; noise is much farther from skin than phantoms
    assert a["results"] == b["results"]
    assert b["generated"]["fid16_effnetlite"] > 2 * a["generated"]["fid16_effnetlite"]
    # the same value as the FID of the same rows computed by hand in the same features
    ext = extractors.get_extractor("effnet-lite:lite0", "cpu", size=32)
    fs = extract_image_set(open_image_set(real), ext, 64, None)
    held = fs.features[np.isin(fs.splits, ["val", "test"])]
    train = fs.features[np.asarray(fs.splits) == "train"]
    rng = np.random.default_rng(0)
    train_n = train[np.sort(rng.choice(len(train), a["num"], replace=False))]
    assert a["results"]["fid16_effnetlite"] == pytest.approx(fid_from_features(train_n, held), rel=1e-3)


def test_floor_reference_splits_and_a_dataset_without_splits(sets):
    from dermsynth.metrics import compute_metrics

    real, same, _ = sets
    v = compute_metrics(
        real, fake_dir=same, metrics=["fid16_effnetlite"], options=_opts(floor_reference=("val",))
    )
    assert v["floor"]["reference"] == "val" and v["floor"]["num_reference"] < 20
    none = compute_metrics(same, fake_dir=same, metrics=["fid16_effnetlite"], options=_opts())
    assert "no split" in none["floor"]["note"]
    from dermsynth.metrics.driver import MetricOptions

    plain = MetricOptions(device="cpu", feature_size=32, use_cache=False)
    off = compute_metrics(real, fake_dir=same, metrics=["fid16_effnetlite"], options=plain)
    assert "floor" not in off


def test_missing_metric_weights_stop_the_run_before_any_work(tmp_path, monkeypatch):
    """Names are checked when the study is read; weights files before the first stage of a real run."""
    from dermsynth.pipeline.config import load_study_config
    from dermsynth.pipeline.runner import run_pipeline
    from dermsynth.pipeline.stages import STAGES

    monkeypatch.delenv("DERMSYNTH_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no-torch-home"))
    cfg = load_study_config(preset_name="thesis-256")  # resolves: no file is read
    with pytest.raises(FileNotFoundError, match="pt_inception-2015-12-05"):
        run_pipeline(cfg, tmp_path / "out", STAGES, log=lambda m: None)
    assert not (tmp_path / "out" / "data").exists()
