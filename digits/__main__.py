"""``python -m digits``: the same as the ``digits`` console script."""

import sys

from digits.cli import main

sys.exit(main())
