"""``python -m tradecore``: the command line."""

import sys

from tradecore.cli import main

sys.exit(main())
