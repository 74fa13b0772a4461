"""Put a stage's exported model into the registry: copy its files (float tensors to fp16 on request),
hash them, write ``card.json``. Used to make the shipped models (``dermsynth models publish``)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from dermsynth.core.io import atomic_path, atomic_write_json, sha256_file
from dermsynth.models.registry import CARD_FILE, REQUIRED_KEYS, TRAINING_KEYS, registry_root


def _copy(src: Path, dst: Path, half: bool) -> None:
    if src.suffix == ".safetensors" and half:
        from safetensors.torch import load_file, save_file

        sd = load_file(str(src))
        sd = {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}
        with atomic_path(dst) as tmp:
            save_file(sd, str(tmp), metadata={"dtype": "float16"})
    else:
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)


def publish_model(
    src: str | os.PathLike, name: str, info: dict, root: str | os.PathLike | None = None, half: bool = True
) -> Path:
    """Copy every file of ``src`` (a folder) into ``root/name`` and write the card; returns its path."""
    src, dst = Path(src), registry_root(root) / name
    if not src.is_dir():
        raise FileNotFoundError(f"{src}: not a folder of model files")
    files = sorted(p for p in src.iterdir() if p.is_file() and p.suffix in (".safetensors", ".json"))
    if not files:
        raise ValueError(f"{src}: no .safetensors / .json file to publish")
    card = {"name": name, **{k: v for k, v in info.items() if k not in ("name", "files")}}
    missing = [k for k in REQUIRED_KEYS if k not in card and k != "files"]
    missing += [f"training.{k}" for k in TRAINING_KEYS if k not in card.get("training", {})]
    if missing:
        raise ValueError(f"card fields missing: {missing}")
    dst.mkdir(parents=True, exist_ok=True)
    card["files"] = {}
    for p in files:
        _copy(p, dst / p.name, half)
        card["files"][p.name] = {"sha256": sha256_file(dst / p.name), "bytes": (dst / p.name).stat().st_size}
    atomic_write_json(dst / CARD_FILE, card)
    json.loads((dst / CARD_FILE).read_text())  # written whole
    return dst / CARD_FILE
