"""The forensic results as the JSON contract gives them (`lte-inspect forensics`, `analyze --json`,
case exports): one object per analysis with its indicators beside its statement.

Kept apart from the analyses so that the contract is written once for every export.
"""

from __future__ import annotations

from typing import Any

__all__ = ["JPEG_FORMATS", "JPEG_ONLY", "contract_entry", "forensics_record"]

JPEG_ONLY = ("jpeg", "double_jpeg")  # read the JPEG file structure: null for other formats
JPEG_FORMATS = frozenset({"JPEG", "MPO"})  # Pillow's names for JPEG files (MPO: multi-picture)


def contract_entry(data: dict[str, Any], image_format: str) -> dict[str, Any] | None:
    """One analysis's JSON value from its ``ForensicResult.to_dict`` form: its indicators plus
    statement, limits, seconds, map and regions (and error when it failed); None for a
    JPEG-structure analysis of a file that is not a JPEG."""
    if data["name"] in JPEG_ONLY and image_format.upper() not in JPEG_FORMATS:
        return None
    entry = dict(data.get("indicators") or {})
    entry["statement"] = data["statement"]
    entry["limits"] = data["limits"]
    entry["seconds"] = data["seconds"]
    entry["map"] = data.get("map")
    entry["regions"] = data.get("regions", [])
    if not data.get("applicable", True):
        entry["applicable"] = False
    if data.get("error"):
        entry["error"] = data["error"]
    return entry


def forensics_record(
    forensics: dict[str, dict[str, Any]] | None, image_format: str
) -> dict[str, Any] | None:
    """An analysis's ``forensics`` value: analysis name -> contract entry; None when not run."""
    if forensics is None:
        return None
    return {name: contract_entry(data, image_format) for name, data in forensics.items()}
