"""A real browser (Playwright driving Debian's chromium; nothing downloaded) takes a reader through
the whole study on a tablet-sized screen, partly by keyboard only and by single keys, enlarges an
image, closes the browser and resumes, and an admin creates the invitation and exports the answers.
CI needs: apt-get install -y chromium"""

from __future__ import annotations

import os
import re
import shutil

import pytest

from survey_helpers import Server, make_study

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("DERMSYNTH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
N = 8


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no chromium binary at {CHROMIUM} (install it: apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def answer_page(page, diagnosis: str, synthetic: str, certainty: int) -> None:
    page.get_by_label(diagnosis, exact=True).check()
    page.get_by_label(synthetic, exact=True).check()
    page.get_by_role("group", name=re.compile("How certain")).get_by_label(str(certainty), exact=True).check()
    page.get_by_role("button", name="Save and next").click()


def test_reader_and_admin_in_a_real_browser(browser, tmp_path):
    study = make_study(tmp_path, n=N, examples_per_class=1)
    with Server(study, password="s3cret") as server:
        off_site: list[str] = []
        # --- admin: log in, create an invitation
        admin = browser.new_context(accept_downloads=True)
        ap = admin.new_page()
        ap.on("request", lambda r: r.url.startswith(server.url) or off_site.append(r.url))
        ap.goto(server.url + "/admin")
        ap.get_by_label("Password").fill("s3cret")
        ap.get_by_role("button", name="Log in").click()
        ap.get_by_label("Number of links").fill("1")
        ap.get_by_label("Note (private, e.g. a group)").fill("browser <b>test</b>")
        ap.get_by_role("button", name="Create").click()
        link = ap.locator("code.link").inner_text()
        assert link.startswith(server.url + "/r/")

        # --- reader on a tablet: consent, examples, first answers (the first by keyboard only)
        tablet = {"viewport": {"width": 768, "height": 1024}, "has_touch": True, "is_mobile": True}
        reader = browser.new_context(**tablet)
        rp = reader.new_page()
        rp.on("request", lambda r: r.url.startswith(server.url) or off_site.append(r.url))
        rp.goto(link)
        assert rp.url == server.url + "/s/consent"  # the token left the address bar at once
        rp.get_by_label("Dermatologist", exact=True).check()
        rp.get_by_label("I have read the above and agree to take part.").check()
        rp.get_by_role("button", name="Continue").click()
        assert rp.get_by_role("heading", name="Examples of real lesions").is_visible()
        assert rp.locator("img").count() == 2 and rp.evaluate(
            "[...document.images].every(i => i.naturalWidth > 0)"
        )
        rp.get_by_role("link", name="Start the questions").click()
        assert rp.url.endswith("/q/1")
        rp.focus("#dx-mel")
        rp.keyboard.press("Space")
        rp.keyboard.press("Tab")
        rp.keyboard.press("Space")  # synthetic: yes
        rp.keyboard.press("Tab")
        rp.keyboard.press("ArrowRight")  # certainty 1 -> 2
        rp.keyboard.press("Tab")
        rp.keyboard.press("Enter")  # Save and next
        rp.wait_for_url(re.compile(r"/q/2$"))
        # the image: 512 CSS px here (up to the screen width on a phone); click enlarges, Esc closes
        img = rp.locator(".stimulus img")
        assert 500 <= img.bounding_box()["width"] <= 512
        img.click()
        assert rp.locator("figure.stimulus.zoomed").count() == 1 and img.bounding_box()["width"] >= 700
        rp.keyboard.press("Escape")
        assert rp.locator("figure.stimulus.zoomed").count() == 0
        rp.get_by_role("button", name="Enlarge (Z)").click()
        assert img.bounding_box()["width"] >= 700
        rp.keyboard.press("z")
        assert 500 <= img.bounding_box()["width"] <= 512
        # single-key answers: N(ot melanoma), R(eal), 4, Enter saves
        for key in ("n", "r", "4", "Enter"):
            rp.keyboard.press(key)
        rp.wait_for_url(re.compile(r"/q/3$"))
        assert rp.evaluate("document.querySelector('.stimulus img').naturalWidth") > 0
        assert rp.locator("progress#progress").get_attribute("value") == "2"
        # submitting with a question unanswered is stopped by the browser (required fields)
        rp.get_by_label("Melanoma", exact=True).check()
        rp.get_by_role("button", name="Save and next").click()
        assert rp.url.endswith("/q/3")
        state = reader.storage_state()
        reader.close()  # the browser is closed mid-study

        # --- later: the cookie alone offers to continue (or "not you?"); answers persisted
        reader = browser.new_context(storage_state=state, **tablet)
        rp = reader.new_page()
        rp.goto(server.url + "/")
        assert rp.get_by_role("button", name="Not you? Sign out", exact=True).is_visible()
        rp.get_by_role("link", name="Continue where you left off").click()
        assert rp.url.endswith("/q/3")
        rp.get_by_role("link", name="Back").click()
        assert rp.url.endswith("/q/2") and rp.get_by_label("Not melanoma", exact=True).is_checked()
        assert rp.get_by_label("No, real", exact=True).is_checked()
        rp.goto(link)  # the invitation link resumes too
        assert rp.url == server.url + "/s/q/3"
        for _ in range(3, N + 1):
            answer_page(rp, "Melanoma", "Yes, synthetic", 5)
        assert rp.get_by_role("heading", name="Thank you").is_visible()
        reader.close()
        # on a phone the image takes the screen's width
        phone = browser.new_context(
            storage_state=state, viewport={"width": 360, "height": 640}, has_touch=True, is_mobile=True
        )
        pp = phone.new_page()
        pp.goto(server.url + "/s/q/1")
        assert 300 <= pp.locator(".stimulus img").bounding_box()["width"] <= 360
        phone.close()

        # --- admin: progress and export
        ap.goto(server.url + "/admin")
        assert f"{N}/{N}" in ap.content() and "browser &lt;b&gt;test&lt;/b&gt;" in ap.content()
        with ap.expect_download() as dl:
            ap.get_by_role("link", name="Export responses.csv").click()
        lines = open(dl.value.path()).read().splitlines()
        assert lines[0] == "study_id,reader_id,background,image_id,diagnosis,synthetic,certainty,answered_at"
        rows = [ln.split(",") for ln in lines[1:]]
        assert len(rows) == N and {r[2] for r in rows} == {"dermatologist"}
        assert sorted(r[6] for r in rows) == ["2", "4"] + ["5"] * (N - 2)
        with ap.expect_download() as dl:
            ap.get_by_role("link", name="Export stimuli.csv").click()
        assert open(dl.value.path()).read() == (study / "stimuli.csv").read_text()
        admin.close()
        assert off_site == []
        token = link.rsplit("/", 1)[1]
        assert token not in server.output()  # nor in the server's access log
