"""Where the settings file lives and how it is read.

Invalid settings are reported, never silently replaced: :func:`load_settings` returns the
problems it found, each naming the key and the offending value, and uses the default for *that
key only*. Reading never writes the file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from inspector.core.app_settings.schema import (
    DEFAULTS,
    AppSettings,
    check_consistency,
    check_value,
    coerce,
)

APP_NAME = "lte-inspector"
ENV_PATH = "LTE_SETTINGS"
SECRET_KEYS = ("api_key", "apikey", "token", "password", "secret")


def settings_path() -> Path:
    """``$LTE_SETTINGS`` when set, else ``<user config dir>/lte-inspector/settings.toml``."""
    override = os.environ.get(ENV_PATH, "").strip()
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME)) / "settings.toml"


def load_settings(path: str | Path | None = None) -> tuple[AppSettings, list[str]]:
    """The settings in `path` (default :func:`settings_path`) and the problems found.

    A missing file gives the defaults and no problems. A file that is not valid TOML gives the
    defaults and one problem. Otherwise each bad key (wrong type, out-of-range or unknown value,
    unknown key) is reported with its value and gets its default; the rest are kept.
    """
    path = Path(path) if path is not None else settings_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return AppSettings(), []
    except OSError as exc:
        return AppSettings(), [f"{path}: cannot be read ({exc}); using the defaults"]
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return AppSettings(), [f"{path}: not valid TOML ({exc}); using the defaults"]

    known = {f.name for f in fields(AppSettings)}
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in data.items():
        if key not in known:
            problems.append(_unknown_key_problem(key, value))
            continue
        converted, error = coerce(key, value)
        error = error or check_value(key, converted)
        if error:
            default = getattr(DEFAULTS, key)
            problems.append(f"{key} = {value!r}: {error}; using the default {default!r}")
            continue
        values[key] = converted
    settings = replace(AppSettings(), **values)
    problems.extend(check_consistency(settings))
    return settings, problems


def _unknown_key_problem(key: str, value: Any) -> str:
    if key.lower().replace("-", "_") in SECRET_KEYS or "key" in key.lower():
        return (
            f"{key}: unknown key, ignored (value not shown). Secrets are never read from "
            "the settings file: set $LTE_API_KEY or store the key in the system keyring"
        )
    return f"{key} = {value!r}: unknown key, ignored"
