"""PySide6 desktop interface: widgets, the worker thread and dialogs (thin; no model logic)."""
