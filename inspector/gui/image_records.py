"""What the window keeps per image, and the slow reads it does for them off the GUI thread."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtGui import QImage

from inspector.core.casestore import CaseStore
from inspector.core.preview import EvidenceCheck, check_evidence, preview_of
from inspector.core.results import Analysis
from inspector.gui.image_view import to_qimage

__all__ = ["ImageRecord", "check_for_display", "detail_tile", "live_preview", "load_closeups"]


@dataclass
class ImageRecord:
    """What the window keeps per image to show it again."""

    live_image: Any = None  # the decoded image while its analysis runs; dropped when done
    regions: list = field(default_factory=list)
    closeups: dict[int, tuple[str, Any]] = field(default_factory=dict)  # number -> (label, image)
    analysis: Analysis | None = None
    evidence: Any = None
    streams: dict[int, str] = field(default_factory=lambda: {1: "", 2: ""})
    error: str | None = None  # why the file could not be analysed
    check: EvidenceCheck | None = None  # the last re-hash of the file

    def start_over(self) -> None:
        """A new analysis of this file begins: forget everything of the previous one."""
        self.__init__()


def check_for_display(path: str, recorded_sha256: str | None
                      ) -> tuple[EvidenceCheck, QImage | None, QImage | None]:
    """Re-read and re-hash the file; its preview and queue thumbnail already converted for the
    screen (the conversion copies megabytes: it happens here, off the GUI thread)."""
    from inspector.gui.models import thumbnail_image

    check = check_evidence(path, recorded_sha256)
    preview, check.preview = check.preview, None  # the window keeps the check, not its pixels
    if preview is None:
        return check, None, None
    return check, to_qimage(preview), thumbnail_image(preview)


def check_for_queue(path: str, recorded_sha256: str) -> tuple[str, QImage | None]:
    """The file's state now ("verified", "changed", "missing", "unreadable") and its queue
    thumbnail, for a row of a case just opened (background thread; decoded at thumbnail size)."""
    from inspector.gui.models import THUMBNAIL_SIZE, thumbnail_image

    check = check_evidence(path, recorded_sha256, max_side=THUMBNAIL_SIZE)
    return check.state, None if check.preview is None else thumbnail_image(check.preview)


def live_preview(image: Any) -> QImage:
    """The screen-sized preview of an image being analysed, ready for the screen."""
    return to_qimage(preview_of(image))


def load_closeups(case: CaseStore | None, analysis: Analysis) -> dict[int, tuple[str, Any]]:
    """The close-ups Query 2 saw, read back from the case (background thread)."""
    from PIL import Image

    found: dict[int, tuple[str, Any]] = {}
    if case is None:
        return found
    labels = {r.number: r.label for r in analysis.regions}
    for c in analysis.closeups:
        png = case.closeup_path(analysis.id, c.region)
        if png.exists():
            with Image.open(png) as im:
                found[c.region] = (labels.get(c.region, ""), im.convert("RGB"))
    return found


@functools.lru_cache(maxsize=1)
def _full_image(path: str, expected_sha: str | None) -> Any:
    """The shown file decoded at full resolution, kept while the examiner pans and zooms it;
    None when the file no longer holds the bytes that were shown."""
    from inspector.core.imageio import load_image

    loaded = load_image(path, max_pixels=400_000_000)
    if expected_sha is not None and loaded.sha256 != expected_sha:
        return None
    return loaded.image


def detail_tile(source: Any, path: str, expected_sha: str | None, box: tuple,
                target: tuple) -> QImage | None:
    """Full-resolution pixels of ``box`` (original pixels) scaled to fit ``target`` (device
    pixels), as a QImage; None when the file no longer holds the bytes that were shown."""
    from PIL import Image

    if source is None:
        source = _full_image(path, expected_sha)
        if source is None:
            return None
    x1, y1, x2, y2 = (int(v) for v in box)
    crop = source.crop((max(0, x1), max(0, y1), min(source.width, x2 + 1),
                        min(source.height, y2 + 1)))
    scale = min(target[0] / crop.width, target[1] / crop.height, 1.0)
    if scale < 1.0:
        crop = crop.resize((max(1, round(crop.width * scale)), max(1, round(crop.height * scale))),
                           Image.Resampling.BOX)
    return to_qimage(crop)
