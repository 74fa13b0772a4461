"""The ADA heuristic: adjust the augmentation probability p from D's overfitting measure r_t.

Reference: Karras et al., "Training Generative Adversarial Networks with Limited Data" (NeurIPS 2020),
Sec. 3: r_t = E[sign(D(x_real))] over the reals seen since the last update; every ``interval`` steps
p moves by sign(r_t - target) * images / (ada_kimg * 1000), so it can go from 0 to 1 in
``ada_kimg`` thousand images, and never below 0. As in the official code p has no ceiling by
default; ``p_max`` (``--p-max``, ours) sets one.
"""

from __future__ import annotations

import torch

from dermsynth.gan.augment.pipe import AugmentPipe


class AdaController:
    """The ADA heuristic (paper Sec. 3): adjust ``pipe.p`` from r_t towards ``target``.

    Every ``interval`` steps, ``p += sign(r_t - target) * images_seen / (ada_kimg * 1000)`` so that p
    can move from 0 to 1 in ``ada_kimg`` thousand images (500 as in the paper), clamped below at 0.
    ``p_max`` (ours; None = no ceiling, as the official) caps it: on a few hundred images p can climb
    past the ~0.8 where the paper finds ``bgc`` starts to leak (ADA paper Fig. 3), which a cap prevents.
    """

    def __init__(
        self, target: float = 0.6, ada_kimg: float = 500, interval: int = 4, p_max: float | None = None
    ):
        self.target, self.ada_kimg, self.interval, self.p_max = target, ada_kimg, interval, p_max
        self.sign_sum = 0.0  # signs already moved to the host (after a resume)
        self.sign_count = 0
        self._acc: torch.Tensor | None = None  # device-side [sum of signs, count]: no sync per step
        self.last_rt = float("nan")

    def accumulate(self, real_logits: torch.Tensor) -> None:
        """Record the signs of D's outputs on (augmented) reals."""
        x = real_logits.detach().float()
        add = torch.stack([torch.sign(x).sum(), torch.tensor(float(x.numel()), device=x.device)]).double()
        self._acc = add if self._acc is None else self._acc + add

    def _host_stats(self) -> tuple[float, float]:
        if self._acc is not None:
            acc = self._acc.cpu()
            self.sign_sum += float(acc[0])
            self.sign_count += int(acc[1])
            self._acc = None
        return self.sign_sum, float(self.sign_count)

    def update(self, pipe: AugmentPipe, batch_size: int, reduce=None) -> float | None:
        """Adjust ``pipe.p`` from the signs seen since the last call; returns r_t (None if nothing seen).

        ``reduce`` sums a 2-vector across ranks (for multi-GPU runs), so every rank moves p alike.
        """
        stats = torch.tensor(self._host_stats(), dtype=torch.float64)
        if reduce is not None:
            stats = reduce(stats)
        self.sign_sum, self.sign_count = 0.0, 0
        if stats[1] <= 0:
            return None
        rt = float(stats[0] / stats[1])
        self.last_rt = rt
        sign = float((rt > self.target) - (rt < self.target))
        step = sign * (batch_size * self.interval) / (self.ada_kimg * 1000)
        p = max(pipe.probability + step, 0.0)
        pipe.set_p(p if self.p_max is None else min(p, self.p_max))
        return rt

    def state_dict(self) -> dict:
        total, count = self._host_stats()
        return {"sign_sum": total, "sign_count": int(count), "last_rt": self.last_rt}

    def load_state_dict(self, state: dict) -> None:
        self.sign_sum = float(state["sign_sum"])
        self.sign_count = int(state["sign_count"])
        self.last_rt = float(state["last_rt"])
