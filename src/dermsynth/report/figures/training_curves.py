"""GAN training curves from stats.jsonl: losses, augmentation p and r_t, speed (thesis Figs. 4.4-4.7 context)."""

from __future__ import annotations

from pathlib import Path

from dermsynth.report.figures._mpl import plt, save


def training_curves(rows: list[dict], path: str | Path, x: str = "kimg") -> Path | None:
    keys = [
        k
        for k in sorted({k for r in rows for k in r})
        if k != x and isinstance(rows[-1].get(k, 0.0), int | float)
    ]
    keys = [
        k for k in keys if any(s in k.lower() for s in ("loss", "augment", "p", "r_t", "sec", "fid", "kid"))
    ]
    if not rows or x not in rows[0] or not keys:
        return None
    keys = keys[:8]
    p = plt()
    fig, axes = p.subplots(len(keys), 1, figsize=(6, 1.6 * len(keys)), sharex=True, squeeze=False)
    xs = [r.get(x) for r in rows]
    for ax, k in zip(axes[:, 0], keys, strict=True):
        ax.plot(xs, [r.get(k) for r in rows], lw=1)
        ax.set_ylabel(k, fontsize=7)
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel(x)
    return save(fig, path)
