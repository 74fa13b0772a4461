"""``dermsynth models``: the pretrained dermoscopy models that ship inside the package."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from dermsynth.cli.common import console, user_errors

app = typer.Typer(
    help="Shipped pretrained models: list them, show a model's card (data, command, hardware, figures).",
    no_args_is_help=True,
)


@app.command("list")
def list_() -> None:
    """One line per shipped model: name, kind, architecture, summary."""
    from dermsynth.models import card, list_models

    with user_errors():
        names = list_models()
        if not names:
            console.print("no model ships with this installation")
        for n in names:
            c = card(n)
            console.print(f"[bold]{n}[/bold]  {c.kind}  {c.data['architecture']}\n    {c.data['summary']}")


@app.command()
def show(
    name: str = typer.Argument(..., help="Model name, e.g. isic2017-melanoma."),
    verify: bool = typer.Option(True, help="Check every file's sha256 against the card."),
    json_out: bool = typer.Option(False, "--json", help="Print the card as JSON."),
) -> None:
    """Print a model's card: kind, architecture, training data and licence, labels, command,
    hardware, time, epochs or kimg, measured figures, files and their sha256."""
    from dermsynth.models import card
    from dermsynth.models import verify as check

    with user_errors():
        c = card(name)
        if verify:
            check(c)
    if json_out:
        typer.echo(json.dumps(c.data, indent=2))
        return
    d = c.data
    console.print(f"[bold]{d['name']}[/bold] v{d['version']}  ({d['kind']})")
    console.print(d["summary"])
    console.print(f"architecture: {d['architecture']}")
    for k, v in d["training"].items():
        console.print(f"training.{k}: {v}")
    console.print("figures:")
    console.print(json.dumps(d["figures"], indent=2))
    for f, info in d["files"].items():
        console.print(
            f"file {f}: {info['bytes']} bytes, sha256 {info['sha256']}" + ("  (verified)" if verify else "")
        )
    console.print(f"folder: {c.directory}")


@app.command()
def publish(
    src: Path = typer.Argument(..., help="Folder holding the model's files (a stage export)."),
    name: str = typer.Option(..., help="Registry name."),
    card_json: Path = typer.Option(..., "--card", help="JSON with the card's fields (all but files)."),
    root: Path = typer.Option(
        None, help="Registry folder (default: $DERMSYNTH_MODELS_DIR or the package's own)."
    ),
    half: bool = typer.Option(True, help="Store float tensors of .safetensors files as float16."),
) -> None:
    """Copy a model into the registry with its card (sha256 of every file recorded)."""
    from dermsynth.models.publish import publish_model

    with user_errors():
        info = json.loads(card_json.read_text(encoding="utf-8"))
        path = publish_model(src, name, info, root, half)
    console.print(f"published {name} -> {path}")
