"""StyleGAN2-ADA networks: reference-fixture equality, official names/shapes, parameter counts, properties."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from dermsynth.gan import build_networks
from dermsynth.gan.networks import Discriminator, Generator, style_affines
from dermsynth.gan.ops import downsample2d, setup_filter, upfirdn2d, upsample2d

CASES = ["sg2ada_c2_res32", "sg2ada_uncond_res16_orig"]


def _fixture_networks(root, name):
    cfg = json.loads((root / f"{name}.json").read_text())
    G = Generator(
        cfg["z_dim"], cfg["c_dim"], cfg["w_dim"], cfg["res"], 3,
        mapping_kwargs=dict(num_layers=cfg["mapping_layers"]),
        synthesis_kwargs=dict(
            channel_base=cfg["channel_base"], channel_max=cfg["channel_max"], num_fp16_res=cfg["num_fp16_res"],
            conv_clamp=cfg["conv_clamp"], architecture=cfg["g_architecture"],
        ),
    ).eval()  # fmt: skip
    D = Discriminator(
        cfg["c_dim"], cfg["res"], 3, architecture=cfg["d_architecture"], channel_base=cfg["channel_base"],
        channel_max=cfg["channel_max"], num_fp16_res=cfg["num_fp16_res"], conv_clamp=cfg["conv_clamp"],
        epilogue_kwargs=dict(mbstd_group_size=cfg["mbstd_group_size"]),
    ).eval()  # fmt: skip
    sd = load_file(root / f"{name}.weights.safetensors")
    G.load_state_dict({k[2:]: v for k, v in sd.items() if k.startswith("G.")}, strict=True)
    D.load_state_dict({k[2:]: v for k, v in sd.items() if k.startswith("D.")}, strict=True)
    return G, D, load_file(root / f"{name}.io.safetensors")


@pytest.mark.realdata
@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("fused", [None, False])
def test_fixture_outputs_match_official(sg2_fixtures, name, fused):
    G, D, io = _fixture_networks(sg2_fixtures, name)
    z, c = io["z"], io["c"]
    with torch.no_grad():
        torch.testing.assert_close(G.mapping(z, c), io["ws_psi1"], atol=1e-4, rtol=0)
        torch.testing.assert_close(G.mapping(z, c, truncation_psi=0.7), io["ws_psi07"], atol=1e-4, rtol=0)
        kw = dict(fused_modconv=fused)
        torch.testing.assert_close(
            G.synthesis(io["ws_psi1"], noise_mode="const", **kw), io["img_psi1_const"], atol=1e-4, rtol=0
        )
        torch.testing.assert_close(
            G.synthesis(io["ws_psi07"], noise_mode="const", **kw), io["img_psi07_const"], atol=1e-4, rtol=0
        )
        torch.testing.assert_close(
            G.synthesis(io["ws_psi1"], noise_mode="none", **kw), io["img_psi1_none"], atol=1e-4, rtol=0
        )
        torch.testing.assert_close(G(z, c, noise_mode="const", **kw), io["img_psi1_const"], atol=1e-4, rtol=0)
        torch.testing.assert_close(D(io["img_psi1_const"], c), io["d_logits"], atol=1e-4, rtol=0)
        torch.testing.assert_close(D(io["img_rand"], c), io["d_logits_rand"], atol=1e-4, rtol=0)


def _names(G, D):
    rows = []
    for prefix, net in (("G", G), ("D", D)):
        for k, v in [*net.named_parameters(), *net.named_buffers()]:
            rows.append(f"{prefix}.{k}\t{list(v.shape)}")
    return rows


@pytest.mark.realdata
@pytest.mark.parametrize("c_dim", [0, 2])
def test_auto256_names_shapes_match_official(sg2_fixtures, c_dim):
    G, D = build_networks("auto", 256, c_dim)
    ref = (sg2_fixtures / f"names_auto_res256_c{c_dim}.tsv").read_text().splitlines()
    assert _names(G, D) == ref


@pytest.mark.parametrize(
    "c_dim,g_params,d_params", [(0, 23_191_522, 24_001_089), (2, 23_455_202, 26_366_016)]
)
def test_auto256_parameter_counts_match_thesis(c_dim, g_params, d_params):
    G, D = build_networks("auto", 256, c_dim)
    assert sum(p.numel() for p in G.parameters()) == g_params
    assert sum(p.numel() for p in D.parameters()) == d_params
    assert G.num_ws == 14 and G.z_dim == 512 and G.w_dim == 512 and G.img_resolution == 256


def test_upfirdn_dc_gain_and_shapes():
    f = setup_filter([1, 3, 3, 1])
    assert torch.isclose(f.sum(), torch.tensor(1.0))
    x = torch.ones(2, 3, 8, 8)
    up = upsample2d(x, f)
    down = downsample2d(x, f)
    assert up.shape == (2, 3, 16, 16) and down.shape == (2, 3, 4, 4)
    # a constant image stays constant away from the zero-padded border
    torch.testing.assert_close(up[:, :, 2:-2, 2:-2], torch.ones_like(up[:, :, 2:-2, 2:-2]))
    torch.testing.assert_close(down[:, :, 1:-1, 1:-1], torch.ones_like(down[:, :, 1:-1, 1:-1]))


def test_upfirdn_is_true_convolution():
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1  # impulse -> the filter itself, unflipped
    f = torch.arange(9, dtype=torch.float32).reshape(3, 3)
    y = upfirdn2d(x, f, padding=1)
    torch.testing.assert_close(y[0, 0, 1:4, 1:4], f)


def test_truncation_psi0_gives_w_avg_and_cutoff():
    G, _ = build_networks("tiny", 32, 2)
    G.mapping.w_avg.normal_()
    z, c = torch.randn(3, G.z_dim), torch.eye(2)[[0, 1, 1]]
    with torch.no_grad():
        ws = G.mapping(z, c, truncation_psi=0)
        torch.testing.assert_close(ws, G.mapping.w_avg.expand_as(ws))
        full = G.mapping(z, c)
        cut = G.mapping(z, c, truncation_psi=0.5, truncation_cutoff=2)
    torch.testing.assert_close(cut[:, 2:], full[:, 2:])
    torch.testing.assert_close(cut[:, :2], G.mapping.w_avg + 0.5 * (full[:, :2] - G.mapping.w_avg))


def test_w_avg_tracks_only_with_update_emas():
    G, _ = build_networks("tiny", 32, 2)
    z, c = torch.randn(4, G.z_dim), torch.eye(2)[[0, 1, 0, 1]]
    before = G.mapping.w_avg.clone()
    with torch.no_grad():
        w = G.mapping(z, c)[:, 0]
        assert torch.equal(G.mapping.w_avg, before)
        G.mapping(z, c, update_emas=True)
    torch.testing.assert_close(G.mapping.w_avg, w.mean(0).lerp(before, 0.995))


@pytest.mark.parametrize("g_arch,d_arch", [("skip", "resnet"), ("orig", "orig"), ("resnet", "skip")])
def test_tiny_forward_backward_all_architectures(g_arch, d_arch):
    G, D = build_networks("tiny", 32, 2, g_architecture=g_arch, d_architecture=d_arch)
    z, c = torch.randn(4, G.z_dim), torch.eye(2)[[0, 1, 0, 1]]
    img = G(z, c)
    assert img.shape == (4, 3, 32, 32) and torch.isfinite(img).all()
    logits = D(img, c)
    assert logits.shape == (4, 1)
    logits.sum().backward()
    assert all(p.grad is not None for p in G.parameters() if p.requires_grad and p.ndim > 0)


def test_fused_and_unfused_modconv_agree():
    G, _ = build_networks("tiny", 32, 2)
    ws = G.mapping(torch.randn(3, G.z_dim), torch.eye(2)[[0, 1, 1]]).detach()
    with torch.no_grad():
        a = G.synthesis(ws, noise_mode="const", fused_modconv=True)
        b = G.synthesis(ws, noise_mode="const", fused_modconv=False)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_style_affines_layout():
    G, _ = build_networks("tiny", 32, 2)
    aff = style_affines(G)
    names = [a[0] for a in aff]
    assert names[:3] == [
        "synthesis.b4.conv1.affine",
        "synthesis.b4.torgb.affine",
        "synthesis.b8.conv0.affine",
    ]
    assert [a[2] for a in aff[:5]] == [0, 1, 1, 2, 3]
    assert max(a[2] for a in aff) == G.num_ws - 1
    assert all(a[1].shape[1] == G.w_dim for a in aff)


def test_presets_match_official_specs():
    from dermsynth.gan.presets import get_preset

    p = get_preset("auto", res=256, gpus=1)
    assert (p.batch, p.mbstd, p.cbase, p.lrate, p.map) == (16, 4, 16384, 0.0025, 2)
    assert p.gamma == pytest.approx(0.0002 * 256**2 / 16) and p.ema_kimg == pytest.approx(5.0)
    p8 = get_preset("auto", res=256, gpus=8)
    assert (p8.batch, p8.mbstd) == (64, 4)
    assert get_preset("paper256").cbase == 16384 and get_preset("paper256").mbstd == 8
    assert get_preset("cifar").d_architecture == "orig" and get_preset("cifar").gamma == 0.01
    with pytest.raises(ValueError, match="unknown GAN preset"):
        get_preset("nope")


@pytest.mark.gpu
@pytest.mark.parametrize("half", ["fp16", "bf16"])
def test_cuda_half_precision_blocks_close_to_fp32(half):
    from dermsynth.gan.networks import set_half_dtype

    torch.manual_seed(0)
    G, D = build_networks("tiny", 64, 2, num_fp16_res=2)
    G_cl, _ = build_networks("tiny", 64, 2, num_fp16_res=2)
    G_cl.synthesis.load_state_dict(G.synthesis.state_dict())
    G_cl.mapping.load_state_dict(G.mapping.state_dict())
    for blk in G_cl.synthesis.blocks():  # channels-last variant of the half blocks
        blk.channels_last = blk.use_fp16
    z, c = torch.randn(8, G.z_dim), torch.eye(2)[[0, 1] * 4]
    with torch.no_grad():
        ref_cpu = G.eval()(z, c, noise_mode="const")
        G, D, G_cl = G.cuda(), D.cuda().eval(), G_cl.cuda().eval()
        set_half_dtype(G, half)
        set_half_dtype(D, half)
        set_half_dtype(G_cl, half)
        zc, cc = z.cuda(), c.cuda()
        fp32 = G(zc, cc, noise_mode="const", force_fp32=True)
        mixed = G(zc, cc, noise_mode="const")
        mixed_cl = G_cl(zc, cc, noise_mode="const")
        assert G.synthesis.b64.conv1.weight.dtype == torch.float32  # weights stay fp32
        torch.testing.assert_close(fp32.cpu(), ref_cpu, atol=2e-2, rtol=0)  # TF32 convs on CUDA
        assert mixed.dtype == torch.float32 and torch.isfinite(mixed).all()
        tol = 0.05 if half == "fp16" else 0.15
        assert (mixed - fp32).abs().mean() < tol * fp32.abs().mean()
        assert (mixed_cl - mixed).abs().mean() < tol * fp32.abs().mean()
        logits_half, logits32 = D(fp32, cc), D(fp32, cc, force_fp32=True)
        assert (logits_half - logits32).abs().max() < 0.1 * logits32.abs().max() + 0.05


@pytest.mark.parametrize(
    "up,down,pad",
    [(2, 1, (2, 1, 2, 1)), (2, 1, (1, 1, 1, 1)), (2, 1, (3, 0, 0, 2)), (2, 1, (-1, 1, 2, 2)), (1, 2, (1, 1, 1, 1)),
     (1, 1, (2, 1, 0, 3)), (1, 2, (2, 2, 2, 2)), (1, 1, (-1, 2, 1, -1))],
)  # fmt: skip
def test_upfirdn_matches_scipy_reference(up, down, pad):
    from scipy.signal import convolve2d

    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 6, 7)).astype(np.float32)
    f = rng.standard_normal((4, 4)).astype(np.float32)  # non-symmetric on purpose
    y = upfirdn2d(torch.from_numpy(x), torch.from_numpy(f), up=up, down=down, padding=pad, gain=1.5).numpy()
    x0, x1, y0, y1 = pad
    for ch in range(2):
        z = np.zeros((6 * up, 7 * up), np.float32)
        z[::up, ::up] = x[0, ch]
        z = np.pad(z, ((max(y0, 0), max(y1, 0)), (max(x0, 0), max(x1, 0))))
        z = z[max(-y0, 0) : z.shape[0] - max(-y1, 0), max(-x0, 0) : z.shape[1] - max(-x1, 0)]
        ref = convolve2d(z, f * 1.5, mode="valid")[::down, ::down]
        np.testing.assert_allclose(y[0, ch], ref, atol=1e-5)
