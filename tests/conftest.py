"""Shared pytest fixtures: paths to ../shared, skipping GPU / real-data tests when absent."""

from __future__ import annotations

import pytest

from dermsynth.core.paths import shared_data_dir, shared_fixtures_dir


@pytest.fixture(scope="session")
def shared_data():
    p = shared_data_dir()
    if not p.is_dir():
        pytest.skip(f"real data not found at {p} (set DERMSYNTH_SHARED_DATA)")
    return p


@pytest.fixture(scope="session")
def sg2_fixtures():
    p = shared_fixtures_dir() / "stylegan2-ada"
    if not p.is_dir():
        pytest.skip(f"StyleGAN2-ADA fixtures not found at {p} (set DERMSYNTH_FIXTURES)")
    return p


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:
        has_cuda = False
    skip_gpu = pytest.mark.skip(reason="no CUDA device")
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)
