"""Where the shared real data and fixtures live (one setting each, never a hard-coded path)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


def shared_dir() -> Path:
    """``$DERMSYNTH_SHARED`` or ``../shared`` beside the checkout."""
    return Path(os.environ.get("DERMSYNTH_SHARED", REPO_ROOT.parent / "shared"))


def shared_data_dir() -> Path:
    """``$DERMSYNTH_SHARED_DATA`` or ``../shared/data`` beside the checkout."""
    env = os.environ.get("DERMSYNTH_SHARED_DATA")
    return Path(env) if env else shared_dir() / "data"


def shared_fixtures_dir() -> Path:
    """``$DERMSYNTH_FIXTURES`` or ``../shared/fixtures`` beside the checkout."""
    env = os.environ.get("DERMSYNTH_FIXTURES")
    return Path(env) if env else shared_dir() / "fixtures"
