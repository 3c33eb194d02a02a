"""``summary.json`` of the runs: the centralized solution, the ADMM market clearing next to it,
and flex sharing; written by :func:`write_json`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from distributed_resource_optimization.energy.ratings import limit_ratings
from distributed_resource_optimization.energy.verification import verification_status

if TYPE_CHECKING:
    from distributed_resource_optimization.energy.centralized import CentralizedResult

SUMMARY_FILE = "summary.json"


def centralized_summary(result: CentralizedResult, wall_time_s: float) -> dict:
    """JSON-ready summary: scenario, objective (S$ over the horizon), times (s), binding limits."""
    d = result.problem.district
    limits = result.problem.limits
    return {
        "scenario": result.scenario,
        "scenario_description": limits.description,
        "method": "centralized",
        "centralized_objective": result.objective,
        "objective_unit": "S$",
        "wall_time_s": float(wall_time_s),
        "solver_time_s": result.wall_time_s,
        "n_timesteps": d.n_timesteps,
        "resolution": d.resolution,
        "timestep_h": d.timestep_h,
        "n_der": d.n_der,
        "comfort": d.comfort,
        "comfort_points_per_step": len(d.buildings[0].comfort_fractions) if d.buildings else 0,
        "linearisation_reference": d.reference,
        "reference_timestep": None if d.reference_timestep is None
        else d.reference_timestep.isoformat(),
        "binding_constraints": result.binding_constraints(),
        "scenario_limits": limit_ratings(d, result.scenario),
        "solver_status": result.message,
    }


def verification_summary(verifications: Mapping) -> dict:
    """``summary.json``'s ``verification``: the overall ``status`` (``holds`` / ``violated``)
    and, per verified dispatch (``centralized``, ``market``), its checks
    (:meth:`~..energy.verification.Verification.as_dict`)."""
    return {"status": verification_status(verifications),
            **{name: v.as_dict() for name, v in verifications.items()}}


def bound_summary(admm) -> dict:
    """``lower_bound``, ``gap_certified`` and the objective they were compared with
    (``bound_objective``) of a run (``None`` where the run has no bound), and the rule that
    ended it (``stopped_by``)."""
    return {"lower_bound": admm.lower_bound, "bound_objective": admm.bound_objective,
            "gap_certified": admm.gap_certified, "stopped_by": admm.stopped_by}


def market_summary(market, central: CentralizedResult | None, comparison: Mapping[str, float]
                   | None = None) -> dict:
    """Summary entries of an ADMM clearing (to merge into :func:`centralized_summary`)."""
    out = {
        "admm_objective": market.objective,
        "iterations": market.iterations,
        "converged": market.converged,
        "status": market.admm.status.value,
        "agents": market.agents,
        "clearing": market.clearing,
        "newton_iterations": market.newton_iterations,
        "rho": market.rho,
        "eps": market.eps,
        "primal_residual_final": market.primal_residual_final,
        "dual_residual_final": market.dual_residual_final,
        "entity_objectives": market.entity_objectives,
        "runtime": market.runtime,
        "agent_processes": market.agent_processes,
        "messages": market.messages,
        "bytes_sent": market.bytes_sent,
        "resent_requests": market.admm.resent_requests,
        "stale_replies": market.admm.stale_replies,
        "rejected_messages": market.admm.rejected_messages,
        **bound_summary(market.admm),
    }
    support = market.admm.stopping_history.get("price_support")
    # S$/kWh: how far the reported prices are from ones every entity's dispatch is a best
    # response to, at the last iteration (recorded by the certified stop).
    out["price_support"] = float(support[-1]) if support is not None and len(support) else None
    if comparison is not None:
        out.update({k: v if isinstance(v, int) else float(v) for k, v in comparison.items()})
    return out


def flex_summary(result) -> dict:
    """``summary.json`` of ``dro flex-sharing``."""
    admm = result.admm
    return {
        "problem": "flex-sharing",
        "method": result.method,
        "actors": result.instance.n_actors,
        "sectors": result.instance.n_sectors,
        "seed": result.seed,
        "objective": admm.objective,
        "centralized_objective": result.centralized_objective,
        "objective_gap_rel": result.objective_gap_rel,
        "objective_unit": "S$",
        "iterations": admm.iterations,
        "polish_rounds": admm.polish_rounds,
        "stopped_by": admm.stopped_by,
        "converged": admm.converged,
        "status": admm.status.value,
        "wall_time_s": result.wall_time_s,
        "centralized_wall_time_s": result.centralized_wall_time_s,
        "runtime": result.runtime,
        "agent_processes": result.agent_processes,
        "messages": result.messages,
        "bytes_sent": result.bytes_sent,
        "resent_requests": admm.resent_requests,
        "stale_replies": admm.stale_replies,
        "rejected_messages": admm.rejected_messages,
        **bound_summary(admm),
        "aggregate_kw": admm.z.tolist(),
        "target_kw": result.instance.target_kw.tolist(),
    }


def write_json(path: Path | str, data: Mapping) -> Path:
    """``data`` as indented JSON (non-finite numbers as ``null``)."""
    def clean(v):
        if isinstance(v, float) and not np.isfinite(v):
            return None
        if isinstance(v, Mapping):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, np.generic):
            return clean(v.item())
        return v

    path = Path(path)
    path.write_text(json.dumps(clean(dict(data)), indent=2) + "\n")
    return path
