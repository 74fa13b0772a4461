"""The doors between the metrics stage and the report (issue 26): the report reads metrics.json as the
metrics stage writes it. Here the stage itself measures tiny image sets (FID, precision/recall and the
memorisation check in EfficientNet-Lite0 features, with the driver's real floor), and the report built
from that output names the feature space, shows precision / recall and gives the memorisation verdict.
The hand-made metrics.json of test_report_study.make_study must have the same shape."""

from __future__ import annotations

import html as htmllib
import json
import re

import pytest

from test_report_study import make_study

NAMES = ("fid12_effnetlite", "pr123_effnetlite", "memo12_effnetlite")  # pr123: 12 images, k = 3


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """A study whose metrics.json the metrics stage wrote (make_study's other folders around it)."""
    from dermsynth.metrics import compute_metrics, write_results
    from dermsynth.metrics.driver import MetricOptions

    root = tmp_path_factory.mktemp("contract")
    runs = make_study(root / "runs", responses=False)
    real, gen = runs / "data", runs / "generate"
    opts = MetricOptions.from_kwargs(
        device="cpu", batch_size=16, out_dir=str(runs / "metrics"), use_cache=False, floor=True
    )
    res = compute_metrics(real, fake_dir=gen, metrics=NAMES, options=opts)
    (runs / "metrics" / "metrics.json").unlink()
    write_results(runs / "metrics" / "metrics.json", res)
    return runs, res


def test_report_names_features_shows_precision_recall_and_memorisation(measured, tmp_path):
    from dermsynth.metrics.result import read_metrics
    from dermsynth.report import build_report

    runs, res = measured
    m = read_metrics(runs / "metrics" / "metrics.json")
    assert m.features() == "effnet-lite:lite0@224" and m.precision() is not None and m.memorisation()
    text = htmllib.unescape(build_report(runs, tmp_path / "rep").read_text())
    findings = re.sub(r"<[^>]+>", "", re.search(r"<ul class='findings'>(.*?)</ul>", text, re.S).group(1))
    floor, gen = m.floor_fid()
    if floor is not None and floor > 0:
        assert f"generated vs held-out real images, {gen / floor:.1f}× the real floor" in findings
    assert "in effnet-lite:lite0@224 features" in findings
    assert "sign of memorisation" in findings and "not checked" not in text
    table = re.search(r"id='table-4-2'.*?</table>", text, re.S).group(0)
    assert "<th class=r>precision</th>" in table and "<th class=r>recall</th>" in table
    assert f"<td class=r>{m.precision():.2f}</td><td class=r>{m.recall():.2f}</td>" in table


def test_the_hand_made_metrics_file_has_the_stages_shape(measured, tmp_path):
    _, real = measured
    hand = json.loads(
        (make_study(tmp_path / "runs", responses=False) / "metrics" / "metrics.json").read_text()
    )
    assert set(hand) <= set(real) | {"per_class"}
    kinds = {d["kind"]: d for d in real["details"].values()}
    for name, d in hand["details"].items():
        if d["kind"] not in kinds:  # kid: measured like fid (feature_kind), its details the same
            assert d["kind"] == "kid"
            d = {**d, "kind": "fid"}
        assert set(d) <= set(kinds[d["kind"]]) | {"memorisation"}, name
        assert set(d["features"]) <= set(kinds[d["kind"]]["features"]), name
    hand_memo = next(d["memorisation"] for d in hand["details"].values() if d["kind"] == "memo")
    assert set(hand_memo) <= set(kinds["memo"]["memorisation"])
    assert set(hand["floor"]) == set(real["floor"])


def test_a_stage_output_that_is_not_metrics_is_refused_by_name(tmp_path):
    from dermsynth.metrics.result import read_metrics, write_metrics

    bad = tmp_path / "metrics.json"
    bad.write_text('{"fid": 3}')
    with pytest.raises(ValueError, match=r"metrics\.json.*no 'results'"):
        read_metrics(bad)
    with pytest.raises(ValueError, match="needs 'results' and 'details'"):
        write_metrics(tmp_path / "x.json", {"results": {"fid": 1.0}})
