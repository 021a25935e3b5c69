"""Application settings: a human-readable TOML file under the platformdirs config dir.

The Qt-free part (``AppSettings``, ``load_settings``, ``save_settings``, ``validate`` and the
``to_*`` helpers) comes first; ``SettingsDialog`` follows. Nothing here needs a display until the
dialog is built.

Invalid settings are reported, never silently replaced: ``load_settings`` returns the problems it
found, each naming the key and the offending value, and uses the default for *that key only*.
Loading never writes the file. API keys are never stored here: the remote backend reads its key
from ``$LTE_API_KEY`` or the system keyring.
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from inspector.core.backends.local import DEVICES, QUANTIZATIONS, LocalModelSpec
from inspector.core.casestore import atomic_write_bytes
from inspector.core.closeups import MIN_OUTPUT_SIDE, CloseupPolicy

__all__ = [
    "APP_NAME",
    "AppSettings",
    "SettingsDialog",
    "load_settings",
    "save_settings",
    "settings_path",
    "to_closeup_policy",
    "to_local_spec",
    "validate",
]

APP_NAME = "lte-inspector"
ENV_PATH = "LTE_SETTINGS"
MIN_CLOSEUP_PIXELS = MIN_OUTPUT_SIDE * MIN_OUTPUT_SIDE
SECRET_KEYS = ("api_key", "apikey", "token", "password", "secret")


@dataclass
class AppSettings:
    model_source: str = ""  # hub id ("Qwen/Qwen2.5-VL-3B-Instruct") or a local folder
    adapter: str = ""  # PEFT adapter (hub id or folder) over model_source; "" for none
    device: str = "auto"
    quantization: str = "none"
    max_regions: int = 4
    closeup_max_pixels: int = 512 * 512
    magnification: float = 2.0
    animation: bool = True
    examiner: str = ""
    server_url: str = ""  # OpenAI-compatible server; "" to use the local model
    server_model: str = ""
    forensics: bool = True  # run the forensic analyses (after the model, or alone without one)


_DEFAULTS = AppSettings()

_COMMENTS: dict[str, str] = {
    "model_source": "Model to load: a Hugging Face hub id or a local folder. Empty: none.",
    "adapter": "PEFT adapter (hub id or folder) applied over model_source. Empty: none.",
    "device": f"Where the local model runs: {', '.join(DEVICES)}.",
    "quantization": f"Weight quantization of the local model: {', '.join(QUANTIZATIONS)}.",
    "max_regions": "Most regions examined close up in Query 2 (at least 1).",
    "closeup_max_pixels": f"Pixel budget of one close-up (at least {MIN_CLOSEUP_PIXELS}).",
    "magnification": "Close-ups are seen at least this many times the global view's density.",
    "animation": "Animate the analysis (true/false).",
    "examiner": "Examiner's name, prefilled in the examiner notes.",
    "server_url": "OpenAI-compatible server (http:// or https://). Empty: use the local model.",
    "server_model": "Model name to ask the server for.",
    "forensics": "Run the forensic analyses (after the model, or alone without one) (true/false).",
}


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _type_name(kind: type) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}[kind]


def _field_kind(name: str) -> type:
    return type(getattr(_DEFAULTS, name))


def _coerce(name: str, value: Any) -> tuple[Any, str | None]:
    """The value as the field's type, or an error (the type must already match; no parsing)."""
    kind = _field_kind(name)
    ok = (
        isinstance(value, bool) if kind is bool
        else isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float
        else isinstance(value, int) and not isinstance(value, bool) if kind is int
        else isinstance(value, kind)
    )  # fmt: skip
    if not ok:
        return None, f"must be {_type_name(kind)}"
    return (float(value) if kind is float else value), None


def _check_value(name: str, value: Any) -> str | None:
    """Why `value` is not acceptable for key `name` on its own; None when it is."""
    if name == "device" and value not in DEVICES:
        return f"must be one of {', '.join(DEVICES)}"
    if name == "quantization" and value not in QUANTIZATIONS:
        return f"must be one of {', '.join(QUANTIZATIONS)}"
    if name == "max_regions" and value < 1:
        return "must be at least 1"
    if name == "closeup_max_pixels" and value < MIN_CLOSEUP_PIXELS:
        return f"must be at least {MIN_CLOSEUP_PIXELS} ({MIN_OUTPUT_SIDE}×{MIN_OUTPUT_SIDE})"
    if name == "magnification" and (not math.isfinite(value) or value <= 0):
        return "must be a finite number above 0"
    if name == "server_url" and value and not re.match(r"^https?://[^\s/]+", value):
        return "must start with http:// or https:// and name a host (or be empty)"
    if name in ("model_source", "adapter", "examiner", "server_model") and value != value.strip():
        return "must not start or end with spaces"
    return None


def _looks_like_path(text: str) -> bool:
    return text.startswith(("/", "~", ".", "\\")) or bool(re.match(r"^[A-Za-z]:[\\/]", text))


def _check_consistency(s: AppSettings) -> list[str]:
    """Problems between keys, or with the machine (reported; values are kept)."""
    problems = []
    if s.adapter and not s.model_source:
        problems.append(
            f"adapter = {s.adapter!r}: an adapter needs its base model in model_source"
        )
    for name in ("model_source", "adapter"):
        value = getattr(s, name)
        if value and _looks_like_path(value) and not Path(value).expanduser().is_dir():
            problems.append(f"{name} = {value!r}: no such folder")
    if s.server_model and not s.server_url:
        problems.append(f"server_model = {s.server_model!r}: set server_url as well")
    return problems


def _value_problems(settings: AppSettings) -> list[str]:
    problems = []
    for f in fields(AppSettings):
        value = getattr(settings, f.name)
        _, error = _coerce(f.name, value)
        error = error or _check_value(f.name, value)
        if error:
            problems.append(f"{f.name} = {value!r}: {error}")
    return problems


def validate(settings: AppSettings) -> list[str]:
    """Every problem with `settings`, each naming the key and the offending value ([] if none).

    Checks between keys (and for missing folders) run once every key is valid on its own.
    """
    return _value_problems(settings) or _check_consistency(settings)


# --------------------------------------------------------------------------------------------
# File
# --------------------------------------------------------------------------------------------


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
    unknown key) is reported with its value and gets its default; the rest are kept. The file is
    only read, never written.
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
            if key.lower().replace("-", "_") in SECRET_KEYS or "key" in key.lower():
                problems.append(
                    f"{key}: unknown key, ignored (value not shown). Secrets are never read from "
                    "the settings file: set $LTE_API_KEY or store the key in the system keyring"
                )
            else:
                problems.append(f"{key} = {value!r}: unknown key, ignored")
            continue
        converted, error = _coerce(key, value)
        error = error or _check_value(key, converted)
        if error:
            default = getattr(_DEFAULTS, key)
            problems.append(f"{key} = {value!r}: {error}; using the default {default!r}")
            continue
        values[key] = converted
    settings = replace(AppSettings(), **values)
    problems.extend(_check_consistency(settings))
    return settings, problems


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
        lines.append(f"# {_COMMENTS[f.name]}")
        lines.append(f"{f.name} = {_toml_value(getattr(settings, f.name))}")
        lines.append("")
    return "\n".join(lines)


def save_settings(settings: AppSettings, path: str | Path | None = None) -> Path:
    """Write `settings` atomically (temp file + fsync + replace); returns the path.

    Raises ValueError listing the problems when a value is invalid on its own (bad type or range),
    so a bad value never reaches the file; consistency problems (e.g. a missing folder) do not
    block saving.
    """
    problems = _value_problems(settings)
    if problems:
        raise ValueError("invalid settings: " + "; ".join(problems))
    path = Path(path) if path is not None else settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, to_toml(settings).encode("utf-8"))
    return path


# --------------------------------------------------------------------------------------------
# Conversions
# --------------------------------------------------------------------------------------------


def to_closeup_policy(settings: AppSettings) -> CloseupPolicy:
    """The close-up policy (the other CloseupPolicy fields keep their defaults)."""
    return CloseupPolicy(
        magnification=float(settings.magnification),
        max_pixels=int(settings.closeup_max_pixels),
        max_regions=int(settings.max_regions),
    )


def to_local_spec(settings: AppSettings) -> LocalModelSpec | None:
    """The local model to load; None when no model_source is configured.

    Built by core (the ``local-folder`` preset: a hub id or a folder, its own precision and image
    bounds) from the settings' model, adapter, quantization and device; folders have ``~``
    expanded. Raises BackendError for a value the spec refuses.
    """
    from inspector.core.backends.spec import to_local_spec as spec_for_preset

    source = settings.model_source.strip()
    if not source:
        return None
    adapter = settings.adapter.strip()
    return spec_for_preset(
        "local-folder",
        source=str(Path(source).expanduser()) if _looks_like_path(source) else source,
        adapter=(str(Path(adapter).expanduser()) if _looks_like_path(adapter) else adapter) or None,
        quantization=settings.quantization,
        device=settings.device,
    )


# --------------------------------------------------------------------------------------------
# Dialog
# --------------------------------------------------------------------------------------------


class SettingsDialog(QDialog):
    """Edit the settings. OK validates; while anything is invalid the dialog stays open and
    lists the problems inline. ``settings()`` returns the edited values (saving is the caller's
    job: ``save_settings(dialog.settings())`` after ``exec()`` returns Accepted)."""

    def __init__(
        self,
        settings: AppSettings | None = None,
        parent: QWidget | None = None,
        problems: list[str] | None = None,
        path: str | Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(560)
        s = settings if settings is not None else AppSettings()

        self.model_source_edit = QLineEdit(s.model_source)
        self.model_source_edit.setPlaceholderText("hub id (org/name) or a local folder")
        self.model_folder_button = QPushButton("Folder…")
        self.model_folder_button.clicked.connect(
            lambda: self._pick_folder(self.model_source_edit, "Model folder")
        )
        self.adapter_edit = QLineEdit(s.adapter)
        self.adapter_edit.setPlaceholderText("optional PEFT adapter over the model")
        self.adapter_folder_button = QPushButton("Folder…")
        self.adapter_folder_button.clicked.connect(
            lambda: self._pick_folder(self.adapter_edit, "Adapter folder")
        )
        self.device_combo = self._combo(DEVICES, s.device)
        self.quantization_combo = self._combo(QUANTIZATIONS, s.quantization)
        self.max_regions_spin = QSpinBox()
        self.max_regions_spin.setRange(1, 64)
        self.max_regions_spin.setValue(_clamp(s.max_regions, 1, 64))
        self.closeup_pixels_spin = QSpinBox()
        self.closeup_pixels_spin.setRange(MIN_CLOSEUP_PIXELS, 4096 * 4096)
        self.closeup_pixels_spin.setSingleStep(64 * 64)
        self.closeup_pixels_spin.setSuffix(" px")
        self.closeup_pixels_spin.setValue(
            _clamp(s.closeup_max_pixels, MIN_CLOSEUP_PIXELS, 4096 * 4096)
        )
        self.magnification_spin = QDoubleSpinBox()
        self.magnification_spin.setRange(0.1, 16.0)
        self.magnification_spin.setSingleStep(0.5)
        self.magnification_spin.setDecimals(2)
        self.magnification_spin.setSuffix(" ×")
        self.magnification_spin.setValue(float(s.magnification))
        self.animation_check = QCheckBox("Animate the analysis")
        self.animation_check.setChecked(bool(s.animation))
        self.examiner_edit = QLineEdit(s.examiner)
        self.server_url_edit = QLineEdit(s.server_url)
        self.server_url_edit.setPlaceholderText("https://host:port/v1 (empty: local model)")
        self.server_model_edit = QLineEdit(s.server_model)
        self.forensics_check = QCheckBox("Run forensic analyses")
        self.forensics_check.setToolTip(
            "Classic forensic analyses (JPEG structure, double compression, spectrum, copy-move, "
            "noise, ELA, metadata) after the model, or alone when no model is loaded. They are "
            "shown beside the verdict and never change it.")
        self.forensics_check.setChecked(bool(s.forensics))

        form = QFormLayout()
        form.addRow("Model source", _row(self.model_source_edit, self.model_folder_button))
        form.addRow("Adapter", _row(self.adapter_edit, self.adapter_folder_button))
        form.addRow("Device", self.device_combo)
        form.addRow("Quantization", self.quantization_combo)
        form.addRow("Max regions", self.max_regions_spin)
        form.addRow("Close-up size (max pixels)", self.closeup_pixels_spin)
        form.addRow("Magnification", self.magnification_spin)
        form.addRow("", self.animation_check)
        form.addRow("", self.forensics_check)
        form.addRow("Examiner name", self.examiner_edit)
        form.addRow("Server URL", self.server_url_edit)
        form.addRow("Server model", self.server_model_edit)
        key_note = QLabel(
            "The server's API key is never stored in the settings: set $LTE_API_KEY "
            "or store it in the system keyring."
        )
        key_note.setWordWrap(True)
        where = Path(path) if path is not None else settings_path()
        self.path_label = QLabel(f"Settings file: {where}")
        self.path_label.setWordWrap(True)
        self.problems_label = QLabel("")
        self.problems_label.setWordWrap(True)
        self.problems_label.setStyleSheet("color:#C00000;")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(key_note)
        layout.addWidget(self.path_label)
        layout.addWidget(self.problems_label)
        layout.addWidget(self.buttons)
        self.show_problems(problems or [])

    def settings(self) -> AppSettings:
        return AppSettings(
            model_source=self.model_source_edit.text().strip(),
            adapter=self.adapter_edit.text().strip(),
            device=self.device_combo.currentText(),
            quantization=self.quantization_combo.currentText(),
            max_regions=self.max_regions_spin.value(),
            closeup_max_pixels=self.closeup_pixels_spin.value(),
            magnification=float(self.magnification_spin.value()),
            animation=self.animation_check.isChecked(),
            examiner=self.examiner_edit.text().strip(),
            server_url=self.server_url_edit.text().strip(),
            server_model=self.server_model_edit.text().strip(),
            forensics=self.forensics_check.isChecked(),
        )

    def show_problems(self, problems: list[str]) -> None:
        self.problems_label.setText("\n".join(f"• {p}" for p in problems))
        self.problems_label.setVisible(bool(problems))

    def accept(self) -> None:
        problems = validate(self.settings())
        if problems:
            self.show_problems(problems)
            return
        self.show_problems([])
        super().accept()

    @staticmethod
    def _combo(choices: tuple[str, ...], value: str) -> QComboBox:
        combo = QComboBox()
        combo.addItems(list(choices))
        if value not in choices:  # shown (and then reported by validate), never replaced
            combo.addItem(value)
        combo.setCurrentText(value)
        return combo

    def _pick_folder(self, edit: QLineEdit, title: str) -> None:
        start = edit.text().strip()
        start = str(Path(start).expanduser()) if start and _looks_like_path(start) else ""
        folder = QFileDialog.getExistingDirectory(self, title, start)
        if folder:
            edit.setText(folder)


def _clamp(value: Any, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(value)))
    except (TypeError, ValueError):
        return low


def _row(*widgets: QWidget) -> QWidget:
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(widgets[0], 1)
    for widget in widgets[1:]:
        layout.addWidget(widget)
    return box
