"""Splits (patient-level, stratified, deterministic) and dataset stats (counts, Fig. 3.3)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from dermsynth.core.manifest import read_manifest, write_manifest
from dermsynth.data.phantom import make_phantom_dataset
from dermsynth.data.split import assign_splits, split_dataset
from dermsynth.data.stats import dataset_stats, write_stats


def _manifest(n: int, n_patients: int | None, mel: float, seed: int = 0) -> pd.DataFrame:
    r = np.random.default_rng(seed)
    df = pd.DataFrame(
        {"image_id": [f"im{i}" for i in range(n)], "file": [f"images/im{i}.png" for i in range(n)]}
    )
    df["label"] = (r.random(n) < mel).astype(int)
    df["patient_id"] = [f"p{r.integers(n_patients)}" for _ in range(n)] if n_patients else ""
    return df


def _check_split(df: pd.DataFrame, split: pd.Series, val: float, test: float, tol: float) -> None:
    frac = split.value_counts(normalize=True)
    assert abs(frac["val"] - val) < tol and abs(frac["test"] - test) < tol
    overall = df["label"].mean()
    for s in ("train", "val", "test"):
        assert abs(df.loc[split == s, "label"].mean() - overall) < max(tol, 0.1 * overall)


def test_patient_level_split_has_no_leak_and_is_stratified():
    df = _manifest(3000, 400, 0.2)
    split = assign_splits(df, 0.15, 0.15, seed=1)
    assert (df.assign(split=split).groupby("patient_id")["split"].nunique() == 1).all()
    _check_split(df, split, 0.15, 0.15, 0.02)


def test_split_is_deterministic_and_seed_dependent():
    df = _manifest(500, 80, 0.3)
    a, b, c = assign_splits(df, seed=4), assign_splits(df, seed=4), assign_splits(df, seed=5)
    assert a.equals(b) and not a.equals(c)
    # row order does not change which split a patient lands in
    shuffled = df.sample(frac=1, random_state=0)
    assert assign_splits(shuffled, seed=4).sort_index().equals(a)


def test_image_level_without_patient_ids_and_mixed():
    df = _manifest(1000, None, 0.1)
    split = assign_splits(df, 0.1, 0.1, seed=0)
    _check_split(df, split, 0.1, 0.1, 0.005)
    assert (split == "test").sum() == pytest.approx(100, abs=2)
    mixed = _manifest(1000, 50, 0.1)
    mixed.loc[:499, "patient_id"] = ""
    s2 = assign_splits(mixed, seed=0)
    has = mixed["patient_id"] != ""
    assert (mixed[has].assign(split=s2[has]).groupby("patient_id")["split"].nunique() == 1).all()


def test_bad_fractions():
    with pytest.raises(ValueError, match="val"):
        assign_splits(_manifest(10, None, 0.5), 0.6, 0.5)


def test_split_and_stats_on_a_phantom_dataset(tmp_path: Path):
    d = make_phantom_dataset(tmp_path / "p", n=60, size=16, seed=0)
    summary = split_dataset(d, val=0.2, test=0.2, seed=0)
    df = read_manifest(d)
    assert summary["level"] == "image" and set(df["split"]) == {"train", "val", "test"}
    assert summary["val"]["images"] == pytest.approx(12, abs=1)
    st = write_stats(d)
    assert st["classes"] == {
        "not_melanoma": int((df.label == 0).sum()),
        "melanoma": int((df.label == 1).sum()),
    }
    assert sum(st["by_split"]["val"].values()) == summary["val"]["images"]
    for art in ("dark_corner", "hair"):
        assert st["artifact_prevalence"][art]["melanoma"] == pytest.approx(
            df.loc[df.label == 1, art].mean(), abs=1e-4
        )
    assert json.loads((d / "stats.json").read_text()) == st
    img = cv2.imread(str(d / "class_distribution.png"))
    assert img is not None and img.shape[0] > 200 and img.shape[1] > 200


def test_stats_counts_match_value_counts():
    df = _manifest(200, None, 0.25)
    df["source"] = np.where(np.arange(200) < 50, "a", "b")
    st = dataset_stats(df)
    assert st["classes"]["melanoma"] == int(df.label.sum()) and st["images"] == 200
    assert st["by_source"] == {"a": 50, "b": 150} and "by_split" not in st


def test_cli_split_and_stats(tmp_path: Path):
    from typer.testing import CliRunner

    from dermsynth.cli.main import app

    df = _manifest(100, 20, 0.3)
    write_manifest(df, tmp_path)
    res = CliRunner().invoke(
        app, ["data", "split", str(tmp_path), "--val", "0.2", "--test", "0.2", "--seed", "3"]
    )
    assert res.exit_code == 0, res.output
    assert "patients in several splits: 0" in " ".join(res.output.split())
    res = CliRunner().invoke(app, ["data", "stats", str(tmp_path)])
    assert res.exit_code == 0 and (tmp_path / "class_distribution.png").exists()
    res = CliRunner().invoke(app, ["data", "stats", str(tmp_path / "none")])
    assert res.exit_code == 2 and "manifest" in res.output


@pytest.mark.realdata
def test_real_isic2020_patient_split_at_full_scale(shared_data: Path, tmp_path: Path):
    gt = pd.read_csv(shared_data / "isic2020-groundtruth" / "ISIC_2020_Training_GroundTruth.csv", dtype=str)
    df = pd.DataFrame({"image_id": gt.image_name, "file": "images/" + gt.image_name + ".png",
                       "label": gt.target.astype(int), "patient_id": gt.patient_id})  # fmt: skip
    write_manifest(df, tmp_path)
    summary = split_dataset(tmp_path, val=0.1, test=0.1, seed=0)
    out = read_manifest(tmp_path)
    assert summary["patients_in_several_splits"] == 0 and summary["level"] == "patient"
    assert (out.groupby("patient_id")["split"].nunique() == 1).all()
    assert sum(summary[s]["patients"] for s in ("train", "val", "test")) == gt.patient_id.nunique() == 2056
    _check_split(out, out["split"], 0.1, 0.1, 0.01)
    for s in ("val", "test"):  # 584 melanoma overall (1.76%): each held-out split gets its share
        assert summary[s]["melanoma"] == pytest.approx(58, abs=6)


def test_demo_chain_phantom_ingest_split_stats(tmp_path: Path):
    """What `make demo` runs first: phantom -> ingest (1 and 2 workers agree) -> split -> stats."""
    from typer.testing import CliRunner

    from dermsynth.cli.main import app

    run = CliRunner().invoke
    assert (
        run(
            app, ["data", "phantom", "--out", str(tmp_path / "ph"), "--n", "24", "--size", "48", "--twins"]
        ).exit_code
        == 0
    )
    for w in ("1", "2"):
        res = run(
            app,
            [
                "data",
                "ingest",
                str(tmp_path / "ph"),
                "--out",
                str(tmp_path / f"in{w}"),
                "--size",
                "32",
                "--workers",
                w,
            ],
        )
        assert res.exit_code == 0, res.output
        assert "ingested 24 + rejected 0 = 24 inputs" in " ".join(res.output.split())
    assert (tmp_path / "in1" / "manifest.csv").read_bytes() == (
        tmp_path / "in2" / "manifest.csv"
    ).read_bytes()
    df = read_manifest(tmp_path / "in1")
    ph = read_manifest(tmp_path / "ph")
    assert list(df["label"]) == list(ph["label"]) and set(df["source"]) == {"phantom"}
    assert list(df["dark_corner"]) == list(ph["dark_corner"])  # ground truth travels through ingest
    assert run(app, ["data", "split", str(tmp_path / "in1"), "--seed", "0"]).exit_code == 0
    assert run(app, ["data", "stats", str(tmp_path / "in1")]).exit_code == 0
    st = json.loads((tmp_path / "in1" / "stats.json").read_text())
    assert (
        sum(st["classes"].values()) == 24 and "by_split" in st and "dark_corner" in st["artifact_prevalence"]
    )
