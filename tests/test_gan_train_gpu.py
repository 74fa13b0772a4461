"""CUDA checks of the training path (run by benchmarks/gpu_suite.sh; skipped without a GPU): the imported
official networks on CUDA in fp32 and with fp16 blocks against the official CPU fp32 outputs, the
augmentation pipe on CUDA against CPU, and one training step in each precision."""

from __future__ import annotations

import pytest
import torch

from test_gan_train import make_disk_dataset

pytestmark = pytest.mark.gpu


@pytest.fixture()
def no_tf32():
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


@pytest.mark.realdata
@pytest.mark.parametrize("half", [None, "fp16", "bf16"])
def test_official_networks_on_cuda_match_the_fixtures(sg2_fixtures, half, no_tf32):
    """fp32 on CUDA: the CPU tolerance (1e-4 scaled for GPU summation order). Half blocks (the official
    mixed precision: the blocks at 8 px and up for a 32 px network) stay within a few per cent; the
    fixtures hold fp32 outputs only, so this bounds the half-precision error, it is no equality."""
    from safetensors.torch import load_file

    from dermsynth.gan.networks import set_half_dtype
    from dermsynth.gan.official import import_official

    G, D, _, _ = import_official(sg2_fixtures / "sg2ada_c2_res32.weights.safetensors")
    io = {k: v.cuda() for k, v in load_file(sg2_fixtures / "sg2ada_c2_res32.io.safetensors").items()}
    G, D = G.cuda().eval(), D.cuda().eval()
    if half is not None:
        for net in (G.synthesis, D):
            for m in net.modules():
                if hasattr(m, "use_fp16") and getattr(m, "resolution", 0) >= 8:
                    m.use_fp16 = True
            set_half_dtype(net, half)
    with torch.no_grad():
        img = G(io["z"], io["c"], noise_mode="const")
        logits = D(io["img_rand"], io["c"])
    ref_img, ref_logits = io["img_psi1_const"], io["d_logits_rand"]
    if half is None:
        torch.testing.assert_close(img, ref_img, atol=5e-4, rtol=0)
        torch.testing.assert_close(logits, ref_logits, atol=5e-4, rtol=0)
    else:
        tol = 0.03 if half == "fp16" else 0.1
        assert img.dtype == torch.float32 and torch.isfinite(img).all()
        assert (img - ref_img).abs().mean() < tol * ref_img.abs().mean()
        assert (logits - ref_logits).abs().max() < tol * ref_logits.abs().max() + 0.05


def test_augment_resampling_on_cuda_matches_cpu_and_r1_runs(no_tf32):
    import math

    from dermsynth.gan.augment import ops
    from dermsynth.gan.augment.filters import geom_lowpass
    from dermsynth.gan.augment.pipe import AugmentPipe, wavelet_resample

    x = torch.rand(4, 3, 64, 64) * 2 - 1
    theta = torch.tensor([0.3, -1.2, 2.0, math.pi / 2])
    g = ops.rotate2d(theta) @ ops.scale2d(
        torch.tensor([0.7, 1.3, 1.0, 0.9]), torch.tensor([0.8, 1.1, 1.0, 1.2])
    )
    cpu = wavelet_resample(x, g, geom_lowpass())
    gpu = wavelet_resample(x.cuda(), g.cuda(), geom_lowpass().cuda())
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=0)
    xg = x.cuda().requires_grad_(True)
    w = torch.randn(3, 3, 3, 3, device="cuda", requires_grad=True)
    out = torch.nn.functional.conv2d(AugmentPipe.from_spec("bgcfnc", p=1.0).cuda()(xg), w).square().sum()
    (grad,) = torch.autograd.grad(out, xg, create_graph=True)
    grad.square().sum().backward()  # R1 through the pipe: second-order gradients on CUDA
    assert torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0


@pytest.mark.parametrize("precision", ["fp16", "bf16", "fp32"])
def test_one_training_step_per_precision(tmp_path, precision):
    from dermsynth.gan import train as tl
    from dermsynth.gan.train.config import resolve_train_config

    data = make_disk_dataset(tmp_path / "d", n=16, size=32)
    cfg = resolve_train_config("auto", 32, data=str(data), cond=True, c_dim=2, batch=8, kimg=0.016, tick=0.008,
                               snap=100, precision=precision, device="cuda", cbase=2048, cmax=64)  # fmt: skip
    run = tl.train(tl.setup(cfg, tmp_path / "run", echo=None))
    assert run.device.type == "cuda" and run.last_row
    for k in ("Loss/G/loss", "Loss/D/loss"):
        assert run.last_row[k] is not None and torch.isfinite(torch.tensor(run.last_row[k])), k
    assert run.last_row["Resources/peak_gpu_mem_gb"] > 0
