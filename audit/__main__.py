"""`python -m audit` runs the audit side of stickyguard alone."""

import sys

from audit import cli

sys.exit(cli.main())
