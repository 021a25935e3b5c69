"""What the window shows of an evidence file: its bytes re-hashed and a screen-sized preview.

Before an analysis is shown, its file is read again, hashed and compared with the SHA-256 the
analysis recorded (:func:`check_evidence`); the pixels shown come from those same bytes, so the
view never draws old boxes over different pixels. Decoding for display uses Pillow's JPEG draft
mode (DCT scaling) where it can, so a 40-megapixel photograph becomes a preview in a fraction of a
full decode. Runs on any thread; nothing here touches Qt.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PIL import Image

from inspector.core.imageio import (
    DEFAULT_MAX_BYTES,
    ImageLoadError,
    decode_evidence,
    read_evidence,
)

__all__ = ["PREVIEW_MAX_SIDE", "EvidenceCheck", "check_evidence", "preview_of"]

PREVIEW_MAX_SIDE = 2048  # longest side of the preview: sharp at fit on a 4K screen

State = Literal["verified", "unanalysed", "changed", "missing", "unreadable"]


@dataclass
class EvidenceCheck:
    """The file as it is on disk now, compared with what an analysis recorded."""

    path: str
    state: State  # verified: same bytes as analysed; unanalysed: nothing to compare with
    sha256: str | None = None  # of the bytes read now; None when they could not be read
    size_bytes: int = 0
    width: int = 0  # full image, after EXIF orientation
    height: int = 0
    preview: Image.Image | None = None  # RGB, longest side <= max_side, of the bytes hashed
    message: str = ""  # why the file is missing or unreadable, in words

    @property
    def matches(self) -> bool:
        return self.state == "verified"

    def describe(self, recorded_sha256: str | None = None) -> str:
        """One line for the window: what was found and what it means."""
        if self.state == "verified":
            return "File verified: its SHA-256 matches the analysis."
        if self.state == "changed":
            return ("FILE CHANGED SINCE ANALYSIS: the file at this path now hashes to "
                    f"{self.sha256}, not {recorded_sha256 or 'the recorded value'}. The recorded "
                    "results describe other bytes; re-analyse to examine this file.")
        if self.state == "missing":
            return f"FILE MISSING: {self.message or 'the file is no longer at this path.'}"
        if self.state == "unreadable":
            return f"The file cannot be read: {self.message}"
        return "Not analysed yet."


def preview_of(image: Image.Image, max_side: int = PREVIEW_MAX_SIDE) -> Image.Image:
    """A copy at most ``max_side`` pixels on its longest side (the image itself if smaller)."""
    if max(image.size) <= max_side:
        return image
    small = image.copy()
    small.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return small


def check_evidence(
    path: str | Path,
    recorded_sha256: str | None,
    max_side: int = PREVIEW_MAX_SIDE,
    *,
    max_pixels: int = 400_000_000,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> EvidenceCheck:
    """Read and hash the file now, compare with ``recorded_sha256``, and decode a preview.

    Never raises for a bad file: a missing or undecodable file is a state with a message.
    """
    p = Path(path)
    try:
        data = read_evidence(p, max_bytes)
    except ImageLoadError as exc:
        state: State = "missing" if exc.kind == "not-found" else "unreadable"
        return EvidenceCheck(str(path), state, message=exc.message)
    digest = hashlib.sha256(data).hexdigest()
    if recorded_sha256 is None:
        state = "unanalysed"
    else:
        state = "verified" if digest == recorded_sha256 else "changed"
    check = EvidenceCheck(str(path), state, digest, len(data))
    try:
        check.preview, check.width, check.height = _decode_preview(p, data, max_side, max_pixels)
    except ImageLoadError as exc:
        if state != "changed":
            check.state = "unreadable"
        check.message = exc.message
    return check


def _decode_preview(
    p: Path, data: bytes, max_side: int, max_pixels: int
) -> tuple[Image.Image, int, int]:
    """The preview (the analysis's decoder, JPEGs drafted to ``max_side``) and the full size."""
    decoded = decode_evidence(p, data, max_pixels=max_pixels, draft_side=max_side)
    return preview_of(decoded.image, max_side), decoded.width, decoded.height
