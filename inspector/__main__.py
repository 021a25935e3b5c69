"""`python -m inspector` starts the desktop inspector."""

import sys

from inspector.gui.app import main

sys.exit(main())
