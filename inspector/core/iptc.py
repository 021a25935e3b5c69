"""IPTC-IIM datasets (the pre-XMP press metadata in JPEG APP13 / TIFF) named and decoded.

Pillow's :func:`PIL.IptcImagePlugin.getiptcinfo` reads the datasets as ``{(record, dataset):
bytes | [bytes]}``; this module gives them the names of the IPTC-IIM 4.2 specification and turns the
bytes into text (UTF-8 when the envelope says so, else UTF-8 with a Latin-1 fallback).
"""

from __future__ import annotations

from typing import Any

from inspector.core.exif import bytes_summary

__all__ = ["IPTC_NAMES", "iptc_fields"]

IPTC_NAMES: dict[tuple[int, int], str] = {
    (1, 0): "ModelVersion", (1, 5): "Destination", (1, 20): "FileFormat",
    (1, 22): "FileFormatVersion", (1, 30): "ServiceIdentifier", (1, 40): "EnvelopeNumber",
    (1, 50): "ProductID", (1, 60): "EnvelopePriority", (1, 70): "DateSent", (1, 80): "TimeSent",
    (1, 90): "CodedCharacterSet", (1, 100): "UniqueNameOfObject", (1, 120): "ARMIdentifier",
    (1, 122): "ARMVersion",
    (2, 0): "RecordVersion", (2, 3): "ObjectTypeReference", (2, 4): "ObjectAttributeReference",
    (2, 5): "ObjectName", (2, 7): "EditStatus", (2, 8): "EditorialUpdate", (2, 10): "Urgency",
    (2, 12): "SubjectReference", (2, 15): "Category", (2, 20): "SupplementalCategories",
    (2, 22): "FixtureIdentifier", (2, 25): "Keywords", (2, 26): "ContentLocationCode",
    (2, 27): "ContentLocationName", (2, 30): "ReleaseDate", (2, 35): "ReleaseTime",
    (2, 37): "ExpirationDate", (2, 38): "ExpirationTime", (2, 40): "SpecialInstructions",
    (2, 42): "ActionAdvised", (2, 45): "ReferenceService", (2, 47): "ReferenceDate",
    (2, 50): "ReferenceNumber", (2, 55): "DateCreated", (2, 60): "TimeCreated",
    (2, 62): "DigitalCreationDate", (2, 63): "DigitalCreationTime",
    (2, 65): "OriginatingProgram", (2, 70): "ProgramVersion", (2, 75): "ObjectCycle",
    (2, 80): "By-line", (2, 85): "By-lineTitle", (2, 90): "City", (2, 92): "Sub-location",
    (2, 95): "Province-State", (2, 100): "Country-PrimaryLocationCode",
    (2, 101): "Country-PrimaryLocationName", (2, 103): "OriginalTransmissionReference",
    (2, 105): "Headline", (2, 110): "Credit", (2, 115): "Source", (2, 116): "CopyrightNotice",
    (2, 118): "Contact", (2, 120): "Caption-Abstract", (2, 121): "LocalCaption",
    (2, 122): "Writer-Editor", (2, 125): "RasterizedCaption", (2, 130): "ImageType",
    (2, 131): "ImageOrientation", (2, 135): "LanguageIdentifier", (2, 150): "AudioType",
    (2, 151): "AudioSamplingRate", (2, 152): "AudioSamplingResolution", (2, 153): "AudioDuration",
    (2, 154): "AudioOutcue", (2, 184): "JobID", (2, 187): "MasterDocumentID",
    (2, 188): "ShortDocumentID", (2, 189): "UniqueDocumentID", (2, 190): "OwnerID",
    (2, 200): "ObjectPreviewFileFormat", (2, 201): "ObjectPreviewFileVersion",
    (2, 202): "ObjectPreviewData", (2, 221): "Prefs", (2, 225): "ClassifyState",
    (2, 228): "SimilarityIndex", (2, 230): "DocumentNotes", (2, 231): "DocumentHistory",
    (2, 232): "ExifCameraInfo", (2, 255): "CatalogSets",
}  # fmt: skip
# Datasets the specification defines as binary numbers, not text.
_BINARY_NUMBERS = frozenset({(1, 0), (1, 22), (1, 120), (1, 122), (2, 0), (2, 200), (2, 201)})
_UTF8_MARK = b"\x1b%G"  # CodedCharacterSet escape sequence for UTF-8


def iptc_fields(info: dict[tuple[int, int], Any], limit: int = 10_000) -> dict[str, Any]:
    """``{"2:25 Keywords": ["a", "b"], "2:55 DateCreated": "20110730", …}`` in dataset order."""
    utf8 = info.get((1, 90)) == _UTF8_MARK
    fields: dict[str, Any] = {}
    for key in sorted(k for k in info if isinstance(k, tuple) and len(k) == 2):
        record, dataset = key
        name = IPTC_NAMES.get(key, "unknown dataset")
        values = info[key] if isinstance(info[key], list) else [info[key]]
        texts = [_value_text(key, v, utf8, limit) for v in values]
        fields[f"{record}:{dataset} {name}"] = texts[0] if len(texts) == 1 else texts
    return fields


def _value_text(key: tuple[int, int], raw: Any, utf8: bool, limit: int) -> str:
    if not isinstance(raw, bytes | bytearray):
        return str(raw)[:limit]
    raw = bytes(raw)
    if key == (1, 90):
        return "UTF-8" if raw == _UTF8_MARK else bytes_summary(raw)
    if key in _BINARY_NUMBERS and 0 < len(raw) <= 4:
        return str(int.from_bytes(raw, "big"))
    if key == (2, 202):
        return bytes_summary(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8" if utf8 else "latin-1", "replace")
    if not all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return bytes_summary(raw)
    return text if len(text) <= limit else f"{text[:limit]} […; {len(text)} characters in all]"
