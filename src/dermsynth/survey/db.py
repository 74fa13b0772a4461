"""Engine and sessions: a SQLite file by default (WAL, busy timeout, full sync), any SQLAlchemy URL
otherwise (e.g. ``postgresql+psycopg://...`` for a hospital server). Created only when called.

Where a study's answers live is recorded in the study folder (``database.json``, :func:`study_db_url`):
the first command that creates the database writes it, and every later command uses it. Before, a
study served from PostgreSQL was "closed" by ``survey close STUDY`` (no ``--db``) in a new, empty
SQLite file while the real study went on taking answers, and ``survey export`` wrote header-only files.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from dermsynth.core.io import atomic_write_json
from dermsynth.survey.models import Base
from dermsynth.survey.study import DATABASE_JSON, DEFAULT_DB


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


class DatabaseMismatch(ValueError):
    """A command was pointed at another database than the one the study records (or at none)."""


def _canonical(url: str, study_dir: Path) -> str:
    """``url`` without its password; a relative SQLite path is taken relative to the study folder."""
    try:
        u = make_url(url)
    except ArgumentError as e:
        raise ValueError(f"--db: not a database URL: {url!r} ({e})") from None
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        p = Path(u.database)
        return sqlite_url(p if p.is_absolute() else study_dir / p)
    return u._replace(password=None).render_as_string(hide_password=False)  # URL is a NamedTuple


def _recorded(study_dir: Path, url: str) -> str:
    """What ``database.json`` stores: the default SQLite file by name, other URLs without password."""
    canon = _canonical(url, study_dir)
    if canon == sqlite_url(study_dir / DEFAULT_DB):
        return f"sqlite:///{DEFAULT_DB}"
    return canon


def recorded_db_url(study_dir: str | Path) -> str | None:
    """The database URL the study folder records (relative SQLite paths resolved), or None."""
    study_dir = Path(study_dir)
    p = study_dir / DATABASE_JSON
    if not p.exists():
        return None
    try:
        url = json.loads(p.read_text())["url"]
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f'{p}: unreadable ({e}); it should hold {{"url": "..."}}') from None
    return _canonical(str(url), study_dir)


def study_db_url(study_dir: str | Path, db_url: str | None = None, create: bool = False) -> str:
    """The URL to open for a study, checked against the one its folder records.

    - recorded and no ``db_url``: the recorded one (a password comes from the URL you pass, or the
      driver's own sources such as ``PGPASSWORD`` / ``~/.pgpass``: the record holds none);
    - recorded and another ``db_url``: :class:`DatabaseMismatch` (the command would act on a database
      that is not the study's);
    - nothing recorded: ``db_url`` or the default SQLite file, recorded now, but only when ``create``
      (``serve``, ``invite``) or when that database already exists (a study served before the record
      existed); other commands (close, reopen, revoke, export) refuse rather than create an empty one.
    """
    study_dir = Path(study_dir)
    record = recorded_db_url(study_dir)
    given = _canonical(db_url, study_dir) if db_url else None
    where = study_dir / DATABASE_JSON
    if record is not None:
        if given is not None and given != record:
            raise DatabaseMismatch(
                f"{where}: this study's answers are in {record}, not in {given}; "
                "drop --db (or fix database.json if the database really moved)"
            )
        if db_url and given == record:
            return db_url  # may carry the password
        return record
    url = db_url or sqlite_url(study_dir / DEFAULT_DB)
    default_exists = (study_dir / DEFAULT_DB).exists()
    if not create and not (db_url or default_exists):
        raise DatabaseMismatch(
            f"{where}: missing, and there is no {study_dir / DEFAULT_DB}: this study's database is "
            "unknown. Give --db URL (the one `survey serve` used); nothing was created"
        )
    if db_url and not create and default_exists:
        raise DatabaseMismatch(
            f"{where}: missing, and {study_dir / DEFAULT_DB} exists: pass --db to `survey serve` first "
            f"to record {given} as this study's database, or drop --db"
        )
    atomic_write_json(
        where,
        {
            "url": _recorded(study_dir, url),
            "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "note": "where this study's answers are; every `dermsynth survey` command uses it",
        },
    )
    if os.name == "posix":
        os.chmod(where, 0o600)
    return url


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cur.execute("PRAGMA busy_timeout=30000")  # writers queue instead of failing
    cur.execute("PRAGMA synchronous=FULL")  # an acknowledged answer survives a crash
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite connections get WAL mode and a 30 s busy timeout."""
    if url.startswith("sqlite"):
        # one connection per server worker thread (anyio's pool has 40): requests never queue for a
        # connection, only (briefly, WAL) for the write lock
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=10,
            max_overflow=40,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


#: Columns added after the first release: (table, column, SQL type); added to older databases.
ADDED_COLUMNS = [("readers", "revoked_at", "TIMESTAMP")]
_APPEND_ONLY_SQLITE = [
    "CREATE TRIGGER IF NOT EXISTS answer_log_no_update BEFORE UPDATE ON answer_log "
    "BEGIN SELECT RAISE(ABORT, 'answer_log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS answer_log_no_delete BEFORE DELETE ON answer_log "
    "BEGIN SELECT RAISE(ABORT, 'answer_log is append-only'); END",
]
#: PostgreSQL: one trigger function refuses UPDATE and DELETE (per row) and TRUNCATE (per statement).
#: Created if missing (a DO block, so PostgreSQL 11+ and any number of restarts).
_APPEND_ONLY_POSTGRES = [
    "CREATE OR REPLACE FUNCTION answer_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION USING MESSAGE = 'answer_log is append-only: ' || TG_OP || ' refused', "
    "ERRCODE = 'insufficient_privilege'; END $$",
    "DO $$ BEGIN "
    "IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'answer_log_no_change' "
    "AND tgrelid = 'answer_log'::regclass) THEN "
    "CREATE TRIGGER answer_log_no_change BEFORE UPDATE OR DELETE ON answer_log "
    "FOR EACH ROW EXECUTE FUNCTION answer_log_append_only(); END IF; "
    "IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'answer_log_no_truncate' "
    "AND tgrelid = 'answer_log'::regclass) THEN "
    "CREATE TRIGGER answer_log_no_truncate BEFORE TRUNCATE ON answer_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION answer_log_append_only(); END IF; END $$",
]


class NotAppendOnly(RuntimeError):
    """The database cannot be made to refuse changes to ``answer_log`` (an engine without triggers)."""


def init_db(engine: Engine) -> None:
    """Create missing tables and columns (idempotent) and make ``answer_log`` append-only in the
    database itself: triggers refuse UPDATE and DELETE on SQLite and UPDATE, DELETE and TRUNCATE on
    PostgreSQL, whatever client connects. Other engines are refused: the log is the study's record."""
    Base.metadata.create_all(engine)
    insp = inspect(engine)
    with engine.begin() as conn:
        for table, column, sql_type in ADDED_COLUMNS:
            if column not in {c["name"] for c in insp.get_columns(table)}:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}"))
        name = engine.dialect.name
        if name == "sqlite":
            statements = _APPEND_ONLY_SQLITE
        elif name == "postgresql":
            statements = _APPEND_ONLY_POSTGRES
        else:
            raise NotAppendOnly(
                f"{engine.url.render_as_string(hide_password=True)}: the reader study runs on SQLite or "
                f"PostgreSQL only (answer_log must be append-only in the database; no triggers for {name})"
            )
        for stmt in statements:
            conn.execute(text(stmt))


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
