"""``python -m colornet`` = the ``colornet`` command."""

import sys

from .cli import main

sys.exit(main())
