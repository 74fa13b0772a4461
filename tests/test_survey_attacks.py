"""Issue 16's attacks on the app, each reproduced and now refused: password guessing (sequential and
parallel, every auth path), answers after closing, revoked invitations, rewritten history and
background, logout that did not log out, tokens in URLs and logs, links built from the Host header,
and the next person on a shared computer continuing as the last reader."""

from __future__ import annotations

import base64
import logging
import sqlite3
import threading

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dermsynth.survey.app import ADMIN_COOKIE, RedactTokens, Settings, check_public_url, create_app
from dermsynth.survey.ratelimit import Backoff
from survey_helpers import (
    Server,
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
    return make_study(tmp_path_factory.mktemp("attacks"), n=N, examples_per_class=1)


@pytest.fixture
def study(built, tmp_path):
    """This test's own copy of the study (a study folder records its one database)."""
    return copy_study(built, tmp_path / "study")


def make_app(study, tmp_path, **kw):
    kw.setdefault("public_url", "https://survey.example.org")
    return create_app(
        Settings(study_dir=study, admin_password="pw", db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", **kw)
    )


@pytest.fixture
def app(study, tmp_path):
    return make_app(study, tmp_path)


def freeze(app, t: float = 5000.0) -> None:
    """Stop the limiters' clocks, so that no lock runs out while a loaded machine is slow."""
    app.state.limits.set_clock(lambda: t)


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_backoff_charges_before_checking_and_doubles():
    clock = Clock()
    b = Backoff(free=3, base=1.0, cap=8.0, clock=clock)
    assert [b.begin("k") for _ in range(4)] == [0, 0, 0, 0]  # 3 free, the 4th starts a 1 s lock
    assert b.begin("k") == pytest.approx(1.0)  # refused without being charged
    clock.t += 1.0
    assert b.begin("k") == 0 and b.begin("k") == pytest.approx(2.0)  # 5th attempt: 2 s
    clock.t += 2.0
    b.begin("k")
    assert b.begin("k") == pytest.approx(4.0)
    for _ in range(5):
        clock.t += 100
        b.begin("k")
    assert b.begin("k") == pytest.approx(8.0)  # capped
    b.success("k")
    assert b.begin("k") == 0 and b.charged("k") == 1
    assert b.begin("other") == 0  # keys are independent
    # failures-only mode (reader links): checks charge nothing, failures do; history decays
    f = Backoff(free=2, base=1.0, clock=clock, forget_after=60)
    assert all(f.check("ip") == 0 for _ in range(10))
    for _ in range(3):
        f.failure("ip")
    assert f.check("ip") == pytest.approx(1.0)
    clock.t += 61
    assert f.check("ip") == 0 and f.charged("ip") == 0


def test_parallel_password_guessing_is_throttled(app):
    """The old 0.5 s sleep slowed one thread; 40 parallel guesses all got an answer. Now at most the
    free attempts reach the password check; the rest get 429 with Retry-After."""
    results: list[int] = []
    lock = threading.Lock()
    freeze(app)

    def guess(i: int) -> None:
        r = TestClient(app).post("/admin/login", data={"password": f"guess{i}"})
        with lock:
            results.append(r.status_code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(401) == 4 and results.count(429) == 36
    # while locked even the right password is not looked at; the lock ends, and backs off further
    c = TestClient(app)
    r = c.post("/admin/login", data={"password": "pw"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    app.state.limits.set_clock(lambda: 1e12)
    assert c.post("/admin/login", data={"password": "pw"}, follow_redirects=False).status_code == 303


@pytest.mark.parametrize("path", ["basic", "cookie", "form"])
def test_every_admin_auth_path_is_throttled(app, path):
    freeze(app)
    c = TestClient(app)
    codes = []
    for i in range(8):
        if path == "basic":
            h = {"Authorization": "Basic " + base64.b64encode(f"admin:guess{i}".encode()).decode()}
            codes.append(c.get("/admin/export/responses.csv", headers=h).status_code)
        elif path == "cookie":
            c.cookies.set(ADMIN_COOKIE, f"guessed-session-{i}", path="/admin")
            codes.append(c.get("/admin/export/stimuli.csv").status_code)
        else:
            codes.append(c.post("/admin/login", data={"password": f"guess{i}"}).status_code)
    assert codes[:3] == [401] * 3 and codes[4:] == [429] * 4
    # other clients are not locked out by one client (until the all-clients limit is reached)
    other = TestClient(app, client=("10.0.0.9", 5000))
    assert other.post("/admin/login", data={"password": "pw"}, follow_redirects=False).status_code == 303


def test_reader_link_guessing_is_throttled(app):
    freeze(app)
    c = TestClient(app)
    codes = [c.get(f"/r/guess{i:030d}").status_code for i in range(25)]
    assert codes[:20] == [404] * 20 and set(codes[21:]) == {429}


def test_logout_invalidates_the_session_server_side(app):
    c = TestClient(app)
    nonce = admin_login(c)
    stolen = c.cookies.get(ADMIN_COOKIE)
    assert c.post("/admin/logout", data={"nonce": nonce}, follow_redirects=False).status_code == 303
    thief = TestClient(app, client=("10.0.0.2", 1))
    thief.cookies.set(ADMIN_COOKIE, stolen, path="/admin")
    assert thief.get("/admin", follow_redirects=False).status_code == 303  # was still valid before
    assert thief.get("/admin/export/responses.csv").status_code == 401


def _answer_form(c, pos=1, **values):
    h = hidden(c.get(f"/s/q/{pos}").text)
    return {
        "image_id": h["image_id"],
        "nonce": h["nonce"],
        "diagnosis": "melanoma",
        "synthetic": "yes",
        "certainty": "3",
        **values,
    }


def test_closed_study_refuses_every_post(app, study, tmp_path):
    from dermsynth.cli.survey import app as cli

    admin = TestClient(app)
    (token,) = invite_tokens(admin, 1)
    c = TestClient(app)
    consent(c, token)
    answer(c, token, 1)
    form = _answer_form(c, 2)  # a form loaded before the study closes
    consent_nonce = hidden(c.get("/s/consent").text)["nonce"]
    nonce = hidden(admin.get("/admin").text)["nonce"]
    assert admin.post("/admin/close", data={"nonce": nonce}, follow_redirects=False).status_code == 303
    assert "The study is <strong>closed</strong>" in admin.get("/admin").text
    r = c.post("/s/q/2", data=form, follow_redirects=False)
    assert r.status_code == 403 and "closed" in r.text
    r = c.post("/s/consent", data={"consent": "yes", "background": "lay_person", "nonce": consent_nonce})
    assert r.status_code == 403
    assert admin.post("/admin/invite", data={"count": "1", "nonce": nonce}).status_code == 403
    assert c.get("/s/q/2").status_code == 403
    assert "The study is closed" in c.get("/s/done").text
    exported = admin.get("/admin/export/responses.csv").text.splitlines()
    assert len(exported) == 2  # only the answer given while open
    # the CLI closes and reopens the same database
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert CliRunner().invoke(cli, ["reopen", str(study), "--db", db]).exit_code == 0
    assert c.post("/s/q/2", data=form, follow_redirects=False).status_code == 303
    form3 = _answer_form(c, 3)
    assert CliRunner().invoke(cli, ["close", str(study), "--db", db]).exit_code == 0
    assert c.post("/s/q/3", data=form3).status_code == 403


def test_revoked_invitation_opens_nothing(app, study, tmp_path):
    from dermsynth.cli.survey import app as cli

    admin = TestClient(app)
    ta, tb = invite_tokens(admin, 2)
    a, b = TestClient(app), TestClient(app)
    consent(a, ta)
    answer(a, ta, 1)
    consent(b, tb)
    nonce = hidden(admin.get("/admin").text)["nonce"]
    r = admin.post("/admin/revoke", data={"reader_id": "r0001", "nonce": nonce}, follow_redirects=False)
    assert r.status_code == 303 and "revoked" in admin.get("/admin").text
    assert TestClient(app).get(f"/r/{ta}").status_code == 404  # the link
    assert a.get("/s/q/2").status_code == 403  # the browser that opened it
    assert a.post("/s/q/2", data={"image_id": "x", "nonce": "x"}).status_code == 403
    assert b.get("/s/q/1").status_code == 200  # others are untouched
    assert "r0001" in admin.get("/admin/export/responses.csv").text  # given answers stay
    assert admin.post("/admin/revoke", data={"reader_id": "r0099", "nonce": nonce}).status_code == 404
    res = CliRunner().invoke(
        cli, ["revoke", str(study), "r0002", "--db", f"sqlite:///{tmp_path / 'db.sqlite'}"]
    )
    assert res.exit_code == 0, res.output
    assert b.get("/s/q/1").status_code == 403


def test_every_revision_is_kept_and_exported(app, tmp_path):
    admin = TestClient(app)
    (token,) = invite_tokens(admin, 1)
    c = TestClient(app)
    consent(c, token)
    answer(c, token, 1, certainty="1")
    answer(c, token, 2)
    for v in ("2", "5"):  # changed twice (after the end page, after an export: no matter)
        admin.get("/admin/export/responses.csv")
        r, image_id, _ = answer(c, token, 1, certainty=v)
        assert r.status_code == 303
    rev = pd.read_csv(pd.io.common.StringIO(admin.get("/admin/export/revisions.csv").text), dtype=str)
    mine = rev[rev.image_id == image_id]
    assert mine.revision.tolist() == ["1", "2", "3"] and mine.certainty.tolist() == ["1", "2", "5"]
    assert len(rev) == 4
    resp = pd.read_csv(pd.io.common.StringIO(admin.get("/admin/export/responses.csv").text), dtype=str)
    assert resp.set_index("image_id").loc[image_id, "certainty"] == "5"
    # the log is append-only in the database itself
    con = sqlite3.connect(tmp_path / "db.sqlite")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE answer_log SET certainty = 4")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM answer_log")
    con.close()
    # the CLI export writes it too
    from dermsynth.survey.service import export

    files = export(app.state.study.root, tmp_path / "exp", db_url=f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert [f.name for f in files] == ["responses.csv", "revisions.csv", "stimuli.csv"]
    assert len(pd.read_csv(tmp_path / "exp" / "revisions.csv")) == 4


def test_background_is_frozen_after_the_first_answer(app):
    admin = TestClient(app)
    (token,) = invite_tokens(admin, 1)
    c = TestClient(app)
    consent(c, token, "lay_person")
    assert consent(c, token, "medical_student").status_code == 200  # no answer yet: may change
    answer(c, token, 1)
    page = c.get("/s/consent").text
    assert "cannot be changed" in page
    r = c.post(
        "/s/consent", data={"consent": "yes", "background": "dermatologist", "nonce": hidden(page)["nonce"]}
    )
    assert r.status_code == 409 and "cannot be changed" in r.text
    assert ",medical_student," in admin.get("/admin/export/responses.csv").text


def test_tokens_never_in_urls_pages_or_logs(app, study):
    (token,) = invite_tokens(TestClient(app), 1)
    c = TestClient(app)
    r = c.get(f"/r/{token}", follow_redirects=False)
    assert r.status_code == 303 and token not in r.headers["location"]
    set_cookie = r.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie
    consent(c, token)
    for url in ("/s/examples", "/s/q/1", "/s/done", "/"):
        page = c.get(url)
        assert token not in page.text and token not in str(page.url)
    # the access log line of the one request that carries the token is redacted
    rec = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4:5", "GET", f"/r/{token}", "1.1", 303),
        None,
    )
    RedactTokens().filter(rec)
    assert token not in rec.getMessage() and "/r/<token>" in rec.getMessage()


def test_server_access_log_has_no_token(study, tmp_path):
    import httpx

    s = study
    from dermsynth.survey.service import invite

    ((_, link),) = invite(s, 1)
    token = link.rsplit("/", 1)[1]
    with Server(s) as server:
        with httpx.Client(base_url=server.url, follow_redirects=True) as c:
            assert c.get(f"/r/{token}").url.path == "/s/consent"
            c.get("/s/consent")
        out = server.output()
    assert "GET /r/<token> HTTP/1.1" in out and "/s/consent" in out
    assert token not in out


def test_public_url_required_beyond_localhost(study, tmp_path):
    from dermsynth.cli.survey import app as cli

    check_public_url(None, "127.0.0.1")
    with pytest.raises(ValueError, match="--public-url is required"):
        check_public_url(None, "0.0.0.0")
    with pytest.raises(ValueError, match="must look like"):
        check_public_url("survey.example.org", "0.0.0.0")
    res = CliRunner().invoke(
        cli, ["serve", str(study), "--host", "0.0.0.0"], env={"DERMSYNTH_SURVEY_ADMIN_PASSWORD": "pw"}
    )
    assert res.exit_code == 2 and "--public-url is required" in res.output
    # without --public-url, links are never built from a foreign Host header
    app = make_app(study, tmp_path, public_url=None)
    c = TestClient(app, base_url="http://evil.example")
    nonce = admin_login(c)
    r = c.post("/admin/invite", data={"count": "1", "nonce": nonce})
    assert r.status_code == 400 and "evil.example" not in r.text
    local = TestClient(app, base_url="http://127.0.0.1:8000")
    nonce = admin_login(local)
    r = local.post("/admin/invite", data={"count": "1", "nonce": nonce})
    assert r.status_code == 200 and "http://127.0.0.1:8000/r/" in r.text
    (tmp_path / "x").mkdir()
    app2 = make_app(
        copy_study(study, tmp_path / "x" / "study"), tmp_path / "x", public_url="https://survey.example.org/"
    )
    c2 = TestClient(app2, base_url="http://evil.example")
    nonce = admin_login(c2)
    assert (
        "https://survey.example.org/r/" in c2.post("/admin/invite", data={"count": "1", "nonce": nonce}).text
    )


def test_shared_computer_not_you(app):
    admin = TestClient(app)
    (token,) = invite_tokens(admin, 1)
    pc = TestClient(app)
    consent(pc, token)
    answer(pc, token, 1)
    # the next person opens the site on the same computer: asked, not continued silently
    home = pc.get("/")
    assert home.url.path == "/" and "Welcome back" in home.text and "Not you?" in home.text
    r = pc.post("/s/forget", data={"nonce": hidden(home.text)["nonce"]}, follow_redirects=False)
    assert r.status_code == 303 and 'dermsynth_reader=""' in r.headers["set-cookie"]
    pc.cookies.clear()
    assert "personal invitation link" in pc.get("/").text
    assert pc.get("/s/q/1").status_code == 403
    # every reader page carries the "not you?" button; a forged forget is refused
    as_reader(pc, token)
    assert "Not you? Sign out" in pc.get("/s/q/2").text
    assert pc.post("/s/forget", data={"nonce": "forged"}).status_code == 403


def test_database_of_the_previous_version_is_upgraded(study, tmp_path):
    """A study.db made before revocation and the answer log gets the new column and tables on start."""
    db = tmp_path / "old.sqlite"
    con = sqlite3.connect(db)
    con.executescript(
        "CREATE TABLE readers (id INTEGER PRIMARY KEY, study_id VARCHAR(64), token_hash VARCHAR(64) UNIQUE, "
        "note VARCHAR(200), order_seed BIGINT, background VARCHAR(32), consented_at DATETIME, "
        "created_at DATETIME);"
    )
    con.close()
    app = create_app(
        Settings(study_dir=study, admin_password="pw", db_url=f"sqlite:///{db}", public_url="https://x.org")
    )
    (token,) = invite_tokens(TestClient(app), 1)
    c = TestClient(app)
    consent(c, token)
    assert answer(c, token, 1)[0].status_code == 303
    con = sqlite3.connect(db)
    cols = {r[1] for r in con.execute("PRAGMA table_info(readers)")}
    assert "revoked_at" in cols and con.execute("SELECT COUNT(*) FROM answer_log").fetchone() == (1,)
    con.close()
