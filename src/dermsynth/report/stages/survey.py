"""The reader study: the built study and its leak check, the readers' confusion and rates (thesis
Tables 4.3/4.4), and Figs. 4.11-4.16 from ``dermsynth survey analyze``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import dermsynth.report.fmt as fmt
from dermsynth.report.context import Ctx, StageReport, kv_frame, read_csv, read_json
from dermsynth.report.html import Block, Card, Details, Figure, Section, Table
from dermsynth.survey.responses import STIMULI_CSV, TableError, read_stimuli_table

TITLE = "Reader study: real or synthetic?"

FIGS = {
    "fig4_11a_correct_real": ("Fig. 4.11 (a)", "How many readers called each real image real"),
    "fig4_11b_correct_synthetic": ("Fig. 4.11 (b)", "How many readers called each synthetic image synthetic"),
    "fig4_15_certainty": ("Fig. 4.15", "Readers' certainty on real and on synthetic images"),
    "fig4_16_diagnosis_confusion": (
        "Fig. 4.16",
        "Readers' melanoma diagnoses on real vs synthetic images (confusion against the image's class)",
    ),
}
GRIDS = {
    "synthetic_fooled_all": "Synthetic images every reader called real",
    "synthetic_caught_by_all": "Synthetic images every reader called synthetic",
    "real_called_synthetic_by_all": "Real images every reader called synthetic",
    "real_recognised_by_all": "Real images every reader called real",
}


def stimuli(d: Path) -> pd.DataFrame | None:
    """The study's ``stimuli.csv`` through its owner (survey/responses.py); None when absent or unreadable."""
    try:
        return read_stimuli_table(d / STIMULI_CSV)
    except (OSError, TableError, ValueError):
        return None


def study_sentence(d: Path) -> str:
    st = stimuli(d)
    lc = read_json(d / "leakcheck.json")
    n = 0 if st is None else len(st)
    parts = ""
    if st is not None and "source" in st:
        parts = (
            " ("
            + ", ".join(f"{k} {fmt.count(v)}" for k, v in st["source"].value_counts().sort_index().items())
            + ")"
        )
    s = f"Study built with {fmt.count(n)} images{parts}"
    return s + (f"; {leak_sentence(lc)}" if lc else "") + "."


def leak_sentence(lc: dict) -> str:
    """The leak check in words: file-level and (when run) pixel-level results, and which features failed."""
    s = (
        f"leak check {'passed' if lc.get('passed') else 'FAILED'}: a classifier on file-level features alone is "
        f"{fmt.rate(lc.get('accuracy'))} accurate ({fmt.p_eq(lc.get('p_value'))})"
    )
    pixel = lc.get("pixel") or {}
    pc = pixel.get("classifier") or {}
    if pc:
        s += f", one on pixel statistics {fmt.rate(pc.get('accuracy'))} ({fmt.p_eq(pc.get('p_value'))})"
    alpha = fmt.num(lc.get("alpha")) or 0.001
    p_adj = {
        k: fmt.num(v.get("p_bonferroni"))
        for k, v in (pixel.get("features") or {}).items()
        if isinstance(v, dict)
    }
    feats = [k for k, p in p_adj.items() if p is not None and p < alpha]
    if feats:
        s += (
            f"; {', '.join(feats)} separate synthetic from real images, so a reader could tell them apart by "
            "compression history, sharpness or noise rather than by the lesion"
        )
    return s


def readers_table(r: pd.DataFrame, compact: bool = False) -> pd.DataFrame:
    """Tables 4.3/4.4 (compact: reader with background, accuracy, sensitivity, specificity)."""
    if compact:
        t = pd.DataFrame(
            {
                "reader": [
                    f"{a} ({b})"
                    for a, b in zip(r["reader_id"], r.get("background", [""] * len(r)), strict=True)
                ]
            }
        )
        for c, short in (("accuracy", "acc."), ("sensitivity", "sens."), ("specificity", "spec.")):
            if c in r:
                t[short] = [fmt.rate(v) for v in r[c]]
        return t
    cols = [
        "reader_id",
        "background",
        "TP",
        "FP",
        "FN",
        "TN",
        "accuracy",
        "sensitivity",
        "specificity",
        "precision",
    ]
    return r[[c for c in cols if c in r.columns]].rename(columns={"reader_id": "reader"})


def analysis_sentence(d: Path, readers: pd.DataFrame | None) -> str:
    s = read_json(d / "summary.json")
    n_r = s.get("readers", 0 if readers is None else len(readers))
    out = f"{fmt.count(n_r)} reader(s), {fmt.count(s.get('responses'))} answers"
    boot = s.get("pooled_accuracy", {}).get("cluster_bootstrap", {})
    if boot:
        out += (
            f": pooled accuracy at telling real from synthetic {fmt.rate(boot.get('estimate'))} "
            f"{fmt.ci(boot.get('ci_low'), boot.get('ci_high'))} (0.50 = chance)"
        )
    elif readers is not None and "accuracy" in readers:
        out += f": mean accuracy {fmt.rate(readers['accuracy'].mean())} (0.50 = chance)"
    if "readers_above_chance_p05" in s:
        out += f"; {fmt.count(s['readers_above_chance_p05'])} of {fmt.count(n_r)} above chance (p < 0.05)"
    kappa = fmt.num(s.get("fleiss_kappa", {}).get("synthetic", {}).get("kappa"))
    if kappa is not None:
        out += f"; agreement between readers κ = {kappa:.2f}"
    return out + "."


def analysis_block(ctx: Ctx, d: Path) -> tuple[Block, str, pd.DataFrame | None]:
    b = Block(title=f"Answers analysed {ctx.rel(d)}")
    readers = read_csv(d / "readers.csv")
    sentence = analysis_sentence(d, readers)
    b.text.append(sentence)
    if readers is not None:
        b.items.append(
            Table(
                "Each reader's answers, positive class = synthetic (TP: synthetic called synthetic, FP: real "
                "called synthetic), and their accuracy, sensitivity, specificity and precision",
                readers_table(readers),
                number="Tables 4.3/4.4",
                source=ctx.rel(d),
            )
        )
    tests = read_csv(d / "reader_tests.csv")
    if tests is not None and len(tests):
        t = pd.DataFrame(
            {
                "reader": tests["reader_id"],
                "background": tests.get("background", ""),
                "correct / answers": [
                    f"{fmt.count(c)} / {fmt.count(n)}"
                    for c, n in zip(tests["correct"], tests["n"], strict=True)
                ],
                "accuracy [95% CI]": [
                    f"{fmt.rate(a)} {fmt.ci(lo, hi)}"
                    for a, lo, hi in zip(tests["accuracy"], tests["ci_low"], tests["ci_high"], strict=True)
                ],
                "p vs chance": [fmt.pval(p) for p in tests["p_value"]],
            }
        )
        b.items.append(
            Table("Each reader against chance (exact binomial test)", t, source=ctx.rel(d), formatted=True)
        )
    for stem, (num, cap) in FIGS.items():
        if (d / f"{stem}.png").is_file():
            b.items.append(Figure(cap, d / f"{stem}.png", number=num, source=ctx.rel(d)))
    for group, cap in GRIDS.items():
        if (d / f"grid_{group}.png").is_file():
            b.items.append(
                Figure(cap, d / f"grid_{group}.png", number=f"Figs. 4.12-4.14 ({group})", source=ctx.rel(d))
            )
    summary = read_json(d / "summary.json")
    summary.pop("figures", None)
    if summary:
        b.details.append(Details("All figures of summary.json", kv_frame(summary)))
    b.provenance = ctx.provenance(d)
    return b, sentence, readers


def build(ctx: Ctx) -> StageReport:
    if not ctx.found.studies and not ctx.found.surveys:
        line = ctx.why_not_run("survey", "reader study (stimuli.csv + leakcheck.json)")
        return StageReport(section=Section("survey", TITLE, lead=line), not_run=f"Reader study: {line}")
    blocks, findings = [], []
    card = Card("survey", "Reader study")
    for d in ctx.found.studies:
        b = Block(title=f"Study {ctx.rel(d)}")
        s = study_sentence(d)
        b.text.append(s)
        st = stimuli(d)
        cols = [c for c in ("source", "label") if st is not None and c in st.columns]
        if cols:
            per = st.groupby(cols).size().rename("images").reset_index()
            if "label" in per:
                per["label"] = [fmt.class_label(v) for v in per["label"]]
            b.items.append(
                Table(
                    "Images shown per source and class",
                    per,
                    source=ctx.rel(d),
                )
            )
        b.provenance = ctx.provenance(d)
        blocks.append(b)
        card.sentences.append(s)
    analysed = False
    for d in ctx.found.surveys:
        b, s, readers = analysis_block(ctx, d)
        blocks.append(b)
        if not analysed:
            analysed = True
            findings.append(("Reader study", s))
            if readers is not None:
                card.items.append(
                    Table(
                        "Table 4.4: each reader (positive = synthetic)",
                        readers_table(readers, compact=True),
                        formatted=True,
                    )
                )
    if not analysed:
        line = "No responses analysed yet: serve the study with `dermsynth survey serve`, then `dermsynth survey analyze`."
        findings.append(("Reader study", (card.sentences[0] + " " if card.sentences else "") + line))
    return StageReport(Section("survey", TITLE, blocks), card, findings)
