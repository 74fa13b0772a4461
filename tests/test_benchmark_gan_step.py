"""benchmarks/gan_step.py times the real training step (``gan.train``'s ``training_step``) of a run
built by ``gan.train.setup``, not a simplified stand-in; benchmarks/augment_speed.py uses it."""

from __future__ import annotations

from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def test_gan_step_is_the_real_training_step(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import gan_step
    from dermsynth.gan.train import step as step_module

    run = gan_step.make_run("tiny", 16, 4, 2, torch.device("cpu"), tmp_path / "run", aug="fixed", p=0.5)
    assert run.cfg.batch == 4 and run.cfg.c_dim == 2 and run.augment_pipe.probability == 0.5
    assert gan_step.due_phases(run) == ["Gmain", "Greg", "Dmain", "Dreg"]  # step 0: all, lazily regularised
    calls = []
    real_step = step_module.training_step
    monkeypatch.setattr(step_module, "training_step", lambda r: calls.append(r) or real_step(r))
    step = gan_step.make_step(run)
    g0 = [p.detach().clone() for p in run.G.parameters()]
    ema0 = [p.detach().clone() for p in run.G_ema.parameters()]
    step()
    assert calls == [run]
    assert (run.counters.cur_nimg, run.counters.batch_idx) == (4, 1)
    assert any(not torch.equal(a, b) for a, b in zip(g0, run.G.parameters(), strict=True))  # Adam stepped
    assert any(not torch.equal(a, b) for a, b in zip(ema0, run.G_ema.parameters(), strict=True))  # EMA
    assert gan_step.due_phases(run) == ["Gmain", "Dmain"]


def test_augment_speed_times_the_pipe_against_the_real_step():
    """augment_speed.py builds its step through gan_step's helpers (no augmentation in the step)."""
    text = (BENCH / "augment_speed.py").read_text()
    assert "from gan_step import due_phases, make_run, make_step" in text and 'aug="noaug"' in text
