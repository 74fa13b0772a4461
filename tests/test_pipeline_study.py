"""The whole study end to end on tiny phantom data: every stage runs, the report renders, reruns skip."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
import yaml

from dermsynth.pipeline.config import load_study_config
from dermsynth.pipeline.runner import run_pipeline
from dermsynth.pipeline.stages import STAGES

MINI = {
    "preset": "demo-phantom",
    "data": {"phantom": {"n": 120, "size": 32}},
    "gan": {"kimg": 0.05, "tick": 0.025, "snap": 1, "batch": 8},
    "generate": {"per_class": 24},
    "metrics": {
        "metrics": ["fid48_effnetlite", "kid48_effnetlite", "pr483_effnetlite", "memo48_effnetlite"],
        "feature_size": 32,
    },
    "edit": {"evaluate": {"indices": "0-1", "num": 8}, "edited_per_class": 6},
    "classify": {
        "experiment": {
            "sizes": {"real_per_class": 30, "synthetic_per_class": 24, "val_total": 16},
            "train": {"epochs": 1},
            "eval": {"n_bootstrap": 20},
        }
    },
    "survey": {"build": {"n": 8, "size": 16, "pixel_leaks": "warn", "allow_small_stimuli": True}},
}


@pytest.mark.slow
def test_study_end_to_end_and_rerun(tmp_path):
    (tmp_path / "mini.yaml").write_text(yaml.safe_dump(MINI))
    cfg = load_study_config(tmp_path / "mini.yaml")
    out = tmp_path / "out"
    logs: list[str] = []
    res = run_pipeline(cfg, out, STAGES, log=logs.append)
    ran = {k for k, v in res.items() if v["status"] == "ran"}
    assert ran == {"data", "audit", "gan", "generate", "metrics", "edit", "classify", "survey", "report"}
    # the GAN saw the train split only
    gan_data = pd.read_csv(out / "gan" / "train-data" / "manifest.csv")
    assert set(gan_data["split"]) == {"train"}
    data = pd.read_csv(out / "data" / "manifest.csv")
    assert len(gan_data) == int((data["split"] == "train").sum())
    table = pd.read_csv(out / "classify" / "table.csv")
    assert {"real", "synthetic", "synthetic-noframes", "mixed"} <= set(table["setup"])
    assert table["AUC"].between(0, 1).all()
    # the generated images were audited like the real ones, and the report sets them side by side
    gen = pd.read_csv(out / "generate" / "manifest.csv")
    assert {"dark_corner", "hair", "ruler"} <= set(gen.columns) and len(gen) == 48
    html = (out / "report" / "report.html").read_text()
    assert (
        "Does the generator keep the data&#x27;s biases?" in html
        or "Does the generator keep the data's biases?" in html
    )
    for sec in ("data", "gan", "metrics", "edit", "classify", "survey", "datacards"):
        assert f"<section id='{sec}'>" in html
    assert len(re.findall(r'src="data:image/png;base64,', html)) >= 8
    assert json.loads((out / "metrics" / "metrics.json").read_text())["results"]["fid48_effnetlite"] > 0
    # unchanged: everything skipped
    res = run_pipeline(cfg, out, STAGES, log=logs.append)
    assert {v["status"] for v in res.values()} <= {"skipped", "disabled"}
    # a classifier change redoes the classifier and what reads it, nothing upstream
    cfg["classify"]["experiment"]["eval"]["n_bootstrap"] = 30
    res = run_pipeline(cfg, out, STAGES, log=logs.append)
    assert {k for k, v in res.items() if v["status"] == "ran"} == {"classify", "survey", "report"}


def test_presets_resolve_and_unknown_preset(tmp_path):
    for name in ("demo-cpu", "demo-phantom", "gpu-quick", "thesis-256"):
        cfg = load_study_config(preset_name=name)
        assert {"data", "gan", "classify"} <= set(cfg)
    assert load_study_config(preset_name="demo-phantom")["gan"]["cfg"] == "tiny"
    assert load_study_config(preset_name="thesis-256")["gan"]["cfg"] == "auto"
    with pytest.raises(ValueError, match="unknown preset"):
        load_study_config(preset_name="nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(ValueError, match="bad.yaml"):
        load_study_config(bad)


def test_demo_cpu_survey_stage_builds_its_32px_study_from_the_64px_generator(tmp_path):
    """`make demo` ends with a reader study from the 64 px generator: 32 px stimuli, below what a
    dermatologist can judge. The build refuses those unless forced; the demo-cpu preset forces it
    explicitly, so its survey stage (run alone here, on 64 px stand-ins) still builds the study."""
    from dermsynth.pipeline.stages import survey_configs, survey_run
    from survey_helpers import make_dataset, tiny_generator

    sec = load_study_config(preset_name="demo-cpu")["survey"]
    sec = {**sec, "build": {**sec["build"], "n": 8, "examples_per_class": 1}}
    real = make_dataset(tmp_path / "data", "real", 8, seed=1, side=64)
    tiny_generator(tmp_path / "gan" / "run", 64)  # a 64 px generator, as the shipped one
    out = tmp_path / "survey"
    out.mkdir()
    inputs = {"data": real, "gan": tmp_path / "gan", "classify": tmp_path / "classify"}
    c = survey_configs(sec, {"seed": 0}, out, inputs)
    assert c["build"].size == 32 and c["build"].allow_small_stimuli
    survey_run(c, out, inputs, lambda s: None)
    assert len(list((out / "study" / "images").glob("*.png"))) == 8
    stim = pd.read_csv(out / "study" / "stimuli.csv")
    seeds = stim.loc[stim.source == "synthetic", "seed"]
    assert seeds.notna().all() and seeds.min() > 1000  # secret seeds, kept with the truth (issue 25.3)
    assert json.loads((out / "study" / "study.json").read_text())["synthetic_seeds"] == "secret"
    forced_off = {**sec, "build": {**sec["build"], "allow_small_stimuli": False}}
    out2 = tmp_path / "survey2"
    out2.mkdir()
    with pytest.raises(ValueError, match="cannot be judged by a dermatologist"):
        survey_run(survey_configs(forced_off, {"seed": 0}, out2, inputs), out2, inputs, lambda s: None)
