"""``report.html -> report.pdf`` through headless Chromium (Debian's ``chromium``; nothing downloaded)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

#: headless Chromium with no sandbox, GPU or network of its own (what tests/test_report_browser.py launches too)
LAUNCH_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def find_chromium() -> str | None:
    """``$DERMSYNTH_CHROMIUM`` when set (and only it), else /usr/bin/chromium or chromium on PATH."""
    env = os.environ.get("DERMSYNTH_CHROMIUM")
    if env:
        return env if os.path.isfile(env) else None
    for cand in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if cand and os.path.isfile(cand):
            return cand
    return None


def print_pdf(html_path: str | Path, pdf_path: str | Path | None = None, timeout: float = 120) -> Path:
    """Print ``html_path`` to ``pdf_path`` (default: beside it, ``.pdf``); clear error without chromium."""
    html_path = Path(html_path).resolve()
    pdf_path = Path(pdf_path or html_path.with_suffix(".pdf")).resolve()
    exe = find_chromium()
    if exe is None:
        where = os.environ.get("DERMSYNTH_CHROMIUM") or "/usr/bin/chromium or chromium on PATH"
        raise FileNotFoundError(
            f"--pdf needs headless Chromium, not found ({where}); install it (apt-get install chromium) or "
            f"print {html_path} from a browser. The HTML report was written."
        )
    tmp = pdf_path.with_name(f".{pdf_path.name}.tmp")
    cmd = [exe, *LAUNCH_FLAGS, "--no-pdf-header-footer", f"--print-to-pdf={tmp}", html_path.as_uri()]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"{exe}: printing {html_path} to PDF took more than {timeout:.0f} s") from e
    if proc.returncode != 0 or not tmp.is_file() or tmp.read_bytes()[:5] != b"%PDF-":
        tmp.unlink(missing_ok=True)
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(
            f"{exe} could not print {html_path} to PDF (exit {proc.returncode}): {' '.join(tail)}"
        )
    os.replace(tmp, pdf_path)
    return pdf_path
