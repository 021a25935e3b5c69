"""EXIF values as text: the one place that turns what Pillow or exifread return into words.

EXIF stores strings as bytes with NUL padding, some comments as UTF-16 or with an 8-byte charset
code, numbers as rationals and binary blobs (MakerNote, versions) as ``UNDEFINED`` bytes. Loading
(the summary in :mod:`inspector.core.imageio`), provenance and the metadata analysis all read
values through :func:`exif_text`, so the same tag reads the same everywhere.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

from PIL import ExifTags, Image

from inspector.core.pngchunks import png_exif

__all__ = [
    "IFD_NAMES",
    "ORIENTATION",
    "ORIENTATION_TRANSPOSE",
    "bytes_summary",
    "exif_text",
    "gps_position",
    "load_exif",
    "rational_text",
    "tag_name",
]

XP_TAGS = frozenset({0x9C9B, 0x9C9C, 0x9C9D, 0x9C9E, 0x9C9F})  # XPTitle … XPSubject: UTF-16LE
USER_COMMENT = 0x9286
MAX_LIST_ITEMS = 256  # values of a long array (strip offsets of a TIFF) shown before "…"

ORIENTATION = 0x0112
# EXIF orientation (2-8) -> the transpose that shows the picture the way the camera meant it.
ORIENTATION_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Where Pillow keeps each IFD (ExifTags.IFD) -> the name EXIF readers give it.
IFD_NAMES: dict[int | None, str] = {
    None: "IFD0",
    ExifTags.IFD.Exif: "Exif",
    ExifTags.IFD.GPSInfo: "GPS",
    ExifTags.IFD.Interop: "Interop",
    ExifTags.IFD.IFD1: "IFD1",
}


def load_exif(im: Image.Image, data: bytes, notes: list[str] | None = None) -> Image.Exif:
    """The EXIF of an opened (not decoded) image, without decoding its pixels.

    Pillow finds a PNG's eXIf chunk after the image data only by decoding the whole image, so for
    PNG the chunk is taken from the bytes instead.
    """
    if im.format == "PNG" and "exif" not in im.info:
        exif = Image.Exif()
        raw = png_exif(data, notes)
        if raw:
            exif.load(raw)
        return exif
    return im.getexif()


def tag_name(tag: int, ifd: int | None = None) -> str:
    """The standard name of a tag (GPS tags from their own table), else ``"Tag 0x927C"``."""
    if ifd == ExifTags.IFD.GPSInfo:
        name = ExifTags.GPSTAGS.get(tag)
    elif ifd == ExifTags.IFD.Interop and tag in (1, 2):
        name = ("InteropIndex", "InteropVersion")[tag - 1]
    else:
        name = ExifTags.TAGS.get(tag)
    return name or f"Tag 0x{tag:04X}"


def exif_text(
    value: Any, tag: int | None = None, *, limit: int | None = None, multiline: bool = True
) -> str:
    """Readable text of one EXIF value; ``""`` for None or an empty value. Never raises.

    Text tags lose their NUL padding; XP* tags are read as UTF-16LE and UserComment by its charset
    code; rationals read ``"1/100"``; bytes that are not text read ``"<N bytes: 0a1b…>"``.
    ``multiline=False`` turns line breaks and tabs into spaces (for one-line summaries); other
    control characters always become ``"?"``. ``limit`` clips the text, saying by how much.
    """
    try:
        text = _text(value, tag)
    except Exception:  # a value type nobody expected: say what it is rather than fail
        text = f"<{type(value).__name__}>"
    text = text.replace("\x00", " ").strip()
    keep = "\n\r\t" if multiline else ""
    text = "".join(
        ch if ch.isprintable() or ch in keep else (" " if ch in "\n\r\t" else "?") for ch in text
    )
    if limit is not None and len(text) > limit:
        text = f"{text[:limit]} […; {len(text)} characters in all]"
    return text


def _text(value: Any, tag: int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if tag in XP_TAGS and isinstance(value, tuple | list):
        with contextlib.suppress(ValueError, TypeError, OverflowError):
            value = bytes(value)  # Pillow hands XP* tags (type BYTE) over as a tuple of ints
    if isinstance(value, bytes | bytearray):
        return _bytes_text(bytes(value), tag)
    if _is_rational(value):
        return rational_text(value)
    if isinstance(value, tuple | list):
        items = [_text(v, None) for v in value[:MAX_LIST_ITEMS]]
        more = f", … ({len(value)} values)" if len(value) > MAX_LIST_ITEMS else ""
        return ", ".join(items) + more
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _bytes_text(raw: bytes, tag: int | None) -> str:
    if tag in XP_TAGS:
        return raw.decode("utf-16-le", "replace")
    if tag == USER_COMMENT:
        return _user_comment(raw)
    body = raw.rstrip(b"\x00")
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        decoded = None
    if decoded is not None and all(ch.isprintable() or ch in "\n\r\t" for ch in decoded):
        return decoded
    return bytes_summary(raw)


def bytes_summary(raw: bytes, shown: int = 16) -> str:
    """``"<N bytes: 0a1b…>"``: binary data named by its size and its first bytes."""
    more = "…" if len(raw) > shown else ""
    return f"<{len(raw)} bytes: {raw[:shown].hex()}{more}>" if raw else "<0 bytes>"


def _user_comment(raw: bytes) -> str:
    """UserComment: an 8-byte character code ("ASCII", "UNICODE", "JIS" or zeros), then text."""
    code, body = raw[:8], raw[8:]
    if code.startswith(b"UNICODE"):
        # Writers disagree on byte order; the one with more ASCII-range characters wins.
        be, le = body.decode("utf-16-be", "replace"), body.decode("utf-16-le", "replace")
        return max((be, le), key=lambda s: sum(32 <= ord(c) < 127 for c in s))
    if code.startswith(b"ASCII") or code == b"\x00" * 8:
        return body.decode("latin-1")
    if code.startswith(b"JIS"):
        return body.decode("shift_jis", "replace")
    return raw.decode("utf-8", "replace")


def _is_rational(value: Any) -> bool:
    return hasattr(value, "numerator") and hasattr(value, "denominator") and not isinstance(
        value, int | bool
    )


def rational_text(value: Any) -> str:
    """A rational exactly as stored: ``"28/10"``, ``"35"`` for n/1, ``"n/0"`` kept as written."""
    num, den = value.numerator, value.denominator
    with contextlib.suppress(AttributeError):  # Pillow keeps the unreduced pair as written
        num, den = value._numerator, value._denominator
    if isinstance(num, float) or isinstance(den, float):
        return f"{float(num) / float(den):g}" if den else f"{num}/{den}"
    return str(num) if den == 1 else f"{num}/{den}"


def gps_position(exif: Image.Exif) -> dict[str, float] | None:
    """Latitude/longitude in decimal degrees (and altitude in metres) from the GPS IFD."""
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    position: dict[str, float] = {}
    for key, value_tag, ref_tag, negative in (
        ("latitude", 2, 1, "S"),
        ("longitude", 4, 3, "W"),
    ):
        value = gps.get(value_tag)
        if not value:
            continue
        d, m, s = (float(v) for v in (*value, 0, 0)[:3])
        degrees = d + m / 60 + s / 3600
        ref = exif_text(gps.get(ref_tag)).upper()
        if math.isfinite(degrees):
            position[key] = round(-degrees if ref.startswith(negative) else degrees, 7)
    altitude = gps.get(6)
    if altitude is not None and math.isfinite(float(altitude)):
        below = gps.get(5) in (1, b"\x01")
        position["altitude_m"] = round(-float(altitude) if below else float(altitude), 2)
    return position or None
