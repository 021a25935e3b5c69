"""`lte-inspector`: start the desktop inspector."""

from __future__ import annotations

import sys

from inspector.core.demo_model import demo_model_path

# Where the bundled demo checkpoint is looked for (the frozen app's bundle included); tests point
# it elsewhere.
DEMO_MODEL = demo_model_path()


def backend_factory_for(settings, on_message=None):
    """(factory, is_demo, notice): what to load for these settings, and what to tell the user.

    The factory opens the backend (core's open_backend: a local model, the server, or the bundled
    demo checkpoint when nothing is configured); the worker thread calls it.
    """
    from inspector.core.backends.base import BackendError
    from inspector.core.backends.open import BackendChoice, open_backend
    from inspector.gui.settings import to_generation_settings, to_local_spec

    try:
        spec = to_local_spec(settings)
    except BackendError as exc:
        return None, False, (
            f"The model settings cannot be used: {exc}. Open Settings (Ctrl+,) to correct them."
        )
    if spec is not None:
        choice = BackendChoice.of_local(spec)
    elif settings.server_url:
        from inspector.core.backends.remote import RemoteSpec

        # no model name: the one model the server lists
        choice = BackendChoice.of_remote(
            RemoteSpec(settings.server_url, model=settings.server_model.strip())
        )
    else:
        choice = BackendChoice.of_demo(settings.device, DEMO_MODEL)
        if choice is None:
            return None, False, (
                "No model is configured and no demo checkpoint is bundled. Open Settings "
                "(Ctrl+,) and give a hub id or a model folder; `lte-inspect models` lists "
                "presets and `lte-inspect download` fetches one."
            )
    generation = to_generation_settings(settings)
    return (lambda: open_backend(choice, generation, on_message)), choice.is_demo, None


def demo_factory_for(settings, on_message=None):
    """A factory for the bundled demo checkpoint (offered when the configured model fails to
    load), or None when none is bundled."""
    from inspector.core.backends.open import BackendChoice, open_backend
    from inspector.gui.settings import to_generation_settings

    choice = BackendChoice.of_demo(settings.device, DEMO_MODEL)
    if choice is None:
        return None
    generation = to_generation_settings(settings)
    return lambda: open_backend(choice, generation, on_message)


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
    demo = None if is_demo else demo_factory_for(settings, on_message)
    window = MainWindow(settings, factory, notices=notices, is_demo=is_demo, demo_factory=demo)
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
    elif factory is None:
        window.open_settings()
    code = app.exec()
    if window.isVisible():  # the loop was ended without closing it: flush its case writes now
        window.close()
    # A model load still running in the worker cannot be interrupted: leave without it (exit code
    # kept, nothing finished lost) rather than let interpreter exit destroy its running thread.
    from inspector.gui.worker import finish_process

    return finish_process(code)


if __name__ == "__main__":
    sys.exit(main())
