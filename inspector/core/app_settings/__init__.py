"""The application's settings: a human-readable TOML file under the platformdirs config dir.

Qt-free, so the window, the command line and tests share one schema and one file format:

- :mod:`.schema` — the keys (``AppSettings``), their defaults, comments and validation;
- :mod:`.reading` — where the file lives and how it is read (bad keys reported, never fixed);
- :mod:`.writing` — the TOML text and the atomic save;
- :mod:`.conversions` — what the settings mean to core (close-up policy, local model spec).

The dialog that edits them is ``inspector.gui.settings.SettingsDialog``. API keys are never
stored here: the remote backend reads its key from ``$LTE_API_KEY`` or the system keyring.
"""

from inspector.core.app_settings.conversions import (
    to_closeup_policy,
    to_generation_settings,
    to_local_spec,
)
from inspector.core.app_settings.reading import APP_NAME, load_settings, settings_path
from inspector.core.app_settings.schema import MIN_CLOSEUP_PIXELS, AppSettings, validate
from inspector.core.app_settings.writing import save_settings, to_toml

__all__ = [
    "APP_NAME",
    "MIN_CLOSEUP_PIXELS",
    "AppSettings",
    "load_settings",
    "save_settings",
    "settings_path",
    "to_closeup_policy",
    "to_generation_settings",
    "to_local_spec",
    "to_toml",
    "validate",
]
