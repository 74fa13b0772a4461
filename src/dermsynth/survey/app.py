"""The reader-study web app: ``create_app(settings)`` (docs/architecture.md R12, fastapi full-stack template).

Server-rendered Jinja2 pages; one small self-hosted script adds single-key answers and
click-to-enlarge (everything works without it); nothing is loaded from outside the server.

Readers: the invitation link ``/r/TOKEN`` is swapped at once for an HttpOnly cookie and a redirect to
token-free pages under ``/s/...``, so the token appears in no later URL, referrer or access-log line
(the one request that carries it is logged redacted, see :class:`RedactTokens`). ``/`` with the cookie
asks "continue, or not you?" instead of resuming silently (shared computers).

Admins: form login creates a server-side session (``admin_sessions``; the cookie holds a random token,
logout deletes the row); HTTP Basic (user ``admin``) is accepted only for GET exports. Password
attempts (form, Basic) are charged before the password is checked, per client address and per
credential, or per device for a browser that logged in before; valid session cookies and reader
links are never limited, invalid ones are counted per client address (:mod:`.ratelimit`).

A closed study refuses every reader POST and new invitations; invitations can be revoked. The DB
session is the dependency :func:`get_db`, which tests override; the logic lives in :mod:`.crud`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from dermsynth.survey import crud
from dermsynth.survey.db import init_db, make_engine, session_factory, study_db_url
from dermsynth.survey.encode import STIMULUS_MEDIA_TYPE
from dermsynth.survey.models import Reader
from dermsynth.survey.ratelimit import AuthLimits
from dermsynth.survey.responses import (
    BACKGROUNDS,
    RESPONSES_CSV,
    REVISIONS_CSV,
    STIMULI_CSV,
    responses_text,
    revisions_text,
)
from dermsynth.survey.security import check_nonce, check_password, form_nonce, new_secret, sign, unsign
from dermsynth.survey.study import Study, load_study

HERE = Path(__file__).parent
READER_COOKIE = "dermsynth_reader"
ADMIN_COOKIE = "dermsynth_admin"
#: Signed cookie of a browser that logged in as admin before: its password attempts skip the
#: per-credential lock (ratelimit.AuthLimits), so an attack cannot lock the organiser out.
DEVICE_COOKIE = "dermsynth_device"
DEVICE_MAX_AGE = 180 * 24 * 3600
ADMIN_USER = "admin"
ADMIN_MAX_AGE = 12 * 3600
READER_MAX_AGE = 180 * 24 * 3600
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: Every stimulus and example is served with exactly these headers (plus an identical length).
IMAGE_HEADERS = {"Cache-Control": "private, max-age=86400"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_TOKEN_IN_PATH = re.compile(r"/r/[^/?#\s\"]+")


def redact(text: str) -> str:
    """``/r/TOKEN...`` -> ``/r/<token>...`` (for log lines)."""
    return _TOKEN_IN_PATH.sub("/r/<token>", text)


class RedactTokens(logging.Filter):
    """Logging filter that removes reader tokens from uvicorn's access (and any other) log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


@dataclass(frozen=True)
class Settings:
    """Server settings; ``db_url`` defaults to the study's recorded database, else
    ``sqlite:///STUDY/study.db`` (recorded in ``STUDY/database.json`` on first start)."""

    study_dir: Path
    admin_password: str
    db_url: str | None = None
    secret_key: str | None = None
    secure_cookies: bool = False
    public_url: str | None = None  # base of invitation links, e.g. https://survey.example.org/

    def resolved_db_url(self) -> str:
        return study_db_url(self.study_dir, self.db_url, create=True)


def check_public_url(public_url: str | None, host: str) -> None:
    """``--public-url`` must be an http(s) URL, and is required when serving beyond localhost."""
    if public_url:
        u = urlsplit(public_url)
        if u.scheme not in ("http", "https") or not u.netloc or u.query or u.fragment:
            raise ValueError(f"--public-url must look like https://survey.example.org/, got {public_url!r}")
    elif host not in LOCAL_HOSTS:
        raise ValueError(
            f"--public-url is required when serving on {host!r} (beyond localhost): invitation links "
            "must not be built from the Host header a client sends"
        )


# ---------------------------------------------------------------- dependencies


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def get_study(request: Request) -> Study:
    return request.app.state.study


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _too_many(wait: float) -> HTTPException:
    secs = int(wait) + 1
    return HTTPException(
        429, f"Too many attempts. Try again in {secs} s.", headers={"Retry-After": str(secs)}
    )


def _reader_of(request: Request, db: Session, study: Study, token: str | None, missing: int) -> Reader:
    """The reader of ``token``. A valid token is never rate limited (192 random bits: guessing is
    hopeless); a revoked one gets ``missing`` (404 for a link, 403 for a cookie) and is not counted; an invalid one is counted per client
    address (:class:`~dermsynth.survey.ratelimit.AuthLimits`), 429 once that address is locked."""
    reader = crud.reader_by_token(db, study.study_id, token)
    if reader is not None:
        return reader
    if crud.token_revoked(db, study.study_id, token):
        raise HTTPException(
            missing, "This invitation was withdrawn by the organiser. Thank you for your help."
        )
    wait = request.app.state.limits.invalid_secret("reader", _client(request))
    if wait > 0:
        raise _too_many(wait)
    if missing == 404:
        raise HTTPException(404, "This invitation link is not valid. Please check the link you were sent.")
    raise HTTPException(
        403,
        "This invitation is not valid (any more). Please open the link you were sent, or ask the organiser.",
    )


def current_reader(
    request: Request, db: Session = Depends(get_db), study: Study = Depends(get_study)
) -> Reader:
    """The reader of the HttpOnly cookie; the cookie is set only by opening an invitation link."""
    token = request.cookies.get(READER_COOKIE)
    if not token:
        raise HTTPException(403, "Please open the personal invitation link you were sent.")
    return _reader_of(request, db, study, token, 403)


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("basic "):
        return None
    try:
        user, sep, pw = base64.b64decode(auth[6:], validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ("", "")
    return (user, pw) if sep else ("", "")


def _is_export(request: Request) -> bool:
    return request.method == "GET" and request.url.path.startswith("/admin/export/")


def _device(request: Request) -> str | None:
    """The device id of a browser that logged in before (signed cookie), or None."""
    return unsign(request.app.state.secret, request.cookies.get(DEVICE_COOKIE), DEVICE_MAX_AGE)


def _password_attempt(request: Request, password: str) -> bool:
    """One password attempt, charged before the password is looked at (429 while backing off)."""
    limits, client, device = request.app.state.limits, _client(request), _device(request)
    wait = limits.begin_password(client, device)
    if wait > 0:
        raise _too_many(wait)
    if check_password(password, request.app.state.settings.admin_password):
        limits.password_ok(client, device)
        return True
    return False


def require_admin(request: Request, db: Session = Depends(get_db)) -> None:
    """A valid server-side session cookie (never rate limited: 256 random bits), or (GET exports
    only) Basic ``admin:PASSWORD`` (a password attempt). An invalid session cookie is counted per
    client address."""
    cookie = request.cookies.get(ADMIN_COOKIE)
    basic = _basic_credentials(request) if _is_export(request) else None
    if cookie:
        if crud.admin_session_valid(db, cookie):
            return
        wait = request.app.state.limits.invalid_secret("session", _client(request))
        if wait > 0:
            raise _too_many(wait)
    if basic is not None:
        user, pw = basic
        user_ok = hmac.compare_digest(user.encode("utf-8", "surrogatepass"), ADMIN_USER.encode())
        if _password_attempt(request, pw) and user_ok:
            return
    if _is_export(request):
        raise HTTPException(
            401, "Admin password required.", headers={"WWW-Authenticate": 'Basic realm="admin"'}
        )
    raise HTTPException(303, "login required", headers={"Location": "/admin/login"})


def admin_nonce(request: Request) -> str:
    return form_nonce(request.app.state.secret, "admin", request.cookies.get(ADMIN_COOKIE, ""))


def _check_admin_nonce(request: Request, nonce: str) -> None:
    if not check_nonce(request.app.state.secret, nonce, "admin", request.cookies.get(ADMIN_COOKIE, "")):
        raise HTTPException(403, "Form expired; reload the page.")


# ---------------------------------------------------------------- app factory


def create_app(settings: Settings) -> FastAPI:
    """Build the app: load the study, open (and create) the database, wire routes."""
    if not settings.admin_password:
        raise ValueError(
            "an admin password is required (--admin-password or DERMSYNTH_SURVEY_ADMIN_PASSWORD)"
        )
    if settings.public_url:
        check_public_url(settings.public_url, "127.0.0.1")
    study = load_study(settings.study_dir)
    engine = make_engine(settings.resolved_db_url())
    init_db(engine)
    sessions = session_factory(engine)
    with sessions() as s:
        secret = settings.secret_key or os.environ.get("DERMSYNTH_SURVEY_SECRET") or crud.get_secret(s)

    app = FastAPI(title="dermsynth reader study", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings, app.state.study, app.state.engine = settings, study, engine
    app.state.sessions, app.state.secret = sessions, secret
    app.state.limits = AuthLimits()  # who is limited, by what key, how fast: see ratelimit
    app.state.templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        is_image = response.headers.get("content-type", "").startswith(STIMULUS_MEDIA_TYPE)
        if not is_image and not request.url.path.startswith("/static"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code in (301, 302, 303, 307):
            resp = RedirectResponse(exc.headers["Location"], status_code=303)
            if request.cookies.get(ADMIN_COOKIE):  # a stale admin cookie is not sent again
                resp.delete_cookie(ADMIN_COOKIE, path="/admin")
            return resp
        return render(request, "error.html", {"message": exc.detail}, exc.status_code, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError):
        return render(request, "error.html", {"message": "This request is not valid."}, 400)

    _reader_routes(app)
    _admin_routes(app)
    return app


def render(
    request: Request, name: str, ctx: dict, status: int = 200, headers: dict | None = None
) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(
        request, name, ctx, status_code=status, headers=headers
    )


def _image_response(path: Path | None) -> Response:
    if path is None or not path.exists():
        raise HTTPException(404, "Not found.")
    return Response(path.read_bytes(), media_type=STIMULUS_MEDIA_TYPE, headers=IMAGE_HEADERS)


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _position(pos: str, n: int) -> int:
    """A 1-based question number from the URL; 404 (HTML page) for anything but 1..n."""
    if not re.fullmatch(r"[0-9]{1,6}", pos) or not 1 <= int(pos) <= n:
        raise HTTPException(404, "No such question.")
    return int(pos)


# ---------------------------------------------------------------- reader pages

BASE = "/s"


def _next_url(order: list[str], answered: set[str], pos: int | None = None) -> str:
    """After ``pos`` (1-based): the next position, else the first unanswered one, else the end page."""
    if pos is not None and pos < len(order):
        return f"{BASE}/q/{pos + 1}"
    for i, image_id in enumerate(order, 1):
        if image_id not in answered:
            return f"{BASE}/q/{i}"
    return f"{BASE}/done"


def _resume_url(db: Session, reader: Reader, study: Study) -> str:
    if reader.consented_at is None:
        return f"{BASE}/consent"
    answered = set(crud.answers_of(db, reader))
    if not answered:
        return f"{BASE}/examples"
    return _next_url(crud.reader_order(reader, study.image_ids), answered)


def _reader_ctx(request: Request, reader: Reader) -> dict:
    """What every reader page needs: the "not you?" form and whether the study is closed."""
    return {"base": BASE, "forget_nonce": form_nonce(request.app.state.secret, "forget", reader.id)}


def _refuse_if_closed(db: Session, study: Study) -> None:
    if crud.is_closed(db, study.study_id):
        raise HTTPException(403, "This study is closed. Thank you for your interest.")


def _reader_routes(app: FastAPI) -> None:
    @app.get("/", response_class=HTMLResponse)
    def landing(request: Request, db: Session = Depends(get_db), study: Study = Depends(get_study)):
        token = request.cookies.get(READER_COOKIE)
        reader = crud.reader_by_token(db, study.study_id, token) if token else None
        if reader is None:
            if token and not crud.token_revoked(db, study.study_id, token):
                wait = app.state.limits.invalid_secret("reader", _client(request))
                if wait > 0:
                    raise _too_many(wait)
            return render(request, "landing.html", {})
        ctx = {
            **_reader_ctx(request, reader),
            "answered": len(crud.answers_of(db, reader)),
            "n": len(study.image_ids),
            "resume": _resume_url(db, reader, study),
        }
        return render(request, "welcome_back.html", ctx)

    @app.get("/r/{token}")
    def open_link(
        request: Request, token: str, db: Session = Depends(get_db), study: Study = Depends(get_study)
    ):
        reader = _reader_of(request, db, study, token, 404)
        resp = _redirect(_resume_url(db, reader, study))  # token-free from here on
        resp.set_cookie(
            READER_COOKIE,
            token,
            max_age=READER_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=app.state.settings.secure_cookies,
        )
        return resp

    @app.get(BASE)
    def resume(reader: Reader = Depends(current_reader), db: Session = Depends(get_db)):
        return _redirect(_resume_url(db, reader, app.state.study))

    @app.post(f"{BASE}/forget")
    def forget(request: Request, nonce: str = Form(""), reader: Reader = Depends(current_reader)):
        """ "Not you?": this browser forgets the reader (nothing in the study changes)."""
        if not check_nonce(app.state.secret, nonce, "forget", reader.id):
            raise HTTPException(403, "Form expired; reload the page.")
        resp = _redirect("/")
        resp.delete_cookie(READER_COOKIE)
        return resp

    @app.get(f"{BASE}/consent", response_class=HTMLResponse)
    def consent_page(
        request: Request, reader: Reader = Depends(current_reader), db: Session = Depends(get_db)
    ):
        _refuse_if_closed(db, app.state.study)
        return _consent(request, reader, db, None, 200)

    def _consent(request: Request, reader: Reader, db: Session, error: str | None, status: int):
        ctx = {
            **_reader_ctx(request, reader),
            "backgrounds": BACKGROUNDS,
            "chosen": reader.background,
            "frozen": bool(reader.background and crud.answers_of(db, reader)),
            "nonce": crud.consent_nonce(app.state.secret, reader),
            "error": error,
            "n": len(app.state.study.image_ids),
        }
        return render(request, "consent.html", ctx, status)

    @app.post(f"{BASE}/consent")
    def consent_submit(
        request: Request,
        consent: str = Form(""),
        background: str = Form(""),
        nonce: str = Form(""),
        reader: Reader = Depends(current_reader),
        db: Session = Depends(get_db),
    ):
        try:
            crud.record_consent(db, app.state.secret, reader, consent, background, nonce)
        except crud.StudyClosed as e:
            raise HTTPException(e.status, str(e)) from None
        except crud.FormError as e:
            return _consent(request, reader, db, str(e), e.status)
        return _redirect(f"{BASE}/examples")

    @app.get(f"{BASE}/examples", response_class=HTMLResponse)
    def examples(request: Request, reader: Reader = Depends(current_reader), db: Session = Depends(get_db)):
        if reader.consented_at is None:
            return _redirect(f"{BASE}/consent")
        study = app.state.study
        answered = set(crud.answers_of(db, reader))
        groups = [
            (label, [e for e, lbl in study.examples if lbl == label])
            for label in ("melanoma", "not_melanoma")
        ]
        ctx = {
            **_reader_ctx(request, reader),
            "groups": groups,
            "start": _next_url(crud.reader_order(reader, study.image_ids), answered),
        }
        return render(request, "examples.html", ctx)

    def _question(
        request: Request, reader: Reader, db: Session, pos: int, error: str | None = None, status: int = 200
    ):
        study = app.state.study
        order = crud.reader_order(reader, study.image_ids)
        image_id = order[pos - 1]
        answers = crud.answers_of(db, reader)
        current = answers.get(image_id)
        ctx = {
            **_reader_ctx(request, reader),
            "pos": pos,
            "n": len(order),
            "answered": len(answers),
            "image_id": image_id,
            "answer": current,
            "nonce": crud.answer_nonce(
                app.state.secret, reader, image_id, current.revision if current else 0
            ),
            "error": error,
        }
        return render(request, "question.html", ctx, status)

    @app.get(f"{BASE}/q/{{pos}}", response_class=HTMLResponse)
    def question(
        request: Request, pos: str, reader: Reader = Depends(current_reader), db: Session = Depends(get_db)
    ):
        p = _position(pos, len(app.state.study.image_ids))
        if reader.consented_at is None:
            return _redirect(f"{BASE}/consent")
        _refuse_if_closed(db, app.state.study)
        return _question(request, reader, db, p)

    @app.post(f"{BASE}/q/{{pos}}")
    def answer(
        request: Request,
        pos: str,
        image_id: str = Form(""),
        nonce: str = Form(""),
        diagnosis: str = Form(""),
        synthetic: str = Form(""),
        certainty: str = Form(""),
        reader: Reader = Depends(current_reader),
        db: Session = Depends(get_db),
    ):
        _refuse_if_closed(db, app.state.study)
        if reader.consented_at is None:
            raise HTTPException(403, "Please give your consent first.")
        order = crud.reader_order(reader, app.state.study.image_ids)
        if (
            not re.fullmatch(r"[0-9]{1,6}", pos)
            or not 1 <= int(pos) <= len(order)
            or image_id != order[int(pos) - 1]
        ):
            raise HTTPException(400, "This image is not part of your study at this position.")
        p = int(pos)
        try:
            form = crud.parse_answer(diagnosis, synthetic, certainty)
            crud.save_answer(db, app.state.secret, reader, image_id, form, nonce)
        except crud.StudyClosed as e:
            raise HTTPException(e.status, str(e)) from None
        except crud.FormError as e:
            return _question(request, reader, db, p, str(e), e.status)
        answered = set(crud.answers_of(db, reader))
        return _redirect(_next_url(order, answered, p))

    @app.get(f"{BASE}/done", response_class=HTMLResponse)
    def done(request: Request, reader: Reader = Depends(current_reader), db: Session = Depends(get_db)):
        study = app.state.study
        order = crud.reader_order(reader, study.image_ids)
        answered = set(crud.answers_of(db, reader))
        missing = [i for i, image_id in enumerate(order, 1) if image_id not in answered]
        ctx = {
            **_reader_ctx(request, reader),
            "missing": missing,
            "n": len(order),
            "closed": crud.is_closed(db, study.study_id),
        }
        return render(request, "done.html", ctx)

    @app.get(f"{BASE}/image/{{image_id}}")
    def image(image_id: str, reader: Reader = Depends(current_reader)):
        return _image_response(app.state.study.image_path(image_id))

    @app.get(f"{BASE}/example/{{example_id}}")
    def example(example_id: str, reader: Reader = Depends(current_reader)):
        return _image_response(app.state.study.example_path(example_id))


# ---------------------------------------------------------------- admin pages


def _admin_routes(app: FastAPI) -> None:
    @app.get("/admin/login", response_class=HTMLResponse)
    def login_page(request: Request):
        return render(request, "admin_login.html", {"error": None})

    @app.post("/admin/login")
    def login(request: Request, password: str = Form(""), db: Session = Depends(get_db)):
        if not _password_attempt(request, password):  # charged before the password is looked at
            return render(request, "admin_login.html", {"error": "Wrong password."}, 401)
        resp = _redirect("/admin")
        if _device(request) is None:  # this browser may log in again even while others guess
            resp.set_cookie(
                DEVICE_COOKIE,
                sign(app.state.secret, new_secret()[:32]),
                max_age=DEVICE_MAX_AGE,
                httponly=True,
                samesite="strict",
                secure=app.state.settings.secure_cookies,
                path="/admin",
            )
        resp.set_cookie(
            ADMIN_COOKIE,
            crud.create_admin_session(db, ADMIN_MAX_AGE),
            max_age=ADMIN_MAX_AGE,
            httponly=True,
            samesite="strict",
            secure=app.state.settings.secure_cookies,
            path="/admin",
        )
        return resp

    @app.post("/admin/logout", dependencies=[Depends(require_admin)])
    def logout(request: Request, nonce: str = Form(""), db: Session = Depends(get_db)):
        _check_admin_nonce(request, nonce)
        crud.end_admin_session(db, request.cookies.get(ADMIN_COOKIE))
        resp = _redirect("/admin/login")
        resp.delete_cookie(ADMIN_COOKIE, path="/admin")
        return resp

    @app.get("/admin", response_class=HTMLResponse, dependencies=[Depends(require_admin)])
    def dashboard(request: Request, db: Session = Depends(get_db)):
        study = app.state.study
        rows = crud.progress_rows(db, study.study_id, len(study.image_ids))
        ctx = {
            "rows": rows,
            "study_id": study.study_id,
            "n": len(study.image_ids),
            "nonce": admin_nonce(request),
            "closed": crud.is_closed(db, study.study_id),
            "leak": _leak_summary(study),
        }
        return render(request, "admin.html", ctx)

    @app.post("/admin/invite", response_class=HTMLResponse, dependencies=[Depends(require_admin)])
    def invite(
        request: Request,
        count: str = Form("1"),
        note: str = Form(""),
        nonce: str = Form(""),
        db: Session = Depends(get_db),
    ):
        _check_admin_nonce(request, nonce)
        if not re.fullmatch(r"[0-9]{1,4}", count.strip()):
            raise HTTPException(400, "Number of invitations must be a whole number.")
        base = app.state.settings.public_url
        if not base:
            if (request.url.hostname or "") not in LOCAL_HOSTS:
                raise HTTPException(
                    400, "Set --public-url: invitation links are not built from the Host header of a request."
                )
            base = str(request.base_url)
        try:
            created = crud.create_invitations(db, app.state.study.study_id, int(count), note)
        except crud.StudyClosed as e:
            raise HTTPException(e.status, str(e)) from None
        except ValueError as e:
            raise HTTPException(400, str(e)) from None
        links = [(r.public_id, f"{base.rstrip('/')}/r/{t}") for r, t in created]
        return render(request, "admin_invites.html", {"links": links, "note": note})

    @app.post("/admin/revoke", dependencies=[Depends(require_admin)])
    def revoke(
        request: Request, reader_id: str = Form(""), nonce: str = Form(""), db: Session = Depends(get_db)
    ):
        _check_admin_nonce(request, nonce)
        try:
            crud.revoke(db, app.state.study.study_id, reader_id)
        except crud.FormError as e:
            raise HTTPException(e.status, str(e)) from None
        return _redirect("/admin")

    @app.post("/admin/close", dependencies=[Depends(require_admin)])
    def close(request: Request, nonce: str = Form(""), db: Session = Depends(get_db)):
        _check_admin_nonce(request, nonce)
        crud.set_closed(db, app.state.study.study_id, True)
        return _redirect("/admin")

    @app.post("/admin/reopen", dependencies=[Depends(require_admin)])
    def reopen(request: Request, nonce: str = Form(""), db: Session = Depends(get_db)):
        _check_admin_nonce(request, nonce)
        crud.set_closed(db, app.state.study.study_id, False)
        return _redirect("/admin")

    @app.get("/admin/export/responses.csv", dependencies=[Depends(require_admin)])
    def export_responses(db: Session = Depends(get_db)):
        rows = crud.export_responses(db, app.state.study.study_id)
        return _csv(responses_text(rows), RESPONSES_CSV)

    @app.get("/admin/export/revisions.csv", dependencies=[Depends(require_admin)])
    def export_revisions(db: Session = Depends(get_db)):
        rows = crud.export_revisions(db, app.state.study.study_id)
        return _csv(revisions_text(rows), REVISIONS_CSV)

    @app.get("/admin/export/stimuli.csv", dependencies=[Depends(require_admin)])
    def export_stimuli():
        return _csv((Path(app.state.study.root) / STIMULI_CSV).read_text(), STIMULI_CSV)


def _leak_summary(study: Study) -> str | None:
    """A warning line when the study's leak check did not pass (a study built with --pixel-leaks warn)."""
    import json

    p = Path(study.root) / "leakcheck.json"
    if not p.exists():
        return "This study has no leak check (leakcheck.json); run `dermsynth survey leakcheck`."
    rep = json.loads(p.read_text())
    return None if rep.get("passed") else f"The leak check of this study FAILED: {rep.get('failures')}"


def _csv(text: str, name: str) -> PlainTextResponse:
    return PlainTextResponse(
        text, media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
