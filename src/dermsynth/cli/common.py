"""Helpers shared by the CLI modules: progress bars and turning errors into clean messages."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from dermsynth.core.ranges import parse_int_ranges  # noqa: E402,F401  (re-exported for commands)

T = TypeVar("T")
console = Console(stderr=True)

#: The one help text of every ``--device`` option (default ``auto`` everywhere).
DEVICE_HELP = "auto (cuda:LOCAL_RANK, else mps, else cpu) | cpu | cuda | cuda:N | mps"


def progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=console,
        transient=False,
    )


def track(items: Iterable[T], total: int | None, description: str) -> Iterator[T]:
    with progress() as bar:
        task = bar.add_task(description, total=total, info="")
        for item in items:
            yield item
            bar.advance(task)


@contextmanager
def user_errors():
    """Turn ValueError / FileNotFoundError from a stage into a one-line message and exit code 2."""
    try:
        yield
    except (ValueError, FileNotFoundError, FileExistsError, KeyError) as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
