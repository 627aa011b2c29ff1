"""`python -m genzoo ...`, the same as the `genzoo` command — and what torchrun runs:
`torchrun --nproc_per_node 2 -m genzoo train vae --data mnist`."""

import sys

from genzoo.cli import main

sys.exit(main())
