"""Experiment file parsing, real splits (disjointness), setups (counts, fractions, artifact filters)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dermsynth.classify.data import (
    balanced_val,
    check_disjoint,
    filter_artifacts,
    load_dataset,
    real_split_refs,
    sample_per_class,
)
from dermsynth.classify.experiment import SetupSpec, SourceSpec, builtin_setup, experiment_from_dict
from dermsynth.classify.setups import build_training_set
from dermsynth.core.io import write_png
from dermsynth.core.manifest import write_manifest


def _pool(n, source="real", seed=0, **cols):
    g = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "image_id": [f"{source}{i}" for i in range(n)],
            "path": [f"/x/{source}{i}.png" for i in range(n)],
            "label": np.arange(n) % 2,
            "data": source,
        }
    )
    for k, p in cols.items():
        df[k] = (g.random(n) < p).astype(int)
    return df


def test_patient_leak_raises():
    a = _pool(10)
    a["patient_id"] = [f"p{i}" for i in range(10)]
    b = _pool(10, "b")
    b["patient_id"] = [f"q{i}" for i in range(9)] + ["p3"]
    with pytest.raises(ValueError, match="patient leak.*p3"):
        check_disjoint({"train": a, "test": b})
    b.loc[9, "patient_id"] = "q9"
    check_disjoint({"train": a, "test": b})
    b.loc[0, "path"] = a.loc[0, "path"]
    with pytest.raises(ValueError, match="share 1 image"):
        check_disjoint({"train": a, "test": b})


def test_leaking_manifest_split_raises_in_run(tmp_path):
    from dermsynth.classify.run import load_real

    rows = []
    for i in range(12):
        write_png(tmp_path / f"images/{i}.png", np.full((8, 8, 3), i * 10, np.uint8))
        rows.append(
            {
                "image_id": str(i),
                "file": f"images/{i}.png",
                "label": i % 2,
                "split": ["train", "val", "test"][i % 3],
                "patient_id": f"p{i // 2}",
            }
        )
    write_manifest(pd.DataFrame(rows), tmp_path)
    exp = experiment_from_dict({"data": {"real": str(tmp_path)}, "sizes": {"val_total": 4}})
    with pytest.raises(ValueError, match="patient leak"):
        load_real(exp)


def test_validation_is_never_the_test_set(tmp_path):
    with pytest.raises(ValueError, match="test set is the validation set"):
        real_split_refs({"dir": "d", "val": "val", "test": "val"}, tmp_path)
    refs = real_split_refs({"dir": "d", "test": "holdout"}, tmp_path)
    assert refs["test"].split == "holdout" and refs["val"].split == "val"


def test_load_dataset_drops_missing_files_with_warning(tmp_path):
    write_png(tmp_path / "images/a.png", np.zeros((8, 8, 3), np.uint8))
    write_manifest(
        pd.DataFrame(
            {
                "image_id": ["a", "b"],
                "file": ["images/a.png", "images/b.png"],
                "label": [0, 1],
                "split": ["train", "train"],
            }
        ),
        tmp_path,
    )
    with pytest.warns(UserWarning, match="1 image file"):
        df = load_dataset(tmp_path, "train")
    assert df["image_id"].tolist() == ["a"]
    with pytest.raises(ValueError, match="no rows with split == 'test'"):
        load_dataset(tmp_path, "test")


def test_sampling_is_seeded_and_nested():
    pool = _pool(100)
    a = sample_per_class(pool, 10, 0, "real|")
    b = sample_per_class(pool, 20, 0, "real|")
    assert a["label"].value_counts().tolist() == [10, 10]
    assert set(a["path"]) <= set(b["path"])
    assert a.equals(sample_per_class(pool, 10, 0, "real|"))


def test_balanced_val_scales_down_with_warning():
    pool = _pool(30)
    pool.loc[pool.index[:20], "label"] = 0  # 5 melanoma left
    with pytest.warns(UserWarning, match="5 per class"):
        v = balanced_val(pool, 100, True, 0)
    assert v["label"].value_counts().tolist() == [5, 5]


def test_builtin_setups_follow_table_3_1():
    exp = experiment_from_dict(
        {"data": {"real": "r"}, "setups": ["real", "synthetic-nobias", {"name": "mixed"}]}
    )
    real, nobias, mixed = exp.setups
    assert real.sources[0].per_class == 4000
    assert nobias.sources[0].per_class == 10000 and "dark_corner" in nobias.sources[0].exclude_artifacts
    assert [s.fraction for s in mixed.sources] == [0.4, 0.6] and mixed.per_class == 10000


def test_mixed_scales_down_keeping_fractions():
    pools = {"real": _pool(40), "synthetic": _pool(400, "synthetic")}  # 20 real per class
    spec = builtin_setup("mixed", experiment_from_dict({"data": {"real": "r"}}).sizes)
    with pytest.warns(UserWarning, match="scaled down"):
        df, notes = build_training_set(spec, pools, 0)
    counts = df.groupby(["data", "label"]).size()
    assert counts["real"].tolist() == [20, 20] and counts["synthetic"].tolist() == [30, 30]


def test_artifact_filters():
    pool = _pool(200, "synthetic", dark_corner=0.3, hair=0.4)
    noframes = filter_artifacts(pool, ("dark_corner",))
    assert noframes["dark_corner"].sum() == 0 and noframes["hair"].sum() > 0
    spec = SetupSpec("x", (SourceSpec("synthetic", 1000, exclude_artifacts=("dark_corner", "hair")),))
    with pytest.warns(UserWarning):
        df, _ = build_training_set(spec, {"synthetic": pool}, 0)
    assert df["dark_corner"].sum() == 0 and df["hair"].sum() == 0 and len(df) > 0


def test_experiment_errors_are_clear(tmp_path):
    from dermsynth.classify.experiment import load_experiment

    with pytest.raises(ValueError, match="data.real"):
        experiment_from_dict({"data": {}})
    with pytest.raises(ValueError, match="unknown option"):
        experiment_from_dict({"data": {"real": "r"}, "train": {"epoch": 3}})
    with pytest.raises(ValueError, match="unknown setup"):
        experiment_from_dict({"data": {"real": "r"}, "setups": ["realistic"]})
    with pytest.raises(ValueError, match="per_class"):
        experiment_from_dict(
            {"data": {"real": "r"}, "setups": [{"name": "c", "sources": [{"data": "real", "fraction": 0.5}]}]}
        )
    p = tmp_path / "e.yaml"
    p.write_text("data: [unclosed")
    with pytest.raises(ValueError, match="e.yaml"):
        load_experiment(p)
    exp = experiment_from_dict({"preset": "tiny", "data": {"real": "r"}, "model": {"weights": "None"}})
    assert exp.model.name == "tiny-cnn" and exp.model.weights == "none"
