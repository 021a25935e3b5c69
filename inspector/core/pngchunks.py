"""PNG chunks read from the file's bytes: text (tEXt, zTXt, iTXt) and EXIF (eXIf).

Walking the chunk headers finds metadata wherever it sits, also after the image data, without
decoding a pixel (Pillow reads chunks after IDAT only by decoding the whole image).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

__all__ = ["PNG_SIGNATURE", "png_chunks", "png_exif", "png_text_chunks"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_INFLATE = 8 << 20  # compressed PNG text is inflated at most this far (zip bombs)
_MAX_PNG_CHUNKS = 100_000
TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")


def png_chunks(
    data: bytes, notes: list[str], wanted: tuple[bytes, ...] | None = None
) -> Iterator[tuple[bytes, bytes]]:
    """(type, body) of each chunk (of the ``wanted`` types), in file order, up to IEND."""
    if not data.startswith(PNG_SIGNATURE):
        return
    pos = len(PNG_SIGNATURE)
    for _ in range(_MAX_PNG_CHUNKS):
        if pos + 8 > len(data):
            break
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        if pos + 8 + length > len(data):
            notes.append("the PNG ends inside a chunk; metadata after that point was not read.")
            break
        if wanted is None or ctype in wanted:
            yield ctype, data[pos + 8 : pos + 8 + length]
        if ctype == b"IEND":
            break
        pos += 12 + length


def png_text_chunks(data: bytes, notes: list[str]) -> list[tuple[str, str]]:
    """(keyword, text) of every tEXt / zTXt / iTXt chunk, wherever it sits in the file."""
    out: list[tuple[str, str]] = []
    for ctype, body in png_chunks(data, notes, TEXT_CHUNKS):
        try:
            parsed = _png_text(ctype, body)
        except Exception as exc:
            notes.append(f"a PNG {ctype.decode()} chunk could not be decoded ({exc}).")
            parsed = None
        if parsed is not None:
            out.append(parsed)
    return out


def png_exif(data: bytes, notes: list[str] | None = None) -> bytes | None:
    """The body of the first eXIf chunk (a TIFF-structured EXIF block), or None."""
    for _ctype, body in png_chunks(data, [] if notes is None else notes, (b"eXIf",)):
        return body
    return None


def _png_text(ctype: bytes, body: bytes) -> tuple[str, str] | None:
    keyword, sep, rest = body.partition(b"\x00")
    if not sep or not keyword:
        return None
    key = keyword.decode("latin-1")
    if ctype == b"tEXt":
        return key, rest.decode("latin-1")
    if ctype == b"zTXt":
        return key, _inflate(rest[1:]).decode("latin-1")
    # iTXt: compression flag, method, language tag \0, translated keyword \0, text
    if len(rest) < 2:
        return None
    compressed, rest = rest[0], rest[2:]
    _lang, _, rest = rest.partition(b"\x00")
    _translated, _, text = rest.partition(b"\x00")
    if compressed:
        text = _inflate(text)
    return key, text.decode("utf-8", "replace")


def _inflate(blob: bytes) -> bytes:
    return zlib.decompressobj().decompress(blob, MAX_INFLATE)
