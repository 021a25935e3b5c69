"""Text for the report's pages: cleaned of what would break the layout, and wrapped to a width.

Wrapping is measured against the paint device (:class:`QTextLayout`), so it matches what is drawn.
"""

from __future__ import annotations

import re

from PySide6.QtGui import QFont, QPagedPaintDevice, QTextLayout, QTextOption

__all__ = ["clean_text", "wrap_text"]

NON_BREAKING_HYPHEN = "\u2011"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def clean_text(text: object, *, single_line: bool = False) -> str:
    """Text safe to hand to Qt and to show: lone surrogates (undecodable file-name bytes) and
    control characters become visible escapes instead of vanishing or breaking the layout."""
    s = str(text)
    s = s.encode("utf-8", "backslashreplace").decode("utf-8")
    if single_line:
        s = s.replace("\n", "\\n").replace("\t", " ")
    s = s.replace("\r\n", "\n")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", s)


def _utf16_to_index(s: str) -> list[int]:
    """Map QString (UTF-16) offsets to Python string indices (astral characters take two)."""
    out: list[int] = []
    for i, ch in enumerate(s):
        out.append(i)
        if ord(ch) > 0xFFFF:
            out.append(i)
    out.append(len(s))
    return out


def wrap_text(text: str, font: QFont, width: float, device: QPagedPaintDevice) -> list[str]:
    """Break `text` into lines no wider than `width` device pixels. Explicit newlines are kept;
    words longer than a line (hashes, long file names) are broken anywhere. A line never ends
    inside a hyphenated word ("AI-generated", "P(AI-generated)"): text extracted from the PDF
    reads as printed, not as "AIgenerated"."""
    lines: list[str] = []
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    for para in clean_text(text).split("\n"):
        if not para.strip():
            lines.append("")
            continue
        # Laid out with non-breaking hyphens (one UTF-16 unit each, like "-", so the offsets
        # hold); the lines keep the text's own hyphens.
        layout = QTextLayout(para.replace("-", NON_BREAKING_HYPHEN), font, device)
        layout.setTextOption(option)
        index = _utf16_to_index(para)
        layout.beginLayout()
        while True:
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(max(1.0, width))
            start = index[min(line.textStart(), len(index) - 1)]
            end = index[min(line.textStart() + line.textLength(), len(index) - 1)]
            lines.append(para[start:end].rstrip())
        layout.endLayout()
    return lines
