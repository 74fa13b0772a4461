"""The reader-study web app: ``create_app(settings)`` (DESIGN.md 3.12, fastapi full-stack template).

Server-rendered Jinja2 pages, no JavaScript needed, nothing loaded from outside the server. Readers
reach everything through ``/r/{token}/...`` (token from the invitation link, also kept in an HttpOnly
cookie so that ``/`` resumes); images are served under opaque ids with identical headers. Admin pages
sit behind a password (form login with a signed cookie, or HTTP Basic for GET exports). The DB session
is the dependency :func:`get_db`, which tests override; the logic lives in :mod:`.crud`.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from dermsynth.survey import crud
from dermsynth.survey.db import init_db, make_engine, session_factory, sqlite_url
from dermsynth.survey.encode import STIMULUS_MEDIA_TYPE
from dermsynth.survey.models import BACKGROUNDS, Reader
from dermsynth.survey.security import check_nonce, check_password, form_nonce, sign, unsign
from dermsynth.survey.study import DEFAULT_DB, STIMULI_CSV, Study, load_study

HERE = Path(__file__).parent
READER_COOKIE = "dermsynth_reader"
ADMIN_COOKIE = "dermsynth_admin"
ADMIN_MAX_AGE = 12 * 3600
LOGIN_FAIL_DELAY = 0.5
READER_MAX_AGE = 180 * 24 * 3600
#: Every stimulus and example is served with exactly these headers (plus an identical length).
IMAGE_HEADERS = {"Cache-Control": "private, max-age=86400"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class Settings:
    """Server settings; ``db_url`` defaults to ``sqlite:///STUDY/study.db``."""

    study_dir: Path
    admin_password: str
    db_url: str | None = None
    secret_key: str | None = None
    secure_cookies: bool = False
    public_url: str | None = None  # base of invitation links, e.g. https://survey.example.org/

    def resolved_db_url(self) -> str:
        return self.db_url or sqlite_url(Path(self.study_dir) / DEFAULT_DB)


# ---------------------------------------------------------------- dependencies


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def get_study(request: Request) -> Study:
    return request.app.state.study


def get_secret(request: Request) -> str:
    return request.app.state.secret


def current_reader(token: str, db: Session = Depends(get_db), study: Study = Depends(get_study)) -> Reader:
    reader = crud.reader_by_token(db, study.study_id, token)
    if reader is None:
        raise HTTPException(404, "This invitation link is not valid. Please check the link you were sent.")
    return reader


def _basic_password(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("basic "):
        return None
    try:
        _, _, pw = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return pw


def is_admin(request: Request) -> bool:
    s = request.app.state
    if unsign(s.secret, request.cookies.get(ADMIN_COOKIE), ADMIN_MAX_AGE) == "admin":
        return True
    return request.method == "GET" and check_password(_basic_password(request), s.settings.admin_password)


def require_admin(request: Request) -> None:
    if not is_admin(request):
        if request.url.path.startswith("/admin/export"):
            raise HTTPException(
                401, "Admin password required.", headers={"WWW-Authenticate": 'Basic realm="admin"'}
            )
        raise HTTPException(303, "login required", headers={"Location": "/admin/login"})


def admin_nonce(request: Request) -> str:
    return form_nonce(request.app.state.secret, "admin", request.cookies.get(ADMIN_COOKIE, ""))


# ---------------------------------------------------------------- app factory


def create_app(settings: Settings) -> FastAPI:
    """Build the app: load the study, open (and create) the database, wire routes."""
    if not settings.admin_password:
        raise ValueError(
            "an admin password is required (--admin-password or DERMSYNTH_SURVEY_ADMIN_PASSWORD)"
        )
    study = load_study(settings.study_dir)
    engine = make_engine(settings.resolved_db_url())
    init_db(engine)
    sessions = session_factory(engine)
    with sessions() as s:
        secret = settings.secret_key or os.environ.get("DERMSYNTH_SURVEY_SECRET") or crud.get_secret(s)

    app = FastAPI(title="dermsynth reader study", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings, app.state.study, app.state.engine = settings, study, engine
    app.state.sessions, app.state.secret = sessions, secret
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
            return RedirectResponse(exc.headers["Location"], status_code=303)
        return render(request, "error.html", {"message": exc.detail}, exc.status_code, exc.headers)

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


# ---------------------------------------------------------------- reader pages


def _next_url(base: str, order: list[str], answered: set[str], pos: int | None = None) -> str:
    """After ``pos`` (1-based): the next position, else the first unanswered one, else the end page."""
    if pos is not None and pos < len(order):
        return f"{base}/q/{pos + 1}"
    for i, image_id in enumerate(order, 1):
        if image_id not in answered:
            return f"{base}/q/{i}"
    return f"{base}/done"


def _reader_routes(app: FastAPI) -> None:
    @app.get("/", response_class=HTMLResponse)
    def landing(request: Request, db: Session = Depends(get_db), study: Study = Depends(get_study)):
        token = request.cookies.get(READER_COOKIE)
        if token and crud.reader_by_token(db, study.study_id, token):
            return _redirect(f"/r/{token}")
        return render(request, "landing.html", {})

    @app.get("/r/{token}")
    def resume(token: str, reader: Reader = Depends(current_reader), db: Session = Depends(get_db)):
        base = f"/r/{token}"
        if reader.consented_at is None:
            url = f"{base}/consent"
        else:
            answered = set(crud.answers_of(db, reader))
            study = app.state.study
            url = (
                f"{base}/examples"
                if not answered
                else _next_url(base, crud.reader_order(reader, study.image_ids), answered)
            )
        resp = _redirect(url)
        resp.set_cookie(
            READER_COOKIE,
            token,
            max_age=READER_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=app.state.settings.secure_cookies,
        )
        return resp

    @app.get("/r/{token}/consent", response_class=HTMLResponse)
    def consent_page(request: Request, token: str, reader: Reader = Depends(current_reader)):
        return _consent(request, token, reader, None, 200)

    def _consent(request: Request, token: str, reader: Reader, error: str | None, status: int):
        ctx = {
            "base": f"/r/{token}",
            "backgrounds": BACKGROUNDS,
            "chosen": reader.background,
            "nonce": crud.consent_nonce(app.state.secret, reader),
            "error": error,
            "n": len(app.state.study.image_ids),
        }
        return render(request, "consent.html", ctx, status)

    @app.post("/r/{token}/consent")
    def consent_submit(
        request: Request,
        token: str,
        consent: str = Form(""),
        background: str = Form(""),
        nonce: str = Form(""),
        reader: Reader = Depends(current_reader),
        db: Session = Depends(get_db),
    ):
        try:
            crud.record_consent(db, app.state.secret, reader, consent, background, nonce)
        except crud.FormError as e:
            return _consent(request, token, reader, str(e), e.status)
        return _redirect(f"/r/{token}/examples")

    @app.get("/r/{token}/examples", response_class=HTMLResponse)
    def examples(
        request: Request, token: str, reader: Reader = Depends(current_reader), db: Session = Depends(get_db)
    ):
        if reader.consented_at is None:
            return _redirect(f"/r/{token}/consent")
        study = app.state.study
        answered = set(crud.answers_of(db, reader))
        groups = [
            (label, [e for e, lbl in study.examples if lbl == label])
            for label in ("melanoma", "not_melanoma")
        ]
        ctx = {
            "base": f"/r/{token}",
            "groups": groups,
            "start": _next_url(f"/r/{token}", crud.reader_order(reader, study.image_ids), answered),
        }
        return render(request, "examples.html", ctx)

    def _question(
        request: Request,
        token: str,
        reader: Reader,
        db: Session,
        pos: int,
        error: str | None = None,
        status: int = 200,
    ):
        study = app.state.study
        order = crud.reader_order(reader, study.image_ids)
        if not 1 <= pos <= len(order):
            raise HTTPException(404, "No such question.")
        image_id = order[pos - 1]
        answers = crud.answers_of(db, reader)
        current = answers.get(image_id)
        ctx = {
            "base": f"/r/{token}",
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

    @app.get("/r/{token}/q/{pos}", response_class=HTMLResponse)
    def question(
        request: Request,
        token: str,
        pos: int,
        reader: Reader = Depends(current_reader),
        db: Session = Depends(get_db),
    ):
        if reader.consented_at is None:
            return _redirect(f"/r/{token}/consent")
        return _question(request, token, reader, db, pos)

    @app.post("/r/{token}/q/{pos}")
    def answer(
        request: Request,
        token: str,
        pos: int,
        image_id: str = Form(""),
        nonce: str = Form(""),
        diagnosis: str = Form(""),
        synthetic: str = Form(""),
        certainty: str = Form(""),
        reader: Reader = Depends(current_reader),
        db: Session = Depends(get_db),
    ):
        if reader.consented_at is None:
            raise HTTPException(403, "Please give your consent first.")
        order = crud.reader_order(reader, app.state.study.image_ids)
        if not 1 <= pos <= len(order) or image_id != order[pos - 1]:
            raise HTTPException(400, "This image is not part of your study at this position.")
        try:
            form = crud.parse_answer(diagnosis, synthetic, certainty)
            crud.save_answer(db, app.state.secret, reader, image_id, form, nonce)
        except crud.FormError as e:
            return _question(request, token, reader, db, pos, str(e), e.status)
        answered = set(crud.answers_of(db, reader))
        return _redirect(_next_url(f"/r/{token}", order, answered, pos))

    @app.get("/r/{token}/done", response_class=HTMLResponse)
    def done(
        request: Request, token: str, reader: Reader = Depends(current_reader), db: Session = Depends(get_db)
    ):
        study = app.state.study
        order = crud.reader_order(reader, study.image_ids)
        answered = set(crud.answers_of(db, reader))
        missing = [i for i, image_id in enumerate(order, 1) if image_id not in answered]
        return render(request, "done.html", {"base": f"/r/{token}", "missing": missing, "n": len(order)})

    @app.get("/r/{token}/image/{image_id}")
    def image(token: str, image_id: str, reader: Reader = Depends(current_reader)):
        return _image_response(app.state.study.image_path(image_id))

    @app.get("/r/{token}/example/{example_id}")
    def example(token: str, example_id: str, reader: Reader = Depends(current_reader)):
        return _image_response(app.state.study.example_path(example_id))


# ---------------------------------------------------------------- admin pages


def _admin_routes(app: FastAPI) -> None:
    @app.get("/admin/login", response_class=HTMLResponse)
    def login_page(request: Request):
        return render(request, "admin_login.html", {"error": None})

    @app.post("/admin/login")
    def login(request: Request, password: str = Form("")):
        if not check_password(password, app.state.settings.admin_password):
            time.sleep(LOGIN_FAIL_DELAY)  # slows password guessing (per request thread)
            return render(request, "admin_login.html", {"error": "Wrong password."}, 401)
        resp = _redirect("/admin")
        resp.set_cookie(
            ADMIN_COOKIE,
            sign(app.state.secret, "admin"),
            max_age=ADMIN_MAX_AGE,
            httponly=True,
            samesite="strict",
            secure=app.state.settings.secure_cookies,
            path="/admin",
        )
        return resp

    @app.post("/admin/logout", dependencies=[Depends(require_admin)])
    def logout(request: Request, nonce: str = Form("")):
        if not check_nonce(app.state.secret, nonce, "admin", request.cookies.get(ADMIN_COOKIE, "")):
            raise HTTPException(403, "Form expired; reload the page.")
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
        if not check_nonce(app.state.secret, nonce, "admin", request.cookies.get(ADMIN_COOKIE, "")):
            raise HTTPException(403, "Form expired; reload the page.")
        if not count.strip().isdigit():
            raise HTTPException(400, "Number of invitations must be a whole number.")
        try:
            created = crud.create_invitations(db, app.state.study.study_id, int(count), note)
        except ValueError as e:
            raise HTTPException(400, str(e)) from None
        base = (app.state.settings.public_url or str(request.base_url)).rstrip("/")
        links = [(r.public_id, f"{base}/r/{t}") for r, t in created]
        return render(request, "admin_invites.html", {"links": links, "note": note})

    @app.get("/admin/export/responses.csv", dependencies=[Depends(require_admin)])
    def export_responses(db: Session = Depends(get_db)):
        study = app.state.study
        rows = crud.export_responses(db, study.study_id)
        return _csv(crud.to_csv(rows, crud.RESPONSE_COLUMNS), "responses.csv")

    @app.get("/admin/export/stimuli.csv", dependencies=[Depends(require_admin)])
    def export_stimuli():
        return _csv((Path(app.state.study.root) / STIMULI_CSV).read_text(), "stimuli.csv")


def _csv(text: str, name: str) -> PlainTextResponse:
    return PlainTextResponse(
        text, media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
