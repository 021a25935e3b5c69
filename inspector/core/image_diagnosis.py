"""Why an evidence file could not be loaded, in words an investigator can act on.

:class:`ImageLoadError` carries a machine-readable ``kind`` and a message. :func:`classify` turns
whatever a decoder raised into one: a truncated copy (the container ends before it says it
should), a damaged file (named by the format its signature claims), a format or variant this
installation cannot decode (named, with what to do), a decompression bomb, or data that is no
image at all. Python-level slips inside a decoder ("string index out of range") and the decoder's
numeric error codes are said in words; their raw text goes to the log.
"""

from __future__ import annotations

import io
import logging
import re
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from PIL import Image, UnidentifiedImageError

from inspector.core.formats import (
    DECODABLE_FORMATS,
    format_label,
    sniff_format,
    sniff_other_format,
)

__all__ = [
    "ERROR_KINDS",
    "OTHER_FORMATS",
    "TRUNCATED_MESSAGE",
    "ImageLoadError",
    "classify",
    "looks_truncated",
]

log = logging.getLogger(__name__)

ErrorKind = Literal[
    "not-found",
    "not-a-file",
    "permission",
    "empty",
    "not-an-image",
    "unsupported",
    "truncated",
    "too-large",
    "unreadable",
]
ERROR_KINDS: frozenset[str] = frozenset(ErrorKind.__args__)  # type: ignore[attr-defined]



# Formats Pillow reads beyond the photo formats (PCX, SGI, DDS, ICO, PSD, QOI …), tried only when
# none of DECODABLE_FORMATS opens the file. Only plugins that check a signature or a header before
# decoding: formats without one (TGA) would take random bytes for a picture. EPS is never opened:
# Pillow renders it by running Ghostscript on the file's PostScript.
_HEADER_CHECKED = frozenset({"IM", "SPIDER", "PCD"})  # no accept function, but a strict _open
_NEVER_OPENED = frozenset({"EPS"})
Image.init()
OTHER_FORMATS: tuple[str, ...] = tuple(
    name for name, (_, accept) in Image.OPEN.items()
    if name not in DECODABLE_FORMATS and name not in _NEVER_OPENED
    and (accept is not None or name in _HEADER_CHECKED)
)

_TRUNCATION_HINTS = re.compile(
    r"truncated|expected to read \d+ bytes but only got|premature end|unexpected end|"
    r"not enough data|ran out of data",
    re.IGNORECASE,
)
_UNSUPPORTED_HINTS = re.compile(
    r"not available|unsupported|not supported|unknown pixel mode|unknown raw mode|"
    r"unrecognized mode|unknown compression|ghostscript",
    re.IGNORECASE,
)


_BOMB_HINTS = re.compile(  # Pillow's limits on compressed text and profile chunks (PNG)
    r"decompressed data too large|too much memory used in text chunks", re.IGNORECASE
)
_NO_DECODER_HINTS = re.compile(r"cannot find loader|no decoder|decoder \S+ not available",
                               re.IGNORECASE)
# What a libtiff build without an optional codec says (it prints it; see imageio)
_LIBTIFF_NO_CODEC = re.compile(
    r"(\w+) compression support is not configured|compression scheme (\d+) .*not implemented",
    re.IGNORECASE,
)
_DECODER_ERROR = re.compile(r"(?:decoder|encoder) error (-?\d+)|^(-\d+)$")
# Pillow's codec status codes (ImPlatform/Imaging.h: IMAGING_CODEC_*)
_CODEC_ERRORS = {
    -1: "the compressed data runs past the end of the image",
    -2: "the compressed data is damaged",
    -3: "the decoder failed for a reason it did not give",
    -4: "the decoder cannot handle this variant of the format",
    -9: "the decoder ran out of memory (a size in the file may be absurd)",
}
# Python-level slips inside a decoder on inconsistent fields: the words, not the exception text
_INTERNAL_ERRORS = (IndexError, KeyError, TypeError, struct.error, ZeroDivisionError,
                    OverflowError, AttributeError)
_INCONSISTENT = ("its header fields contradict each other: for example more strips, planes or "
                 "tables than the image has, or sizes that overflow")
_OPTIONAL_TIFF_CODECS = {"webp": "WebP", "zstd": "Zstandard", "lzma": "LZMA", "lerc": "LERC",
                         "jpegxl": "JPEG XL"}

class ImageLoadError(Exception):
    """An evidence file could not be loaded; ``kind`` says why, ``str()`` says it in plain words."""

    def __init__(self, kind: ErrorKind, path: Path, message: str) -> None:
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown ImageLoadError kind {kind!r}")
        super().__init__(kind, path, message)
        self.kind: ErrorKind = kind
        self.path = Path(path)
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"

    def __reduce__(self):  # keep it picklable despite the custom __init__ (worker processes)
        return (type(self), (self.kind, self.path, self.message))



def classify(p: Path, data: bytes, exc: BaseException, fmt: str | None = None, *,
             compression: str | None = None, library_messages: Sequence[str] = ()
             ) -> ImageLoadError:
    """Turn whatever a decoder raised into the ImageLoadError an investigator needs to see.

    ``fmt`` is the format that opened the file (None when none did); ``compression`` the TIFF
    compression it declares; ``library_messages`` what the decoding library printed meanwhile.
    """
    if isinstance(exc, ImageLoadError):
        return exc
    log.debug("%s: decoding failed (%s): %r; library said %s", p, fmt, exc, library_messages)
    if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning):
        dims = re.search(r"\((\d+) pixels\) exceeds limit of (\d+)", str(exc))
        detail = (
            f" ({int(dims.group(1)) / 1e6:.1f} megapixels; Pillow's safety limit is "
            f"{int(dims.group(2)) / 1e6:.1f} megapixels)"
            if dims
            else ""
        )
        return ImageLoadError(
            "too-large",
            p,
            f"the image is too large to analyse safely{detail}; it may be a "
            "'decompression bomb' built to exhaust memory.",
        )
    if isinstance(exc, MemoryError):
        return ImageLoadError("too-large", p, "there is not enough memory to decode this image.")
    text = str(exc)
    if _BOMB_HINTS.search(text):
        name = _format_name(fmt, data) or "image"
        return ImageLoadError(
            "too-large", p,
            f"the {name} file is a decompression bomb: a compressed text or colour-profile "
            "chunk in it expands to far more data than any real picture holds (built to exhaust "
            "memory), so it was not decoded.",
        )  # fmt: skip
    missing_codec = _missing_codec(fmt, compression, text, library_messages)
    if missing_codec is not None:
        return ImageLoadError("unsupported", p, missing_codec)
    if isinstance(exc, EOFError) or _TRUNCATION_HINTS.search(text) or looks_truncated(data):
        return ImageLoadError("truncated", p, TRUNCATED_MESSAGE)
    if _NO_DECODER_HINTS.search(text):
        name = _format_name(fmt, data) or "this"
        return ImageLoadError(
            "unsupported", p,
            f"format {name} is not supported: it is recognised, but this installation has no "
            f"decoder for it; {_CONVERT_ADVICE}",
        )  # fmt: skip
    if _UNSUPPORTED_HINTS.search(text):
        name = _format_name(fmt, data) or "this"
        return ImageLoadError(
            "unsupported",
            p,
            f"the file is a {name} image stored in a variant this program cannot decode "
            f"({text.strip() or type(exc).__name__}); {_CONVERT_ADVICE}",
        )
    if isinstance(exc, UnidentifiedImageError):
        return _unidentified(p, data)
    name = _format_name(fmt, data) or "image"
    return ImageLoadError("unreadable", p, f"the {name} data is damaged and cannot be decoded "
                                           f"({_in_words(exc)}).")


def _unidentified(p: Path, data: bytes) -> ImageLoadError:
    """No decoder took the file: a format we name but do not read, a known format's damaged
    file (the plugin's reason, re-learnt), or no image at all."""
    unsupported = sniff_other_format(data)
    if unsupported:
        return ImageLoadError(
            "unsupported",
            p,
            f"the file is in {unsupported} format, which this program cannot open; "
            f"{_CONVERT_ADVICE}",
        )
    diagnosis = _why_unidentified(data)
    if diagnosis is not None:
        return classify(p, data, diagnosis[1], diagnosis[0])
    known = _format_name(None, data)
    if known:
        return ImageLoadError(
            "unreadable",
            p,
            f"the file starts like a {known} image but its contents are damaged and cannot "
            "be decoded.",
        )
    what = "text" if _looks_like_text(data) else "data in no image format this program knows"
    return ImageLoadError("not-an-image", p, f"the file is not an image (it contains {what}).")


def _in_words(exc: BaseException) -> str:
    """A decoder's failure said in words: its error code explained, a Python slip on
    inconsistent fields described (the raw text is in the debug log), else its own text."""
    cause = exc.__cause__ if isinstance(exc, SyntaxError) and exc.__cause__ else exc
    if isinstance(cause, _INTERNAL_ERRORS):
        return _INCONSISTENT
    text = str(exc).strip()
    code = _DECODER_ERROR.search(text)
    if code:
        number = int(code.group(1) or code.group(2))
        return f"{_CODEC_ERRORS.get(number, 'the decoder failed')}; decoder error {number}"
    return text or type(exc).__name__


def _missing_codec(fmt: str | None, compression: str | None, text: str,
                   library_messages: Sequence[str]) -> str | None:
    """The message for a TIFF whose compression this build's libtiff lacks, or None."""
    said = next((m for m in library_messages if _LIBTIFF_NO_CODEC.search(m)), None)
    codec = _OPTIONAL_TIFF_CODECS.get((compression or "").lower())
    if fmt != "TIFF" or not (said or (codec and _DECODER_ERROR.search(text))):
        return None
    if said:
        match = _LIBTIFF_NO_CODEC.search(said)
        assert match is not None
        named = codec or (match.group(1) or f"scheme {match.group(2)}")
        return (f"the file is a TIFF image compressed with {named}, and the TIFF library "
                f"(libtiff) of this installation was built without {named} support; "
                f"{_CONVERT_ADVICE}")
    return (f"the file is a TIFF image compressed with {codec}, which could not be decoded: the "
            f"TIFF library (libtiff) of this installation may lack {codec} support, or the data "
            f"is damaged; {_CONVERT_ADVICE}")


def _format_name(fmt: str | None, data: bytes) -> str | None:
    """How a message names the format: the decoder's, else the one the signature claims."""
    name = fmt or sniff_format(data)
    return format_label(name) if name else None


_CONVERT_ADVICE = (
    "export or convert a copy to PNG or JPEG (keep the original as evidence) and load the copy."
)


def _why_unidentified(data: bytes) -> tuple[str, Exception] | None:
    """Re-run the plugin whose signature matches to learn why Image.open gave up.

    Image.open hides a plugin's reason ("unknown pixel mode", a short read) behind
    "cannot identify image file"; the reason decides between unsupported, truncated and damaged.
    """
    prefix = data[:16]
    for fmt in (*DECODABLE_FORMATS, *OTHER_FORMATS):
        factory, accept = Image.OPEN[fmt]
        if accept is None:  # a format without a signature says nothing about these bytes
            continue
        try:
            matches = accept(prefix)
        except Exception:
            continue
        if not matches or isinstance(matches, str):
            continue
        try:
            factory(io.BytesIO(data), "").close()
        except UnidentifiedImageError:
            continue
        except Exception as exc:
            return fmt, exc
    return None


TRUNCATED_MESSAGE = (
    "the file is truncated (the image data ends early); it may be an incomplete download or copy."
)


def _looks_like_text(data: bytes) -> bool:
    sample = data[:4096]
    try:
        decoded = sample.decode("utf-8")
    except UnicodeDecodeError:
        return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in decoded)
    return printable >= 0.95 * max(len(decoded), 1)


def looks_truncated(data: bytes) -> bool:
    """Whether the container structure of a known format ends before it says it should.

    Only consulted after decoding failed, to tell an incomplete copy from damaged data.
    """
    n = len(data)
    try:
        if data.startswith(b"\xff\xd8\xff"):
            return b"\xff\xd9" not in data
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            pos = 8
            while pos + 8 <= n:
                length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
                if ctype == b"IEND":
                    return False
                pos += 12 + length
            return True
        if data[:6] in (b"GIF87a", b"GIF89a"):
            return not data.rstrip(b"\x00").endswith(b";")
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return n < 8 + struct.unpack("<I", data[4:8])[0]
        if data[:2] == b"BM" and n >= 6:
            return n < struct.unpack("<I", data[2:6])[0]
        if data[:4] in (b"II*\x00", b"MM\x00*"):
            return _tiff_truncated(data)
        if data[:4] == b"\xff\x4f\xff\x51":
            return not data.rstrip(b"\x00").endswith(b"\xff\xd9")
        if data[4:8] in (b"ftyp", b"jP  "):
            return _boxes_truncated(data)
    except struct.error:
        return True
    return False


def _tiff_truncated(data: bytes) -> bool:
    """Check that IFD0 and the strips or tiles it points to lie inside the data."""
    n = len(data)
    e = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack(e + "I", data[4:8])
    if ifd + 2 > n:
        return True
    (count,) = struct.unpack(e + "H", data[ifd : ifd + 2])
    if ifd + 2 + 12 * count > n:
        return True
    sizes = {1: 1, 3: 2, 4: 4, 16: 8}
    values: dict[int, list[int]] = {}
    for i in range(count):
        entry = data[ifd + 2 + 12 * i : ifd + 14 + 12 * i]
        tag, typ, cnt = struct.unpack(e + "HHI", entry[:8])
        if tag not in (273, 279, 324, 325) or typ not in (3, 4):
            continue
        width = sizes[typ]
        if width * cnt <= 4:
            raw, at = entry[8 : 8 + width * cnt], None
        else:
            (at,) = struct.unpack(e + "I", entry[8:12])
            if at + width * cnt > n:
                return True
            raw = data[at : at + width * cnt]
        values[tag] = list(struct.unpack(e + ("H" if typ == 3 else "I") * cnt, raw))
    for offsets_tag, counts_tag in ((273, 279), (324, 325)):
        offsets, counts = values.get(offsets_tag), values.get(counts_tag)
        if offsets and counts and max(o + c for o, c in zip(offsets, counts, strict=False)) > n:
            return True
    return False


def _boxes_truncated(data: bytes) -> bool:
    """Walk ISO-BMFF / JP2 top-level boxes; a box running past the end means truncation."""
    n, pos = len(data), 0
    while pos + 8 <= n:
        size, btype = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        elif size == 0:  # runs to end of file
            return btype == b"jp2c" and not data.rstrip(b"\x00").endswith(b"\xff\xd9")
        if size < 8 or pos + size > n:
            return True
        pos += size
    return pos != n
