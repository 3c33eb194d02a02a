"""Module path ``carrier.topology`` (a face): topologies live in
:mod:`distributed_resource_optimization.algorithm.topology`."""

from distributed_resource_optimization.algorithm.topology import TOPOLOGIES, neighbour_lists

__all__ = ["TOPOLOGIES", "neighbour_lists"]
