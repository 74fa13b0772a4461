"""``dermsynth run CONFIG.yaml`` / ``dermsynth run --preset demo-cpu``: the whole study."""

from __future__ import annotations

from pathlib import Path

import typer

from dermsynth.cli.common import console, user_errors


def run(
    config: Path = typer.Argument(None, help="Study config YAML (may name a `preset:` it overlays)."),
    preset: str = typer.Option(None, "--preset", help="demo-cpu | gpu-quick | thesis-256"),
    out: Path = typer.Option(Path("runs/study"), "--out", help="Study folder (one sub-folder per stage)."),
    only: str = typer.Option(
        None, "--only", help="Comma list of stages to (re)run if needed; others are kept."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved config and exit."),
) -> None:
    """Run ingest -> audit -> (clean) -> GAN -> generate -> metrics -> edit -> classify -> survey -> report.

    Stages whose config and inputs are unchanged are skipped, so rerunning after an interruption or a
    config change redoes only what is needed.
    """
    import yaml
    from rich.markup import escape

    from dermsynth.pipeline.config import load_study_config
    from dermsynth.pipeline.runner import run_pipeline
    from dermsynth.pipeline.stages import STAGES

    with user_errors():
        if config is None and preset is None:
            raise ValueError("give a CONFIG.yaml or --preset (demo-cpu, gpu-quick, thesis-256)")
        cfg = load_study_config(config, preset)
    if dry_run:
        typer.echo(yaml.safe_dump(cfg, sort_keys=False))
        raise typer.Exit()
    from dermsynth.core.io import atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "study.yaml", yaml.safe_dump(cfg, sort_keys=False))
    with user_errors():
        run_pipeline(
            cfg,
            out,
            STAGES,
            only=only.split(",") if only else None,
            log=lambda s: console.print(f"[bold cyan]{escape(s)}[/bold cyan]"),
        )
    report = out / "report" / "report.html"
    if report.exists():
        console.print(f"[bold green]study done.[/bold green] Report: {report.resolve()}")
    console.print(f"Outputs: {out.resolve()}")


def register(app: typer.Typer) -> None:
    app.command("run")(run)
