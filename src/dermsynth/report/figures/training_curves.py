"""GAN training curves from stats.jsonl: G and D losses, the adaptive augmentation (p and the r_t
overfitting heuristic of Karras et al. 2020, Eq. 1), and the speed in seconds per kimg."""

from __future__ import annotations

from pathlib import Path

from dermsynth.core.figures import pyplot
from dermsynth.report.figures._mpl import save

#: Panels: title -> (stats keys, a matching key prefix for names that vary between versions).
PANELS = {
    "losses": ("Loss/G/loss", "Loss/D/loss"),
    "augmentation": ("augment_p", "Progress/augment", "ada_rt"),
    "seconds per kimg": ("sec_per_kimg", "Timing/sec_per_kimg"),
}


def _series(rows: list[dict], key: str, x: str) -> tuple[list, list]:
    pts = [
        (r[x], r[key])
        for r in rows
        if isinstance(r.get(key), int | float) and isinstance(r.get(x), int | float)
    ]
    return [p[0] for p in pts], [p[1] for p in pts]


def training_curves(rows: list[dict], path: str | Path, x: str = "kimg") -> Path | None:
    """One panel per group of PANELS that the log has; None when nothing can be drawn."""
    panels = []
    for title, keys in PANELS.items():
        lines = [(k, *_series(rows, k, x)) for k in keys]
        lines = [ln for ln in lines if ln[1]]
        if lines:
            panels.append((title, lines))
    if not panels:
        return None
    p = pyplot()
    fig, axes = p.subplots(1, len(panels), figsize=(3.4 * len(panels), 2.6), squeeze=False)
    for ax, (title, lines) in zip(axes[0], panels, strict=True):
        for key, xs, ys in lines:
            ax.plot(xs, ys, lw=1.2, marker="." if len(xs) < 20 else None, label=key)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(x, fontsize=8)
        ax.tick_params(labelsize=7)
        if len(lines) > 1:
            ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return save(fig, path)
