"""Heuristic distributed algorithms: COHDA (:mod:`.cohda`)."""
