"""Entry script for the frozen (PyInstaller) desktop app."""

import sys

from inspector.gui.app import main

if __name__ == "__main__":
    sys.exit(main())
