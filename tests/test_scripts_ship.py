"""scripts/ship_models.py and scripts/make_sample.py use the library's split reading, mosaic and
artifact list; the numbers they produce are those of the scripts' former own code (kept here as the
reference)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dermsynth.core.io import read_rgb
from dermsynth.core.manifest import ARTIFACTS
from scriptload import load_script

ROOT = Path(__file__).resolve().parents[1]


def _old_read_real(src: Path, split: str, n: int | None, size: int, seed: int = 0):
    """ship_models._read_real before it used the library (the reference)."""
    from PIL import Image

    lab = pd.read_csv(src / "labels.csv", dtype={"image_id": str})
    lab = lab[lab["split"] == split].sort_values("image_id")
    if n is not None and n < len(lab):
        lab = lab.iloc[np.sort(np.random.default_rng(seed).choice(len(lab), n, replace=False))]
    imgs = [np.asarray(Image.open(src / "images" / f"{i}.jpg").convert("RGB")
                       .resize((size, size), Image.Resampling.LANCZOS)) for i in lab["image_id"]]  # fmt: skip
    return np.stack(imgs), lab["melanoma"].to_numpy()


def _old_grid(images: np.ndarray, cols: int = 8, scale: int = 2) -> np.ndarray:
    """ship_models._grid's pixels before it used the library (the reference)."""
    from PIL import Image

    n, h, w, _ = images.shape
    rows = -(-n // cols)
    canvas = np.zeros((rows * h, cols * w, 3), np.uint8)
    for k, im in enumerate(images):
        r, c = divmod(k, cols)
        canvas[r * h : (r + 1) * h, c * w : (c + 1) * w] = im
    img = Image.fromarray(canvas).resize((cols * w * scale, rows * h * scale), Image.Resampling.LANCZOS)
    return np.asarray(img)


@pytest.fixture
def isic_root(tmp_path):
    """A labels.csv + images/ folder in the isic2017-256 layout, rows deliberately not in id order."""
    from PIL import Image

    root = tmp_path / "isic2017-256"
    (root / "images").mkdir(parents=True)
    r = np.random.default_rng(0)
    ids = [f"ISIC_{k:07d}" for k in r.permutation(14)]
    rows = []
    for k, i in enumerate(ids):
        Image.fromarray(r.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(root / "images" / f"{i}.jpg")
        rows.append({"image_id": i, "split": "val" if k % 3 == 0 else "train", "melanoma": k % 2,
                     "age_approx": 50, "sex": "female", "has_bias_annotation": k % 2,
                     **{a: (k + j) % 2 for j, a in enumerate(ARTIFACTS)}})  # fmt: skip
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    return root


def test_read_real_is_the_library_split_with_the_former_numbers(isic_root, monkeypatch):
    sm = load_script("ship_models")
    monkeypatch.setattr(sm, "shared_data_dir", lambda: isic_root.parent)
    for split, n in (("val", None), ("train", None), ("train", 5)):
        got, got_y = sm._read_real(split, n, 16, seed=3)
        want, want_y = _old_read_real(isic_root, split, n, 16, seed=3)
        assert np.array_equal(got, want) and np.array_equal(got_y, want_y), (split, n)
    assert len(sm._read_real("val", None, 16)[0]) == 5


@pytest.mark.parametrize("n", [32, 13, 8])
def test_grid_is_the_library_mosaic_with_the_former_pixels(n, tmp_path):
    sm = load_script("ship_models")
    images = np.random.default_rng(n).integers(0, 256, (n, 10, 12, 3), dtype=np.uint8)
    sm._grid(images, tmp_path / "sub" / "g.png")
    got = read_rgb(tmp_path / "sub" / "g.png")
    assert got.shape == (-(-n // 8) * 10 * 2, 8 * 12 * 2, 3)
    assert np.array_equal(got, _old_grid(images))


def test_scripts_use_the_library_artifact_list():
    """One artifact list (core.manifest.ARTIFACTS, the detectors' order); no script spells it out."""
    import dermsynth.bias.registry as reg

    ms = load_script("make_sample")
    assert ms.ARTIFACTS is ARTIFACTS and list(reg.DETECTORS) == ARTIFACTS
    for name in ("make_sample", "ship_models"):
        text = (ROOT / "scripts" / f"{name}.py").read_text()
        assert '"gel_bubble", "gel_border"' not in text and '"not_melanoma", "melanoma"]' not in text, name


def test_gen_card_prevalence_covers_what_the_shipped_audit_decides(tmp_path):
    """The generator card's artifact prevalence (method best of the shipped isic2017-artifacts) lists the
    artifacts the audit decides and none it leaves out (gel bubbles, excluded below F1 0.6), per class."""
    import json

    from dermsynth.models import resolve

    sm = load_script("ship_models")
    r = np.random.default_rng(0)
    images = r.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    out = sm._audit_prevalence(images, np.array([0, 1, 0, 1]), tmp_path, "t")
    left_out = json.loads((resolve("isic2017-artifacts") / "model.json").read_text())["excluded"]
    assert left_out and set(out) == set(ARTIFACTS) - set(left_out)
    for v in out.values():
        assert set(v) == {"not_melanoma", "melanoma"} and all(0 <= x <= 1 for x in v.values())
