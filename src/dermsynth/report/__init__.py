"""The report stage: reads run directories only and writes a self-contained HTML page + data cards.

Never imports torch: everything here works from files (csv, json, jsonl, png) the stages wrote.
Public API: :func:`build_report`, :func:`print_pdf` (loaded on first use, ``core.lazy``).
"""

from __future__ import annotations

from dermsynth.core.lazy import lazy_getattr

_PUBLIC = {
    "build_report": "dermsynth.report.build",
    "print_pdf": "dermsynth.report.pdf",
}

__all__ = sorted(_PUBLIC)

__getattr__ = lazy_getattr("dermsynth.report", _PUBLIC)
