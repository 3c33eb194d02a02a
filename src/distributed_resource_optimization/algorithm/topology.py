"""Who talks to whom in a coordinator-free run: a complete graph, a ring or the user's graph.

A topology is turned into neighbour lists over the participants' positions ``0..n-1`` once,
before the run, and checked there: symmetric, no self-loops, connected (on a graph in parts the
participants could never agree).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: Named topologies.
TOPOLOGIES: tuple[str, ...] = ("complete", "ring")


def neighbour_lists(topology: Any, n: int) -> list[list[int]]:
    """Neighbours of each of ``n`` participants (by position, ascending) for ``topology``:
    ``None`` or ``"complete"``, ``"ring"``, an adjacency (mapping position -> neighbours, or a
    sequence of neighbour lists, or an ``n x n`` 0/1 matrix) or a networkx graph whose nodes are
    the positions ``0..n-1``. ``ValueError`` names what is wrong."""
    if n < 1:
        raise ValueError("actors must not be empty")
    if topology is None or (isinstance(topology, str) and topology == "complete"):
        return [[j for j in range(n) if j != i] for i in range(n)]
    if isinstance(topology, str) and topology == "ring":
        if n <= 2:
            return neighbour_lists(None, n)
        return [sorted({(i - 1) % n, (i + 1) % n}) for i in range(n)]
    if isinstance(topology, str):
        raise ValueError(f"topology must be one of {', '.join(TOPOLOGIES)}, an adjacency or a "
                         f"networkx graph, got {topology!r}")
    adjacency = _adjacency(topology, n)
    for i, nbrs in enumerate(adjacency):
        for j in nbrs:
            if i not in adjacency[j]:
                raise ValueError(f"topology: {i} lists {j} as a neighbour but not the other way "
                                 "round (links are two-way)")
    seen, todo = {0}, [0]
    while todo:
        for j in adjacency[todo.pop()]:
            if j not in seen:
                seen.add(j)
                todo.append(j)
    if len(seen) != n:
        cut = sorted(set(range(n)) - seen)
        raise ValueError(f"topology is not connected: participant(s) {cut[:5]} cannot be reached "
                         "from participant 0")
    return [sorted(nbrs) for nbrs in adjacency]


def _adjacency(topology: Any, n: int) -> list[set[int]]:
    if hasattr(topology, "nodes") and hasattr(topology, "neighbors"):  # a networkx graph
        nodes = set(topology.nodes)
        if nodes != set(range(n)):
            raise ValueError(f"topology: the graph's nodes must be the positions 0..{n - 1} of "
                             f"the actors, got {sorted(nodes, key=str)[:5]}...")
        items: Any = {i: list(topology.neighbors(i)) for i in range(n)}
    elif isinstance(topology, Mapping):
        items = topology
    elif isinstance(topology, Sequence) or hasattr(topology, "__array__"):
        rows = list(topology)
        if len(rows) != n:
            raise ValueError(f"topology has {len(rows)} rows for {n} actors")
        # n rows of n zeros and ones: a matrix (a neighbour list that long would hold the
        # participant itself).
        if all(hasattr(r, "__len__") and len(r) == n for r in rows) and \
                all(v in (0, 1) for r in rows for v in r):
            items = {i: [j for j, v in enumerate(r) if v] for i, r in enumerate(rows)}
        else:
            items = dict(enumerate(rows))
    else:
        raise ValueError(f"topology must be one of {', '.join(TOPOLOGIES)}, an adjacency or a "
                         f"networkx graph, got {type(topology).__name__}")
    adjacency: list[set[int]] = [set() for _ in range(n)]
    for i, nbrs in items.items():
        if not (isinstance(i, int) and 0 <= i < n):
            raise ValueError(f"topology: {i!r} is not an actor position 0..{n - 1}")
        for j in nbrs:
            if not (isinstance(j, int) and 0 <= j < n):
                raise ValueError(f"topology: neighbour {j!r} of {i} is not an actor position "
                                 f"0..{n - 1}")
            if j == i:
                raise ValueError(f"topology: {i} is its own neighbour")
            adjacency[i].add(int(j))
    return adjacency
