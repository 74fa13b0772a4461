"""StyleGAN2 loss with lazy regularisation, in four phases: Gmain, Greg, Dmain, Dreg.

References: Karras et al., "Analyzing and Improving the Image Quality of StyleGAN" (CVPR 2020):
non-saturating logistic loss (Goodfellow et al. 2014), R1 penalty on reals (Mescheder et al. 2018,
Eq. 4 of that paper: gamma/2 * ||grad_x D(x)||^2), path-length regularisation (Sec. 3.2, Eq. 4:
(||J_w^T y||_2 - a)^2 with a the running mean), lazy regularisation (Sec. 3.1, run every k steps with
the penalty scaled by k), style mixing (StyleGAN, Sec. 3.1). Karras et al. 2020 (ADA) apply the
augmentation pipe to every image D sees.

Written against the generator/discriminator interface of ``dermsynth.gan.networks``:
``G.mapping(z, c, update_emas=...) -> ws [N, num_ws, w_dim]``, ``G.synthesis(ws) -> img``, ``D(img, c)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

PHASES = ("Gmain", "Greg", "Dmain", "Dreg")
#: Every statistic the loss reports (per-sample values), in a fixed order for cross-rank reduction.
STAT_NAMES = (
    "Loss/scores/fake",
    "Loss/signs/fake",
    "Loss/G/loss",
    "Loss/pl_penalty",
    "Loss/G/reg",
    "Loss/scores/real",
    "Loss/signs/real",
    "Loss/D/loss",
    "Loss/r1_penalty",
    "Loss/D/reg",
)


@dataclass(frozen=True)
class LossConfig:
    gamma: float = 10.0
    style_mixing: float = 0.9
    pl_weight: float = 2.0
    pl_batch_shrink: int = 2
    pl_decay: float = 0.01


class StyleGAN2Loss:
    """Accumulates gradients for one phase at a time (the caller zeroes grads and steps optimisers).

    ``report(name, tensor)`` receives per-sample statistics (``Loss/G/loss``, ``Loss/D/reg`` ...).
    ``on_real_logits`` receives D's outputs on augmented reals (for the ADA heuristic).
    """

    def __init__(
        self,
        G: torch.nn.Module,
        D: torch.nn.Module,
        cfg: LossConfig = LossConfig(),
        augment_pipe: torch.nn.Module | None = None,
        report: Callable[[str, torch.Tensor], None] | None = None,
        on_real_logits: Callable[[torch.Tensor], None] | None = None,
    ):
        self.G, self.D, self.cfg = G, D, cfg
        self.augment_pipe = augment_pipe
        self.report = report or (lambda name, value: None)
        self.on_real_logits = on_real_logits
        # Forward passes used by the non-regularisation phases; setup may swap in torch.compile'd
        # versions (double backward -- R1, path length -- always runs the eager modules).
        self.synthesis_main: Callable = G.synthesis
        self.D_main: Callable = D
        # Running mean of path lengths: a buffer so that it travels in the training state.
        self.pl_mean = torch.zeros([], device=_device_of(G))

    # -------------------------------------------------------------------------------------------------
    def run_G(
        self, z: torch.Tensor, c: torch.Tensor, update_emas: bool = True, main: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """ws from the mapping network, with style mixing from a second latent; then the image."""
        ws = self.G.mapping(z, c, update_emas=update_emas)
        if self.cfg.style_mixing > 0:
            num_ws = ws.shape[1]
            cutoff = int(torch.randint(1, num_ws, ()).item()) if num_ws > 1 else num_ws
            if float(torch.rand(())) >= self.cfg.style_mixing:
                cutoff = num_ws
            # As the official loss: the second latent is drawn (and mapped) whether or not mixing
            # happens, so the random stream does not depend on the mixing draw.
            ws2 = self.G.mapping(torch.randn_like(z), c, update_emas=False)
            if cutoff < num_ws:
                ws = torch.cat([ws[:, :cutoff], ws2[:, cutoff:]], dim=1)
        img = (self.synthesis_main if main else self.G.synthesis)(ws)
        return img, ws

    def run_D(self, img: torch.Tensor, c: torch.Tensor, main: bool = True) -> torch.Tensor:
        if self.augment_pipe is not None:
            img = self.augment_pipe(img)
        return (self.D_main if main else self.D)(img, c)

    # -------------------------------------------------------------------------------------------------
    def accumulate_gradients(
        self,
        phase: str,
        real_img: torch.Tensor,
        real_c: torch.Tensor,
        gen_z: torch.Tensor,
        gen_c: torch.Tensor,
        gain: float,
    ) -> None:
        """Backpropagate the loss of ``phase`` (scaled by ``gain``) into the parameters' ``.grad``."""
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}; expected one of {PHASES}")
        if phase == "Gmain":
            self._g_main(gen_z, gen_c, gain)
        elif phase == "Greg":
            if self.cfg.pl_weight != 0:
                self._g_pl(gen_z, gen_c, gain)
        elif phase == "Dmain":
            self._d_gen(gen_z, gen_c, gain)
            self._d_real(real_img, real_c, gain, main=True, r1=False)
        elif phase == "Dreg":
            if self.cfg.gamma != 0:
                self._d_real(real_img, real_c, gain, main=False, r1=True)

    def _g_main(self, gen_z, gen_c, gain) -> None:
        """Gmain: maximise D's logits for generated images, softplus(-D(G(z)))."""
        img, _ = self.run_G(gen_z, gen_c)
        logits = self.run_D(img, gen_c)
        self.report("Loss/scores/fake", logits)
        self.report("Loss/signs/fake", logits.sign())
        loss = F.softplus(-logits)
        self.report("Loss/G/loss", loss)
        loss.mean().mul(gain).backward()

    def _g_pl(self, gen_z, gen_c, gain) -> None:
        """Greg: path-length penalty (||J_w^T y|| - a)^2 on a shrunk batch, y ~ N(0, I) / sqrt(H W)."""
        n = max(gen_z.shape[0] // self.cfg.pl_batch_shrink, 1)
        img, ws = self.run_G(gen_z[:n], gen_c[:n], main=False)
        noise = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
        (grads,) = torch.autograd.grad(outputs=[(img * noise).sum()], inputs=[ws], create_graph=True)
        lengths = grads.square().sum(2).mean(1).sqrt()  # [n]
        self.pl_mean = self.pl_mean.to(lengths.device)
        # The running mean is updated with this batch's mean, and, as in the official code, the
        # penalty differentiates through that update (pl_mean is not detached within the step).
        pl_mean = self.pl_mean.lerp(lengths.mean(), self.cfg.pl_decay)
        self.pl_mean = pl_mean.detach()
        penalty = (lengths - pl_mean).square()
        self.report("Loss/pl_penalty", penalty)
        loss = penalty * self.cfg.pl_weight
        self.report("Loss/G/reg", loss)
        (img[:, 0, 0, 0] * 0 + loss).mean().mul(gain).backward()

    def _d_gen(self, gen_z, gen_c, gain) -> None:
        """Dmain (fakes): minimise D's logits for generated images, softplus(D(G(z)))."""
        with torch.no_grad():
            img, _ = self.run_G(gen_z, gen_c)
        logits = self.run_D(img, gen_c)
        self.report("Loss/scores/fake", logits)
        self.report("Loss/signs/fake", logits.sign())
        loss = F.softplus(logits)
        self._loss_dgen = loss.detach()
        loss.mean().mul(gain).backward()

    def _d_real(self, real_img, real_c, gain, main: bool, r1: bool) -> None:
        """Dmain (reals): softplus(-D(x)); Dreg: R1 = gamma/2 * ||grad_x D(x)||^2 on reals."""
        x = real_img.detach().requires_grad_(r1)
        logits = self.run_D(x, real_c, main=not r1)
        loss = torch.zeros_like(logits)
        # As the official loss, every pass of D over reals reports its scores and signs -- the R1 pass
        # too -- and the ADA statistic r_t counts them all (1 batch in d_reg_interval + 1 is an R1 one).
        self.report("Loss/scores/real", logits)
        self.report("Loss/signs/real", logits.sign())
        if self.on_real_logits is not None:
            self.on_real_logits(logits)
        if main:
            loss = loss + F.softplus(-logits)
            self.report("Loss/D/loss", self._loss_dgen + F.softplus(-logits).detach())
        if r1:
            (grads,) = torch.autograd.grad(outputs=[logits.sum()], inputs=[x], create_graph=True)
            penalty = grads.square().sum([1, 2, 3])
            self.report("Loss/r1_penalty", penalty)
            reg = penalty.view_as(logits) if penalty.numel() == logits.numel() else penalty.mean()
            loss = loss + reg * (self.cfg.gamma / 2)
            self.report("Loss/D/reg", penalty * (self.cfg.gamma / 2))
        (logits * 0 + loss).mean().mul(gain).backward()

    # -------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"pl_mean": self.pl_mean.detach().cpu()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.pl_mean = state["pl_mean"].to(_device_of(self.G))


def _device_of(module: torch.nn.Module) -> torch.device:
    for p in module.parameters():
        return p.device
    return torch.device("cpu")
