"""Annotation readers (labels.csv layout and Bissoto's original ;-file) and the evaluation metrics."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from dermsynth.bias.annotations import image_key, read_annotations
from dermsynth.bias.evaluate import best_threshold, evaluate, evaluate_dataset
from dermsynth.core.manifest import write_manifest

LABELS = """image_id,split,melanoma,age_approx,sex,has_bias_annotation,dark_corner,hair,gel_border,gel_bubble,ruler,ink,patches
ISIC_0000000,train,0,55,female,1,0,0,0,0,0,0,0
ISIC_0000001,train,0,30,female,1,1,1,0,1,0,0,0
ISIC_0000002,train,1,60,female,0,,,,,,,
ISIC_0000003,val,0,30,male,1,0,1,0,1,1,1,0
"""
BISSOTO = """;image;dark_corner;hair;gel_border;gel_bubble;ruler;ink;patches;label;label_string
0;ISIC_0000000.png;0;0;0;0;0;0;0;0;benign
1;ISIC_0000001.png;1;1;0;1;0;0;0;0;benign
2;ISIC_0000003.png;0;1;0;1;1;1;0;0;benign
"""


def test_labels_layout_keeps_only_annotated_rows(tmp_path):
    p = tmp_path / "labels.csv"
    p.write_text(LABELS)
    ann = read_annotations(p)
    assert list(ann.index) == ["ISIC_0000000", "ISIC_0000001", "ISIC_0000003"]
    assert ann.loc["ISIC_0000003", "ruler"] == 1 and ann.loc["ISIC_0000001", "dark_corner"] == 1
    assert "patches" not in ann.columns and ann.dtypes.map(lambda d: d.kind == "i").all()


def test_labels_dataset_is_a_manifest_of_one_split(tmp_path):
    from dermsynth.bias.annotations import labels_dataset
    from dermsynth.core.manifest import read_manifest

    (tmp_path / "isic").mkdir()
    (tmp_path / "isic" / "labels.csv").write_text(LABELS)
    df = read_manifest(labels_dataset(tmp_path / "isic", tmp_path / "all", "train"))
    assert df["image_id"].tolist() == ["ISIC_0000000", "ISIC_0000001", "ISIC_0000002"]
    assert df["label"].tolist() == [0, 0, 1] and set(df["split"]) == {"train"}
    assert df["file"].iloc[2] == str(tmp_path / "isic" / "images" / "ISIC_0000002.jpg")
    assert df["dark_corner_annotated"].iloc[1] == 1 and pd.isna(df["dark_corner_annotated"].iloc[2])
    ann = read_manifest(labels_dataset(tmp_path / "isic", tmp_path / "ann", "train", annotated_only=True))
    assert ann["image_id"].tolist() == ["ISIC_0000000", "ISIC_0000001"]


def test_bissoto_layout_reads_as_is_and_equals_labels_layout(tmp_path):
    (tmp_path / "b.csv").write_text(BISSOTO)
    (tmp_path / "l.csv").write_text(LABELS)
    b, lab = read_annotations(tmp_path / "b.csv"), read_annotations(tmp_path / "l.csv")
    pd.testing.assert_frame_equal(b.sort_index(axis=1), lab.sort_index(axis=1))


def test_bad_annotation_values_name_the_file(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("image_id,hair\nA,0\nB,7\n")
    with pytest.raises(ValueError, match="bad.csv"):
        read_annotations(p)
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        read_annotations(tmp_path / "missing.csv")


def test_image_key():
    assert image_key("ISIC_1.png") == "ISIC_1" and image_key("a/b/ISIC_2.JPG") == "ISIC_2"
    assert image_key("phantom_000001") == "phantom_000001"


@pytest.mark.realdata
def test_real_annotation_files(shared_data):
    lab = read_annotations(shared_data / "isic2017-256" / "labels.csv")
    assert len(lab) == 1921
    bis = read_annotations(shared_data / "bias-annotations" / "isic_bias_bissoto2020.csv")
    assert len(bis) == 2065 and "dark_corner" in bis.columns
    common = lab.index.intersection(bis.index)
    assert len(common) > 1000
    cols = ["dark_corner", "hair", "ruler", "ink"]
    agree = (lab.loc[common, cols] == bis.loc[common, cols]).to_numpy().mean()
    assert agree > 0.95  # the same annotations, two layouts


def test_metrics_equal_sklearn():
    g = np.random.default_rng(0)
    y = g.integers(0, 2, 200)
    s = y * 0.5 + g.random(200)
    pred = pd.DataFrame({"hair": (s > 0.8).astype(int), "hair_score": s}, index=[f"i{k}" for k in range(200)])
    truth = pd.DataFrame({"hair": y}, index=pred.index)
    m = evaluate(pred, truth)["hair"]
    assert m["precision"] == pytest.approx(precision_score(y, s > 0.8))
    assert m["recall"] == pytest.approx(recall_score(y, s > 0.8))
    assert m["f1"] == pytest.approx(f1_score(y, s > 0.8))
    assert m["auc"] == pytest.approx(roc_auc_score(y, s))
    assert (m["n_pos"], m["n"]) == (int(y.sum()), 200)


def test_best_threshold_maximises_f1():
    g = np.random.default_rng(1)
    y = g.integers(0, 2, 300)
    s = y + g.normal(0, 0.6, 300)
    t, f = best_threshold(y, s)
    assert f == pytest.approx(f1_score(y, s >= t))
    grid = np.quantile(s, np.linspace(0.01, 0.99, 99))
    assert f >= max(f1_score(y, s >= q) for q in grid) - 1e-9


def test_eval_command_both_layouts(tmp_path):
    from typer.testing import CliRunner

    from dermsynth.cli.main import app

    (tmp_path / "b.csv").write_text(BISSOTO)
    (tmp_path / "l.csv").write_text(LABELS)
    d = tmp_path / "ds"
    man = pd.DataFrame(
        {
            "image_id": ["ISIC_0000000", "ISIC_0000001", "ISIC_0000003"],
            "file": ["a.png", "b.png", "c.png"],
            "label": [0, 0, 0],
            "hair": [0, 1, 0],
            "hair_score": [0.1, 0.9, 0.4],
            "dark_corner": [0, 1, 0],
            "dark_corner_score": [0.0, 0.8, 0.1],
        }
    )
    write_manifest(man, d)
    outs = []
    for truth in ("b.csv", "l.csv"):
        js = tmp_path / f"{truth}.json"
        r = CliRunner().invoke(
            app, ["bias", "eval", str(d), "--truth", str(tmp_path / truth), "--json", str(js)]
        )
        assert r.exit_code == 0, r.output
        outs.append(json.loads(js.read_text()))
    assert outs[0] == outs[1]
    assert set(outs[0]) == {"dark_corner", "hair"}
    assert outs[0]["hair"] == {
        "precision": 1.0,
        "recall": 0.5,
        "f1": pytest.approx(2 / 3),
        "auc": 1.0,
        "n_pos": 2,
        "n": 3,
    }
    assert evaluate_dataset(d, tmp_path / "l.csv")["dark_corner"]["f1"] == 1.0
