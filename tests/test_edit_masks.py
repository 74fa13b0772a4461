"""Lesion segmentation and the scorer registry on drawn images with known truth."""

from __future__ import annotations

import numpy as np
import pytest

from dermsynth.bias.common import radius_map
from dermsynth.edit.lesion import lesion_mask, mask_iou
from dermsynth.edit.scores import get_scorer, scorer_names


def _image(res=64, frame=True, lesion_r=0.3, noise=6, seed=0):
    r = radius_map(res, res)
    img = np.empty((res, res, 3), np.float32)
    img[:] = (200, 150, 130)
    lesion = r < lesion_r
    img[lesion] = (90, 55, 40)
    if frame:
        img[r > 0.95] = (8, 8, 8)
    img += np.random.default_rng(seed).normal(0, noise, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), lesion, r > 0.95


def test_lesion_mask_overlaps_drawn_lesion_with_or_without_frame():
    for frame in (False, True):
        img, lesion, _ = _image(frame=frame)
        assert mask_iou(lesion_mask(img), lesion) > 0.85
    assert not lesion_mask(np.full((32, 32, 3), 128, np.uint8)).any()


def test_mask_iou():
    a = np.zeros((4, 4), bool)
    assert mask_iou(a, a) == 1.0
    b = a.copy()
    b[0, :2] = True
    c = a.copy()
    c[0, 1:3] = True
    assert mask_iou(b, c) == pytest.approx(1 / 3)


def test_scorer_registry():
    assert {"dark_corner", "bias", "d_projection", "lesion_area", "classifier"} <= set(scorer_names())
    with pytest.raises(ValueError, match="unknown scorer"):
        get_scorer("nope")
    with pytest.raises(ValueError, match="removed; use dark_corner"):
        get_scorer("simple_dark_corner")
    with pytest.raises(ValueError, match="conditional discriminator"):
        get_scorer("d_projection")
    imgs = np.stack([_image(frame=True)[0], _image(frame=False)[0]])
    s = get_scorer("dark_corner")(imgs)
    assert s.present.tolist() == [True, False] and s.masks.shape == (2, 64, 64)
    strict = get_scorer("dark_corner:0.999")(imgs)  # the threshold argument overrides the default
    assert strict.present.tolist() == [False, False] and np.allclose(strict.scores, s.scores)
