"""The shipped generator's rounds: scripts/train_gen.py (one command continues the kept run) and
scripts/gpu_round.py (a GPU round's state comes back in parts within the transfer limits)."""

from __future__ import annotations

import json

import pytest

from dermsynth.gan import train as tl
from scriptload import load_script


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """A tiny run whose state was kept in a folder (as training/isic2017-gen keeps the shipped one's)."""
    from test_gan_train import make_disk_dataset, tiny_cfg

    tmp = tmp_path_factory.mktemp("kept")
    data = make_disk_dataset(tmp / "data")
    keep = tmp / "keep"
    tl.train(tl.setup(tiny_cfg(data, kimg=0.008, keep=str(keep)), tmp / "run", echo=None))
    return keep


def test_gpu_round_state_comes_back_in_parts_and_is_folded_in(kept, tmp_path, monkeypatch):
    gr = load_script("gpu_round")
    (state,) = kept.glob("training-state-*.pt")
    part_bytes = state.stat().st_size // 3 + 1
    monkeypatch.setattr(gr, "PART_BYTES", part_bytes)  # the tiny state in 3 parts, as the 55 MB one in 4
    out = tmp_path / "out"
    man = gr.pack(kept, out, {"device": "cuda"})
    assert len(man["parts"]) == 3 and man["bytes"] == state.stat().st_size
    assert len(list(out.iterdir())) <= gr.MAX_FILES
    assert all(p.stat().st_size <= part_bytes for p in out.glob("state.part-*"))

    dest = tmp_path / "dest"
    args = type("A", (), {"files": str(out), "keep": str(dest), "force": False})
    gr.collect(args)
    assert (dest / state.name).read_bytes() == state.read_bytes()
    assert {"config.json", "stats.jsonl", "log.txt"} <= {p.name for p in dest.iterdir()}
    with pytest.raises(SystemExit, match="already holds"):
        gr.collect(args)  # not newer than what is kept

    part = out / man["parts"][1]["name"]
    part.write_bytes(part.read_bytes()[:-1] + b"\0")
    args.keep, args.force = str(tmp_path / "dest2"), True
    with pytest.raises(SystemExit, match="damaged in transfer"):
        gr.collect(args)


def test_gpu_round_refuses_to_exceed_the_transfer_limits(kept, tmp_path, monkeypatch):
    gr = load_script("gpu_round")
    monkeypatch.setattr(gr, "PART_BYTES", 1024)  # hundreds of parts: more files than may come back
    with pytest.raises(SystemExit, match="over the transfer limits"):
        gr.pack(kept, tmp_path / "out", {})


def test_train_gen_command_is_the_shipped_runs_identity():
    """The documented command continues the kept run: its options give the run directory the kept
    config.json was made for (same name, no 'different options'), at 128 px, fp32, conditional."""
    tg = load_script("train_gen")
    opts = tg.OPTIONS
    assert opts[opts.index("--cbase") + 1] == "2048" and opts[opts.index("--precision") + 1] == "fp32"
    assert "--cond" in opts and "--mirror" in opts and tg.RES == 128
    kept_cfg = tg.KEEP / "config.json"
    if not kept_cfg.exists():
        pytest.skip(f"{kept_cfg}: no kept run in this checkout")
    from dermsynth.gan.train.build import run_name
    from dermsynth.gan.train.config import TrainConfig

    cfg = json.loads(kept_cfg.read_text())
    fields = {
        k: (tuple(v) if isinstance(v, list) else v)
        for k, v in cfg.items()
        if k in TrainConfig.__dataclass_fields__
    }
    assert fields["res"] == 128 and fields["cbase"] == 2048 and fields["cond"]
    assert run_name(TrainConfig(**fields)).startswith("isic2017-train-128-auto-res128-cond-mirror-")
