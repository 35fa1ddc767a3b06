"""``python -m dnadav …`` runs the same command line as the ``dnadav`` script."""

import sys

from dnadav.cli import main

sys.exit(main())
