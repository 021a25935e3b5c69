"""A case's metadata (``case.json``): number, title, examiner, when and by which version."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from inspector import __version__
from inspector.core.case_layout import CaseError
from inspector.core.results import utc_now

__all__ = ["CASE_SCHEMA_VERSION", "CaseMeta", "read_case_meta"]

CASE_SCHEMA_VERSION = 1


@dataclass
class CaseMeta:
    number: str
    title: str = ""
    examiner: str = ""
    created: str = field(default_factory=utc_now)
    software_version: str = __version__
    schema_version: int = CASE_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {"schema_version": data.pop("schema_version"), **data}

    @classmethod
    def from_dict(cls, data: Any) -> CaseMeta:
        if not isinstance(data, dict):
            raise ValueError("case.json does not hold a JSON object")
        version = data.get("schema_version")
        if not isinstance(version, int) or version > CASE_SCHEMA_VERSION:
            raise ValueError(
                f"case schema version {version!r} is not supported by this version of the app "
                f"(it reads up to {CASE_SCHEMA_VERSION}); update LTE Inspector"
            )
        if not isinstance(data.get("number"), str):
            raise ValueError("case.json has no case number")
        return cls(
            number=data["number"],
            title=str(data.get("title", "")),
            examiner=str(data.get("examiner", "")),
            created=str(data.get("created", "")),
            software_version=str(data.get("software_version", "")),
            schema_version=version,
        )


def read_case_meta(case_file: Path) -> CaseMeta:
    """The metadata in ``case_file``; a :class:`CaseError` saying what is wrong with it."""
    try:
        return CaseMeta.from_dict(json.loads(case_file.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CaseError(f"the case file {case_file} is unreadable or corrupt: {exc}") from exc
    except (ValueError, TypeError) as exc:
        raise CaseError(f"the case file {case_file} is not valid: {exc}") from exc
