"""Melanoma classifiers trained on real, synthetic and mixed data: thesis Table 4.5 with AUC CIs and
DeLong p-values against ``real``, the ROC curves (Fig. 4.17), and the embeddings (Fig. 3.7).

The experiment's files are read through their owner, ``classify.results`` (docs/architecture.md,
Contracts)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import dermsynth.report.fmt as fmt
from dermsynth.classify.results import (
    RESULTS_JSON,
    SHORTCUT_CSV,
    TABLE_CSV,
    ClassifierResults,
    ResultsError,
    SetupResult,
    read_results,
)
from dermsynth.report.context import Ctx, StageReport
from dermsynth.report.html import Block, Card, Details, Figure, Section, Table

TITLE = "Melanoma classifiers on real, synthetic and mixed data"
ALPHA = 0.05


def setup_sentence(row: SetupResult, real: SetupResult | None) -> str:
    """``synthetic training: AUC 0.71 [0.64, 0.78], below real 0.80, p = 0.01``."""
    name, auc = row.setup, row.auc
    s = f"{name} training: AUC {fmt.rate(auc)}"
    c = fmt.ci(row.auc_ci_low, row.auc_ci_high)
    s += f" {c}" if c else ""
    if real is None or name == "real":
        n, pos = row.n_test, row.n_test_melanoma
        if n:
            s += f" on {fmt.count(n)} real test images" + (
                f" ({fmt.count(pos)} melanoma)" if pos is not None else ""
            )
        return s
    ra, p = real.auc, row.p_vs_real
    if auc is None or ra is None:
        return s
    if p is None:
        return s + f", real {fmt.rate(ra)} (no paired DeLong test)"
    if p < ALPHA:
        word = "below" if auc < ra else "above"
        return s + f", {word} real {fmt.rate(ra)}, {fmt.p_eq(p)}"
    return s + f", not distinguishable from real {fmt.rate(ra)} ({fmt.p_eq(p)})"


def table_45(t: pd.DataFrame, compact: bool = False) -> pd.DataFrame:
    """Display form of table.csv: AUC with its CI in one cell, p against real, test-set size."""
    out = pd.DataFrame({"setup": t["setup"].astype(str)})
    if not compact:
        for c in ("TP", "FP", "FN", "TN"):
            if c in t:
                out[c] = [fmt.count(v) for v in t[c]]
        for c in ("ACC", "TPR", "TNR"):
            if c in t:
                out[c] = [fmt.rate(v) for v in t[c]]
    out["AUC [95% CI]"] = [
        f"{fmt.rate(a)} {fmt.ci(lo, hi)}".strip()
        for a, lo, hi in zip(
            t["AUC"], t.get("AUC_CI_low", [None] * len(t)), t.get("AUC_CI_high", [None] * len(t)), strict=True
        )
    ]
    if "DeLong_p_vs_real" in t:
        out["p vs real" if compact else "DeLong p vs real"] = [
            "" if s == "real" else fmt.pval(p) for s, p in zip(t["setup"], t["DeLong_p_vs_real"], strict=True)
        ]
    if not compact and "n_test" in t:
        out["test images (melanoma)"] = [
            f"{fmt.count(n)} ({fmt.count(m)})"
            for n, m in zip(t["n_test"], t.get("n_test_melanoma", t["n_test"]), strict=True)
        ]
    if not compact and "notes" in t and t["notes"].notna().any():
        out["notes"] = t["notes"].fillna("").astype(str)
    return out


SHORTCUT = {
    "setup": ("setup", str),
    "score_change_add": ("score change, frame added", lambda v: fmt.signed(v, 2)),
    "score_change_remove": ("score change, frame removed", lambda v: fmt.signed(v, 2)),
    "AUC_original": ("AUC", fmt.rate),
    "AUC_flipped": ("AUC, frames swapped", fmt.rate),
    "flagged": ("shortcut?", lambda v: "yes" if str(v) == "True" else "no" if str(v) == "False" else ""),
}


def shortcut_table(sc: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({name: [f(v) for v in sc[c]] for c, (name, f) in SHORTCUT.items() if c in sc.columns})


def classify_block(ctx: Ctx, d: Path) -> tuple[Block, ClassifierResults | None]:
    b = Block(title=f"Experiment {ctx.rel(d)}")
    try:
        res = read_results(d)
    except ResultsError as e:
        b.text.append(f"{ctx.rel(e.path)} could not be read as a classifier table: {e.reason}.")
        return b, None
    t, real = res.table, res.real
    b.text += [setup_sentence(r, real) + "." for r in res.setups]
    b.items.append(
        Table(
            "Test-set results on real images of classifiers trained on each set: confusion at the validation "
            "threshold (TP = melanoma called melanoma), accuracy, sensitivity (TPR), specificity (TNR), AUC "
            "with its 95% CI and the paired DeLong test against the classifier trained on real images",
            table_45(t),
            number="Table 4.5",
            source=ctx.rel(d),
            formatted=True,
        )
    )
    if res.roc is not None:
        b.items.append(
            Figure(
                "ROC curves of the classifiers on the real test set",
                res.roc,
                number="Fig. 4.17",
                source=ctx.rel(d),
            )
        )
    sc = res.shortcut
    if sc is not None and len(sc):
        b.items.append(
            Table(
                "Frame shortcut test: how much each classifier's mean melanoma score moves when a frame is "
                "added to the frameless test images or removed from the framed ones, and its AUC when the "
                "frames are swapped",
                shortcut_table(sc),
                source=ctx.rel(d),
                formatted=True,
            )
        )
        b.details.append(Details(f"The full {SHORTCUT_CSV}", sc.astype(str)))
    b.details.append(Details(f"The full {TABLE_CSV}", t.astype(str)))
    lines = []
    for name in res.records:
        done = res.training_record(name)
        keys = {k: done[k] for k in list(done)[:8] if not isinstance(done[k], dict | list)}
        if keys:
            lines.append(f"{name}: " + ", ".join(f"{k} {v}" for k, v in keys.items()))
    if lines:
        b.details.append(Details(f"Per-setup training records ({RESULTS_JSON})", lines=lines))
    b.provenance = ctx.provenance(d)
    return b, res


def embed_block(ctx: Ctx, d: Path) -> Block:
    b = Block(title=f"Embeddings {ctx.rel(d)}")
    png = d / "pca.png"
    if png.is_file():
        b.items.append(
            Figure(
                "Real and generated images in a classifier's penultimate-layer features (PCA, 3 components): "
                "colour = class, marker = source; generated images far from their class are outliers",
                png,
                number="Fig. 3.7",
                source=ctx.rel(d),
            )
        )
    for p in sorted(d.glob("*.png")):
        if p.name not in ("pca.png", "sprite.png"):
            b.items.append(Figure(p.stem.replace("_", " "), p, source=ctx.rel(d)))
    b.provenance = ctx.provenance(d)
    return b


def build(ctx: Ctx) -> StageReport:
    if not ctx.found.classify and not ctx.found.embeds:
        line = ctx.why_not_run("classify", f"classifier table ({TABLE_CSV} with an AUC column)")
        return StageReport(section=Section("classify", TITLE, lead=line), not_run=f"Classifiers: {line}")
    blocks, card, findings = [], None, []
    for d in ctx.found.classify:
        b, res = classify_block(ctx, d)
        blocks.append(b)
        if res is not None and card is None:
            sentences = [setup_sentence(r, res.real) for r in res.setups]
            findings.append(("Classifiers", "; ".join(sentences) + "."))
            card = Card("classify", "Classifiers")
            card.items.append(
                Table(
                    "Table 4.5: test set, DeLong p vs real", table_45(res.table, compact=True), formatted=True
                )
            )
            if res.roc is not None:
                card.items.append(Figure("ROC on the real test set (Fig. 4.17)", res.roc))
    blocks += [embed_block(ctx, d) for d in ctx.found.embeds]
    return StageReport(Section("classify", TITLE, blocks), card, findings)
