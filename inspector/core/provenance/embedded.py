"""Text embedded in an image file that may name its maker: XMP properties, EXIF text, comments.

Read from the bytes already loaded; nothing here decodes pixels or opens the evidence file.
(PNG text chunks are read by :mod:`inspector.core.pngchunks`.)
"""

from __future__ import annotations

import io
import re
import warnings
from typing import Any

from PIL import Image

from inspector.core.exif import exif_text, load_exif
from inspector.core.formats import DECODABLE_FORMATS

__all__ = ["exif_texts", "xmp_value"]

_MAX_SCAN_HITS = 32  # occurrences of an XMP property name examined per file

# --------------------------------------------------------------------------------------------
# XMP (scanned in the raw bytes: JPEG APP1, PNG iTXt, WebP/TIFF/HEIF XMP all hold plain XML)


def xmp_value(data: bytes, name: str, resource: bool = False) -> str | None:
    """First value of XMP property ``prefix:name`` written as attribute, element or resource."""
    needle = f":{name}".encode()
    pattern = re.compile(r"[A-Za-z_][\w.-]*:" + re.escape(name) + r"(?![\w.-])")
    start = 0
    for _ in range(_MAX_SCAN_HITS):
        i = data.find(needle, start)
        if i < 0:
            return None
        start = i + len(needle)
        window = data[max(0, i - 64) : i + 1024].decode("utf-8", "replace")
        for m in pattern.finditer(window):
            if m.start() > 0 and window[m.start() - 1] == "/":  # a closing tag
                continue
            value = _property_value(window[m.end() :], resource)
            if value:
                return value[:400]
    return None


def _property_value(rest: str, resource: bool) -> str | None:
    stripped = rest.lstrip()
    if stripped.startswith("="):  # attribute form: prefix:Name="value"
        m = re.match(r"=\s*([\"'])(.*?)\1", stripped, re.DOTALL)
        return _xml_unescape(m.group(2)).strip() if m else None
    gt = rest.find(">")
    if gt < 0:
        return None
    attrs = rest[:gt]
    if resource:
        m = re.search(r"rdf:resource\s*=\s*([\"'])(.*?)\1", attrs, re.DOTALL)
        if m:
            return _xml_unescape(m.group(2)).strip()
    if attrs.rstrip().endswith("/"):
        return None
    body = rest[gt + 1 :]
    lt = body.find("<")
    content = body[:lt] if lt >= 0 else ""
    if content.strip():
        return _xml_unescape(content).strip()
    # <prefix:CreatorTool><rdf:Alt><rdf:li>value</rdf:li>… style
    m = re.match(r"\s*(?:<rdf:(?:Alt|Seq|Bag)>\s*)?<rdf:li[^>]*>([^<]*)<", body)
    return _xml_unescape(m.group(1)).strip() if m and m.group(1).strip() else None


def _xml_unescape(text: str) -> str:
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'")):
        text = text.replace(entity, char)
    return text.replace("&amp;", "&")


# --------------------------------------------------------------------------------------------
# EXIF and format comments (through Pillow, header only: no pixels are decoded)

_EXIF_TEXT_TAGS = {  # where -> (IFD or None for IFD0, tag)
    "EXIF ImageDescription": (None, 0x010E),
    "EXIF Make": (None, 0x010F),
    "EXIF Model": (None, 0x0110),
    "EXIF Software": (None, 0x0131),
    "EXIF Artist": (None, 0x013B),
    "EXIF XPComment": (None, 0x9C9C),
    "EXIF UserComment": (0x8769, 0x9286),
}


def exif_texts(data: bytes, fmt: str | None) -> tuple[str | None, list[tuple[str, str]]]:
    """EXIF Software, and (where, text) of the EXIF text tags and the file's comment."""
    texts: list[tuple[str, str]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            im = Image.open(io.BytesIO(data), formats=DECODABLE_FORMATS)
        except Exception:  # not an image Pillow knows: nothing to read here
            return None, texts
        with im:
            exif = load_exif(im, data)
            ifds: dict[int | None, Any] = {None: exif}
            software = None
            for where, (ifd, tag) in _EXIF_TEXT_TAGS.items():
                try:
                    if ifd not in ifds:
                        ifds[ifd] = exif.get_ifd(ifd)
                    raw = ifds[ifd].get(tag)
                except Exception:
                    continue
                text = exif_text(raw, tag)
                if not text:
                    continue
                if where == "EXIF Software":
                    software = text[:200]
                texts.append((where, text))
            comment = im.info.get("comment")
            if comment and im.format != "PNG":
                text = (
                    comment.decode("utf-8", "replace")
                    if isinstance(comment, bytes)
                    else str(comment)
                )
                texts.append((f"{im.format or fmt or 'file'} comment", text))
    return software, texts
