"""Identical re-encoding of study images, so that only the pixels differ between stimuli.

Every stimulus is centre-cropped to a square, resized to ``size`` x ``size`` (area interpolation) and
written as an 8-bit RGB PNG with zlib level 0 (stored blocks). With stored blocks the file size is a
function of the dimensions alone, so the byte count cannot leak how compressible (smooth, GAN-like)
an image is; PIL writes only IHDR/IDAT/IEND chunks, so no text, EXIF, gamma or timestamp survives.
"""

from __future__ import annotations

import io

import numpy as np

#: The one format every stimulus has (media type served for every image).
STIMULUS_FORMAT = "PNG"
STIMULUS_MEDIA_TYPE = "image/png"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG chunk types a clean stimulus may contain.
ALLOWED_CHUNKS = frozenset({b"IHDR", b"IDAT", b"IEND"})


def square_resize(rgb: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop ``rgb`` [H, W, 3] uint8 to a square and resize it to [size, size, 3]."""
    import cv2

    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image [H, W, 3], got {rgb.dtype} {rgb.shape}")
    h, w = rgb.shape[:2]
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    crop = rgb[y0 : y0 + s, x0 : x0 + s]
    if s == size:
        return np.ascontiguousarray(crop)
    interp = cv2.INTER_AREA if s > size else cv2.INTER_CUBIC
    return cv2.resize(crop, (size, size), interpolation=interp)


def encode_stimulus(rgb: np.ndarray, size: int) -> bytes:
    """The PNG bytes of a stimulus: square ``size`` px, RGB8, stored deflate, no metadata chunks."""
    from PIL import Image

    arr = square_resize(rgb, size)
    buf = io.BytesIO()
    Image.fromarray(arr, "RGB").save(buf, format=STIMULUS_FORMAT, compress_level=0)
    return buf.getvalue()


def png_chunks(data: bytes) -> list[bytes]:
    """Chunk types of a PNG file in order (empty list if ``data`` is not a PNG)."""
    if not data.startswith(PNG_SIGNATURE):
        return []
    out, i = [], len(PNG_SIGNATURE)
    while i + 8 <= len(data):
        n = int.from_bytes(data[i : i + 4], "big")
        out.append(data[i + 4 : i + 8])
        i += 12 + n
    return out
