"""``dermsynth report RUNS --out REPORT [--pdf]``."""

from __future__ import annotations

from pathlib import Path

import typer

from dermsynth.cli.common import console, user_errors


def report(
    runs: Path = typer.Argument(..., help="Folder holding stage outputs (e.g. what `dermsynth run` wrote)."),
    out: Path = typer.Option(None, "--out", help="Report folder (default RUNS/report)."),
    title: str = typer.Option("dermsynth report", help="Page title."),
    pdf: bool = typer.Option(False, "--pdf", help="Also print report.pdf through headless Chromium."),
) -> None:
    """Write a self-contained HTML report (and data cards) from run directories; optionally a PDF."""
    from dermsynth.report import build_report, print_pdf

    with user_errors():
        path = build_report(runs, out or Path(runs) / "report", title=title)
        console.print(f"report: {path}")
        if pdf:
            try:
                console.print(f"pdf: {print_pdf(path)}")
            except RuntimeError as e:  # chromium ran but failed: say so, without a traceback
                raise ValueError(str(e)) from None


def register(app: typer.Typer) -> None:
    app.command("report")(report)
