"""What the report presents as a result must be one (issue 26.5): the audit against a set's artifact
labels is an evaluation only when the labels are not that audit's own predictions."""

from __future__ import annotations

import pandas as pd
import pytest

from dermsynth.core.io import atomic_write_json
from dermsynth.core.manifest import write_annotation_source
from dermsynth.report.stages.data import audit_truth_item, audit_vs_truth

SOURCE = "predictions of the shipped isic2017-artifacts audit (method best)"


@pytest.fixture
def truth():
    df = pd.DataFrame({"dark_corner": [1, 0, 1, 0], "dark_corner_annotated": [1, 0, 0, 1]})
    return audit_vs_truth(df, ["dark_corner"])


def test_hand_annotations_are_an_evaluation(tmp_path, truth):
    item = audit_truth_item(tmp_path, truth, "data")
    assert "origin is not recorded" in item.caption and "precision, recall and F1" in item.caption
    assert list(item.df["F1"]) == [pytest.approx(0.5)]
    write_annotation_source(tmp_path, "hand annotations of Bissoto et al. 2019")
    assert "Bissoto" in audit_truth_item(tmp_path, truth, "data").caption


def test_the_audit_against_its_own_predictions_is_said_and_not_scored(tmp_path, truth):
    write_annotation_source(tmp_path, SOURCE, "best:isic2017-artifacts")
    atomic_write_json(
        tmp_path / "audit_summary.json", {"method": "best:/site/models/weights/isic2017-artifacts"}
    )
    item = audit_truth_item(tmp_path, truth, "data")
    assert isinstance(item, str) and "by construction" in item and "no precision, recall or F1" in item
    assert SOURCE in item


def test_another_audit_against_predicted_labels_is_agreement(tmp_path, truth):
    write_annotation_source(tmp_path, SOURCE, "best:isic2017-artifacts")
    atomic_write_json(tmp_path / "audit_summary.json", {"method": "heuristic"})
    item = audit_truth_item(tmp_path, truth, "data")
    assert (
        item.caption.startswith("Agreement of this audit (heuristic)") and "not an evaluation" in item.caption
    )
    assert "precision" not in item.df.columns and "F1 agreement" in item.df.columns
