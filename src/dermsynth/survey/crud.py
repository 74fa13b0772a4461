"""The study's logic as plain functions of a SQLAlchemy session (routes in :mod:`.app` stay thin).

Answers are written by compare-and-swap on ``(reader, image, revision)``: a form carries the nonce of
the revision it was rendered at; accepting it bumps the revision, so the same form cannot change the
answer twice, while an identical resubmission (double click, retried request) is accepted as a no-op.
The unique constraint on (reader, image) makes duplicates impossible whatever the interleaving.
Every accepted revision is also appended to ``answer_log`` in the same transaction, so changes made
after the end page or after an export are kept, not overwritten (exported as ``revisions.csv``).

A study is open or closed (``survey_meta`` key ``closed:STUDY_ID``); closed studies accept no reader
submission and no new invitations. Invitations can be revoked; a revoked link opens nothing.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from dermsynth.core.seeding import rng
from dermsynth.survey.models import AdminSession, Answer, AnswerLog, Meta, Reader
from dermsynth.survey.responses import BACKGROUNDS, CERTAINTY, DIAGNOSES, SYNTHETIC
from dermsynth.survey.security import check_nonce, form_nonce, hash_token, new_secret, new_token

MAX_INVITES = 1000


class FormError(ValueError):
    """A submission that is invalid (bad value) or not acceptable (forged, stale, unknown image)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def get_secret(session: Session) -> str:
    """The signing secret kept in the database (created once, shared by every server process)."""
    row = session.get(Meta, "secret")
    if row is None:
        try:
            session.add(Meta(key="secret", value=new_secret()))
            session.commit()
        except IntegrityError:
            session.rollback()
        row = session.get(Meta, "secret")
    return row.value


class StudyClosed(FormError):
    def __init__(self):
        super().__init__("This study is closed: no more answers or invitations are accepted.", 403)


def _closed_key(study_id: str) -> str:
    return f"closed:{study_id}"[:64]


def is_closed(session: Session, study_id: str) -> bool:
    return session.get(Meta, _closed_key(study_id), populate_existing=True) is not None


def set_closed(session: Session, study_id: str, closed: bool) -> None:
    """Close (no reader submission, no invitation accepted) or reopen the study."""
    row = session.get(Meta, _closed_key(study_id))
    if closed and row is None:
        session.add(Meta(key=_closed_key(study_id), value=utcnow().isoformat()))
    elif not closed and row is not None:
        session.delete(row)
    session.commit()


def require_open(session: Session, study_id: str) -> None:
    if is_closed(session, study_id):
        raise StudyClosed()


def revoke(session: Session, study_id: str, public_id: str) -> Reader:
    """Revoke a reader's invitation (``r0001``): the link and cookie open nothing any more; the
    answers already given stay in the database and the exports."""
    m = re.fullmatch(r"r(\d{1,9})", public_id.strip(), re.ASCII)
    reader = session.get(Reader, int(m.group(1))) if m else None
    if reader is None or reader.study_id != study_id:
        raise FormError(f"no reader {public_id!r} in this study", 404)
    reader.revoked_at = reader.revoked_at or utcnow()
    session.commit()
    return reader


def create_invitations(
    session: Session, study_id: str, count: int, note: str = ""
) -> list[tuple[Reader, str]]:
    """``count`` new readers; returns (reader, token) — the token is shown once and stored hashed."""
    require_open(session, study_id)
    if not 1 <= count <= MAX_INVITES:
        raise ValueError(f"number of invitations must be 1..{MAX_INVITES}, got {count}")
    out = []
    for _ in range(count):
        token = new_token()
        r = Reader(
            study_id=study_id,
            token_hash=hash_token(token),
            note=str(note)[:200],
            order_seed=secrets.randbits(62),
            created_at=utcnow(),
        )
        session.add(r)
        out.append((r, token))
    session.commit()
    return out


def reader_by_token(session: Session, study_id: str, token: str | None) -> Reader | None:
    if not token or len(token) > 128:
        return None
    return session.scalar(
        select(Reader).where(
            Reader.token_hash == hash_token(token), Reader.study_id == study_id, Reader.revoked_at.is_(None)
        )
    )


def token_revoked(session: Session, study_id: str, token: str | None) -> bool:
    """Whether ``token`` is a real invitation of this study that was revoked (not a guess)."""
    if not token or len(token) > 128:
        return False
    found = session.scalar(
        select(Reader.id).where(
            Reader.token_hash == hash_token(token),
            Reader.study_id == study_id,
            Reader.revoked_at.is_not(None),
        )
    )
    return found is not None


def reader_order(reader: Reader, image_ids: tuple[str, ...]) -> list[str]:
    """The reader's own random order of the stimuli (a function of the reader's stored seed)."""
    perm = rng("survey-order", reader.order_seed).permutation(len(image_ids))
    return [image_ids[i] for i in np.asarray(perm)]


def consent_nonce(secret: str, reader: Reader) -> str:
    return form_nonce(secret, "consent", reader.id)


def record_consent(
    session: Session, secret: str, reader: Reader, consent: str, background: str, nonce: str
) -> None:
    require_open(session, reader.study_id)
    if not check_nonce(secret, nonce, "consent", reader.id):
        raise FormError("this form has expired or was not issued to you; reload the page", 403)
    if consent != "yes":
        raise FormError("please confirm that you consent to take part")
    if background not in BACKGROUNDS:
        raise FormError("please choose your background")
    if reader.background and background != reader.background and answers_of(session, reader):
        raise FormError(
            "your background was recorded with your first answer and cannot be changed now "
            f"(it is: {BACKGROUNDS[reader.background]})",
            409,
        )
    reader.background = background
    reader.consented_at = reader.consented_at or utcnow()
    session.commit()


def answers_of(session: Session, reader: Reader) -> dict[str, Answer]:
    return {a.image_id: a for a in session.scalars(select(Answer).where(Answer.reader_id == reader.id))}


def answer_nonce(secret: str, reader: Reader, image_id: str, revision: int) -> str:
    return form_nonce(secret, "answer", reader.id, image_id, revision)


@dataclass(frozen=True)
class AnswerForm:
    diagnosis: str
    synthetic: str
    certainty: int


def parse_answer(diagnosis: str | None, synthetic: str | None, certainty: str | None) -> AnswerForm:
    """Validate the three answers; FormError naming what is missing or out of range."""
    missing = [
        n for n, v in (("diagnosis", diagnosis), ("synthetic", synthetic), ("certainty", certainty)) if not v
    ]
    if missing:
        raise FormError(f"please answer all three questions (missing: {', '.join(missing)})")
    if diagnosis not in DIAGNOSES:
        raise FormError("diagnosis must be melanoma or not melanoma")
    if synthetic not in SYNTHETIC:
        raise FormError("'is this image synthetic?' must be yes or no")
    if not re.fullmatch(r"[1-5]", str(certainty)) or int(certainty) not in CERTAINTY:
        raise FormError("certainty must be a whole number from 1 to 5")
    return AnswerForm(diagnosis, synthetic, int(certainty))


def _retry_locked(fn, attempts: int = 5):
    for k in range(attempts):
        try:
            return fn()
        except OperationalError as e:  # SQLite "database is locked" beyond the busy timeout
            if "locked" not in str(e).lower() or k == attempts - 1:
                raise
            time.sleep(0.05 * (k + 1))
    return None


def save_answer(
    session: Session, secret: str, reader: Reader, image_id: str, form: AnswerForm, nonce: str
) -> Answer:
    """Insert or update one answer if ``nonce`` is valid for its current revision (see module doc)."""

    require_open(session, reader.study_id)

    def attempt() -> Answer:
        try:
            cur = _current(session, reader, image_id)
            rev = cur.revision if cur else 0
            if not check_nonce(secret, nonce, "answer", reader.id, image_id, rev):
                if (
                    cur
                    and (cur.diagnosis, cur.synthetic, cur.certainty)
                    == (
                        form.diagnosis,
                        form.synthetic,
                        form.certainty,
                    )
                    and _issued_before(secret, nonce, reader, image_id, rev)
                ):
                    return cur  # identical resubmission: idempotent
                raise FormError("this form has expired or was not issued to you; reload the page", 409)
            values = {"diagnosis": form.diagnosis, "synthetic": form.synthetic, "certainty": form.certainty}
            now = utcnow()
            if cur is None:
                session.add(
                    Answer(reader_id=reader.id, image_id=image_id, revision=1, answered_at=now, **values)
                )
            else:
                res = session.execute(
                    update(Answer)
                    .where(Answer.id == cur.id, Answer.revision == rev)
                    .values(revision=rev + 1, answered_at=now, **values)
                )
                if res.rowcount != 1:
                    raise FormError("this answer was changed meanwhile; reload the page", 409)
            # append-only history, same transaction: both rows or neither
            session.add(
                AnswerLog(reader_id=reader.id, image_id=image_id, revision=rev + 1, answered_at=now, **values)
            )
            session.commit()
        except IntegrityError:  # a concurrent insert of the same (reader, image) won: judge against it
            session.rollback()
            return None
        except BaseException:
            session.rollback()
            raise
        return _current(session, reader, image_id)

    for _ in range(3):
        saved = _retry_locked(attempt)
        if saved is not None:
            return saved
    raise FormError("this answer was saved meanwhile; reload the page", 409)


def _current(session: Session, reader: Reader, image_id: str) -> Answer | None:
    q = select(Answer).where(Answer.reader_id == reader.id, Answer.image_id == image_id)
    return session.scalar(q.execution_options(populate_existing=True))


def _issued_before(secret: str, nonce: str, reader: Reader, image_id: str, rev: int) -> bool:
    """Whether ``nonce`` belongs to an earlier revision of this reader's answer to this image."""
    return any(check_nonce(secret, nonce, "answer", reader.id, image_id, r) for r in range(rev))


def progress_rows(session: Session, study_id: str, n_images: int) -> list[dict]:
    """Per reader: id, note, background, answered count, created and last answer time, revoked."""
    q = (
        select(Reader, func.count(Answer.id), func.max(Answer.answered_at))
        .outerjoin(Answer, Answer.reader_id == Reader.id)
        .where(Reader.study_id == study_id)
        .group_by(Reader.id)
        .order_by(Reader.id)
    )
    return [
        {
            "reader_id": r.public_id,
            "note": r.note,
            "background": r.background or "",
            "answered": int(n),
            "total": n_images,
            "created_at": r.created_at,
            "last_answer": last,
            "revoked": r.revoked_at is not None,
        }
        for r, n, last in session.execute(q)
    ]


def _iso(t: datetime) -> str:
    return t.replace(microsecond=0).isoformat() + "Z"


def export_responses(session: Session, study_id: str, image_ids: tuple[str, ...] | None = None) -> list[dict]:
    """Rows of ``responses.csv`` (``responses.RESPONSE_COLUMNS``, written by ``responses.write_responses``),
    ordered by reader then time."""
    q = (
        select(Answer, Reader)
        .join(Reader, Reader.id == Answer.reader_id)
        .where(Reader.study_id == study_id)
        .order_by(Reader.id, Answer.answered_at, Answer.image_id)
    )
    keep = set(image_ids) if image_ids is not None else None
    return [
        {
            "study_id": study_id,
            "reader_id": r.public_id,
            "background": r.background or "",
            "image_id": a.image_id,
            "diagnosis": a.diagnosis,
            "synthetic": a.synthetic,
            "certainty": a.certainty,
            "answered_at": _iso(a.answered_at),
        }
        for a, r in session.execute(q)
        if keep is None or a.image_id in keep
    ]


def export_revisions(session: Session, study_id: str) -> list[dict]:
    """Rows of ``revisions.csv``: every accepted revision of every answer (``responses.REVISION_COLUMNS``)."""
    q = (
        select(AnswerLog, Reader)
        .join(Reader, Reader.id == AnswerLog.reader_id)
        .where(Reader.study_id == study_id)
        .order_by(Reader.id, AnswerLog.id)
    )
    return [
        {
            "study_id": study_id,
            "reader_id": r.public_id,
            "background": r.background or "",
            "image_id": a.image_id,
            "revision": a.revision,
            "diagnosis": a.diagnosis,
            "synthetic": a.synthetic,
            "certainty": a.certainty,
            "answered_at": _iso(a.answered_at),
        }
        for a, r in session.execute(q)
    ]


# ---------------------------------------------------------------- server-side admin sessions


def create_admin_session(session: Session, max_age: float) -> str:
    """A new admin session; returns the cookie token (only its hash is stored)."""
    token = new_token()
    now = utcnow()
    session.execute(delete(AdminSession).where(AdminSession.expires_at < now))  # purge expired
    session.add(
        AdminSession(
            token_hash=hash_token(token), created_at=now, expires_at=now + timedelta(seconds=max_age)
        )
    )
    session.commit()
    return token


def admin_session_valid(session: Session, token: str | None) -> bool:
    if not token or len(token) > 128:
        return False
    row = session.scalar(select(AdminSession).where(AdminSession.token_hash == hash_token(token)))
    return row is not None and row.expires_at > utcnow()


def end_admin_session(session: Session, token: str | None) -> None:
    """Logout: the session row is deleted, so the cookie is worthless even if kept or copied."""
    if token:
        session.execute(delete(AdminSession).where(AdminSession.token_hash == hash_token(token)))
        session.commit()
