"""The case report: a PDF an investigator can put in a case file.

Structure: a cover (case, examiner, dates, software, model provenance, how to read the report,
limitations), a summary table (thumbnail, file, short hash, initial and final verdicts, changed,
confidence, examiner override), then one section per image (evidence block with provenance
signals, the image with numbered boxes, labelled close-ups, the initial and corrected verdicts
with their explanations, findings, examiner notes, limitations), and the chain of custody. Every
page has a footer "LTE Inspector <version> — Case <n> — page i of N". The machine-readable results
are embedded as the file attachment ``case-results.json``.

Evidence files are only read (through :func:`inspector.core.imageio.load_image`); a file that is
gone, unreadable or no longer matching its recorded SHA-256 is reported as such and the report
goes on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import io
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from PySide6.QtCore import QByteArray, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QImage,
    QPageSize,
    QPainter,
    QPdfWriter,
    QPen,
)

from inspector import __version__
from inspector.core.palette import REGION_COLOURS
from inspector.core.results import Analysis, ModelProvenance
from inspector.report.layout import Cell, Column, PageWriter, clean_text

__all__ = [
    "ATTACHMENT_NAME",
    "PAGE_SIZES",
    "BOX_COLOURS",
    "confidence_text",
    "verdict_word",
    "render_case_report",
    "render_report",
]

ATTACHMENT_NAME = "case-results.json"
PAGE_SIZES = {"A4": QPageSize.PageSizeId.A4, "LETTER": QPageSize.PageSizeId.Letter}
RESOLUTION = 300  # device pixels per inch of the PDF's coordinate system
IMAGE_DPI = 200  # evidence pictures are embedded at about this resolution
THUMB_DPI = 150

# Okabe–Ito palette shared with the desktop view (inspector.core.palette), with the text
# colour that reads on each.
BOX_COLOURS: list[tuple[str, str]] = list(REGION_COLOURS)

CHANGED_COLOUR = "#B34700"  # dark vermillion: readable in print and in greyscale
DEMO_COLOUR = "#B34700"
MUTED = "#555555"

ImageLoader = Callable[[str], Any]  # path -> LoadedImage (or anything with .image, .sha256)
CloseupLoader = Callable[[str, int], "Image.Image | None"]

_app: QGuiApplication | None = None


# --------------------------------------------------------------------------------------------
# Words


def verdict_word(verdict: str | None) -> str:
    """The report's word for a verdict; anything but the two parsed values is "unparsed"."""
    return {"real": "Real", "ai-generated": "AI-generated"}.get(verdict or "", "unparsed")


def confidence_text(p: float | None) -> str:
    if p is None or not isinstance(p, int | float) or p != p:
        return "not available"
    return f"{float(p):.2f}"


def changed_text(a: Analysis) -> str:
    initial, final = verdict_word(a.initial_verdict), verdict_word(a.final_verdict)
    if a.changed is None:
        return f"cannot tell ({initial} → {final}: a verdict is unparsed)"
    if a.changed:
        return f"CHANGED: {initial} → {final}"
    return f"unchanged ({initial} → {final})"


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _meta_dict(meta: Any) -> dict[str, Any]:
    if isinstance(meta, dict):
        return dict(meta)
    if dataclasses.is_dataclass(meta) and not isinstance(meta, type):
        return dataclasses.asdict(meta)
    for name in ("to_dict", "as_dict"):
        fn = getattr(meta, name, None)
        if callable(fn):
            with contextlib.suppress(Exception):
                return dict(fn())
    return {k: getattr(meta, k, None) for k in ("number", "title", "examiner", "created")}


def _fmt(value: Any) -> str:
    """Any recorded value as plain text ("not recorded" for empties)."""
    if value is None or value == "" or value == [] or value == {}:
        return "not recorded"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def _sha_short(sha: str | None) -> str:
    return (sha or "")[:12] or "—"


# --------------------------------------------------------------------------------------------
# Qt set-up


def _ensure_app() -> QGuiApplication:
    """A QGuiApplication (fonts need one); offscreen when there is no display."""
    global _app
    app = QGuiApplication.instance()
    if app is not None:
        if not isinstance(app, QGuiApplication):
            raise RuntimeError(
                "a QCoreApplication without GUI support is running; PDF reports need a "
                "QGuiApplication (create one, or render the report in another process)"
            )
        return app
    if not os.environ.get("QT_QPA_PLATFORM") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ) and sys.platform.startswith("linux"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    _app = QGuiApplication([sys.argv[0] if sys.argv else "lte-inspector"])
    return _app


@dataclass
class _Fonts:
    body: QFont
    bold: QFont
    small: QFont
    small_bold: QFont
    mono: QFont
    h1: QFont
    h2: QFont
    h3: QFont
    title: QFont
    footer: QFont

    @classmethod
    def make(cls) -> _Fonts:
        def f(size: float, bold: bool = False, family: str = "DejaVu Sans") -> QFont:
            font = QFont(family)
            font.setStyleHint(QFont.StyleHint.SansSerif)
            font.setPointSizeF(size)
            font.setBold(bold)
            return font

        mono = f(8.0, family="DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        return cls(
            body=f(9.5), bold=f(9.5, True), small=f(8.0), small_bold=f(8.0, True), mono=mono,
            h1=f(15, True), h2=f(12.5, True), h3=f(10.5, True), title=f(22, True), footer=f(7.5),
        )


def _pil_to_qimage(img: Image.Image) -> QImage:
    rgb = img.convert("RGB")
    data = rgb.tobytes()
    q = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
    return q.copy()  # detach from the Python buffer


def _fit(w: float, h: float, max_w: float, max_h: float) -> tuple[float, float]:
    if w <= 0 or h <= 0:
        return max_w, max_h
    s = min(max_w / w, max_h / h)
    return w * s, h * s


def _downscaled(img: Image.Image, w_px: float, h_px: float, dpi: int) -> Image.Image:
    """`img` reduced to about `dpi` at the drawn size (never enlarged)."""
    target = (max(1, round(w_px * dpi / RESOLUTION)), max(1, round(h_px * dpi / RESOLUTION)))
    if img.width <= target[0] and img.height <= target[1]:
        return img
    out = img.convert("RGB")
    out.thumbnail(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return out


@dataclass
class _EvidenceState:
    """What the report found when it re-read an evidence file."""

    ok: bool
    status: str  # one sentence for the evidence block
    display_jpeg: bytes | None = None  # the picture at drawn size, kept compressed
    thumb: QImage | None = None


# --------------------------------------------------------------------------------------------
# Drawing helpers


def _draw_placeholder(p: QPainter, rect: QRectF, text: str, font: QFont) -> None:
    p.setPen(QPen(QColor("#888888"), 2, Qt.PenStyle.DashLine))
    p.setBrush(QColor("#F4F4F4"))
    p.drawRect(rect)
    p.setPen(QColor("#333333"))
    p.setFont(font)
    p.drawText(rect.adjusted(12, 12, -12, -12),
               int(Qt.AlignmentFlag.AlignCenter) | int(Qt.TextFlag.TextWordWrap),
               clean_text(text))


def _draw_boxes(p: QPainter, rect: QRectF, a: Analysis, font: QFont, mm: float) -> None:
    """The regions, in original-image pixels scaled to the drawn image, numbered like the app."""
    w, h = a.evidence.width or 1, a.evidence.height or 1
    sx, sy = rect.width() / w, rect.height() / h
    p.setClipRect(rect)
    p.setFont(font)
    fm_h = font.pointSizeF() * RESOLUTION / 72.0
    for region in a.regions:
        if len(region.box) != 4:
            continue
        colour, text_colour = BOX_COLOURS[(region.number - 1) % len(BOX_COLOURS)]
        x1, y1, x2, y2 = region.box
        box = QRectF(rect.left() + x1 * sx, rect.top() + y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(QColor("#FFFFFF"), 0.9 * mm))  # halo: visible on any background
        p.drawRect(box)
        pen = QPen(QColor(colour), 0.5 * mm)
        if not region.examined:
            pen.setStyle(Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.drawRect(box)
        label = str(region.number)
        tag_w = max(fm_h * 1.25, fm_h * 0.7 * len(label) + fm_h * 0.6)
        tag = QRectF(box.left(), box.top(), tag_w, fm_h * 1.3)
        if tag.right() > rect.right():
            tag.moveRight(rect.right())
        if tag.bottom() > rect.bottom():
            tag.moveBottom(rect.bottom())
        p.fillRect(tag, QColor(colour))
        p.setPen(QColor(text_colour))
        p.drawText(tag, int(Qt.AlignmentFlag.AlignCenter), label)
    p.setClipping(False)


# --------------------------------------------------------------------------------------------
# The report


LIMITATIONS = (
    "This is a model-based assessment, not proof. The verdicts, boxes and explanations were "
    "produced by a vision-language model and can be wrong in either direction; they show where "
    "and why the model found the image suspicious and must be weighed with other evidence by a "
    "qualified examiner. A confidence, where shown, is the model's own probability for "
    "\"AI-generated\" read at its verdict and is not a calibrated error rate. Metadata and "
    "provenance signals (EXIF, C2PA Content Credentials, IPTC digital source type, software "
    "tags) can be stripped by ordinary re-saving or forged; their absence proves nothing and "
    "their presence only shows what the file claims. The SHA-256 identifies the exact bytes "
    "that were analysed."
)


def _demo_warning(model: ModelProvenance) -> str:
    return (
        f"DEMO MODEL: {model.model_id} is a small demonstration/test model, not a detector. "
        "Its output shows how the workflow runs and has no evidential value."
    )


def _model_key(m: ModelProvenance) -> str:
    return json.dumps(dataclasses.asdict(m), sort_keys=True, default=str)


class _Report:
    def __init__(self, writer: QPdfWriter, analyses: Sequence[Analysis], meta: Any,
                 image_loader: ImageLoader, closeup_loader: CloseupLoader | None,
                 custody: list[dict[str, Any]], attachment_sha: str, page_size: str,
                 base_dir: Path | None) -> None:
        self.f = _Fonts.make()
        self.analyses = list(analyses)
        self.meta = meta
        self.case_number = clean_text(_fmt(_get(meta, "number")), single_line=True)
        self.image_loader = image_loader
        self.closeup_loader = closeup_loader
        self.custody = custody
        self.attachment_sha = attachment_sha
        self.page_size = page_size
        self.base_dir = base_dir
        self.pw = PageWriter(
            writer,
            footer=lambda i, n: (
                f"LTE Inspector {__version__} — Case {self.case_number} — page {i} of {n}"
            ),
            footer_font=self.f.footer,
        )
        self.mm = self.pw.mm(1.0)
        self.models: list[ModelProvenance] = []
        seen: dict[str, int] = {}
        self.model_index: dict[str, int] = {}
        for a in self.analyses:
            key = _model_key(a.model)
            if key not in seen:
                seen[key] = len(self.models)
                self.models.append(a.model)
            self.model_index[a.id] = seen[key]
        self.states: dict[str, _EvidenceState] = {}

    # -- evidence ------------------------------------------------------------------------------
    def _resolve(self, path: str) -> str:
        p = Path(path)
        if not p.is_absolute() and self.base_dir is not None and not p.exists():
            candidate = self.base_dir / p
            if candidate.exists():
                return str(candidate)
        return str(p)

    def _check_evidence(self, a: Analysis, draw_w: float, draw_h: float,
                        thumb_w: float, thumb_h: float) -> _EvidenceState:
        try:
            loaded = self.image_loader(self._resolve(a.evidence.path))
        except Exception as exc:  # noqa: BLE001 - any failure is reported, never fatal
            kind = getattr(exc, "kind", None)
            reason = f"{kind}: {exc}" if kind else f"{type(exc).__name__}: {exc}"
            return _EvidenceState(False, "The evidence file could not be read when this report "
                                         f"was made ({reason}). The recorded results follow.")
        img = getattr(loaded, "image", loaded)
        sha = getattr(loaded, "sha256", None)
        if sha is None:
            status = "Evidence file read when this report was made (hash not re-checked)."
        elif sha == a.evidence.sha256:
            status = "Evidence file re-read when this report was made: SHA-256 matches the record."
        else:
            status = ("WARNING: the file now at this path does NOT match the recorded SHA-256 "
                      f"(it hashes to {sha}). The picture below is the file as it is now; the "
                      "results describe the recorded bytes.")
        display = _downscaled(img, draw_w, draw_h, IMAGE_DPI).convert("RGB")
        buf = io.BytesIO()
        display.save(buf, "JPEG", quality=92)
        thumb = _pil_to_qimage(_downscaled(display, thumb_w, thumb_h, THUMB_DPI))
        return _EvidenceState(sha is None or sha == a.evidence.sha256, status, buf.getvalue(),
                              thumb)

    def _image_size(self, a: Analysis, max_w: float, max_h: float) -> tuple[float, float]:
        return _fit(a.evidence.width or 4, a.evidence.height or 3, max_w, max_h)

    # -- pages ---------------------------------------------------------------------------------
    def build(self) -> None:
        pw = self.pw
        thumb_box = (pw.mm(16), pw.mm(12))
        for a in self.analyses:
            w, h = self._image_size(a, pw.width, pw.mm(110))
            self.states[a.id] = self._check_evidence(a, w, h, *thumb_box)
        self.cover()
        pw.new_page()
        self.summary(thumb_box)
        for k, a in enumerate(self.analyses, 1):
            pw.new_page()
            self.image_section(k, a)
        if self.custody:
            pw.new_page()
            self.custody_section()

    def heading(self, text: str, font: QFont, before: float = 1.5, after: float = 1.0) -> None:
        pw = self.pw
        if pw.y > pw.top:
            pw.space(pw.mm(before))
        pw.text(text, font, after=pw.mm(after), keep_lines=1,
                keep_after=pw.line_height(self.f.body) * 3)  # keep a heading with what follows

    def kv(self, rows: Iterable[tuple[str, str | Cell]], key_width: float = 0.27) -> None:
        f = self.f
        table_rows = [
            [Cell(k, font=f.small_bold, fill=QColor("#F2F2F2")),
             v if isinstance(v, Cell) else Cell(v, font=f.small)]
            for k, v in rows
        ]
        self.pw.table([Column("", key_width), Column("", 1 - key_width)], table_rows, f.small)

    def cover(self) -> None:
        pw, f, m = self.pw, self.f, self.meta
        pw.text("Forensic image analysis report", f.title, after=pw.mm(2))
        pw.text(f"Case {self.case_number} — {_fmt(_get(m, 'title'))}", f.h2, after=pw.mm(5))
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.kv([
            ("Case number", self.case_number),
            ("Case title", _fmt(_get(m, "title"))),
            ("Examiner", _fmt(_get(m, "examiner"))),
            ("Case created", _fmt(_get(m, "created"))),
            ("Report generated", f"{now} (UTC)"),
            ("Software", f"LTE Inspector {__version__}"),
            ("Images in this report", str(len(self.analyses))),
            ("Page size", self.page_size),
            ("Machine-readable results", f"embedded file attachment {ATTACHMENT_NAME} "
                                         f"(SHA-256 {self.attachment_sha})"),
        ])
        self.heading("Model provenance", f.h2)
        if not self.models:
            pw.text("No analyses in this case.", f.body)
        for i, model in enumerate(self.models, 1):
            used = sum(1 for v in self.model_index.values() if v == i - 1)
            if len(self.models) > 1:
                self.heading(f"Model {i} (used for {used} image{'s' * (used != 1)})", f.h3)
            if model.is_demo:
                pw.text(_demo_warning(model), f.bold, DEMO_COLOUR)
            gen = (json.dumps(model.generation, sort_keys=True, ensure_ascii=False, default=str)
                   if model.generation else "not recorded")
            self.kv([
                ("Model id", _fmt(model.model_id)),
                ("Model type", _fmt(model.model_type)),
                ("Revision", _fmt(model.revision)),
                ("Weights SHA-256", Cell(_fmt(model.weights_sha256), font=f.mono)),
                ("Adapter", _fmt(model.adapter_id)),
                ("Adapter SHA-256", Cell(_fmt(model.adapter_sha256), font=f.mono)),
                ("Backend", _fmt(model.backend)),
                ("Quantization", _fmt(model.quantization)),
                ("Precision / device", f"{_fmt(model.dtype)} / {_fmt(model.device)}"),
                ("Prompt version", _fmt(model.prompts_version)),
                ("Generation settings", gen),
                ("Software at analysis", _fmt(model.software_version)),
                ("Demo model", "YES — not a detector" if model.is_demo else "no"),
            ])
        self.heading("How to read this report", f.h2)
        pw.text(
            "Each image was analysed with Locate-Then-Examine. Query 1 (Locate): the model reads "
            "the whole image and gives an initial verdict, an explanation and numbered suspicious "
            "regions. The app then cuts a magnified close-up of each region. Query 2 (Examine): "
            "the model sees the close-ups and gives per-region findings and the corrected (final) "
            "verdict. Verdicts are \"Real\" or \"AI-generated\"; an answer the app could not read "
            "is shown as \"unparsed\" and never guessed. \"CHANGED\" marks an image whose final "
            "verdict differs from its initial one. Confidence is P(AI-generated) from the model's "
            "token probabilities, or \"not available\" when the backend does not expose them. "
            "Boxes are drawn in the image's own pixel coordinates; a dashed box was not examined "
            "close up.", f.body)
        self.heading("Limitations", f.h2)
        pw.text(LIMITATIONS, f.body)

    def summary(self, thumb_box: tuple[float, float]) -> None:
        pw, f = self.pw, self.f
        self.heading("Summary: initial and corrected verdicts", f.h1)
        n_changed = sum(1 for a in self.analyses if a.changed)
        n_unparsed = sum(1 for a in self.analyses
                         if a.initial_verdict is None or a.final_verdict is None)
        pw.text(f"{len(self.analyses)} image(s); {n_changed} changed verdict after the close "
                f"look; {n_unparsed} with an unparsed verdict.", f.body)
        columns = [
            Column("Image", 0.1), Column("#", 0.035), Column("File", 0.165),
            Column("SHA-256", 0.135), Column("Initial", 0.115), Column("Final", 0.125),
            Column("Changed", 0.135), Column("P(AI)", 0.06), Column("Examiner override", 0.13),
        ]
        rows = []
        for k, a in enumerate(self.analyses, 1):
            state = self.states[a.id]
            thumb = state.thumb

            def draw_thumb(p: QPainter, r: QRectF, q: QImage | None = thumb) -> None:
                if q is None:
                    _draw_placeholder(p, r, "no file", self.f.footer)
                    return
                w, h = _fit(q.width(), q.height(), r.width(), r.height())
                p.drawImage(QRectF(r.left(), r.top(), w, h), q)

            changed = a.changed
            override = a.examiner.override_verdict
            rows.append([
                Cell(draw=draw_thumb, height=thumb_box[1]),
                str(k),
                clean_text(Path(a.evidence.path).name, single_line=True),
                Cell(_sha_short(a.evidence.sha256), font=f.mono),
                verdict_word(a.initial_verdict),
                verdict_word(a.final_verdict)
                + (" (examine skipped)" if a.query2 is None else ""),
                Cell(f"CHANGED {verdict_word(a.initial_verdict)} → "
                     f"{verdict_word(a.final_verdict)}", font=f.small_bold,
                     color=QColor(CHANGED_COLOUR)) if changed
                else Cell("no" if changed is False else "n/a (unparsed)"),
                "n/a" if a.final_confidence is None else confidence_text(a.final_confidence),
                verdict_word(override) if override else "—",
            ])
        if rows:
            pw.table(columns, rows, f.small, header_font=f.small_bold, zebra="#F7F7F7")
        pw.text("Short hashes are the first 12 hex digits; the full SHA-256 of every file is in "
                "its section. P(AI) is the final verdict's confidence, P(AI-generated); n/a: not "
                "available from the backend.", f.small, MUTED)

    def image_section(self, k: int, a: Analysis) -> None:
        pw, f = self.pw, self.f
        ev = a.evidence
        name = clean_text(Path(ev.path).name, single_line=True)
        pw.mark(a.id)
        self.heading(f"Image {k} of {len(self.analyses)}: {name}", f.h1, after=1.5)
        state = self.states[a.id]
        if a.model.is_demo:
            pw.text(_demo_warning(a.model), f.bold, DEMO_COLOUR)

        # Verdict banner.
        initial, final = verdict_word(a.initial_verdict), verdict_word(a.final_verdict)
        pw.text(f"Initial verdict: {initial}    →    Final verdict: {final}", f.h2,
                after=pw.mm(0.5))
        if a.changed:
            pw.text(f"CHANGED after the close look: {initial} → {final}", f.h3, CHANGED_COLOUR)
        elif a.changed is False:
            pw.text("Unchanged after the close look.", f.body)
        else:
            pw.text("Change cannot be assessed: a verdict is unparsed.", f.body)
        pw.text(f"Confidence of the final verdict, P(AI-generated): "
                f"{confidence_text(a.final_confidence)}", f.body)
        if a.examiner.override_verdict:
            pw.text(f"Examiner override: {verdict_word(a.examiner.override_verdict)}", f.bold)

        # Evidence block.
        self.heading("Evidence", f.h2)
        self.kv(self.evidence_rows(a, state))

        # The image with numbered boxes.
        self.heading("Image and located regions", f.h2)
        w, h = self._image_size(a, pw.width, pw.mm(110))
        x = pw.left + (pw.width - w) / 2
        jpeg, mm = state.display_jpeg, self.mm

        def draw_image(p: QPainter, r: QRectF) -> None:
            if jpeg is None:
                _draw_placeholder(p, r, "Evidence file not available: " + state.status, f.body)
            else:
                q = QImage.fromData(QByteArray(jpeg), "JPEG")
                p.drawImage(r, q)
                p.setPen(QPen(QColor("#666666"), 0.2 * mm))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRect(r)
            _draw_boxes(p, r, a, f.h3, mm)

        if jpeg is None:
            h = min(h, pw.mm(40))
        pw.block(h, draw_image, width=w, x=x, after=pw.mm(2))
        if a.regions:
            rows = []
            for region in a.regions:
                colour, text_colour = BOX_COLOURS[(region.number - 1) % len(BOX_COLOURS)]
                box = ", ".join(f"{v:.0f}" for v in region.box)
                rows.append([
                    Cell(str(region.number), font=f.small_bold, fill=QColor(colour),
                         color=QColor(text_colour)),
                    clean_text(region.label),
                    f"({box})",
                    "yes" if region.examined else "no",
                ])
            pw.table([Column("#", 0.06), Column("Label", 0.56), Column("Box x1, y1, x2, y2 (px)",
                      0.26), Column("Examined", 0.12)], rows, f.small, header_font=f.small_bold)
        else:
            pw.text("The model located no suspicious regions.", f.body)
        self.closeups(a)

        # Query 1.
        self.heading("Initial assessment (Query 1 — Locate)", f.h2)
        self.query_block(a.query1, "Initial")

        # Query 2.
        self.heading("Corrected assessment (Query 2 — Examine)", f.h2)
        if a.query2 is None:
            reason = a.examine_skipped or "not recorded"
            pw.text(f"The examine step did not run ({clean_text(reason)}). The final verdict is "
                    f"the initial verdict: {verdict_word(a.final_verdict)}.", f.body)
        else:
            if a.findings:
                pw.text("Findings per region", f.h3, keep_after=pw.line_height(f.body) * 2)
                rows = [[str(fd.region), clean_text(fd.observation),
                         verdict_word(fd.points_to)] for fd in a.findings]
                pw.table([Column("Region", 0.1), Column("Observation", 0.7),
                          Column("Points to", 0.2)], rows, f.small, header_font=f.small_bold)
            else:
                pw.text("No per-region findings were given.", f.body)
            self.query_block(a.query2, "Final")
            if a.tags:
                pw.text("Tags: " + ", ".join(clean_text(t) for t in a.tags), f.body)

        # Examiner.
        self.heading("Examiner", f.h2)
        ex = a.examiner
        if not (ex.examiner or ex.notes or ex.override_verdict):
            pw.text("No examiner notes or override recorded.", f.body)
        else:
            self.kv([
                ("Examiner", _fmt(ex.examiner)),
                ("Override verdict", verdict_word(ex.override_verdict)
                 if ex.override_verdict else "none"),
                ("Updated", _fmt(ex.updated)),
            ])
            if ex.notes:
                pw.text("Notes", f.h3, keep_after=pw.line_height(f.body) * 2)
                pw.text(ex.notes, f.body)

        self.heading("Limitations", f.h2)
        if a.model.is_demo:
            pw.text(_demo_warning(a.model), f.bold, DEMO_COLOUR)
        pw.text(LIMITATIONS, f.small)

    def evidence_rows(self, a: Analysis, state: _EvidenceState) -> list[tuple[str, str | Cell]]:
        f, ev = self.f, a.evidence
        exif = ", ".join(f"{k}: {v}" for k, v in ev.exif.items()) if ev.exif else "none found"
        rows: list[tuple[str, str | Cell]] = [
            ("File name", clean_text(Path(ev.path).name, single_line=True)),
            ("Path (at analysis)", clean_text(ev.path, single_line=True)),
            ("SHA-256", Cell(ev.sha256, font=f.mono)),
            ("Size", f"{ev.size_bytes:,} bytes"),
            ("Dimensions", f"{ev.width} × {ev.height} px"),
            ("Format", f"{ev.format}, mode {ev.original_mode or '?'}, {ev.frame_count} frame(s)"),
            ("EXIF orientation", "none" if ev.orientation is None else str(ev.orientation)),
            ("EXIF summary", clean_text(exif)),
        ]
        rows += self.provenance_rows(a)
        rows += [
            ("File check", Cell(state.status, font=f.small if state.ok else f.small_bold,
                                color=None if state.ok else QColor(CHANGED_COLOUR))),
            ("Analysis id", Cell(a.id, font=f.mono)),
            ("Analysed at", _fmt(a.created)),
            ("Model", f"{_fmt(a.model.model_id)}"
                      + (f" @ {a.model.revision}" if a.model.revision else "")
                      + (f" (model {self.model_index[a.id] + 1} on the cover)"
                         if len(self.models) > 1 else "")),
        ]
        return rows

    def provenance_rows(self, a: Analysis) -> list[tuple[str, str]]:
        ev = a.evidence
        prov = getattr(ev, "provenance", None)
        if prov is not None and not isinstance(prov, dict):
            to_dict = getattr(prov, "to_dict", None)
            prov = to_dict() if callable(to_dict) else None
        if prov is None:
            legacy = getattr(ev, "c2pa", None)
            if isinstance(legacy, dict):
                prov = {"c2pa": legacy}
        if not isinstance(prov, dict) or not prov:
            return [("Provenance signals", "not checked")]
        rows: list[tuple[str, str]] = []
        c2pa = prov.get("c2pa")
        if isinstance(c2pa, dict) and c2pa:
            labels = {"status": "status", "claim_generator": "claim generator",
                      "signer": "signer", "ai_actions": "AI actions"}
            parts = [f"{labels.get(k, k.replace('_', ' '))}: {_fmt(v)}" for k, v in c2pa.items()]
            rows.append(("C2PA Content Credentials", clean_text("; ".join(parts))))
        else:
            rows.append(("C2PA Content Credentials",
                         "not checked" if c2pa is None else clean_text(_fmt(c2pa))))
        names = {"digital_source_type": "IPTC digital source type",
                 "generator_text": "Generator text in metadata", "software": "Software tag",
                 "notes": "Provenance notes"}
        for key, label in names.items():
            value = prov.get(key)
            rows.append((label, "none found" if key in prov and not value else
                         "not checked" if key not in prov else clean_text(_fmt(value))))
        for key, value in prov.items():
            if key not in names and key != "c2pa":
                rows.append((clean_text(key.replace("_", " ")), clean_text(_fmt(value))))
        return rows

    def query_block(self, q: Any, which: str) -> None:
        pw, f = self.pw, self.f
        pw.text(f"{which} verdict: {verdict_word(q.verdict)}    P(AI-generated): "
                f"{confidence_text(q.confidence)}", f.bold)
        pw.text("Explanation", f.h3, keep_after=pw.line_height(f.body) * 2)
        pw.text(q.explanation if q.explanation else "No explanation could be read from the "
                "model's answer.", f.body)
        if q.problems:
            pw.text("Problems reading the answer: " + "; ".join(clean_text(p) for p in q.problems),
                    f.small, CHANGED_COLOUR)
        pw.text(f"{q.generated_tokens} tokens generated in {q.seconds:.1f} s; "
                f"stop: {q.stop_reason or 'not recorded'}.", f.small, MUTED)

    def closeups(self, a: Analysis) -> None:
        pw, f = self.pw, self.f
        if not a.closeups:
            if a.regions:
                pw.text("No close-ups were examined.", f.body)
            return
        self.heading("Close-ups sent to Query 2", f.h3)
        labels = {r.number: r for r in a.regions}
        per_row = 3
        gap = pw.mm(4)
        tile_w = (pw.width - gap * (per_row - 1)) / per_row
        lh = pw.line_height(f.small)
        loader, aid, mm = self.closeup_loader, a.id, self.mm
        for start in range(0, len(a.closeups), per_row):
            row = a.closeups[start:start + per_row]
            sizes, captions = [], []
            for c in row:
                ow, oh = (c.output_size + [0, 0])[:2] if c.output_size else (1, 1)
                sizes.append(_fit(ow or 1, oh or 1, tile_w, tile_w * 0.8))
                region = labels.get(c.region)
                label = clean_text(region.label) if region else "(region not recorded)"
                captions.append(pw.wrap(f"{c.region} · {label} (×{c.scale:.1f})", f.small,
                                        tile_w)[:4])
            img_h = max(h for _, h in sizes)
            cap_h = max(len(cs) for cs in captions) * lh

            def draw_row(p: QPainter, r: QRectF, row=row, sizes=sizes, captions=captions,
                         img_h=img_h) -> None:
                for i, (c, (w, h), cap) in enumerate(zip(row, sizes, captions, strict=True)):
                    x = r.left() + i * (tile_w + gap)
                    target = QRectF(x + (tile_w - w) / 2, r.top() + (img_h - h) / 2, w, h)
                    img = None
                    if loader is not None:
                        with contextlib.suppress(Exception):
                            img = loader(aid, c.region)
                    colour = BOX_COLOURS[(c.region - 1) % len(BOX_COLOURS)][0]
                    if img is None:
                        _draw_placeholder(p, target, "close-up not stored", f.small)
                    else:
                        small = _downscaled(img, w, h, IMAGE_DPI)
                        p.drawImage(target, _pil_to_qimage(small))
                        p.setPen(QPen(QColor(colour), 0.8 * mm))
                        p.setBrush(Qt.BrushStyle.NoBrush)
                        p.drawRect(target)
                    p.setFont(f.small)
                    p.setPen(QColor("#000000"))
                    fm_asc = lh * 0.8
                    for j, line in enumerate(cap):
                        p.drawText(QPointF(x, r.top() + img_h + pw.mm(1.5) + j * lh + fm_asc),
                                   line)

            pw.block(img_h + pw.mm(1.5) + cap_h, draw_row, after=pw.mm(3))

    def custody_section(self) -> None:
        pw, f = self.pw, self.f
        self.heading("Chain of custody", f.h1)
        pw.text("The case's append-only custody log, as recorded.", f.body)
        rows = []
        for entry in self.custody:
            e = dict(entry) if isinstance(entry, dict) else {"entry": entry}

            def pop(*names: str, e: dict = e) -> str:
                for n in names:
                    if n in e:
                        return clean_text(_fmt(e.pop(n)))
                return "—"

            when = pop("when", "time", "timestamp", "at")
            who = pop("who", "user", "examiner", "actor")
            what = pop("what", "action", "event")
            rest = "; ".join(f"{k}: {clean_text(_fmt(v))}" for k, v in e.items())
            rows.append([when, who, what, Cell(rest, font=f.small)])
        pw.table([Column("When", 0.2), Column("Who", 0.14), Column("What", 0.2),
                  Column("Details", 0.46)], rows, f.small, header_font=f.small_bold)


def _page_size_id(page_size: str) -> QPageSize.PageSizeId:
    key = page_size.strip().upper()
    if key not in PAGE_SIZES:
        raise ValueError(f"page size {page_size!r} is not supported (use A4 or Letter)")
    return PAGE_SIZES[key]


def results_json(analyses: Sequence[Analysis], meta: Any,
                 custody: Sequence[dict[str, Any]] | None = None) -> bytes:
    """The machine-readable results embedded in the report."""
    data = {
        "case": _meta_dict(meta),
        "analyses": [a.to_dict() for a in analyses],
        "custody": list(custody or []),
        "software": f"LTE Inspector {__version__}",
    }
    return json.dumps(data, ensure_ascii=False, indent=2, default=str).encode("utf-8")


def render_report(
    analyses: Sequence[Analysis],
    meta: Any,
    out_path: Path | str,
    page_size: str = "A4",
    image_loader: ImageLoader | None = None,
    closeup_loader: CloseupLoader | None = None,
    *,
    custody: Sequence[dict[str, Any]] | None = None,
    base_dir: Path | None = None,
) -> int:
    """Write the PDF report of `analyses` to `out_path`; returns the number of pages.

    `meta` has (as attributes or keys) number, title, examiner, created. `image_loader(path)`
    reads an evidence file (default :func:`inspector.core.imageio.load_image`);
    `closeup_loader(analysis_id, region_number)` returns the stored close-up as a PIL image or
    None. The file is written to a temporary name and renamed into place.
    """
    if image_loader is None:
        from inspector.core.imageio import load_image

        image_loader = load_image
    size_id = _page_size_id(page_size)
    _ensure_app()
    out_path = Path(out_path)
    payload = results_json(analyses, meta, custody)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    writer = QPdfWriter(str(tmp))
    try:
        writer.setResolution(RESOLUTION)
        writer.setPageSize(QPageSize(size_id))
        number = clean_text(_fmt(_get(meta, "number")), single_line=True)
        title = clean_text(_fmt(_get(meta, "title")), single_line=True)
        writer.setTitle(f"LTE Inspector report — Case {number}: {title}")
        writer.setCreator(f"LTE Inspector {__version__}")
        examiner = _get(meta, "examiner")
        if examiner and hasattr(writer, "setAuthor"):
            writer.setAuthor(clean_text(examiner, single_line=True))
        writer.addFileAttachment(ATTACHMENT_NAME, QByteArray(payload), "application/json")
        report = _Report(writer, analyses, meta, image_loader, closeup_loader,
                         list(custody or []), hashlib.sha256(payload).hexdigest(),
                         "Letter" if size_id == QPageSize.PageSizeId.Letter else "A4", base_dir)
        report.build()
        pages = report.pw.finish()  # QPainter.end() writes the trailer and closes the file
        del report
    except BaseException:
        del writer
        tmp.unlink(missing_ok=True)
        raise
    del writer
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, out_path)
    return pages


def render_case_report(store: Any, out_path: Path | str, page_size: str = "A4") -> int:
    """Render the report of a case store (its latest analysis of every image)."""

    def closeup_loader(analysis_id: str, region: int) -> Image.Image | None:
        path = Path(store.closeup_path(analysis_id, region))
        if not path.is_file():
            return None
        with Image.open(path) as im:
            im.load()
            return im.copy()

    custody_fn = getattr(store, "custody", None)
    custody = list(custody_fn()) if callable(custody_fn) else []
    root = getattr(store, "root", None)
    return render_report(
        store.latest(), store.meta, out_path, page_size, closeup_loader=closeup_loader,
        custody=custody, base_dir=Path(root) if root is not None else None,
    )
