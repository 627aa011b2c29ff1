"""`python -m genzoo.cli ...`, as `genzoo ...`."""

import sys

from genzoo.cli import main

sys.exit(main())
