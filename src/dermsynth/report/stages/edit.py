"""Latent editing against bias: edit strips along SVM, PCA and SeFa directions (thesis Figs. 4.8-4.10),
the measured evaluation of every direction, the best one by the measured rule, and the edited set."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import dermsynth.report.fmt as fmt
from dermsynth.edit.table import EditEvaluation, read_evaluation, status_counts
from dermsynth.report.context import Ctx, StageReport, kv_frame, read_csv
from dermsynth.report.html import Block, Card, Details, Figure, Section, Table

TITLE = "Latent editing: removing frames from generated images"
METHOD_FIG = {"svm": ("Fig. 4.8", "SVM"), "pca": ("Fig. 4.9", "PCA"), "sefa": ("Fig. 4.10", "SeFa")}


def edit_table(t: pd.DataFrame) -> pd.DataFrame:
    """Display form of the edit evaluation: one row per direction and step."""
    out = pd.DataFrame(index=t.index)
    show = {
        "method": ("method", method_name),
        "index": ("direction", fmt.count),
        "alpha": ("α", lambda v: fmt.signed(v, 2)),
        "n_present": ("framed", fmt.count),
        "removed_frac": ("frames removed", fmt.pct),
        "induced_frac": ("frames induced", fmt.pct),
        "ssim_outside": ("SSIM outside", fmt.rate),
        "lesion_iou": ("lesion IoU", fmt.rate),
        "class_kept": ("class kept", fmt.pct),
        "eligible": ("meets the rule", lambda v: "yes" if v is True or str(v) == "True" else "no"),
        "best": ("best", lambda v: "★" if v is True or str(v) == "True" else ""),
    }
    for col, (name, f) in show.items():
        if col in t.columns:
            out[name] = [f(v) for v in t[col]]
    return out.reset_index(drop=True)


def method_name(m: str) -> str:
    return METHOD_FIG.get(str(m).lower(), ("", str(m)))[1]


def strip_alphas(ev: EditEvaluation) -> str:
    """``'; columns α = −3, −1.5, 0, +1.5, +3'`` from the evaluation's alphas (as ``best_strip`` draws them)."""
    alphas = ev.alphas
    if not alphas:
        return ""
    cols = sorted({0.0, *alphas, *(a / 2 for a in alphas)})
    return "; columns α = " + ", ".join(fmt.signed(a, 2) if a else "0" for a in cols)


def best_sentence(best: dict, searched: int | None = None) -> str:
    """One plain sentence about the best direction (from table.json's ``best`` row; ``searched``: the
    seeds looked at to find the samples, when the evaluation searched a pool for framed ones)."""
    if not best:
        return "No best direction was recorded (table.json missing)."
    m, k, a = method_name(best.get("method", "")), best.get("index"), fmt.num(best.get("alpha"))
    head = f"{m} direction {k} at α = {fmt.signed(a, 2)}"
    n, framed = fmt.num(best.get("n")), fmt.num(best.get("n_present"))
    pooled = bool(searched and n and searched > n)  # framed samples were searched for beyond the first n
    looked = fmt.count(searched if pooled else n)
    if not framed:
        return (
            f"{head}: the frame detector fired on none of the {looked} generated samples, so frame "
            "removal could not be measured."
        )
    removed = fmt.num(best.get("removed_frac"))
    s = f"{head} removes the frame from {fmt.pct(removed)} of framed samples"
    if removed is not None:
        drawn = (
            f"{fmt.count(n)} measured, found among {looked} seeds" if pooled else f"{fmt.count(n)} sampled"
        )
        s += f" ({fmt.count(round(removed * framed))} of {fmt.count(framed)}; {drawn})"
    kept = fmt.num(best.get("class_kept"))
    s += "," + (f" keeps the class in {fmt.pct(kept)}" if kept is not None else " class kept not measured")
    s += f" and the lesion (mask IoU {fmt.rate(best.get('lesion_iou'))})."
    if best.get("eligible") is False:
        s += " No direction met the rule's limits on lesion overlap and class kept: this is the best of all."
    return s


def edited_sentence(folder: Path) -> str:
    df = read_csv(folder / "manifest.csv")
    if df is None or "status" not in df.columns:
        return ""
    try:
        st = status_counts(df)
    except ValueError as e:
        return f"Edited set {folder.name}: {e}."
    framed = st["cleaned"] + st["still_present"]
    if framed == 0:
        return f"Edited set: {fmt.count(len(df))} images, none of them framed, so none needed cleaning."
    s = f"Edited set: {fmt.count(len(df))} images; of {fmt.count(framed)} framed, {fmt.count(st['cleaned'])} cleaned"
    if "class_name" in df.columns:
        by = df[df["status"] == "cleaned"]["class_name"].astype(str).value_counts()
        if len(by):
            s += " (" + ", ".join(f"{fmt.class_label(c)} {fmt.count(v)}" for c, v in by.items()) + ")"
    return s + f"; {fmt.count(st['already_clean'])} had no frame."


def edit_block(ctx: Ctx, d: Path) -> tuple[Block, str, Figure | None]:
    ev = read_evaluation(d)
    table, best, method = ev.table, ev.best, ev.method
    b = Block(title=f"{method_name(method)} directions ({ctx.rel(d)})")
    sentence = best_sentence(best, ev.seeds_searched)
    b.text.append(sentence)
    number = METHOD_FIG.get(method.lower(), ("", ""))[0]
    strip = None
    if (d / "best_strip.png").is_file():
        strip = Figure(
            f"Edit strip of the best {method_name(method)} direction: each row one generated image, the column "
            f"outlined in yellow the original (before), the others the image moved along the direction (after)"
            + strip_alphas(ev),
            d / "best_strip.png",
            number=number,
            source=ctx.rel(d),
        )
        b.items.append(strip)
    for png in sorted(d.glob("strip_*.png")):
        cls = fmt.class_label(png.stem.removeprefix("strip_"))
        b.items.append(
            Figure(
                f"The chosen direction applied to {cls} samples (yellow column: original)",
                png,
                source=ctx.rel(d),
            )
        )
    if table is not None:
        shown = edit_table(table)
        b.items.append(
            Table(
                "Every direction and step measured: share of framed samples cleaned (removed) and of clean "
                "ones framed (induced), SSIM outside the frame, lesion mask overlap, class kept",
                shown,
                source=ctx.rel(d),
                formatted=True,
            )
        )
    if (d / "figure.png").is_file():
        b.items.append(
            Figure(
                "Frames removed vs change outside the frame, per direction (star: best)",
                d / "figure.png",
                source=ctx.rel(d),
            )
        )
    if ev.rule:
        b.details.append(Details("The rule that picks the best direction", lines=[ev.rule]))
    info = {**ev.info, "settings": ev.settings} if ev.settings else ev.info
    if info:
        b.details.append(Details("Settings of the evaluation (table.json)", kv_frame(info)))
    if table is not None:
        b.details.append(Details("The full table.csv", table.astype(str)))
    edited = d / "edited"
    if (edited / "manifest.csv").is_file():
        s = edited_sentence(edited)
        if s:
            b.text.append(s)
    b.provenance = ctx.provenance(d)
    return b, sentence, strip


def build(ctx: Ctx) -> StageReport:
    if not ctx.found.edits:
        line = ctx.why_not_run("edit", "edit evaluation (directions.npz + table.csv)")
        return StageReport(section=Section("edit", TITLE, lead=line), not_run=f"Edit: {line}")
    blocks, card = [], Card("edit", "Edit")
    findings = []
    for d in ctx.found.edits:
        b, sentence, strip = edit_block(ctx, d)
        blocks.append(b)
        if not findings:
            findings.append(("Edit", sentence))
            if len(b.text) > 1:
                card.sentences.append(b.text[-1])
            if strip is not None:
                card.items.append(
                    Figure(
                        "Before (yellow column) and after, along the best direction",
                        strip.path,
                        source=strip.source,
                    )
                )
    return StageReport(Section("edit", TITLE, blocks), card, findings)
