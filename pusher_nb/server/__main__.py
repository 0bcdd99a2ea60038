"""``python -m pusher_nb.server``: the same as ``pusher-nb serve``."""

import sys

from .cli import main

sys.exit(main())
