"""One processing chain for every stimulus, so that no file or pixel statistic tells sources apart.

Every stimulus, real or synthetic, goes through the same steps:

1. centre-crop to a square (side ``s``);
2. resample to ``size`` x ``size`` with one antialiasing filter (PIL's Lanczos, support scaled to the
   reduction, so it low-passes before decimating). The source must have ``s >= min_scale * size``
   (default 2): a 2x or larger reduction wipes out most of a source's own history (a JPEG 8x8 grid,
   demosaicing, a generator's upsampling pattern). Smaller sources raise :class:`SourceTooSmall`;
   upscaling (``min_scale < 1``) is possible only on request, because it leaves the low-pass
   signature the issue measured (a spectral test separated upscaled sources 95 %);
3. one identical JPEG round trip (quality 95, 4:4:4, baseline) at the stimulus grid: what is left of
   a real image's JPEG grid after the reduction (it moves to period 4 after a 2x one) is masked by
   the same 8x8 grid on every stimulus;
4. write an 8-bit RGB PNG with zlib level 0 (stored blocks): the byte count is a function of the
   dimensions alone, so it cannot leak how compressible (smooth, GAN-like) an image is; PIL writes
   only IHDR/IDAT/IEND, so no text, EXIF, gamma or timestamp survives.

Measured on 60 ISIC 2017 JPEGs vs 60 JPEG-free PNGs (docs/survey.md): before, the 8x8 blockiness of
256 px stimuli separated them with p ~ 1e-21; after steps 2-3 (256 -> 128) no pixel feature of
:mod:`.pixelstats` has p < 0.01.
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
RESAMPLE_FILTER = "lanczos"
JPEG_QUALITY = 95
#: Sources must be at least this many times the stimulus side (after the square crop).
MIN_SOURCE_SCALE = 2.0


class SourceTooSmall(ValueError):
    """A source image smaller than ``min_scale`` x the stimulus size (refused, not upscaled)."""


def square_crop(rgb: np.ndarray) -> np.ndarray:
    """Centre-crop ``rgb`` [H, W, 3] uint8 to a square [S, S, 3], S = min(H, W)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image [H, W, 3], got {rgb.dtype} {rgb.shape}")
    h, w = rgb.shape[:2]
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    return np.ascontiguousarray(rgb[y0 : y0 + s, x0 : x0 + s])


def process_stimulus(rgb: np.ndarray, size: int, min_scale: float = MIN_SOURCE_SCALE) -> np.ndarray:
    """Steps 1-3 of the module doc: the [size, size, 3] uint8 pixels every reader sees."""
    from PIL import Image

    if size < 8:
        raise ValueError(f"stimulus size must be at least 8 px, got {size}")
    crop = square_crop(rgb)
    s = crop.shape[0]
    if s < min_scale * size:
        raise SourceTooSmall(
            f"source is {s} px (square crop of {rgb.shape[1]}x{rgb.shape[0]}), needs >= "
            f"{min_scale:g} x {size} = {int(np.ceil(min_scale * size))} px"
        )
    im = Image.fromarray(crop, "RGB").resize((size, size), Image.Resampling.LANCZOS, reducing_gap=None)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=JPEG_QUALITY, subsampling=0, optimize=False, progressive=False)
    buf.seek(0)
    with Image.open(buf) as jpg:
        return np.asarray(jpg.convert("RGB"))


def encode_stimulus(rgb: np.ndarray, size: int, min_scale: float = MIN_SOURCE_SCALE) -> bytes:
    """The PNG bytes of a stimulus: square ``size`` px, RGB8, stored deflate, no metadata chunks."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(process_stimulus(rgb, size, min_scale), "RGB").save(
        buf, format=STIMULUS_FORMAT, compress_level=0
    )
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
