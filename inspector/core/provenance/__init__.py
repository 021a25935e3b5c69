"""Provenance signals read from an evidence file's metadata, next to (never inside) the verdict.

A vision-language detector looks only at pixels. Files often also say where they came from:
C2PA / Content Credentials manifests (signed claims, validated here with c2pa-python), the IPTC
``DigitalSourceType`` in XMP (e.g. ``trainedAlgorithmicMedia``), and the text chunks image
generators write into PNGs (Stable Diffusion's ``parameters``, ComfyUI's ``prompt``/``workflow``).
This module reads them from the bytes already loaded (the same bytes that were hashed), so it never
opens the evidence file again. Reading is total: whatever the bytes are, :func:`read_provenance`
returns a :class:`Provenance` and records what it could not read in ``notes``.

These signals are reported separately from the model's verdict and never change it.

The package reads C2PA in :mod:`.c2pa_manifest`, XMP and EXIF text in :mod:`.embedded`, and knows
what generators write in :mod:`.generators`; :mod:`.records` holds the result types.
"""

from __future__ import annotations

import logging
from pathlib import Path

from inspector.core.formats import normalise_format, sniff_format
from inspector.core.pngchunks import PNG_SIGNATURE, png_text_chunks
from inspector.core.provenance.c2pa_manifest import read_c2pa
from inspector.core.provenance.embedded import exif_texts, xmp_value
from inspector.core.provenance.generators import (
    AI_SOURCE_TYPES,
    generator_text,
    short_source_type,
)
from inspector.core.provenance.records import (
    C2PA_STATUSES,
    PROVENANCE_NOTE,
    C2paInfo,
    Provenance,
)

__all__ = [
    "AI_SOURCE_TYPES",
    "C2PA_STATUSES",
    "PROVENANCE_NOTE",
    "C2paInfo",
    "Provenance",
    "read_provenance",
]

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# Entry point


def read_provenance(
    data: bytes, format: str | None = None, path: str | Path | None = None
) -> Provenance:
    """Read every provenance signal from a file's bytes. Never raises.

    ``format`` is Pillow's format name (``"JPEG"``), a MIME type or a suffix; when missing it is
    sniffed from the bytes. ``path`` is only used to name the file in notes and to look for a
    ``.c2pa`` sidecar manifest next to it (opened read-only); the evidence file is not reopened.
    """
    result = Provenance()
    notes = result.notes
    try:
        data = bytes(data or b"")
        fmt = normalise_format(format) or sniff_format(data)
    except Exception as exc:  # a caller handing us something that is not bytes
        notes.append(f"provenance could not be read ({type(exc).__name__}: {exc})")
        return result

    c2pa_dst: str | None = None
    try:
        result.c2pa, c2pa_dst = read_c2pa(data, fmt, path, notes)
    except Exception as exc:  # pragma: no cover - read_c2pa already guards itself
        result.c2pa = C2paInfo(status="unreadable")
        notes.append(f"C2PA manifest could not be read ({type(exc).__name__}: {exc})")

    texts: list[tuple[str, str]] = []  # (where, text) candidates for generator detection
    extra_xmp: list[bytes] = []  # XMP from compressed PNG iTXt, invisible to the raw scan
    if data.startswith(PNG_SIGNATURE):
        try:
            for key, value in png_text_chunks(data, notes):
                if key == "XML:com.adobe.xmp":
                    extra_xmp.append(value.encode("utf-8", "replace"))
                else:
                    texts.append((key, value))
        except Exception as exc:
            notes.append(f"PNG text chunks could not be read ({type(exc).__name__}: {exc})")

    exif_software: str | None = None
    try:
        exif_software, more = exif_texts(data, fmt)
        texts.extend(more)
    except Exception as exc:
        notes.append(f"EXIF metadata could not be read ({type(exc).__name__}: {exc})")

    xmp_dst: str | None = None
    creator_tool: str | None = None
    try:
        for blob in (data, *extra_xmp):
            if xmp_dst is None:
                raw = xmp_value(blob, "DigitalSourceType", resource=True)
                if raw is not None:
                    xmp_dst = short_source_type(raw)
                    if xmp_dst is None:
                        notes.append(f"XMP DigitalSourceType has an unrecognised value: {raw!r}")
            if creator_tool is None:
                creator_tool = xmp_value(blob, "CreatorTool")
    except Exception as exc:
        notes.append(f"XMP metadata could not be read ({type(exc).__name__}: {exc})")
    if creator_tool:
        texts.append(("XMP CreatorTool", creator_tool))

    if xmp_dst is not None:
        result.digital_source_type, result.digital_source_type_from = xmp_dst, "xmp"
        if c2pa_dst is not None and c2pa_dst != xmp_dst:
            notes.append(
                f"XMP says the digital source type is {xmp_dst}, but the C2PA manifest says "
                f"{c2pa_dst}."
            )
    elif c2pa_dst is not None:
        result.digital_source_type, result.digital_source_type_from = c2pa_dst, "c2pa"

    result.software = exif_software or creator_tool or None
    try:
        result.generator_text = generator_text(texts)
    except Exception as exc:  # pragma: no cover - pure string work
        notes.append(f"generator text could not be examined ({type(exc).__name__}: {exc})")
    return result
