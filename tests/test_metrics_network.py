"""Generator paths: PPL (ppl2_wend), --network, compute_for_training, with a tiny stand-in generator.

The stand-in has the gan stage's interface (mapping(z, c, truncation_psi), synthesis(ws, noise_mode),
z_dim, c_dim, num_ws, img_resolution, outputs in [-1, 1]) and runs in milliseconds;
test_metrics_gan.py repeats the key paths with the gan stage's real ``tiny`` preset.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dermsynth.metrics import compute_for_training, compute_metrics, get_extractor
from dermsynth.metrics.generator import generate
from dermsynth.metrics.ppl import aggregate, crop_and_scale, feature_distance, path_lengths
from dermsynth.metrics.training import _rank_major_to_index
from test_metrics_compute import make_dataset  # noqa: E402  (tests dir is on sys.path under pytest)


class TinyG(torch.nn.Module):
    """Smooth class-conditional images from a 2-layer mapping and a small conv decoder."""

    def __init__(self, c_dim=2, res=32):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.z_dim, self.c_dim, self.w_dim, self.num_ws, self.img_resolution = 8, c_dim, 16, 3, res
        self.map = torch.nn.Linear(8 + max(c_dim, 1), 16)
        self.fc = torch.nn.Linear(16, 8 * 4 * 4)
        self.conv = torch.nn.Conv2d(8, 3, 3, padding=1)
        for p in self.parameters():
            p.data = torch.randn(p.shape, generator=g) * 0.5
        self.register_buffer("w_avg", torch.zeros(16))

    def mapping(self, z, c, truncation_psi=1.0):
        c = c if self.c_dim else torch.zeros(len(z), 1)
        w = torch.tanh(self.map(torch.cat([z, c * 2], 1)))
        w = self.w_avg.lerp(w, truncation_psi)
        return w[:, None].repeat(1, self.num_ws, 1)

    def synthesis(self, ws, noise_mode="const", **_):
        x = self.fc(ws.mean(1)).view(-1, 8, 4, 4)
        x = torch.nn.functional.interpolate(x, size=self.img_resolution, mode="bilinear", align_corners=False)
        return torch.tanh(self.conv(x))


@pytest.fixture(scope="module")
def G():
    return TinyG().eval()


@pytest.fixture(scope="module")
def real_dir(tmp_path_factory):
    p = tmp_path_factory.mktemp("real_net")
    return make_dataset(p, range(24), [i % 2 for i in range(24)], ["train"] * 18 + ["val"] * 6)


@pytest.fixture(scope="module")
def ext():
    return get_extractor("effnet-lite:random", size=32)


def test_generation_is_a_function_of_seed_not_batch(G):
    a = np.concatenate([b for _, _, b in generate(G, range(6), [0, 1, 0, 1, 0, 1], batch_size=4)])
    b = np.concatenate([b for _, _, b in generate(G, range(6), [0, 1, 0, 1, 0, 1], batch_size=1)])
    assert a.dtype == np.uint8 and a.shape == (6, 32, 32, 3)
    np.testing.assert_array_equal(a, b)


def test_ppl_batch_size_independent_and_positive(G, ext):
    d = feature_distance(ext)
    a = path_lengths(G, d, np.arange(8), np.arange(8) % 2, batch_size=3)
    b = path_lengths(G, d, np.arange(8), np.arange(8) % 2, batch_size=8)
    np.testing.assert_allclose(a, b, rtol=1e-3)
    assert (a > 0).all() and np.isfinite(aggregate(a))
    # a larger step in W than epsilon gives the same per-eps^2 length to first order
    c = path_lengths(G, d, np.arange(8), np.arange(8) % 2, epsilon=2e-4, batch_size=8)
    np.testing.assert_allclose(a, c, rtol=0.05)


def test_ppl_crop_and_aggregate_follow_official():
    img = torch.zeros(1, 3, 512, 512)
    out = crop_and_scale(img, True, 512)
    assert out.shape[-2:] == (128, 128) and torch.allclose(out, torch.full_like(out, 127.5))
    d = np.arange(1, 201, dtype=float)  # 1st "lower" = 2, 99th "higher" = 199 -> mean of 2..199
    assert aggregate(d) == pytest.approx(np.arange(2, 200).mean())


def test_network_path_per_class_ppl_and_memo(G, real_dir, tmp_path, monkeypatch):
    import dermsynth.metrics.generator as gen

    monkeypatch.setattr(gen, "load_network", lambda path: G)
    res = compute_metrics(
        real_dir,
        network="tiny.pt",
        metrics="fid,kid,pr,ppl,memo",
        features="effnet-lite:random",
        feature_size=32,
        num=20,
        ppl_num=6,
        ppl_features="effnet-lite:random",
        batch_size=8,
        kid_subsets=5,
        cache_dir=tmp_path,
        out_dir=tmp_path / "memo",
    )
    r = res["results"]
    assert {"fid", "kid", "precision", "recall", "memo_flag", "ppl2_wend[effnet-lite:random]"} <= set(r)
    assert "NOT LPIPS" in res["ppl"]["distance"]
    for cname in ("not_melanoma", "melanoma"):
        assert "ppl2_wend[effnet-lite:random]" in res["per_class"][cname]
    assert (tmp_path / "memo" / "memorisation_grid.png").is_file()
    json.dumps(res)  # JSON-able


def test_compute_for_training_writes_jsonl(G, real_dir, tmp_path, monkeypatch):
    out = compute_for_training(
        G,
        real_dir,
        ["fid", "kid", "ppl"],
        tmp_path,
        num=12,
        features="effnet-lite:random",
        feature_size=32,
        kid_subsets=4,
        ppl_features="effnet-lite:random",
        ppl_num=4,
        kimg=10.0,
        snapshot="network-000010.safetensors",
        cache_dir=tmp_path / "c",
        device="cpu",
    )
    line = json.loads((tmp_path / "metric-fid.jsonl").read_text().splitlines()[-1])
    assert line["metric"] == "fid" and line["kimg"] == 10.0 and "fid/melanoma" in line["results"]
    assert line["results"]["fid"] == pytest.approx(out["fid"]["results"]["fid"])
    assert (tmp_path / "metric-kid.jsonl").is_file()
    ppl = json.loads((tmp_path / "metric-ppl.jsonl").read_text())
    assert ppl["results"]["ppl2_wend[effnet-lite:random]"] > 0
    # the same figure as the standalone command on the same seeds and labels
    import dermsynth.metrics.generator as gen

    monkeypatch.setattr(gen, "load_network", lambda path: G)
    res = compute_metrics(
        real_dir,
        network="tiny.pt",
        metrics="fid",
        features="effnet-lite:random",
        feature_size=32,
        num=12,
        batch_size=6,
        cache_dir=tmp_path / "c",
    )
    assert res["real"]["cache"] == "hit"
    assert res["results"]["fid"] == pytest.approx(out["fid"]["results"]["fid"], rel=1e-4)


def test_rank_major_reorder():
    num, world = 7, 3
    n_pad = 3
    gathered = np.full(world * n_pad, -1)
    for r in range(world):
        mine = np.arange(r, num, world)
        gathered[r * n_pad : r * n_pad + len(mine)] = mine
    np.testing.assert_array_equal(gathered[_rank_major_to_index(num, world, n_pad)], np.arange(num))


def _ddp_worker(rank, world, port, real_dir, run_dir, cache_dir, q):
    import os

    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    from dermsynth.core import distributed as dist

    dist.init("gloo")
    try:
        out = compute_for_training(
            TinyG().eval(),
            real_dir,
            ["fid", "ppl"],
            run_dir,
            num=10,
            features="effnet-lite:random",
            feature_size=32,
            ppl_num=5,
            ppl_features="effnet-lite:random",
            cache_dir=cache_dir,
            device="cpu",
        )
        q.put((rank, out))
    finally:
        import torch.distributed as tdist

        tdist.destroy_process_group()


@pytest.mark.slow
def test_compute_for_training_two_ranks_equals_one(real_dir, tmp_path):
    import socket

    import torch.multiprocessing as mp

    one = compute_for_training(
        TinyG().eval(),
        real_dir,
        ["fid", "ppl"],
        tmp_path / "one",
        num=10,
        features="effnet-lite:random",
        feature_size=32,
        ppl_num=5,
        ppl_features="effnet-lite:random",
        cache_dir=tmp_path / "c",
        device="cpu",
    )
    (tmp_path / "two").mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [
        ctx.Process(target=_ddp_worker, args=(r, 2, port, real_dir, tmp_path / "two", tmp_path / "c", q))
        for r in range(2)
    ]
    for p in procs:
        p.start()
    outs = dict(q.get(timeout=240) for _ in procs)
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert outs[1] == {}
    assert outs[0]["fid"]["results"]["fid"] == pytest.approx(one["fid"]["results"]["fid"], rel=1e-4)
    key = "ppl2_wend[effnet-lite:random]"
    assert outs[0]["ppl"]["results"][key] == pytest.approx(one["ppl"]["results"][key], rel=1e-3)
    assert len((tmp_path / "two" / "metric-fid.jsonl").read_text().splitlines()) == 1
