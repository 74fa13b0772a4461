"""Cleaning: frame crop (thesis Fig. 4.1), frame in-painting (Fig. 4.2) and hair removal (Fig. 4.3),
each as before / changed pixels / after, from the ``figures/`` of ``dermsynth clean``."""

from __future__ import annotations

from pathlib import Path

import dermsynth.report.fmt as fmt
from dermsynth.report.context import Ctx, StageReport, kv_frame, read_csv, read_json
from dermsynth.report.html import Block, Details, Figure, Section, Table

TITLE = "Cleaning: frames and hair removed"


def _method(folder: Path) -> str:
    for name in ("clean_config.json", "clean_summary.json", "config.json"):
        m = read_json(folder / name).get("method")
        if m:
            return str(m)
    return ""


def figure_number(png: Path, method: str) -> str:
    """Fig. 4.1 for a frame crop, 4.2 for frame in-painting, 4.3 for hair removal; '' otherwise."""
    stem = png.stem.lower()
    if "hair" in stem:
        return "Fig. 4.3"
    if "frame" in stem:
        return "Fig. 4.1" if method == "crop" else "Fig. 4.2"
    return ""


CAPTIONS = {
    "Fig. 4.1": "Frames removed by cropping to the largest frame-free rectangle: before, changed pixels, after",
    "Fig. 4.2": "Frames removed by in-painting ({method}): before, changed pixels, after",
    "Fig. 4.3": "Hair removed: before, changed pixels, after",
}


def clean_block(ctx: Ctx, folder: Path) -> tuple[Block, str]:
    method = _method(folder)
    df = read_csv(folder / "manifest.csv")
    b = Block(title=f"Cleaned set {ctx.rel(folder)}" + (f" (method {method})" if method else ""))
    sentence = ""
    if df is not None and "method" in df.columns:
        done = df["method"].fillna("unchanged").value_counts().rename_axis("what was done").reset_index()
        done.columns = ["what was done", "images"]
        b.items.append(Table("Images per cleaning step", done, source=ctx.rel(folder)))
        changed = int(df["method"].notna().sum())
        sentence = f"{fmt.count(changed)} of {fmt.count(len(df))} images changed" + (
            f" by {method}." if method else "."
        )
        b.text.append(sentence)
    figs = sorted((folder / "figures").glob("*.png")) + sorted(folder.glob("*.png"))
    for png in figs:
        n = figure_number(png, method)
        cap = CAPTIONS.get(n, png.stem.replace("_", " ")).format(method=method or "in-painting")
        b.items.append(Figure(cap, png, number=n, source=ctx.rel(png.parent)))
    for q in sorted(folder.glob("*quality*.csv")):
        t = read_csv(q)
        if t is not None:
            b.items.append(Table(f"Cleaning quality ({q.name})", t, source=ctx.rel(folder)))
    summary = read_json(folder / "clean_summary.json")
    summary.pop("errors", None)
    if summary:
        b.details.append(Details("All figures of clean_summary.json", kv_frame(summary)))
    b.provenance = ctx.provenance(folder)
    return b, sentence


def build(ctx: Ctx) -> StageReport:
    if not ctx.found.cleans:
        line = ctx.why_not_run("clean", "cleaned dataset (manifest.csv with parent_id and method)")
        return StageReport(section=Section("clean", TITLE, lead=line), not_run=f"Cleaning: {line}")
    blocks, findings = [], []
    for d in ctx.found.cleans:
        b, s = clean_block(ctx, d)
        blocks.append(b)
        if s and not findings:
            findings.append(("Cleaning", s))
    return StageReport(Section("clean", TITLE, blocks), None, findings)
