"""``python -m distributed_resource_optimization ...``: the ``dro`` command line."""

import sys

from distributed_resource_optimization.cli import main

sys.exit(main())
