"""Robust image decoding for ingest: every odd file is normalised to RGB uint8 or rejected with a reason.

Two paths. JPEGs (RGB or grayscale) go through OpenCV, decoded at 1/2, 1/4 or 1/8 scale when the
image is at least that many times the target (libjpeg's DCT-domain scaling, ``cv2.IMREAD_REDUCED_*``):
most of the speed of ingest. Everything else (PNG, TIFF, BMP, WebP, CMYK JPEG, palette, RGBA,
16-bit, ...) goes through Pillow, which also reports truncation. Both paths read the header first,
so a decompression bomb is rejected by its pixel count before any pixel is decoded, and apply the EXIF
orientation themselves (OpenCV's own rotation is switched off so both paths agree).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from dermsynth.data.resize import area_factor, crop_box

#: Default pixel limit (Pillow's own default, ~89.5 Mpx): larger images are rejected as bombs.
DEFAULT_MAX_PIXELS = 89_478_485

_REDUCED = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}

# EXIF orientation -> (np.rot90 k, flip left-right first): the same result as Pillow's ImageOps.exif_transpose
_ORIENT_NP = {
    2: (0, True),
    3: (2, False),
    4: (2, True),
    5: (1, True),
    6: (3, False),
    7: (3, True),
    8: (1, False),
}


class ImageRejected(Exception):
    """The file cannot be used; ``str(e)`` is the reason written to rejects.csv."""


@dataclass
class Decoded:
    """A decoded image and what was done to normalise it."""

    pixels: np.ndarray  # [H, W, 3] uint8 in channel ``order``, possibly decoded at 1/scale
    width: int  # original size (after EXIF orientation)
    height: int
    fmt: str
    notes: list[str] = field(default_factory=list)
    scale: int = 1  # JPEG reduction factor used
    box: tuple[int, int, int, int] | None = None  # crop box in ``pixels`` (None: whole image)
    order: str = "rgb"  # "rgb" or "bgr" (the OpenCV path keeps BGR; flip after resizing, when small)

    @property
    def rgb(self) -> np.ndarray:
        return self.pixels if self.order == "rgb" else np.ascontiguousarray(self.pixels[..., ::-1])


def _probe(data: bytes) -> Image.Image:
    """Open the header with Pillow (no pixel decoding); reject what it cannot identify."""
    if not data:
        raise ImageRejected("empty file (0 bytes)")
    if len(data) > 132 and data[128:132] == b"DICM":
        raise ImageRejected("DICOM file: not supported, use the JPEG/PNG release of the dataset")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as e:
        raise ImageRejected(f"decompression bomb: {e}") from None
    except UnidentifiedImageError:
        raise ImageRejected("not an image (unrecognised file format)") from None
    except Exception as e:  # noqa: BLE001 - any parser failure is a bad file, never a crash
        raise ImageRejected(f"unreadable image header: {e}") from None


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(0x0112, 1) or 1)
    except Exception:  # noqa: BLE001 - broken EXIF: ignore orientation
        return 1


def reduction_factor(box: tuple[int, int, int, int], target: int, crop: str) -> int:
    """JPEG scale-down f in (8, 4, 2, 1): the largest that divides the area factor k of the box.

    Decoding at 1/f then replaces the first f x f of the k x k block average that ``resize`` applies
    on the full decode, so both paths reach the same intermediate image (PSNR >= 40 dB, see
    ``benchmarks/ingest_speed.py``). ``pad`` always decodes at full scale.
    """
    x0, y0, bw, bh = box
    if crop == "pad":
        return 1
    k = area_factor(min(bw, bh), target)
    for f in (8, 4, 2):
        if k % f == 0 and bw % f == 0 and bh % f == 0 and x0 % f == 0 and y0 % f == 0:
            return f
    return 1


def _jpeg_complete(data: bytes) -> bool:
    """A JPEG ends with the EOI marker (allowing trailing padding)."""
    return data.rstrip(b"\x00\r\n ")[-2:] == b"\xff\xd9"


def _decode_cv2(data: bytes, reduce: int, orientation: int) -> np.ndarray | None:
    """BGR (OpenCV's order: no channel copy of the large decoded image), EXIF orientation applied."""
    flags = _REDUCED[reduce] | cv2.IMREAD_IGNORE_ORIENTATION
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if bgr is None or bgr.ndim != 3:
        return None
    if orientation in _ORIENT_NP:
        k, flip = _ORIENT_NP[orientation]
        bgr = np.ascontiguousarray(np.rot90(bgr[:, ::-1] if flip else bgr, k))
    return bgr


def _to_rgb_pil(im: Image.Image, notes: list[str]) -> np.ndarray:
    """Convert any Pillow mode to RGB uint8, noting what was normalised."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(im).astype(np.float64)
        notes.append("16-bit->8-bit")
        gray = np.clip(np.rint(arr / 257.0), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if mode == "F":
        arr = np.asarray(im, np.float64)
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        notes.append("float->8-bit")
        gray = np.clip(np.rint((arr - lo) / max(hi - lo, 1e-12) * 255), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if mode == "P":
        notes.append("palette->rgb")
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode in ("L", "1", "LA"):
        notes.append("grayscale->rgb")
    elif mode == "CMYK":
        notes.append("cmyk->rgb")
    elif mode not in ("RGB", "RGBA"):
        notes.append(f"{mode.lower()}->rgb")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        notes.append("alpha composited over white")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im.convert("RGBA"))
    return np.asarray(im.convert("RGB"))


def _decode_pil(im: Image.Image, orientation: int, notes: list[str]) -> np.ndarray:
    try:
        im.load()
    except OSError as e:
        msg = str(e)
        if "truncated" in msg:
            raise ImageRejected("truncated image file") from None
        raise ImageRejected(f"corrupt image data: {msg}") from None
    except Exception as e:  # noqa: BLE001
        raise ImageRejected(f"corrupt image data: {e}") from None
    if orientation != 1:
        im = ImageOps.exif_transpose(im)
    return _to_rgb_pil(im, notes)


def decode_image(
    data: bytes,
    target: int | None = None,
    crop: str = "center",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    reduce: bool = True,
) -> Decoded:
    """Decode ``data`` to RGB uint8; JPEGs at reduced scale when ``target`` and ``reduce`` allow it.

    With ``target`` set, ``Decoded.box`` is the crop box for :func:`resize.resize_square` in the
    decoded image's pixels. Raises :class:`ImageRejected` with the reason for empty, non-image,
    truncated, corrupt, DICOM and over-``max_pixels`` files.
    """
    im = _probe(data)
    w, h = im.size
    if w * h > max_pixels:
        raise ImageRejected(f"decompression bomb: {w}x{h} = {w * h} pixels > limit {max_pixels}")
    if w < 1 or h < 1:
        raise ImageRejected(f"image has no pixels ({w}x{h})")
    orientation = _orientation(im)
    notes: list[str] = []
    if orientation != 1:
        notes.append(f"exif-orientation-{orientation}")
    if orientation in (5, 6, 7, 8):
        w, h = h, w
    box = crop_box(w, h, crop, target) if target else None
    fmt = (im.format or "unknown").lower()
    # OpenCV fills a truncated JPEG with grey silently; without the end marker at the end (truncated, or
    # data appended after it by some cameras) Pillow decodes instead, and it reports truncation.
    if fmt == "jpeg" and im.mode in ("RGB", "L") and _jpeg_complete(data):
        f = reduction_factor(box, target, crop) if (box and reduce) else 1
        bgr = _decode_cv2(data, f, orientation)
        if bgr is not None and bgr.shape[0] * f >= h - f and bgr.shape[1] * f >= w - f:
            if im.mode == "L":
                notes.append("grayscale->rgb")
            if f > 1:
                notes.append(f"jpeg-reduced-{f}")
            sbox = None if box is None else (box[0] // f, box[1] // f, box[2] // f, box[3] // f)
            return Decoded(bgr, w, h, fmt, notes, f, sbox, "bgr")
    rgb = _decode_pil(im, orientation, notes)
    return Decoded(rgb, w, h, fmt, notes, 1, box)
