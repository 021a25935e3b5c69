"""Training records: one image, its label, explanation and annotated regions (JSONL on disk).

A dataset file holds one JSON object per line::

    {"image": "img/0001.png", "sha256": "…", "width": 640, "height": 480,
     "label": "ai-generated", "explanation": "The left hand has six fingers …",
     "regions": [{"box": [80, 40, 200, 180], "caption": "six-fingered hand", "tag": "structure"}],
     "source": "fakexplained"}

* ``image``: path relative to the dataset file's folder (or absolute).
* ``box``: ORIGINAL-image pixels ``[x1, y1, x2, y2]`` with x1 < x2, y1 < y2, inside the image
  (the image as the app sees it: EXIF orientation applied, see inspector.core.imageio).
* ``label``: ``"real"`` or ``"ai-generated"``; ``tag``: one of ``inspector.core.protocol.TAGS``.

Records are validated on read and on write; every message names the record (index and image) and
the field, e.g. ``record 12 (img/foo.png): regions[1].box: x2 (40) must be greater than x1 (80)``.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from inspector.core.atomic import atomic_write_bytes
from inspector.core.protocol import AI_GENERATED, REAL, TAGS

__all__ = [
    "LABELS",
    "Record",
    "RecordError",
    "Region",
    "read_records",
    "rebase_images",
    "record_for_image",
    "resolve_image",
    "validate",
    "write_records",
]

LABELS: tuple[str, str] = (REAL, AI_GENERATED)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Region:
    """An annotated region: ``box`` in original pixels, an optional caption and tag."""

    box: list[float]
    caption: str | None = None
    tag: str | None = None


@dataclass
class Record:
    image: str
    sha256: str
    width: int
    height: int
    label: str
    explanation: str
    regions: list[Region] = field(default_factory=list)
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["regions"] = [
            {k: v for k, v in r.items() if v is not None or k == "box"} for r in data["regions"]
        ]
        return data


class RecordError(ValueError):
    """One or more records are invalid; ``problems`` lists every message."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        shown = self.problems[:20]
        more = len(self.problems) - len(shown)
        text = "\n".join(shown) + (f"\n… and {more} more problems" if more > 0 else "")
        super().__init__(text)


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{float(value):g}"


def _name(image: object, index: int) -> str:
    return f"record {index} ({image if isinstance(image, str) and image else '?'})"


def validate(record: Record, index: int) -> list[str]:
    """Every problem with ``record`` as a message naming it (``index``, image) and the field.

    ``index`` is only used in the messages (read_records passes the line number).
    """
    name = _name(record.image, index)
    problems: list[str] = []

    def bad(where: str, what: str) -> None:
        problems.append(f"{name}: {where}: {what}")

    if not isinstance(record.image, str) or not record.image.strip():
        bad("image", "must be a non-empty path")
    if not isinstance(record.sha256, str) or not _SHA256.match(record.sha256):
        bad("sha256", f"must be 64 lower-case hex digits, got {str(record.sha256)[:70]!r}")
    size_ok = True
    for key in ("width", "height"):
        value = getattr(record, key)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            bad(key, f"must be a positive integer number of pixels, got {value!r}")
            size_ok = False
    if record.label not in LABELS:
        bad("label", f"must be 'real' or 'ai-generated', got {record.label!r}")
    if not isinstance(record.explanation, str) or not record.explanation.strip():
        bad("explanation", "must be non-empty text")
    if not isinstance(record.source, str) or not record.source.strip():
        bad("source", "must be non-empty text (dataset or generator name)")
    if not isinstance(record.regions, list):
        bad("regions", "must be a list")
        return problems
    for i, region in enumerate(record.regions):
        where = f"regions[{i}]"
        if not isinstance(region, Region):
            bad(where, "must be a region object")
            continue
        box = region.box
        if not isinstance(box, list | tuple) or len(box) != 4:
            bad(f"{where}.box", f"must be 4 numbers [x1, y1, x2, y2], got {box!r}")
        elif not all(_is_number(v) for v in box):
            bad(f"{where}.box", f"must hold finite numbers, got {list(box)!r}")
        else:
            x1, y1, x2, y2 = (float(v) for v in box)
            if x2 <= x1:
                bad(f"{where}.box", f"x2 ({_fmt(x2)}) must be greater than x1 ({_fmt(x1)})")
            if y2 <= y1:
                bad(f"{where}.box", f"y2 ({_fmt(y2)}) must be greater than y1 ({_fmt(y1)})")
            if size_ok and (
                min(x1, y1) < 0 or max(x1, x2) > record.width or max(y1, y2) > record.height
            ):
                bad(
                    f"{where}.box",
                    f"{[_fmt(v) for v in box]} is not inside the image "
                    f"({record.width}x{record.height})".replace("'", ""),
                )
        if region.caption is not None and not isinstance(region.caption, str):
            bad(f"{where}.caption", f"must be text or absent, got {region.caption!r}")
        if region.tag is not None and region.tag not in TAGS:
            bad(f"{where}.tag", f"{region.tag!r} is not one of {', '.join(TAGS)}")
    return problems


def _record_from_dict(data: object, index: int) -> tuple[Record | None, list[str]]:
    if not isinstance(data, dict):
        return None, [f"record {index} (?): must be a JSON object"]
    name = _name(data.get("image"), index)
    missing = [
        k for k in ("image", "sha256", "width", "height", "label", "explanation", "source")
        if k not in data
    ]
    if missing:
        return None, [f"{name}: {k}: missing" for k in missing]
    raw_regions = data.get("regions", [])
    if not isinstance(raw_regions, list):
        return None, [f"{name}: regions: must be a list"]
    regions: list[Region] = []
    problems: list[str] = []
    for i, r in enumerate(raw_regions):
        if not isinstance(r, dict) or "box" not in r:
            problems.append(f"{name}: regions[{i}]: must be an object with a 'box'")
            continue
        regions.append(Region(box=r["box"], caption=r.get("caption"), tag=r.get("tag")))
    if problems:
        return None, problems
    record = Record(
        image=data["image"],
        sha256=data["sha256"],
        width=data["width"],
        height=data["height"],
        label=data["label"],
        explanation=data["explanation"],
        regions=regions,
        source=data["source"],
    )
    return record, []


def read_records(path: str | Path) -> list[Record]:
    """Read and validate a JSONL dataset; records are numbered by their line in the file.

    Raises :class:`RecordError` listing every invalid line (nothing is returned then).
    """
    records: list[Record] = []
    problems: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except ValueError as exc:
                problems.append(f"record {line_no} (?): not valid JSON ({exc})")
                continue
            record, errs = _record_from_dict(data, line_no)
            if record is not None:
                errs = validate(record, line_no)
            if errs:
                problems.extend(errs)
            elif record is not None:
                records.append(record)
    if problems:
        raise RecordError([f"{path}: {p}" for p in problems])
    return records


def write_records(path: str | Path, records: Iterable[Record]) -> None:
    """Validate, then write JSONL atomically (temp file in the same folder, fsync, rename).

    Records are numbered from 0 (their list index) in error messages. Nothing is written when
    any record is invalid.
    """
    records = list(records)
    problems = [p for i, r in enumerate(records) for p in validate(r, i)]
    if problems:
        raise RecordError(problems)
    text = "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in records)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, text.encode("utf-8"))


def resolve_image(record: Record, dataset_path: str | Path | None) -> Path:
    """The image file of ``record``: relative paths are relative to the dataset file's folder."""
    p = Path(record.image)
    if p.is_absolute() or dataset_path is None:
        return p
    return Path(dataset_path).parent / p


def rebase_images(
    records: Iterable[Record], from_dir: str | Path | None, to_dir: str | Path
) -> list[Record]:
    """Copies of ``records`` whose image paths are relative to ``to_dir`` (for a new file there).

    Relative paths are first read relative to ``from_dir`` (None: already absolute or relative
    to the current directory). Falls back to an absolute path when no relative path exists
    (e.g. another drive on Windows).
    """
    out: list[Record] = []
    base = Path(to_dir).resolve()
    for r in records:
        p = Path(r.image)
        if not p.is_absolute():
            p = (Path(from_dir) / p) if from_dir is not None else p
        p = p.resolve()
        try:
            rel = os.path.relpath(p, base)
        except ValueError:
            rel = str(p)
        out.append(
            Record(
                image=Path(rel).as_posix() if not Path(rel).is_absolute() else rel,
                sha256=r.sha256,
                width=r.width,
                height=r.height,
                label=r.label,
                explanation=r.explanation,
                regions=[Region(list(g.box), g.caption, g.tag) for g in r.regions],
                source=r.source,
            )
        )
    return out


def _as_region(item: Region | dict[str, Any] | Sequence[float]) -> Region:
    if isinstance(item, Region):
        return item
    if isinstance(item, dict):
        return Region(box=list(item["box"]), caption=item.get("caption"), tag=item.get("tag"))
    return Region(box=list(item))


def record_for_image(
    path: str | Path,
    label: str,
    explanation: str,
    regions: Iterable[Region | dict[str, Any] | Sequence[float]],
    source: str,
) -> Record:
    """A validated record for an image file: reads it (read-only) for sha256, width and height.

    Width and height are those of the image as the app sees it (EXIF orientation applied), so
    boxes must be given in that frame. ``image`` is stored as ``str(path)``. Raises
    :class:`inspector.core.imageio.ImageLoadError` when the file cannot be decoded and
    :class:`RecordError` when the record is invalid.
    """
    from inspector.core.imageio import load_image

    loaded = load_image(path)
    record = Record(
        image=str(path),
        sha256=loaded.sha256,
        width=loaded.width,
        height=loaded.height,
        label=label,
        explanation=explanation,
        regions=[_as_region(r) for r in regions],
        source=source,
    )
    problems = validate(record, 0)
    if problems:
        raise RecordError(problems)
    return record
