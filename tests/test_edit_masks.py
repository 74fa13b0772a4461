"""The small frame detector and lesion segmentation on drawn images with known truth."""

from __future__ import annotations

import numpy as np
import pytest

from dermsynth.edit.frame import dark_corner, radial
from dermsynth.edit.lesion import lesion_mask, mask_iou
from dermsynth.edit.scores import get_scorer, scorer_names


def _image(res=64, frame=True, lesion_r=0.3, noise=6, seed=0):
    r = radial(res, res)
    img = np.empty((res, res, 3), np.float32)
    img[:] = (200, 150, 130)
    lesion = r < lesion_r
    img[lesion] = (90, 55, 40)
    if frame:
        img[r > 0.95] = (8, 8, 8)
    img += np.random.default_rng(seed).normal(0, noise, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), lesion, r > 0.95


def test_dark_corner_detects_frames_and_masks_them():
    framed, _, truth = _image(frame=True)
    clean, _, _ = _image(frame=False)
    f, c = dark_corner(framed), dark_corner(clean)
    assert f.present and f.score > 0.9 and not c.present and c.score < 0.05
    assert mask_iou(f.mask, truth) > 0.9 and not c.mask.any()


def test_dark_lesion_in_centre_is_not_a_frame():
    img, _, _ = _image(frame=False, lesion_r=0.6)
    assert not dark_corner(img).present


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
    assert {"dark_corner", "simple_dark_corner", "bias", "d_projection", "lesion_area", "classifier"} <= set(
        scorer_names()
    )
    with pytest.raises(ValueError, match="unknown scorer"):
        get_scorer("nope")
    with pytest.raises(ValueError, match="conditional discriminator"):
        get_scorer("d_projection")
    imgs = np.stack([_image(frame=True)[0], _image(frame=False)[0]])
    s = get_scorer("simple_dark_corner")(imgs)
    assert s.present.tolist() == [True, False] and s.masks.shape == (2, 64, 64)


def test_hair_through_a_corner_is_not_a_frame():
    import cv2

    img, _, _ = _image(frame=False)
    for x in (0, 5, 12):
        cv2.line(img, (x, 0), (63, 50 - x), (20, 15, 10), 1)
    assert not dark_corner(img).present


@pytest.mark.realdata
def test_dark_corner_against_isic2017_annotations(shared_data):
    import pandas as pd

    from dermsynth.core.io import read_rgb

    d = shared_data / "isic2017-256"
    df = pd.read_csv(d / "labels.csv")
    df = df[df["has_bias_annotation"] == 1].sample(200, random_state=1)
    pred = np.array(
        [dark_corner(read_rgb(next((d / "images").glob(f"{i}.*")))).present for i in df["image_id"]]
    )
    truth = df["dark_corner"].to_numpy().astype(bool)
    assert (pred == truth).mean() > 0.85  # 0.89 measured on 600 images
    assert pred[~truth].mean() < 0.05
