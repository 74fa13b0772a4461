"""The doors between the edit stage and the report (issue 26.1): the edit stage writes its evaluation
and edited set through edit/table.py, and the report reads the same files through it. Here the stage's
own functions measure a toy generator whose frame direction is known; the report's sentences and table
must say what was measured."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dermsynth.edit import Directions, EvalSettings, evaluate_directions, get_scorer
from dermsynth.edit.table import STATUSES, TABLE_COLUMNS, read_evaluation, status_counts, write_evaluation


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    from dermsynth.edit.batch import EditJob, clean_to_dataset
    from dermsynth.edit.measure import save_evaluation
    from test_edit_standin import ToyFrameG

    out = tmp_path_factory.mktemp("edit")
    G = ToyFrameG(w_dim=8)
    u, v = G.u.numpy(), G.v.numpy()
    dirs = Directions(np.stack([v, -u]), [2, 1], [], "sefa")
    det = get_scorer("dark_corner")
    s = EvalSettings(num=40, alphas=(3.0,), batch_size=20)
    table = evaluate_directions(G, dirs, [0, 1], det, None, s)
    save_evaluation(table, out, s, {"detector": "dark_corner", "seeds_searched": 40})
    clean_to_dataset(G, EditJob(dirs, 1, batch_size=20), list(range(40)), det, "dark_corner", out / "edited")
    return out, table


def test_the_stage_writes_the_contract_layout(evaluated):
    out, table = evaluated
    ev = read_evaluation(out)
    assert list(ev.table.columns[: len(TABLE_COLUMNS)]) == list(TABLE_COLUMNS)
    assert ev.method == "sefa" and ev.alphas == [3.0] and ev.seeds_searched == 40
    assert ev.best["index"] == 1 and ev.best["removed_frac"] == 1.0  # -u removes the toy frames
    assert ev.rule and ev.settings["num"] == 40 and ev.info["detector"] == "dark_corner"
    counts = status_counts(pd.read_csv(out / "edited" / "manifest.csv"))
    assert set(counts) == set(STATUSES) and sum(counts.values()) == 40 and counts["still_present"] == 0


def test_the_report_says_what_the_stage_measured(evaluated, tmp_path):
    from dermsynth.report.stages.edit import edit_block, edited_sentence

    out, table = evaluated
    ev = read_evaluation(out)
    framed = int(ev.best["n_present"])
    sentence = edited_sentence(out / "edited")
    counts = status_counts(pd.read_csv(out / "edited" / "manifest.csv"))
    assert f"of {framed} framed, {counts['cleaned']} cleaned" in sentence
    from dermsynth.report.context import Ctx
    from dermsynth.report.discover import Found

    b, best, strip = edit_block(Ctx(out.parent, Found(), tmp_path), out)
    assert best.startswith("SeFa direction 1 at α = +3 removes the frame from 100% of framed samples")
    assert f"({framed} of {framed}; 40 sampled)" in best


def test_a_table_without_the_contract_columns_is_refused(tmp_path):
    bad = pd.DataFrame({"method": ["sefa"], "best": [True]})
    with pytest.raises(ValueError, match="needs the columns"):
        write_evaluation(tmp_path, bad, {}, "rule", {})
    with pytest.raises(ValueError, match="unknown edit status"):
        status_counts(pd.DataFrame({"status": ["cleaned", "half_clean"]}))
