"""``build_report(runs, out)``: discover stage outputs, build each stage's section, summary card and
sentences, place the thesis's figures, and write one self-contained ``report.html`` (+ data cards)."""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import dermsynth.report.fmt as fmt
from dermsynth import __version__
from dermsynth.core.io import atomic_write_text
from dermsynth.report.context import Ctx, StageReport, read_json
from dermsynth.report.datacard import write_cards
from dermsynth.report.discover import discover
from dermsynth.report.html import Block, Page, Section, Table, render
from dermsynth.report.stages import classify, clean, data, edit, generator, survey
from dermsynth.report.thesis import place


def _stage_reports(ctx: Ctx) -> list[StageReport]:
    return [
        data.build(ctx),
        clean.build(ctx),
        *generator.build(ctx),
        edit.build(ctx),
        classify.build(ctx),
        survey.build(ctx),
    ]


def cards_section(cards: list[tuple[Path, dict]], out: Path) -> Section | None:
    if not cards:
        return None
    blocks = []
    for md, card in cards:
        b = Block(title=f"Data card: {card['dataset']}")
        b.text.append(card["intended_use"])
        counts = ", ".join(f"{fmt.class_label(k)} {fmt.count(v)}" for k, v in card["class_counts"].items())
        row = {"images": fmt.count(card["images"]), "per class": counts}
        if card.get("network"):
            row["network"] = str(card["network"])
        if card.get("training_data"):
            row["trained on"] = str(card["training_data"])
        b.items.append(Table("Summary of the card", pd.DataFrame([row]), formatted=True))
        b.provenance = [f"card: {md.relative_to(out)} (and .json beside it)"]
        blocks.append(b)
    return Section("datacards", "Data cards of the synthetic datasets", blocks)


@dataclass(frozen=True)
class ReportConfig:
    """``dermsynth report`` in the pipeline."""

    title: str = "dermsynth study"  # page title


def build_report(runs: str | Path, out: str | Path, title: str = "dermsynth report") -> Path:
    """Write ``out/report.html`` (self-contained), ``out/figures/`` and ``out/datacards/``."""
    runs, out = Path(runs).resolve(), Path(out).resolve()
    found = discover(runs)
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    stages = read_json(runs / "pipeline.json").get("stages", {})
    ctx = Ctx(runs, found, fig_dir, stages if isinstance(stages, dict) else {})
    reports = _stage_reports(ctx)
    sections = [r.section for r in reports if r.section is not None]
    dc = cards_section(write_cards(found.datasets + found.cleans, runs, out / "datacards"), out)
    index = place(sections)
    if dc is not None:
        sections.append(dc)
    titles = {s.key: s.title for s in sections}
    findings = [
        (lab, sentence, r.section.key if r.section else "") for r in reports for lab, sentence in r.findings
    ]
    findings = [(lab, s, k if k in titles else "summary") for lab, s, k in findings]
    page = Page(
        title=title,
        intro=[
            f"Study folder {runs}; report made {_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M UTC} by dermsynth "
            f"{__version__}. Every figure and table names the folder it was read from.",
        ],
        findings=findings,
        not_run=[r.not_run for r in reports if r.not_run],
        cards=[r.card for r in reports if r.card is not None],
        thesis_index=index,
        sections=sections,
    )
    path = out / "report.html"
    atomic_write_text(path, render(page))
    os.chmod(path, 0o644)  # a page to share: readable like any file a browser saves
    return path
