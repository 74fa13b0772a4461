"""Real twins (rendered artifacts with known masks) and their scores."""

from __future__ import annotations

import numpy as np
import pytest

from dermsynth.clean.evaluate import mask_scores, psnr, score_twin
from dermsynth.clean.twins import DENSITIES, KINDS, make_twin, render

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def skin():
    """A smooth skin-coloured image with a darker blob (no artifact)."""
    yy, xx = np.mgrid[0:160, 0:160].astype(np.float32)
    base = np.stack([200 + 0.1 * xx, 160 + 0.05 * yy, 140 + 0 * xx], -1)
    blob = np.exp(-((xx - 80) ** 2 + (yy - 76) ** 2) / (2 * 25.0**2))[..., None]
    return np.clip(base * (1 - 0.6 * blob), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("kind", KINDS)
def test_twin_mask_is_exactly_what_changed_and_is_seeded(skin, kind):
    a = make_twin(skin, kind, seed=3, image_id="x")
    b = make_twin(skin, kind, seed=3, image_id="x")
    c = make_twin(skin, kind, seed=4, image_id="x")
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
    assert not np.array_equal(a.image, c.image)
    assert np.array_equal(a.mask, (a.image != skin).any(axis=2))  # the mask is every changed pixel
    assert np.array_equal(a.image[~a.mask], skin[~a.mask]) and a.mask.any()
    assert a.original is skin


def test_hair_density_orders_coverage(skin):
    cover = {
        d: np.mean([make_twin(skin, "hair", s, "y", d).mask.mean() for s in range(6)]) for d in DENSITIES
    }
    assert cover["sparse"] < cover["medium"] < cover["dense"]
    assert 0.003 < cover["sparse"] < 0.06 and cover["dense"] < 0.4


def test_hair_is_dark_and_thin(skin):
    tw = make_twin(skin, "hair", 1, "z", "medium")
    lum = tw.image.astype(float).mean(2)
    assert (lum[tw.mask] < skin.astype(float).mean(2)[tw.mask]).mean() > 0.95  # darker where drawn
    from scipy import ndimage

    width = ndimage.distance_transform_edt(tw.mask)
    assert np.percentile(width[tw.mask], 95) <= 3.0  # strands a few pixels wide, not blobs


def test_bad_arguments(skin):
    with pytest.raises(ValueError, match="unknown twin artifact"):
        render(skin, "ruler")
    with pytest.raises(ValueError, match="unknown hair density"):
        render(skin, "hair", density="thick")
    with pytest.raises(ValueError, match="RGB uint8"):
        render(skin.astype(np.float32), "frame")


def test_mask_scores_match_sklearn():
    from sklearn.metrics import jaccard_score, precision_score, recall_score

    g = np.random.default_rng(0)
    a, b = g.random((40, 50)) < 0.3, g.random((40, 50)) < 0.2
    s = mask_scores(a, b)
    assert s["precision"] == pytest.approx(precision_score(b.ravel(), a.ravel()))
    assert s["recall"] == pytest.approx(recall_score(b.ravel(), a.ravel()))
    assert s["iou"] == pytest.approx(jaccard_score(b.ravel(), a.ravel()))
    empty = np.zeros((4, 4), bool)
    assert mask_scores(empty, empty) == {"precision": 1.0, "recall": 1.0, "iou": 1.0}


def test_score_twin_of_a_perfect_cleaning(skin):
    tw = make_twin(skin, "hair", 0, "p", "medium")
    s = score_twin(skin, tw.image, tw.mask, skin.copy(), tw.mask)
    assert s["psnr_after"] == 100.0 and s["iou"] == 1.0 and s["lesion_off_artifact"] == 0.0
    assert s["psnr_before"] == pytest.approx(psnr(skin, tw.image)) and s["psnr_before"] < 40


def test_ink_removal_on_twins(skin):
    from dermsynth.clean import Plan, clean_safely, ink_mask, remove_ink
    from dermsynth.clean.methods import plan_for

    assert not ink_mask(skin).any()  # skin and a brown lesion: no ink
    gains, recalls = [], []
    for s in range(6):
        tw = make_twin(skin, "ink", s, "i")
        out, changed = remove_ink(tw.image)
        sc = score_twin(skin, tw.image, tw.mask, out, changed)
        gains.append(sc["psnr_after"] - sc["psnr_before"])
        recalls.append(sc["recall"])
        assert not (changed & ~tw.mask).sum() > 2 * tw.mask.sum()  # the mask hugs the ink
        res = clean_safely(tw.image, Plan(None, False, True))
        assert np.array_equal(res.image, out) and res.skipped is None
    assert min(gains) >= 0 and np.mean(gains) > 5 and np.mean(recalls) > 0.5  # faint dots may stay
    assert plan_for("ink", False, True, True, False, True) == Plan(None, False, True)
    assert plan_for("fsr", True, True, True, True, True).name == "fsr+hair+ink"
    assert plan_for("fsr", True, True, True, False, True).name == "fsr+hair"
