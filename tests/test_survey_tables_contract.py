"""The doors of the reader study (issue 26.1): the builder writes stimuli.csv and ``survey export`` writes
responses.csv through survey/responses.py, and the analysis and the report read them through it. Here two
readers answer a tiny built study through the app's own functions (crud, as the pages do), the study's
export function writes the tables, and what is read back and analysed must be what was answered."""

from __future__ import annotations

import pandas as pd
import pytest

from dermsynth.survey import crud, service
from dermsynth.survey.models import Reader
from dermsynth.survey.responses import (
    RESPONSE_COLUMNS,
    STIMULI_COLUMNS,
    TableError,
    read_responses,
    read_stimuli_table,
    responses_text,
    write_stimuli,
)
from survey_helpers import make_study

BACKGROUNDS = {"r0001": "dermatologist", "r0002": "lay_person"}


def said_synthetic(reader: str, k: int) -> bool:
    """Reader 1 calls every other image synthetic, reader 2 every image."""
    return reader == "r0002" or k % 2 == 0


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("study")
    study = make_study(tmp, n=8, examples_per_class=1)
    rids = [rid for rid, _ in service.invite(study, 2)]
    assert rids == list(BACKGROUNDS)
    ids = sorted(read_stimuli_table(study / "stimuli.csv")["image_id"])
    with service.open_sessions(study)() as s:
        secret = crud.get_secret(s)
        for rid, bg in BACKGROUNDS.items():
            r = s.get(Reader, int(rid[1:]))  # public id r0001 = row 1
            crud.record_consent(s, secret, r, "yes", bg, crud.consent_nonce(secret, r))
            for k, i in enumerate(ids):
                form = crud.parse_answer("melanoma" if k < 3 else "not_melanoma",
                                         "yes" if said_synthetic(rid, k) else "no", str(1 + k % 5))  # fmt: skip
                crud.save_answer(s, secret, r, i, form, crud.answer_nonce(secret, r, i, 0))
    files = service.export(study, tmp / "export")
    return study, tmp / "export", ids, files


def test_the_export_is_read_back_as_answered(exported):
    study, out, ids, files = exported
    assert [f.name for f in files] == ["responses.csv", "revisions.csv", "stimuli.csv"]
    assert (out / "responses.csv").read_text().splitlines()[0] == ",".join(RESPONSE_COLUMNS)
    stim = read_stimuli_table(out / "stimuli.csv")
    assert pd.read_csv(study / "stimuli.csv").columns.tolist() == STIMULI_COLUMNS
    assert sorted(stim["image_id"]) == ids and set(stim["source"]) == {"real", "synthetic"}
    r = read_responses(out / "responses.csv")
    assert len(r) == 2 * len(ids)
    for rid, bg in BACKGROUNDS.items():
        mine = r[r["reader_id"] == rid].set_index("image_id").loc[ids]
        assert set(mine["background"]) == {bg}
        assert mine["said_synthetic"].tolist() == [said_synthetic(rid, k) for k in range(len(ids))]
        assert mine["certainty"].tolist() == [1 + k % 5 for k in range(len(ids))]
        assert mine["diagnosis"].tolist() == ["melanoma"] * 3 + ["not_melanoma"] * (len(ids) - 3)


def test_the_analysis_counts_what_was_answered(exported, tmp_path):
    from dermsynth.survey.analyze import analyze

    study, out, ids, _ = exported
    analyze(out / "responses.csv", out / "stimuli.csv", tmp_path / "analysis", n_boot=20)
    readers = pd.read_csv(tmp_path / "analysis" / "readers.csv", dtype={"reader_id": str}).set_index(
        "reader_id"
    )
    truth = read_stimuli_table(study / "stimuli.csv").set_index("image_id").loc[ids, "source"] == "synthetic"
    for rid in BACKGROUNDS:
        said = pd.Series([said_synthetic(rid, k) for k in range(len(ids))], index=ids)
        assert readers.loc[rid, "TP"] == int((truth & said).sum())
        assert readers.loc[rid, "FP"] == int((~truth & said).sum())
        assert readers.loc[rid, "FN"] == int((truth & ~said).sum())
        assert readers.loc[rid, "TN"] == int((~truth & ~said).sum())


def test_the_report_counts_the_stimuli_the_builder_wrote(exported):
    from dermsynth.report.stages.survey import study_sentence

    study, *_ = exported
    st = pd.read_csv(study / "stimuli.csv")
    n = st["source"].value_counts()
    assert study_sentence(study).startswith(
        f"Study built with {len(st)} images (real {n['real']}, synthetic {n['synthetic']})"
    )


@pytest.mark.parametrize("column", ["synthetic", "image_id", "reader_id"])
def test_a_responses_table_missing_a_column_is_refused(exported, tmp_path, column):
    _, out, *_ = exported
    bad = tmp_path / "responses.csv"
    pd.read_csv(out / "responses.csv", dtype=str).drop(columns=[column]).to_csv(bad, index=False)
    with pytest.raises(TableError, match=rf"{bad}: missing column\(s\) \['{column}'\]"):
        read_responses(bad)


def test_the_writers_refuse_rows_and_tables_off_the_layout(tmp_path):
    row = dict.fromkeys(RESPONSE_COLUMNS, "x")
    assert responses_text([row]).splitlines()[0] == ",".join(RESPONSE_COLUMNS)
    with pytest.raises(ValueError, match="responses.csv: row 0"):
        responses_text([{k: v for k, v in row.items() if k != "certainty"}])
    with pytest.raises(ValueError, match=r"needs the columns \['seed'\]"):
        write_stimuli(tmp_path, pd.DataFrame({c: [] for c in STIMULI_COLUMNS if c != "seed"}))
