"""What the screenshot scripts share: a scratch folder, the real window, waiting for it, photos.

Imported by ``make_screenshots.py`` and ``make_forensics_screenshots.py`` (run as scripts, so
this folder is on ``sys.path``); it puts the repository root there too.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WINDOW_SIZE = (1400, 860)


def application():
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([])


def wait_until(done: Callable[[], Any], seconds: float = 120) -> None:
    """Run the event loop until ``done()`` is true; TimeoutError after ``seconds``."""
    app = application()
    end = time.monotonic() + seconds
    while not done():
        if time.monotonic() > end:
            raise TimeoutError("the window did not reach the expected state")
        app.processEvents()
        time.sleep(0.01)


def settle(seconds: float = 0.3) -> None:
    """Let animations and deferred paints finish before a grab."""
    end = time.monotonic() + seconds
    wait_until(lambda: time.monotonic() > end)


@contextlib.contextmanager
def scratch_folder(prefix: str) -> Iterator[Path]:
    """A temporary folder holding the settings file (``$LTE_SETTINGS``), cases and photos."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        os.environ["LTE_SETTINGS"] = str(Path(tmp) / "settings.toml")
        yield Path(tmp)


def photo(name: str, size: tuple[int, int]):
    """A scikit-image photograph cropped to the aspect of ``size``, then scaled: no distortion."""
    from PIL import ImageOps

    from tests.conftest import skimage_photo

    return ImageOps.fit(skimage_photo(name), size)


def show_window(backend_factory, case_folder: Path, **settings: Any):
    """The real main window at the README's size, shown, with ``AppSettings(**settings)``."""
    from inspector.gui.main_window import MainWindow
    from inspector.gui.settings import AppSettings

    application()
    window = MainWindow(AppSettings(**settings), backend_factory, case_folder=case_folder)
    window.resize(*WINDOW_SIZE)
    window.show()
    return window
