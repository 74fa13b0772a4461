"""The ``dermsynth`` command: one sub-app per pipeline stage (each module registers its own)."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="dermsynth",
    help="Synthetic dermoscopy data and proof of what it is worth.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

#: (module under dermsynth.cli, how it is mounted). A module exposes either ``app`` (a sub-app,
#: mounted under its name) or ``register(app)`` (adds top-level commands such as ``run``/``report``).
_STAGES = ["data", "bias", "clean", "gan", "edit", "metrics", "classify", "survey", "report", "run", "models"]


def _mount() -> None:
    for name in _STAGES:
        mod = importlib.import_module(f"dermsynth.cli.{name}")
        if hasattr(mod, "register"):
            mod.register(app)
        elif hasattr(mod, "app"):
            app.add_typer(mod.app, name=name)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    if version:
        from dermsynth import __version__

        typer.echo(__version__)
        raise typer.Exit()


_mount()

if __name__ == "__main__":
    app()
