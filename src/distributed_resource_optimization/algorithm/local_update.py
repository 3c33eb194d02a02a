"""The reference package's local-update protocol for coordinators written as message handlers
(:class:`~.core.Coordinator`): a participant that receives ``ADMMMessage(v, rho)`` answers
``ADMMAnswer(x)`` with ``x = argmin f(x) + rho/2 ||x + v||^2``; every
:class:`~distributed_resource_optimization.local.base.LocalModel` (e.g. a flex actor) does."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distributed_resource_optimization.algorithm.core import OptimizationMessage


@dataclass
class ADMMMessage(OptimizationMessage):
    """Local-update request: the correction ``v`` (outputs' unit) and the penalty ``rho``."""

    v: np.ndarray
    rho: float

    def answer(self, x: np.ndarray) -> ADMMAnswer:
        """The reply of a participant whose new outputs are ``x`` (what a local model's
        :meth:`~distributed_resource_optimization.local.base.LocalModel.on_exchange_message`
        sends back)."""
        return ADMMAnswer(x=x)


@dataclass
class ADMMAnswer(OptimizationMessage):
    """Local-update reply: the participant's new outputs ``x``."""

    x: np.ndarray


__all__ = ["ADMMAnswer", "ADMMMessage"]
