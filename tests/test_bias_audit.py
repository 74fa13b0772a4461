"""``bias audit``: columns written into the manifest, summary, figures, resumption; learned model path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dermsynth.bias.audit import Method, audit_dataset, parse_method
from dermsynth.bias.registry import THRESHOLDS, scores
from dermsynth.core.io import write_png
from dermsynth.core.manifest import ARTIFACTS, read_manifest, write_manifest
from test_bias_synth import skin, with_frame, with_hair


def make_set(d, n=8):
    """A manifest dataset: even images framed, every third hairy; ground truth in artifact columns."""
    rows = []
    for i in range(n):
        img = skin(128, i)
        frame, hair = i % 2 == 0, i % 3 == 0
        img = with_frame(img) if frame else img
        img = with_hair(img, seed=i) if hair else img
        write_png(d / "images" / f"im{i}.png", img)
        rows.append(
            {
                "image_id": f"im{i}",
                "file": f"images/im{i}.png",
                "label": int(frame),
                "class_name": ["not_melanoma", "melanoma"][int(frame)],
                "dark_corner": int(frame),
                "hair": int(hair),
            }
        )
    write_manifest(pd.DataFrame(rows), d)
    return d


def test_parse_method():
    assert parse_method("heuristic") == Method("heuristic")
    assert parse_method("model:/x/m").model.name == "m"
    assert parse_method("best", model="/x/m").kind == "best"
    # without a model, best uses the shipped artifact model; with no registry, the heuristics
    assert parse_method("best").model == Path("isic2017-artifacts")
    with pytest.raises(ValueError):
        parse_method("model")
    with pytest.raises(ValueError):
        parse_method("magic")


def test_audit_writes_columns_summary_and_figures(tmp_path):
    d = make_set(tmp_path / "ds")
    summary = audit_dataset(d, "heuristic")
    df = read_manifest(d)
    for a in ARTIFACTS:
        assert {a, f"{a}_score"} <= set(df.columns)
        assert set(df[a].dropna().unique()) <= {0, 1}
    # the annotations are kept, not overwritten
    assert (df["dark_corner_annotated"] == df["image_id"].str[2:].astype(int).mod(2).eq(0).astype(int)).all()
    assert (df["dark_corner"] == df["dark_corner_annotated"]).all()
    # the columns are the detectors' own answers
    from dermsynth.core.io import read_rgb

    s = scores(read_rgb(d / "images/im3.png"))
    assert df.loc[3, "hair_score"] == pytest.approx(s["hair"], abs=1e-5)
    assert df.loc[3, "hair"] == int(s["hair"] >= THRESHOLDS["hair"])
    on_disk = json.loads((d / "audit_summary.json").read_text())
    assert on_disk["artifacts"]["dark_corner"]["prevalence_by_class"] == {
        "melanoma": 1.0,
        "not_melanoma": 0.0,
    }
    assert summary["n_images"] == 8 and summary["n_errors"] == 0
    assert (d / "audit" / "prevalence.png").stat().st_size > 0
    assert (d / "audit" / "examples_dark_corner.png").is_file()
    assert not (d / "audit" / "scores.partial.csv").exists()
    # a second audit keeps the original annotations
    audit_dataset(d, "heuristic", figures=False)
    assert (read_manifest(d)["dark_corner_annotated"] == df["dark_corner_annotated"]).all()


def test_audit_survives_a_bad_image_and_resumes(tmp_path):
    d = make_set(tmp_path / "ds", n=4)
    (d / "images" / "im1.png").write_bytes(b"garbage")
    s = audit_dataset(d, "heuristic", figures=False)
    assert s["n_errors"] == 1 and "im1.png" in s["errors"][0]
    df = read_manifest(d)
    assert df["hair"].isna().sum() == 1 and df["hair"].notna().sum() == 3


def test_resume_uses_checkpointed_scores(tmp_path, monkeypatch):
    import dermsynth.bias.audit as audit_mod

    d = make_set(tmp_path / "ds", n=4)
    audit_dataset(d, "heuristic", figures=False)
    first = read_manifest(d)
    part = first[["image_id"]].copy()
    for a in ARTIFACTS:
        part[f"{a}_heuristic"] = 0.123
    part["method"] = "heuristic"
    part.to_csv(d / "audit" / "scores.partial.csv", index=False)
    calls = []
    monkeypatch.setattr(audit_mod, "_score_chunk", lambda *a, **k: calls.append(1) or ([], []))
    audit_dataset(d, "heuristic", figures=False)
    assert calls == []  # nothing rescored: every image was in the checkpoint
    assert np.allclose(read_manifest(d)["hair_score"], 0.123)


def test_cli_audit(tmp_path):
    from typer.testing import CliRunner

    from dermsynth.cli.main import app

    d = make_set(tmp_path / "ds", n=4)
    r = CliRunner().invoke(app, ["bias", "audit", str(d), "--method", "heuristic", "--no-figures"])
    assert r.exit_code == 0, r.output
    assert "dark_corner_score" in read_manifest(d).columns
    r = CliRunner().invoke(app, ["bias", "audit", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "manifest" in r.output


def test_best_without_a_registry_is_the_heuristic(tmp_path, monkeypatch):
    monkeypatch.setenv("DERMSYNTH_MODELS_DIR", str(tmp_path / "empty"))
    assert parse_method("best").model is None
