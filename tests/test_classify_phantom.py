"""Classifier experiments on phantom data (dermsynth.data.phantom) and a generator-network source."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from dermsynth.classify.data import group_split, load_real_parts  # noqa: E402
from dermsynth.classify.experiment import experiment_from_dict  # noqa: E402
from dermsynth.classify.run import run_experiment  # noqa: E402
from dermsynth.data.phantom import make_phantom_dataset  # noqa: E402


def test_group_split_keeps_patients_together():
    df = pd.DataFrame(
        {"image_id": [str(i) for i in range(300)], "patient_id": [f"p{i // 3}" for i in range(300)]}
    )
    which = group_split(df, [0.6, 0.2, 0.2], 0, "k")
    assert df.groupby("patient_id").apply(lambda g: len(set(which[g.index])), include_groups=False).max() == 1
    counts = np.bincount(which, minlength=3) / 300
    np.testing.assert_allclose(counts, [0.6, 0.2, 0.2], atol=0.02)
    np.testing.assert_array_equal(which, group_split(df, [0.6, 0.2, 0.2], 0, "k"))
    with pytest.raises(ValueError, match="sum to 1"):
        group_split(df, [0.5, 0.2], 0, "k")


def test_val_from_train_and_assign_splits(tmp_path):
    make_phantom_dataset(tmp_path / "ph", 60, 16, 0)
    parts = load_real_parts({"dir": "ph", "assign_splits": [0.5, 0.25, 0.25]}, tmp_path, 0)
    assert sum(len(p) for p in parts.values()) == 60
    m = pd.read_csv(tmp_path / "ph" / "manifest.csv")
    m["split"] = np.where(np.arange(60) < 45, "train", "val")
    m.to_csv(tmp_path / "ph" / "manifest.csv", index=False)
    parts = load_real_parts({"dir": "ph", "test": "val", "val_from_train": 0.2}, tmp_path, 0)
    assert len(parts["test"]) == 15 and len(parts["train"]) + len(parts["val"]) == 45
    assert not set(parts["val"].image_id) & set(parts["train"].image_id)


@pytest.mark.slow
def test_phantom_experiment_with_network_source(tmp_path):
    from dermsynth.gan import build_networks, save_network

    make_phantom_dataset(tmp_path / "ph", 160, 32, 0)
    torch.manual_seed(0)
    G, _ = build_networks("tiny", 32, 2)
    save_network(tmp_path / "net", G_ema=G, meta={"class_names": ["not_melanoma", "melanoma"]})
    exp = experiment_from_dict(
        {
            "preset": "tiny",
            "data": {
                "real": {"dir": "ph", "assign_splits": [0.6, 0.2, 0.2]},
                "synthetic": {"network": "net.safetensors", "per_class": 20, "batch_size": 8},
            },
            "setups": ["real", "synthetic", {"name": "mixed", "fraction_real": 0.5, "per_class": 60}],
            "sizes": {"real_per_class": 50, "val_total": 30},
            "train": {"epochs": 1},
            "eval": {"n_bootstrap": 50},
        },
        tmp_path,
    )
    table = run_experiment(exp, tmp_path / "run", "cpu", log=lambda m: None)
    assert table["setup"].tolist() == ["real", "synthetic", "mixed"]
    gen = pd.read_csv(tmp_path / "run" / "generated" / "synthetic" / "manifest.csv")
    assert len(gen) == 40 and (gen["source"] == "synthetic").all() and sorted(gen["label"].unique()) == [0, 1]
    mixed = pd.read_csv(tmp_path / "run" / "setups" / "mixed" / "train_set.csv")
    assert (mixed.groupby(["data", "label"]).size() == 20).all()  # 20 synthetic per class cap the mix at 40


@pytest.mark.slow
def test_shortcut_test_catches_frame_biased_model_on_phantom(tmp_path):
    # frames on every melanoma and no benign image (the default phantom bias pushed to the limit)
    make_phantom_dataset(tmp_path / "ph", 300, 32, 1, rates={"dark_corner": (0.0, 1.0)})
    exp = experiment_from_dict(
        {
            "preset": "tiny",
            "data": {"real": {"dir": "ph", "assign_splits": [0.6, 0.2, 0.2]}},
            "setups": ["real"],
            "sizes": {"real_per_class": 200, "val_total": 60},
            "train": {"epochs": 4},
            "eval": {"n_bootstrap": 50},
        },
        tmp_path,
    )
    table = run_experiment(exp, tmp_path / "run", "cpu", log=lambda m: None)
    assert bool(table.loc[0, "shortcut_flagged"])
    assert table.loc[0, "shortcut_auc_change"] < -0.2 and table.loc[0, "shortcut_score_change_add"] > 0.1


def test_frame_filter_falls_back_to_the_bias_detector(tmp_path):
    pytest.importorskip("dermsynth.bias")
    from dermsynth.classify.data import filter_artifacts, load_dataset

    make_phantom_dataset(tmp_path / "ph", 60, 128, 5, rates={"dark_corner": (0.3, 0.6)})
    df = load_dataset(tmp_path / "ph")
    truth = df.pop("dark_corner")
    out = filter_artifacts(df, ("dark_corner",), tmp_path / "cache.csv")
    removed = (~df["image_id"].isin(out["image_id"])).astype(int)
    assert (removed == truth).mean() >= 0.9 and 0 < len(out) < len(df)
    cached = pd.read_csv(tmp_path / "cache.csv")
    assert len(cached) == len(df) and "dark_corner" in cached.columns
