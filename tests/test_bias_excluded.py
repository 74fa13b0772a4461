"""A detector below its F1 goal leaves the default audit and the report (issue 27.4): ``best`` with an audit
model whose ``model.json`` lists it as ``excluded`` decides every other artifact, removes an earlier audit's
columns and example figure of it, and says why in ``audit_summary.json``; the report says it too."""

from __future__ import annotations

import pytest

from dermsynth.bias.columns import annotated_column, audited_artifacts, read_audit_summary, score_column
from dermsynth.core.manifest import ARTIFACTS, read_manifest

RATES = {"dark_corner": (0.2, 0.8), "hair": 0.5, "ruler": 0.0, "ink": 0.0, "gel_bubble": 0.5}
WHY = "its heuristic detector reached F1 0.596 < 0.6, cross-validated on the 267 held-out annotated images"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from dermsynth.bias.model import build_model, save_model

    arts = ["dark_corner", "hair", "gel_bubble"]
    model, _ = build_model("tf_efficientnet_lite0", len(arts), None)
    meta = {
        "model": "tf_efficientnet_lite0",
        "artifacts": arts,
        "image_size": 32,
        "tta": False,
        "thresholds": dict.fromkeys(arts, 0.5),
        "choice": dict.fromkeys(arts, "heuristic"),
        "heuristic": {a: {"threshold": 0.3, "f1": 0.7} for a in arts},
        "excluded": {"gel_bubble": WHY},
    }
    return save_model(model, meta, tmp_path_factory.mktemp("m") / "model").parent


def test_best_leaves_out_the_excluded_detector_and_says_why(model_dir, tmp_path):
    from dermsynth.bias.audit import audit_dataset, decisions, parse_method
    from dermsynth.bias.model import load_model
    from dermsynth.data.phantom import make_phantom_dataset

    d = make_phantom_dataset(tmp_path / "data", 12, 64, seed=2, rates=RATES)
    truth = read_manifest(d)
    first = audit_dataset(d, "heuristic", figures=True)  # an earlier audit that ran every detector
    assert "gel_bubble" in first["artifacts"] and first["excluded"] == {}
    stale = d / "audit" / "examples_gel_bubble.png"  # its example figure (drawn when it flagged any)
    stale.touch()

    summary = audit_dataset(d, f"best:{model_dir}", figures=False)  # stale examples go even without figures
    df = read_manifest(d)
    assert audited_artifacts(df) == [a for a in ARTIFACTS if a != "gel_bubble"]
    assert "gel_bubble" not in summary["artifacts"] and summary["excluded"] == {"gel_bubble": WHY}
    assert read_audit_summary(d).excluded == {"gel_bubble": WHY}
    # the earlier audit's gel columns are gone; the phantom's annotation is back under its own name
    assert score_column("gel_bubble") not in df.columns and annotated_column("gel_bubble") not in df.columns
    assert list(df["gel_bubble"]) == list(truth["gel_bubble"])
    assert not stale.exists()
    # explicit methods run every detector
    _, meta = load_model(model_dir)
    assert "gel_bubble" in decisions(parse_method(f"model:{model_dir}"), meta)
    assert "gel_bubble" in decisions(parse_method("heuristic"), None)
    assert "gel_bubble" not in decisions(parse_method(f"best:{model_dir}"), meta)


def test_the_report_says_which_detector_was_left_out(model_dir, tmp_path):
    from dermsynth.bias.audit import audit_dataset
    from dermsynth.data.phantom import make_phantom_dataset
    from dermsynth.report.context import Ctx
    from dermsynth.report.discover import Found
    from dermsynth.report.stages.data import build

    d = make_phantom_dataset(tmp_path / "data", 8, 64, seed=4, rates=RATES)
    audit_dataset(d, f"best:{model_dir}", figures=False)
    block = build(Ctx(d.parent, Found(datasets=[d]), tmp_path / "fig")).section.blocks[0]
    assert "Not audited: gel bubbles (" + WHY + ")." in " ".join(block.text)
    # the prevalence shown is of the audited artifacts; the gel column left is the phantom's annotation
    table = next(
        t
        for t in block.items
        if getattr(t, "caption", "") == "Artifact prevalence per class (share of images)"
    )
    assert "hair" in set(table.df["artifact"])


def test_a_survey_exclusion_of_a_left_out_detector_needs_the_manifest(model_dir):
    from dermsynth.survey.audit import ExclusionAudit

    audit = ExclusionAudit(("gel_bubble", "hair"), method=f"best:{model_dir}")
    assert audit.covers("hair") and not audit.covers("gel_bubble")
