"""The report reads only run folders, renders every section it finds, and never imports torch."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dermsynth.core.io import atomic_write_json, write_png
from dermsynth.core.manifest import write_dataset_json, write_manifest


def _dataset(d: Path, n: int, source: str, rng, **extra) -> None:
    (d / "images").mkdir(parents=True)
    rows = []
    for i in range(n):
        f = f"images/{i:06d}.png"
        write_png(d / f, rng.integers(0, 255, (8, 8, 3), dtype=np.uint8))
        rows.append(
            {
                "image_id": f"{source}{i}",
                "file": f,
                "label": i % 2,
                "class_name": ["not_melanoma", "melanoma"][i % 2],
                "source": source,
                "split": ["train", "val", "test"][i % 3],
                "dark_corner": int(i % 4 == 1),
                "hair": int(i % 3 == 0),
                "dark_corner_annotated": int(i % 4 in (1, 2)),
                **extra,
            }
        )
    df = pd.DataFrame(rows)
    write_manifest(df, d)
    write_dataset_json(df, d)


def make_runs(root: Path) -> Path:
    rng = np.random.default_rng(0)
    _dataset(root / "data", 12, "phantom", rng, copyright_license="CC-0")
    atomic_write_json(root / "data" / "config.json", {"preset": "demo", "seed": 3, "n": 12})
    gan = root / "gan"
    gan.mkdir()
    with open(gan / "stats.jsonl", "w") as f:
        for t in range(5):
            f.write(
                json.dumps(
                    {"tick": t, "kimg": t * 4.0, "Loss/G/loss": 1.0 / (t + 1), "Progress/augment": 0.1 * t}
                )
                + "\n"
            )
    atomic_write_json(
        gan / "network-000020.json", {"cfg": "tiny", "res": 32, "training_data": str(root / "data")}
    )
    write_png(gan / "fakes000020.png", rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
    _dataset(root / "synthetic", 6, "synthetic", rng, network=str(gan / "network-000020.safetensors"))
    (root / "metrics").mkdir()
    atomic_write_json(
        root / "metrics" / "metrics.json",
        {"inputs": {"fake": str(root / "synthetic")}, "fid": {"overall": 12.5}},
    )
    cls = root / "classify"
    cls.mkdir()
    pd.DataFrame(
        [
            {
                "setup": "real",
                "TP": 3,
                "FP": 1,
                "FN": 1,
                "TN": 5,
                "ACC": 0.8,
                "TPR": 0.75,
                "TNR": 0.83,
                "AUC": 0.9,
            }
        ]
    ).to_csv(cls / "table.csv", index=False)
    write_png(cls / "roc.png", rng.integers(0, 255, (10, 10, 3), dtype=np.uint8))
    ed = root / "edit"
    ed.mkdir()
    np.savez(ed / "directions.npz", directions=np.eye(3))
    pd.DataFrame([{"index": 0, "alpha": -3.0, "removed_frac": 0.9}]).to_csv(ed / "table.csv", index=False)
    atomic_write_json(ed / "table.json", {"best": {"index": 0, "alpha": -3.0}})
    st = root / "survey" / "study"
    st.mkdir(parents=True)
    pd.DataFrame({"image_id": ["a", "b"], "source": ["real", "synthetic"], "label": ["melanoma"] * 2}).to_csv(
        st / "stimuli.csv", index=False
    )
    atomic_write_json(st / "leakcheck.json", {"passed": True, "accuracy": 0.5, "p_value": 0.6})
    sv = root / "survey" / "analysis"
    sv.mkdir(parents=True)
    pd.DataFrame(
        [{"reader_id": "r1", "background": "dermatologist", "TP": 70, "FP": 33, "FN": 35, "TN": 62}]
    ).to_csv(sv / "readers.csv", index=False)
    return root


def test_report_sections_provenance_and_cards(tmp_path):
    from dermsynth.report import build_report

    runs = make_runs(tmp_path / "runs")
    path = build_report(runs, tmp_path / "rep")
    html = path.read_text()
    for sec in ("data", "gan", "metrics", "edit", "classify", "survey", "datacards"):
        assert f"<section id='{sec}'>" in html
    assert "thesis Fig. 3.3" in html and "Table 4.5" in html
    assert "config.json sha256:" in html and "settings: preset=demo, seed=3, n=12" in html
    imgs = re.findall(r'src="data:image/png;base64,', html)
    assert len(imgs) >= 5  # class distribution, bias prevalence, training curves, fakes, roc
    card = json.loads((tmp_path / "rep" / "datacards" / "synthetic.json").read_text())
    assert card["images"] == 6 and card["network"].endswith("network-000020.json")
    assert card["training_data"] == "data" and card["licences"] == {"CC-0": 12}
    assert card["metrics"]["fid"]["overall"] == 12.5
    # prevalence in the table equals the manifest's: hair in 2 of 6 images of each class, frames in 3 of 6 melanoma
    row = re.search(r"<td>dark_corner</td>\s*<td>([\d.]+)</td>\s*<td>([\d.]+)</td>", html)
    assert row and float(row.group(1)) == 0.5 and float(row.group(2)) == 0.0
    assert re.search(r"<td>hair</td>\s*<td>0.3333</td>\s*<td>0.3333</td>", html)
    # audit vs truth: frames flagged on i % 4 == 1 (3 images), truth i % 4 in (1, 2) (6): precision 1, recall 0.5
    row = re.search(
        r"<td>dark_corner</td>\s*<td>0.5</td>\s*<td>0.25</td>\s*<td>1</td>\s*<td>0.5</td>\s*<td>0.6667</td>",
        html,
    )
    assert row, "audit-vs-truth table"
    assert "Leak check passed" in html and "Best direction by the measured rule" in html


def test_report_on_empty_and_missing(tmp_path):
    from dermsynth.report import build_report

    (tmp_path / "empty").mkdir()
    assert "No stage outputs" in build_report(tmp_path / "empty", tmp_path / "o").read_text()
    with pytest.raises(FileNotFoundError, match="nope"):
        build_report(tmp_path / "nope", tmp_path / "o")


def test_report_never_imports_torch(tmp_path):
    runs = make_runs(tmp_path / "runs")
    code = (
        "import sys; from dermsynth.report import build_report; "
        f"build_report({str(runs)!r}, {str(tmp_path / 'r')!r}); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.browser
def test_report_renders_in_headless_chromium(tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("no chromium binary on PATH (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    from dermsynth.report import build_report

    path = build_report(make_runs(tmp_path / "runs"), tmp_path / "rep")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(path.as_uri())
        assert page.locator("section").count() >= 6
        widths = page.eval_on_selector_all("img", "els => els.map(e => e.complete ? e.naturalWidth : 0)")
        assert widths and all(w > 0 for w in widths)
        assert page.locator("h2", has_text="Melanoma classifiers").is_visible()
        browser.close()
