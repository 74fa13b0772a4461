"""The reader-study app through its HTTP interface (FastAPI TestClient, temp SQLite file):
reader flow and resume, per-reader order, blinding, token isolation, admin auth, injection, replay,
and each attack of issue 16 (password guessing, answers after closing, revoked links, rewritten
history, token in logs and URLs, Host-header links, bad values) reproduced and now refused."""

from __future__ import annotations

import base64
import re

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select

from dermsynth.survey import crud
from dermsynth.survey.analyze import analyze
from dermsynth.survey.app import ADMIN_COOKIE, Settings, create_app, get_db
from dermsynth.survey.db import init_db, make_engine, session_factory
from dermsynth.survey.encode import png_chunks
from dermsynth.survey.models import Answer
from dermsynth.survey.responses import RESPONSE_COLUMNS
from dermsynth.survey.security import sign, unsign
from survey_helpers import (
    admin_login,
    answer,
    as_reader,
    consent,
    copy_study,
    hidden,
    invite_tokens,
    make_study,
)

N = 8


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return make_study(tmp_path_factory.mktemp("survey"), n=N, examples_per_class=1)


@pytest.fixture
def study(built, tmp_path):
    """This test's own copy of the study (a study folder records its one database)."""
    return copy_study(built, tmp_path / "study")


@pytest.fixture
def app(study, tmp_path):
    return create_app(
        Settings(
            study_dir=study,
            admin_password="pw",
            db_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
            public_url="https://survey.example.org",
        )
    )


@pytest.fixture
def admin(app):
    return TestClient(app)


def reader_client(app):
    return TestClient(app)


def db_answers(app) -> list[Answer]:
    with app.state.sessions() as s:
        return list(s.scalars(select(Answer)))


def test_full_flow_resume_and_export(app, admin, study, tmp_path):
    (token,) = invite_tokens(admin, 1)
    c = reader_client(app)
    r = c.get(f"/r/{token}")
    assert r.url.path == "/s/consent" and "Your background" in r.text and token not in r.text
    r = consent(c, token)
    assert r.url.path == "/s/examples"
    assert len(re.findall(r'src="/s/example/[0-9a-f]+"', r.text)) == 2
    for pos in range(1, 4):
        r, *_ = answer(c, token, pos, certainty=str(pos))
        assert r.status_code == 303 and r.headers["location"] == f"/s/q/{pos + 1}"
    # the browser is closed: a fresh client resumes from the link, and the cookie alone offers to
    # continue at / (with "not you?": a shared computer must not continue as the last reader)
    c2 = reader_client(app)
    r = c2.get(f"/r/{token}")
    assert r.url.path == "/s/q/4"
    home = c2.get("/")
    assert home.url.path == "/" and 'href="/s/q/4"' in home.text and "Not you?" in home.text
    assert "3 of 8 images answered" in home.text
    page = c2.get("/s/q/2").text  # back: the saved answer is shown
    assert 'value="2" required checked' in page and "3 answered" in page
    for pos in range(4, N + 1):
        r, *_ = answer(c2, token, pos, diagnosis="not_melanoma", synthetic="no", certainty="5")
    assert r.headers["location"].endswith("/done")
    assert "Thank you" in c2.get(r.headers["location"]).text
    # admin export: one row per image, the columns of the issue, values of this reader
    r = admin.get("/admin/export/responses.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.splitlines()
    assert lines[0] == ",".join(RESPONSE_COLUMNS) and len(lines) == N + 1
    assert len(admin.get("/admin/export/revisions.csv").text.splitlines()) == N + 1
    stim = admin.get("/admin/export/stimuli.csv").text
    assert stim == (study / "stimuli.csv").read_text()
    assert "r0001" in admin.get("/admin").text and f"{N}/{N}" in admin.get("/admin").text
    # the export feeds the analysis as is
    (tmp_path / "responses.csv").write_text(r.text)
    (tmp_path / "stimuli.csv").write_text(stim)
    analyze(tmp_path / "responses.csv", tmp_path / "stimuli.csv", tmp_path / "analysis", n_boot=20)
    readers = pd.read_csv(tmp_path / "analysis" / "readers.csv")
    assert readers[["TP", "FP", "FN", "TN"]].sum(axis=1).tolist() == [N]
    truth = pd.read_csv(study / "stimuli.csv", dtype=str).set_index("image_id")["source"]
    said = pd.read_csv(tmp_path / "responses.csv", dtype=str).set_index("image_id")["synthetic"]
    assert readers.TP[0] == int(((truth == "synthetic") & (said.reindex(truth.index) == "yes")).sum())


def test_order_random_per_reader_and_stable_across_restart(app, admin, study, tmp_path):
    tokens = invite_tokens(admin, 3)
    orders = []
    for t in tokens:
        c = reader_client(app)
        consent(c, t)
        orders.append([hidden(c.get(f"/s/q/{p}").text)["image_id"] for p in range(1, N + 1)])
    assert all(sorted(o) == sorted(orders[0]) for o in orders)
    assert len({tuple(o) for o in orders}) > 1
    again = create_app(
        Settings(study_dir=study, admin_password="pw", db_url=f"sqlite:///{tmp_path / 'db.sqlite'}")
    )
    c = as_reader(TestClient(again), tokens[0])
    assert [hidden(c.get(f"/s/q/{p}").text)["image_id"] for p in range(1, N + 1)] == orders[0]


def _normalise(html: str, token: str) -> str:
    h = hidden(html)
    for v in h.values():
        html = html.replace(v, "X")
    return re.sub(r"\d+", "#", html.replace(token, "T"))


def test_no_page_or_image_reveals_source_or_label(app, admin, study):
    (token,) = invite_tokens(admin, 1)
    c = reader_client(app)
    consent(c, token)
    stim = pd.read_csv(study / "stimuli.csv", dtype=str).set_index("image_id")
    pages, heads, bodies = {}, [], []
    for pos in range(1, N + 1):
        r = c.get(f"/s/q/{pos}")
        assert token not in r.text
        image_id = hidden(r.text)["image_id"]
        pages[stim.loc[image_id, "source"] + stim.loc[image_id, "label"] + str(pos)] = _normalise(
            r.text, token
        )
        for origin in stim["origin"]:
            assert origin not in r.text
        img = c.get(f"/s/image/{image_id}")
        assert img.status_code == 200
        heads.append({k: v for k, v in img.headers.items() if k != "date"})
        bodies.append(img.content)
        assert png_chunks(img.content) == [b"IHDR", b"IDAT", b"IEND"]
    # pages 2..N (page 1 has no Back link): real/synthetic, melanoma/not, the same page but for ids
    later = {k: v for k, v in pages.items() if int(re.sub(r"\D", "", k)) > 1}
    assert {k.startswith("real") for k in later} == {True, False}
    assert len(set(later.values())) == 1
    assert all(h == heads[0] for h in heads) and heads[0]["content-type"] == "image/png"
    assert len({len(b) for b in bodies}) == 1
    for path in (
        "/stimuli.csv",
        "/static/../stimuli.csv",
        "/s/image/..%2Fstimuli.csv",
        "/study.json",
        f"/s/image/{'0' * 16}",
        "/admin/export/stimuli.csv",
        "/docs",
        "/openapi.json",
    ):
        r = c.get(path, follow_redirects=False)
        assert r.status_code in (401, 404), path
        assert "origin" not in r.text and "synthetic,melanoma" not in r.text


def test_security_headers_and_self_hosted(app, admin):
    (token,) = invite_tokens(admin, 1)
    c = as_reader(reader_client(app), token)
    r = c.get("/s/consent")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["referrer-policy"] == "no-referrer" and r.headers["cache-control"] == "no-store"
    assert not re.search(r'(src|href)="(https?:)?//', r.text)
    assert c.get("/static/survey.css").status_code == 200 and c.get("/static/survey.js").status_code == 200
    assert (
        'name="viewport"' in r.text and "<fieldset>" in r.text and '<label for="bg-dermatologist">' in r.text
    )


def test_token_gives_access_to_own_answers_only(app, admin):
    ta, tb = invite_tokens(admin, 2)
    a, b = reader_client(app), reader_client(app)
    consent(a, ta)
    consent(b, tb)
    _, img_a, nonce_a = answer(a, ta, 1, certainty="1")
    # B's pages never show A's answers; B cannot write A's answer with A's nonce or image
    page_b = b.get("/s/q/1").text
    img_b = hidden(page_b)["image_id"]
    assert "checked" not in page_b
    data = {"diagnosis": "melanoma", "synthetic": "no", "certainty": "5"}
    r = b.post("/s/q/1", data={**data, "image_id": img_b, "nonce": nonce_a}, follow_redirects=False)
    assert r.status_code == 409
    pos_a_in_b = next(p for p in range(1, N + 1) if hidden(b.get(f"/s/q/{p}").text)["image_id"] == img_a)
    r = b.post(
        f"/s/q/{pos_a_in_b}", data={**data, "image_id": img_a, "nonce": nonce_a}, follow_redirects=False
    )
    assert r.status_code == 409
    # a guessed or malformed token opens nothing, as a link or as a cookie
    for bad in ("x" * 32, ta[:-1] + ("A" if ta[-1] != "A" else "B"), "' OR '1'='1"):
        assert a.get(f"/r/{bad}").status_code == 404
        c = TestClient(app, cookies={"dermsynth_reader": bad})
        assert c.get("/s/q/1").status_code == 403
        assert c.post("/s/q/1", data={**data, "image_id": img_a, "nonce": nonce_a}).status_code == 403
    assert TestClient(app).get("/s/q/1").status_code == 403
    rows = db_answers(app)
    assert len(rows) == 1 and rows[0].certainty == 1


def test_admin_needs_password(app, admin):
    c = TestClient(app)
    r = c.get("/admin", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/login"
    assert c.get("/admin/export/responses.csv").status_code == 401
    assert c.post("/admin/invite", data={"count": "1"}, follow_redirects=False).status_code == 303
    assert c.post("/admin/login", data={"password": "wrong"}).status_code == 401
    basic = {"Authorization": "Basic " + base64.b64encode(b"admin:pw").decode()}
    wrong = {"Authorization": "Basic " + base64.b64encode(b"admin:pwx").decode()}
    other_user = {"Authorization": "Basic " + base64.b64encode(b"root:pw").decode()}
    assert c.get("/admin/export/responses.csv", headers=basic).status_code == 200
    assert c.get("/admin/export/revisions.csv", headers=basic).status_code == 200
    assert c.get("/admin/export/responses.csv", headers=wrong).status_code == 401
    assert c.get("/admin/export/responses.csv", headers=other_user).status_code == 401  # user must be admin
    # Basic is for exports only: not for pages, nor for state changes (CSRF); a forged cookie is refused
    assert c.get("/admin", headers=basic, follow_redirects=False).status_code == 303
    assert (
        c.post("/admin/invite", data={"count": "1"}, headers=basic, follow_redirects=False).status_code == 303
    )
    c.cookies.set(ADMIN_COOKIE, sign("not-the-secret", "admin"), path="/admin")
    assert c.get("/admin", follow_redirects=False).status_code == 303
    # a logged-in admin still needs the form nonce
    nonce = admin_login(admin)
    assert admin.post("/admin/invite", data={"count": "1", "nonce": "x"}).status_code == 403
    assert admin.post("/admin/invite", data={"count": "1", "nonce": nonce}).status_code == 200
    assert unsign("s", sign("s", "admin", now=0), max_age=10, now=100) is None


INJECTIONS = [
    "'; DROP TABLE answers; --",
    "<script>alert(1)</script>",
    '" onmouseover="alert(1)',
    "1 OR 1=1",
    "%00",
]


def test_injection_in_every_field_is_harmless(app, admin):
    nonce = admin_login(admin)
    for evil in INJECTIONS:
        r = admin.post("/admin/invite", data={"count": "1", "note": evil, "nonce": nonce})
        assert r.status_code == 200 and "<script>alert" not in r.text
        assert (
            admin.post("/admin/invite", data={"count": evil, "note": "", "nonce": nonce}).status_code == 400
        )
    page = admin.get("/admin").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert "&#34; onmouseover=&#34;" in page or "&quot; onmouseover" in page
    token = invite_tokens(admin, 1)[0]
    c = as_reader(reader_client(app), token)
    p = hidden(c.get("/s/consent").text)
    for evil in INJECTIONS:
        r = c.post("/s/consent", data={"consent": "yes", "background": evil, "nonce": p["nonce"]})
        assert r.status_code == 400 and "<script>alert" not in r.text
    consent(c, token)
    h = hidden(c.get("/s/q/1").text)
    good = {
        "image_id": h["image_id"],
        "nonce": h["nonce"],
        "diagnosis": "melanoma",
        "synthetic": "yes",
        "certainty": "2",
    }
    for field in good:
        for evil in INJECTIONS:
            r = c.post("/s/q/1", data={**good, field: evil}, follow_redirects=False)
            assert r.status_code in (400, 409) and "<script>alert" not in r.text, (field, evil)
    assert db_answers(app) == []
    with app.state.sessions() as s:
        assert {"answers", "readers"} <= set(inspect(s.get_bind()).get_table_names())
    assert c.post("/s/q/1", data=good, follow_redirects=False).status_code == 303


def test_replay_and_forgery_rejected(app, admin):
    (token,) = invite_tokens(admin, 1)
    c = reader_client(app)
    consent(c, token)
    h = hidden(c.get("/s/q/1").text)
    form = {
        "image_id": h["image_id"],
        "nonce": h["nonce"],
        "diagnosis": "melanoma",
        "synthetic": "yes",
        "certainty": "4",
    }
    assert c.post("/s/q/1", data=form, follow_redirects=False).status_code == 303
    # identical resubmission (double click / retry): accepted, nothing duplicated
    assert c.post("/s/q/1", data=form, follow_redirects=False).status_code == 303
    assert len(db_answers(app)) == 1
    # the reader changes the answer through a fresh form; then the old form is replayed with other values
    r, _, _ = answer(c, token, 1, synthetic="no", certainty="1")
    assert r.status_code == 303
    assert c.post("/s/q/1", data={**form, "certainty": "5"}, follow_redirects=False).status_code == 409
    # forged nonce, unknown / misplaced image ids, out-of-range values
    bad = [
        {"nonce": "forged"},
        {"nonce": ""},
        {"image_id": "0" * 16},
        {"image_id": hidden(c.get("/s/q/2").text)["image_id"]},
        {"certainty": "6"},
        {"certainty": "0"},
        {"certainty": "3.5"},
        {"certainty": "\u00b3"},  # superscript three: isdigit() but not int() (was a 500)
        {"certainty": "\u0663"},  # Arabic-Indic three
        {"certainty": ""},
        {"diagnosis": "nevus"},
        {"synthetic": "maybe"},
    ]
    fresh = hidden(c.get("/s/q/1").text)
    for change in bad:
        data = {**form, "nonce": fresh["nonce"], **change}
        r = c.post("/s/q/1", data=data, follow_redirects=False)
        assert r.status_code in (400, 409) and r.headers["content-type"].startswith("text/html"), change
    for pos in (str(N + 1), "0", "1.5", "abc", "\u00b9"):
        r = c.post(f"/s/q/{pos}", data=form)
        assert r.status_code == 400 and r.headers["content-type"].startswith("text/html"), pos
        r = c.get(f"/s/q/{pos}")  # was a JSON 422 for non-integers
        assert r.status_code == 404 and "<h1>Sorry</h1>" in r.text, pos
    rows = db_answers(app)
    assert len(rows) == 1 and (rows[0].synthetic, rows[0].certainty, rows[0].revision) == ("no", 1, 2)


def test_answers_need_consent(app, admin):
    (token,) = invite_tokens(admin, 1)
    c = as_reader(reader_client(app), token)
    assert c.get("/s/q/1").url.path == "/s/consent"
    r = c.post(
        "/s/q/1",
        data={
            "image_id": "0" * 16,
            "nonce": "x",
            "diagnosis": "melanoma",
            "synthetic": "yes",
            "certainty": "3",
        },
    )
    assert r.status_code == 403
    r = c.post(
        "/s/consent",
        data={
            "consent": "",
            "background": "dermatologist",
            "nonce": hidden(c.get("/s/consent").text)["nonce"],
        },
    )
    assert r.status_code == 400 and "consent" in r.text


def test_db_session_dependency_override(app, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'other.sqlite'}")
    init_db(engine)
    sessions = session_factory(engine)
    with sessions() as s:
        ((_, token),) = crud.create_invitations(s, app.state.study.study_id, 1)

    def other_db():
        with sessions() as s:
            yield s

    c = TestClient(app)
    assert c.get(f"/r/{token}").status_code == 404  # not in the app's own database
    app.dependency_overrides[get_db] = other_db
    try:
        assert c.get(f"/r/{token}").url.path == "/s/consent"
    finally:
        app.dependency_overrides.clear()


def test_sqlite_defaults(app):
    with app.state.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
