"""``dermsynth run CONFIG.yaml`` / ``dermsynth run --preset demo-cpu``: the whole study."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from dermsynth.cli.common import console, user_errors


class Preset(StrEnum):
    demo_cpu = "demo-cpu"
    demo_phantom = "demo-phantom"
    gpu_quick = "gpu-quick"
    thesis_256 = "thesis-256"


def run(
    config: Path = typer.Argument(None, help="Study config YAML (may name a `preset:` it overlays)."),
    preset: Preset = typer.Option(None, "--preset", help="A shipped study config (overlaid by CONFIG)."),
    out: Path = typer.Option(Path("runs/study"), "--out", help="Study folder (one sub-folder per stage)."),
    only: str = typer.Option(
        None, "--only", help="Comma list of stages to (re)run if needed; others are kept."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Check the config, print every stage's resolved config and exit."
    ),
) -> None:
    """Run ingest -> audit -> (clean) -> GAN -> generate -> metrics -> edit -> classify -> survey -> report.

    Unchanged stages are skipped: rerunning after an interruption or a config change redoes only what
    is needed. Every key of the config is checked before any work.

    Examples: dermsynth run --preset demo-cpu --out demo-out;
    dermsynth run study.yaml --out runs/s1 --only classify,report
    """
    import yaml
    from rich.markup import escape

    from dermsynth.core.io import atomic_write_json, atomic_write_text, to_json
    from dermsynth.pipeline.config import load_study_config, resolved_study
    from dermsynth.pipeline.runner import run_pipeline
    from dermsynth.pipeline.stages import STAGES

    with user_errors():
        if config is None and preset is None:
            raise ValueError("give a CONFIG.yaml or --preset (demo-cpu, demo-phantom, gpu-quick, thesis-256)")
        cfg = load_study_config(config, preset.value if preset else None)
        resolved = resolved_study(cfg, out)
    if dry_run:
        typer.echo(to_json(resolved))
        raise typer.Exit()
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "study.yaml", yaml.safe_dump(cfg, sort_keys=False))
    atomic_write_json(out / "config.json", resolved)
    with user_errors():
        run_pipeline(
            cfg,
            out,
            STAGES,
            only=[s.strip() for s in only.split(",") if s.strip()] if only else None,
            log=lambda s: console.print(f"[bold cyan]{escape(s)}[/bold cyan]"),
        )
    report = out / "report" / "report.html"
    if report.exists():
        console.print(f"[bold green]study done.[/bold green] Report: {report.resolve()}")
    console.print(f"Outputs: {out.resolve()}")


def register(app: typer.Typer) -> None:
    app.command("run")(run)
