"""Engine and sessions: a SQLite file by default (WAL, busy timeout, full sync), any SQLAlchemy URL
otherwise (e.g. ``postgresql+psycopg://...`` for a hospital server). Created only when called."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from dermsynth.survey.models import Base


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


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


def init_db(engine: Engine) -> None:
    """Create missing tables and columns (idempotent); on SQLite make ``answer_log`` append-only."""
    Base.metadata.create_all(engine)
    insp = inspect(engine)
    with engine.begin() as conn:
        for table, column, sql_type in ADDED_COLUMNS:
            if column not in {c["name"] for c in insp.get_columns(table)}:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}"))
        if engine.dialect.name == "sqlite":
            for stmt in _APPEND_ONLY_SQLITE:
                conn.execute(text(stmt))


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
