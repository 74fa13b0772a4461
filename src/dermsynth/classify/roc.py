"""ROC figure with one curve per setup (thesis Fig. 4.17), matplotlib Agg, written atomically."""

from __future__ import annotations

import os

import pandas as pd

from dermsynth.classify.metrics import auc, roc
from dermsynth.classify.table import split_val_test


def plot_roc(
    preds: dict[str, pd.DataFrame], path: str | os.PathLike, title: str = "ROC on the real test set"
) -> None:
    """One ROC curve per setup (test rows), AUC in the legend, chance diagonal."""
    from dermsynth.core.figures import pyplot, save_figure

    plt = pyplot()

    fig, ax = plt.subplots(figsize=(5.5, 5.0), dpi=120)
    for name, df in preds.items():
        _, test = split_val_test(df)
        if test["label"].nunique() < 2:
            continue
        fpr, tpr, _ = roc(test["label"], test["score"])
        ax.plot(fpr, tpr, lw=1.6, label=f"{name} (AUC {auc(test['label'], test['score']):.3f})")
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8)
    ax.set(
        xlabel="False positive rate (1 - specificity)",
        ylabel="True positive rate (sensitivity)",
        xlim=(0, 1),
        ylim=(0, 1.01),
        title=title,
    )
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
