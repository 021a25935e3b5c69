"""Metadata: everything the file says about itself, listed in full and summarised in one line.

EXIF (every IFD Pillow reads: IFD0, Exif, GPS, Interop, IFD1; MakerNotes through exifread), XMP
(every property of every namespace, parsed with defusedxml), IPTC-IIM, the ICC profile, the EXIF
thumbnail compared with the picture, PNG text chunks, comments and the file-system times. The
bytes are the ones already loaded and hashed; the header is parsed again here, no pixel decoded.
Each part is read on its own: a part that fails adds a note and the others are still reported.
C2PA manifests are validated by :mod:`inspector.core.provenance`; this analysis only says whether
one is there, and repeats the cheap generator hints (PNG ``parameters``, IPTC source type …).
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
from PIL import ExifTags, Image, IptcImagePlugin

from inspector.core.exif import (
    IFD_NAMES,
    ORIENTATION,
    exif_text,
    gps_position,
    load_exif,
    tag_name,
)
from inspector.core.forensics.base import ForensicInput, ForensicRegion, ForensicResult
from inspector.core.forensics.exif_thumbnail import compare_thumbnail, thumbnail_bytes
from inspector.core.formats import DECODABLE_FORMATS
from inspector.core.icc import icc_summary
from inspector.core.iptc import iptc_fields
from inspector.core.pngchunks import png_exif, png_text_chunks
from inspector.core.provenance.c2pa_manifest import has_c2pa_jumbf
from inspector.core.provenance.generators import (
    AI_SOURCE_TYPES,
    describe_generator_text,
    generator_text,
    short_source_type,
)
from inspector.core.xmp import MAX_ENTRIES, find_packets, parse_packet

NAME = "metadata"
TITLE = "Metadata"
LIMITS = (
    "Metadata is easily removed or forged: its absence proves nothing (most websites and "
    "messengers strip it) and its presence proves only that some software wrote it. File-system "
    "times describe this copy of the file and change when it is copied. The thumbnail check works "
    "at thumbnail size, so small edits can pass unseen, and some editors rewrite the thumbnail."
)
VALUE_CHARS = 10_000  # per value; longer text is clipped with its full length stated
_XMP_KEY = "XML:com.adobe.xmp"
_MAKER_PREFIX = "MakerNote "
# XMP namespaces whose presence says which software handled the file (named in the statement).
_NOTABLE_NAMESPACES = {
    "http://ns.adobe.com/photoshop/1.0/": "Adobe Photoshop",
    "http://ns.adobe.com/camera-raw-settings/1.0/": "Adobe Camera Raw/Lightroom",
    "http://ns.adobe.com/lightroom/1.0/": "Adobe Lightroom",
    "http://www.gimp.org/xmp/": "GIMP",
    "http://ns.google.com/photos/1.0/camera/": "Google Camera",
    "http://ns.apple.com/ImageIO/1.0/": "Apple ImageIO",
    "http://iptc.org/std/Iptc4xmpExt/2008-02-29/": "IPTC Extension",
}


def analyze(evidence: ForensicInput) -> ForensicResult:
    notes: list[str] = []
    found: dict[str, Any] = {
        "exif": {}, "xmp": [], "iptc": {}, "icc": None, "thumbnail": None, "png_text": {},
        "comments": [], "gps": None, "file_times": {}, "ai_hints": [], "c2pa_manifest": False,
    }  # fmt: skip
    regions: list[ForensicRegion] = []
    heat: np.ndarray | None = None
    data = evidence.data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        im = _part(notes, "the file's metadata", lambda: _open(data))
        png_texts = _part(notes, "PNG text chunks", lambda: png_text_chunks(data, notes)) or []
        exif, tiff = (None, b"")
        if im is not None:
            exif, tiff = _part(notes, "EXIF", lambda: _exif_block(im, data, notes)) or (None, b"")
        if exif is not None:
            found["exif"] = _part(notes, "EXIF", lambda: _exif_tables(exif, notes)) or {}
            maker = _part(notes, "the MakerNote", lambda: _makernote(exif, tiff, notes))
            if maker:
                found["exif"]["MakerNote"] = maker
            found["gps"] = _part(notes, "the GPS position", lambda: gps_position(exif))
            thumb = _part(notes, "the EXIF thumbnail", lambda: _thumbnail(exif, tiff, evidence))
            if thumb is not None:
                found["thumbnail"], regions, heat = thumb
        if im is not None:
            found["xmp"] = _part(notes, "XMP", lambda: _xmp(im, data, png_texts, notes)) or []
            found["iptc"] = _part(notes, "IPTC", lambda: _iptc(im)) or {}
            profile = im.info.get("icc_profile")
            found["icc"] = _part(notes, "the ICC profile", lambda: icc_summary(profile))
            found["comments"] = _part(notes, "comments", lambda: _comments(im)) or []
            im.close()
    for message in dict.fromkeys(str(w.message).strip() for w in caught):
        notes.append(f"Pillow warned while reading metadata: {message}")
    found["png_text"] = _png_text(png_texts)
    found["file_times"] = _part(notes, "file-system times", lambda: _file_times(evidence)) or {}
    found["c2pa_manifest"] = bool(_part(notes, "C2PA presence", lambda: has_c2pa_jumbf(data)))
    found["ai_hints"] = _part(notes, "generator hints", lambda: _ai_hints(found, png_texts)) or []
    found["notes"] = notes
    return ForensicResult(
        name=NAME,
        title=TITLE,
        statement=_statement(found),
        limits=LIMITS,
        indicators=found,
        regions=regions,
        map=heat,
        map_legend=(
            "bright = the EXIF thumbnail differs from the image here (at thumbnail resolution)"
            if heat is not None
            else None
        ),
        parameters={
            "exif_reader": f"Pillow {Image.__version__}",
            "makernote_reader": "exifread",
            "xmp_parser": "defusedxml",
            "value_chars_limit": VALUE_CHARS,
        },
    )


def _part(notes: list[str], what: str, read: Callable[[], Any]) -> Any:
    """Run one reader; a failure becomes a note and None, so the other parts still run."""
    try:
        return read()
    except MemoryError:
        notes.append(f"{what} could not be read: not enough memory.")
    except Exception as exc:
        notes.append(f"{what} could not be read ({type(exc).__name__}: {str(exc)[:200]}).")
    return None


def _open(data: bytes) -> Image.Image:
    """The file opened by Pillow (header only, no pixels decoded)."""
    return Image.open(io.BytesIO(data), formats=DECODABLE_FORMATS)


# --------------------------------------------------------------------------------------------
# EXIF


def _exif_block(im: Image.Image, data: bytes, notes: list[str]) -> tuple[Image.Exif, bytes]:
    """The parsed EXIF and its TIFF-structured bytes (thumbnail offsets count from their start)."""
    exif = load_exif(im, data, notes)
    raw = im.info.get("exif")
    if im.format == "TIFF":
        tiff = data
    elif isinstance(raw, bytes):
        tiff = raw
    elif im.format == "PNG":
        tiff = png_exif(data) or b""
    else:
        tiff = b""
    while tiff.startswith(b"Exif\x00\x00"):
        tiff = tiff[6:]
    if tiff and not len(exif) and im.format != "TIFF":
        notes.append(f"an EXIF block of {len(tiff)} bytes is present but holds no readable tags.")
    return exif, tiff


def _exif_tables(exif: Image.Exif, notes: list[str]) -> dict[str, dict[str, str]]:
    """``{ifd name: {tag name: value text}}`` for every IFD Pillow reads."""
    tables: dict[str, dict[str, str]] = {}
    for ifd, ifd_name in IFD_NAMES.items():
        if ifd is None:
            tags: Any = exif
        else:
            try:
                tags = exif.get_ifd(ifd)
            except Exception as exc:
                notes.append(f"EXIF {ifd_name} IFD could not be read ({type(exc).__name__}).")
                continue
        table: dict[str, str] = {}
        for tag, value in tags.items():
            name = tag_name(tag, ifd)
            if name in table:
                name = f"{name} (0x{tag:04X})"
            table[name] = exif_text(value, tag, limit=VALUE_CHARS)
        if table:
            tables[ifd_name] = table
    return tables


def _makernote(exif: Image.Exif, tiff: bytes, notes: list[str]) -> dict[str, str]:
    """The camera maker's own tags, as exifread names them (it reads many makes' formats)."""
    blob = exif.get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.MakerNote)
    if not blob or not tiff:
        return {}
    import exifread

    tags = exifread.process_file(
        io.BytesIO(tiff), details=True, extract_thumbnail=False, truncate_tags=False
    )
    maker = {
        key[len(_MAKER_PREFIX) :]: exif_text(str(value), limit=VALUE_CHARS)
        for key, value in tags.items()
        if key.startswith(_MAKER_PREFIX)
    }
    if not maker:
        size = len(blob) if isinstance(blob, bytes | tuple) else "?"
        notes.append(
            f"the MakerNote ({size} bytes) is in a format exifread does not read; it is listed "
            "as raw bytes under Exif."
        )
    return maker


def _thumbnail(
    exif: Image.Exif, tiff: bytes, evidence: ForensicInput
) -> tuple[dict[str, Any], list[ForensicRegion], np.ndarray | None] | None:
    ifd1 = exif.get_ifd(ExifTags.IFD.IFD1)
    if not ifd1:
        return None
    blob, problem = thumbnail_bytes(tiff, ifd1)
    if blob is None:
        if problem is None:
            return None
        return {"present": True, "matches": None, "verdict": f"not compared: {problem}"}, [], None
    try:
        orientation: int | None = int(exif.get(ORIENTATION))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        orientation = None
    try:
        return compare_thumbnail(blob, evidence.image, orientation)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {str(exc)[:200]}"
        verdict = f"not compared: the thumbnail cannot be decoded ({reason})"
        return {"present": True, "bytes": len(blob), "matches": None, "verdict": verdict}, [], None


# --------------------------------------------------------------------------------------------
# XMP, IPTC, text


def _xmp(
    im: Image.Image, data: bytes, png_texts: list[tuple[str, str]], notes: list[str]
) -> list[dict[str, Any]]:
    known = [_as_bytes(im.info.get("xmp"))] + [
        value.encode("utf-8") for key, value in png_texts if key == _XMP_KEY
    ]
    entries: list[dict[str, Any]] = []
    unique = list(dict.fromkeys(p for p in known if p))  # Pillow also reads PNG's XMP chunk
    for where, packet in find_packets(data, unique):
        try:
            entries += parse_packet(packet, notes, MAX_ENTRIES - len(entries))
        except Exception as exc:
            notes.append(f"an XMP packet ({where}) could not be parsed ({type(exc).__name__}).")
    if any(e["property"].endswith(":HasExtendedXMP") for e in entries):
        notes.append("the XMP says it continues in an 'extended XMP' part, which is not read.")
    return entries


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, tuple):  # TIFF XMP tag read as a tuple of byte values
        return bytes(value)
    return b""


def _iptc(im: Image.Image) -> dict[str, Any]:
    info = IptcImagePlugin.getiptcinfo(im)  # type: ignore[arg-type]
    return iptc_fields(info, VALUE_CHARS) if info else {}


def _comments(im: Image.Image) -> list[str]:
    comment = im.info.get("comment")
    if not comment or im.format == "PNG":
        return []
    text = comment.decode("utf-8", "replace") if isinstance(comment, bytes) else str(comment)
    return [_clip(text)]


def _png_text(texts: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in texts:
        name, n = key, 2
        while name in out:
            name, n = f"{key} ({n})", n + 1
        if key == _XMP_KEY:
            out[name] = f"<XMP packet, {len(value)} characters: listed under XMP>"
        else:
            out[name] = _clip(value)
    return out


def _clip(text: str) -> str:
    """Text exactly as written, cut at VALUE_CHARS with its full length stated."""
    if len(text) <= VALUE_CHARS:
        return text
    return f"{text[:VALUE_CHARS]} […; {len(text)} characters in all]"


def _file_times(evidence: ForensicInput) -> dict[str, Any]:
    """Times of the file as it is on disk now (os.stat), in UTC."""
    try:
        st = os.stat(evidence.path)
    except FileNotFoundError:
        return {"exists": False, "note": "the file no longer exists at its path"}
    times = {"exists": True, "modified": _utc(st.st_mtime), "accessed": _utc(st.st_atime)}
    birth = getattr(st, "st_birthtime", None)
    if birth is not None:
        times["created"] = _utc(birth)
    if os.name != "nt":  # on Windows st_ctime is the creation time (st_birthtime, above)
        times["metadata_changed"] = _utc(st.st_ctime)
    times["size_bytes"] = st.st_size
    times["size_matches_analysed_bytes"] = st.st_size == len(evidence.data)
    return times


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat(timespec="seconds")


def _ai_hints(found: dict[str, Any], png_texts: list[tuple[str, str]]) -> list[str]:
    """Generator hints as the provenance reading words them (PNG text, EXIF/XMP software …)."""
    texts = [(key, value) for key, value in png_texts if key != _XMP_KEY]
    exif_ifd0 = found["exif"].get("IFD0", {})
    for tag in ("Software", "ImageDescription", "Artist", "Make", "Model", "XPComment"):
        if exif_ifd0.get(tag):
            texts.append((f"EXIF {tag}", exif_ifd0[tag]))
    if found["exif"].get("Exif", {}).get("UserComment"):
        texts.append(("EXIF UserComment", found["exif"]["Exif"]["UserComment"]))
    hints = []
    for entry in found["xmp"]:
        prop, value = entry["property"], entry["value"]
        if isinstance(value, str) and prop.endswith((":CreatorTool", ":softwareAgent")):
            texts.append((f"XMP {prop.rsplit(':', 1)[-1]}", value))
        if prop.endswith(":DigitalSourceType") and isinstance(value, str):
            short = short_source_type(value)
            if short in AI_SOURCE_TYPES:
                hints.append(f"XMP (IPTC DigitalSourceType) says the image was "
                             f"{AI_SOURCE_TYPES[short]} ({short})")  # fmt: skip
    texts += [("file comment", c) for c in found["comments"]]
    return hints + [describe_generator_text(k, v) for k, v in generator_text(texts).items()]


# --------------------------------------------------------------------------------------------
# The one-line statement


def _statement(found: dict[str, Any]) -> str:
    parts = [_exif_summary(found["exif"], found["gps"])]
    if found["xmp"]:
        spaces = dict.fromkeys(e["namespace"] for e in found["xmp"])
        named = [_NOTABLE_NAMESPACES[ns] for ns in spaces if ns in _NOTABLE_NAMESPACES]
        incl = f" incl. {', '.join(named)}" if named else ""
        parts.append(f"XMP: {len(found['xmp'])} properties in {len(spaces)} namespaces{incl}")
    else:
        parts.append("no XMP")
    if found["iptc"]:
        parts.append(f"IPTC: {len(found['iptc'])} datasets")
    icc = found["icc"]
    if icc:
        parts.append(f"ICC profile: {icc.get('description') or 'unnamed'}")
    thumb = found["thumbnail"]
    if thumb:
        parts.append(f"EXIF thumbnail {thumb['verdict']}")
    if found["png_text"]:
        keys = list(found["png_text"])
        more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
        parts.append(f"PNG text: {', '.join(keys[:3])}{more}")
    if found["ai_hints"]:
        more = f" (+{len(found['ai_hints']) - 1} more)" if len(found["ai_hints"]) > 1 else ""
        parts.append(f"AI-generator hint: {found['ai_hints'][0]}{more}")
    parts.append("C2PA manifest present (see Provenance)" if found["c2pa_manifest"] else "no C2PA")
    if found["notes"]:
        parts.append(f"{len(found['notes'])} note(s) on unreadable parts")
    return "; ".join(parts) + "."


def _exif_summary(exif: dict[str, dict[str, str]], gps: dict[str, float] | None) -> str:
    if not exif:
        return "no EXIF"
    ifd0, sub = exif.get("IFD0", {}), exif.get("Exif", {})
    make, model = ifd0.get("Make", ""), ifd0.get("Model", "")
    camera = model if make and model.lower().startswith(make.lower().split()[0]) else (
        f"{make} {model}".strip()
    )
    words = [camera or "no camera named"]
    taken, changed = sub.get("DateTimeOriginal"), ifd0.get("DateTime")
    if taken:
        words.append(f"taken {taken}")
    if changed and changed != taken:
        words.append(f"modified {changed}")
    if ifd0.get("Software"):
        words.append(f"software {ifd0['Software'][:80]}")
    if gps and "latitude" in gps and "longitude" in gps:
        words.append(f"GPS {gps['latitude']:.5f}, {gps['longitude']:.5f}")
    count = sum(len(t) for t in exif.values())
    return f"EXIF ({count} tags): {', '.join(words)}"
