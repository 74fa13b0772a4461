"""The report as a reader sees it, in a real browser (Playwright driving Debian's chromium; nothing
downloaded): at 1366 and 390 px wide the summary is in the first screen, every image is at least
128 px on each side, nothing is wider than the page, every thesis figure is present or explained,
and images open enlarged on click. Screenshots are saved under the test's tmp folder (printed).
`dermsynth report --pdf` prints a PDF. CI needs: apt-get install -y chromium"""

from __future__ import annotations

import re

import pytest

from dermsynth.report.html import TILE_PX
from dermsynth.report.pdf import LAUNCH_FLAGS, find_chromium
from dermsynth.report.thesis import CATALOGUE
from test_report_study import make_study

pytestmark = pytest.mark.browser
CHROMIUM = find_chromium()  # $DERMSYNTH_CHROMIUM, else /usr/bin/chromium or chromium on PATH
SCREENS = [(1366, 768), (390, 844)]
LOAD_TIMEOUT_MS = 180_000  # a 2-core machine shared with trainings can take a minute to lay out the page


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no chromium binary (install it: apt-get install -y chromium, or set DERMSYNTH_CHROMIUM)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from dermsynth.report import build_report

    root = tmp_path_factory.mktemp("report")
    return build_report(make_study(root / "runs"), root / "rep", title="dermsynth study")


# Elements that stick out of the page but sit inside a box that scrolls on its own are fine.
OVERFLOW_JS = """() => {
  const W = document.documentElement.clientWidth, bad = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('#lb') || el.closest('details:not([open])') && el.tagName !== 'SUMMARY') continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    const box = el.parentElement && el.parentElement.closest('.scroll');
    if (box) continue;
    if (r.right > W + 0.5 || r.left < -0.5) bad.push(el.tagName + '.' + el.className + ' ' + Math.round(r.right));
  }
  return {scroll: document.documentElement.scrollWidth, width: W, bad: bad.slice(0, 10)};
}"""

IMAGES_JS = """() => [...document.images].filter(i => !i.closest('#lb')).map(i => {
  const r = i.getBoundingClientRect();
  return {alt: i.alt, w: r.width, h: r.height, ok: i.complete && i.naturalWidth > 0};
})"""


@pytest.mark.parametrize(("width", "height"), SCREENS)
def test_report_reads_at_both_widths(browser, report, width, height, tmp_path_factory):
    shots = tmp_path_factory.mktemp(f"screens-{width}")
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(LOAD_TIMEOUT_MS)
    page.goto(report.as_uri())
    page.screenshot(path=str(shots / "first-screen.png"))
    page.screenshot(path=str(shots / "full-page.png"), full_page=True)
    print(f"screenshots: {shots}")

    # the summary is in the first screen: its heading, and on a wide screen every sentence
    head = page.locator("#summary h2").bounding_box()
    assert head and head["y"] + head["height"] <= height
    items = page.locator("ul.findings > li")
    assert items.count() == 5  # data, generator, edit, classifiers, reader study
    first = items.nth(0).bounding_box()
    assert first["y"] < height
    if width >= 1000:
        last = items.nth(items.count() - 1).bounding_box()
        assert last["y"] + last["height"] <= height

    # every image is loaded and at least TILE_PX on each side
    imgs = page.evaluate(IMAGES_JS)
    assert len(imgs) >= 20 and all(i["ok"] for i in imgs)
    small = [i for i in imgs if min(i["w"], i["h"]) < TILE_PX - 0.5]
    assert not small, small[:5]

    # no horizontal page scroll; nothing sticks out except inside its own scroll box
    res = page.evaluate(OVERFLOW_JS)
    assert res["scroll"] <= res["width"], res
    assert res["bad"] == [], res

    # each thesis figure / table: a link to an element on the page that holds it, or a reason
    rows = page.locator("table.thesis tbody tr")
    assert rows.count() == len(CATALOGUE)
    for k in range(rows.count()):
        row = rows.nth(k)
        number = row.get_attribute("data-thesis")
        links = row.locator("td:nth-child(3) a[href^='#fig'], td:nth-child(3) a[href^='#table']")
        if links.count():
            target = links.first.get_attribute("href")
            el = page.locator(target)
            assert el.count() == 1, (number, target)
            assert el.locator("img, table").count() >= 1, (number, target)
        else:
            assert re.search(r"did not run|not in this study", row.inner_text(), re.I), number
    page.close()


def test_click_enlarges_and_escape_closes(browser, report):
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(LOAD_TIMEOUT_MS)
    page.goto(report.as_uri())
    lb = page.locator("#lb")
    assert lb.is_hidden()
    tile = page.locator("section#gan img.tile").first
    tile.scroll_into_view_if_needed()
    small = tile.bounding_box()
    tile.click()
    assert lb.is_visible()
    big = page.locator("#lb img").bounding_box()
    assert big["width"] > 2 * small["width"]
    page.keyboard.press("Escape")
    assert lb.is_hidden()
    page.locator("section#classify img.plot").first.click()
    assert lb.is_visible()
    lb.click()
    assert lb.is_hidden()
    page.close()


def test_report_pdf(report, tmp_path, monkeypatch):
    if CHROMIUM is None:
        pytest.skip("no chromium binary")
    from dermsynth.report import print_pdf

    monkeypatch.setenv("DERMSYNTH_CHROMIUM", CHROMIUM)
    pdf = print_pdf(report, tmp_path / "report.pdf")
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-" and len(re.findall(rb"/Type\s*/Page[^s]", data)) >= 3
