"""GAN training: config resolution, sampler, data loading, a tiny run's outputs, exact resume after
SIGKILL, transfer learning with Freeze-D, and the ``train`` command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from dermsynth.core.io import write_png
from dermsynth.core.stats import read_jsonl
from dermsynth.gan import train as tl
from dermsynth.gan.train.build import frozen_d_parameters, run_name
from dermsynth.gan.train.config import resolve_train_config
from dermsynth.gan.train.data import load_training_data, probe_dataset
from dermsynth.gan.train.sampler import InfiniteSampler

SRC = str(Path(__file__).resolve().parents[1] / "src")


def make_disk_dataset(out: Path, n: int = 24, size: int = 16, seed: int = 0) -> Path:
    """Skin-coloured images with a lesion disk: class 1 dark brown, class 0 light brown."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    r = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    labels = []
    for i in range(n):
        lab = i % 2
        img = np.full((size, size, 3), [205, 165, 145], np.float32)
        cx, cy = r.uniform(size * 0.35, size * 0.65, 2)
        rad = r.uniform(size * 0.18, size * 0.32)
        img[(xx - cx) ** 2 + (yy - cy) ** 2 < rad**2] = [60, 40, 30] if lab else [160, 100, 70]
        img += r.normal(0, 4, img.shape)
        write_png(out / f"images/{i:06d}.png", np.clip(img, 0, 255).astype(np.uint8))
        labels.append([f"images/{i:06d}.png", lab])
    (out / "dataset.json").write_text(json.dumps({"labels": labels}))
    return out


def tiny_cfg(data: Path, **kw):
    base = dict(data=str(data), cond=True, c_dim=2, batch=4, kimg=0.032, tick=0.008, snap=2, device="cpu")
    base.update(kw)
    return resolve_train_config("tiny", 16, **base)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_disk_dataset(tmp_path_factory.mktemp("disks"))


# ---------------------------------------------------------------------------------------------------
# Resolved options against values written down from the official train.py / training_loop.py formulas:
#   auto: batch = max(min(gpus * min(4096 // res, 32), 64), gpus), mbstd = min(batch // gpus, 4),
#         cbase = 32768 * (1 if res >= 512 else 0.5), lr = 0.002 if res >= 1024 else 0.0025,
#         gamma = 0.0002 res^2 / batch, ema = batch * 10 / 32, ramp 0.05, map 2, ref_gpus = gpus
#   fixed presets: cfg_specs; batch_gpu = batch // ref_gpus (--batch: batch // gpus), at most batch // gpus
#   Adam (lazy regularisation, always, also with pl_weight = 0 or gamma = 0): G lr * 4/5, betas ** (4/5);
#   D lr * 16/17, betas ** (16/17); base betas (0, 0.99). 0.99 ** 0.8 = 0.991992, 0.99 ** (16/17) = 0.990585.
G_B2, D_B2 = 0.9919919678, 0.9905854573
PRESET_FIELDS = "batch batch_gpu mbstd cbase map gamma ema ramp kimg pl_weight style_mixing".split()
# cfg, res, gpus, overrides: batch, batch_gpu, mbstd, cbase, map, gamma, ema, ramp, kimg, pl_weight,
#                            style_mixing, G lr, D lr
PRESET_TABLE = [
    ("auto", 256, 1, {}, 16, 16, 4, 16384, 2, 0.8192, 5.0, 0.05, 25000, 2, 0.9, 0.002, 0.0023529412),
    ("auto", 256, 2, {}, 32, 16, 4, 16384, 2, 0.4096, 10.0, 0.05, 25000, 2, 0.9, 0.002, 0.0023529412),
    ("auto", 256, 8, {}, 64, 8, 4, 16384, 2, 0.2048, 20.0, 0.05, 25000, 2, 0.9, 0.002, 0.0023529412),
    ("auto", 32, 8, {}, 64, 8, 4, 16384, 2, 0.0032, 20.0, 0.05, 25000, 2, 0.9, 0.002, 0.0023529412),
    ("auto", 1024, 1, {}, 4, 4, 4, 32768, 2, 52.4288, 1.25, 0.05, 25000, 2, 0.9, 0.0016, 0.0018823529),
    ("auto", 512, 2, {}, 16, 8, 4, 32768, 2, 3.2768, 5.0, 0.05, 25000, 2, 0.9, 0.002, 0.0023529412),
    ("stylegan2", 256, 1, {}, 32, 4, 4, 32768, 8, 10, 10, None, 25000, 2, 0.9, 0.0016, 0.0018823529),
    ("stylegan2", 256, 2, {}, 32, 4, 4, 32768, 8, 10, 10, None, 25000, 2, 0.9, 0.0016, 0.0018823529),
    ("stylegan2", 256, 8, {}, 32, 4, 4, 32768, 8, 10, 10, None, 25000, 2, 0.9, 0.0016, 0.0018823529),
    ("paper256", 256, 1, {}, 64, 8, 8, 16384, 8, 1, 20, None, 25000, 2, 0.9, 0.002, 0.0023529412),
    ("paper256", 256, 2, {}, 64, 8, 8, 16384, 8, 1, 20, None, 25000, 2, 0.9, 0.002, 0.0023529412),
    ("paper256", 256, 8, {}, 64, 8, 8, 16384, 8, 1, 20, None, 25000, 2, 0.9, 0.002, 0.0023529412),
    ("paper256", 256, 2, {"batch": 32, "gamma": 2.0}, 32, 16, 8, 16384, 8, 2, 20, None, 25000, 2, 0.9, 0.002,
     0.0023529412),
    ("paper512", 512, 1, {}, 64, 8, 8, 32768, 8, 0.5, 20, None, 25000, 2, 0.9, 0.002, 0.0023529412),
    ("paper512", 512, 8, {}, 64, 8, 8, 32768, 8, 0.5, 20, None, 25000, 2, 0.9, 0.002, 0.0023529412),
    ("paper1024", 1024, 1, {}, 32, 4, 4, 32768, 8, 2, 10, None, 25000, 2, 0.9, 0.0016, 0.0018823529),
    ("paper1024", 1024, 8, {}, 32, 4, 4, 32768, 8, 2, 10, None, 25000, 2, 0.9, 0.0016, 0.0018823529),
    ("cifar", 32, 1, {}, 64, 32, 32, 32768, 2, 0.01, 500, 0.05, 100000, 0, 0, 0.002, 0.0023529412),
    ("cifar", 32, 2, {}, 64, 32, 32, 32768, 2, 0.01, 500, 0.05, 100000, 0, 0, 0.002, 0.0023529412),
    ("cifar", 32, 8, {}, 64, 8, 32, 32768, 2, 0.01, 500, 0.05, 100000, 0, 0, 0.002, 0.0023529412),
    ("auto", 256, 1, {"gamma": 0.0}, 16, 16, 4, 16384, 2, 0, 5.0, 0.05, 25000, 2, 0.9, 0.002, 0.0023529412),
]  # fmt: skip


@pytest.mark.parametrize("row", PRESET_TABLE, ids=lambda r: f"{r[0]}-res{r[1]}-gpus{r[2]}-{len(r[3])}")
def test_presets_resolve_to_the_official_values(row):
    from dermsynth.gan.train.build import adam_settings

    cfg_name, res, gpus, over, *want = row
    cfg = resolve_train_config(cfg_name, res, gpus=gpus, data="x", **over)
    got = [
        cfg.batch, cfg.batch_gpu, cfg.mbstd, cfg.cbase, cfg.map, cfg.gamma, cfg.ema_kimg, cfg.ema_rampup,
        cfg.kimg, cfg.pl_weight, cfg.style_mixing,
    ]  # fmt: skip
    for name, g, w in zip(PRESET_FIELDS, got, want[:11], strict=True):
        assert g == (None if w is None else pytest.approx(w, rel=1e-9)), name
    adam = adam_settings(cfg)
    assert adam["G"]["lr"] == pytest.approx(want[11], rel=1e-7)
    assert adam["D"]["lr"] == pytest.approx(want[12], rel=1e-7)
    assert adam["G"]["betas"] == pytest.approx((0.0, G_B2), rel=1e-9)
    assert adam["D"]["betas"] == pytest.approx((0.0, D_B2), rel=1e-9)
    assert adam["G"]["eps"] == adam["D"]["eps"] == 1e-8
    assert (cfg.g_reg_interval, cfg.d_reg_interval, cfg.p_max, cfg.augpipe, cfg.target) == (
        4,
        16,
        None,
        "bgc",
        0.6,
    )
    assert (cfg.precision, cfg.ada_kimg, cfg.augment_impl) == ("fp16", 500, "faithful")


def test_resume_and_cli_defaults_follow_the_official():
    cfg = resolve_train_config("auto", 256, data="x")
    assert (cfg.tick, cfg.snap, cfg.aug, cfg.p) == (4, 50, "ada", 0.0)
    for name in ("stylegan2", "paper256", "cifar"):
        assert (
            resolve_train_config(name, 32, data="x").tick,
            resolve_train_config(name, 32, data="x").snap,
        ) == (4, 50)
    tiny = resolve_train_config("tiny", 32, data="x")
    assert (tiny.tick, tiny.snap) == (0.25, 4)
    assert resolve_train_config("tiny", 32, data="x", tick=1, snap=2).tick == 1  # the user's value wins
    fine = resolve_train_config("auto", 256, data="x", resume="net.safetensors")
    assert fine.ema_rampup is None and fine.ada_kimg == 100


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        (dict(aug="sometimes"), "--aug"),
        (dict(aug="fixed"), "--p > 0"),
        (dict(batch=6, batch_gpu=4), "--batch-gpu"),
        (dict(p_max=1.5), "--p-max"),
        (dict(wat=1), "unknown training option"),
    ],
)
def test_bad_options_are_clear_errors(kw, msg):
    with pytest.raises(ValueError, match=msg):
        resolve_train_config("auto", 256, data="x", **kw)


def test_sampler_is_a_function_of_seed_and_position():
    s = InfiniteSampler(10, seed=3)
    a = s.indices(0, 30)
    for e in range(3):
        assert sorted(a[e * 10 : (e + 1) * 10]) == list(range(10))
    assert not np.array_equal(a[:10], a[10:20])
    assert np.array_equal(InfiniteSampler(10, seed=3).indices(17, 5), a[17:22])  # resume mid-epoch
    parts = [s.rank_indices(12, 8, r, 2) for r in range(2)]
    assert np.array_equal(np.concatenate(parts), a[12:20])  # GPU count does not change the stream
    with pytest.raises(ValueError, match="divisible"):
        s.rank_indices(0, 7, 0, 2)


def test_data_loading_skips_bad_images_and_mirrors(tmp_path):
    root = make_disk_dataset(tmp_path / "d", n=6)
    (root / "images/000002.png").write_bytes(b"not a png")
    warnings = []
    data = load_training_data(root, cond=True, mirror=True, warn=warnings.append)
    assert len(data.files) == 5 and len(data) == 10 and data.c_dim == 2
    assert len(warnings) == 1 and "000002.png" in warnings[0]
    img, c = data.batch(np.array([0, 5]), "cpu")
    assert torch.equal(img[1], img[0].flip(2)) and torch.equal(c[0], c[1])
    assert img.min() >= -1 and img.max() <= 1
    assert probe_dataset(root, cond=True) == (16, 2, 6)
    with pytest.raises(FileNotFoundError, match="not found"):
        load_training_data(tmp_path / "missing")


def test_frozen_d_layers_count_from_the_highest_resolution():
    from dermsynth.gan import build_networks

    _, D = build_networks("tiny", 16, 0)
    names = frozen_d_parameters(D, 3)
    assert names and {n.split(".")[0] for n in names} == {"b16"}
    assert {n.split(".")[1] for n in names} == {"fromrgb", "conv0", "conv1"}
    assert {n.split(".")[1] for n in frozen_d_parameters(D, 5) if n.startswith("b8")} == {"conv0"}
    assert frozen_d_parameters(D, 0) == []


# ---------------------------------------------------------------------------------------------------
def test_tiny_run_writes_every_output(dataset, tmp_path):
    from dermsynth.gan.checkpoint import load_generator

    cfg = tiny_cfg(dataset, kimg=0.016, metrics=("fd_simple",))
    run = tl.train(tl.setup(cfg, tmp_path / "run", echo=None))
    d = run.run_dir
    for name in (
        "config.json",
        "log.txt",
        "stats.jsonl",
        "reals.png",
        "fakes000000.png",
        "metric-fd_simple.jsonl",
    ):
        assert (d / name).exists(), name
    assert (d / "network-000000.safetensors").exists() and (d / "network-000000.json").exists()
    assert list(d.glob("training-state-*.pt")) and list(d.glob("events.out.tfevents.*"))
    rows = read_jsonl(d / "stats.jsonl")
    assert [r["tick"] for r in rows] == list(range(len(rows))) and rows[-1]["kimg"] == pytest.approx(0.016)
    for key in ("Loss/G/loss", "Loss/D/loss", "augment_p", "sec_per_kimg", "Resources/peak_rss_gb"):
        assert key in rows[-1], key
    G = load_generator(d / "network-000000.safetensors")
    assert G.c_dim == 2 and G.img_resolution == 16
    state = torch.load(next(d.glob("training-state-*.pt")), weights_only=True)
    assert state["counters"]["cur_nimg"] == 16 and set(state) >= {"G", "D", "G_ema", "opt_G", "opt_D", "rng"}
    saved = json.loads((d / "config.json").read_text())
    assert saved["cfg"] == "tiny"
    # the architecture is part of the resolved config: rebuilding from it gives the trained networks
    from dermsynth.gan.networks import Discriminator, Generator

    G2, D2 = Generator(**saved["networks"]["G"]), Discriminator(**saved["networks"]["D"])
    for mine, theirs in ((G2, run.G), (D2, run.D)):
        assert {k: v.shape for k, v in mine.state_dict().items()} == {
            k: v.shape for k, v in theirs.state_dict().items()
        }
    assert saved["networks"]["G"]["z_dim"] == run.G.z_dim and saved["networks"]["G"]["w_dim"] == run.G.w_dim


def test_metrics_other_than_fd_simple_need_the_metrics_driver(dataset, tmp_path):
    """The GAN stage does not import the metrics stage: a run asking for its metrics must be given it."""
    with pytest.raises(ValueError, match="fid10k_effnetlite.*evaluate="):
        tl.setup(tiny_cfg(dataset, metrics=("fd_simple", "fid10k_effnetlite")), tmp_path / "run", echo=None)
    assert not (tmp_path / "run").exists()  # refused before any work
    seen = {}

    def evaluate(G_ema, data, names, run_dir, **kw):
        seen.update(names=list(names), kimg=kw["kimg"], training=G_ema.training)
        return {
            n: {"results": {n: 12.5, f"{n}/melanoma": 13.0}, "num": 10000, "features": "effnet"}
            for n in names
        }

    cfg = tiny_cfg(dataset, kimg=0.008, metrics=("fd_simple", "fid10k_effnetlite"))
    tl.train(tl.setup(cfg, tmp_path / "run", echo=None, evaluate=evaluate))
    assert seen == {"names": ["fid10k_effnetlite"], "kimg": 0.008, "training": False}
    # one row shape for the loop's own metric and the driver's, written by the loop
    from dermsynth.gan.train.maintenance import METRIC_ROW_KEYS

    fids = read_jsonl(tmp_path / "run" / "metric-fid10k_effnetlite.jsonl")
    fds = read_jsonl(tmp_path / "run" / "metric-fd_simple.jsonl")
    assert [r["kimg"] for r in fids] == [r["kimg"] for r in fds] == [0.004, 0.008]  # first step, end
    assert [r["tick"] for r in fids] == [r["tick"] for r in fds] == [0, 1]
    fid, fd = fids[-1], fds[-1]
    assert tuple(fid) == tuple(fd) == METRIC_ROW_KEYS
    assert fid["results"] == {"fid10k_effnetlite": 12.5, "fid10k_effnetlite/melanoma": 13.0}
    assert (fid["metric"], fid["num"], fid["features"], fid["kimg"], fid["tick"], fid["world_size"]) == (
        "fid10k_effnetlite", 10000, "effnet", 0.008, 1, 1)  # fmt: skip
    assert fid["snapshot"] == fd["snapshot"] == "network-000000.safetensors"
    assert fd["metric"] == "fd_simple" and fd["num"] == 24 and fd["features"] == "simple63"
    assert set(fd["results"]) == {"fd_simple"} and fd["results"]["fd_simple"] > 0


def test_kept_metric_rows_are_the_rows_the_loop_writes():
    """metric-*.jsonl rows written before the one writer (training/isic2017-gen) have the same keys
    (all but ``tick``), so the readers (scripts/train_gen.py --progress, the report) read both."""
    from dermsynth.gan.train.maintenance import METRIC_ROW_KEYS

    kept = sorted((Path(__file__).resolve().parents[1] / "training" / "isic2017-gen").glob("metric-*.jsonl"))
    if not kept:
        pytest.skip("no kept metric rows in this checkout")
    for path in kept:
        for row in read_jsonl(path):
            assert set(METRIC_ROW_KEYS) - set(row) <= {"tick"} and set(row) <= set(METRIC_ROW_KEYS), path


def test_old_training_states_are_pruned(dataset, tmp_path):
    run = tl.setup(tiny_cfg(dataset), tmp_path / "run", echo=None)
    for nimg in (1000, 2000, 3000):
        run.counters.cur_nimg = nimg
        tl.save_state(run)
    names = sorted(p.name for p in run.run_dir.glob("training-state-*.pt"))
    assert names == [f"training-state-{k:06d}.pt" for k in (2, 3)][-tl.KEEP_STATES :]


def test_rerun_with_other_options_is_refused(dataset, tmp_path):
    tl.train(tl.setup(tiny_cfg(dataset, kimg=0.004), tmp_path / "run", echo=None))
    with pytest.raises(ValueError, match="different options"):
        tl.setup(tiny_cfg(dataset, kimg=0.004, gamma=3.0), tmp_path / "run", echo=None)


_CHILD = """
import sys
from dermsynth.gan import train as tl
from dermsynth.gan.train.config import resolve_train_config
cfg = resolve_train_config("tiny", 16, data=sys.argv[1], cond=True, c_dim=2, batch=4, kimg=1.0, tick=0.008,
                           snap=2, device="cpu")
tl.train(tl.setup(cfg, sys.argv[2], echo=None))
"""


@pytest.fixture
def one_thread():
    """The killed child runs single-threaded; so must this process, or float sums differ by thread count."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_sigkill_and_resume_equals_an_uninterrupted_run(dataset, tmp_path, one_thread):
    kimg = 0.064
    full = tl.train(tl.setup(tiny_cfg(dataset, kimg=kimg), tmp_path / "full", echo=None))

    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(dataset), str(killed)], env=env)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if len(read_jsonl(killed / "stats.jsonl")) >= 4 and list(killed.glob("training-state-*.pt")):
                break
            time.sleep(0.02)
        assert proc.poll() is None, "child ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    before = read_jsonl(killed / "stats.jsonl")
    resumed = tl.setup(tiny_cfg(dataset, kimg=kimg), killed, echo=None)
    assert 0 < resumed.counters.cur_nimg < kimg * 1000
    assert resumed.counters.cur_tick <= len(before)  # lost at most the ticks since the last state
    tl.train(resumed)

    ticks = [r["tick"] for r in read_jsonl(killed / "stats.jsonl")]
    assert ticks == list(range(len(ticks))) == [r["tick"] for r in read_jsonl(full.run_dir / "stats.jsonl")]
    assert resumed.counters == full.counters
    assert float(resumed.augment_pipe.p) == pytest.approx(float(full.augment_pipe.p))
    for (k, a), b in zip(full.G_ema.state_dict().items(), resumed.G_ema.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-5), k
    assert "resumed from kimg" in (killed / "log.txt").read_text()


def test_transfer_learning_with_frozen_d_layers(dataset, tmp_path):
    src_cfg = tiny_cfg(dataset, cond=False, c_dim=0, kimg=0.008)
    src = tl.train(tl.setup(src_cfg, tmp_path / "src", echo=None))
    net = src.run_dir / "network-000000.safetensors"
    cfg = tiny_cfg(dataset, kimg=0.016, resume=str(net), freezed=2)
    run = tl.setup(cfg, tmp_path / "dst", echo=None)
    g_src, d_src = src.G.state_dict(), src.D.state_dict()
    g_new = run.G.state_dict()
    assert torch.equal(g_new["synthesis.b16.conv1.weight"], g_src["synthesis.b16.conv1.weight"])
    assert "mapping.embed.weight" in g_new and "mapping.embed.weight" not in g_src  # new class input
    d0 = {k: v.clone() for k, v in run.D.state_dict().items()}
    assert torch.equal(d0["b16.conv0.weight"], d_src["b16.conv0.weight"])
    tl.train(run)
    d1 = run.D.state_dict()
    assert run.frozen_d == set(frozen_d_parameters(run.D, 2))
    for name in run.frozen_d:
        assert torch.equal(d1[name], d0[name]), name
    assert not torch.equal(d1["b16.conv1.weight"], d0["b16.conv1.weight"])
    with pytest.raises(FileNotFoundError, match="x.pkl"):
        tl.setup(tiny_cfg(dataset, resume=str(tmp_path / "x.pkl")), tmp_path / "dst2", echo=None)


def test_transfer_from_an_official_network_in_the_fixture_layout(sg2_fixtures, tmp_path):
    from dermsynth.gan.official import import_official

    data = make_disk_dataset(tmp_path / "d32", n=8, size=32)
    src = sg2_fixtures / "sg2ada_c2_res32.weights.safetensors"
    cfg = resolve_train_config(
        "auto", 32, data=str(data), cond=True, c_dim=2, cbase=4096, cmax=128, batch=4, kimg=0.004, device="cpu",
        resume=str(src),
    )  # fmt: skip
    run = tl.setup(cfg, tmp_path / "run", echo=None)
    G, D, G_ema, _ = import_official(src)
    for mine, ref in ((run.G, G), (run.D, D), (run.G_ema, G_ema or G)):  # G_ema starts as G when absent
        want = ref.state_dict()
        got = mine.state_dict()
        assert set(got) == set(want)
        for k, v in want.items():
            assert torch.equal(got[k], v), k


def test_gradient_accumulation_sums_micro_batches_like_the_official(dataset, tmp_path):
    # minibatch-std groups of 1: D's output on a sample does not depend on its micro-batch
    a = tl.setup(tiny_cfg(dataset, kimg=0.004, aug="noaug", mbstd=1), tmp_path / "a", echo=None)
    b = tl.setup(tiny_cfg(dataset, kimg=0.004, aug="noaug", mbstd=1, batch_gpu=2), tmp_path / "b", echo=None)
    for run in (a, b):
        # R1 on reals: no generator randomness, so only the micro-batching differs
        run.phases = [p for p in run.phases if p.name == "Dreg"]
        run.opts["D"].step = lambda: None  # keep the gradients to compare them
        tl.training_step(run)
    # official: each round adds mean-over-its-micro-batch * interval, so 2 rounds give twice 1 round
    for (k, x), y in zip(a.D.named_parameters(), b.D.parameters(), strict=True):
        assert x.grad is not None and torch.allclose(2 * x.grad, y.grad, rtol=1e-4, atol=1e-6), k


def test_train_command_dry_run_and_run(dataset, tmp_path):
    import typer
    from typer.testing import CliRunner

    from dermsynth.cli.gan_train import train_command

    app = typer.Typer()
    app.command("train")(train_command)
    app.command("other")(lambda: None)
    args = [
        "train",
        "--data",
        str(dataset),
        "--out",
        str(tmp_path),
        "--cfg",
        "tiny",
        "--cond",
        "--batch",
        "4",
    ]
    res = CliRunner().invoke(app, [*args, "--dry-run"])
    assert res.exit_code == 0, res.output
    shown = json.loads(res.output)
    assert shown["batch"] == 4 and shown["c_dim"] == 2 and shown["cfg"] == "tiny"
    assert Path(shown["run_dir"]).name == run_name(tiny_cfg(dataset, kimg=100, tick=None, snap=None))
    assert not Path(shown["run_dir"]).exists()
    res = CliRunner().invoke(app, [*args, "--kimg", "0.008", "--tick", "0.004", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    run_dir = next(tmp_path.glob("*-tiny-res16-cond-*"))
    assert len(read_jsonl(run_dir / "stats.jsonl")) == 2
    res = CliRunner().invoke(app, [*args, "--aug", "bogus", "--dry-run"])
    assert res.exit_code == 2 and "--aug" in res.output


def test_cli_tick_and_snap_help_name_each_presets_default():
    """The help text states the defaults of the preset table (a wrong "default 4" for tiny is gone)."""
    import inspect

    from dermsynth.cli import gan_train as cli
    from dermsynth.gan.presets import PRESETS, auto_preset

    params = inspect.signature(cli.train_command).parameters
    for opt in ("tick", "snap"):
        text = params[opt].default.help
        assert "preset" in text and f"{getattr(auto_preset(64), opt):g}" in text, text
        for name, pr in PRESETS.items():
            want = getattr(pr, opt)
            if want != getattr(auto_preset(64), opt):
                assert f"{name} {want:g}" in text, text
            assert getattr(resolve_train_config(name, 32, data="x"), opt) == want
    assert "tiny 0.25" in params["tick"].default.help and "tiny 4" in params["snap"].default.help


def test_setup_takes_no_network_builder():
    """setup builds the preset networks itself (config.json always names them); no dead ``build=``."""
    import inspect

    assert list(inspect.signature(tl.setup).parameters) == ["cfg", "run_dir", "data", "echo", "evaluate"]


def test_cli_choices_are_the_library_lists():
    """The training command's enums are written out (no torch for --help); they must match the library."""
    from dermsynth.cli import gan_train as cli
    from dermsynth.gan.augment import AUGMENT_IMPLS, AUGPIPE_SPECS
    from dermsynth.gan.presets import PRESET_NAMES
    from dermsynth.gan.train.config import AUG_MODES, PRECISIONS

    for enum, names in ((cli.Preset, PRESET_NAMES), (cli.Aug, AUG_MODES), (cli.AugPipe, AUGPIPE_SPECS),
                        (cli.AugmentImpl, AUGMENT_IMPLS), (cli.Precision, PRECISIONS)):  # fmt: skip
        assert sorted(e.value for e in enum) == sorted(names), enum.__name__


@pytest.mark.parametrize("cfg_name, res", [("auto", 64), ("paper256", 256), ("cifar", 32), ("tiny", 16)])
def test_the_preset_is_resolved_once_into_the_config(cfg_name, res):
    """The architecture fields come from the preset into TrainConfig, and the networks from TrainConfig alone."""
    from dermsynth.gan.presets import get_preset
    from dermsynth.gan.train.build import network_config

    pr = get_preset(cfg_name, res=res)
    tc = resolve_train_config(cfg_name, res, data="x", c_dim=2, cond=True)
    fields = ("z_dim", "w_dim", "g_architecture", "d_architecture", "map", "mbstd", "cbase", "cmax")
    assert {f: getattr(tc, f) for f in fields} == {f: getattr(pr, f) for f in fields}
    nets = network_config(tc, 2)
    assert nets["G"]["mapping_kwargs"]["num_layers"] == tc.map and nets["D"]["channel_base"] == tc.cbase
    fp32 = resolve_train_config(cfg_name, res, data="x", precision="fp32")
    assert (fp32.num_fp16_res, fp32.conv_clamp) == (0, None)
    g = network_config(fp32, 0)["G"]["synthesis_kwargs"]
    assert (g["num_fp16_res"], g["conv_clamp"]) == (0, None)


_CHILD_KEEP = """
import sys
from dermsynth.gan import train as tl
from dermsynth.gan.train.config import resolve_train_config
cfg = resolve_train_config("tiny", 16, data=sys.argv[1], cond=True, c_dim=2, batch=4, kimg=1.0, tick=0.008,
                           snap=1000, device="cpu", keep=sys.argv[3])
run = tl.train(tl.setup(cfg, sys.argv[2], echo=None))
print("STOPPED" if run.stopped else "DONE", run.counters.cur_nimg)
"""


def test_sigterm_stops_after_the_step_and_a_new_machine_continues_from_the_kept_state(
    dataset, tmp_path, one_thread
):
    """SIGTERM mid-tick, with no snapshot due: the state is written at the current step and copied to the
    keep folder; a run directory elsewhere (another machine, another dataset path) continues from it and
    ends equal to an uninterrupted run."""
    import shutil

    kimg = 0.048
    full = tl.train(tl.setup(tiny_cfg(dataset, kimg=kimg, snap=1000), tmp_path / "full", echo=None))

    keep, first = tmp_path / "keep", tmp_path / "machine1"
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", _CHILD_KEEP, str(dataset), str(first), str(keep)],
                            env=env, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None and len(read_jsonl(first / "stats.jsonl")) < 3:
            time.sleep(0.02)
        assert proc.poll() is None, "child ended before it could be stopped"
        os.kill(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill() if proc.poll() is None else None
    assert proc.returncode == 0 and out.startswith("STOPPED"), out
    stopped_at = int(out.split()[1])
    assert 0 < stopped_at < kimg * 1000
    kept = sorted(p.name for p in keep.glob("training-state-*.pt"))
    assert len(kept) == 1 and {"config.json", "stats.jsonl", "log.txt"} <= {p.name for p in keep.iterdir()}

    moved = shutil.copytree(dataset, tmp_path / "elsewhere" / dataset.name)  # same data, another path
    second = tmp_path / "machine2"
    run = tl.setup(tiny_cfg(moved, kimg=kimg, snap=1000, keep=str(keep)), second, echo=None)
    assert run.counters.cur_nimg == stopped_at
    assert "continuing from its state" in (second / "log.txt").read_text()
    tl.train(run)
    assert (run.counters.cur_nimg, run.counters.batch_idx) == (
        full.counters.cur_nimg,
        full.counters.batch_idx,
    )
    assert float(run.augment_pipe.p) == pytest.approx(float(full.augment_pipe.p))
    for (k, a), b in zip(full.G_ema.state_dict().items(), run.G_ema.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-5), k
    for (k, a), b in zip(full.D.state_dict().items(), run.D.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-5), k
    assert sorted(p.name for p in keep.glob("training-state-*.pt")) == [f"training-state-{0:06d}.pt"]


def test_a_kept_state_of_another_dataset_is_refused(dataset, tmp_path):
    keep = tmp_path / "keep"
    tl.train(tl.setup(tiny_cfg(dataset, kimg=0.008, keep=str(keep)), tmp_path / "a", echo=None))
    assert list(keep.glob("training-state-*.pt"))
    other = make_disk_dataset(tmp_path / "other", n=24, seed=1)
    relabel = json.loads((other / "dataset.json").read_text())
    relabel["labels"] = [[f, 1 - lab] for f, lab in relabel["labels"]]  # same files, other labels
    (other / "dataset.json").write_text(json.dumps(relabel))
    with pytest.raises(ValueError, match="another dataset"):
        tl.setup(tiny_cfg(other, kimg=0.016, keep=str(keep)), tmp_path / "b", echo=None)


def test_speed_options_and_paths_do_not_change_the_run_identity(dataset):
    base = tiny_cfg(dataset)
    moved = Path("/elsewhere") / dataset.name
    for data, change in ((dataset, dict(channels_last=True)), (dataset, dict(compile=True)), (moved, {}),
                         (dataset, dict(keep="/x")), (dataset, dict(kimg=9.0))):  # fmt: skip
        assert run_name(tiny_cfg(data, **change)) == run_name(base), change
    assert run_name(tiny_cfg(dataset, gamma=3.0)) != run_name(base)


def test_nhwc_trains_the_same_networks_in_channels_last(dataset, tmp_path):
    """``--nhwc`` (networks.set_channels_last): every block, float32 ones too, runs in channels_last, and
    training computes the same networks up to float rounding (all four phases, lazy R1 and path length)."""
    from dermsynth.gan.train.step import training_step

    runs = {}
    for nhwc in (False, True):
        run = tl.setup(tiny_cfg(dataset, channels_last=nhwc), tmp_path / str(nhwc), echo=None)
        for _ in range(5):  # past the first Dreg and Greg steps
            training_step(run)
        runs[nhwc] = run
    blocks = [m for m in runs[True].G.modules() if hasattr(m, "fp32_channels_last")]
    assert blocks and all(b.channels_last and b.fp32_channels_last for b in blocks)
    w = runs[True].D.b16.conv0.weight
    assert w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous()
    for name in ("G", "D", "G_ema"):
        ref = dict(getattr(runs[False], name).named_parameters())
        for k, v in getattr(runs[True], name).named_parameters():
            torch.testing.assert_close(v, ref[k], atol=1e-4, rtol=1e-3, msg=f"{name}.{k}")


def test_a_run_continues_with_nhwc_switched_on(dataset, tmp_path):
    """A round trained without --nhwc continues with it from the kept state (a speed option)."""
    keep = tmp_path / "keep"
    tl.train(tl.setup(tiny_cfg(dataset, kimg=0.008, keep=str(keep)), tmp_path / "a", echo=None))
    run = tl.setup(
        tiny_cfg(dataset, kimg=0.016, keep=str(keep), channels_last=True), tmp_path / "b", echo=None
    )
    assert run.counters.cur_nimg == 8
    tl.train(run)
    assert run.counters.cur_nimg >= 16
    assert all(torch.isfinite(p).all() for p in run.G.parameters())
