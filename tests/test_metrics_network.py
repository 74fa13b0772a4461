"""Generator paths: PPL, --network, compute_for_training, with a tiny stand-in generator.

The stand-in has the gan stage's interface (mapping(z, c, truncation_psi), synthesis(ws, noise_mode),
z_dim, c_dim, num_ws, img_resolution, outputs in [-1, 1]) and runs in milliseconds;
test_metrics_gan.py repeats the key paths with the gan stage's real ``tiny`` preset.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from dermsynth.metrics import compute_for_training, compute_metrics, get_extractor
from dermsynth.metrics.gather import rank_major_to_index as _rank_major_to_index
from dermsynth.metrics.generator import generate
from dermsynth.metrics.ppl import aggregate, crop_and_scale, feature_distance, path_lengths
from test_metrics_compute import make_dataset  # noqa: E402  (tests dir is on sys.path under pytest; registers randlite)

#: Options of every run here: the test feature space at 32 px, on the CPU.
OPTS = dict(feature_size=32, device="cpu")


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


#: float64 path lengths at the official eps: rounding ~1e-16 amplified by ~1/eps = 1e4 stays ~1e-12.
RTOL_FLOAT64 = 1e-9
#: float32 path lengths at eps = 1e-2: rounding ~6e-8 of pixel/feature values, divided by the ~eps-sized
#: difference, gives a relative error ~1e-5 per sample (at eps = 1e-4 it would be ~1e-3, the noise floor
#: this test used to sit on); 1e-3 leaves a 100x margin across GEMM kernels, batch sizes and CPUs.
EPS_FLOAT32, RTOL_FLOAT32 = 1e-2, 1e-3


def test_ppl_batch_size_independent_in_float64_at_official_eps(G):
    G64 = copy.deepcopy(G).double()

    def pixel_distance(a, b):  # squared L2 of the [0, 255] images, in their dtype
        return (a - b).square().flatten(1).sum(1)

    a = path_lengths(G64, pixel_distance, np.arange(8), np.arange(8) % 2, epsilon=1e-4, batch_size=3)
    b = path_lengths(G64, pixel_distance, np.arange(8), np.arange(8) % 2, epsilon=1e-4, batch_size=8)
    np.testing.assert_allclose(a, b, rtol=RTOL_FLOAT64)
    assert a.dtype == np.float64 and (a > 0).all() and np.isfinite(aggregate(a))
    # a step twice as long gives the same length per eps^2 to first order (smooth generator)
    c = path_lengths(G64, pixel_distance, np.arange(8), np.arange(8) % 2, epsilon=2e-4, batch_size=8)
    np.testing.assert_allclose(a, c, rtol=0.01)


def test_ppl_batch_size_independent_in_float32_feature_space(G, ext):
    d = feature_distance(ext)
    a = path_lengths(G, d, np.arange(8), np.arange(8) % 2, epsilon=EPS_FLOAT32, batch_size=3)
    b = path_lengths(G, d, np.arange(8), np.arange(8) % 2, epsilon=EPS_FLOAT32, batch_size=8)
    np.testing.assert_allclose(a, b, rtol=RTOL_FLOAT32)
    assert (a > 0).all() and np.isfinite(aggregate(a))


def test_ppl_crop_and_aggregate_follow_official():
    img = torch.zeros(1, 3, 512, 512)
    out = crop_and_scale(img, True, 512)  # ppl_wend's face crop (ppl2_wend does not crop)
    assert out.shape[-2:] == (128, 128) and torch.allclose(out, torch.full_like(out, 127.5))
    assert crop_and_scale(img, False, 512).shape[-2:] == (256, 256)  # box downsampling to 256
    d = np.arange(1, 201, dtype=float)  # 1st "lower" = 2, 99th "higher" = 199 -> mean of 2..199
    assert aggregate(d) == pytest.approx(np.arange(2, 200).mean())


def test_network_path_per_class_ppl_and_memo(G, real_dir, tmp_path, monkeypatch):
    import dermsynth.metrics.generator as gen

    monkeypatch.setattr(gen, "load_network", lambda path: G)
    names = "fid20_randlite,kid20_randlite,pr203_randlite,memo20_randlite,ppl6_wend_randlite"
    res = compute_metrics(
        real_dir,
        network="tiny.pt",
        metrics=names,
        batch_size=8,
        cache_dir=tmp_path,
        out_dir=tmp_path / "memo",
        **OPTS,
    )
    r = res["results"]
    assert set(r) == {
        "fid20_randlite",
        "kid20_randlite",
        "kid20_randlite_std",
        "pr203_randlite_precision",
        "pr203_randlite_recall",
        "memo20_randlite_flag",
        "ppl6_wend_randlite",
    }
    assert "NOT LPIPS" in res["details"]["ppl6_wend_randlite"]["distance"]
    assert res["details"]["ppl6_wend_randlite"]["crop"] is False  # ppl2_wend's protocol: no crop
    for cname in ("not_melanoma", "melanoma"):
        assert res["per_class"][cname]["ppl6_wend_randlite"] > 0
    assert res["fake"]["network"] == "tiny.pt"
    assert (tmp_path / "memo" / "memorisation_grid.png").is_file()
    json.dumps(res)  # JSON-able


def test_ppl_in_the_lpips_space_uses_the_local_vgg16_file(G, real_dir, tmp_path, monkeypatch):
    """ppl<count>_wend_lpips: LPIPS-VGG16 from --vgg16-weights (random VGG16 conv weights here, 59 MB)."""
    from torchvision.models.vgg import cfgs, make_layers

    import dermsynth.metrics.generator as gen

    with torch.device("meta"):  # shapes only: a real random init of VGG16 takes minutes on a loaded CPU
        shapes = {k: v.shape for k, v in make_layers(cfgs["D"]).state_dict().items()}
    g = torch.Generator().manual_seed(0)
    path = tmp_path / "vgg16-397923af.pth"
    torch.save({f"features.{k}": torch.randn(s, generator=g) * 0.05 for k, s in shapes.items()}, path)
    monkeypatch.setattr(gen, "load_network", lambda p: G)
    res = compute_metrics(
        real_dir, network="tiny.pt", metrics="ppl4_wend_lpips", vgg16_weights=path, per_class=False, **OPTS
    )
    d = res["details"]["ppl4_wend_lpips"]
    assert d["distance"] == "lpips-vgg16" and d["vgg16_weights"] == str(path) and d["crop"] is False
    assert res["results"]["ppl4_wend_lpips"] > 0 and res["per_class"] == {}


def test_command_and_training_give_identical_numbers(G, real_dir, tmp_path, monkeypatch):
    """One driver: `dermsynth metrics --network` and a training snapshot agree exactly, file per metric."""
    from typer.testing import CliRunner

    import dermsynth.metrics.generator as gen
    from dermsynth.cli.main import app

    names = ["fid12_randlite", "kid12_randlite", "pr123_randlite", "ppl4_wend_randlite"]
    out = compute_for_training(
        G,
        real_dir,
        names,
        tmp_path / "run",
        kimg=10.0,
        cache_dir=tmp_path / "c",
        **OPTS,
    )
    assert sorted(out) == sorted(names)
    assert not list((tmp_path / "run").glob("metric-*.jsonl"))  # the training loop writes the rows
    line = out["fid12_randlite"]
    assert line["num"] == 12 and "fid12_randlite/melanoma" in line["results"]
    kid = out["kid12_randlite"]["results"]
    assert set(kid) >= {"kid12_randlite", "kid12_randlite_std", "kid12_randlite/melanoma"}

    monkeypatch.setattr(gen, "load_network", lambda path: G)
    js = tmp_path / "m.json"
    args = ["metrics", "--real", str(real_dir), "--network", "tiny.pt", "--metrics", ",".join(names)]
    args += ["--json", str(js), "--cache-dir", str(tmp_path / "c"), "--feature-size", "32", "--device", "cpu"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    cli = json.loads(js.read_text())
    assert cli["real"]["cache"] == "hit"
    for n in names:
        row = out[n]["results"]
        assert {k: v for k, v in cli["results"].items() if k.startswith(n)} == {
            k: v for k, v in row.items() if "/" not in k
        }
        for cname, vals in cli["per_class"].items():
            for k, v in vals.items():
                if k.startswith(n):
                    assert row[f"{k}/{cname}"] == v


def test_rank_major_reorder():
    num, world = 7, 3
    n_pad = 3
    gathered = np.full(world * n_pad, -1)
    for r in range(world):
        mine = np.arange(r, num, world)
        gathered[r * n_pad : r * n_pad + len(mine)] = mine
    np.testing.assert_array_equal(gathered[_rank_major_to_index(num, world, n_pad)], np.arange(num))


#: The two-rank run splits PPL batches differently from the one-rank run, so PPL is compared at a
#: step where float32 rounding is ~1e-5 relative (see EPS_FLOAT32), not at the official 1e-4.
RANKS_OPTS = dict(OPTS, ppl_epsilon=EPS_FLOAT32)
RANKS_METRICS = ["fid10_randlite", "ppl5_wend_randlite"]


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
        import test_metrics_compute  # noqa: F401  (registers the randlite space in this process)

        out = compute_for_training(
            TinyG().eval(), real_dir, RANKS_METRICS, run_dir, cache_dir=cache_dir, **RANKS_OPTS
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
        TinyG().eval(), real_dir, RANKS_METRICS, tmp_path / "one", cache_dir=tmp_path / "c", **RANKS_OPTS
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
    fid = "fid10_randlite"
    assert outs[0][fid]["results"][fid] == pytest.approx(one[fid]["results"][fid], rel=1e-4)
    key = "ppl5_wend_randlite"
    assert outs[0][key]["results"][key] == pytest.approx(one[key]["results"][key], rel=RTOL_FLOAT32)
    assert set(outs[0]) == set(one) and not list((tmp_path / "two").glob("metric-*.jsonl"))
