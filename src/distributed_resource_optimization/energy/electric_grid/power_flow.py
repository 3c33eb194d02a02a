"""Electric grid operator, step 2: network matrices and the AC power flow (the nonlinear model).

Per unit on ``BASE_POWER_KVA`` (three-phase) and the nominal line-to-line voltage; lines are
pi-models. Sign conventions are those of the package docstring: DER powers are demand, branch
power "from" / "to" enters the line at its ``node_1`` / ``node_2`` end, and the source injection
is positive when the district draws power from upstream.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..tables import check_vector
from .data import ElectricGridData

#: Per-unit base power of the single-phase equivalent (three-phase kVA). Any value works; 1 MVA
#: keeps the 22 kV district's per-unit numbers near 1 (the study's ``base_apparent_power``).
BASE_POWER_KVA: float = 1000.0


@dataclass
class PowerFlowResult:
    """AC power flow solution (three-phase totals; see the module docstring for signs)."""

    voltage_pu: np.ndarray  # complex, per node
    voltage_v: np.ndarray  # complex line-to-line voltage (V) = voltage_pu * nominal voltage
    branch_power_from_kva: np.ndarray  # complex, entering the line at node_1
    branch_power_to_kva: np.ndarray  # complex, entering the line at node_2
    branch_current_from_a: np.ndarray  # magnitude of the line current at node_1 (A)
    loss_active_kw: float
    loss_reactive_kvar: float  # series reactive losses minus line charging
    source_power_kva: complex  # drawn from the upstream grid at the source node
    iterations: int
    max_mismatch_pu: float

    @property
    def voltage_magnitude_pu(self) -> np.ndarray:
        return np.abs(self.voltage_pu)


class PowerFlowError(RuntimeError):
    """Newton-Raphson did not converge (typically the demand exceeds what the grid can carry)."""


@dataclass
class NetworkMatrices:
    """Per-unit admittance matrices of the pi-model network."""

    y_bus: np.ndarray  # (n_node, n_node)
    y_from: np.ndarray  # (n_line, n_node): current entering each line at node_1
    y_to: np.ndarray  # (n_line, n_node): current entering each line at node_2
    z_base_ohm: float


def network_matrices(grid: ElectricGridData) -> NetworkMatrices:
    """Bus admittance matrix and the branch-current matrices of both line ends (p.u.)."""
    z_base = grid.nominal_voltage_v**2 / (BASE_POWER_KVA * 1000.0)
    y_series = z_base / grid.line_impedance_ohm
    y_shunt_half = 0.5j * grid.line_shunt_susceptance_s * z_base
    n, m = grid.n_node, grid.n_line
    lines = np.arange(m)
    y_from = np.zeros((m, n), dtype=complex)
    y_to = np.zeros((m, n), dtype=complex)
    y_from[lines, grid.line_from] = y_series + y_shunt_half
    y_from[lines, grid.line_to] = -y_series
    y_to[lines, grid.line_to] = y_series + y_shunt_half
    y_to[lines, grid.line_from] = -y_series
    c_from = np.zeros((m, n))
    c_from[lines, grid.line_from] = 1.0
    c_to = np.zeros((m, n))
    c_to[lines, grid.line_to] = 1.0
    y_bus = c_from.T @ y_from + c_to.T @ y_to
    return NetworkMatrices(y_bus=y_bus, y_from=y_from, y_to=y_to, z_base_ohm=z_base)


def _node_demand_pu(grid: ElectricGridData, p_der_kw: np.ndarray,
                    q_der_kvar: np.ndarray) -> np.ndarray:
    s = np.zeros(grid.n_node, dtype=complex)
    np.add.at(s, grid.der_node_index, (p_der_kw + 1j * q_der_kvar) / BASE_POWER_KVA)
    return s


def power_flow_jacobian(y_bus: np.ndarray, v: np.ndarray, pq: np.ndarray) -> np.ndarray:
    """Polar power-flow Jacobian d[P; Q]/d[angle; |V|] on the PQ nodes (MATPOWER's dSbus_dV)."""
    i_bus = y_bus @ v
    v_norm = v / np.abs(v)
    ds_dva = 1j * np.diag(v) @ np.conj(np.diag(i_bus) - y_bus @ np.diag(v))
    ds_dvm = np.diag(v) @ np.conj(y_bus @ np.diag(v_norm)) + np.diag(np.conj(i_bus) * v_norm)
    ds_dva = ds_dva[np.ix_(pq, pq)]
    ds_dvm = ds_dvm[np.ix_(pq, pq)]
    return np.block([[ds_dva.real, ds_dvm.real], [ds_dva.imag, ds_dvm.imag]])


def pq_nodes(grid: ElectricGridData) -> np.ndarray:
    """Indices of the PQ nodes: every node but the source (slack)."""
    return np.setdiff1d(np.arange(grid.n_node), [grid.source_index])


def solve_power_flow(grid: ElectricGridData, p_der_kw: np.ndarray, q_der_kvar: np.ndarray, *,
                     tolerance_pu: float = 1e-8, max_iterations: int = 30) -> PowerFlowResult:
    """Newton-Raphson AC power flow of the single-phase equivalent.

    ``p_der_kw`` / ``q_der_kvar``: DER demand (n_der,), kW / kvar, positive = consumption. The
    source node is the slack at 1.0 p.u., angle 0. ``tolerance_pu`` bounds the largest nodal power
    mismatch (p.u. of ``BASE_POWER_KVA``; ~1e-10 is the rounding floor for this grid's short, low-
    impedance lines). Raises :class:`PowerFlowError` if it does not converge.
    """
    p = check_vector("p_der_kw", p_der_kw, grid.n_der)
    q = check_vector("q_der_kvar", q_der_kvar, grid.n_der)
    if not (np.isfinite(tolerance_pu) and tolerance_pu > 0):
        raise ValueError("tolerance_pu must be a positive number")
    net = network_matrices(grid)
    s_spec = -_node_demand_pu(grid, p, q)  # injections
    pq = pq_nodes(grid)
    n_pq = len(pq)
    v = np.ones(grid.n_node, dtype=complex)
    mismatch = np.inf
    for iteration in range(max_iterations + 1):
        s_calc = v * np.conj(net.y_bus @ v)
        f = (s_calc - s_spec)[pq]
        mismatch = float(np.max(np.abs(np.concatenate([f.real, f.imag]))))
        if mismatch < tolerance_pu:
            break
        if iteration == max_iterations:
            raise PowerFlowError(f"power flow did not converge in {max_iterations} iterations "
                                 f"(largest mismatch {mismatch:.3g} p.u.)")
        dx = np.linalg.solve(power_flow_jacobian(net.y_bus, v, pq),
                             -np.concatenate([f.real, f.imag]))
        va = np.angle(v[pq]) + dx[:n_pq]
        vm = np.abs(v[pq]) + dx[n_pq:]
        if np.any(vm <= 0.0) or not np.all(np.isfinite(vm)):
            raise PowerFlowError("power flow diverged (non-positive voltage magnitude)")
        v[pq] = vm * np.exp(1j * va)
    return _power_flow_result(grid, net, v, iteration, mismatch)


def _power_flow_result(grid: ElectricGridData, net: NetworkMatrices, v: np.ndarray,
                       iterations: int, mismatch: float) -> PowerFlowResult:
    i_from = net.y_from @ v
    s_from = v[grid.line_from] * np.conj(i_from) * BASE_POWER_KVA
    s_to = v[grid.line_to] * np.conj(net.y_to @ v) * BASE_POWER_KVA
    s_src = complex(v[grid.source_index] * np.conj(net.y_bus[grid.source_index] @ v)
                    * BASE_POWER_KVA)
    loss = complex(np.sum(s_from + s_to))
    # Per-unit current times base current (three-phase base: S / (sqrt(3) V_LL)).
    i_base_a = BASE_POWER_KVA * 1000.0 / (np.sqrt(3.0) * grid.nominal_voltage_v)
    return PowerFlowResult(
        voltage_pu=v.copy(),
        voltage_v=v * grid.nominal_voltage_v,
        branch_power_from_kva=s_from,
        branch_power_to_kva=s_to,
        branch_current_from_a=np.abs(i_from) * i_base_a,
        loss_active_kw=loss.real,
        loss_reactive_kvar=loss.imag,
        source_power_kva=s_src,
        iterations=iterations,
        max_mismatch_pu=mismatch,
    )
