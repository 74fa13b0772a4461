"""The training state file: one table of parts (``state.STATE_PARTS``) read by save and restore, the
file's keys and layout pinned, and the kept state of the shipped run (training/isic2017-gen) restoring
into a run and writing back the same values."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dermsynth.gan import train as tl
from dermsynth.gan.train.state import STATE_PARTS, collect_state, load_training_state, restore_state

ROOT = Path(__file__).resolve().parents[1]
KEPT = ROOT / "training" / "isic2017-gen"

#: The keys of ``training-state-*.pt``, in file order (the on-disk format: runs and the kept state in
#: git must keep loading, so a change here is a format change).
FILE_KEYS = ["G", "D", "G_ema", "opt_G", "opt_D", "augment_p", "ada", "loss", "sampler", "rng", "counters",
             "elapsed", "world_size", "data_fingerprint"]  # fmt: skip


def _same(a, b, path="") -> list[str]:
    """Paths at which two nested states differ (tensors exactly, floats exactly)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path}: keys {sorted(set(a) ^ set(b))}"]
        return [d for k in a for d in _same(a[k], b[k], f"{path}/{k}")]
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} vs {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _same(x, y, f"{path}[{i}]")]
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return [] if a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b) else [path]
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return []
    return [] if type(a) is type(b) and a == b else [f"{path}: {a!r} vs {b!r}"]


def test_the_table_is_the_file_format():
    assert list(STATE_PARTS) == FILE_KEYS
    kept = sorted(KEPT.glob("training-state-*.pt"))
    assert kept, f"{KEPT}: the shipped run's kept state is missing"
    assert list(load_training_state(kept[-1])) == FILE_KEYS


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny run after a few steps, with every scalar part moved away from a fresh run's value."""
    from test_gan_train import make_disk_dataset, tiny_cfg

    tmp = tmp_path_factory.mktemp("state")
    data = make_disk_dataset(tmp / "data")
    run = tl.train(tl.setup(tiny_cfg(data, kimg=0.008, snap=1000), tmp / "a", echo=None))
    run.augment_pipe.set_p(0.375)
    run.ada.load_state_dict({"sign_sum": 3.0, "sign_count": 8, "last_rt": 0.25})
    run.loss.load_state_dict({"pl_mean": torch.tensor(0.5)})
    run.clock.elapsed_before = 1234.0
    return data, tiny_cfg(data, kimg=0.008, snap=1000), run


def test_every_saved_part_is_restored(trained, tmp_path):
    """Restoring a state into a fresh run and saving again gives the same state, part by part; and
    every part the run changes differs from a fresh run's, so a part saved but not restored fails here."""
    _, cfg, run = trained
    saved = collect_state(run)
    fresh = tl.setup(cfg, tmp_path / "b", echo=None)
    before = collect_state(fresh)
    identity = {"world_size", "data_fingerprint"}  # the same for both runs by construction
    for name in set(FILE_KEYS) - identity:
        assert _same(saved[name], before[name]), f"{name}: the trained run's part equals a fresh run's"
    restore_state(fresh, saved)
    after = collect_state(fresh)
    assert list(after) == FILE_KEYS
    assert after["elapsed"] == pytest.approx(saved["elapsed"] - run.clock.elapsed_before + 1234.0, abs=60)
    for name in set(FILE_KEYS) - {"elapsed"}:
        assert not _same(after[name], saved[name]), (name, _same(after[name], saved[name])[:3])
    assert dataclasses.asdict(fresh.counters) == saved["counters"] and fresh.augment_pipe.probability == 0.375


def test_a_state_with_a_missing_or_unknown_part_is_refused(trained, tmp_path):
    _, cfg, run = trained
    fresh = tl.setup(cfg, tmp_path / "c", echo=None)
    state = collect_state(run)
    with pytest.raises(ValueError, match=r"missing \['ada'\]"):
        restore_state(fresh, {k: v for k, v in state.items() if k != "ada"})
    with pytest.raises(ValueError, match=r"unknown \['extra'\]"):
        restore_state(fresh, {**state, "extra": 1})
    old = {k: v for k, v in state.items() if k != "data_fingerprint"}  # states from before it was recorded
    restore_state(fresh, old)
    with pytest.raises(ValueError, match="dataset size changed"):
        restore_state(fresh, {**state, "sampler": {**state["sampler"], "n": 7}})
    with pytest.raises(ValueError, match="another dataset"):
        restore_state(fresh, {**state, "data_fingerprint": "0" * 16})


def test_the_kept_state_of_the_shipped_run_restores_and_saves_back_unchanged(tmp_path):
    """The newest kept state of the shipped run (training/isic2017-gen/training-state-*.pt) restores into
    a run built from its config.json and is collected back value for value."""
    from test_gan_train import make_disk_dataset

    kept = sorted(KEPT.glob("training-state-*.pt"))
    assert kept, f"{KEPT}: the shipped run's kept state is missing"
    path = kept[-1]
    from dermsynth.gan.train.config import TrainConfig

    kept_cfg = json.loads((KEPT / "config.json").read_text())
    fields = {k: (tuple(v) if isinstance(v, list) else v) for k, v in kept_cfg.items()
              if k in TrainConfig.__dataclass_fields__}  # fmt: skip
    data = make_disk_dataset(tmp_path / "data", n=4, size=fields["res"])
    cfg = TrainConfig(**{**fields, "data": str(data), "resume": None, "keep": None, "metrics": (),
                         "device": "cpu"})  # fmt: skip
    run = tl.setup(cfg, tmp_path / "run", echo=None)
    state = load_training_state(path)
    own = dict(state, sampler={**state["sampler"], "n": run.sampler.n})  # our 4 images, not the 4000
    del own["data_fingerprint"]
    restore_state(run, own)
    assert (
        run.counters.cur_nimg == state["counters"]["cur_nimg"] > 0
        and run.ada.last_rt == state["ada"]["last_rt"]
    )
    back = collect_state(run)
    back["rng"].pop("cuda", None)  # written on a CPU machine
    for name in set(FILE_KEYS) - {"elapsed", "sampler", "data_fingerprint", "world_size"}:
        assert not _same(back[name], state[name]), (name, _same(back[name], state[name])[:3])
    assert back["sampler"] == {**state["sampler"], "n": run.sampler.n}
    assert back["elapsed"] >= state["elapsed"]
