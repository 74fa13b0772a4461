"""Source detection (one class folder is enough; errors say what was found) and sources' own splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dermsynth.core.manifest import read_manifest
from dermsynth.data.ingest import ingest
from dermsynth.data.sources import detect_format
from dermsynth.data.split import assign_splits, normalise_split, split_dataset


def _img(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(path)
    return path


def test_single_class_folder_is_detected_and_ingested(tmp_path):
    for i in range(3):
        _img(tmp_path / "src" / "benign" / f"b{i}.png", i)
    assert detect_format(tmp_path / "src") == "folder"
    res = ingest(tmp_path / "src", tmp_path / "out", size=16)
    df = read_manifest(tmp_path / "out")
    assert res.format == "folder" and res.ingested == 3 and set(df["label"]) == {0}


def test_detection_error_names_what_was_found(tmp_path):
    _img(tmp_path / "src" / "pictures" / "a.png")
    _img(tmp_path / "src" / "loose.png")
    (tmp_path / "src" / "notes.csv").write_text("x,y\n1,2\n")
    with pytest.raises(ValueError) as e:
        detect_format(tmp_path / "src")
    msg = str(e.value)
    assert "'pictures'" in msg and "--label-map" in msg and "notes.csv" in msg and "1 loose image" in msg
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no csv file; no sub-folders"):
        detect_format(tmp_path / "empty")


def _challenge_2017(tmp_path: Path, splits: list[str]) -> Path:
    ids = [f"ISIC_{i:07d}" for i in range(len(splits))]
    for i, iid in enumerate(ids):
        _img(tmp_path / "c17" / "images" / f"{iid}.jpg", i)
    labels = [i % 2 for i in range(len(ids))]
    pd.DataFrame({"image_id": ids, "split": splits, "melanoma": labels}).to_csv(
        tmp_path / "c17" / "labels.csv", index=False
    )
    return tmp_path / "c17"


def test_isic_challenge_split_lands_in_split_and_survives_data_split(tmp_path):
    splits = ["train"] * 30 + ["validation"] * 6 + ["val"] * 4
    src = _challenge_2017(tmp_path, splits)
    res = ingest(src, tmp_path / "out", size=16)
    df = read_manifest(tmp_path / "out")
    assert res.format == "isic-challenge" and res.ingested == 40
    assert list(df["split"]) == ["train"] * 30 + ["val"] * 10  # ours; the raw names stay in source_split
    assert list(df["source_split"]) == splits
    summary = split_dataset(tmp_path / "out", val=0.1, test=0.25, seed=3)
    df2 = read_manifest(tmp_path / "out")
    val_ids = set(df.loc[df["split"] == "val", "image_id"])
    assert set(df2.loc[df2["split"] == "val", "image_id"]) == val_ids  # the challenge's val stays val
    assert (df2.loc[df2["image_id"].isin(val_ids), "split"] == "val").all()
    assert (df2["split"] == "test").sum() == 10  # 0.25 of all 40 images, carved from the challenge's train
    assert summary["kept_source_split"] == ["val"] and summary["test"]["images"] == 10
    # without keep_source_split the whole dataset is re-split as if the source had none
    split_dataset(tmp_path / "out", val=0.1, test=0.25, seed=3, keep_source_split=False)
    expected = assign_splits(df2, 0.1, 0.25, 3)
    assert list(read_manifest(tmp_path / "out")["split"]) == list(expected)


def test_normalise_split():
    assert [normalise_split(v) for v in ("Training", "VALIDATION", " test ", "valid", None, "", "dev")] == [
        "train", "val", "test", "val", "", "", ""
    ]  # fmt: skip
