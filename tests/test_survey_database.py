"""Issue 25.6 and 25.7: the database is the guard, and every command finds the study's own database.

6. ``answer_log`` is append-only in the database itself, on SQLite and on a real PostgreSQL server
   that this module starts (``initdb`` + ``pg_ctl`` on a unix socket in a temporary folder; Debian's
   ``postgresql`` package, installed by ``.ci/run``). Before, on PostgreSQL, UPDATE and DELETE on the
   log succeeded.
7. A study folder records where its answers are (``database.json``). Before, with the server on
   PostgreSQL, ``survey close STUDY`` without ``--db`` printed "closed" into a new SQLite file while the
   real study went on accepting answers, and ``survey export`` wrote a header-only file.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from dermsynth.cli.survey import app as cli
from dermsynth.survey.app import Settings, create_app
from dermsynth.survey.db import DatabaseMismatch, study_db_url
from survey_helpers import (
    POSTGRES_HINT,
    Postgres,
    answer,
    consent,
    copy_study,
    hidden,
    invite_tokens,
    make_study,
    postgres_bin,
)

N = 8


def _unavailable(reason: str):
    """Skip, naming what is missing; fail instead where CI says PostgreSQL was installed."""
    if os.environ.get("DERMSYNTH_REQUIRE_POSTGRES"):
        pytest.fail(f"DERMSYNTH_REQUIRE_POSTGRES is set but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def pg():
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install -c constraints.txt -e '.[dev]')")
    if not postgres_bin("initdb"):
        _unavailable(f"no PostgreSQL server binaries (initdb): {POSTGRES_HINT}")
    root = Path(tempfile.mkdtemp(prefix="dermsynth-pg-"))  # not under pytest's 0700 root: postgres reads it
    server = Postgres(root)
    try:
        server.start()
    except (RuntimeError, FileNotFoundError) as e:
        shutil.rmtree(root, ignore_errors=True)
        _unavailable(f"PostgreSQL did not start: {e}")
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return make_study(tmp_path_factory.mktemp("db"), n=N, examples_per_class=1)


@pytest.fixture
def study(built, tmp_path):
    return copy_study(built, tmp_path / "study")


_DB_COUNTER = iter(range(10_000))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A database outside the study folder: a SQLite file elsewhere, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'elsewhere' / 'answers.sqlite'}"
    pg = request.getfixturevalue("pg")
    return pg.createdb(f"study{next(_DB_COUNTER)}")


def _flat(text: str) -> str:
    """Console output without any whitespace (rich wraps long paths anywhere)."""
    return "".join(text.split())


def _serve(study: Path, db: str | None):
    return create_app(Settings(study, "pw", db, public_url="https://survey.example.org"))


def _reader_with_two_revisions(app) -> tuple[TestClient, str]:
    (token,) = invite_tokens(TestClient(app), 1)
    c = TestClient(app)
    consent(c, token)
    assert answer(c, token, 1, certainty="2")[0].status_code == 303
    assert answer(c, token, 1, certainty="5")[0].status_code == 303  # a second revision
    return c, token


# ------------------------------------------------------------------ 6. append-only in the database


def test_answer_log_refuses_update_delete_truncate_in_the_database(study, db_url, tmp_path):
    """The attack: a client of the database (a script with the app's credentials, a mistaken admin
    query) rewrites or deletes the history. The database itself refuses it, on both engines."""
    if db_url.startswith("sqlite"):
        (tmp_path / "elsewhere").mkdir()
    app = _serve(study, db_url)
    _reader_with_two_revisions(app)
    engine = create_engine(db_url)
    for stmt in (
        "UPDATE answer_log SET certainty = 1",
        "DELETE FROM answer_log",
        *(["TRUNCATE answer_log"] if engine.dialect.name == "postgresql" else []),
    ):
        with engine.connect() as conn:
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(text(stmt))
            conn.rollback()
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT revision, certainty FROM answer_log ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(1, 2), (2, 5)]
    # the latest answer can still change (that is what answers is for) and restarts stay idempotent
    app2 = _serve(study, db_url)
    assert app2.state.engine.dialect.name == engine.dialect.name
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            n = conn.execute(
                text(
                    "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'answer_log'::regclass AND NOT tgisinternal"
                )
            ).scalar()
        assert n == 2  # one row trigger (UPDATE/DELETE), one statement trigger (TRUNCATE), not duplicated
    engine.dispose()
    app.state.engine.dispose()
    app2.state.engine.dispose()


# ------------------------------------------------------------------ 7. the study records its database


def test_close_and_export_without_db_use_the_served_database(study, db_url, tmp_path):
    """The mistake: the server runs on another database; the organiser types ``survey close STUDY``
    and ``survey export STUDY`` without ``--db``. They now act on the served database."""
    if db_url.startswith("sqlite"):
        (tmp_path / "elsewhere").mkdir()
    app = _serve(study, db_url)
    record = json.loads((study / "database.json").read_text())
    assert record["url"].split("?")[0] == db_url.split("?")[0]
    c, token = _reader_with_two_revisions(app)
    page = c.get("/s/q/2").text  # a form loaded before the study is closed from the command line
    form = {
        **{k: hidden(page)[k] for k in ("image_id", "nonce")},
        "diagnosis": "melanoma",
        "synthetic": "no",
        "certainty": "4",
    }
    r = CliRunner().invoke(cli, ["close", str(study)])
    assert r.exit_code == 0, r.output
    assert c.post("/s/q/2", data=form, follow_redirects=False).status_code == 403  # really closed
    assert not (study / "study.db").exists()  # no second database appeared
    r = CliRunner().invoke(cli, ["export", str(study), "--out", str(tmp_path / "exp")])
    assert r.exit_code == 0, r.output
    resp = pd.read_csv(tmp_path / "exp" / "responses.csv", dtype=str)
    assert len(resp) == 1 and resp.certainty.tolist() == ["5"]
    assert len(pd.read_csv(tmp_path / "exp" / "revisions.csv")) == 2
    # pointing a command at another database is refused, naming the record
    other = f"sqlite:///{tmp_path / 'other.sqlite'}"
    r = CliRunner().invoke(cli, ["reopen", str(study), "--db", other])
    assert r.exit_code == 2 and "database.json" in _flat(r.output) and "notin" in _flat(r.output)
    assert not (tmp_path / "other.sqlite").exists()
    assert CliRunner().invoke(cli, ["reopen", str(study)]).exit_code == 0
    assert c.post("/s/q/2", data=form, follow_redirects=False).status_code == 303
    app.state.engine.dispose()


def test_a_command_never_creates_an_empty_database(study):
    r = CliRunner().invoke(cli, ["close", str(study)])
    assert r.exit_code == 2 and "database.json" in _flat(r.output) and "nothingwascreated" in _flat(r.output)
    assert not (study / "study.db").exists() and not (study / "database.json").exists()
    r = CliRunner().invoke(cli, ["export", str(study), "--out", str(study.parent / "exp")])
    assert r.exit_code == 2 and not (study.parent / "exp" / "responses.csv").exists()


def test_default_database_is_recorded_relative_to_the_study(study, tmp_path):
    app = _serve(study, None)
    assert json.loads((study / "database.json").read_text())["url"] == "sqlite:///study.db"
    app.state.engine.dispose()
    moved = tmp_path / "moved"
    shutil.move(study, moved)  # a study folder moved (or copied to the analysis machine) keeps working
    assert study_db_url(moved) == f"sqlite:///{(moved / 'study.db').resolve()}"
    with pytest.raises(DatabaseMismatch, match="not in"):
        study_db_url(moved, f"sqlite:///{tmp_path / 'x.sqlite'}")


def test_record_holds_no_password(study, pg):
    url = pg.createdb("withpassword").replace(f"{pg.user}@", f"{pg.user}:s3cret-pw@")
    app = _serve(study, url)  # trust authentication ignores the password; the record must not keep it
    text_ = (study / "database.json").read_text()
    assert "s3cret" not in text_ and "***" not in text_
    if os.name == "posix":
        assert (study / "database.json").stat().st_mode & 0o077 == 0
    from sqlalchemy.engine import make_url

    assert make_url(study_db_url(study)) == make_url(url.replace(":s3cret-pw", ""))
    app.state.engine.dispose()


def test_sqlite_file_left_by_an_older_version_is_found(study):
    """A study served (default SQLite) before database.json existed: commands find its study.db."""
    sqlite3.connect(study / "study.db").close()
    r = CliRunner().invoke(cli, ["close", str(study)])
    assert r.exit_code == 0, r.output
    assert json.loads((study / "database.json").read_text())["url"] == "sqlite:///study.db"
