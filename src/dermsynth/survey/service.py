"""Study administration without the web server (``dermsynth survey invite / export / close / reopen /
revoke``): the same crud functions as the admin pages, on the study's database."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from dermsynth.core.io import atomic_write_text
from dermsynth.survey import crud
from dermsynth.survey.db import init_db, make_engine, session_factory, study_db_url
from dermsynth.survey.responses import STIMULI_CSV, write_responses, write_revisions
from dermsynth.survey.study import load_study


def open_sessions(
    study_dir: str | Path, db_url: str | None = None, create: bool = False
) -> sessionmaker[Session]:
    """Sessions on the study's own database (the one its folder records, see
    :func:`~dermsynth.survey.db.study_db_url`); only ``create`` may start a new one."""
    engine = make_engine(study_db_url(study_dir, db_url, create=create))
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
    with open_sessions(study_dir, db_url, create=True)() as s:
        created = crud.create_invitations(s, study.study_id, count, note)
        return [(r.public_id, f"{base_url.rstrip('/')}/r/{t}") for r, t in created]


def export(study_dir: str | Path, out_dir: str | Path, db_url: str | None = None) -> list[Path]:
    """Write ``responses.csv`` (latest answers), ``revisions.csv`` (every revision) and
    ``stimuli.csv`` of a study to ``out_dir`` (atomically; layouts: ``survey/responses.py``)."""
    study = load_study(study_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with open_sessions(study_dir, db_url)() as s:
        rows = crud.export_responses(s, study.study_id)
        revisions = crud.export_revisions(s, study.study_id)
    paths = [write_responses(out, rows), write_revisions(out, revisions), out / STIMULI_CSV]
    if (out / STIMULI_CSV).resolve() != (Path(study_dir) / STIMULI_CSV).resolve():
        atomic_write_text(out / STIMULI_CSV, (Path(study_dir) / STIMULI_CSV).read_text())  # as built
    return paths


def set_closed(study_dir: str | Path, closed: bool, db_url: str | None = None) -> None:
    """Close (no answers, no invitations) or reopen a study."""
    study = load_study(study_dir)
    with open_sessions(study_dir, db_url)() as s:
        crud.set_closed(s, study.study_id, closed)


def revoke(study_dir: str | Path, reader_ids: list[str], db_url: str | None = None) -> None:
    """Revoke invitations by reader id (``r0001``): their links and cookies open nothing any more."""
    study = load_study(study_dir)
    with open_sessions(study_dir, db_url)() as s:
        for rid in reader_ids:
            crud.revoke(s, study.study_id, rid)
