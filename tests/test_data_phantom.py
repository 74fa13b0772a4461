"""Phantom dataset: determinism, artifact rates, twins, masks, class separability, painters, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from dermsynth.core.io import read_rgb
from dermsynth.core.manifest import MANIFEST_COLUMNS, read_manifest
from dermsynth.data.phantom import (
    DEFAULT_RATES,
    PHANTOM_ARTIFACTS,
    make_phantom_dataset,
    normalise_rates,
    parse_rates,
    render_phantom,
)
from dermsynth.data.phantom_artifacts import PAINTERS, add_frame


def test_render_is_deterministic_and_seed_dependent():
    a = render_phantom(3, seed=7, size=48)
    b = render_phantom(3, seed=7, size=48)
    c = render_phantom(3, seed=8, size=48)
    assert a.image.dtype == np.uint8 and a.image.shape == (48, 48, 3)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.lesion_mask, b.lesion_mask)
    assert not np.array_equal(a.image, c.image)


def test_dataset_image_i_independent_of_n_and_workers(tmp_path):
    d1 = make_phantom_dataset(tmp_path / "a", n=4, size=32, seed=5)
    d2 = make_phantom_dataset(tmp_path / "b", n=9, size=32, seed=5, workers=2)
    m1, m2 = read_manifest(d1), read_manifest(d2)
    assert len(m1) == 4 and len(m2) == 9
    assert list(m2["image_id"]) == sorted(m2["image_id"])  # order kept with workers
    for f in m1["file"]:
        assert (d1 / f).read_bytes() == (d2 / f).read_bytes()
    assert m1.drop(columns=[]).equals(m2.iloc[:4].reset_index(drop=True))


def test_artifact_rates_follow_the_configuration():
    n = 600
    counts = {name: np.zeros(2) for name in PHANTOM_ARTIFACTS}
    totals = np.zeros(2)
    for i in range(n):
        s = render_phantom(i, seed=1, size=16)
        totals[s.label] += 1
        for name in PHANTOM_ARTIFACTS:
            counts[name][s.label] += s.artifacts[name]
    assert 0.4 < totals[1] / n < 0.6
    for name, (p_ben, p_mel) in DEFAULT_RATES.items():
        for label, p in ((0, p_ben), (1, p_mel)):
            sd = np.sqrt(p * (1 - p) / totals[label])
            assert abs(counts[name][label] / totals[label] - p) < 4 * sd + 0.01, (name, label)
    # the frame shortcut is there: frames far more common in melanoma
    assert counts["dark_corner"][1] / totals[1] > 5 * counts["dark_corner"][0] / totals[0]


def test_rates_only_toggle_artifacts_and_lesion_is_unchanged():
    always = render_phantom(2, seed=0, size=32, rates={k: 1.0 for k in DEFAULT_RATES})
    never = render_phantom(2, seed=0, size=32, rates={k: 0.0 for k in DEFAULT_RATES})
    assert all(always.artifacts.values()) and not any(never.artifacts.values())
    assert np.array_equal(always.clean, never.clean) and np.array_equal(never.clean, never.image)
    assert always.label == never.label


def test_twins_equal_image_outside_artifact_masks():
    rates = {k: 1.0 for k in DEFAULT_RATES}
    for i in range(6):
        s = render_phantom(i, seed=3, size=64, rates=rates)
        union = np.zeros(s.image.shape[:2], bool)
        for name, m in s.artifact_masks.items():
            assert m.shape == union.shape and m.any(), name
            union |= m
        assert np.array_equal(s.image[~union], s.clean[~union])
        assert (s.image != s.clean).any(axis=-1).sum() > 0.3 * union.sum()


def test_dataset_files_masks_and_manifest(tmp_path):
    rates = {"dark_corner": 0.5, "hair": 0.5}
    d = make_phantom_dataset(tmp_path / "p", n=12, size=40, seed=2, twins=True, rates=rates)
    df = read_manifest(d)
    assert list(df.columns[: len(MANIFEST_COLUMNS)]) == MANIFEST_COLUMNS
    assert set(df["source"]) == {"phantom"} and df["split"].isna().all()
    assert set(df["class_name"]) <= {"not_melanoma", "melanoma"}
    labels = json.loads((d / "dataset.json").read_text())["labels"]
    assert labels == [[f, int(lbl)] for f, lbl in zip(df["file"], df["label"], strict=True)]
    assert json.loads((d / "config.json").read_text())["rates"]["dark_corner"] == [0.5, 0.5]
    for _, row in df.iterrows():
        idx = int(row["image_id"].split("_")[1])
        s = render_phantom(idx, seed=2, size=40, rates=rates)
        assert np.array_equal(read_rgb(d / row["file"]), s.image)
        assert np.array_equal(read_rgb(d / row["twin_file"]), s.clean)
        lesion = read_rgb(d / row["lesion_mask_file"])[..., 0]
        assert set(np.unique(lesion)) <= {0, 255}
        assert np.array_equal(lesion > 0, s.lesion_mask)
        assert row["lesion_area"] == pytest.approx(s.lesion_mask.mean(), abs=1e-4)
        for name in PHANTOM_ARTIFACTS:
            assert row[name] in (0, 1)
            mask_file = d / "masks" / name / f"{row['image_id']}.png"
            assert mask_file.exists() == bool(row[name])


def test_lesion_mask_is_a_central_blob():
    for i in range(10):
        s = render_phantom(i, seed=0, size=64)
        assert 0.02 < s.lesion_mask.mean() < 0.9
        assert s.lesion_mask[24:40, 24:40].any()


def test_classes_separable_by_simple_statistic_but_not_perfectly():
    labels, dark, area = [], [], []
    for i in range(300):
        s = render_phantom(i, seed=11, size=32)
        lum = s.clean.astype(float).mean(-1)
        labels.append(s.label)
        dark.append(np.mean(lum[s.lesion_mask] < 70) if s.lesion_mask.any() else 0.0)
        area.append(s.lesion_mask.mean())
    for stat in (dark, area):  # each cue helps, none decides (about 0.67 and 0.87 for this seed)
        auc = roc_auc_score(labels, stat)
        assert 0.6 < auc < 0.97, auc


@pytest.mark.parametrize("name", list(PAINTERS))
def test_painters_work_on_any_rgb_image(name):
    rng = np.random.default_rng(0)
    img = rng.integers(60, 200, size=(50, 83, 3), dtype=np.uint8)
    out, mask = PAINTERS[name](img, np.random.default_rng(4))
    assert out.shape == img.shape and out.dtype == np.uint8 and mask.shape == img.shape[:2]
    assert mask.any()
    assert np.array_equal(out[~mask], img[~mask])
    assert np.array_equal(PAINTERS[name](img, np.random.default_rng(4))[0], out)


def test_frame_darkens_corners_and_rejects_bad_input():
    img = np.full((64, 64, 3), 200, np.uint8)
    out, mask = add_frame(img, np.random.default_rng(1))
    assert mask[0, 0] and mask[-1, -1] and not mask[32, 32]
    assert out[0, 0].max() < 40 and np.array_equal(out[32, 32], img[32, 32])
    ring, ring_mask = add_frame(img, np.random.default_rng(1), radius=(0.8, 0.9))
    assert ring_mask[32, 0] and ring_mask[0, 32] and ring[32, 0].max() < 100  # full ring, not only corners
    with pytest.raises(ValueError, match="RGB uint8"):
        add_frame(img.astype(np.float32), np.random.default_rng(1))


def test_rate_parsing_and_errors():
    r = parse_rates("dark_corner=0.1:0.9, hair=0.3")
    assert r["dark_corner"] == (0.1, 0.9) and r["hair"] == (0.3, 0.3) and r["ruler"] == DEFAULT_RATES["ruler"]
    assert normalise_rates({"ink": {"melanoma": 0.5}})["ink"] == (DEFAULT_RATES["ink"][0], 0.5)
    for bad in ("frame=0.1", "hair=1.5", "hair", "hair=x"):
        with pytest.raises(ValueError):
            parse_rates(bad)


def test_cli_phantom(tmp_path):
    from typer.testing import CliRunner

    from dermsynth.cli.main import app

    res = CliRunner().invoke(
        app, ["data", "phantom", "--out", str(tmp_path / "d"), "--n", "5", "--size", "24"]
    )
    assert res.exit_code == 0, res.output
    assert len(read_manifest(tmp_path / "d")) == 5
    res = CliRunner().invoke(
        app, ["data", "phantom", "--out", str(tmp_path / "e"), "--n", "2", "--rates", "x=1"]
    )
    assert res.exit_code == 2 and "unknown artifact" in res.output
