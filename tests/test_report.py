"""The report reads only run folders, says what the study found in sentences computed from the numbers,
places every thesis figure (or says why it is missing), keeps raw detail folded away, and never
imports torch. The fake study it reads is built by ``test_report_study.make_study``."""

from __future__ import annotations

import html as htmllib
import json
import re
import subprocess
import sys
from html.parser import HTMLParser

import pandas as pd
import pytest

from dermsynth.report import fmt
from dermsynth.report.thesis import CATALOGUE
from test_report_study import make_study


class Page(HTMLParser):
    """Text of <li>/<p> outside <details>, tables outside scroll boxes, ids, and the thesis index."""

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, dict]] = []
        self.prose: list[str] = []
        self.ids: set[str] = set()
        self.unboxed_tables = 0
        self.index: dict[str, str] = {}
        self._buf: list[str] | None = None
        self._row: str | None = None
        self._rowtext: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "table" and not any(
            t == "div" and "scroll" in (x.get("class") or "") for t, x in self.stack
        ):
            self.unboxed_tables += 1
        if tag == "tr" and a.get("data-thesis"):
            self._row, self._rowtext = a["data-thesis"], []
        if tag == "a" and self._row and a.get("href"):
            self._rowtext.append(f"[{a['href']}]")
        if tag in ("p", "li") and not any(t == "details" for t, _ in self.stack):
            self._buf = []
        if tag not in ("img", "br", "meta", "col"):
            self.stack.append((tag, a))

    def handle_endtag(self, tag):
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break
        if tag in ("p", "li") and self._buf is not None:
            self.prose.append("".join(self._buf))
            self._buf = None
        if tag == "tr" and self._row:
            self.index[self._row] = " ".join(self._rowtext)
            self._row = None

    def handle_data(self, data):
        if self._buf is not None:
            self._buf.append(data)
        if self._row:
            self._rowtext.append(data)


def parse(text: str) -> Page:
    p = Page()
    p.feed(text)
    return p


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from dermsynth.report import build_report

    root = tmp_path_factory.mktemp("study")
    runs = make_study(root / "runs")
    return runs, build_report(runs, root / "rep", title="test study").read_text()


def test_summary_sentences_are_computed_from_the_numbers(study):
    _, text = study
    page = parse(text)
    findings = re.search(r"<ul class='findings'>(.*?)</ul>", text, re.S).group(1)
    summary = htmllib.unescape(re.sub(r"<[^>]+>", "", findings))
    # Table 4.5 in words: significant below real, and not distinguishable
    assert "synthetic training: AUC 0.71 [0.64, 0.78], below real 0.80, p = 0.01" in summary
    assert "mixed training: AUC 0.81 [0.75, 0.87], not distinguishable from real 0.80 (p = 0.41)" in summary
    # the data: 12 + 12 images; frames in 6 of 12 melanoma (i % 4 == 1) and none of the others
    assert (
        "24 real images" in summary
        and "frames (dark corners) in 50% of melanoma vs 0% of not melanoma" in summary
    )
    # one FID, one comparison, named: generated vs held-out (46) against the floor written in
    # metrics.json (20): 2.3x; the FID against the training images (45.25) is not in the summary
    assert (
        "FID 46 in effnet-lite:lite0@224 features, generated vs held-out real images, 2.3× the real floor "
        "of 20 (real train vs the same held-out images)" in summary
    )
    assert "45.2" not in summary
    assert "no sign of memorisation (smallest p = 0.31, α = 0.01)" in summary
    # the edit: 0.625 of 16 framed samples
    assert "SeFa direction 0 at α = −3 removes the frame from 62% of framed samples (10 of 16" in summary
    assert "keeps the class in 95%" in summary
    assert "pooled accuracy at telling real from synthetic 0.58 [0.51, 0.65]" in summary
    # a stage that did not run: one line, with the reason pipeline.json gives
    assert "Cleaning: did not run: the clean stage is disabled in this study's config." in page.prose


def test_every_thesis_number_is_present_or_explained(study):
    _, text = study
    page = parse(text)
    assert set(page.index) == {e.number for e in CATALOGUE}
    for number, where in page.index.items():
        links = re.findall(r"\[#([\w-]+)\]", where)
        if links:
            assert all(link in page.ids for link in links), (number, where)
        else:  # explained in one line, and that line is also in the section it belongs to
            assert re.search(r"did not run|not in this study", where, re.I), (number, where)
    assert "Did not run: the clean stage is disabled" in page.index["Fig. 4.1"]
    assert "SVM" in page.index["Fig. 4.8"] and "[#fig-4-10]" in page.index["Fig. 4.10"]
    assert "[#table-4-5]" in page.index["Table 4.5"] and "[#fig-4-17]" in page.index["Fig. 4.17"]
    assert "fig-4-8" in page.ids  # the absent line sits in the edit section under its number


def test_no_raw_json_in_prose_and_tables_scroll_in_their_box(study):
    _, text = study
    page = parse(text)
    assert page.unboxed_tables == 0
    for p in page.prose:
        assert not re.search(r"[{}]|\w+\.\w+\.\w+_\w+|\d\.\d{5,}", p), p
    # raw key-value tables are only inside <details>
    body = re.sub(r"<details>.*?</details>", "", text, flags=re.S)
    assert "memorisation.feature.tail_p1_pvalue" not in body
    assert "memorisation.feature.tail_p1_pvalue" in text


def test_numbers_are_rounded_in_tables(study):
    _, text = study
    body = re.sub(r"<details>.*?</details>", "", text, flags=re.S)
    cells = re.findall(r"<td(?: class=r)?>([^<]*)</td>", body)
    assert cells
    for c in cells:
        assert not re.search(r"\d\.\d{4,}", c), c
    assert "<td class=r>0.80 [0.74, 0.86]</td>" in body and "<td class=r>0.01</td>" in body


def test_images_are_embedded_and_zoomable(study):
    _, text = study
    imgs = re.findall(r"<img [^>]*>", text)
    shown = [i for i in imgs if 'src="data:image/' in i]
    assert len(shown) >= 20
    assert all("zoom" in i for i in shown)
    assert "http://" not in text and "https://" not in text  # self-contained


def test_floor_absent_is_said(tmp_path):
    from dermsynth.report import build_report

    runs = make_study(tmp_path / "runs", floor=None, responses=False, clean=True)
    text = build_report(runs, tmp_path / "rep").read_text()
    text = htmllib.unescape(text)
    assert "no real floor in metrics.json to judge it against" in text
    assert "No responses analysed yet" in text
    # the cleaned set: Fig. 4.1 (crop) is there, 4.2 and 4.3 are explained, 2 of 8 images changed
    page = parse(text)
    assert "[#fig-4-1]" in page.index["Fig. 4.1"]
    assert "not in this study" in page.index["Fig. 4.2"].lower() and "fig-4-3" in page.ids
    assert "2 of 8 images changed by crop." in text
    assert re.search(
        r"Tables 4.3/4.4</td><td>[^<]*</td><td>Did not run|Tables 4.3/4.4.*?not in this study", text, re.S
    )


def test_datacard_of_the_generated_set(study, tmp_path):
    runs, _ = study
    card = json.loads(next((runs.parent / "rep" / "datacards").glob("generate.json")).read_text())
    assert card["images"] == 12 and card["network"].endswith("network-000020.json")
    assert card["training_data"] == "data" and card["licences"] == {"CC-0": 24}


def test_report_on_empty_and_missing(tmp_path):
    from dermsynth.report import build_report

    (tmp_path / "empty").mkdir()
    text = build_report(tmp_path / "empty", tmp_path / "o").read_text()
    assert "No stage outputs were found" in text
    page = parse(text)
    assert all("did not run" in w.lower() for w in page.index.values())
    with pytest.raises(FileNotFoundError, match="nope"):
        build_report(tmp_path / "nope", tmp_path / "o")


def test_report_never_imports_torch(tmp_path):
    runs = make_study(tmp_path / "runs")
    code = (
        "import sys; from dermsynth.report import build_report; "
        f"build_report({str(runs)!r}, {str(tmp_path / 'r')!r}); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_pdf_without_chromium_is_a_clear_error(tmp_path, monkeypatch):
    from dermsynth.report import print_pdf

    (tmp_path / "r.html").write_text("<p>x</p>")
    monkeypatch.setenv("DERMSYNTH_CHROMIUM", str(tmp_path / "no-such-chromium"))
    with pytest.raises(FileNotFoundError, match="needs headless Chromium.*apt-get install chromium"):
        print_pdf(tmp_path / "r.html")
    assert not (tmp_path / "r.pdf").exists()


@pytest.mark.parametrize(
    ("fn", "value", "shown"),
    [
        (fmt.pval, 0.0132, "0.01"),
        (fmt.pval, 0.0042, "0.004"),
        (fmt.pval, 2e-7, "< 0.001"),
        (fmt.pval, 0.41, "0.41"),
        (fmt.sig, 45.25, "45.2"),
        (fmt.sig, 0.012345, "0.0123"),
        (fmt.sig, 1234.5, "1,234"),
        (fmt.sig, 3.0, "3"),
        (fmt.pct, 0.625, "62%"),
        (fmt.pct, 0.001, "<1%"),
        (fmt.rate, 0.8, "0.80"),
        (fmt.count, 1234.0, "1,234"),
        (fmt.signed, -3.0, "−3"),
        (fmt.rate, float("nan"), "–"),
    ],
)
def test_number_formats(fn, value, shown):
    assert fn(value) == shown


def test_format_frame_rules():
    df = pd.DataFrame(
        {"setup": ["real"], "TP": [30.0], "AUC": [0.80123], "DeLong_p_vs_real": [0.0001], "fid": [45.25]}
    )
    out = fmt.format_frame(df).iloc[0].tolist()
    assert out == ["real", "30", "0.80", "< 0.001", "45.2"]


def test_cli_report_pdf_without_chromium(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from dermsynth.cli.main import app

    runs = make_study(tmp_path / "runs", responses=False)
    monkeypatch.setenv("DERMSYNTH_CHROMIUM", str(tmp_path / "none"))
    res = CliRunner().invoke(app, ["report", str(runs), "--out", str(tmp_path / "rep"), "--pdf"])
    assert res.exit_code == 2, res.output
    assert "needs headless Chromium" in res.output.replace("\n", " ")
    assert (tmp_path / "rep" / "report.html").is_file() and not (tmp_path / "rep" / "report.pdf").exists()


def test_metrics_contract_answers_by_kind_and_floor():
    from dermsynth.metrics.result import MetricsResult

    m = MetricsResult(
        {
            "metrics": ["kid10k_effnetlite", "fid10k_effnetlite"],
            "results": {"fid10k_effnetlite": 12.0, "kid10k_effnetlite": 0.1, "kid10k_effnetlite_std": 0.01},
            "details": {"fid10k_effnetlite": {"kind": "fid", "features": {"extractor": "effnet-lite:lite0@224"},
                                              "num_fake": 10000, "num_real": 2000},
                        "kid10k_effnetlite": {"kind": "kid"}},
            "floor": {"results": {"fid10k_effnetlite": 3.0}, "generated": {"fid10k_effnetlite": 6.0}},
        }
    )  # fmt: skip
    assert (m.fid(), m.kid(), m.ppl(), m.precision()) == (12.0, 0.1, None, None)
    assert m.features() == "effnet-lite:lite0@224" and (m.num_fake(), m.num_real()) == (10000, 2000)
    assert m.floor_fid() == (3.0, 6.0) and m.memorisation() is None
    assert MetricsResult({"results": {"fid10k_effnetlite": 1.0}, "details": {}}).floor_fid() == (None, None)


def test_cleaning_figures_take_their_thesis_numbers(tmp_path):
    from pathlib import Path

    from dermsynth.report.stages.clean import figure_number

    frame, hair = Path("figures/before_after_frame.png"), Path("figures/before_after_hair.png")
    assert figure_number(frame, "crop") == "Fig. 4.1"
    assert figure_number(frame, "skin-inpaint") == figure_number(frame, "telea") == "Fig. 4.2"
    assert figure_number(hair, "crop") == "Fig. 4.3"
    assert figure_number(Path("figures/quality.png"), "crop") == ""


def test_edit_sentence_says_where_framed_samples_were_found():
    from dermsynth.report.stages.edit import best_sentence

    best = {"method": "svm", "index": 0, "alpha": -3.0, "n": 48, "n_present": 16, "removed_frac": 0.75,
            "class_kept": 1.0, "lesion_iou": 0.9, "eligible": True}  # fmt: skip
    pooled = best_sentence(best, searched=416)
    assert "from 75% of framed samples (12 of 16; 48 measured, found among 416 seeds)" in pooled
    assert "(12 of 16; 48 sampled)" in best_sentence(best)  # no search beyond the first n
    none = best_sentence(best | {"n_present": 0, "removed_frac": None}, searched=2064)
    assert "fired on none of the 2,064 generated samples" in none


def test_leak_sentence_names_the_pixel_features_that_separate():
    from dermsynth.report.stages.survey import leak_sentence

    lc = {"passed": False, "alpha": 0.001, "accuracy": 0.5, "p_value": 0.56,
          "pixel": {"classifier": {"accuracy": 1.0, "p_value": 9e-13},
                    "features": {"block8": {"auc": 0.77, "p_bonferroni": 0.028},
                                 "noise_std": {"auc": 0.0, "p_bonferroni": 4.8e-7},
                                 "hf_power_quarter": {"auc": 0.0, "p_bonferroni": 4.8e-7}}}}  # fmt: skip
    s = leak_sentence(lc)
    assert s.startswith(
        "leak check FAILED: a classifier on file-level features alone is 0.50 accurate (p = 0.56)"
    )
    assert "one on pixel statistics 1.00 (p < 0.001)" in s
    assert "noise_std, hf_power_quarter separate synthetic from real" in s and "block8" not in s
    ok = leak_sentence({"passed": True, "accuracy": 0.5, "p_value": 0.6})
    assert ok == "leak check passed: a classifier on file-level features alone is 0.50 accurate (p = 0.60)"


def test_generated_biases_beside_real(study):
    """The generated set's audit columns are set beside the real data's: frames in 3 of 6 generated
    melanoma images (i % 4 == 3) and none of the others, as in the real data (i % 4 == 1)."""
    _, text = study
    plain = htmllib.unescape(re.sub(r"<[^>]+>", " ", text))
    plain = re.sub(r"\s+", " ", plain)
    want = (
        "By the same audit: frames (dark corners) in 50% of generated melanoma and 0% of generated "
        "not melanoma images (real: 50% and 0%)."
    )
    assert want in plain
    assert "Does the generator keep the data's biases?" in plain
