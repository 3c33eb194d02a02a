"""The reference package's ADMM module paths (``algorithm.admm.*``), served by this library's
ADMM engine (:mod:`distributed_resource_optimization.admm`)."""
