"""The door between the bias audit and its readers (issue 26.1): the audit writes its manifest columns and
audit_summary.json through bias/columns.py, and the report, the data filter and the clean stage read them
through it. Here the audit itself (heuristic) runs on a tiny phantom set whose plain artifact columns are
the generator's ground truth; what the report says must be what the columns hold."""

from __future__ import annotations

import pytest

import dermsynth.report.fmt as fmt
from dermsynth.bias.columns import (
    SUMMARY_FILE,
    annotated_column,
    annotation_flags,
    artifact_flags,
    audit_columns,
    audited_artifacts,
    read_audit_summary,
    score_column,
)
from dermsynth.core.manifest import ARTIFACTS, read_manifest

RATES = {"dark_corner": (0.2, 0.8), "hair": 0.5, "ruler": 0.0, "ink": 0.0, "gel_bubble": 0.0}


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    from dermsynth.bias.audit import audit_dataset
    from dermsynth.data.phantom import make_phantom_dataset

    d = make_phantom_dataset(tmp_path_factory.mktemp("ph") / "data", 16, 64, seed=5, rates=RATES)
    truth = read_manifest(d)
    summary = audit_dataset(d, "heuristic", figures=False)
    return d, truth, summary


def test_the_audit_writes_the_contract_columns(audited):
    d, truth, summary = audited
    df = read_manifest(d)
    assert audited_artifacts(df) == ARTIFACTS
    for a in ARTIFACTS:
        assert set(df[a].dropna().astype(int)) <= {0, 1}
        thr = summary["artifacts"][a]["threshold"]
        assert (df[a] == (df[score_column(a)] >= thr).astype(int)).all()
    # the phantom's ground truth moved aside, unchanged, and is what the annotation readers see
    for a in (a for a in ARTIFACTS if a in truth.columns):
        assert list(df[annotated_column(a)]) == list(truth[a])
    ann = annotation_flags(df)
    assert list(ann.columns) == [a for a in ARTIFACTS if a in truth.columns]
    assert (ann["dark_corner"].to_numpy() == truth["dark_corner"].to_numpy()).all()
    # flags are the audit's decisions, never the annotations
    assert (artifact_flags(df)["hair"].to_numpy() == df["hair"].astype(int).to_numpy()).all()
    assert audit_columns(df) == [c for a in ARTIFACTS for c in (a, score_column(a))]
    s = read_audit_summary(d)
    assert s.method == "heuristic" and s.artifacts == ARTIFACTS and s.path.endswith(SUMMARY_FILE)
    assert s.prevalence("dark_corner") == pytest.approx(df["dark_corner"].astype(float).mean())
    assert s.data == summary


def test_the_report_states_the_prevalence_the_columns_hold(audited, tmp_path):
    from dermsynth.report.context import Ctx
    from dermsynth.report.discover import Found
    from dermsynth.report.stages.data import build

    d, truth, summary = audited
    df = read_manifest(d)
    cls = df["class_name"]
    rep = build(Ctx(d.parent, Found(datasets=[d]), tmp_path))
    block = rep.section.blocks[0]
    table = next(
        t
        for t in block.items
        if getattr(t, "caption", "") == "Artifact prevalence per class (share of images)"
    )
    by_name = table.df.set_index("artifact")
    names = {"dark_corner": "frames (dark corners)", "hair": "hair", "ruler": "rulers", "ink": "ink marks"}
    for a, name in names.items():
        for c in ("melanoma", "not_melanoma"):
            held = df.loc[cls == c, a].astype(float).mean()  # what the column holds
            assert by_name.loc[name, fmt.class_label(c)] == fmt.pct(held)
            assert held == pytest.approx(summary["artifacts"][a]["prevalence_by_class"][c])
    # the headline sentence: the largest gap between the classes, in the columns' own numbers
    gaps = {
        a: abs(df.loc[cls == "melanoma", a].mean() - df.loc[cls == "not_melanoma", a].mean())
        for a in ARTIFACTS
    }
    top = max(gaps, key=gaps.get)
    sentence = dict(rep.findings)["Data"]
    row = {c: df.loc[cls == c, top].astype(float).mean() for c in ("melanoma", "not_melanoma")}
    hi, lo = max(row, key=row.get), min(row, key=row.get)
    assert (
        f"in {fmt.pct(row[hi])} of {fmt.class_label(hi)} vs {fmt.pct(row[lo])} of {fmt.class_label(lo)}"
        in sentence
    )
    # the phantom's ground truth is the set's annotations: the audit is scored against it, not itself
    truth_table = next(
        t for t in block.items if "against this set's annotations" in getattr(t, "caption", "")
    )
    frames = truth_table.df.set_index("artifact").loc["frames (dark corners)"]
    assert frames["annotated in"] == fmt.pct(truth["dark_corner"].mean())
    assert frames["audit flags"] == fmt.pct(df["dark_corner"].astype(float).mean())
    assert frames["n"] == len(df)


def test_the_filter_and_clean_read_the_audit_through_the_owner(audited, tmp_path):
    from dermsynth.data.filter import filter_dataset, flag_column

    d, truth, _ = audited
    df = read_manifest(d)
    assert flag_column(df, "dark_corner", "audit") == "dark_corner"
    assert flag_column(df, "dark_corner", "annotation") == annotated_column("dark_corner")
    out = filter_dataset(d, tmp_path / "noframes", ["frame"], by="annotation")
    assert len(read_manifest(out)) == int((truth["dark_corner"] == 0).sum())
    out = filter_dataset(d, tmp_path / "noframes-audit", ["frame"], by="audit")
    assert len(read_manifest(out)) == int((df["dark_corner"] == 0).sum())
