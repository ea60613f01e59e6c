"""``python -m medr1_core.cli`` (and ``torchrun -m medr1_core.cli``)."""

import sys

from . import main

sys.exit(main())
