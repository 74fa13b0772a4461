"""Stage skipping, redo on change, resume after interruption."""

from __future__ import annotations

import pytest

from dermsynth.pipeline.runner import MARKER, Stage, run_pipeline


def _stages(calls: list[str], fail_in: str | None = None):
    def make(name):
        def fn(sec, out, inputs, cfg, log):
            calls.append(name)
            for n, d in inputs.items():
                assert (d / "out.txt").read_text().startswith(n)
            if name == fail_in:
                (out / "partial").write_text("x")
                raise RuntimeError("killed")
            (out / "out.txt").write_text(f"{name} {sec.get('v', 0)}")

        return fn

    return [
        Stage("a", make("a")),
        Stage("b", make("b"), needs=("a",)),
        Stage("c", make("c"), needs=("b",)),
        Stage("d", make("d"), needs=("a",), enabled=lambda cfg: cfg.get("d", {}).get("on", False)),
    ]


def test_skip_redo_and_resume(tmp_path):
    calls: list[str] = []
    cfg = {"seed": 0, "a": {"v": 1}, "b": {}, "c": {}}
    r = run_pipeline(cfg, tmp_path, _stages(calls), log=lambda s: None)
    assert calls == ["a", "b", "c"] and r["d"]["status"] == "disabled"
    calls.clear()
    run_pipeline(cfg, tmp_path, _stages(calls), log=lambda s: None)
    assert calls == []  # everything unchanged
    cfg["b"] = {"v": 2}  # change b: b and c redo, a is kept
    run_pipeline(cfg, tmp_path, _stages(calls), log=lambda s: None)
    assert calls == ["b", "c"]
    calls.clear()
    cfg["c"] = {"v": 5}
    with pytest.raises(RuntimeError):
        run_pipeline(cfg, tmp_path, _stages(calls, fail_in="c"), log=lambda s: None)
    assert not (tmp_path / "c" / MARKER).exists()  # interrupted: no marker
    calls.clear()
    run_pipeline(cfg, tmp_path, _stages(calls), log=lambda s: None)
    assert calls == ["c"] and (tmp_path / "c" / "partial").exists()  # resumed in place
    cfg["seed"] = 1  # the seed reaches every stage
    calls.clear()
    run_pipeline(cfg, tmp_path, _stages(calls), log=lambda s: None)
    assert calls == ["a", "b", "c"]


def test_a_stage_is_redone_only_when_what_it_reads_changed(tmp_path):
    """Keys hash the resolved configs and the inputs actually read (issue 26.3): a GAN trained on the
    audited images is kept when only the audit's method changes; one trained on the cleaned images is not."""
    from dermsynth.pipeline.config import load_study_config
    from dermsynth.pipeline.runner import planned_keys
    from dermsynth.pipeline.stages import STAGES

    base = load_study_config(preset_name="demo-cpu")
    assert base["gan"]["train_on"] == "data" and base["clean"]["enabled"]
    other = {**base, "audit": {**base["audit"], "method": "heuristic"}}
    a, b = planned_keys(base, tmp_path, STAGES), planned_keys(other, tmp_path, STAGES)
    assert a["data"] == b["data"] and a["gan"] == b["gan"] and a["edit"] == b["edit"]
    assert a["audit"] != b["audit"] and a["clean"] != b["clean"]
    assert a["generate"] != b["generate"]  # the generated images are audited by the audit's method
    on_clean = {**base, "gan": {**base["gan"], "train_on": "clean"}}
    on_clean_other = {**on_clean, "audit": other["audit"]}
    assert (
        planned_keys(on_clean, tmp_path, STAGES)["gan"]
        != planned_keys(on_clean_other, tmp_path, STAGES)["gan"]
    )
    # a default written out is the same config; a moved study folder keeps its keys
    explicit = {**base, "generate": {**base["generate"], "noise_mode": "const"}}
    assert planned_keys(explicit, tmp_path, STAGES) == a
    assert planned_keys(base, tmp_path / "moved", STAGES) == a
