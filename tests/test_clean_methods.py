"""Cleaning methods on phantom twins (same lesion without artifacts = the truth) and on known images."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio as psnr

from dermsynth.bias import detect
from dermsynth.bias.common import luminance
from dermsynth.clean import (
    FRAME_METHODS,
    Plan,
    apply_crop,
    clean_image,
    crop,
    frame_mask,
    fsr,
    hair_mask,
    skin_inpaint,
)
from dermsynth.clean.crop import crop_box
from dermsynth.clean.hair import lesion_core

ALL_OFF = {"dark_corner": 0.0, "hair": 0.0, "ruler": 0.0, "ink": 0.0, "gel_bubble": 0.0}


def phantoms(artifact: str, n: int = 3, size: int = 128):
    from dermsynth.data.phantom import render_phantom

    return [render_phantom(i, 21, size, rates={**ALL_OFF, artifact: 1.0}) for i in range(n)]


def grown(mask: np.ndarray, px: int) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * px + 1,) * 2, np.uint8)).astype(bool)


FRAME_FILLERS = ["skin-inpaint", "fsr", "telea", "ns"]


@pytest.mark.parametrize("method", FRAME_FILLERS)
def test_frame_filling_on_phantom_twins(method):
    for s in phantoms("dark_corner"):
        out, changed = clean_image(s.image, Plan(method, False), seed=1)
        truth = s.artifact_masks["dark_corner"]
        assert out.dtype == np.uint8 and out.shape == s.image.shape and changed.shape == truth.shape
        assert np.array_equal(out[~changed], s.image[~changed])  # only the mask is touched
        assert (truth & ~changed).sum() <= 0.02 * truth.sum()  # the frame is covered
        assert not (changed & s.lesion_mask & ~grown(truth, 8)).any()  # lesion untouched away from the frame
        assert psnr(s.clean, out) > psnr(s.clean, s.image) + 3
        assert not detect(out, ["dark_corner"])["dark_corner"].present


def test_crop_on_phantom_twins():
    for s in phantoms("dark_corner"):
        fm = frame_mask(s.image)
        out, changed = crop(s.image, fm)
        y0, y1, x0, x1 = crop_box(fm)
        assert out.shape == s.image.shape
        assert not fm[y0:y1, x0:x1].any()  # the square lies inside the frame circle
        assert changed.sum() == changed.size - (y1 - y0) * (x1 - x0)
        twin = apply_crop(s.clean, fm)  # same field of view as the twin: (near) identical
        assert np.array_equal(twin, out) or psnr(twin, out) > 40
        assert not detect(out, ["dark_corner"])["dark_corner"].present


def test_crop_without_frame_is_identity():
    img = phantoms("hair", 1)[0].clean
    out, changed = crop(img, np.zeros(img.shape[:2], bool))
    assert np.array_equal(out, img) and not changed.any()


def test_hair_removal_on_phantom_twins():
    gains = []
    for s in phantoms("hair", 4, 192):
        out, changed = clean_image(s.image, Plan(None, True))
        truth = s.artifact_masks["hair"]
        assert np.array_equal(out[~changed], s.image[~changed])
        assert (changed & grown(truth, 3)).sum() >= 0.8 * changed.sum()  # it removes hair, not lesion texture
        core = lesion_core(luminance(s.image))
        assert not (changed & core & ~grown(truth, 3)).any()  # in the lesion body only where hair was
        gains.append(psnr(s.clean, out) - psnr(s.clean, s.image))
        ref = s.clean.astype(int)
        err_out, err_in = (np.abs(x.astype(int) - ref)[truth].mean() for x in (out, s.image))
        assert err_out < 0.5 * err_in  # the hair pixels are mostly restored
        assert detect(out, ["hair"])["hair"].score <= detect(s.image, ["hair"])["hair"].score
    assert min(gains) > 0 and np.mean(gains) > 3


def test_frame_and_hair_combined():
    from dermsynth.data.phantom import render_phantom

    s = render_phantom(0, 5, 128, rates={**ALL_OFF, "dark_corner": 1.0, "hair": 1.0})
    out, changed = clean_image(s.image, Plan("telea", True))
    only_frame, ch_f = clean_image(s.image, Plan("telea", False))
    assert changed.sum() > ch_f.sum()
    assert psnr(s.clean, out) > psnr(s.clean, only_frame)


def test_fsr_mask_convention_keeps_known_pixels_and_fills_the_hole():
    """xphoto.inpaint's mask marks VALID pixels; ours marks pixels to fill. A smooth image with a hole
    must come back exact outside the hole and close inside it."""
    yy, xx = np.mgrid[0:64, 0:64]
    img = np.stack([2 * xx + 40, 2 * yy + 40, xx + yy + 30], -1).astype(np.uint8)
    hole = np.zeros((64, 64), bool)
    hole[24:36, 20:40] = True
    dirty = img.copy()
    dirty[hole] = 0
    for best in (False, True):
        out, m = fsr(dirty, hole, best=best)
        assert np.array_equal(out[~hole], img[~hole]) and np.array_equal(m, hole)
        assert np.abs(out[hole].astype(int) - img[hole].astype(int)).mean() < 6


def test_skin_inpaint_is_a_function_of_the_seed():
    s = phantoms("dark_corner", 1)[0]
    fm = frame_mask(s.image)
    a, _ = skin_inpaint(s.image, fm, seed=3)
    b, _ = skin_inpaint(s.image, fm, seed=3)
    c, _ = skin_inpaint(s.image, fm, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    skin = s.image[~grown(fm, 2) & ~s.lesion_mask]
    assert np.abs(a[fm].mean(0) - skin.mean(0)).max() < 15  # fill has the skin's colour


def test_methods_leave_images_without_the_artifact_unchanged():
    img = phantoms("ruler", 1)[0].clean  # skin and lesion only
    assert not frame_mask(img).any() and not hair_mask(img).any()
    for m in FRAME_METHODS:
        out, changed = clean_image(img, Plan(m, True))
        assert np.array_equal(out, img) and not changed.any()
