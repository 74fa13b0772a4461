"""ADA augmentation pipe: identities, exact blits, colour-matrix invariants, probabilities, gradients."""

from __future__ import annotations

import math

import pytest
import torch

from dermsynth.gan.augment import AUGPIPE_SPECS, AdaController, AugmentPipe
from dermsynth.gan.augment_ops import octave_filter_bank, pixel_to_normalized, rotate2d, rotate3d


def _imgs(n=6, c=3, s=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, c, s, s, generator=g) * 2 - 1


def _only(op: str, p: float = 1.0) -> AugmentPipe:
    """A pipe with one transformation at full strength."""
    return AugmentPipe("blit", p=p, **{"xflip": 0.0, "rotate90": 0.0, "xint": 0.0, op: 1.0})


@pytest.mark.parametrize("pipe", sorted(AUGPIPE_SPECS))
def test_p_zero_is_identity_and_p_one_changes(pipe):
    x = _imgs()
    assert torch.equal(AugmentPipe(pipe, p=0.0)(x), x)
    torch.manual_seed(1)
    y = AugmentPipe(pipe, p=1.0)(x)
    assert y.shape == x.shape and not torch.allclose(y, x)


def test_unknown_pipe_is_an_error():
    with pytest.raises(ValueError, match="unknown augpipe"):
        AugmentPipe("bgx")


def test_xflip_and_rotate90_are_exact_blits():
    x = _imgs(n=32)
    torch.manual_seed(0)
    y = _only("xflip")(x)
    flipped = 0
    for a, b in zip(x, y, strict=True):
        if torch.allclose(b, a, atol=1e-5):
            continue
        assert torch.allclose(b, a.flip(2), atol=1e-5)
        flipped += 1
    assert 4 < flipped < 28  # each image flipped with probability 1/2
    y = _only("rotate90")(x)
    for a, b in zip(x, y, strict=True):
        assert any(torch.allclose(b, torch.rot90(a, k, dims=(1, 2)), atol=1e-5) for k in range(4))


def test_integer_translation_moves_whole_pixels():
    x = _imgs(n=8, s=32)
    torch.manual_seed(3)
    y = _only("xint")(x)
    for a, b in zip(x, y, strict=True):
        # some integer shift (|t| <= 1/8 of 32 = 4 px) makes the centre crop match exactly
        ok = any(
            torch.allclose(b[:, 8:24, 8:24], a[:, 8 - dy : 24 - dy, 8 - dx : 24 - dx], atol=1e-5)
            for dx in range(-4, 5)
            for dy in range(-4, 5)
        )
        assert ok


def test_brightness_adds_and_contrast_multiplies():
    x = _imgs(n=8)
    torch.manual_seed(0)
    d = _only("brightness")(x) - x
    assert torch.allclose(d, d.mean(dim=(1, 2, 3), keepdim=True).expand_as(d), atol=1e-5)
    assert d.abs().amax() > 0
    y = _only("contrast")(x)
    ratio = y / x
    assert torch.allclose(ratio, ratio.mean(dim=(1, 2, 3), keepdim=True).expand_as(ratio), atol=1e-3)


def test_hue_and_saturation_keep_grey_and_luma():
    grey = _imgs(n=8, c=1).repeat(1, 3, 1, 1)
    x = _imgs(n=8)
    for op in ("hue", "saturation"):
        torch.manual_seed(1)
        assert torch.allclose(_only(op)(grey), grey, atol=1e-5)
        torch.manual_seed(1)
        y = _only(op)(x)
        assert torch.allclose(y.mean(1), x.mean(1), atol=1e-5)  # luma axis is preserved
    torch.manual_seed(0)
    y = _only("lumaflip")(grey)
    for a, b in zip(grey, y, strict=True):
        assert torch.allclose(b, a, atol=1e-5) or torch.allclose(b, -a, atol=1e-5)


def test_rotate3d_is_a_rotation_about_the_axis():
    v = torch.ones(3) / math.sqrt(3)
    r = rotate3d(v, torch.tensor([0.7]))[0, :3, :3]
    assert torch.allclose(r @ r.T, torch.eye(3), atol=1e-6)
    assert torch.allclose(r @ v, v, atol=1e-6)


def test_pixel_to_normalized_matches_grid_sample_convention():
    # a 90-degree rotation in pixel space is the same rotation in normalised space for square images
    m = rotate2d(torch.tensor([math.pi / 2]))
    assert torch.allclose(pixel_to_normalized(m, 16, 16), m, atol=1e-6)


def test_filter_bank_sums_to_delta_and_unit_gains_are_identity():
    bank = octave_filter_bank(4)
    total = bank.sum(0)
    delta = torch.zeros_like(total)
    delta[total.numel() // 2] = 1
    assert torch.allclose(total, delta, atol=1e-6)
    # the lowest band passes DC, the others block it
    assert torch.allclose(bank.sum(1), torch.tensor([1.0, 0, 0, 0]), atol=1e-6)
    x = _imgs(s=32)
    pipe = _only("imgfilter", p=1.0)
    pipe.strength["imgfilter"] = 1e-9  # never selected -> unit gains
    assert torch.allclose(pipe._imgfilter(x), x, atol=1e-5)


def test_noise_and_cutout():
    x = torch.ones(8, 3, 32, 32)
    torch.manual_seed(0)
    y = _only("noise")(x)
    assert (y - x).abs().mean() > 0 and abs(float((y - x).mean())) < 0.05
    y = _only("cutout")(x)
    zero = (y == 0).float().mean(dim=(1, 2, 3))
    assert torch.all(zero > 0) and torch.all(zero <= 0.25 + 1e-6)


def test_probability_scales_with_p():
    x = _imgs(n=400, s=8)
    torch.manual_seed(0)
    y = _only("xflip", p=0.5)(x)
    changed = (y - x).abs().amax(dim=(1, 2, 3)) > 1e-4
    assert 0.17 < float(changed.float().mean()) < 0.33  # p * 1/2


def test_full_pipe_is_differentiable():
    x = _imgs().requires_grad_(True)
    torch.manual_seed(0)
    AugmentPipe("bgcfnc", p=1.0)(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0 and torch.isfinite(x.grad).all()


def test_ada_controller_moves_p_and_respects_ceiling():
    pipe = AugmentPipe("bgc", p=0.0)
    ada = AdaController(target=0.6, speed_kimg=500, interval=4, p_max=0.8)
    ada.accumulate(torch.ones(64, 1))  # D sure of every real: r_t = 1 > target
    assert ada.update(pipe, batch_size=64) == 1.0
    assert float(pipe.p) == pytest.approx(64 * 4 / 500_000)
    pipe.set_p(0.7999)
    ada.accumulate(torch.ones(64, 1))
    ada.update(pipe, batch_size=64)
    assert float(pipe.p) == pytest.approx(0.8)
    for _ in range(2000):  # r_t < target: p falls to zero and stays there
        ada.accumulate(-torch.ones(8, 1))
        ada.update(pipe, batch_size=64)
    assert float(pipe.p) == 0.0
    assert ada.update(pipe, batch_size=64) is None  # nothing seen


def test_p_survives_a_state_dict_round_trip():
    a, b = AugmentPipe(p=0.3), AugmentPipe(p=0.0)
    b.load_state_dict(a.state_dict())
    assert b.probability == pytest.approx(0.3) and float(b.p) == pytest.approx(0.3)
    x = _imgs()
    assert not torch.equal(b(x), x)  # the host copy follows the loaded buffer


def test_ada_state_round_trip():
    ada = AdaController()
    ada.accumulate(torch.tensor([[1.0], [-1.0], [1.0]]))
    other = AdaController()
    other.load_state_dict(ada.state_dict())
    pipe_a, pipe_b = AugmentPipe(p=0.1), AugmentPipe(p=0.1)
    assert ada.update(pipe_a, 8) == other.update(pipe_b, 8) == pytest.approx(1 / 3)
    assert torch.equal(pipe_a.p, pipe_b.p)
