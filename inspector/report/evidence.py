"""The evidence files as the report finds them: re-read and re-hashed when the report is made,
and described in the evidence block of each image's page.

Evidence files are only read (through the image loader, by default
:func:`inspector.core.imageio.load_image`). A file that is gone, unreadable or no longer matching
its recorded SHA-256 is reported as such and the report goes on; the boxes of the analysis are
never drawn over pixels that are not the analysed ones.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtGui import QColor, QImage

from inspector.core.results import Analysis
from inspector.core.wording import format_time_seconds
from inspector.report.drawing import (
    ALERT_COLOUR,
    IMAGE_DPI,
    THUMB_DPI,
    Fonts,
    downscaled,
    pil_to_qimage,
)
from inspector.report.table import Cell
from inspector.report.text_lines import clean_text
from inspector.report.texts import provenance_lines

__all__ = ["EvidenceCheck", "ImageLoader", "check_evidence", "evidence_rows"]

ImageLoader = Callable[[str], Any]  # path -> LoadedImage (or anything with .image, .sha256)


@dataclass
class EvidenceCheck:
    """What the report found when it re-read an evidence file."""

    state: str  # "matches" | "unchecked" (read, hash not re-checked) | "changed" | "unreadable"
    status: str  # one sentence for the evidence block
    display_jpeg: bytes | None = None  # the picture at drawn size, kept compressed
    thumb: QImage | None = None

    @property
    def ok(self) -> bool:
        """The picture is the analysed one (as far as the report can tell)."""
        return self.state in ("matches", "unchecked")


def resolve_path(path: str, base_dir: Path | None) -> str:
    """An evidence path as recorded; a relative one that is not found from here is looked for
    in the case folder."""
    p = Path(path)
    if not p.is_absolute() and base_dir is not None and not p.exists():
        candidate = base_dir / p
        if candidate.exists():
            return str(candidate)
    return str(p)


def check_evidence(a: Analysis, loader: ImageLoader, base_dir: Path | None,
                   draw_size: tuple[float, float],
                   thumb_size: tuple[float, float]) -> EvidenceCheck:
    """Re-read the evidence file of `a`, compare its hash, keep the picture at drawn size."""
    try:
        loaded = loader(resolve_path(a.evidence.path, base_dir))
    except Exception as exc:  # noqa: BLE001 - any failure is reported, never fatal
        kind = getattr(exc, "kind", None)
        reason = f"{kind}: {exc}" if kind else f"{type(exc).__name__}: {exc}"
        return EvidenceCheck("unreadable", "The evidence file could not be read when this "
                             f"report was made ({reason}). The recorded results follow.")
    img = getattr(loaded, "image", loaded)
    sha = getattr(loaded, "sha256", None)
    if sha is None:
        state, status = "unchecked", ("Evidence file read when this report was made (hash not "
                                      "re-checked).")
    elif sha == a.evidence.sha256:
        state, status = "matches", ("Evidence file re-read when this report was made: SHA-256 "
                                    "matches the record.")
    else:
        state, status = "changed", (
            "WARNING: the file now at this path does NOT match the recorded SHA-256 (it hashes "
            f"to {sha}). It is not the file that was analysed: the picture shows the file as it "
            "is now, without the located regions; the results describe the recorded bytes.")
    display = downscaled(img, *draw_size, IMAGE_DPI).convert("RGB")
    buf = io.BytesIO()
    display.save(buf, "JPEG", quality=92)
    thumb = pil_to_qimage(downscaled(display, *thumb_size, THUMB_DPI))
    return EvidenceCheck(state, status, buf.getvalue(), thumb)


def evidence_rows(a: Analysis, check: EvidenceCheck, f: Fonts,
                  model_note: str = "") -> list[tuple[str, str | Cell]]:
    """The evidence block of an image's page: file, hash, check, EXIF, provenance, analysis."""
    ev = a.evidence
    name = clean_text(Path(ev.path).name, single_line=True)
    facts = [f"{ev.size_bytes:,} bytes", f"{ev.width} × {ev.height} px",
             f"{ev.format or 'unknown format'}, mode {ev.original_mode or '?'}, "
             f"{ev.frame_count} frame(s)"]
    if ev.orientation not in (None, 1):
        facts.append(f"EXIF orientation {ev.orientation}")
    exif = "; ".join(f"{k}: {v}" for k, v in ev.exif.items()) if ev.exif else "none found"
    model = a.model.model_id + (f" @ {a.model.revision[:12]}" if a.model.revision else "")
    return [
        ("File", Cell(name, font=f.small_bold, parts=[
            (" · ".join(facts), f.small, None),
            ("at analysis: " + clean_text(ev.path, single_line=True), f.small, None)])),
        ("SHA-256", Cell(ev.sha256, font=f.mono)),
        ("File check", Cell(check.status, font=f.small if check.ok else f.small_bold,
                            color=None if check.ok else QColor(ALERT_COLOUR))),
        ("EXIF", clean_text(exif)),
        ("Provenance signals", clean_text("\n".join(provenance_lines(ev.provenance)))),
        ("Analysis", Cell(a.id, font=f.mono, parts=[(
            f"{format_time_seconds(a.created) or 'time not recorded'} · model "
            f"{clean_text(model)}{model_note}", f.small, None)])),
    ]
