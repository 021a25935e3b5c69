"""The answer protocol: prompts, answer grammar, serializer and a total, incremental parser.

One source of truth for the app and the trainer: the trainer builds its targets with
`serialize_locate` / `serialize_examine`, so the model is trained on exactly what `parse_locate` /
`parse_examine` read. Parsing never raises: any string (garbage, truncated, half-streamed) gives a
result plus a list of problems. Coordinates here are raw numbers in the *model's* space; converting
them to original-image pixels is the pipeline's job (see geometry.py).
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

PROMPTS_VERSION = "lte-prompts/1"

REAL = "real"
AI_GENERATED = "ai-generated"
VERDICTS: tuple[str, str] = (REAL, AI_GENERATED)

# FakeXplainer's image-level tags (perceptual attributes that need no box).
TAGS: tuple[str, ...] = (
    "perspective",
    "artistic-style",
    "unknown-object",
    "structure",
    "texture",
    "other",
)

SYSTEM_PROMPT = (
    "You are an expert in image forensics. You decide whether an image is a real photograph or "
    "AI-generated, and you ground every claim in specific regions of the image."
)

# How each coordinate space is described to the model (see geometry.CoordinateSpace.name).
COORDINATE_HINTS: dict[str, str] = {
    "qwen2_5_vl_absolute_pixels": "in pixels of the image as you see it",
    "qwen3_vl_relative": "on a 0-1000 scale relative to the image width and height",
}

LOCATE_INSTRUCTION = """\
Examine this image and decide whether it is a real photograph or AI-generated.
1. Explain what you see that supports your judgement.
2. Locate the regions that deserve a closer look: areas generators often get wrong (faces, hands, \
paws, small text, logos, reflections, shadows, repeated textures) or fine details that are hard to \
fake. Give each region as {{"bbox_2d": [x1, y1, x2, y2], "label": "..."}} with coordinates \
{coordinate_hint}.
3. Give your initial verdict: real or ai-generated.
Answer exactly in this form:
<explanation>...</explanation>
<regions>[...]</regions>
<verdict>real or ai-generated</verdict>"""

EXAMINE_INSTRUCTION = """\
Here are close-ups of the regions you located, magnified. Compare each close-up with the whole \
image, state what it shows and which verdict it points to, then give your corrected verdict.
Answer exactly in this form:
<findings>[{"region": 1, "observation": "...", "points_to": "real or ai-generated"}, ...]</findings>
<explanation>...</explanation>
<tags>zero or more of: perspective, artistic-style, unknown-object, structure, texture, other</tags>
<verdict>real or ai-generated</verdict>"""


def closeup_caption(number: int, label: str) -> str:
    """The text that introduces close-up `number` (1-based) in the Query-2 user turn."""
    label = " ".join(label.split()) or "unlabelled region"
    return f"Close-up {number}: {label}"


# --------------------------------------------------------------------------------------------
# Conversations (Hugging Face chat format; images as {"type": "image", "image": PIL.Image})
# --------------------------------------------------------------------------------------------


def locate_messages(
    image: Any, coordinate_space_name: str, instruction: str | None = None
) -> list[dict[str, Any]]:
    """The Query-1 conversation: system prompt, then the image and the locate instruction.

    ``instruction`` is a template like :data:`LOCATE_INSTRUCTION` (with ``{coordinate_hint}``),
    e.g. one of :data:`LOCATE_INSTRUCTION_VARIANTS` for training; None means the canonical one.
    """
    hint = COORDINATE_HINTS.get(coordinate_space_name, "in pixels of the image as you see it")
    template = LOCATE_INSTRUCTION if instruction is None else instruction
    return [
        {"role": "system", "content": [{"type": "text", "text": SYSTEM_PROMPT}]},
        {
            "role": "user",
            "content": [
                {"type": "image", "image": image},
                {"type": "text", "text": template.format(coordinate_hint=hint)},
            ],
        },
    ]


def examine_messages(
    query1_messages: list[dict[str, Any]],
    query1_answer: str,
    closeups: Sequence[tuple[str, Any]],
) -> list[dict[str, Any]]:
    """The Query-2 conversation: Query 1, its answer, then one close-up per region.

    `closeups` holds (label, image) in region order; they are numbered from 1. The prefix is
    Query 1 unchanged, which is what lets a backend reuse Query 1's KV cache.
    """
    content: list[dict[str, Any]] = []
    for number, (label, image) in enumerate(closeups, start=1):
        content.append({"type": "text", "text": closeup_caption(number, label) + "\n"})
        content.append({"type": "image", "image": image})
    content.append({"type": "text", "text": EXAMINE_INSTRUCTION})
    return [
        *query1_messages,
        {"role": "assistant", "content": [{"type": "text", "text": query1_answer}]},
        {"role": "user", "content": content},
    ]


# --------------------------------------------------------------------------------------------
# Parsed answers
# --------------------------------------------------------------------------------------------


@dataclass
class RawRegion:
    """A region as the model wrote it: coordinates still in the model's space."""

    coords: list[float]
    label: str
    # characters of its JSON object in the whole answer (where it was written, not what it is)
    span: tuple[int, int] | None = field(default=None, compare=False)


@dataclass
class Finding:
    region: int  # 1-based, as numbered in the Query-2 turn
    observation: str
    points_to: str | None  # a verdict, or None when missing/unknown


@dataclass
class LocateAnswer:
    explanation: str | None = None
    regions: list[RawRegion] = field(default_factory=list)
    verdict: str | None = None  # REAL, AI_GENERATED, or None (unparsed)
    problems: list[str] = field(default_factory=list)


@dataclass
class ExamineAnswer:
    findings: list[Finding] = field(default_factory=list)
    explanation: str | None = None
    tags: list[str] = field(default_factory=list)
    verdict: str | None = None
    problems: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Serializer
# --------------------------------------------------------------------------------------------


def _number(value: float) -> int | float:
    """Integers print without a decimal point, as Qwen writes boxes."""
    return int(value) if float(value).is_integer() else round(float(value), 2)


def serialize_locate(explanation: str, regions: Sequence[RawRegion], verdict: str) -> str:
    """The canonical Query-1 answer. `regions` carry model-space coordinates."""
    _check_verdict(verdict)
    items = [
        {"bbox_2d": [_number(v) for v in r.coords], "label": r.label} for r in regions
    ]
    return (
        f"<explanation>{explanation.strip()}</explanation>\n"
        f"<regions>{json.dumps(items, ensure_ascii=False)}</regions>\n"
        f"<verdict>{verdict}</verdict>"
    )


def serialize_examine(
    findings: Sequence[Finding], explanation: str, verdict: str, tags: Sequence[str] = ()
) -> str:
    """The canonical Query-2 answer; the tags line is omitted when there are no tags."""
    _check_verdict(verdict)
    items = []
    for f in findings:
        item: dict[str, Any] = {"region": f.region, "observation": f.observation}
        if f.points_to is not None:
            _check_verdict(f.points_to)
            item["points_to"] = f.points_to
        items.append(item)
    unknown = [t for t in tags if t not in TAGS]
    if unknown:
        raise ValueError(f"unknown tags {unknown}; allowed: {', '.join(TAGS)}")
    parts = [
        f"<findings>{json.dumps(items, ensure_ascii=False)}</findings>",
        f"<explanation>{explanation.strip()}</explanation>",
    ]
    if tags:
        parts.append(f"<tags>{', '.join(tags)}</tags>")
    parts.append(f"<verdict>{verdict}</verdict>")
    return "\n".join(parts)


def _check_verdict(verdict: str) -> None:
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")


# --------------------------------------------------------------------------------------------
# Parser (total: never raises)
# --------------------------------------------------------------------------------------------

_TAG_NAMES_LOCATE = ("explanation", "regions", "verdict")
_TAG_NAMES_EXAMINE = ("findings", "explanation", "tags", "verdict")


@dataclass
class _Section:
    name: str
    start: int  # index of the opening tag
    body: str
    closed: bool


def _find_sections(text: str, names: Sequence[str], problems: list[str]) -> dict[str, _Section]:
    """First occurrence of each <name>…</name>; an unclosed one runs to the next tag or the end."""
    sections: dict[str, _Section] = {}
    for name in names:
        opening = f"<{name}>"
        closing = f"</{name}>"
        start = text.find(opening)
        if start < 0:
            continue
        body_start = start + len(opening)
        end = text.find(closing, body_start)
        if end >= 0:
            body, closed = text[body_start:end], True
            if text.find(opening, end) >= 0:
                problems.append(f"<{name}> appears more than once; the first one is used")
        else:
            nxt = [text.find(f"<{other}>", body_start) for other in names if other != name]
            nxt = [i for i in nxt if i >= 0]
            body = text[body_start : min(nxt)] if nxt else text[body_start:]
            closed = False
        sections[name] = _Section(name, start, body, closed)
    present = [n for n in names if n in sections]
    if present != sorted(present, key=lambda n: sections[n].start):
        problems.append("sections are out of the expected order " + " → ".join(names))
    return sections


def normalize_verdict(raw: str) -> str | None:
    """`real` / `ai-generated`, tolerant of case, spacing and separators; else None."""
    word = raw.strip().strip(".!\"'`*").strip().lower()
    word = re.sub(r"[\s_]+", "-", word)
    if word == REAL:
        return REAL
    if word in (AI_GENERATED, "aigenerated"):
        return AI_GENERATED
    return None


def _parse_verdict(sections: dict[str, _Section], problems: list[str]) -> str | None:
    section = sections.get("verdict")
    if section is None:
        problems.append("no <verdict> section")
        return None
    if not section.closed:
        problems.append("<verdict> is not closed (answer cut off?)")
    verdict = normalize_verdict(section.body)
    if verdict is None:
        shown = section.body.strip()[:40]
        problems.append(f"verdict {shown!r} is neither 'real' nor 'ai-generated'")
    return verdict


def _parse_text(sections: dict[str, _Section], name: str, problems: list[str]) -> str | None:
    section = sections.get(name)
    if section is None:
        problems.append(f"no <{name}> section")
        return None
    if not section.closed:
        problems.append(f"<{name}> is not closed (answer cut off?)")
    text = section.body.strip()
    if not text:
        problems.append(f"<{name}> is empty")
        return None
    return text


_SCAN_OUTSIDE = re.compile(r'[\[\]{}"]')  # what matters between strings
_SCAN_INSIDE = re.compile(r'["\\]')  # what matters inside a string


class _ArrayScanner:
    """The state of `scan_json_objects`, so a growing text is scanned once, slice by slice.

    Only brackets, braces, quotes and backslashes matter; a regex jumps between them.
    """

    __slots__ = ("depth", "in_string", "escaped", "started", "finished", "object_start")

    def __init__(self) -> None:
        self.depth = 0
        self.in_string = self.escaped = self.started = self.finished = False
        self.object_start = -1

    def scan(self, text: str, pos: int, end: int) -> list[tuple[int, int]]:
        """Scan text[pos:end] (which follows what was scanned before); return the (start, stop)
        spans in `text` of the objects that closed in it."""
        spans: list[tuple[int, int]] = []
        if self.finished:
            return spans
        if self.escaped and pos < end:
            self.escaped = False
            pos += 1
        while pos < end:
            if self.in_string:
                match = _SCAN_INSIDE.search(text, pos, end)
                if match is None:
                    break
                i = match.start()
                if text[i] == '"':
                    self.in_string = False
                    pos = i + 1
                elif i + 1 < end:  # a backslash: the next character is escaped
                    pos = i + 2
                else:
                    self.escaped = True
                    break
                continue
            match = _SCAN_OUTSIDE.search(text, pos, end)
            if match is None:
                break
            i = match.start()
            ch = text[i]
            pos = i + 1
            if ch == '"':
                self.in_string = True
            elif ch == "[":
                self.started = True
            elif ch == "{":
                if self.depth == 0:
                    self.object_start = i
                self.depth += 1
            elif ch == "}":
                if self.depth > 0:
                    self.depth -= 1
                    if self.depth == 0 and self.object_start >= 0:
                        spans.append((self.object_start, i + 1))
                        self.object_start = -1
            elif self.depth == 0 and self.started:  # "]"
                self.finished = True
                break
        return spans


def scan_json_objects(text: str) -> tuple[list[str], bool]:
    """Split a (possibly unfinished) JSON array into the source of each *closed* top-level object.

    Returns (objects, finished): `finished` is True when the closing `]` was seen. Brackets inside
    strings are ignored, so a label like "a [b]" does not confuse it. Used incrementally: while an
    answer streams in, every object whose `}` has arrived is returned.
    """
    scanner = _ArrayScanner()
    spans = scanner.scan(text, 0, len(text))
    return [text[a:b] for a, b in spans], scanner.finished


def _load_object(source: str, what: str, problems: list[str]) -> dict[str, Any] | None:
    try:
        value = json.loads(source)
    except (ValueError, RecursionError):
        problems.append(f"{what} is not valid JSON: {source[:60]!r}")
        return None
    if not isinstance(value, dict):
        problems.append(f"{what} is not a JSON object")
        return None
    return value


def _region_from_object(obj: dict[str, Any], number: int, problems: list[str]) -> RawRegion | None:
    coords = obj.get("bbox_2d", obj.get("bbox"))
    if not isinstance(coords, list) or len(coords) != 4:
        problems.append(f"region {number}: bbox_2d must be a list of 4 numbers")
        return None
    values: list[float] = []
    for v in coords:
        if isinstance(v, bool) or not isinstance(v, int | float):
            problems.append(f"region {number}: bbox_2d must be a list of 4 numbers")
            return None
        try:
            value = float(v)
        except OverflowError:  # an integer beyond the largest float
            problems.append(f"region {number}: a bbox_2d coordinate is too large to be a number")
            return None
        if not math.isfinite(value):
            problems.append(f"region {number}: bbox_2d must be a list of 4 finite numbers")
            return None
        values.append(value)
    label = obj.get("label", "")
    if not isinstance(label, str):
        label = str(label)
    if not label.strip():
        problems.append(f"region {number}: no label")
    return RawRegion(values, label.strip())


def parse_regions(body: str, problems: list[str], offset: int = 0) -> list[RawRegion]:
    """Regions from the body of <regions>; each valid closed object counts, bad ones are listed.

    ``offset``: where the body starts in the whole answer, so each region's ``span`` points into
    the answer (the tokens that wrote it, for a per-region confidence).
    """
    scanner = _ArrayScanner()
    spans = scanner.scan(body, 0, len(body))
    objects, finished = [body[a:b] for a, b in spans], scanner.finished
    stripped = body.strip()
    if stripped and not stripped.startswith("["):
        problems.append("<regions> does not hold a JSON list")
    elif stripped and not finished:
        problems.append("the regions list is not closed (answer cut off?)")
    regions: list[RawRegion] = []
    for number, source in enumerate(objects, start=1):
        obj = _load_object(source, f"region {number}", problems)
        if obj is None:
            continue
        region = _region_from_object(obj, number, problems)
        if region is not None:
            start, end = spans[number - 1]
            region.span = (offset + start, offset + end)
            regions.append(region)
    return regions


def parse_locate(text: object) -> LocateAnswer:
    """Parse a (possibly partial) Query-1 answer. Never raises."""
    answer = LocateAnswer()
    if not isinstance(text, str):
        answer.problems.append("the answer is not text")
        return answer
    sections = _find_sections(text, _TAG_NAMES_LOCATE, answer.problems)
    answer.explanation = _parse_text(sections, "explanation", answer.problems)
    if "regions" in sections:
        section = sections["regions"]
        answer.regions = parse_regions(section.body, answer.problems,
                                       offset=section.start + len("<regions>"))
    else:
        answer.problems.append("no <regions> section")
    answer.verdict = _parse_verdict(sections, answer.problems)
    return answer


def parse_examine(text: object, region_count: int | None = None) -> ExamineAnswer:
    """Parse a (possibly partial) Query-2 answer. Never raises.

    With `region_count`, findings that point at a region number that was not shown are dropped
    and reported.
    """
    answer = ExamineAnswer()
    if not isinstance(text, str):
        answer.problems.append("the answer is not text")
        return answer
    sections = _find_sections(text, _TAG_NAMES_EXAMINE, answer.problems)
    if "findings" in sections:
        answer.findings = _parse_findings(sections["findings"].body, region_count, answer.problems)
    else:
        answer.problems.append("no <findings> section")
    answer.explanation = _parse_text(sections, "explanation", answer.problems)
    if "tags" in sections:
        answer.tags = _parse_tags(sections["tags"].body, answer.problems)
    answer.verdict = _parse_verdict(sections, answer.problems)
    return answer


def _parse_findings(body: str, region_count: int | None, problems: list[str]) -> list[Finding]:
    objects, finished = scan_json_objects(body)
    if body.strip() and not finished:
        problems.append("the findings list is not closed (answer cut off?)")
    findings: list[Finding] = []
    for number, source in enumerate(objects, start=1):
        obj = _load_object(source, f"finding {number}", problems)
        if obj is None:
            continue
        region = obj.get("region")
        if isinstance(region, bool) or not isinstance(region, int):
            problems.append(f"finding {number}: 'region' must be a region number")
            continue
        if region < 1 or (region_count is not None and region > region_count):
            problems.append(f"finding {number}: there is no region {region}")
            continue
        observation = obj.get("observation", "")
        observation = observation.strip() if isinstance(observation, str) else str(observation)
        raw_points = obj.get("points_to")
        points_to = normalize_verdict(raw_points) if isinstance(raw_points, str) else None
        if points_to is None:
            problems.append(f"finding {number}: 'points_to' is not a verdict")
        findings.append(Finding(region, observation, points_to))
    return findings


def _parse_tags(body: str, problems: list[str]) -> list[str]:
    tags: list[str] = []
    for raw in re.split(r"[,\n;]", body):
        tag = re.sub(r"[\s_]+", "-", raw.strip().lower())
        if not tag or tag in ("none", "-"):
            continue
        if tag in TAGS:
            if tag not in tags:
                tags.append(tag)
        else:
            problems.append(f"unknown tag {raw.strip()[:30]!r}")
    return tags


def _resume(previous_length: int, tag: str, floor: int = 0) -> int:
    """Where to resume looking for `tag` in a text that grew from `previous_length` characters:
    a tag may straddle the old end, so back up by all but one of its characters."""
    return max(floor, previous_length - len(tag) + 1)


class RegionStream:
    """Reports each Query-1 region as soon as its JSON object closes while the answer streams.

    Linear in the answer's length: state is kept between calls and only the new part of the text
    is scanned. A text that does not extend the previous one is scanned again from the start.
    """

    def __init__(self) -> None:
        self._seen = 0  # regions reported so far
        self._restart()

    def _restart(self) -> None:
        self._text = ""
        self._body = -1  # index just after <regions>; -1 until it arrives
        self._end = -1  # index of </regions>; -1 until it arrives
        self._scanned = 0  # the body is scanned up to this index
        self._scanner = _ArrayScanner()
        self._regions: list[RawRegion] = []  # every valid region in the text so far

    def feed(self, text_so_far: str) -> list[RawRegion]:
        """Given the whole answer so far, return the regions that completed since the last call."""
        if not isinstance(text_so_far, str):
            return []
        if not text_so_far.startswith(self._text):
            self._restart()
        self._advance(text_so_far)
        new = self._regions[self._seen :]
        self._seen = len(self._regions)
        return new

    def _advance(self, text: str) -> None:
        previous = len(self._text)
        self._text = text
        if self._body < 0:
            start = text.find("<regions>", _resume(previous, "<regions>"))
            if start < 0:
                return
            self._body = self._scanned = start + len("<regions>")
        if self._end < 0:
            self._end = text.find("</regions>", _resume(previous, "</regions>", self._body))
        limit = self._end if self._end >= 0 else len(text)
        if self._scanned >= limit:
            return
        # Characters of a "</regions>" still arriving are scanned: none of them means anything
        # to the scanner, and once the tag completes nothing after it is scanned.
        for a, b in self._scanner.scan(text, self._scanned, limit):
            ignored: list[str] = []
            obj = _load_object(text[a:b], "region", ignored)
            region = None if obj is None else _region_from_object(obj, 0, ignored)
            if region is not None:
                self._regions.append(region)
        self._scanned = limit


class StreamingView:
    """`streaming_view` with memory: keep one per streaming answer to parse it in linear time.

    Each call takes the whole text so far and scans only what is new since the previous call; a
    text that does not extend the previous one starts it over.
    """

    def __init__(self) -> None:
        self._restart()

    def _restart(self) -> None:
        self._text = ""
        self._body = -1  # index just after <explanation>
        self._close = -1  # index of </explanation>
        self._closed_text = ""  # the explanation, once closed
        self._scanned = 0  # the open explanation is scanned up to here
        self._lead = -1  # first non-space character of the explanation
        self._content_end = -1  # just after its last non-space character so far
        self._last_lt = -1  # its last "<" (maybe a closing tag arriving)
        self._gt_after_lt = False  # a ">" follows that "<": it is not a tag in progress
        self._end_before_lt = -1  # _content_end just before _last_lt
        self._v_body = -1
        self._v_close = -1
        self._verdict: str | None = None

    def __call__(self, text_so_far: str) -> tuple[str, str | None]:
        text = text_so_far if isinstance(text_so_far, str) else ""
        if not text.startswith(self._text):
            self._restart()
        previous = len(self._text)
        self._text = text
        return self._explanation(text, previous), self._verdict_of(text, previous)

    def _explanation(self, text: str, previous: int) -> str:
        if self._body < 0:
            start = text.find("<explanation>", _resume(previous, "<explanation>"))
            if start < 0:
                return ""
            self._body = self._scanned = start + len("<explanation>")
        if self._close >= 0:
            return self._closed_text
        close = text.find("</explanation>", _resume(previous, "</explanation>", self._body))
        if close >= 0:
            self._close = close
            self._closed_text = text[self._body : close].strip()
            return self._closed_text
        if self._scanned < len(text):
            self._scan_open(text[self._scanned :], self._scanned)
            self._scanned = len(text)
        if self._last_lt >= 0 and not self._gt_after_lt:
            end = self._end_before_lt  # part of a closing tag arriving token by token
        else:
            end = self._content_end
        return text[self._lead : end] if 0 <= self._lead < end else ""

    def _scan_open(self, piece: str, offset: int) -> None:
        if self._lead < 0:
            rest = piece.lstrip()
            if rest:
                self._lead = offset + len(piece) - len(rest)
        lt = piece.rfind("<")
        if lt >= 0:
            before = piece[:lt].rstrip()
            self._end_before_lt = offset + len(before) if before else self._content_end
            self._last_lt = offset + lt
            self._gt_after_lt = ">" in piece[lt:]
        elif self._last_lt >= 0 and not self._gt_after_lt:
            self._gt_after_lt = ">" in piece
        kept = piece.rstrip()
        if kept:
            self._content_end = offset + len(kept)

    def _verdict_of(self, text: str, previous: int) -> str | None:
        if self._v_close >= 0:
            return self._verdict
        if self._v_body < 0:
            start = text.find("<verdict>", _resume(previous, "<verdict>"))
            if start < 0:
                return None
            self._v_body = start + len("<verdict>")
        close = text.find("</verdict>", _resume(previous, "</verdict>", self._v_body))
        if close >= 0:
            self._v_close = close
            self._verdict = normalize_verdict(text[self._v_body : close])
        return self._verdict


_shared_view = StreamingView()
_shared_view_lock = threading.Lock()


def streaming_view(text_so_far: str) -> tuple[str, str | None]:
    """(explanation so far, verdict or None) of a half-streamed answer, for people to read.

    Only the explanation's words are returned, never tags or JSON; a tag still being written at
    the end ("</expla") is held back until it completes. Calls that pass one growing answer cost
    only its new part (one shared :class:`StreamingView`); a caller following several answers at
    once should keep a `StreamingView` for each.
    """
    with _shared_view_lock:
        return _shared_view(text_so_far)


# --------------------------------------------------------------------------------------------
# Instruction paraphrases for training (the app always uses LOCATE_INSTRUCTION)
# --------------------------------------------------------------------------------------------

# The answer-format block every locate instruction ends with, verbatim (a template: it contains
# {coordinate_hint}; JSON braces are doubled for str.format).
LOCATE_ANSWER_FORMAT = """\
Give each region as {{"bbox_2d": [x1, y1, x2, y2], "label": "..."}} with coordinates \
{coordinate_hint}.
3. Give your initial verdict: real or ai-generated.
Answer exactly in this form:
<explanation>...</explanation>
<regions>[...]</regions>
<verdict>real or ai-generated</verdict>"""

# Templates for `locate_messages(..., instruction=...)`. The first is the canonical
# LOCATE_INSTRUCTION, so training also sees exactly what the app asks; the others paraphrase the
# task and end with LOCATE_ANSWER_FORMAT, so the answer grammar never varies.
LOCATE_INSTRUCTION_VARIANTS: tuple[str, ...] = (
    LOCATE_INSTRUCTION,
    "Is this image a real photograph or was it generated by AI? Decide, and show your evidence.\n"
    "1. Describe what you observe that supports your decision.\n"
    "2. Point out the regions worth inspecting more closely: places where image generators tend "
    "to fail (faces, hands, paws, small text, logos, reflections, shadows, repeated textures) or "
    "fine details that would be hard to fake. " + LOCATE_ANSWER_FORMAT,
    "Act as a forensic analyst. Scan the whole image and judge whether it is a genuine "
    "photograph or AI-generated.\n"
    "1. Explain the visual evidence behind your judgement.\n"
    "2. Mark the suspicious or telling regions for a closer look, such as faces, hands, paws, "
    "text, logos, reflections, shadows, repeated patterns, or details that are difficult to "
    "synthesise. " + LOCATE_ANSWER_FORMAT,
    "Look carefully at this picture: real photo or AI-generated?\n"
    "1. Say what you see that leads you to your answer.\n"
    "2. List the areas that need magnification: typical generator mistakes (faces, hands, "
    "animal paws, small lettering, logos, reflections, shadows, tiled textures) or fine details "
    "that are hard to forge. " + LOCATE_ANSWER_FORMAT,
)
