"""CUDA paths give the CPU figures (skipped without a GPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dermsynth.metrics import compute_metrics, get_extractor, precision_recall
from test_metrics_compute import make_dataset  # noqa: E402


@pytest.mark.gpu
def test_features_and_precision_recall_match_cpu():
    x = (torch.rand(6, 3, 64, 64) * 255).to(torch.uint8)
    cpu = get_extractor("effnet-lite:random", size=64)(x)
    gpu = get_extractor("effnet-lite:random", size=64, device="cuda")(x).cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-2, atol=1e-3)
    r = np.random.default_rng(0)
    a, b = r.standard_normal((300, 16)), r.standard_normal((200, 16)) + 0.4
    assert precision_recall(a, b, device="cuda") == pytest.approx(precision_recall(a, b), abs=1e-2)


@pytest.mark.gpu
def test_compute_metrics_on_cuda_matches_cpu(tmp_path):
    real = make_dataset(tmp_path / "r", range(30), [i % 2 for i in range(30)])
    fake = make_dataset(tmp_path / "f", range(100, 130), [i % 2 for i in range(30)])
    kw = dict(
        metrics="fid30_randlite,kid30_randlite,pr303_randlite",
        feature_size=64,
        kid_subsets=5,
        use_cache=False,
    )
    c = compute_metrics(real, fake, device="cpu", **kw)["results"]
    g = compute_metrics(real, fake, device="cuda", **kw)["results"]
    assert g["fid30_randlite"] == pytest.approx(c["fid30_randlite"], rel=1e-2)
    assert g["kid30_randlite"] == pytest.approx(c["kid30_randlite"], rel=5e-2, abs=1e-3)
