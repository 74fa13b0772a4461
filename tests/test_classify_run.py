"""A tiny experiment end to end (toy blob data, 32 px, tiny CNN): table, ROC, resume, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

from dermsynth.classify.toydata import make_blob_dataset  # noqa: E402
from dermsynth.cli.classify import app  # noqa: E402

EXPERIMENT = {
    "name": "toy",
    "preset": "tiny",
    "seed": 0,
    "data": {"real": "real", "synthetic": "synth"},
    "sizes": {"real_per_class": 60, "synthetic_per_class": 60, "val_total": 40},
    "train": {"epochs": 2},
    "eval": {"n_bootstrap": 200},
    "setups": ["real", "synthetic", "synthetic-noframes", {"name": "mixed", "fraction_real": 0.4}],
}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    d = tmp_path_factory.mktemp("toyexp")
    make_blob_dataset(d / "real", 200, 32, seed=0, separation=0.6)
    make_blob_dataset(
        d / "synth", 160, 32, seed=1, separation=0.6, source="synthetic", splits=(1.0, 0.0, 0.0)
    )
    (d / "exp.yaml").write_text(yaml.safe_dump(EXPERIMENT))
    return d


def _run(args):
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    return res


@pytest.mark.slow
def test_experiment_end_to_end_and_resume(toy):
    out = toy / "run"
    _run(["run", str(toy / "exp.yaml"), "--out", str(out), "--device", "cpu"])
    table = pd.read_csv(out / "table.csv")
    assert table["setup"].tolist() == ["real", "synthetic", "synthetic-noframes", "mixed"]
    for c in [
        "TP",
        "FP",
        "FN",
        "TN",
        "ACC",
        "TPR",
        "TNR",
        "AUC",
        "AUC_CI_low",
        "AUC_CI_high",
        "DeLong_p_vs_real",
        "TPR_at_target",
        "TNR_at_target",
        "threshold",
        "weights",
        "shortcut_score_change_add",
    ]:
        assert c in table.columns, c
    test = pd.read_csv(out / "data" / "test.csv")
    assert (table[["TP", "FP", "FN", "TN"]].sum(axis=1) == len(test)).all()
    assert (table["weights"] == "random-init").all()
    assert np.isnan(table.loc[0, "DeLong_p_vs_real"]) and table["DeLong_p_vs_real"][1:].between(0, 1).all()
    assert (table["AUC_CI_low"] <= table["AUC"]).all() and (table["AUC"] <= table["AUC_CI_high"]).all()
    assert (out / "roc.png").stat().st_size > 5000
    sc = pd.read_csv(out / "shortcut.csv")
    assert sc["setup"].tolist() == table["setup"].tolist() and "with_frame_AUC" in sc.columns
    res = json.loads((out / "results.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert set(res["setups"]) == set(table["setup"])
    # the test set is the real test split, never the validation split
    preds = pd.read_csv(out / "setups" / "real" / "predictions.csv", dtype={"image_id": str})
    assert set(preds[preds.split == "test"].image_id) == set(test.image_id.astype(str))
    assert not set(preds[preds.split == "val"].image_id) & set(test.image_id.astype(str))
    # mixed trains on 40% real / 60% synthetic
    mixed = pd.read_csv(out / "setups" / "mixed" / "train_set.csv")
    frac = (mixed["data"] == "real").mean()
    assert 0.3 < frac < 0.5
    # noframes trains on no framed image
    nf = pd.read_csv(out / "setups" / "synthetic-noframes" / "train_set.csv")
    synth = pd.read_csv(toy / "synth" / "manifest.csv")
    assert not set(nf.image_id) & set(synth[synth.dark_corner == 1].image_id)

    # rerun: every setup is skipped, nothing retrained
    mtimes = {p: p.stat().st_mtime_ns for p in out.glob("setups/*/state.pt")}
    res = _run(["run", str(toy / "exp.yaml"), "--out", str(out), "--device", "cpu"])
    assert res.output.count("done already, skipped") == 4
    assert mtimes == {p: p.stat().st_mtime_ns for p in out.glob("setups/*/state.pt")}

    # an interrupted setup (state written, predictions not) resumes from its state without retraining
    sd = out / "setups" / "synthetic"
    before = pd.read_csv(sd / "predictions.csv")
    lines = (sd / "stats.jsonl").read_text()
    (sd / "done.json").unlink()
    (sd / "predictions.csv").unlink()
    res = _run(["run", str(toy / "exp.yaml"), "--out", str(out), "--device", "cpu", "--setup", "synthetic"])
    assert "resuming after epoch 2" in res.output
    assert (sd / "stats.jsonl").read_text() == lines
    pd.testing.assert_frame_equal(before, pd.read_csv(sd / "predictions.csv"))


def test_changed_config_is_not_resumed_silently(toy):
    from dermsynth.classify.experiment import experiment_from_dict
    from dermsynth.classify.run import run_experiment

    d = dict(EXPERIMENT, setups=["real"], train={"epochs": 1})
    run_experiment(experiment_from_dict(d, toy), toy / "run2", "cpu", log=lambda m: None)
    (toy / "run2" / "setups" / "real" / "done.json").unlink()
    d2 = dict(d, train={"epochs": 1, "lr": 0.01})
    with pytest.raises(ValueError, match="different configuration"):
        run_experiment(experiment_from_dict(d2, toy), toy / "run2", "cpu", log=lambda m: None)


def test_metrics_command_matches_library(toy, tmp_path):
    from dermsynth.classify.metrics import evaluate

    g = np.random.default_rng(0)
    y = np.r_[np.zeros(50), np.ones(30)].astype(int)
    df = pd.DataFrame(
        {
            "image_id": [str(i) for i in range(80)],
            "label": y,
            "score": g.normal(0, 1, 80) + y,
            "split": ["val"] * 40 + ["test"] * 40,
        }
    )
    df.loc[[0, 79], "label"] = [1, 0]
    df.loc[40:, "label"] = np.r_[np.zeros(25), np.ones(15)].astype(int)
    df.to_csv(tmp_path / "p.csv", index=False)
    _run(["metrics", str(tmp_path / "p.csv"), "--json", str(tmp_path / "m.json"), "--n-bootstrap", "100"])
    got = json.loads((tmp_path / "m.json").read_text())
    v, t = df[df.split == "val"], df[df.split == "test"]
    ref = evaluate(t.label, t.score, v.label, v.score, n_boot=100)
    assert {k: got[k] for k in ("TP", "FP", "FN", "TN", "AUC", "threshold")} == {
        k: ref[k] for k in ("TP", "FP", "FN", "TN", "AUC", "threshold")
    }
    res = CliRunner().invoke(app, ["metrics", str(tmp_path / "missing.csv")])
    assert res.exit_code == 2 and "missing.csv" in res.output


def test_frozen_backbone_trains_only_the_head(toy, tmp_path):
    import torch

    from dermsynth.classify.data import load_dataset
    from dermsynth.classify.experiment import ClassifierTrainConfig, ModelConfig
    from dermsynth.classify.models import build_classifier
    from dermsynth.classify.train import train_setup

    df = load_dataset(toy / "real")
    tr, va = df[df.split == "train"], df[df.split == "val"]
    cfg = ClassifierTrainConfig(epochs=1, batch_size=16, lr=0.05, workers=0, freeze_backbone=True)
    torch.manual_seed(0)
    start = build_classifier("tiny-cnn", "none").model.state_dict()
    clf, st = train_setup(
        tr,
        va,
        ModelConfig("tiny-cnn", "none", 32),
        cfg,
        tmp_path,
        0,
        torch.device("cpu"),
        "k",
        log=lambda m: None,
    )
    end = clf.model.state_dict()
    changed = {k for k in start if not torch.equal(start[k], end[k])}
    assert changed == {"classifier.weight", "classifier.bias"} and st.epoch == 1


@pytest.mark.gpu
def test_tiny_experiment_on_cuda_with_amp(toy, tmp_path):
    import torch

    from dermsynth.classify.experiment import experiment_from_dict
    from dermsynth.classify.run import run_experiment

    exp = experiment_from_dict(dict(EXPERIMENT, setups=["real"], train={"epochs": 2, "amp": True}), toy)
    table = run_experiment(exp, tmp_path / "run", "cuda", log=lambda m: None)
    assert torch.cuda.is_available() and 0.0 <= table.loc[0, "AUC"] <= 1.0
    cpu = run_experiment(exp, tmp_path / "run-cpu", "cpu", log=lambda m: None)
    assert abs(table.loc[0, "AUC"] - cpu.loc[0, "AUC"]) < 0.2  # same data, same seed, other device


def test_pretrained_classifier_starts_near_chance():
    import torch

    from dermsynth.classify.models import build_classifier

    clf = build_classifier("tf_efficientnet_lite0", "imagenet")
    assert clf.weights.weights.startswith("imagenet:")
    x = torch.randn(4, 3, 64, 64)
    with torch.no_grad():
        logit = clf.model.eval()(x)
    assert logit.shape == (4, 1) and logit.abs().max() < 2.0  # the one-logit head starts small
