"""The door between the classifier experiment and the report (issue 26.1): the classify stage writes
table.csv, shortcut.csv and results.json through classify/results.py, and the report and its discovery
read them through it. Here the stage's own summary (``run.summarise_run``: predictions -> table with
CIs and DeLong p-values) runs on hand-made predictions of three setups, without training a model; what
the report says must be what the table holds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import dermsynth.report.fmt as fmt
from dermsynth.classify import (
    REQUIRED_COLUMNS,
    RESULTS_JSON,
    SHORTCUT_CSV,
    TABLE_COLUMNS,
    TABLE_CSV,
    ResultsError,
    has_table,
    read_results,
    write_results,
)

N_VAL, N_TEST = 30, 60


def _mann_whitney_auc(y: np.ndarray, s: np.ndarray) -> float:
    pos, neg = s[y == 1], s[y == 0]
    return float(((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])).mean())


def _predictions(rng, noise: float) -> pd.DataFrame:
    """``predictions.csv`` as run_setup writes it: the same val / test images for every setup."""
    n = N_VAL + N_TEST
    y = np.tile([0, 0, 1], n // 3)
    score = 1 / (1 + np.exp(-(2 * y - 1 + noise * rng.standard_normal(n))))
    split = ["val"] * N_VAL + ["test"] * N_TEST
    ids = [f"img{i:03d}" for i in range(n)]
    return pd.DataFrame({"image_id": ids, "label": y, "score": score, "split": split, "weights": "none"})


SHORTCUT = {  # the shape of classify.shortcut.shortcut_summary's answer
    "with_frame": {"n": 20, "n_melanoma": 8, "AUC": 0.7, "mean_score": 0.6},
    "without_frame": {"n": 40, "n_melanoma": 12, "AUC": 0.8, "mean_score": 0.3},
    "score_change_add": 0.25,
    "score_change_remove": -0.05,
    "AUC_original": 0.78,
    "AUC_flipped": 0.7,
    "auc_change": -0.08,
    "score_tol": 0.1,
    "auc_tol": 0.05,
    "flagged": True,
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from dermsynth.classify.experiment import experiment_from_dict
    from dermsynth.classify.run import summarise_run

    out = tmp_path_factory.mktemp("runs") / "classify"
    exp = experiment_from_dict(
        {
            "name": "toy",
            "data": {"real": "real", "synthetic": "synth"},
            "eval": {"n_bootstrap": 200},
            "setups": ["real", "synthetic", {"name": "mixed", "fraction_real": 0.5}],
        }
    )
    rng = np.random.default_rng(3)
    for name, noise in (("real", 0.8), ("synthetic", 3.0), ("mixed", 0.9)):
        sd = out / "setups" / name
        sd.mkdir(parents=True)
        _predictions(rng, noise).to_csv(sd / "predictions.csv", index=False)
        (sd / "done.json").write_text(json.dumps({"key": "k", "epochs": 3, "best_epoch": 2, "n_train": 100}))
    (out / "setups" / "real" / "shortcut.json").write_text(json.dumps(SHORTCUT))
    table = summarise_run(out, exp)
    return out, table


def test_the_stage_writes_the_contract_layout(run_dir):
    out, table = run_dir
    res = read_results(out)
    assert list(res.table.columns[: len(TABLE_COLUMNS)]) == list(TABLE_COLUMNS)
    assert [s.setup for s in res.setups] == ["real", "synthetic", "mixed"]
    assert res.experiment == "toy" and res.roc is not None and res.roc.name == "roc.png"
    assert res.training_record("synthetic")["best_epoch"] == 2 and res.training_record("nope") == {}
    for name in ("real", "synthetic", "mixed"):
        p = pd.read_csv(out / "setups" / name / "predictions.csv")
        test = p[p.split == "test"]
        s = res.setup(name)
        assert s.auc == pytest.approx(_mann_whitney_auc(test.label.to_numpy(), test.score.to_numpy()))
        assert s.auc_ci_low <= s.auc <= s.auc_ci_high
        assert s.n_test == N_TEST and s.n_test_melanoma == N_TEST // 3
    assert res.real.p_vs_real is None and 0 <= res.setup("synthetic").p_vs_real < 0.05
    assert res.setup("synthetic").auc < res.real.auc
    # the shortcut test of the one tested setup: a table column and a shortcut.csv row
    assert res.shortcut["setup"].tolist() == ["real"] and res.shortcut["with_frame_AUC"].tolist() == [0.7]
    assert res.real.row["shortcut_score_change_add"] == 0.25
    assert pd.isna(res.setup("mixed").row["shortcut_flagged"])
    # results.json holds the table as written, strict JSON
    doc = json.loads((out / RESULTS_JSON).read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert [r["setup"] for r in doc["table"]] == ["real", "synthetic", "mixed"]
    assert doc["table"][0]["DeLong_p_vs_real"] is None
    assert doc["table"][1]["AUC"] == pytest.approx(res.setup("synthetic").auc)


def test_the_report_says_what_the_table_holds(run_dir, tmp_path):
    from dermsynth.report.context import Ctx
    from dermsynth.report.discover import discover
    from dermsynth.report.stages.classify import build, classify_block

    out, _ = run_dir
    found = discover(out.parent)
    assert found.classify == [out]
    res = read_results(out)
    real, syn, mixed = res.real, res.setup("synthetic"), res.setup("mixed")
    b, _ = classify_block(Ctx(out.parent, found, tmp_path), out)
    n = f"on {N_TEST} real test images ({N_TEST // 3} melanoma)"
    real_ci = fmt.ci(real.auc_ci_low, real.auc_ci_high)
    assert f"real training: AUC {fmt.rate(real.auc)} {real_ci} {n}." in b.text
    syn_ci = fmt.ci(syn.auc_ci_low, syn.auc_ci_high)
    assert (
        f"synthetic training: AUC {fmt.rate(syn.auc)} {syn_ci}, below real {fmt.rate(real.auc)}, "
        f"{fmt.p_eq(syn.p_vs_real)}." in b.text
    )
    mixed_sentence = next(s for s in b.text if s.startswith("mixed training"))
    assert f"AUC {fmt.rate(mixed.auc)}" in mixed_sentence and fmt.p_eq(mixed.p_vs_real) in mixed_sentence
    rep = build(Ctx(out.parent, found, tmp_path))
    (title, finding) = rep.findings[0]
    assert title == "Classifiers" and f"synthetic training: AUC {fmt.rate(syn.auc)}" in finding
    assert "Frame shortcut test" in " ".join(getattr(i, "caption", "") for i in b.items)


def test_a_table_without_a_required_column_is_refused(run_dir, tmp_path):
    from dermsynth.report.context import Ctx
    from dermsynth.report.discover import Found
    from dermsynth.report.stages.classify import classify_block

    out, _ = run_dir
    t = pd.read_csv(out / TABLE_CSV).drop(columns=["AUC_CI_high"])
    bad = tmp_path / "bad"
    bad.mkdir()
    t.to_csv(bad / TABLE_CSV, index=False)
    assert has_table(bad) and "AUC_CI_high" in REQUIRED_COLUMNS
    with pytest.raises(ResultsError, match=r"bad/table\.csv: missing column\(s\) \['AUC_CI_high'\]"):
        read_results(bad)
    b, res = classify_block(Ctx(tmp_path, Found(classify=[bad]), tmp_path / "fig"), bad)
    assert res is None and b.text == [
        "bad/table.csv could not be read as a classifier table: missing column(s) ['AUC_CI_high']."
    ]
    with pytest.raises(ValueError, match=r"table\.csv: a classifier table needs the column\(s\) \['AUC'\]"):
        write_results(tmp_path / "w", pd.read_csv(out / TABLE_CSV).drop(columns=["AUC"]), "x", {})
    (bad / SHORTCUT_CSV).write_text("name,flagged\nreal,True\n")
    t.assign(AUC_CI_high=0.9).to_csv(bad / TABLE_CSV, index=False)
    with pytest.raises(ResultsError, match=r"bad/shortcut\.csv: missing column\(s\) \['setup'\]"):
        read_results(bad)
