"""Reader-study analysis: thesis Table 4.3 -> 4.4, chance tests and CIs against scipy, Fleiss' kappa
against the Wikipedia worked example, tolerant parsing of typed-in csvs and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from dermsynth.survey.analyze import (
    READER_COLUMNS,
    analyze,
    cluster_bootstrap,
    pooled_t,
    rates,
)
from dermsynth.survey.kappa import count_table, fleiss_kappa
from dermsynth.survey.responses import TableError, join, read_responses, read_stimuli_table


def thesis_like(tmp_path, counts: dict[str, tuple[int, int, int, int]], backgrounds: dict[str, str]):
    """Stimuli + responses whose per-reader confusion (positive = synthetic) is exactly ``counts``."""
    n_syn = max(tp + fn for tp, fp, fn, tn in counts.values())
    n_real = max(fp + tn for tp, fp, fn, tn in counts.values())
    syn = [f"{i:016x}" for i in range(n_syn)]
    real = [f"{i + 1000:016x}" for i in range(n_real)]
    stim = pd.DataFrame(
        {
            "image_id": syn + real,
            "source": ["synthetic"] * n_syn + ["real"] * n_real,
            "label": ["melanoma", "not_melanoma"] * ((n_syn + n_real) // 2)
            + ["melanoma"] * ((n_syn + n_real) % 2),
            "origin": "x",
        }
    )
    rows = []
    for reader, (tp, fp, fn, tn) in counts.items():
        said = {i: "yes" for i in syn[:tp]} | {i: "no" for i in syn[tp : tp + fn]}
        said |= {i: "yes" for i in real[:fp]} | {i: "no" for i in real[fp : fp + tn]}
        for k, (image_id, s) in enumerate(said.items()):
            rows.append(
                {
                    "study_id": "s",
                    "reader_id": reader,
                    "background": backgrounds[reader],
                    "image_id": image_id,
                    "diagnosis": ["melanoma", "not_melanoma"][k % 2],
                    "synthetic": s,
                    "certainty": 1 + k % 5,
                    "answered_at": "2022-05-01T10:00:00Z",
                }
            )
    stim.to_csv(tmp_path / "stimuli.csv", index=False)
    pd.DataFrame(rows).to_csv(tmp_path / "responses.csv", index=False)
    return tmp_path / "responses.csv", tmp_path / "stimuli.csv"


def test_thesis_table_4_4_from_table_4_3(tmp_path):
    from dermsynth.cli.survey import app

    resp, stim = thesis_like(tmp_path, {"derm1": (70, 33, 35, 62)}, {"derm1": "Dermatologist"})
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        ["analyze", "--responses", str(resp), "--stimuli", str(stim), "--out", str(out), "--n-boot", "200"],
    )
    assert res.exit_code == 0, res.output
    readers = pd.read_csv(out / "readers.csv")
    assert list(readers.columns) == READER_COLUMNS
    r = readers.iloc[0]
    assert (r.TP, r.FP, r.FN, r.TN) == (70, 33, 35, 62)
    assert r.background == "dermatologist"
    assert [round(r[c], 2) for c in ("accuracy", "sensitivity", "specificity", "precision")] == [
        0.66,
        0.67,
        0.65,
        0.68,
    ]
    for f in (
        "fig4_11a_correct_real.png",
        "fig4_11b_correct_synthetic.png",
        "fig4_15_certainty.png",
        "fig4_16_diagnosis_confusion.png",
        "summary.json",
        "readers.md",
        "images.csv",
        "diagnosis_confusion.csv",
    ):
        assert (out / f).stat().st_size > 0, f


def test_reader_tests_equal_scipy_and_pooled_interval(tmp_path):
    counts = {"a": (70, 33, 35, 62), "b": (50, 50, 55, 45), "c": (90, 10, 15, 85)}
    bgs = {"a": "dermatologist", "b": "lay person", "c": "deep-learning expert"}
    resp, stim = thesis_like(tmp_path, counts, bgs)
    summary = analyze(resp, stim, tmp_path / "o", n_boot=300)
    tests = pd.read_csv(tmp_path / "o" / "reader_tests.csv").set_index("reader_id")
    for reader, (tp, fp, fn, tn) in counts.items():
        ref = stats.binomtest(tp + tn, tp + fp + fn + tn, 0.5)
        assert tests.loc[reader, "p_value"] == pytest.approx(ref.pvalue)
        assert tests.loc[reader, "ci_low"] == pytest.approx(ref.proportion_ci(method="exact").low)
    accs = [(tp + tn) / (tp + fp + fn + tn) for tp, fp, fn, tn in counts.values()]
    lo, hi = stats.t.interval(0.95, len(accs) - 1, loc=np.mean(accs), scale=stats.sem(accs))
    p = summary["pooled_accuracy"]["mean_of_readers_t"]
    assert hi > 1  # three readers, wide t interval: clipped to a proportion's range
    assert (p["mean"], p["ci_low"], p["ci_high"]) == pytest.approx((np.mean(accs), max(0, lo), min(1, hi)))
    boot = summary["pooled_accuracy"]["cluster_bootstrap"]
    assert boot["ci_low"] <= boot["estimate"] <= boot["ci_high"]
    readers = pd.read_csv(tmp_path / "o" / "readers.csv")
    assert readers["background"].tolist() == ["dermatologist", "lay_person", "deep_learning_expert"]


def test_rates_edge_cases():
    assert rates(0, 0, 5, 5)["precision"] != rates(0, 0, 5, 5)["precision"]  # nan: nothing called synthetic
    assert rates(5, 0, 0, 5) == {"accuracy": 1.0, "sensitivity": 1.0, "specificity": 1.0, "precision": 1.0}
    assert np.isnan(pooled_t(np.array([0.7]))["ci_low"])


def test_cluster_bootstrap_degenerate_and_estimate():
    df = pd.DataFrame(
        {"reader_id": np.repeat(["a", "b"], 4), "image_id": list("wxyz") * 2, "correct": [True] * 8}
    )
    b = cluster_bootstrap(df, 100)
    assert b["estimate"] == b["ci_low"] == b["ci_high"] == 1.0
    df["correct"] = [True, False, True, True, False, False, True, False]
    b = cluster_bootstrap(df, 500, seed=1)
    assert b["estimate"] == pytest.approx(0.5) and b["ci_low"] < 0.5 < b["ci_high"]


def test_fleiss_kappa_wikipedia_example():
    table = np.array(
        [
            [0, 0, 0, 0, 14],
            [0, 2, 6, 4, 2],
            [0, 0, 3, 5, 6],
            [0, 3, 9, 2, 0],
            [2, 2, 8, 1, 1],
            [7, 7, 0, 0, 0],
            [3, 2, 6, 3, 0],
            [2, 5, 3, 2, 2],
            [6, 5, 2, 1, 0],
            [0, 2, 2, 3, 7],
        ]
    )
    assert fleiss_kappa(table) == pytest.approx(0.20993, abs=1e-5)  # P_bar 0.378, P_e 0.213


def test_fleiss_kappa_hand_computed_and_errors():
    # 3 raters, 4 subjects, 2 categories; hand: P_i = [1, 1/3, 1, 1/3] -> P_bar 2/3; p = [1/2, 1/2] -> P_e 1/2
    ratings = np.array([["y", "y", "y"], ["y", "n", "n"], ["n", "n", "n"], ["y", "y", "n"]])
    table = count_table(ratings, ["y", "n"])
    assert table.tolist() == [[3, 0], [1, 2], [0, 3], [2, 1]]
    assert fleiss_kappa(table) == pytest.approx((2 / 3 - 1 / 2) / (1 - 1 / 2))
    assert fleiss_kappa(np.array([[3, 0], [0, 3]])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa(np.array([[3, 0], [1, 1]]))


def test_kappa_in_summary_matches_direct(tmp_path):
    resp, stim = thesis_like(
        tmp_path, {"a": (30, 10, 20, 40), "b": (25, 15, 25, 35)}, {"a": "dermatologist", "b": "dermatologist"}
    )
    summary = analyze(resp, stim, tmp_path / "o", n_boot=50)
    df = join(read_responses(resp), read_stimuli_table(stim))
    wide = df.pivot(index="image_id", columns="reader_id", values="said_synthetic")
    assert summary["fleiss_kappa"]["synthetic"]["kappa"] == pytest.approx(
        fleiss_kappa(count_table(wide.to_numpy(), [True, False]))
    )
    assert summary["fleiss_kappa"]["synthetic"]["images"] == 100


def test_typed_in_csv_tolerated(tmp_path):
    resp, stim = thesis_like(tmp_path, {"d1": (7, 3, 3, 7)}, {"d1": "dermatologist"})
    clean = analyze(resp, stim, tmp_path / "clean", n_boot=20)
    df = pd.read_csv(resp, dtype=str)
    yes = {"yes": [" Yes", "TRUE", "1", "y"], "no": ["No ", "false", "0", "N"]}
    df["synthetic"] = [yes[v][i % 4] for i, v in enumerate(df["synthetic"])]
    df["diagnosis"] = [{"melanoma": " Melanoma", "not_melanoma": "Not Melanoma"}[v] for v in df["diagnosis"]]
    df["certainty"] = [f"{v}.0" for v in df["certainty"]]
    df["background"] = " Dermatologist "
    df.columns = [f" {c.upper()} " for c in df.columns]
    df.loc[0, " ANSWERED_AT "] = ""
    typed = tmp_path / "typed.csv"
    df.to_csv(typed, index=False)
    analyze(typed, stim, tmp_path / "typed", n_boot=20)
    a = pd.read_csv(tmp_path / "clean" / "readers.csv")
    b = pd.read_csv(tmp_path / "typed" / "readers.csv")
    pd.testing.assert_frame_equal(a, b)
    assert clean["readers"] == 1


@pytest.mark.parametrize(
    "column,value,match",
    [
        ("synthetic", "maybe", r"line 3, column 'synthetic': cannot read 'maybe'"),
        ("certainty", "7", r"line 3, column 'certainty'"),
        ("diagnosis", "nevus?", r"line 3, column 'diagnosis'"),
        ("image_id", "deadbeefdeadbeef", r"line 3, column 'image_id'.*not in the stimuli"),
        ("reader_id", "", r"line 3, column 'reader_id'"),
    ],
)
def test_bad_values_name_line_and_column(tmp_path, column, value, match):
    resp, stim = thesis_like(tmp_path, {"d1": (3, 2, 2, 3)}, {"d1": "dermatologist"})
    df = pd.read_csv(resp, dtype=str)
    df.loc[1, column] = value
    df.to_csv(resp, index=False)
    with pytest.raises(TableError, match=match):
        analyze(resp, stim, tmp_path / "o", n_boot=10)


def test_duplicate_answers_rejected(tmp_path):
    resp, stim = thesis_like(tmp_path, {"d1": (3, 2, 2, 3)}, {"d1": "dermatologist"})
    df = pd.read_csv(resp, dtype=str)
    pd.concat([df, df.iloc[[4]]]).to_csv(resp, index=False)
    with pytest.raises(TableError, match="lines \\[6, 12\\]"):
        read_responses(resp)


def test_unanimous_images_and_grids(tmp_path):
    from PIL import Image

    resp, stim = thesis_like(
        tmp_path, {"a": (4, 1, 1, 4), "b": (4, 1, 1, 4)}, {"a": "dermatologist", "b": "lay_person"}
    )
    imgs = tmp_path / "study" / "images"
    imgs.mkdir(parents=True)
    for i in pd.read_csv(stim, dtype=str)["image_id"]:
        Image.fromarray(np.full((8, 8, 3), 100, np.uint8)).save(imgs / f"{i}.png")
    summary = analyze(resp, stim, tmp_path / "o", images_dir=tmp_path / "study", n_boot=10)
    u = pd.read_csv(tmp_path / "o" / "unanimous.csv", dtype=str)
    # both readers call the same first 4 synthetic images synthetic, the 5th real
    assert set(u.loc[u.group == "synthetic_caught_by_all", "image_id"]) == {f"{i:016x}" for i in range(4)}
    assert set(u.loc[u.group == "synthetic_fooled_all", "image_id"]) == {f"{4:016x}"}
    assert "grid_synthetic_caught_by_all.png" in summary["figures"]
    assert (tmp_path / "o" / "grid_synthetic_fooled_all.png").exists()


def test_pooled_interval_clipped_to_unit_range():
    accs = np.array([1.0, 0.97, 1.0, 0.99])
    lo, hi = stats.t.interval(0.95, len(accs) - 1, loc=accs.mean(), scale=stats.sem(accs))
    assert hi > 1.0  # the unclipped interval the issue found
    p = pooled_t(accs)
    assert (
        p["ci_high"] == 1.0 and p["ci_low"] == pytest.approx(lo) and p["mean"] == pytest.approx(accs.mean())
    )
    assert pooled_t(np.array([0.0, 0.02, 0.0]))["ci_low"] == 0.0


def test_incomplete_readers_listed_excluded_and_kappa_on_complete_readers(tmp_path):
    """The issue's case: a reader with 5 of 40 answers counted as complete and Fleiss' kappa silently
    shrank to 5 images. Now that reader is listed and left out, and kappa uses all 40 images."""
    from dermsynth.cli.survey import app

    counts = {"a": (15, 5, 5, 15), "b": (12, 8, 8, 12), "c": (18, 2, 2, 18)}
    resp, stim = thesis_like(tmp_path, counts, {k: "dermatologist" for k in counts})
    df = pd.read_csv(resp, dtype=str)
    partial = df[df.reader_id == "a"].iloc[:5].assign(reader_id="short", background="lay_person")
    pd.concat([df, partial]).to_csv(resp, index=False)
    summary = analyze(resp, stim, tmp_path / "o", n_boot=20)
    comp = summary["completeness"]
    assert comp["incomplete_readers"] == [{"reader_id": "short", "answered": 5, "of": 40}]
    assert (
        summary["readers"] == 3
        and "short" not in pd.read_csv(tmp_path / "o" / "readers.csv").reader_id.tolist()
    )
    assert pd.read_csv(tmp_path / "o" / "incomplete_readers.csv").reader_id.tolist() == ["short"]
    kappa = summary["fleiss_kappa"]["synthetic"]
    assert (kappa["readers"], kappa["images"]) == (3, 40)
    full = join(read_responses(resp), read_stimuli_table(stim))
    full = full[full.reader_id != "short"]
    wide = full.pivot(index="image_id", columns="reader_id", values="said_synthetic")
    assert kappa["kappa"] == pytest.approx(fleiss_kappa(count_table(wide.to_numpy(), [True, False])))
    # kept on request in the tables; kappa still on the complete readers only
    kept = analyze(resp, stim, tmp_path / "k", n_boot=20, keep_incomplete=True)
    assert kept["readers"] == 4 and kept["fleiss_kappa"]["synthetic"]["images"] == 40
    # a lower threshold admits the short reader into the tables and kappa (on the 5 shared images)
    low = analyze(resp, stim, tmp_path / "l", n_boot=20, min_complete=0.1)
    assert low["completeness"]["incomplete_readers"] == [] and low["fleiss_kappa"]["synthetic"]["images"] == 5
    res = CliRunner().invoke(
        app,
        [
            "analyze",
            "--responses",
            str(resp),
            "--stimuli",
            str(stim),
            "--out",
            str(tmp_path / "c"),
            "--n-boot",
            "20",
        ],
    )
    assert res.exit_code == 0 and "short (5/40)" in res.output and "left out" in res.output
    with pytest.raises(ValueError, match="min-complete"):
        analyze(resp, stim, tmp_path / "x", n_boot=20, min_complete=0)


def test_reader_who_says_real_to_everything_gives_strict_json_with_reasons(tmp_path):
    """Issue 25.8: one reader answers "real" to all 20 images: precision is undefined (TP + FP = 0),
    there is no interval over one reader and no kappa. summary.json must be strict JSON (null, not a
    bare NaN) and say why each value is null; the reader table says why precision is missing."""
    import json

    resp, stim = thesis_like(tmp_path, {"d1": (0, 0, 10, 10)}, {"d1": "dermatologist"})
    summary = analyze(resp, stim, tmp_path / "o", n_boot=20)
    text = (tmp_path / "o" / "summary.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    loaded = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert loaded == summary
    mt = loaded["pooled_accuracy"]["mean_of_readers_t"]
    assert mt["mean"] == 0.5 and mt["ci_low"] is None and mt["ci_high"] is None
    assert loaded["fleiss_kappa"]["synthetic"]["kappa"] is None
    why = loaded["undefined"]
    assert "one reader" in why["pooled_accuracy.mean_of_readers_t.ci_low"]
    assert "fewer than 2 complete readers" in why["fleiss_kappa.synthetic.kappa"]
    # every null in the file is explained, and nothing else is
    nulls = []

    def walk(o, path=""):
        if isinstance(o, dict):
            for k, v in o.items():
                if k != "undefined":
                    walk(v, f"{path}.{k}" if path else k)
        elif isinstance(o, list):
            for i, v in enumerate(o):
                walk(v, f"{path}[{i}]")
        elif o is None:
            nulls.append(path)

    walk(loaded)
    assert sorted(nulls) == sorted(why)
    readers = pd.read_csv(tmp_path / "o" / "readers.csv")
    assert np.isnan(readers.loc[0, "precision"]) and readers.loc[0, "accuracy"] == 0.5
    assert readers.loc[0, "note"] == "precision undefined: never answered 'synthetic' (TP + FP = 0)"
    md = (tmp_path / "o" / "readers.md").read_text()
    assert "| n/a |" in md and "nan" not in md and "never answered 'synthetic'" in md
    out = CliRunner().invoke(
        __import__("dermsynth.cli.main", fromlist=["app"]).app,
        ["survey", "analyze", "--responses", str(resp), "--stimuli", str(stim), "--out", str(tmp_path / "c")],
    )
    assert out.exit_code == 0, out.output
    flat = " ".join(out.output.split())
    assert "n/a" in flat and "one reader" in flat


def test_kappa_when_every_answer_is_the_same_is_null_with_reason(tmp_path):
    resp, stim = thesis_like(
        tmp_path, {"a": (0, 0, 10, 10), "b": (0, 0, 10, 10)}, {"a": "dermatologist", "b": "lay_person"}
    )
    s = analyze(resp, stim, tmp_path / "o", n_boot=20)
    assert s["fleiss_kappa"]["synthetic"]["kappa"] is None
    assert "one category" in s["undefined"]["fleiss_kappa.synthetic.kappa"]
    assert s["pooled_accuracy"]["mean_of_readers_t"]["ci_low"] == 0.5  # two readers: defined
