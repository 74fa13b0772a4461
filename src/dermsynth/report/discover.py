"""Find the outputs of each stage under a runs directory by their signature files.

The report does not assume fixed folder names: a dataset is any folder with ``manifest.csv`` and
``dataset.json``, a GAN run any folder with ``stats.jsonl`` and a ``network-*.json``, and so on, so it
works on the tree ``dermsynth run`` writes as well as on stage directories made by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dermsynth.classify.results import has_table

SKIP_DIRS = {".git", "__pycache__", ".dermsynth-cache", "images", "masks", "twins", "train-data"}


@dataclass
class Found:
    datasets: list[Path] = field(default_factory=list)
    gan_runs: list[Path] = field(default_factory=list)
    metrics: list[Path] = field(default_factory=list)  # metrics.json files
    edits: list[Path] = field(default_factory=list)  # folders with an edit evaluation table
    classify: list[Path] = field(default_factory=list)  # folders with table.csv having an AUC column
    embeds: list[Path] = field(default_factory=list)  # folders with embeddings.csv
    surveys: list[Path] = field(default_factory=list)  # folders with readers.csv
    studies: list[Path] = field(default_factory=list)  # built reader studies (stimuli.csv + leakcheck.json)
    cleans: list[Path] = field(default_factory=list)  # cleaned datasets (manifest has a 'method' column)


def _walk(root: Path):
    stack = [root]
    while stack:
        d = stack.pop()
        yield d
        try:
            children = sorted(p for p in d.iterdir() if p.is_dir() and p.name not in SKIP_DIRS)
        except OSError:
            continue
        stack.extend(reversed(children))


def discover(root: str | Path) -> Found:
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: runs directory not found")
    f = Found()
    for d in _walk(root):
        names = {p.name for p in d.iterdir() if p.is_file()} if d.is_dir() else set()
        if {"manifest.csv", "dataset.json"} <= names:
            header = (
                (d / "manifest.csv")
                .read_text(encoding="utf-8", errors="replace")
                .split("\n", 1)[0]
                .split(",")
            )
            edited = "alpha" in header or "direction_index" in header
            (f.cleans if "method" in header and "parent_id" in header and not edited else f.datasets).append(
                d
            )
        if "stats.jsonl" in names and any(n.startswith("network-") and n.endswith(".json") for n in names):
            f.gan_runs.append(d)
        if "metrics.json" in names:
            f.metrics.append(d / "metrics.json")
        if "directions.npz" in names and "table.csv" in names:
            f.edits.append(d)
        if has_table(d):  # classify.results: table.csv with an AUC column (no pandas)
            f.classify.append(d)
        if "embeddings.csv" in names:
            f.embeds.append(d)
        if {"stimuli.csv", "leakcheck.json"} <= names:  # survey.responses.STIMULI_CSV (kept light here)
            f.studies.append(d)
        if "readers.csv" in names:
            f.surveys.append(d)
    return f
