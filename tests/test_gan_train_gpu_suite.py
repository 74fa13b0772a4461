"""benchmarks/gpu_suite.sh in its CPU smoke mode: every step runs and the JSON holds every figure."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("timeout") is None, reason="needs bash, timeout"
)
def test_gpu_suite_smoke_mode_writes_every_figure(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path / "out"), "PYTHON": sys.executable, "PYTHONPATH": str(ROOT / "src"),
           "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}  # fmt: skip
    res = subprocess.run(["bash", "benchmarks/gpu_suite.sh", "--smoke"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=1500)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads((tmp_path / "out" / "gpu_suite.json").read_text())
    assert out["smoke"] is True and out["device"]["gpu"] is None
    failed = {k: v for k, v in out["steps"].items() if v.get("rc", 0) != 0 or "skipped" in v}
    assert not failed, (failed, res.stdout[-3000:])
    assert out["gpu_tests"]["failures"] == out["gpu_tests"]["errors"] == 0  # all skipped without CUDA
    assert set(out["train"]) == {"train_fp32_compile_off", "train_bf16_compile_off"}
    for name, t in out["train"].items():
        assert t["ticks"] >= 1 and t["sec_per_kimg"] > 0 and t["losses_finite"], (name, t)
        assert len(t["augment_p"]) == t["ticks"] + 1
    assert out["generate"] is not None and out["fid"] is not None
    assert "phantom" in out["data"]["data"]
