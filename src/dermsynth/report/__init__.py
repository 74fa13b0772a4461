"""The report stage: reads run directories only and writes a self-contained HTML page + data cards.

Never imports torch: everything here works from files (csv, json, jsonl, png) the stages wrote.
"""

from dermsynth.report.build import build_report
from dermsynth.report.pdf import print_pdf

__all__ = ["build_report", "print_pdf"]
