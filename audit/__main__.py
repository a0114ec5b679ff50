"""`python -m stickyguard.audit` runs the audit side of stickyguard alone."""

import sys

from stickyguard.audit import cli

sys.exit(cli.main())
