"""Classical artifact detectors on generated positives and negatives, and the ``detect`` API."""

from __future__ import annotations

import numpy as np
import pytest

from dermsynth.bias import DETECTORS, THRESHOLDS, ArtifactResult, detect
from dermsynth.core.manifest import ARTIFACTS
from test_bias_synth import skin, with_bubbles, with_frame, with_hair, with_ink, with_ruler

ADD = {
    "dark_corner": with_frame,
    "hair": with_hair,
    "ruler": with_ruler,
    "ink": with_ink,
    "gel_bubble": with_bubbles,
}


def test_registry_matches_manifest_artifacts():
    assert list(DETECTORS) == ARTIFACTS
    assert set(THRESHOLDS) == set(ARTIFACTS)


@pytest.mark.parametrize("artifact", list(ADD))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_positive_flagged_negative_not(artifact, seed):
    clean = skin(256, seed)
    dirty = ADD[artifact](clean)
    neg = detect(clean, [artifact])[artifact]
    pos = detect(dirty, [artifact])[artifact]
    assert pos.score > neg.score
    assert pos.present and not neg.present
    assert pos.mask.any()


@pytest.mark.parametrize("artifact", list(ADD))
def test_mask_lies_on_the_artifact(artifact):
    clean = skin(256, 3)
    dirty = ADD[artifact](clean)
    changed = np.abs(dirty.astype(int) - clean.astype(int)).max(axis=2) > 10
    near = __import__("cv2").dilate(changed.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    mask = DETECTORS[artifact](dirty)[1]
    assert mask[near].sum() >= 0.5 * mask.sum()


def test_clean_skin_is_flagged_with_nothing():
    res = detect(skin(256, 7))
    assert [a for a, r in res.items() if r.present] == []


def test_detect_api_shapes_and_types():
    img = with_hair(with_frame(skin(200, 4)))
    res = detect(img)
    assert list(res) == ARTIFACTS
    for r in res.values():
        assert isinstance(r, ArtifactResult)
        assert isinstance(r.score, float) and isinstance(r.present, bool)
        assert r.mask.dtype == bool and r.mask.shape == img.shape[:2]
    assert detect(img, ["frame"]).keys() == {"dark_corner"}


def test_large_images_are_handled_at_work_size():
    small = with_frame(skin(256, 5))
    big = np.repeat(np.repeat(small, 4, axis=0), 4, axis=1)
    a, b = detect(small, ["dark_corner"])["dark_corner"], detect(big, ["dark_corner"])["dark_corner"]
    assert b.mask.shape == big.shape[:2]
    assert abs(a.score - b.score) < 0.05


def test_thresholds_override():
    img = skin(256, 6)
    s = detect(img, ["dark_corner"])["dark_corner"].score
    assert detect(img, ["dark_corner"], thresholds={"dark_corner": s - 1e-6})["dark_corner"].present


@pytest.mark.parametrize(
    "bad", [np.zeros((64, 64), np.uint8), np.zeros((64, 64, 3), np.float32), np.zeros((8, 8, 3), np.uint8)]
)
def test_bad_input_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="expected|too small"):
        detect(bad)


def test_unknown_artifact():
    with pytest.raises(ValueError, match="unknown artifact"):
        detect(skin(64), ["bogus"])


@pytest.mark.parametrize("artifact", ["dark_corner", "hair", "ink"])
def test_phantom_painters_are_detected(artifact):
    """The phantom generator's own painters (another implementation of the artifacts)."""
    from dermsynth.data.phantom import render_phantom

    rates = dict.fromkeys(ADD, 0.0)
    pos = [render_phantom(i, 11, 256, rates={**rates, artifact: 1.0}) for i in range(6)]
    neg = [render_phantom(i, 11, 256, rates=rates) for i in range(6)]
    ps = [detect(s.image, [artifact])[artifact].score for s in pos]
    ns = [detect(s.image, [artifact])[artifact].score for s in neg]
    assert sum(p > max(ns) for p in ps) >= 5  # the heuristic may miss a faint one (phantom hair F1 ~0.86)
