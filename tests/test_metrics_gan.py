"""With the gan stage's real tiny preset: --network path, PPL, training hook, seed conventions."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dermsynth.metrics import compute_for_training, compute_metrics
from dermsynth.metrics.generator import generate, one_hot
from test_metrics_compute import make_dataset  # noqa: E402  (also registers the randlite space)

gan = pytest.importorskip("dermsynth.gan")


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    d = tmp_path_factory.mktemp("net")
    torch.manual_seed(0)
    G, _ = gan.build_networks("tiny", 32, 2)
    gan.save_network(d / "net", G_ema=G, meta={"class_names": ["not_melanoma", "melanoma"]})
    return d / "net.safetensors", G.eval()


@pytest.fixture(scope="module")
def real_dir(tmp_path_factory):
    p = tmp_path_factory.mktemp("real_gan")
    return make_dataset(p, range(24), [i % 2 for i in range(24)], ["train"] * 18 + ["val"] * 6)


def test_generated_images_follow_the_official_seed_convention(net):
    _, G = net
    got = np.concatenate([b for _, _, b in generate(G, [3, 4, 5], [1, 1, 1], batch_size=2)])
    z = torch.from_numpy(np.stack([np.random.RandomState(s).randn(G.z_dim) for s in (3, 4, 5)])).float()
    with torch.no_grad():
        img = G.synthesis(
            G.mapping(z, one_hot([1, 1, 1], G.c_dim, "cpu"), truncation_psi=1), noise_mode="const"
        )
    want = (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy()
    np.testing.assert_array_equal(got, want)


def test_network_file_end_to_end(net, real_dir, tmp_path):
    path, _ = net
    res = compute_metrics(
        real_dir,
        network=path,
        metrics="fid16_randlite,pr163_randlite,memo16_randlite,ppl4_wend_randlite",
        feature_size=32,
        batch_size=8,
        device="cpu",
        cache_dir=tmp_path,
        out_dir=tmp_path / "memo",
    )
    assert res["fake"]["network"] == str(path) and res["details"]["fid16_randlite"]["num_fake"] == 16
    assert res["results"]["fid16_randlite"] > 0 and res["results"]["ppl4_wend_randlite"] > 0
    assert set(res["per_class"]) == {"not_melanoma", "melanoma"}
    assert json.loads((tmp_path / "memo" / "memorisation.json").read_text())["num_fake"] == 16


def test_training_hook_writes_one_file_per_metric_name(net, real_dir, tmp_path):
    _, G = net
    out = compute_for_training(
        G,
        real_dir,
        ["fid8_randlite"],
        tmp_path,
        feature_size=32,
        cache_dir=tmp_path / "c",
        kimg=4.0,
    )
    assert set(out) == {"fid8_randlite"} and out["fid8_randlite"]["num"] == 8
    assert "fid8_randlite" in out["fid8_randlite"]["results"] and out["fid8_randlite"]["features"]
    assert not list(tmp_path.glob("metric-*.jsonl"))  # the training loop writes the rows, not the driver
