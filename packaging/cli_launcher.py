"""Entry script for the frozen (PyInstaller) command line, `lte-inspect`."""

import sys

from inspector.cli import main

if __name__ == "__main__":
    sys.exit(main())
