"""Which image format a file is: the one place that reads signatures and names formats.

Every part of the app names a format the way Pillow does (``"JPEG"``, ``"WEBP"``, ``"JPEG2000"``):
:func:`sniff_format` for the formats images come in, :func:`normalise_format` for a name, MIME type
or suffix someone hands us, :func:`format_label` for the words a message shows ("WebP"), and
:func:`sniff_other_format` for files we recognise but never decode (PSD, PDF, SVG …).
"""

from __future__ import annotations

import re

from PIL import Image

__all__ = [
    "DECODABLE_FORMATS",
    "HEIF_BRANDS",
    "format_label",
    "normalise_format",
    "sniff_format",
    "sniff_other_format",
]

# Pillow formats we decode. Deliberately a short list of formats photographs and generated images
# actually come in: it keeps Pillow's rarely used (and historically fragile) plugins away from
# untrusted evidence, and stops random bytes being "identified" as a lax format such as TGA.
# HEIF/JXL are listed so that a registered plugin (pillow-heif, pillow-jxl) is picked up.
_WANTED_FORMATS = (
    "JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP", "DIB", "AVIF", "HEIF", "JXL",
    "JPEG2000", "PPM",
)  # fmt: skip
Image.init()
DECODABLE_FORMATS: tuple[str, ...] = tuple(f for f in _WANTED_FORMATS if f in Image.OPEN)

# ISO-BMFF major brands of HEIF images (HEVC-coded and generic image/sequence brands).
HEIF_BRANDS = frozenset({
    b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1",
})  # fmt: skip
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_GENERIC_BRANDS = frozenset({b"mif1", b"msf1"})  # say "HEIF container"; the codec is elsewhere

_LABELS = {  # Pillow name -> how a sentence names it
    "WEBP": "WebP",
    "JPEG2000": "JPEG 2000",
    "PPM": "PNM",
    "JXL": "JPEG XL",
    "HEIF": "HEIC/HEIF",
}
_MIME_FORMATS = {
    "image/jpeg": "JPEG",
    "image/jpg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/tiff": "TIFF",
    "image/gif": "GIF",
    "image/avif": "AVIF",
    "image/heif": "HEIF",
    "image/heic": "HEIF",
    "image/jxl": "JXL",
    "image/bmp": "BMP",
    "image/jp2": "JPEG2000",
    "image/x-portable-anymap": "PPM",
    "image/x-adobe-dng": "DNG",
    "image/dng": "DNG",
    "image/svg+xml": "SVG",
}
_ALIASES = {  # suffixes and other spellings -> Pillow's name
    "JPG": "JPEG", "JPE": "JPEG", "JFIF": "JPEG", "TIF": "TIFF", "HEIC": "HEIF", "HIF": "HEIF",
    "JP2": "JPEG2000", "J2K": "JPEG2000", "JPX": "JPEG2000", "JPEG 2000": "JPEG2000",
    "PNM": "PPM", "PBM": "PPM", "PGM": "PPM", "JPEG XL": "JXL",
}  # fmt: skip


def sniff_format(data: bytes) -> str | None:
    """Pillow's name for the image format the bytes' signature claims, or None."""
    head = bytes(data[:32])
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n" or head[:4] == b"\xff\x4f\xff\x51":
        return "JPEG2000"
    if head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n")):
        return "JXL"
    if head[4:8] == b"ftyp":
        return _iso_bmff_format(data)
    if head[:2] == b"BM":
        return "BMP"
    if re.match(rb"P[1-7]\s", head):
        return "PPM"
    return None


def _iso_bmff_format(data: bytes) -> str | None:
    """AVIF, HEIF or JPEG XL from an ``ftyp`` box: its major brand, then its compatible ones."""
    size = int.from_bytes(data[:4], "big")
    major = bytes(data[8:12])
    compatible = [bytes(data[i : i + 4]) for i in range(16, min(max(size, 16), 256), 4)]
    if major in _AVIF_BRANDS:
        return "AVIF"
    if major == b"jxl ":
        return "JXL"
    if major in _GENERIC_BRANDS and any(b in _AVIF_BRANDS for b in compatible):
        return "AVIF"
    if major in HEIF_BRANDS:
        return "HEIF"
    return None


def normalise_format(name: str | None) -> str | None:
    """Pillow's name for a format name, suffix (``".jpg"``) or MIME type; None when empty."""
    if not name or not isinstance(name, str):
        return None
    text = name.strip()
    if "/" in text:
        return _MIME_FORMATS.get(text.lower())
    upper = text.lstrip(".").upper()
    return _ALIASES.get(upper, upper) or None


def format_label(name: str | None) -> str:
    """How a sentence names a format: ``"WEBP"`` -> ``"WebP"``; unknown names pass through."""
    if not name:
        return "image"
    return _LABELS.get(name, name)


def sniff_other_format(data: bytes) -> str | None:
    """Describe a file we recognise but never decode (so the user can convert it), or None.

    HEIF, AVIF and JPEG XL are named here too: they are decoded only when a Pillow plugin for
    them is installed, and this is asked only when decoding failed.
    """
    head = bytes(data[:64])
    fmt = sniff_format(head)
    if fmt == "HEIF":
        return "HEIC/HEIF (iPhone and many recent phones)"
    if fmt in ("AVIF", "JXL"):
        return format_label(fmt)
    if head[4:8] == b"ftyp" and head[8:12] == b"crx ":
        return "Canon CR3 raw"
    if head.startswith(b"8BPS"):
        return "Photoshop (PSD)"
    if head.startswith(b"%PDF-"):
        return "PDF document"
    if head.startswith((b"%!PS", b"\xc5\xd0\xd3\xc6")):
        return "PostScript/EPS"
    if head.startswith(b"FUJIFILMCCD-RAW"):
        return "Fujifilm RAF raw"
    if head.startswith(b"qoif"):
        return "QOI"
    if head.startswith(b"\x00\x00\x01\x00"):
        return "Windows icon (ICO)"
    if data[-18:] == b"TRUEVISION-XFILE.\x00":
        return "TGA"
    start = bytes(data[:4096]).lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith((b"<svg", b"<?xml", b"<!doctype svg")) and b"<svg" in start:
        return "SVG (vector drawing)"
    return None
