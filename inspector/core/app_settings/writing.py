"""The settings as commented TOML, and the atomic save."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from inspector.core.app_settings.reading import settings_path
from inspector.core.app_settings.schema import COMMENTS, AppSettings, value_problems
from inspector.core.atomic import atomic_write_bytes


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # finite (validated): "2.0", "1e-05"
    # JSON string escapes (\" \\ \n \t \uXXXX …) are all valid in TOML basic strings.
    return json.dumps(str(value), ensure_ascii=False)


def to_toml(settings: AppSettings) -> str:
    lines = [
        "# LTE Inspector settings (TOML). Edit here or in the app's Settings dialog.",
        "# Invalid values are reported when the app starts and the default is used instead.",
        "# API keys are never stored here: set $LTE_API_KEY or store the key in the keyring.",
        "",
    ]
    for f in fields(AppSettings):
        lines.append(f"# {COMMENTS[f.name]}")
        lines.append(f"{f.name} = {_toml_value(getattr(settings, f.name))}")
        lines.append("")
    return "\n".join(lines)


def save_settings(settings: AppSettings, path: str | Path | None = None) -> Path:
    """Write `settings` atomically (temp file + fsync + replace); returns the path.

    Raises ValueError listing the problems when a value is invalid on its own (bad type or range),
    so a bad value never reaches the file; consistency problems (e.g. a missing folder) do not
    block saving.
    """
    problems = value_problems(settings)
    if problems:
        raise ValueError("invalid settings: " + "; ".join(problems))
    path = Path(path) if path is not None else settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, to_toml(settings).encode("utf-8"))
    return path
