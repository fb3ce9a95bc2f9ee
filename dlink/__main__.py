"""``python -m dlink``: the ``dlink`` command (also what ``torchrun -m dlink`` starts per process)."""

import sys

from dlink.cli import main

sys.exit(main())
