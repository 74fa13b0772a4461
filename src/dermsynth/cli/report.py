"""``dermsynth report RUNS --out REPORT``."""

from __future__ import annotations

from pathlib import Path

import typer

from dermsynth.cli.common import console, user_errors


def report(
    runs: Path = typer.Argument(..., help="Folder holding stage outputs (e.g. what `dermsynth run` wrote)."),
    out: Path = typer.Option(None, "--out", help="Report folder (default RUNS/report)."),
    title: str = typer.Option("dermsynth report", help="Page title."),
) -> None:
    """Write a self-contained HTML report (and data cards) from run directories."""
    from dermsynth.report import build_report

    with user_errors():
        path = build_report(runs, out or Path(runs) / "report", title=title)
    console.print(f"report: {path}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
