"""ADA augmentation pipe: equality with the official pipe's reference outputs, filter properties,
geometric conventions, probabilities, gradients, the fast variant and the ADA controller."""

from __future__ import annotations

import json
import math

import pytest
import torch

from dermsynth.core.paths import shared_fixtures_dir
from dermsynth.gan.augment import filters, ops
from dermsynth.gan.augment.ada import AdaController
from dermsynth.gan.augment.fast import FastAugmentPipe, make_augment_pipe
from dermsynth.gan.augment.pipe import AUGPIPE_SPECS, AugmentPipe, wavelet_resample

FIXTURES = shared_fixtures_dir() / "stylegan2-ada-augment"


def _imgs(n=6, c=3, s=16, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, c, s, s, generator=g, dtype=dtype) * 2 - 1).contiguous()


def _smooth(s=32):
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, s), torch.linspace(-1, 1, s), indexing="ij")
    return torch.stack([torch.sin(2 * xx + yy), torch.cos(3 * yy), xx * yy])[None]


def _fixture_cases() -> list:
    if not FIXTURES.is_dir():
        return [
            pytest.param(
                None, None, marks=pytest.mark.skip(reason=f"augment fixtures not found at {FIXTURES}")
            )
        ]
    out = []
    for res in (32, 64):
        meta = json.loads((FIXTURES / f"augment_res{res}.json").read_text())
        out += [pytest.param(res, case, id=f"res{res}-{case['name']}") for case in meta["cases"]]
    return out


# ---------------------------------------------------------------------------------------------------
# The official pipe's outputs and input gradients (shared fixtures, see their README).
# ---------------------------------------------------------------------------------------------------
@pytest.mark.realdata
@pytest.mark.parametrize("res,case", _fixture_cases())
def test_reproduces_the_official_pipe(res, case):
    from safetensors.torch import load_file

    ref = load_file(FIXTURES / f"augment_res{res}.safetensors")
    pipe = AugmentPipe(**case["strengths"])
    pipe.p.copy_(torch.tensor(case["p"]))
    x = ref["x"].clone().requires_grad_(True)
    torch.manual_seed(case["seed"])
    out = pipe(x)
    (out * ref["grad_weight"]).sum().backward()
    assert (out.detach() - ref[f"{case['name']}.out"]).abs().max() <= 1e-4
    assert (x.grad - ref[f"{case['name']}.grad"]).abs().max() <= 1e-4


# ---------------------------------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------------------------------
def test_symlet6_is_an_orthonormal_wavelet_with_six_vanishing_moments():
    h = torch.tensor(filters.SYM6, dtype=torch.float64)
    assert h.sum().item() == pytest.approx(math.sqrt(2), abs=1e-12)
    for shift in range(0, 12, 2):  # orthonormal to its own even shifts
        assert torch.dot(h[shift:], h[: 12 - shift]).item() == pytest.approx(float(shift == 0), abs=1e-12)
    k = torch.arange(12, dtype=torch.float64)
    for m in range(6):  # the high-pass g[k] = (-1)^k h[11 - k] annihilates polynomials of degree < 6
        assert torch.dot((-1) ** k * h.flip(0), k**m).item() == pytest.approx(0, abs=1e-7 * 11**m)


def test_filter_bank_is_an_octave_decomposition():
    bank = filters.octave_filter_bank(4).double()
    assert bank.shape == (4, 43)
    delta = torch.zeros(43, dtype=torch.float64)
    delta[21] = 1
    assert torch.allclose(bank.sum(0), delta, atol=1e-7)  # unit gains are the identity
    assert torch.allclose(bank, bank.flip(1))  # symmetric: zero phase
    freqs = torch.linspace(0, math.pi, 257, dtype=torch.float64)
    resp = (bank @ torch.cos(torch.outer(torch.arange(-21, 22, dtype=torch.float64), freqs))).abs()
    centres = [resp[b].argmax().item() * math.pi / 256 for b in range(4)]
    assert centres[0] == 0 and resp[0, 0] == pytest.approx(1)  # lowest band passes DC, others block it
    assert resp[1:, 0].abs().max() < 1e-7
    for b, (lo, hi) in enumerate(
        [(math.pi / 8, math.pi / 4), (math.pi / 4, math.pi / 2), (math.pi / 2, math.pi)]
    ):
        assert lo * 0.5 <= centres[b + 1] <= hi  # band b+1 peaks in (about) its octave
    # the half-band low-pass is the Deslauriers-Dubuc interpolator, the 4-tap wavelet's autocorrelation
    h2 = torch.tensor([-0.12940952255092145, 0.22414386804185735, 0.836516303737469, 0.48296291314469025])
    auto = torch.nn.functional.conv1d(h2.double().view(1, 1, 4), h2.double().view(1, 1, 4), padding=3)
    assert torch.allclose(auto.flatten() / 2, filters.halfband_lowpass(), atol=1e-8)


def test_identity_and_integer_shifts_are_reconstructed():
    x = _imgs(n=3, s=32)
    h = filters.geom_lowpass()
    assert (wavelet_resample(x, torch.eye(3), h) - x).abs().max() < 1e-4  # orthogonal wavelet: perfect
    shift = ops.translate2d(torch.tensor([-3.0]), torch.tensor([2.0]))  # output(x) = input(x - (3, -2))
    y = wavelet_resample(x, shift, h)
    expected = torch.roll(x, shifts=(-2, 3), dims=(2, 3))
    assert (y - expected)[..., 4:-4, 4:-4].abs().max() < 1e-4


def test_rotation_direction_and_antialiasing():
    s = _smooth()
    h = filters.geom_lowpass()
    r = wavelet_resample(s, ops.rotate2d(torch.tensor([math.pi / 2])), h)  # G_inv = R(+90 deg)
    assert (r - torch.rot90(s, 1, (2, 3)))[..., 4:-4, 4:-4].abs().max() < 0.05
    # zooming out a 0.3 cycle/px grating by 2 puts it above Nyquist: the faithful path removes most
    # of it, one bicubic sampling folds it back (ADA paper App. B.2)
    grating = torch.cos(2 * math.pi * 0.3 * torch.arange(64.0)).view(1, 1, 1, 64).expand(1, 3, 64, 64)
    zoom = ops.scale2d(torch.tensor([2.0]), torch.tensor([2.0]))
    faithful = wavelet_resample(grating.contiguous(), zoom, h)[..., 16:48, 16:48].var()
    fast = FastAugmentPipe()._resample(grating.contiguous(), zoom)[..., 16:48, 16:48].var()
    assert faithful < 0.25 * fast


# ---------------------------------------------------------------------------------------------------
# The pipe
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(AUGPIPE_SPECS))
def test_p_zero_is_identity_without_random_draws_and_p_one_changes(name):
    x = _imgs(s=32)
    pipe = AugmentPipe.from_spec(name, p=0.0)
    state = torch.get_rng_state()
    assert torch.equal(pipe(x), x)
    assert torch.equal(torch.get_rng_state(), state)
    pipe.set_p(1.0)
    torch.manual_seed(1)
    y = pipe(x)
    assert y.shape == x.shape and not torch.allclose(y, x, atol=1e-3)


def test_constructor_follows_the_official_names_and_errors():
    pipe = AugmentPipe(xflip=1)
    assert pipe.xflip == 1 and pipe.rotate90 == 0 and float(pipe.p) == 1.0  # official default p = 1
    assert set(AUGPIPE_SPECS["bgcfnc"]) == {
        "xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac", "brightness", "contrast",
        "lumaflip", "hue", "saturation", "imgfilter", "noise", "cutout",
    }  # fmt: skip
    with pytest.raises(ValueError, match="unknown augpipe"):
        AugmentPipe.from_spec("bgx")
    with pytest.raises(ValueError, match="augment implementation"):
        make_augment_pipe("bgc", "bicubic")
    with pytest.raises(ValueError, match="imgfilter_bands"):
        AugmentPipe(imgfilter_bands=(1, 1))
    with pytest.raises(ValueError, match="1 or 3 channels"):
        AugmentPipe(brightness=1)(_imgs(c=2))


def test_p_written_from_outside_is_followed():
    pipe = AugmentPipe.from_spec("blit", p=0.0)
    pipe.p.copy_(torch.tensor(0.5))  # the fixtures' protocol
    assert pipe.probability == 0.5
    other = AugmentPipe.from_spec("blit", p=0.0)
    other.load_state_dict(AugmentPipe.from_spec("blit", p=0.3).state_dict())
    assert other.probability == pytest.approx(0.3)
    assert list(other.state_dict()) == ["p"]


def test_probability_scales_with_p():
    x = _imgs(n=400, s=8)
    torch.manual_seed(0)
    y = AugmentPipe(xflip=1, p=0.5)(x)
    changed = (y - x).abs().amax(dim=(1, 2, 3)) > 1e-3
    assert 0.17 < float(changed.float().mean()) < 0.33  # p * 1/2


def test_colour_transformations_keep_what_they_should():
    grey = _imgs(n=8, c=1, s=16).repeat(1, 3, 1, 1)
    x = _imgs(n=8)
    for op in ("hue", "saturation"):
        torch.manual_seed(1)
        assert torch.allclose(AugmentPipe(**{op: 1})(grey), grey, atol=1e-5)  # grey stays grey
        torch.manual_seed(1)
        assert torch.allclose(AugmentPipe(**{op: 1})(x).mean(1), x.mean(1), atol=1e-5)  # luma kept
    torch.manual_seed(0)
    y = AugmentPipe(lumaflip=1)(grey)
    for a, b in zip(grey, y, strict=True):
        assert torch.allclose(b, a, atol=1e-5) or torch.allclose(b, -a, atol=1e-5)
    torch.manual_seed(0)
    d = AugmentPipe(brightness=1)(x) - x
    assert torch.allclose(d, d.mean(dim=(1, 2, 3), keepdim=True).expand_as(d), atol=1e-5)
    v = torch.ones(3) / math.sqrt(3)
    r = ops.rotate3d(v, torch.tensor([0.7]))[0, :3, :3]
    assert torch.allclose(r @ r.T, torch.eye(3), atol=1e-6) and torch.allclose(r @ v, v, atol=1e-6)


def test_noise_and_cutout():
    x = torch.ones(8, 3, 32, 32)
    torch.manual_seed(0)
    y = AugmentPipe(noise=1)(x)
    assert (y - x).abs().mean() > 0 and abs(float((y - x).mean())) < 0.05
    y = AugmentPipe(cutout=1)(x)
    zero = (y == 0).float().mean(dim=(1, 2, 3))
    assert torch.all(zero > 0) and torch.all(zero <= 0.25 + 1e-6)


def test_input_gradient_is_the_adjoint_of_the_pipe():
    """With the random draws fixed the pipe is affine in x: f(x + u) - f(x) = J u, and the autograd
    vector-Jacobian product must satisfy <J u, v> = <u, J^T v> (float64, 32 px, every transformation)."""
    pipe = AugmentPipe.from_spec("bgcfnc", p=1.0)

    def f(a):
        torch.manual_seed(7)
        return pipe(a)

    x = _imgs(n=3, s=32, seed=1, dtype=torch.float64).requires_grad_(True)
    u = _imgs(n=3, s=32, seed=2, dtype=torch.float64)
    v = _imgs(n=3, s=32, seed=3, dtype=torch.float64)
    (vjp,) = torch.autograd.grad((f(x) * v).sum(), x)
    with torch.no_grad():
        ju = f(x + u) - f(x)
    assert float((ju * v).sum()) == pytest.approx(float((u * vjp).sum()), rel=1e-9, abs=1e-9)
    assert vjp.abs().sum() > 0


def test_second_order_gradients_flow_through_the_pipe():
    """R1 through augmentation needs d/dtheta of ||d D(aug(x)) / dx||^2."""
    w = torch.randn(3, 3, 3, 3, requires_grad=True)
    x = _imgs(n=2, s=32).requires_grad_(True)
    torch.manual_seed(0)
    out = torch.nn.functional.conv2d(AugmentPipe.from_spec("bgcf", p=1.0)(x), w).square().sum()
    (g,) = torch.autograd.grad(out, x, create_graph=True)
    g.square().sum().backward()
    assert w.grad is not None and torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0


def test_fast_pipe_draws_the_same_numbers_and_differs_only_in_resampling():
    x = _imgs(n=4, s=32)
    for name in ("color", "filter", "cutout"):
        torch.manual_seed(5)
        a = AugmentPipe.from_spec(name, p=1.0)(x)
        torch.manual_seed(5)
        b = make_augment_pipe(name, "fast", p=1.0)(x)
        assert torch.equal(a, b)
    s = _smooth().expand(4, 3, 32, 32).contiguous()
    torch.manual_seed(5)
    a = AugmentPipe.from_spec("bgc", p=1.0)(s)
    torch.manual_seed(5)
    b = FastAugmentPipe.from_spec("bgc", p=1.0)(s)
    inner = (a - b)[..., 8:-8, 8:-8].abs()
    assert inner.max() < 0.2 and not torch.equal(a, b)


# ---------------------------------------------------------------------------------------------------
# ADA controller
# ---------------------------------------------------------------------------------------------------
def test_ada_controller_moves_p_without_ceiling_by_default_and_with_p_max():
    pipe = AugmentPipe.from_spec("bgc", p=0.0)
    ada = AdaController(target=0.6, ada_kimg=500, interval=4)
    ada.accumulate(torch.ones(64, 1))  # D sure of every real: r_t = 1 > target
    assert ada.update(pipe, batch_size=64) == 1.0
    assert float(pipe.p) == pytest.approx(64 * 4 / 500_000)
    pipe.set_p(0.7999)
    ada.accumulate(torch.ones(64, 1))
    ada.update(pipe, batch_size=64)
    assert pipe.probability > 0.8  # official: no ceiling
    capped = AdaController(p_max=0.8)
    capped.accumulate(torch.ones(64, 1))
    pipe.set_p(0.7999)
    capped.update(pipe, batch_size=64)
    assert pipe.probability == pytest.approx(0.8)
    for _ in range(2000):  # r_t < target: p falls to zero and stays there
        ada.accumulate(-torch.ones(8, 1))
        ada.update(pipe, batch_size=64)
    assert float(pipe.p) == 0.0
    assert ada.update(pipe, batch_size=64) is None  # nothing seen


def test_ada_state_round_trip():
    ada = AdaController()
    ada.accumulate(torch.tensor([[1.0], [-1.0], [1.0]]))
    other = AdaController()
    other.load_state_dict(ada.state_dict())
    pipe_a, pipe_b = AugmentPipe(p=0.1), AugmentPipe(p=0.1)
    assert ada.update(pipe_a, 8) == other.update(pipe_b, 8) == pytest.approx(1 / 3)
    assert torch.equal(pipe_a.p, pipe_b.p)
