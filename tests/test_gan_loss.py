"""StyleGAN2 loss: logistic losses, R1, path length and style mixing against closed forms on linear nets."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dermsynth.gan.train.loss import LossConfig, StyleGAN2Loss


class LinearMapping(torch.nn.Module):
    def __init__(self, z_dim=8, w_dim=6, num_ws=4):
        super().__init__()
        self.M = torch.nn.Parameter(torch.randn(z_dim, w_dim))
        self.num_ws = num_ws

    def forward(self, z, c, truncation_psi=1, truncation_cutoff=None, update_emas=False):
        return (z @ self.M).unsqueeze(1).repeat(1, self.num_ws, 1)


class LinearSynthesis(torch.nn.Module):
    """img = sum_k ws[:, k] @ B  ->  J_w^T y = B y for every ws row."""

    def __init__(self, w_dim=6):
        super().__init__()
        self.B = torch.nn.Parameter(torch.randn(w_dim, 3 * 4 * 4))

    def forward(self, ws, noise_mode="random"):
        return (ws @ self.B).sum(1).view(-1, 3, 4, 4)


class LinearG(torch.nn.Module):
    z_dim, c_dim = 8, 0

    def __init__(self):
        super().__init__()
        self.mapping = LinearMapping()
        self.synthesis = LinearSynthesis()


class LinearD(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(48) * 0.1)

    def forward(self, img, c):
        return (img.flatten(1) @ self.w).unsqueeze(1)


def _setup(**cfg):
    torch.manual_seed(0)
    G, D = LinearG(), LinearD()
    stats: dict[str, list[torch.Tensor]] = {}
    loss = StyleGAN2Loss(
        G,
        D,
        LossConfig(**{"style_mixing": 0.0, **cfg}),
        report=lambda n, v: stats.setdefault(n, []).append(v),
    )
    z = torch.randn(6, 8)
    c = torch.zeros(6, 0)
    real = torch.randn(6, 3, 4, 4)
    return G, D, loss, stats, z, c, real


def test_dmain_gradient_matches_closed_form():
    G, D, loss, stats, z, c, real = _setup()
    G.requires_grad_(False)
    loss.accumulate_gradients("Dmain", real, c, z, c, gain=1.0)
    with torch.no_grad():
        fake = G.synthesis(G.mapping(z, c)).flatten(1)
        f, r = fake @ D.w, real.flatten(1) @ D.w
        expect = (torch.sigmoid(f)[:, None] * fake).mean(0) - (
            torch.sigmoid(-r)[:, None] * real.flatten(1)
        ).mean(0)
        d_loss = F.softplus(f) + F.softplus(-r)
    assert torch.allclose(D.w.grad, expect, atol=1e-5)
    assert torch.allclose(stats["Loss/D/loss"][0].flatten(), d_loss, atol=1e-5)
    assert G.synthesis.B.grad is None


def test_gmain_is_non_saturating_and_reaches_only_g():
    G, D, loss, stats, z, c, real = _setup()
    D.requires_grad_(False)
    loss.accumulate_gradients("Gmain", real, c, z, c, gain=1.0)
    with torch.no_grad():
        logits = G.synthesis(G.mapping(z, c)).flatten(1) @ D.w
    assert torch.allclose(stats["Loss/G/loss"][0].flatten(), F.softplus(-logits), atol=1e-5)
    assert G.synthesis.B.grad is not None and G.mapping.M.grad is not None and D.w.grad is None


def test_r1_penalty_and_lazy_gain():
    G, D, loss, stats, z, c, real = _setup(gamma=4.0)
    G.requires_grad_(False)
    loss.accumulate_gradients("Dreg", real, c, z, c, gain=16.0)
    # D(x) = w . x  ->  grad_x = w, R1 = ||w||^2 per sample; d/dw (gamma/2 ||w||^2) = gamma w
    assert torch.allclose(stats["Loss/r1_penalty"][0], D.w.detach().square().sum().expand(6), atol=1e-5)
    assert torch.allclose(D.w.grad, 16.0 * 4.0 * D.w.detach(), atol=1e-4)


def test_path_length_and_running_mean():
    G, D, loss, stats, z, c, real = _setup(pl_batch_shrink=2, pl_decay=0.01, pl_weight=2.0)
    D.requires_grad_(False)
    torch.manual_seed(5)
    loss.accumulate_gradients("Greg", real, c, z, c, gain=4.0)
    torch.manual_seed(5)
    y = torch.randn(3, 3, 4, 4) / 4.0  # N(0, I) / sqrt(H W), on the shrunk batch of 6 // 2
    lengths = (y.flatten(1) @ G.synthesis.B.detach().T).norm(dim=1)  # ||J^T y|| = ||B y||
    assert float(loss.pl_mean) == pytest.approx(0.01 * float(lengths.mean()), rel=1e-4)
    assert torch.allclose(stats["Loss/pl_penalty"][0], (lengths - loss.pl_mean).square(), atol=1e-5)
    assert G.synthesis.B.grad is not None


def test_path_length_gradient_flows_through_the_running_mean_like_the_official():
    """Official Greg: pl_mean = lerp(pl_mean_old, mean(L), decay) is not detached inside the step, so
    d penalty / dB includes the -decay * d mean(L) / dB term."""
    G, D, loss, stats, z, c, real = _setup(pl_batch_shrink=2, pl_decay=0.01, pl_weight=2.0)
    D.requires_grad_(False)
    loss.pl_mean = torch.tensor(0.3)
    torch.manual_seed(5)
    loss.accumulate_gradients("Greg", real, c, z, c, gain=4.0)
    torch.manual_seed(5)
    y = torch.randn(3, 3, 4, 4) / 4.0
    B = G.synthesis.B.detach().clone().requires_grad_(True)
    lengths = (y.flatten(1) @ B.T).norm(dim=1)
    for detach, should_match in ((False, True), (True, False)):
        m = torch.tensor(0.3).lerp(lengths.mean().detach() if detach else lengths.mean(), 0.01)
        (ref,) = torch.autograd.grad(((lengths - m).square() * 2.0).mean() * 4.0, B, retain_graph=True)
        assert torch.allclose(G.synthesis.B.grad, ref, rtol=1e-5, atol=1e-7) == should_match


def test_style_mixing_splits_ws_at_a_cutoff():
    G, D, loss, stats, z, c, real = _setup(style_mixing=1.0)
    torch.manual_seed(0)
    _, ws = loss.run_G(z, c)
    first = G.mapping(z, c)
    same = [bool(torch.allclose(ws[:, k], first[:, k])) for k in range(ws.shape[1])]
    cutoff = same.index(False)
    assert 1 <= cutoff < ws.shape[1] and all(same[:cutoff]) and not any(same[cutoff:])


def test_unknown_phase_is_an_error():
    G, D, loss, stats, z, c, real = _setup()
    with pytest.raises(ValueError, match="unknown phase"):
        loss.accumulate_gradients("Gboth", real, c, z, c, gain=1.0)


def test_all_phases_on_the_real_tiny_networks():
    from dermsynth.gan import build_networks

    torch.manual_seed(0)
    G, D = build_networks("tiny", 16, 2)
    loss = StyleGAN2Loss(G, D, LossConfig(gamma=0.1))
    z, c = torch.randn(4, G.z_dim), F.one_hot(torch.tensor([0, 1, 0, 1]), 2).float()
    real = torch.rand(4, 3, 16, 16) * 2 - 1
    for phase, module in (("Gmain", G), ("Greg", G), ("Dmain", D), ("Dreg", D)):
        G.requires_grad_(module is G)
        D.requires_grad_(module is D)
        module.zero_grad(set_to_none=True)
        loss.accumulate_gradients(phase, real, c, z, c, gain=1.0)
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads), phase
    assert float(loss.pl_mean) > 0


def test_second_latent_is_drawn_whether_or_not_mixing_happens():
    """Official loss: randn_like(z) for the second latent is drawn every time, so the stream after
    run_G is the same for a pass that mixed and one that did not (both happen over these seeds)."""
    G, D, loss, stats, z, c, real = _setup(style_mixing=0.5)
    mixed = set()
    for seed in range(12):
        torch.manual_seed(seed)
        _, ws = loss.run_G(z, c)
        after = torch.randn(5)
        torch.manual_seed(seed)
        torch.randint(1, ws.shape[1], ())
        torch.rand(())
        torch.randn_like(z)
        assert torch.equal(after, torch.randn(5)), seed
        mixed.add(not torch.allclose(ws, G.mapping(z, c)))
    assert mixed == {True, False}


def test_r1_pass_reports_real_signs_to_ada():
    """Official loss: the reals' scores and signs of the R1 pass are reported too (ADA counts them)."""
    seen: list[torch.Tensor] = []
    G, D, loss, stats, z, c, real = _setup(gamma=1.0)
    loss.on_real_logits = seen.append
    loss.accumulate_gradients("Dreg", real, c, z, c, gain=16.0)
    assert len(seen) == 1 and seen[0].shape == (6, 1)
    assert torch.allclose(seen[0].detach(), (real.flatten(1) @ D.w).unsqueeze(1))
    assert torch.equal(stats["Loss/signs/real"][0], seen[0].sign())
    loss.accumulate_gradients("Dmain", real, c, z, c, gain=1.0)
    assert len(seen) == 2 and len(stats["Loss/signs/real"]) == 2
