"""In-painting of a masked region: FSR (frequency selective reconstruction), Telea and Navier-Stokes.

FSR (Genser, Seiler & Kaup, "Video Coding ... Frequency Selective Reconstruction", 2018; OpenCV
contrib ``cv2.xphoto.inpaint`` with ``INPAINT_FSR_FAST`` / ``INPAINT_FSR_BEST``) is the thesis's best
frame in-painting (Sec. 4.1, Fig. 4.2). Mind its mask convention: in ``xphoto.inpaint`` the mask marks
the VALID pixels (nonzero = keep), the opposite of ``cv2.inpaint`` (Telea 2004; Bertalmio et al. 2001,
Navier-Stokes), where nonzero marks the pixels to fill. Every function here takes ``mask`` = pixels
to fill and returns ``(image, mask)``.
"""

from __future__ import annotations

import cv2
import numpy as np

from dermsynth.bias.common import scaled

RADIUS_PX = 5  # neighbourhood of Telea / NS at 256 px


def fsr(rgb: np.ndarray, mask: np.ndarray, best: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Frequency selective reconstruction of the masked pixels (FSR_FAST, or FSR_BEST if ``best``)."""
    if not mask.any():
        return rgb.copy(), mask.copy()
    valid = np.where(mask, 0, 255).astype(np.uint8)  # xphoto convention: nonzero = known pixel
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    dst = np.zeros_like(bgr)
    algo = cv2.xphoto.INPAINT_FSR_BEST if best else cv2.xphoto.INPAINT_FSR_FAST
    cv2.xphoto.inpaint(bgr, valid, dst, algo)
    out = rgb.copy()
    out[mask] = dst[..., ::-1][mask]  # known pixels stay bit-identical
    return out, mask.copy()


def opencv_inpaint(rgb: np.ndarray, mask: np.ndarray, method: str = "telea") -> tuple[np.ndarray, np.ndarray]:
    """``cv2.inpaint`` with Telea's fast marching (``telea``) or Navier-Stokes (``ns``)."""
    if not mask.any():
        return rgb.copy(), mask.copy()
    flag = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}.get(method)
    if flag is None:
        raise ValueError(f"unknown in-painting method {method!r}: telea or ns")
    out = cv2.inpaint(rgb, mask.astype(np.uint8), scaled(RADIUS_PX, mask.shape), flag)
    out = np.where(mask[..., None], out, rgb)
    return out, mask.copy()
