"""A decoded evidence image as the app uses it: EXIF summary, orientation applied, 8-bit RGB.

Everything here works on an already decoded Pillow image and tolerates odd metadata: damaged
EXIF or a broken colour profile never stops an analysis (the pixels are still evidence).
"""

from __future__ import annotations

import io
import logging

import numpy as np
from PIL import Image, ImageCms, ImageOps

from inspector.core.exif import ORIENTATION, ORIENTATION_TRANSPOSE, exif_text

__all__ = ["apply_orientation", "exif_summary", "frame_count", "to_rgb"]

log = logging.getLogger(__name__)

_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_EXIF_FIELDS = {  # summary key -> (IFD or None for IFD0, tag)
    "make": (None, 0x010F),
    "model": (None, 0x0110),
    "software": (None, 0x0131),
    "datetime_original": (_EXIF_IFD, 0x9003),
    "datetime": (None, 0x0132),
}
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_UINT16_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})




def exif_summary(im: Image.Image) -> tuple[dict[str, str], int | None]:
    """Short EXIF summary and orientation; malformed EXIF must not stop the analysis."""
    summary: dict[str, str] = {}
    try:
        exif = im.getexif()
    except Exception:  # damaged EXIF: the pixels are still evidence
        log.debug("unreadable EXIF", exc_info=True)
        return {"gps_present": "no"}, None
    ifds: dict[int | None, object] = {None: exif}
    for key, (ifd, tag) in _EXIF_FIELDS.items():
        try:
            if ifd not in ifds:
                ifds[ifd] = exif.get_ifd(ifd)
            value = ifds[ifd].get(tag)  # type: ignore[attr-defined]
        except Exception:
            continue
        text = exif_text(value, tag, limit=200, multiline=False)
        if text:
            summary[key] = text
    try:
        gps = bool(exif.get_ifd(_GPS_IFD))
    except Exception:
        gps = _GPS_IFD in exif
    summary["gps_present"] = "yes" if gps else "no"
    raw = exif.get(ORIENTATION)
    orientation: int | None
    try:
        orientation = int(raw[0] if isinstance(raw, tuple | list) else raw)  # type: ignore[index]
    except (TypeError, ValueError, IndexError):
        orientation = None
    return summary, orientation


def apply_orientation(im: Image.Image, orientation: int | None) -> Image.Image:
    """Show the picture the way the camera meant it (EXIF orientation 2–8)."""
    if orientation not in ORIENTATION_TRANSPOSE:
        return im
    try:
        return ImageOps.exif_transpose(im)
    except Exception:  # odd EXIF that Pillow cannot rewrite: rotate the pixels ourselves
        log.debug("exif_transpose failed; transposing directly", exc_info=True)
        return im.transpose(ORIENTATION_TRANSPOSE[orientation])


def to_rgb(im: Image.Image) -> Image.Image:
    """Normalise any decoded mode to 8-bit RGB, the one form the model and the GUI use."""
    mode = im.mode
    if mode == "RGB" and "transparency" not in im.info:
        return im
    if mode == "CMYK":
        return _cmyk_to_rgb(im)
    if mode in _UINT16_MODES:
        arr = np.asarray(im).astype(np.uint32)
        return Image.fromarray(((arr + 128) // 257).astype(np.uint8), "L").convert("RGB")
    if mode in ("I", "F"):
        return Image.fromarray(_scale_to_uint8(np.asarray(im), mode == "F"), "L").convert("RGB")
    if mode == "La":
        im = im.convert("LA")  # Pillow cannot convert premultiplied La to RGBA directly
        mode = "LA"
    has_alpha = (
        mode in _ALPHA_MODES
        or "transparency" in im.info
        or (mode == "P" and im.palette is not None and im.palette.mode == "RGBA")
    )
    if has_alpha:
        # Transparent pixels have arbitrary hidden colours; white is what a viewer shows.
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return im.convert("RGB")


def _cmyk_to_rgb(im: Image.Image) -> Image.Image:
    icc = im.info.get("icc_profile")
    if icc:
        try:
            return ImageCms.profileToProfile(
                im,
                ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                ImageCms.createProfile("sRGB"),
                outputMode="RGB",
            )
        except Exception:  # broken or mismatched profile: naive conversion beats refusing
            log.debug("CMYK ICC conversion failed; using plain conversion", exc_info=True)
    return im.convert("RGB")


def _scale_to_uint8(arr: np.ndarray, is_float: bool) -> np.ndarray:
    """Map 32-bit int / float samples to 0–255 by scaling, never by clipping to white."""
    values = arr.astype(np.float32, copy=False)
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(arr.shape, np.uint8)
    lo = float(values[finite].min())
    hi = float(values[finite].max())
    values = np.where(finite, values, lo)
    if is_float and lo >= 0.0 and hi <= 1.0:
        out = values * 255.0
    elif lo >= 0.0 and hi <= 255.0:
        out = values
    elif lo >= 0.0 and hi <= 65535.0:
        out = values / 257.0
    elif hi > lo:
        out = (values - lo) * (255.0 / (hi - lo))
    else:
        out = np.zeros_like(values)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def frame_count(im: Image.Image) -> int:
    try:
        return max(1, int(getattr(im, "n_frames", 1)))
    except EOFError:
        return 1
