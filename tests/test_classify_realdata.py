"""Smoke test on real ISIC 2017 images (../shared/data/isic2017-256), read in place."""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("torch")

from dermsynth.core.manifest import write_manifest  # noqa: E402

ARTIFACT_COLS = ["dark_corner", "hair", "gel_border", "gel_bubble", "ruler", "ink"]


def isic2017_dataset(data_dir, out, n_per_split: dict[str, int] | None = None):
    """A manifest-only dataset dir over isic2017-256 (absolute image paths; no image is copied)."""
    src = data_dir / "isic2017-256"
    lab = pd.read_csv(src / "labels.csv", dtype={"image_id": str})
    if n_per_split:
        lab = pd.concat(
            [lab[lab.split == s].groupby("melanoma").head(k // 2) for s, k in n_per_split.items()]
        )
    df = pd.DataFrame(
        {
            "image_id": lab["image_id"],
            "file": [str(src / "images" / f"{i}.jpg") for i in lab["image_id"]],
            "label": lab["melanoma"].astype(int),
            "source": "real",
            "split": lab["split"],
        }
    )
    for a in ARTIFACT_COLS:
        df[a] = lab[a].where(lab["has_bias_annotation"] == 1)
    write_manifest(df, out)
    return out


@pytest.mark.realdata
def test_isic2017_real_setup_smoke(shared_data, tmp_path):
    from dermsynth.classify.experiment import experiment_from_dict
    from dermsynth.classify.run import run_experiment

    isic2017_dataset(shared_data, tmp_path / "isic", {"train": 80, "val": 40})
    exp = experiment_from_dict(
        {
            "preset": "tiny",
            "data": {"real": {"dir": "isic", "test": "val", "val_from_train": 0.25}},
            "setups": ["real"],
            "sizes": {"val_total": 20},
            "train": {"epochs": 1},
            "eval": {"n_bootstrap": 50},
        },
        tmp_path,
    )
    table = run_experiment(exp, tmp_path / "run", "cpu", log=lambda m: None)
    assert table.loc[0, "n_test"] == 40 and table.loc[0, "n_test_melanoma"] == 20
    assert 0.0 <= table.loc[0, "AUC"] <= 1.0
    assert (
        tmp_path / "run" / "shortcut.csv"
    ).is_file()  # the annotations' dark_corner drives the shortcut test
