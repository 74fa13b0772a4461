"""Slow GAN training checks: a 2-process gloo run under torchrun, and proof that training learns."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dermsynth.core.stats import read_jsonl

sys.path.insert(0, str(Path(__file__).parent))
from test_gan_train import SRC, make_disk_dataset  # noqa: E402

_DDP_CHILD = """
import hashlib, sys
import torch
from dermsynth.core import distributed as dist
from dermsynth.gan import train as tl
from dermsynth.gan.train.config import resolve_train_config
dist.init()
cfg = resolve_train_config("tiny", 16, gpus=dist.world_size(), data=sys.argv[1], cond=True, c_dim=2, batch=4,
                           kimg=0.016, tick=0.008, snap=1, device="cpu", metrics=("fd_simple",))
run = tl.train(tl.setup(cfg, sys.argv[2], echo=None))
h = hashlib.sha256()
# parameters only: as in the official code, the w_avg buffer tracks each rank's own batches
for t in list(run.G_ema.parameters()) + list(run.D.parameters()) + list(run.G.parameters()):
    h.update(t.detach().cpu().numpy().tobytes())
open(f"{sys.argv[2]}/hash-{dist.rank()}.txt", "w").write(h.hexdigest() + " " + str(float(run.augment_pipe.p)))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_gloo_run_keeps_ranks_in_step(tmp_path):
    data = make_disk_dataset(tmp_path / "data", n=16)
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    script = tmp_path / "child.py"
    script.write_text(_DDP_CHILD)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}",
           "--master_addr=127.0.0.1", str(script), str(data), str(out)]  # fmt: skip
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    hashes = {(out / f"hash-{r}.txt").read_text() for r in range(2)}
    assert len(hashes) == 1  # identical weights and augment p on both ranks after all-reduced steps
    rows = read_jsonl(out / "stats.jsonl")
    assert [r["tick"] for r in rows] == [0, 1, 2] and rows[-1]["kimg"] == pytest.approx(0.016)
    assert (out / "network-000000.safetensors").exists() and (out / "metric-fd_simple.jsonl").exists()
    state = torch.load(next(out.glob("training-state-*.pt")), weights_only=True)
    assert state["world_size"] == 2


def _class_contrast(img: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean brightness of class 1 minus class 0 (centre region, where the lesion lies)."""
    h = img.shape[-1]
    centre = img[:, :, h // 4 : 3 * h // 4, h // 4 : 3 * h // 4].mean(dim=(1, 2, 3))
    return float(centre[labels == 1].mean() - centre[labels == 0].mean())


@pytest.mark.slow
def test_tiny_gan_learns_the_data_and_its_classes(tmp_path):
    """A strong, known class signal: lesion disks, class 1 dark brown, class 0 light brown (centre
    brightness differs by about -0.33 in [-1, 1]). After 0.75 kimg the FD must have fallen five-fold
    and the EMA generator's class contrast (256 samples) must have the data's sign and at least a fifth
    of its size; measured: -0.18 vs -0.33 (Intel, loaded). The old check, on the phantom's weak
    contrast (-0.08) with a sign test at 0.3x, flipped on an AMD machine (issue 17)."""
    from dermsynth.gan import train as tl
    from dermsynth.gan.train.config import resolve_train_config

    data = make_disk_dataset(tmp_path / "data", n=64, size=32)
    cfg = resolve_train_config("tiny", 32, data=str(data), cond=True, c_dim=2, kimg=0.75, tick=0.25, snap=1,
                               device="cpu", metrics=("fd_simple",))  # fmt: skip
    run = tl.train(tl.setup(cfg, tmp_path / "run", echo=None))
    fd = [r["results"]["fd_simple"] for r in read_jsonl(run.run_dir / "metric-fd_simple.jsonl")]
    assert fd[-1] < 0.2 * fd[0], fd  # tick 0 is (nearly) the initialisation

    real, c = run.data.batch(np.arange(len(run.data.files)), "cpu")
    want = _class_contrast(real, c.argmax(1))
    assert want < -0.2  # class 1 is darker, clearly
    labels = torch.arange(256) % 2
    onehot = torch.nn.functional.one_hot(labels, 2).float()
    z = torch.randn(256, run.G_ema.z_dim, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        got = _class_contrast(run.G_ema(z, onehot, noise_mode="const"), labels)
    print(json.dumps({"fd_simple": fd, "class_contrast": {"samples": got, "data": want}}))
    assert got < 0.2 * want, (got, want)  # same sign as the data and at least a fifth of it
