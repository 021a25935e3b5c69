"""Training settings from a TOML file plus command-line flags (flags win).

A settings class is a dataclass; its fields are the keys a config file may hold, e.g.::

    # sft.toml
    model = "models/Qwen2.5-VL-7B-Instruct"
    train = "data/train.jsonl"
    output_dir = "runs/sft-7b"
    method = "lora"
    learning_rate = 2e-5

Unknown keys and values of the wrong type are errors that name the key and the file.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["load_settings"]

T = TypeVar("T")


def _allowed(annotation: Any) -> tuple[type, ...]:
    """Plain types a field accepts (``Path | None`` → (Path, NoneType))."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        out: tuple[type, ...] = ()
        for arg in typing.get_args(annotation):
            out += _allowed(arg)
        return out
    origin = typing.get_origin(annotation)
    if origin is not None:
        return (origin,)
    return (annotation,) if isinstance(annotation, type) else (object,)


def _coerce(name: str, value: Any, annotation: Any, where: str) -> Any:
    allowed = _allowed(annotation)
    if value is None:
        if type(None) in allowed:
            return None
        raise ValueError(f"{where}: {name} must be set")
    if Path in allowed and isinstance(value, str | Path):
        return Path(value)
    if float in allowed and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tuple in allowed and isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict) and dict in allowed:
        return dict(value)
    if any(t is object or (isinstance(value, t) and not (t is int and isinstance(value, bool)))
           for t in allowed):
        return value
    names = ", ".join("none" if t is type(None) else t.__name__ for t in allowed)
    raise ValueError(f"{where}: {name} must be {names}; got {value!r}")


def load_settings(cls: type[T], path: Path | None, overrides: dict[str, Any]) -> T:
    """An instance of dataclass ``cls`` from TOML ``path`` (optional) updated by ``overrides``.

    ``overrides`` with value None are ignored (a flag that was not given). Relative paths in the
    file are relative to the file's folder.
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML: {exc}") from exc
        for key, value in data.items():
            if key not in fields:
                known = ", ".join(sorted(fields))
                raise ValueError(f"{path}: unknown setting {key!r} (known: {known})")
            value = _coerce(key, value, hints[key], str(path))
            if isinstance(value, Path) and not value.is_absolute():
                value = path.parent / value
            values[key] = value
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in fields:
            raise ValueError(f"unknown setting {key!r}")
        values[key] = _coerce(key, value, hints[key], "command line")
    missing = [
        name for name, f in fields.items()
        if name not in values
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ValueError(
            "missing settings: " + ", ".join(missing) + " (give them as flags or in --config)"
        )
    return cls(**values)
