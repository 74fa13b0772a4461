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


def _git(root, *args):
    import subprocess

    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A repository laid out as this one (weights, a kept state, code) and a shared-data folder with a few
    isic2017-256 images: what ``gpu_round.py travel`` works on."""
    import numpy as np
    from PIL import Image

    root = tmp_path / "repo"
    files = {
        "src/dermsynth/x.py": b"x = 1\n",
        "src/dermsynth/models/weights/big.safetensors": b"w" * 5000,
        "training/isic2017-gen/training-state-000010.pt": b"s" * 4000,
        "training/isic2017-gen/stats.jsonl": b"{}\n",
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    _git(root, "init", "-q")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    shared = tmp_path / "shared"
    (shared / "isic2017-256" / "images").mkdir(parents=True)
    rows = []
    for i in range(6):
        iid = f"ISIC_{i:07d}"
        rgb = np.random.default_rng(i).integers(0, 255, (32, 32, 3), dtype=np.uint8)
        Image.fromarray(rgb).save(shared / "isic2017-256" / "images" / f"{iid}.jpg")
        rows.append(f"{iid},{i % 2},{'train' if i < 4 else 'val'}")
    (shared / "isic2017-256" / "labels.csv").write_text("image_id,melanoma,split\n" + "\n".join(rows) + "\n")
    monkeypatch.setenv("DERMSYNTH_SHARED_DATA", str(shared))
    return root


def test_gpu_round_travel_sends_data_then_state_and_restores_the_index(repo, monkeypatch):
    import tarfile

    gr = load_script("gpu_round")

    def args(what):
        return type("A", (), {"what": what, "root": str(repo), "keep": str(repo / "training/isic2017-gen")})

    def travelling(carry=()):
        return {n for _, n in gr.travelling_bytes(repo, list(carry))[1]}

    assert "training/isic2017-gen/training-state-000010.pt" in travelling()
    gr.travel(args("data"))
    sent = travelling([gr.TRAVEL_DIR])
    assert f"{gr.TRAVEL_DIR}/{gr.PACK}" in sent and "src/dermsynth/x.py" in sent
    assert not any(n.startswith("src/dermsynth/models/weights") or "training-state" in n for n in sent)
    with tarfile.open(repo / gr.TRAVEL_DIR / gr.PACK) as tar:  # the train split only, with its labels
        names = sorted(tar.getnames())
    assert names == [f"isic2017-256/images/ISIC_000000{i}.jpg" for i in range(4)] + [
        "isic2017-256/labels.csv"
    ]
    # a state written meanwhile under a new name does not travel either (a pattern, not a list)
    (repo / "training/isic2017-gen/training-state-000012.pt").write_bytes(b"n" * 10)
    assert "training/isic2017-gen/training-state-000012.pt" not in travelling([gr.TRAVEL_DIR])
    (repo / "training/isic2017-gen/training-state-000012.pt").unlink()

    gr.travel(args("state"))
    sent = travelling()
    assert "training/isic2017-gen/training-state-000010.pt" in sent
    assert not any(n.startswith("src/dermsynth/models/weights") or n.startswith(gr.TRAVEL_DIR) for n in sent)

    monkeypatch.setattr(gr, "TRAVEL_LIMIT", 1000)
    with pytest.raises(SystemExit, match="over the"):
        gr.travel(args("state"))

    gr.travel(args("restore"))
    assert _git(repo, "status", "--porcelain") == ""  # the index as committed, no travel excludes left
    assert "gpu_round travel" not in (repo / ".git/info/exclude").read_text()


def test_gpu_round_stage_ingests_the_carried_images_for_the_run(repo, monkeypatch):
    gr = load_script("gpu_round")
    gr.make_pack(repo, repo / gr.TRAVEL_DIR / gr.PACK)
    monkeypatch.delenv("DERMSYNTH_SHARED_DATA")  # the device has no shared data: only the pack
    gr.stage(type("A", (), {"root": str(repo), "pack": gr.TRAVEL_DIR}))
    staged = gr.staged_data(repo)
    assert staged is not None and len(list((staged / "images").rglob("*.png"))) == 4
    assert json.loads((staged / "dataset.json").read_text())["labels"]
    assert gr.dataset_sha256(staged) == gr.dataset_sha256(staged)


def test_gpu_round_newer_within_the_same_whole_kimg_is_folded_in(kept, tmp_path):
    """State files are named by whole kimg; a short round (a few steps) is still newer by its image count."""
    import shutil

    import torch

    gr = load_script("gpu_round")
    (state,) = kept.glob("training-state-*.pt")
    ahead = tmp_path / "ahead"
    shutil.copytree(kept, ahead)
    s = torch.load(state, weights_only=True)
    s["counters"]["cur_nimg"] += 4  # one more step of 4 images: the same file name
    torch.save(s, ahead / state.name)
    out = tmp_path / "out"
    gr.pack(ahead, out, {"device": "cuda"})
    dest = tmp_path / "dest"
    shutil.copytree(kept, dest)
    args = type("A", (), {"files": str(out), "keep": str(dest), "force": False})
    gr.collect(args)
    assert gr.state_nimg(dest / state.name) == gr.state_nimg(state) + 4
    with pytest.raises(SystemExit, match="already holds"):
        gr.collect(args)
