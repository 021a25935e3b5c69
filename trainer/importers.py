"""Importers: public forensic datasets → :class:`trainer.records.Record`.

Every importer returns ``(records, problems)``. A bad entry is skipped with a message naming it
(``INPUT: entry N (IMAGE): what is wrong``); the import never aborts on one record. Image paths
are resolved relative to the input file's folder (absolute paths are kept), and each image is
read (never written) for its sha256, width and height. The records' ``image`` fields are absolute
paths; :func:`trainer.records.rebase_images` makes them relative to the output file.

Boxes end up in ORIGINAL-image pixels of the image as the app sees it (EXIF orientation
applied), ordered and clamped into the image; a box that has no area inside the image is dropped
and reported.

Accepted layouts
================

TRACE-style tuples (I, y, E, B) — :func:`import_trace`
    A ``.jsonl`` file (one object per line), a ``.json`` file holding a list of objects (or an
    object with a ``data``/``annotations``/``items``/``samples`` list), or an in-memory list of
    dicts. Keys (first one present wins):

    * image: ``image``, ``image_path``, ``path``, ``file_name``, ``file``
    * label y: ``label``, ``y``, ``verdict``; values ``real`` / ``generated`` /
      ``ai-generated`` / ``fake`` (case-insensitive; ``generated`` and ``fake`` →
      ``ai-generated``)
    * explanation E: ``explanation``, ``E``, ``reasoning``, ``reason``
    * boxes B: ``boxes``, ``B``, ``bboxes``, ``bbox`` — a list whose items are ``[x1, y1, x2,
      y2]`` or objects ``{"bbox"|"bbox_2d"|"box": [...], "label"|"caption": "...",
      "tag": "..."}``
    * source (optional): ``source``, ``generator`` (default: the ``source`` argument)

FakeXplained / mllm-defake (ms-swift grounding style) — :func:`import_fakexplained`
    JSONL rows ``{"messages": [...], "images": ["a.png"], "objects": {"ref": ["caption", ...],
    "bbox": [[x1, y1, x2, y2], ...], "bbox_type"?: "real"|"norm1000"|"norm1"}}``. ``objects`` may
    also be a list of ``{"ref", "bbox"}`` objects. The label is the row's ``label`` key if any,
    else the assistant message's ``<verdict>…</verdict>``; the explanation is the row's
    ``explanation`` key, else the assistant's ``<think>…</think>``, else the assistant text with
    markup removed. Image-level ``<tag>`` values are not kept (records carry tags per region).

SynthScars (LEGION) — :func:`import_synthscars`
    A JSON list of entries (or an object with such a list, or an object mapping image names to
    entries). Keys: image ``image``/``img_file_name``/``image_path``/``file_name`` (or the mapping
    key); regions ``regions``/``refs``/``annotations``/``objects``, each with a polygon
    ``polygon``/``points``/``segmentation`` (``[[x, y], ...]``, flat ``[x, y, x, y, ...]``, or a
    list of such polygons) and a caption ``caption``/``explanation``/``description``/``ref``;
    optional ``tag``/``category``/``type`` mapped to protocol TAGS when it matches one. The label
    defaults to ``ai-generated`` (SynthScars is all synthetic) unless a ``label`` key says
    otherwise; the explanation is ``explanation``/``description`` or else the captions joined.
    Each polygon becomes its bounding box, clamped to the image.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from inspector.core.geometry import Box, clamp_box
from inspector.core.imageio import ImageLoadError, load_image
from inspector.core.protocol import AI_GENERATED, REAL, TAGS
from trainer.records import Record, Region, validate

__all__ = [
    "BBOX_SPACES",
    "import_fakexplained",
    "import_synthscars",
    "import_trace",
    "normalize_label",
    "normalize_tag",
]

BBoxSpace = Literal["absolute", "relative1000", "relative1", "auto"]
BBOX_SPACES: tuple[str, ...] = ("absolute", "relative1000", "relative1", "auto")
_SWIFT_BBOX_TYPES = {"real": "absolute", "norm1000": "relative1000", "norm1": "relative1"}

_LABELS = {
    "real": REAL,
    "authentic": REAL,
    "ai-generated": AI_GENERATED,
    "aigenerated": AI_GENERATED,
    "generated": AI_GENERATED,
    "fake": AI_GENERATED,
    "synthetic": AI_GENERATED,
}

# FakeXplained's tag names (and a few spellings) → protocol.TAGS.
_TAG_SYNONYMS = {
    "perspective-error": "perspective",
    "perspective-errors": "perspective",
    "artistic": "artistic-style",
    "style": "artistic-style",
    "unknown-objects": "unknown-object",
    "structure-error": "structure",
    "structure-errors": "structure",
    "structural": "structure",
    "structural-error": "structure",
    "structural-errors": "structure",
    "texture-error": "texture",
    "texture-errors": "texture",
    "other-anomalies": "other",
    "other-anomaly": "other",
}


def normalize_label(raw: object) -> str | None:
    """``real`` / ``ai-generated`` from a dataset's label word; None if not recognised."""
    if not isinstance(raw, str):
        return None
    word = re.sub(r"[\s_]+", "-", raw.strip().strip(".!\"'`*").strip().lower())
    return _LABELS.get(word)


def normalize_tag(raw: object) -> str | None:
    """A protocol tag from a dataset's tag/category name; None if it is not one of TAGS."""
    if not isinstance(raw, str):
        return None
    word = re.sub(r"[\s_]+", "-", raw.strip().lower())
    if word in TAGS:
        return word
    return _TAG_SYNONYMS.get(word)


def _first(row: dict[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        if key in row and row[key] is not None:
            return row[key]
    return None


def _load_rows(path: Path) -> tuple[list[Any], list[str]]:
    """Rows of a .jsonl file (bad lines reported) or a .json list / wrapped list / mapping."""
    text = path.read_text(encoding="utf-8")
    problems: list[str] = []
    if path.suffix.lower() == ".jsonl":
        rows: list[Any] = []
        for line_no, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                problems.append(f"{path}: line {line_no}: not valid JSON ({exc})")
                rows.append(None)
        return rows, problems
    data = json.loads(text)
    if isinstance(data, dict):
        for key in ("data", "annotations", "items", "samples", "images"):
            if isinstance(data.get(key), list):
                return data[key], problems
        # A mapping image name -> entry.
        rows = []
        for name, entry in data.items():
            if isinstance(entry, dict):
                rows.append({"image": name, **entry})
            else:
                rows.append(None)
        return rows, problems
    if isinstance(data, list):
        return data, problems
    raise ValueError(f"{path}: expected a JSON list of entries, got {type(data).__name__}")


class _Skip(Exception):
    """The current entry is unusable; the message says why."""


def _to_pixels(
    values: object, size: tuple[int, int], space: str, what: str, notes: list[str]
) -> Box | None:
    """One box in original pixels (clamped), or None (reported in ``notes``)."""
    if (
        not isinstance(values, list | tuple)
        or len(values) != 4
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    ):
        notes.append(f"{what}: a box must be 4 numbers [x1, y1, x2, y2], got {values!r}; dropped")
        return None
    width, height = size
    x1, y1, x2, y2 = (float(v) for v in values)
    if space == "relative1000":
        sx, sy = width / 1000, height / 1000
        x1, x2, y1, y2 = x1 * sx, x2 * sx, y1 * sy, y2 * sy
    elif space == "relative1":
        x1, x2, y1, y2 = x1 * width, x2 * width, y1 * height, y2 * height
    box = clamp_box(Box(x1, y1, x2, y2), width, height)
    if box is None:
        notes.append(
            f"{what}: box {list(values)} has no area inside the {width}x{height} image; dropped"
        )
        return None
    return box


def _box_list(box: Box) -> list[float]:
    return box.to_list()


def _build(
    image_value: object,
    base_dir: Path,
    label: str,
    explanation: str,
    raw_regions: Iterable[tuple[object, str | None, str | None]],
    source: str,
    space: str,
    name: str,
    problems: list[str],
) -> Record | None:
    """Read the image, convert the boxes, validate. Problems are prefixed with ``name``."""
    if not isinstance(image_value, str) or not image_value.strip():
        raise _Skip("no image path")
    path = Path(image_value)
    if not path.is_absolute():
        path = base_dir / path
    try:
        loaded = load_image(path)
    except ImageLoadError as exc:
        raise _Skip(f"image cannot be read: {exc.message}") from exc
    except OSError as exc:
        raise _Skip(f"image cannot be read: {exc}") from exc
    size = (loaded.width, loaded.height)
    notes: list[str] = []
    regions: list[Region] = []
    for i, (values, caption, tag) in enumerate(raw_regions):
        box = _to_pixels(values, size, space, f"regions[{i}]", notes)
        if box is not None:
            regions.append(Region(_box_list(box), caption or None, tag))
    record = Record(
        image=str(path.resolve()),
        sha256=loaded.sha256,
        width=loaded.width,
        height=loaded.height,
        label=label,
        explanation=explanation,
        regions=regions,
        source=source,
    )
    errors = validate(record, 0)
    if errors:
        raise _Skip("; ".join(e.split(": ", 1)[1] for e in errors))
    problems.extend(f"{name}: {n}" for n in notes)
    return record


def _entry_image(row: object) -> str | None:
    """The image path an entry names, for messages only."""
    if not isinstance(row, dict):
        return None
    value = _first(row, ("image", "images", "img_file_name", "image_path", "file_name", "path"))
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, dict):
        value = value.get("path")
    return value if isinstance(value, str) else None


def _run(
    rows: list[Any],
    where: str,
    convert,
    problems: list[str],
) -> list[Record]:
    records: list[Record] = []
    for n, row in enumerate(rows, start=1):
        image = _entry_image(row)
        name = f"{where}: entry {n}" + (f" ({image})" if isinstance(image, str) else "")
        if not isinstance(row, dict):
            if row is not None:
                problems.append(f"{name}: not a JSON object; skipped")
            continue
        try:
            record = convert(row, name)
        except _Skip as exc:
            problems.append(f"{name}: {exc}; skipped")
            continue
        if record is not None:
            records.append(record)
    return records


# --------------------------------------------------------------------------------------------
# TRACE


def import_trace(
    path_or_rows: str | Path | Sequence[dict[str, Any]],
    *,
    base_dir: str | Path | None = None,
    source: str = "trace",
    bbox_space: BBoxSpace = "absolute",
) -> tuple[list[Record], list[str]]:
    """Import TRACE-style (image, y, E, B) tuples; see the module docstring for the keys.

    ``base_dir`` resolves relative image paths of in-memory rows (default: the current folder);
    for files it is the file's folder. ``bbox_space``: boxes in original pixels (default) or
    relative 0–1000 / 0–1.
    """
    _check_space(bbox_space, allow_auto=False)
    problems: list[str] = []
    if isinstance(path_or_rows, str | Path):
        path = Path(path_or_rows)
        rows, problems = _load_rows(path)
        where, base = str(path), path.parent
    else:
        rows, where = list(path_or_rows), "rows"
        base = Path(base_dir) if base_dir is not None else Path.cwd()

    def convert(row: dict[str, Any], name: str) -> Record | None:
        image = _first(row, ("image", "image_path", "path", "file_name", "file"))
        raw_label = _first(row, ("label", "y", "verdict"))
        label = normalize_label(raw_label)
        if label is None:
            raise _Skip(
                f"label {raw_label!r} is not real / generated / ai-generated / fake"
            )
        explanation = _first(row, ("explanation", "E", "reasoning", "reason"))
        if not isinstance(explanation, str) or not explanation.strip():
            raise _Skip("no explanation (keys: explanation, E, reasoning, reason)")
        boxes = _first(row, ("boxes", "B", "bboxes", "bbox"))
        if boxes is None:
            boxes = []
        if not isinstance(boxes, list):
            raise _Skip("boxes must be a list")
        raw_regions: list[tuple[object, str | None, str | None]] = []
        for item in boxes:
            if isinstance(item, dict):
                caption = _first(item, ("label", "caption"))
                raw_regions.append(
                    (
                        _first(item, ("bbox", "bbox_2d", "box")),
                        caption if isinstance(caption, str) else None,
                        normalize_tag(item.get("tag")),
                    )
                )
            else:
                raw_regions.append((item, None, None))
        src = _first(row, ("source", "generator"))
        return _build(
            image, base, label, explanation.strip(), raw_regions,
            src if isinstance(src, str) and src.strip() else source,
            bbox_space, name, problems,
        )

    return _run(rows, where, convert, problems), problems


# --------------------------------------------------------------------------------------------
# FakeXplained / mllm-defake

_VERDICT_RE = re.compile(r"<verdict>(.*?)(?:</verdict>|$)", re.DOTALL | re.IGNORECASE)
_THINK_RE = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_MARKUP_RE = re.compile(
    r"<bbox>.*?</bbox>|<\|box_start\|>.*?<\|box_end\|>|<tag>.*?</tag>|<verdict>.*?</verdict>"
    r"|</?(?:ref|think|answer)>|<\|object_ref_(?:start|end)\|>",
    re.DOTALL | re.IGNORECASE,
)


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def _check_space(space: str, allow_auto: bool) -> None:
    allowed = BBOX_SPACES if allow_auto else tuple(s for s in BBOX_SPACES if s != "auto")
    if space not in allowed:
        raise ValueError(f"bbox_space must be one of {', '.join(allowed)}, got {space!r}")


def _detect_space(boxes: list[object], size: tuple[int, int]) -> str | None:
    """Absolute or relative 0–1000 when the numbers make it certain, else None."""
    width, height = size
    flat = [
        float(v) for b in boxes if isinstance(b, list | tuple) for v in b
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    if not flat:
        return "absolute"  # nothing to convert
    xs = [float(b[i]) for b in boxes if isinstance(b, list | tuple) and len(b) == 4 for i in (0, 2)]
    ys = [float(b[i]) for b in boxes if isinstance(b, list | tuple) and len(b) == 4 for i in (1, 3)]
    if max(flat) > 1000:
        return "absolute"
    if (xs and max(xs) > width) or (ys and max(ys) > height):
        return "relative1000"
    return None  # both readings fit the image


def import_fakexplained(
    jsonl_path: str | Path,
    *,
    bbox_space: BBoxSpace = "absolute",
    source: str = "fakexplained",
) -> tuple[list[Record], list[str]]:
    """Import FakeXplained / mllm-defake JSONL (see the module docstring).

    ``bbox_space`` declares the boxes' space: ``"absolute"`` (original pixels, ms-swift's
    ``"real"``), ``"relative1000"`` (Qwen's 0–1000, ms-swift's ``"norm1000"``), ``"relative1"``
    (0–1), or ``"auto"``: a row's ``objects.bbox_type`` decides, else the numbers when they leave
    no doubt (a value over 1000 → absolute; a value beyond the image size → relative 0–1000);
    ambiguous rows are skipped with a message asking to declare the space. A declared space that
    contradicts a row's ``bbox_type`` skips that row.
    """
    _check_space(bbox_space, allow_auto=True)
    path = Path(jsonl_path)
    rows, problems = _load_rows(path)
    base = path.parent

    def convert(row: dict[str, Any], name: str) -> Record | None:
        images = row.get("images", row.get("image"))
        if isinstance(images, list):
            if len(images) != 1:
                raise _Skip(f"expected exactly one image, got {len(images)}")
            images = images[0]
        if isinstance(images, dict):  # {"path": ...} / {"bytes": ..., "path": ...}
            images = images.get("path")
        messages = row.get("messages") if isinstance(row.get("messages"), list) else []
        answer = "\n".join(
            _message_text(m) for m in messages
            if isinstance(m, dict) and m.get("role") == "assistant"
        )
        label = normalize_label(row.get("label"))
        if label is None:
            found = _VERDICT_RE.search(answer)
            label = normalize_label(found.group(1)) if found else None
        if label is None:
            raise _Skip("no label (neither a 'label' key nor a <verdict> in the assistant turn)")
        explanation = row.get("explanation")
        if not isinstance(explanation, str) or not explanation.strip():
            think = _THINK_RE.search(answer)
            explanation = think.group(1) if think else answer
            explanation = " ".join(_MARKUP_RE.sub("", explanation).split())
        if not explanation.strip():
            raise _Skip("no explanation (no 'explanation' key and no assistant text)")

        objects = row.get("objects") or {}
        refs: list[object]
        boxes: list[object]
        bbox_type = None
        if isinstance(objects, dict):
            refs = list(objects.get("ref") or [])
            boxes = list(objects.get("bbox") or [])
            bbox_type = objects.get("bbox_type")
        elif isinstance(objects, list):
            refs = [o.get("ref") if isinstance(o, dict) else None for o in objects]
            boxes = [o.get("bbox") if isinstance(o, dict) else None for o in objects]
        else:
            raise _Skip("'objects' must be an object with 'ref' and 'bbox' lists")
        if refs and len(refs) != len(boxes):
            raise _Skip(f"objects has {len(refs)} refs but {len(boxes)} boxes")
        space = bbox_space
        row_space = _SWIFT_BBOX_TYPES.get(bbox_type) if isinstance(bbox_type, str) else None
        if bbox_type is not None and row_space is None:
            raise _Skip(f"unknown objects.bbox_type {bbox_type!r} (real, norm1000, norm1)")
        if space == "auto":
            space = row_space or "?"
        elif row_space is not None and row_space != space:
            raise _Skip(
                f"objects.bbox_type is {bbox_type!r} but bbox_space={bbox_space!r} was declared"
            )
        if space == "?":
            image_path = Path(images) if isinstance(images, str) else None
            if image_path is not None and not image_path.is_absolute():
                image_path = base / image_path
            try:
                loaded = load_image(image_path) if image_path is not None else None
            except (ImageLoadError, OSError) as exc:
                raise _Skip(f"image cannot be read: {exc}") from exc
            detected = _detect_space(boxes, (loaded.width, loaded.height)) if loaded else None
            if detected is None:
                raise _Skip(
                    "cannot tell whether boxes are pixels or 0-1000; declare bbox_space"
                )
            space = detected
        raw_regions = [
            (b, r if isinstance(r, str) else None, None)
            for b, r in zip(boxes, refs or [None] * len(boxes), strict=True)
        ]
        src = row.get("source")
        return _build(
            images, base, label, explanation.strip(), raw_regions,
            src if isinstance(src, str) and src.strip() else source, space, name, problems,
        )

    return _run(rows, str(path), convert, problems), problems


# --------------------------------------------------------------------------------------------
# SynthScars


def _polygons(raw: object) -> list[list[tuple[float, float]]] | None:
    """Polygons from [[x, y], ...], a flat [x, y, ...], or a list of either; None if malformed."""

    def num(v: object) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool)

    if not isinstance(raw, list) or not raw:
        return None
    if all(num(v) for v in raw):  # flat
        if len(raw) % 2 or len(raw) < 4:
            return None
        return [[(float(raw[i]), float(raw[i + 1])) for i in range(0, len(raw), 2)]]
    if all(isinstance(p, list | tuple) and len(p) == 2 and all(num(v) for v in p) for p in raw):
        return [[(float(x), float(y)) for x, y in raw]]
    out: list[list[tuple[float, float]]] = []
    for part in raw:  # a list of polygons
        sub = _polygons(part)
        if sub is None or len(sub) != 1:
            return None
        out.extend(sub)
    return out


def import_synthscars(
    json_path: str | Path, *, source: str = "synthscars"
) -> tuple[list[Record], list[str]]:
    """Import SynthScars polygons; each polygon becomes its (clamped) bounding box.

    A region with several polygons gives one box per polygon, each with the region's caption.
    See the module docstring for the accepted keys.
    """
    path = Path(json_path)
    rows, problems = _load_rows(path)
    base = path.parent

    def convert(row: dict[str, Any], name: str) -> Record | None:
        image = _first(row, ("image", "img_file_name", "image_path", "file_name"))
        raw_label = row.get("label")
        label = AI_GENERATED if raw_label is None else normalize_label(raw_label)
        if label is None:
            raise _Skip(f"label {raw_label!r} is not real / generated / ai-generated / fake")
        regions = _first(row, ("regions", "refs", "annotations", "objects")) or []
        if not isinstance(regions, list):
            raise _Skip("regions must be a list")
        raw_regions: list[tuple[object, str | None, str | None]] = []
        captions: list[str] = []
        for i, region in enumerate(regions):
            if not isinstance(region, dict):
                problems.append(f"{name}: regions[{i}]: not an object; dropped")
                continue
            polys = _polygons(_first(region, ("polygon", "points", "segmentation")))
            if polys is None:
                problems.append(f"{name}: regions[{i}]: no usable polygon; dropped")
                continue
            caption = _first(region, ("caption", "explanation", "description", "ref"))
            caption = caption.strip() if isinstance(caption, str) and caption.strip() else None
            raw_tag = _first(region, ("tag", "category", "type"))
            tag = normalize_tag(raw_tag)
            if caption:
                captions.append(caption)
            for poly in polys:
                xs, ys = [p[0] for p in poly], [p[1] for p in poly]
                raw_regions.append(([min(xs), min(ys), max(xs), max(ys)], caption, tag))
        explanation = _first(row, ("explanation", "description"))
        if not isinstance(explanation, str) or not explanation.strip():
            explanation = " ".join(
                c if c.endswith((".", "!", "?")) else c + "." for c in captions
            )
        if not explanation.strip():
            raise _Skip("no explanation and no region captions to build one from")
        src = row.get("source")
        return _build(
            image, base, label, explanation.strip(), raw_regions,
            src if isinstance(src, str) and src.strip() else source, "absolute", name, problems,
        )

    return _run(rows, str(path), convert, problems), problems
