"""The stored forensic results (``Analysis.forensics``) in words for the report (Qt-free): the
key indicators of each analysis with human labels, the regions to mark on the picture, and the
limits of every method used in a case.

The results are the dicts of :meth:`inspector.core.forensics.base.ForensicResult.to_dict`. They
come from case files, so every value is read defensively: a missing or odd value is shown as
"—", never a crash. The report shows the key indicators only; everything else (parameters, the
whole metadata) is in the JSON attachment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from inspector.core.forensics import ANALYSIS_NAMES
from inspector.core.results import Analysis
from inspector.report.text_lines import clean_text
from inspector.report.texts import field_label

__all__ = [
    "MAX_MARKS",
    "Mark",
    "indicator_lines",
    "marks",
    "method_limits",
    "ordered_results",
    "state",
]

# The letter that tags an analysis's regions on the picture (the model's tags are numbers).
TAG_LETTERS = {"copy_move": "C", "noise": "N", "double_jpeg": "D", "ela": "E", "spectrum": "S",
               "jpeg": "J", "metadata": "M"}
MAX_MARKS = 6  # regions drawn and listed per analysis; the attachment has them all

_EXIF_HIGHLIGHTS = (("make", "Camera make"), ("model", "Camera model"), ("software", "Software"),
                    ("datetimeoriginal", "Taken"))


@dataclass(frozen=True)
class Mark:
    """A region to draw: `tag` on `box` (image pixels); a copy-move pair also has the `source`
    its target was copied from (drawn as a second box with a line to the target)."""

    tag: str
    box: tuple[float, float, float, float]
    text: str  # the line listing it in the table
    source: tuple[float, float, float, float] | None = None


def ordered_results(a: Analysis) -> list[dict[str, Any]]:
    """The analysis's forensic results in display order (known analyses first)."""
    stored = a.forensics or {}
    known = [n for n in ANALYSIS_NAMES if n in stored]
    names = known + sorted(n for n in stored if n not in ANALYSIS_NAMES)
    out = []
    for name in names:
        result = stored[name]
        if isinstance(result, dict):
            out.append({**result, "name": result.get("name") or name})
    return out


def state(result: dict[str, Any]) -> str:
    """"failed", "not applicable" or "done"."""
    if result.get("error"):
        return "failed"
    return "done" if result.get("applicable", True) else "not applicable"


def title_of(result: dict[str, Any]) -> str:
    return clean_text(result.get("title") or field_label(str(result.get("name", "analysis"))),
                      single_line=True)


def method_limits(analyses: Iterable[Analysis]) -> list[tuple[str, str]]:
    """(title, limits) of every method that appears in `analyses`, once each, in display order;
    a method whose recorded limits differ between analyses lists each wording once."""
    by_name: dict[str, tuple[str, list[str]]] = {}
    for a in analyses:
        for r in ordered_results(a):
            title, texts = by_name.setdefault(r["name"], (title_of(r), []))
            limits = clean_text(str(r.get("limits") or "").strip())
            if limits and limits not in texts:
                texts.append(limits)
    order = [n for n in ANALYSIS_NAMES if n in by_name]
    order += sorted(n for n in by_name if n not in ANALYSIS_NAMES)
    return [(by_name[n][0], "\n".join(by_name[n][1]) or "No limits were recorded.")
            for n in order]


# -- values -----------------------------------------------------------------------------------

def _number(value: Any) -> str:
    """A value as shown: numbers to three significant digits (a score of 0.0027 is not 0.00)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value == 0 or abs(value) >= 1000:
            return f"{value:.0f}"
        return f"{value:.1e}" if abs(value) < 0.001 else f"{value:.3g}"
    if value is None or value == "":
        return "—"
    return clean_text(value, single_line=True)


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, list | tuple | dict):
        return len(value)
    return None


def _detected(value: Any, yes: str, no: str) -> str:
    return yes if value is True else no if value is False else "undecided"


def _presence(value: Any) -> str:
    """A metadata block summarised: absent, present, or how many fields it holds."""
    if value is None or value is False or value in ("", [], {}):
        return "none"
    if value is True:
        return "present"
    if isinstance(value, dict):
        return f"{len(value)} field{'s' * (len(value) != 1)}"
    if isinstance(value, list | tuple):
        return f"{len(value)} entr{'ies' if len(value) != 1 else 'y'}"
    if isinstance(value, int | float):
        return _number(value)
    text = clean_text(value, single_line=True)
    return text if len(text) <= 48 else "present"


def _exif_tags(exif: Any) -> dict[str, Any]:
    """The EXIF tags of every IFD in one mapping (``{"IFD0": {"Make": ...}, "Exif": {...}}``);
    the first IFD that holds a tag wins (IFD0 before the thumbnail's IFD1)."""
    tags: dict[str, Any] = {}
    if isinstance(exif, dict):
        for ifd in exif.values():
            for tag, value in (ifd.items() if isinstance(ifd, dict) else ()):
                tags.setdefault(str(tag), value)
    return tags


def _metadata_lines(ind: dict[str, Any]) -> list[str]:
    tags = _exif_tags(ind.get("exif"))
    exif_line = (f"EXIF: {len(tags)} tag{'s' * (len(tags) != 1)}" if tags
                 else f"EXIF: {_presence(ind.get('exif'))}")  # fmt: skip
    lines = [exif_line] + [f"{label}: {_presence(ind.get(key))}" for key, label in (
        ("xmp", "XMP"), ("iptc", "IPTC"), ("icc", "ICC profile"),
        ("thumbnail", "Embedded thumbnail"))]
    lower = {tag.lower().replace(" ", "").replace("_", ""): v for tag, v in tags.items()}
    for key, label in _EXIF_HIGHLIGHTS:
        value = lower.get(key)
        if isinstance(value, str | int | float) and str(value).strip():
            text = clean_text(value, single_line=True).strip()
            lines.append(f"{label}: {text[:60] + ' …' if len(text) > 60 else text}")
    lines.append("All metadata: in the JSON attachment")
    return lines


def indicator_lines(result: dict[str, Any]) -> list[str]:
    """The key indicators of a completed analysis, "Label: value" each."""
    ind = result.get("indicators")
    ind = ind if isinstance(ind, dict) else {}
    name = result.get("name")
    g = ind.get
    if name == "jpeg":
        tables = _count(g("tables"))
        progressive = g("progressive")
        return [f"Estimated quality: {_number(g('quality'))}",
                f"Chroma subsampling: {_number(g('subsampling'))}",
                "Encoding: " + ("progressive" if progressive is True else
                                "baseline" if progressive is False else "—"),
                f"Quantisation tables: {'—' if tables is None else tables}"]
    if name == "double_jpeg":
        lines = [f"Double compression: {_detected(g('detected'), 'detected', 'not detected')}",
                 f"Score: {_number(g('score'))}"]
        if g("first_quality") is not None:
            lines.append(f"First compression quality: {_number(g('first_quality'))}")
        return lines
    if name == "spectrum":
        peaks = _count(g("peaks"))
        return [f"Periodicity score: {_number(g('score'))}",
                f"Periodic peaks: {'—' if peaks is None else peaks}"]
    if name == "copy_move":
        pairs = _count(g("pairs"))
        return [f"Copied areas: {_detected(g('detected'), 'detected', 'none found')}",
                f"Source → target pairs: {'—' if pairs is None else pairs}"]
    if name == "noise":
        regions = _count(g("regions"))
        return [f"Inconsistency score: {_number(g('score'))}",
                f"Regions departing: {'—' if regions is None else regions}"]
    if name == "ela":
        return [f"Re-save quality: {_number(g('quality'))}",
                f"Mean error level: {_number(g('mean'))}"]
    if name == "metadata":
        return _metadata_lines(ind)
    # An analysis this version does not know: its plain values, labelled from their keys.
    return [f"{field_label(str(k))}: {_number(v)}" for k, v in ind.items()
            if v is None or isinstance(v, str | int | float | bool)][:6]


# -- regions ----------------------------------------------------------------------------------

def _box(value: Any) -> tuple[float, float, float, float] | None:
    if not isinstance(value, list | tuple) or len(value) != 4:
        return None
    try:
        x1, y1, x2, y2 = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return (x1, y1, x2, y2)


def _box_text(box: Sequence[float]) -> str:
    return "{:.0f}, {:.0f}, {:.0f}, {:.0f}".format(*box)


def marks(result: dict[str, Any]) -> tuple[list[Mark], int]:
    """The regions of a completed analysis to draw and list (at most :data:`MAX_MARKS`), and how
    many more there are. Copy-move pairs come from its ``pairs`` indicator (source → target)."""
    name = str(result.get("name", ""))
    letter = TAG_LETTERS.get(name, name[:1].upper() or "F")
    found: list[Mark] = []
    ind = result.get("indicators") if isinstance(result.get("indicators"), dict) else {}
    pairs = ind.get("pairs") if name == "copy_move" else None
    if isinstance(pairs, list) and pairs:
        for pair in pairs:
            src = _box(pair.get("source")) if isinstance(pair, dict) else None
            dst = _box(pair.get("target")) if isinstance(pair, dict) else None
            if src is None or dst is None:
                continue
            tag = f"{letter}{len(found) + 1}"
            matches = pair.get("matches")
            text = (f"{tag}: source {_box_text(src)} → target {_box_text(dst)}"
                    + (f" ({matches} matches)" if isinstance(matches, int) else ""))
            found.append(Mark(tag, dst, text, source=src))
    else:
        for region in result.get("regions") or []:
            box = _box(region.get("box")) if isinstance(region, dict) else None
            if box is None:
                continue
            tag = f"{letter}{len(found) + 1}"
            label = clean_text(region.get("label") or "region", single_line=True)
            score = region.get("score")
            text = (f"{tag}: {label} at {_box_text(box)}"
                    + (f", score {_number(score)}" if isinstance(score, int | float)
                       and not isinstance(score, bool) else ""))
            found.append(Mark(tag, box, text))
    return found[:MAX_MARKS], max(0, len(found) - MAX_MARKS)
