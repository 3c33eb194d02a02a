"""Electric grid operator, step 3: the tangent model of the AC power flow, eq. (1k)-(1o).

:func:`linear_electric_grid_model` solves the power flow at a reference demand and differentiates
it exactly (implicit function theorem on the converged Newton-Raphson Jacobian). The reference is
the grid operator's own choice: the nominal DER powers of its data, or a demand the buildings
publish (:func:`~distributed_resource_optimization.energy.district.load_district`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..tables import check_vector
from .data import ElectricGridData
from .power_flow import (
    BASE_POWER_KVA,
    PowerFlowResult,
    network_matrices,
    power_flow_jacobian,
    pq_nodes,
    solve_power_flow,
)

#: Loose default voltage band of the study (p.u.).
DEFAULT_VOLTAGE_MIN_PU: float = 0.5
DEFAULT_VOLTAGE_MAX_PU: float = 1.5
#: Default branch apparent-power limit of the study, as a multiple of the reference flow.
DEFAULT_BRANCH_POWER_FACTOR: float = 100.0


@dataclass
class LinearElectricGridModel:
    """First-order (tangent) model of the AC power flow around a reference point, eq. (1k)-(1o).

    ``m_<quantity>_by_<p|q>`` are the sensitivities of the quantity to the DER demand vector:
    voltage magnitude in p.u./kW (p.u./kvar), branch apparent-power magnitude in kVA/kW (kVA/kvar),
    total losses in kW/kW, kvar/kW etc. Shapes: (n_node, n_der), (n_line, n_der), (n_der,).
    Limit defaults are loose like the study's: voltage 0.5-1.5 p.u. (of nominal voltage), branch
    power 100x its reference power-flow value (the larger of the two ends). The study's script
    multiplies the line *rating* instead (``branch_power_rating_kva``, sqrt(3) V_nominal I_max);
    neither default binds. Scenario limits should be set explicitly (see docs/energy_grids.md).
    """

    grid: ElectricGridData
    reference: PowerFlowResult
    p_ref_kw: np.ndarray
    q_ref_kvar: np.ndarray
    voltage_ref_pu: np.ndarray
    branch_power_from_ref_kva: np.ndarray
    branch_power_to_ref_kva: np.ndarray
    loss_active_ref_kw: float
    loss_reactive_ref_kvar: float
    m_voltage_by_p: np.ndarray
    m_voltage_by_q: np.ndarray
    m_branch_from_by_p: np.ndarray
    m_branch_from_by_q: np.ndarray
    m_branch_to_by_p: np.ndarray
    m_branch_to_by_q: np.ndarray
    m_loss_active_by_p: np.ndarray
    m_loss_active_by_q: np.ndarray
    m_loss_reactive_by_p: np.ndarray
    m_loss_reactive_by_q: np.ndarray
    voltage_min_pu: np.ndarray
    voltage_max_pu: np.ndarray
    branch_power_max_kva: np.ndarray
    branch_power_rating_kva: np.ndarray  # sqrt(3) V_nominal I_max; not the default limit

    def _deltas(self, p_kw: np.ndarray, q_kvar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = check_vector("p_kw", p_kw, self.grid.n_der)
        q = check_vector("q_kvar", q_kvar, self.grid.n_der)
        return p - self.p_ref_kw, q - self.q_ref_kvar

    def predict_voltage_pu(self, p_kw: np.ndarray, q_kvar: np.ndarray) -> np.ndarray:
        """Linearised node voltage magnitudes (p.u.) at DER demand ``p_kw``, ``q_kvar``."""
        dp, dq = self._deltas(p_kw, q_kvar)
        return self.voltage_ref_pu + self.m_voltage_by_p @ dp + self.m_voltage_by_q @ dq

    def predict_branch_power_kva(self, p_kw: np.ndarray, q_kvar: np.ndarray
                                 ) -> tuple[np.ndarray, np.ndarray]:
        """Linearised branch apparent-power magnitudes (kVA) at the from and the to end."""
        dp, dq = self._deltas(p_kw, q_kvar)
        return (self.branch_power_from_ref_kva + self.m_branch_from_by_p @ dp
                + self.m_branch_from_by_q @ dq,
                self.branch_power_to_ref_kva + self.m_branch_to_by_p @ dp
                + self.m_branch_to_by_q @ dq)

    def predict_losses(self, p_kw: np.ndarray, q_kvar: np.ndarray) -> tuple[float, float]:
        """Linearised total losses: active (kW) and reactive (kvar)."""
        dp, dq = self._deltas(p_kw, q_kvar)
        return (float(self.loss_active_ref_kw + self.m_loss_active_by_p @ dp
                      + self.m_loss_active_by_q @ dq),
                float(self.loss_reactive_ref_kvar + self.m_loss_reactive_by_p @ dp
                      + self.m_loss_reactive_by_q @ dq))


def _abs_sensitivity(s: np.ndarray, ds: np.ndarray) -> np.ndarray:
    """d|s| from ds for complex s (rows) and ds (rows x columns); 0 where s == 0."""
    mag = np.abs(s)
    safe = np.where(mag > 0.0, mag, 1.0)
    return np.where(mag[:, None] > 0.0, (np.conj(s)[:, None] * ds).real / safe[:, None], 0.0)


def linear_electric_grid_model(grid: ElectricGridData, p_ref_kw: np.ndarray | None = None,
                               q_ref_kvar: np.ndarray | None = None) -> LinearElectricGridModel:
    """Linearise the AC power flow at DER demand ``p_ref_kw`` / ``q_ref_kvar`` (default: nominal).

    Sensitivities come from the converged Newton-Raphson Jacobian (implicit function theorem), so
    they are the exact tangent of :func:`solve_power_flow` at the reference point.
    """
    p_ref = check_vector("p_ref_kw", grid.der_p_nominal_kw if p_ref_kw is None else p_ref_kw,
                          grid.n_der)
    q_ref = check_vector("q_ref_kvar",
                          grid.der_q_nominal_kvar if q_ref_kvar is None else q_ref_kvar, grid.n_der)
    ref = solve_power_flow(grid, p_ref, q_ref)
    net = network_matrices(grid)
    v = ref.voltage_pu
    pq = pq_nodes(grid)
    n_pq = len(pq)
    jac = power_flow_jacobian(net.y_bus, v, pq)

    # Mismatch F = S_calc(x) + S_demand / S_base = 0 on the PQ nodes, so dx/dP = -J^-1 dF/dP.
    pos = {node: i for i, node in enumerate(pq)}
    rhs = np.zeros((2 * n_pq, 2 * grid.n_der))
    for k, node in enumerate(grid.der_node_index):
        if node in pos:  # a DER at the slack node does not change any voltage
            rhs[pos[node], k] = 1.0 / BASE_POWER_KVA
            rhs[n_pq + pos[node], grid.n_der + k] = 1.0 / BASE_POWER_KVA
    dx = -np.linalg.solve(jac, rhs)
    d_angle = np.zeros((grid.n_node, 2 * grid.n_der))
    d_mag = np.zeros((grid.n_node, 2 * grid.n_der))
    d_angle[pq] = dx[:n_pq]
    d_mag[pq] = dx[n_pq:]
    dv = v[:, None] * (1j * d_angle + d_mag / np.abs(v)[:, None])  # complex dV per unit demand

    s_from = ref.branch_power_from_kva / BASE_POWER_KVA
    s_to = ref.branch_power_to_kva / BASE_POWER_KVA
    ds_from = (dv[grid.line_from] * np.conj(net.y_from @ v)[:, None]
               + v[grid.line_from][:, None] * np.conj(net.y_from @ dv))
    ds_to = (dv[grid.line_to] * np.conj(net.y_to @ v)[:, None]
             + v[grid.line_to][:, None] * np.conj(net.y_to @ dv))
    dsf_abs = _abs_sensitivity(s_from, ds_from) * BASE_POWER_KVA
    dst_abs = _abs_sensitivity(s_to, ds_to) * BASE_POWER_KVA

    # Losses = source injection - total demand; the source voltage is fixed, only its current moves.
    src = grid.source_index
    ds_src = v[src] * np.conj(net.y_bus[src] @ dv) * BASE_POWER_KVA
    n = grid.n_der
    m_lp_p = ds_src[:n].real - 1.0
    m_lp_q = ds_src[n:].real
    m_lq_p = ds_src[:n].imag
    m_lq_q = ds_src[n:].imag - 1.0

    sf_ref = np.abs(ref.branch_power_from_kva)
    st_ref = np.abs(ref.branch_power_to_kva)
    return LinearElectricGridModel(
        grid=grid,
        reference=ref,
        p_ref_kw=p_ref.copy(),
        q_ref_kvar=q_ref.copy(),
        voltage_ref_pu=np.abs(v),
        branch_power_from_ref_kva=sf_ref,
        branch_power_to_ref_kva=st_ref,
        loss_active_ref_kw=ref.loss_active_kw,
        loss_reactive_ref_kvar=ref.loss_reactive_kvar,
        m_voltage_by_p=d_mag[:, :n],
        m_voltage_by_q=d_mag[:, n:],
        m_branch_from_by_p=dsf_abs[:, :n],
        m_branch_from_by_q=dsf_abs[:, n:],
        m_branch_to_by_p=dst_abs[:, :n],
        m_branch_to_by_q=dst_abs[:, n:],
        m_loss_active_by_p=m_lp_p,
        m_loss_active_by_q=m_lp_q,
        m_loss_reactive_by_p=m_lq_p,
        m_loss_reactive_by_q=m_lq_q,
        voltage_min_pu=np.full(grid.n_node, DEFAULT_VOLTAGE_MIN_PU),
        voltage_max_pu=np.full(grid.n_node, DEFAULT_VOLTAGE_MAX_PU),
        branch_power_max_kva=DEFAULT_BRANCH_POWER_FACTOR * np.maximum(sf_ref, st_ref),
        branch_power_rating_kva=grid.line_rating_kva,
    )
