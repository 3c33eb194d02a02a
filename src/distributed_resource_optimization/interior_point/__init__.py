"""Second-order coordination: a distributed primal-dual interior-point method.

The participants' private LPs are coupled only through their exchanged entries (general-form
consensus, as in :mod:`~distributed_resource_optimization.admm.general`). Each Newton iteration of
Mehrotra's predictor-corrector method on the whole problem is split along that coupling: every
participant factors its own barrier-scaled KKT system and sends, for its exchanged entries only,
its values, a *condensed sensitivity* (how they respond to their prices around the current point:
a local bid curve) and the right-hand sides of its step; the coordinator solves the coupled
system for the price and exchange steps. See ``docs/interior_point.md``.

Pure numerics (numpy, scipy): :mod:`.consensus` holds the messages, the coordinator's system and
the loop over participants that implement :class:`.consensus.BarrierParticipant` (an LP's is
:class:`~distributed_resource_optimization.local.interior_point.LPBarrier`).
"""
