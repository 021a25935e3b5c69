"""`lte-inspector`: start the desktop inspector."""

from __future__ import annotations

import sys
from pathlib import Path

# In the frozen (PyInstaller) app the resources sit next to the bundled modules.
_BASE = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parents[2]))
DEMO_MODEL = _BASE / "resources" / "demo-model"


def backend_factory_for(settings, on_message=None):
    """(factory, is_demo, notice): what to load for these settings, and what to tell the user."""
    from inspector.core.backends.base import GenerationSettings
    from inspector.gui.settings import to_local_spec

    spec = to_local_spec(settings)
    if spec is None and settings.server_url:
        from inspector.core.backends.remote import RemoteBackend, RemoteSpec

        remote = RemoteSpec(settings.server_url, model=settings.server_model or "default")
        return (lambda: RemoteBackend(remote, GenerationSettings())), False, None
    if spec is None:
        if (DEMO_MODEL / "config.json").exists():
            from inspector.core.backends.local import LocalModelSpec

            spec = LocalModelSpec(source=str(DEMO_MODEL), device=settings.device)
            return (lambda: _local(spec, on_message)), True, None
        return None, False, (
            "No model is configured and no demo checkpoint is bundled. Open Settings "
            "(Ctrl+,) and give a hub id or a model folder; `lte-inspect models` lists presets "
            "and `lte-inspect download` fetches one."
        )
    return (lambda: _local(spec, on_message)), False, None


def _local(spec, on_message):
    from inspector.core.backends.base import GenerationSettings
    from inspector.core.backends.local import LocalBackend

    return LocalBackend(spec, GenerationSettings(), on_message=on_message)


def main(argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    from inspector.gui.main_window import MainWindow
    from inspector.gui.settings import load_settings

    argv = list(sys.argv if argv is None else argv)
    smoke_test = "--smoke-test" in argv  # open the window, report, quit (release check)
    argv = [a for a in argv if a != "--smoke-test"]
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName("LTE Inspector")
    app.setOrganizationName("LTE Inspector")
    settings, problems = load_settings()
    notices = [f"Settings problem: {p}" for p in problems]
    window_ref: list = []

    def on_message(text: str) -> None:
        if window_ref:
            window_ref[0].host.report_loading(text)

    factory, is_demo, notice = backend_factory_for(settings, on_message)
    if notice:
        notices.append(notice)
    window = MainWindow(settings, factory, notices=notices, is_demo=is_demo)
    window_ref.append(window)
    window.add_paths([a for a in argv[1:] if not a.startswith("-")])
    window.show()
    if smoke_test:
        from PySide6.QtCore import QTimer

        def report() -> None:
            print(f"window opened: {window.windowTitle()} {window.width()}x{window.height()}, "
                  f"visible={window.isVisible()}", flush=True)
            window.close()
            app.exit(0 if window.centralWidget() is not None else 1)

        QTimer.singleShot(1500, report)
        return app.exec()
    if factory is None:
        window.open_settings()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
