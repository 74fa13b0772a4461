"""Statistics through one channel (docs/architecture.md R8): ``report(name, value)`` -> ``stats.jsonl``.

A :class:`StatsWriter` collects values reported during a tick and appends one JSON line per tick.
The report stage reads these files; nothing else passes statistics around.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from pathlib import Path
from typing import Any


class StatsWriter:
    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path else None
        self._acc: dict[str, list[float]] = defaultdict(list)

    def report(self, name: str, value: Any) -> None:
        try:
            vals = [float(v) for v in (value.flatten().tolist() if hasattr(value, "flatten") else [value])]
        except TypeError:
            vals = [float(v) for v in value]
        self._acc[name].extend(v for v in vals if math.isfinite(v))

    def means(self) -> dict[str, float]:
        return {k: sum(v) / len(v) for k, v in self._acc.items() if v}

    def flush(self, **fields: Any) -> dict[str, Any]:
        """Append one line: ``fields`` plus the mean of each reported name; reset the accumulators."""
        row = dict(fields)
        row.update(self.means())
        self._acc.clear()
        if self.path is not None:
            append_jsonl(self.path, row)
        return row


def append_jsonl(path: str | os.PathLike, row: dict[str, Any]) -> None:
    """Append one JSON line, flushed and fsync'd (a killed writer loses at most the line being
    written, which :func:`read_jsonl` skips). The one JSON-lines writer of a run (stats, metrics)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row, default=float) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read a jsonl file, ignoring a trailing partial line left by a killed writer."""
    rows = []
    p = Path(path)
    if not p.exists():
        return rows
    for line in p.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return rows
