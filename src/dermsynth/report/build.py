"""``build_report(runs, out)``: discover stage outputs, render sections, write report.html + data cards."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pandas as pd

from dermsynth import __version__
from dermsynth.core.io import atomic_write_text
from dermsynth.report.datacard import write_cards
from dermsynth.report.discover import discover
from dermsynth.report.html import Block, Section, render
from dermsynth.report.sections import SECTIONS


def build_report(runs: str | Path, out: str | Path, title: str = "dermsynth report") -> Path:
    """Write ``out/report.html`` (self-contained), ``out/figures/`` and ``out/datacards/``."""
    runs, out = Path(runs).resolve(), Path(out).resolve()
    found = discover(runs)
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    sections: list[Section] = [s for fn in SECTIONS if (s := fn(runs, found, fig_dir)) is not None]
    cards = write_cards(found.datasets + found.cleans, runs, out / "datacards")
    if cards:
        blocks = []
        for md, card in cards:
            b = Block(title=f"Data card: {card['dataset']}")
            b.text.append(card["intended_use"])
            b.tables.append(
                (
                    "Summary",
                    pd.DataFrame(
                        [
                            {
                                "images": card["images"],
                                "classes": str(card["class_counts"]),
                                "network": card.get("network", ""),
                                "training data": card.get("training_data", ""),
                            }
                        ]
                    ),
                )
            )
            b.provenance = [f"card: {md.relative_to(out)}"]
            blocks.append(b)
        sections.append(Section("datacards", "Data cards of the synthetic datasets", blocks))
    intro = [
        f"Runs directory: {runs}. Generated {_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M UTC} by dermsynth {__version__}.",
        "Every table and figure below names the run folder and config it was read from.",
    ]
    if not sections:
        intro.append("No stage outputs were found under this directory.")
    path = out / "report.html"
    atomic_write_text(path, render(title, sections, intro))
    return path
