"""The installed Qt binding must not corrupt reference counts.

PySide6 6.12.0 under CPython 3.11 returns None from every void Qt method without a reference;
after enough calls (a PDF report makes tens of thousands) the interpreter aborts with
"Fatal Python error: none_dealloc". pyproject.toml pins PySide6 below 6.12 for that reason.
"""

from __future__ import annotations

import sys

import pytest


def test_void_qt_calls_keep_none_alive():
    qtcore = pytest.importorskip("PySide6.QtCore")
    point = qtcore.QPointF()
    before = sys.getrefcount(None)
    for _ in range(10_000):
        point.setX(1.0)
    assert abs(sys.getrefcount(None) - before) < 100, (
        f"PySide6 {qtcore.__version__} leaks references to None; use the version pinned in "
        "pyproject.toml"
    )
