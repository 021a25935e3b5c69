"""`python -m inspector.cli`: the same as `lte-inspect`."""

import sys

from inspector.cli import main

sys.exit(main())
