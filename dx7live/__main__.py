"""``python -m dx7live`` is the same as the ``dx7live`` command."""
import sys

from dx7live.cli import main

sys.exit(main())
