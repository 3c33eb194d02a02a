"""``python -m distributed_resource_optimization.cli ...``: the ``dro`` command line, as before
the command line became a package."""

import sys

from distributed_resource_optimization.cli.main import main

sys.exit(main())
