"""Named, versioned weights that ship inside the package (timm's ``create_model(name, pretrained=True)``
idea, without a download: every file is in the wheel / the git tree).

Layout: one folder per model under ``dermsynth/models/weights/<name>/`` holding ``card.json`` and the
files the stage's own loader reads (``model.safetensors`` + ``model.json`` for classifiers,
``network.safetensors`` + ``network.json`` for a generator). The card says what the model is, what it
was trained on and how, what was measured, and the sha256 of every file; :func:`resolve` checks them
before a loader sees a byte.

Wherever a command takes a checkpoint path it also takes a registry name: :func:`resolve_spec` maps
either to a local path (a path that exists wins over a name; a name that is neither is an error that
lists the shipped names).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from dermsynth.core.io import sha256_file

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
CARD_FILE = "card.json"
ENV_ROOT = "DERMSYNTH_MODELS_DIR"  # another registry folder instead of the package's own

#: Card keys every shipped model must fill (checked by the tests and by ``dermsynth models show``).
REQUIRED_KEYS = ("name", "version", "kind", "architecture", "summary", "files", "training", "figures")
TRAINING_KEYS = ("data", "data_licence", "labels", "command", "hardware", "hours")


class UnknownModel(KeyError):
    """A name that is neither a shipped model nor an existing path."""

    def __str__(self) -> str:  # KeyError quotes its argument; show the message as written
        return str(self.args[0])


@dataclass(frozen=True)
class Card:
    """A shipped model's card (``card.json``) and the folder its files live in."""

    name: str
    directory: Path
    data: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.data["kind"]

    @property
    def files(self) -> dict[str, dict]:
        return self.data["files"]


def registry_root(root: str | os.PathLike | None = None) -> Path:
    """``root`` if given, else ``$DERMSYNTH_MODELS_DIR`` if set, else the package's ``weights/``."""
    return Path(root or os.environ.get(ENV_ROOT) or WEIGHTS_DIR)


def _model_dirs(root: Path | None = None) -> dict[str, Path]:
    root = registry_root(root)
    if not root.is_dir():
        return {}
    return {p.name: p for p in sorted(root.iterdir()) if (p / CARD_FILE).is_file()}


def list_models(root: Path | None = None) -> list[str]:
    """Names of the shipped models, sorted."""
    return list(_model_dirs(root))


def card(name: str, root: Path | None = None) -> Card:
    """The card of a shipped model (no file is hashed here; :func:`resolve` does that)."""
    dirs = _model_dirs(root)
    if name not in dirs:
        shipped = ", ".join(dirs) or "none"
        raise UnknownModel(f"{name!r} is not a shipped model (shipped: {shipped}) nor an existing path")
    path = dirs[name] / CARD_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: unreadable model card ({e})") from e
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise ValueError(f"{path}: model card lacks {missing}")
    if data["name"] != name:
        raise ValueError(f"{path}: card names {data['name']!r} but lives in folder {name!r}")
    return Card(name, dirs[name], data)


@cache
def _verified(path: str, size: int, mtime_ns: int, sha256: str) -> bool:
    """Hash a file once per process (keyed by its size and mtime, so a changed file is re-hashed)."""
    return sha256_file(path) == sha256


def verify(c: Card) -> None:
    """Check every file named by the card exists with the recorded sha256 (and nothing is missing)."""
    for fname, info in c.files.items():
        p = c.directory / fname
        if not p.is_file():
            raise FileNotFoundError(f"{p}: file of shipped model {c.name!r} is missing (reinstall dermsynth)")
        st = p.stat()
        if not _verified(str(p), st.st_size, st.st_mtime_ns, info["sha256"]):
            raise ValueError(
                f"{p}: sha256 differs from the one in {c.directory / CARD_FILE} "
                f"(expected {info['sha256']}); the file is damaged or was replaced"
            )


def resolve(name: str, root: Path | None = None) -> Path:
    """The verified folder of a shipped model."""
    c = card(name, root)
    verify(c)
    return c.directory


def resolve_spec(spec: str | os.PathLike, kind: str | None = None, root: Path | None = None) -> Path:
    """A checkpoint given as a path or a registry name -> a local path.

    An existing path is returned as it is (a user's own checkpoint works as before). Otherwise
    ``spec`` must be a shipped model's name (optionally of ``kind``); its files are verified.
    """
    p = Path(spec)
    if p.exists():
        return p
    name = str(spec)
    if name in _model_dirs(root):
        c = card(name, root)
        if kind is not None and c.kind != kind:
            raise ValueError(f"{name!r} is a {c.kind} model; a {kind} is needed here")
        verify(c)
        return c.directory
    shipped = ", ".join(f"{n} ({card(n, root).kind})" for n in list_models(root)) or "none"
    raise FileNotFoundError(
        f"{spec}: no such file or directory, and not a shipped model (shipped: {shipped})"
    )


def default_model(kind: str, root: Path | None = None) -> str | None:
    """The shipped model a stage uses by default for ``kind`` (the card's ``"default_for"``), if any."""
    for name in list_models(root):
        c = card(name, root)
        if kind in c.data.get("default_for", []):
            return name
    return None
