"""Stage packages declare their public surface in ``__init__`` (``__all__``) and import light.

Issue 17: other packages and users import a stage's entry points from the package; ``import
dermsynth.<stage>`` loads no torch, OpenCV, pandas or matplotlib (names load on first use, ``core.lazy``).
``clean`` is the exception: its functions share names with their modules (``crop``, ``frame_mask``,
``skin_inpaint``), which a lazy package attribute cannot serve, so it imports them eagerly.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import types

import pytest

STAGES = ["bias", "classify", "clean", "data", "edit", "gan", "models", "report", "survey"]
#: ``metrics`` imports light too; its names are not checked below (``precision_recall`` is both a
#: function and the module defining it, served lazily).
LIGHT = [s for s in STAGES if s != "clean"] + ["metrics"]
HEAVY = ["torch", "cv2", "pandas", "matplotlib", "sklearn", "skimage", "sqlalchemy", "fastapi"]


def test_stage_packages_import_light():
    code = "; ".join(
        [
            *(f"import dermsynth.{s}" for s in LIGHT),
            f"import sys; print([m for m in {HEAVY!r} if m in sys.modules])",
        ]
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


@pytest.mark.parametrize("stage", STAGES)
def test_public_names_are_the_objects_not_modules(stage):
    pkg = importlib.import_module(f"dermsynth.{stage}")
    for info in pkgutil.iter_modules(pkg.__path__):  # loading every submodule first shows name clashes
        importlib.import_module(f"dermsynth.{stage}.{info.name}")
    assert pkg.__all__ and len(set(pkg.__all__)) == len(pkg.__all__)
    for name in pkg.__all__:
        obj = getattr(pkg, name)
        assert not isinstance(obj, types.ModuleType), f"dermsynth.{stage}.{name} is a module"
