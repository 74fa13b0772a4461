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
