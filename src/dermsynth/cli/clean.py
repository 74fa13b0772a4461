"""``dermsynth clean DIR --method ... --out DIR2``: remove flagged artifacts into a new dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from dermsynth.cli.common import console, progress, user_errors


def register(app: typer.Typer) -> None:
    """Add the top-level ``clean`` command to the root app."""

    @app.command("clean")
    def clean(
        directory: Path = typer.Argument(..., help="Audited dataset directory (manifest.csv)."),
        method: str = typer.Option(
            ..., help="crop | skin-inpaint | fsr | fsr-best | telea | ns | hair | ink"
        ),
        out: Path = typer.Option(..., help="New dataset directory."),
        also_hair: bool = typer.Option(False, "--also-hair", help="Also remove hair (with a frame method)."),
        also_ink: bool = typer.Option(False, "--also-ink", help="Also remove marker ink."),
        seed: int = typer.Option(0, help="Seed of skin-inpaint's draws."),
        max_changed: float = typer.Option(
            0.25,
            "--max-changed",
            help="Leave an image as it is when cleaning would change more than this share of it "
            "(crop counts the cut-away border).",
        ),
    ) -> None:
        """Remove frames, hair and/or ink from the images the audit flags; copy the others."""
        from dermsynth.clean.dataset import CleanConfig, clean_dataset
        from dermsynth.core.manifest import read_manifest

        with user_errors():
            n = len(read_manifest(directory))
            with progress() as bar:
                task = bar.add_task("clean", total=n, info=method)
                cfg = CleanConfig(method=method, also_hair=also_hair, also_ink=also_ink,
                                  max_changed=max_changed, seed=seed)  # fmt: skip
                summary = clean_dataset(directory, out, cfg, on_image=lambda: bar.advance(task))
        console.print(
            f"changed {summary['n_changed']} of {summary['n_images']} images: {summary['by_method']}"
        )
        if summary["n_skipped"]:
            reasons = ", ".join(f"{k}: {v}" for k, v in summary["skipped_by_reason"].items())
            console.print(
                f"left {summary['n_skipped']} flagged image(s) as they were ({reasons}; "
                f"limit {max_changed:.0%} of an image, --max-changed)"
            )
        if summary["n_errors"]:
            console.print(
                f"[yellow]{summary['n_errors']} image(s) failed; see {out}/clean_summary.json[/yellow]"
            )
