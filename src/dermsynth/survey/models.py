"""Database tables of the reader study (SQLAlchemy 2.0 declarative).

``answers`` has one row per (reader, image) — a unique constraint, so a retried or replayed
submission can never duplicate an answer — and a ``revision`` counter used as the compare-and-swap
version behind the single-use form nonces (:mod:`.crud`). ``answer_log`` is append-only: every
accepted revision of every answer, written in the same transaction (triggers made by
:func:`.db.init_db` refuse UPDATE and DELETE on it, and TRUNCATE on PostgreSQL). ``admin_sessions`` are server-side (logout deletes the row). Reader and
admin tokens are stored only as SHA-256 hashes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# the answer values (backgrounds, diagnoses ...) belong to the exported tables: survey/responses.py


class Base(DeclarativeBase):
    pass


class Meta(Base):
    """Key/value settings that must survive restarts (the signing secret)."""

    __tablename__ = "survey_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


class Reader(Base):
    __tablename__ = "readers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study_id: Mapped[str] = mapped_column(String(64), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    order_seed: Mapped[int] = mapped_column(BigInteger)
    background: Mapped[str | None] = mapped_column(String(32), nullable=True)
    consented_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    @property
    def public_id(self) -> str:
        """The id in exports: ``r`` + zero-padded row id (never the token)."""
        return f"r{self.id:04d}"


class Answer(Base):
    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("reader_id", "image_id", name="uq_answer_reader_image"),
        CheckConstraint("certainty BETWEEN 1 AND 5", name="ck_certainty"),
        CheckConstraint("diagnosis IN ('melanoma', 'not_melanoma')", name="ck_diagnosis"),
        CheckConstraint("synthetic IN ('yes', 'no')", name="ck_synthetic"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reader_id: Mapped[int] = mapped_column(ForeignKey("readers.id", ondelete="CASCADE"), index=True)
    image_id: Mapped[str] = mapped_column(String(64))
    diagnosis: Mapped[str] = mapped_column(String(16))
    synthetic: Mapped[str] = mapped_column(String(3))
    certainty: Mapped[int] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    answered_at: Mapped[datetime] = mapped_column(DateTime)


class AnswerLog(Base):
    """Every accepted revision of every answer, in order (append-only; exported as revisions.csv)."""

    __tablename__ = "answer_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reader_id: Mapped[int] = mapped_column(ForeignKey("readers.id"), index=True)
    image_id: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer)
    diagnosis: Mapped[str] = mapped_column(String(16))
    synthetic: Mapped[str] = mapped_column(String(3))
    certainty: Mapped[int] = mapped_column(Integer)
    answered_at: Mapped[datetime] = mapped_column(DateTime)


class AdminSession(Base):
    """A logged-in admin browser: hash of the cookie's random token, and when it expires."""

    __tablename__ = "admin_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
