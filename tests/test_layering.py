"""`inspector.core` and the CLI run in an interpreter where Qt cannot be imported.

Which package may import which is checked by import-linter (`lint-imports`, contracts in
pyproject.toml, run by .ci/run), imports inside functions included. This test covers what a static
import graph cannot see: a third-party package, or an import made at run time, that pulls Qt in
when core or the command line is loaded on a machine without it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import inspector.core

CORE = Path(inspector.core.__file__).parent


def test_core_modules_import_without_qt():
    modules = sorted(
        "inspector.core." + ".".join(p.relative_to(CORE).with_suffix("").parts)
        for p in CORE.rglob("*.py")
        if p.name != "__init__.py"
    )
    assert "inspector.core.pipeline" in modules
    # Block every Qt binding, then import all of core and the CLI in a fresh interpreter.
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'shiboken6'):\n"
        "            raise ImportError('Qt is not allowed in inspector.core: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for m in {modules + ['inspector.cli']!r}:\n"
        "    __import__(m)\n"
        "import inspector.core.backends.local as local\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
