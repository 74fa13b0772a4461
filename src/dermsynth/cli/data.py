"""``dermsynth data``: ingest datasets, make the phantom dataset, split and describe datasets."""

from __future__ import annotations

from pathlib import Path

import typer

from dermsynth.cli.common import console, progress, user_errors

app = typer.Typer(help="Ingest, generate (phantom), split and describe image datasets.", no_args_is_help=True)


@app.command()
def phantom(
    out: Path = typer.Option(..., "--out", help="Output dataset directory."),
    n: int = typer.Option(1000, "--n", help="Number of images."),
    size: int = typer.Option(256, "--size", help="Image side in pixels."),
    seed: int = typer.Option(0, "--seed", help="Dataset seed (image i depends only on seed and i)."),
    twins: bool = typer.Option(False, "--twins", help="Also write artifact-free twins and masks."),
    rates: str = typer.Option(
        "",
        "--rates",
        help="Artifact rates, e.g. 'dark_corner=0.02:0.38,hair=0.4' (P or P_BENIGN:P_MELANOMA). "
        "Defaults mimic SIIM-ISIC: dark_corner 0.02:0.38, hair 0.4, ruler 0.2, ink 0.1, gel_bubble 0.1.",
    ),
    melanoma_fraction: float = typer.Option(
        0.5, "--melanoma-fraction", help="Share of melanoma-like lesions."
    ),
    workers: int = typer.Option(1, "--workers", help="Worker processes."),
) -> None:
    """Write a procedural dermoscopy dataset with exact ground truth (no download needed)."""
    from dermsynth.data.phantom import make_phantom_dataset, parse_rates

    with user_errors():
        parsed = parse_rates(rates)
        with progress() as bar:
            task = bar.add_task("phantom", total=n, info="")
            make_phantom_dataset(
                out,
                n,
                size=size,
                seed=seed,
                twins=twins,
                rates=parsed,
                workers=workers,
                progress=lambda done, total: bar.update(task, completed=done),
                melanoma_fraction=melanoma_fraction,
            )
    console.print(f"wrote {n} phantom images to {out}")
