"""The ingest journal: a record of finished outputs that makes re-runs idempotent and resumable.

One JSON line per image, appended only after its PNG has been renamed into place (the PNG itself is
written atomically). A later run skips an image only if its record matches the source file's size and
mtime, the ingest settings and the SHA-256 of the output now on disk; anything else is redone. A torn
last line (a run killed mid-write) fails to parse and is ignored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dermsynth.core.io import sha256_file

JOURNAL_NAME = ".ingest-journal.jsonl"


def source_signature(path: str | None, member: str | None) -> str:
    """``size:mtime_ns`` of the source file (``:member`` for a zip member)."""
    if path is None:
        return ""
    st = os.stat(path)
    return f"{st.st_size}:{st.st_mtime_ns}" + (f":{member}" if member else "")


def load_journal(out_dir: Path) -> dict[str, dict[str, Any]]:
    """Records by output file (the last record of a file wins)."""
    path = out_dir / JOURNAL_NAME
    records: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return records
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and "file" in rec:
                records[rec["file"]] = rec
    return records


def is_done(rec: dict[str, Any] | None, out_dir: Path, sig: str, settings: str) -> bool:
    """True when ``rec`` proves the output is complete and made from this source with these settings."""
    if not rec or rec.get("sig") != sig or rec.get("settings") != settings:
        return False
    out = out_dir / rec["file"]
    return out.is_file() and sha256_file(out) == rec.get("sha256")


class JournalWriter:
    """Append records, one flushed line each."""

    def __init__(self, out_dir: Path):
        self._f = open(out_dir / JOURNAL_NAME, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def add(self, rec: dict[str, Any]) -> None:
        self._f.write(json.dumps(rec, sort_keys=True) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
