"""Study administration without the web server (used by ``dermsynth survey invite`` / ``export``):
the same crud functions as the admin pages, on the study's database."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from dermsynth.core.io import atomic_write_text
from dermsynth.survey import crud
from dermsynth.survey.db import init_db, make_engine, session_factory, sqlite_url
from dermsynth.survey.study import DEFAULT_DB, STIMULI_CSV, load_study


def open_sessions(study_dir: str | Path, db_url: str | None = None) -> sessionmaker[Session]:
    engine = make_engine(db_url or sqlite_url(Path(study_dir) / DEFAULT_DB))
    init_db(engine)
    return session_factory(engine)


def invite(
    study_dir: str | Path,
    count: int,
    note: str = "",
    base_url: str = "http://127.0.0.1:8000",
    db_url: str | None = None,
) -> list[tuple[str, str]]:
    """Create ``count`` invitations; (reader id, link) pairs — the links are shown only now."""
    study = load_study(study_dir)
    with open_sessions(study_dir, db_url)() as s:
        created = crud.create_invitations(s, study.study_id, count, note)
        return [(r.public_id, f"{base_url.rstrip('/')}/r/{t}") for r, t in created]


def export(study_dir: str | Path, out_dir: str | Path, db_url: str | None = None) -> list[Path]:
    """Write ``responses.csv`` and ``stimuli.csv`` of a study to ``out_dir`` (atomically)."""
    study = load_study(study_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with open_sessions(study_dir, db_url)() as s:
        rows = crud.export_responses(s, study.study_id)
    atomic_write_text(out / "responses.csv", crud.to_csv(rows, crud.RESPONSE_COLUMNS))
    if (out / STIMULI_CSV).resolve() != (Path(study_dir) / STIMULI_CSV).resolve():
        shutil.copyfile(Path(study_dir) / STIMULI_CSV, out / STIMULI_CSV)
    return [out / "responses.csv", out / STIMULI_CSV]
