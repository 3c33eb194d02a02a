"""Buildings, step 3: the LP blocks of one building and of the aggregator, eq. (1b)-(1f), (4).

A building's block holds its dynamics, outputs, comfort band and power mapping, with zero cost (a
building pays through the prices); the aggregator's block stacks its buildings' blocks with the
exchanged demands in the grids' time-major order.
"""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import scipy.sparse as sp

from .. import GROUPS
from ..lp import LPBlock
from .kept import KeptByContent, content_key
from .model import STATE_NAMES, BuildingModel

#: Blocks already built in this process, by the content of their model (a model is a mutable
#: dataclass: what it holds is hashed, not its identity) and step. The market's entities, the
#: baselines and every centralized solve build the same buildings' blocks again and again: 22
#: buildings at 30 min are 0.4 s each time (measured). At most this many are kept (LRU).
BLOCK_CACHE_SIZE = 256
_BLOCKS: KeptByContent[LPBlock] = KeptByContent(BLOCK_CACHE_SIZE)


def _copy(block: LPBlock) -> LPBlock:
    """A copy the caller may change without changing the cached block."""
    return replace(block, c=block.c.copy(), lb=block.lb.copy(), ub=block.ub.copy(),
                   A_eq=block.A_eq.copy(), b_eq=block.b_eq.copy(), A_ub=block.A_ub.copy(),
                   b_ub=block.b_ub.copy(),
                   variables={k: v.copy() for k, v in block.variables.items()},
                   eq_rows={k: v.copy() for k, v in block.eq_rows.items()},
                   ub_rows={k: v.copy() for k, v in block.ub_rows.items()})


def building_block(model: BuildingModel, timestep_h: float) -> LPBlock:
    """Sparse LP block of one building, eq. (1b)-(1f), with zero cost.

    Variable groups (time-major): ``p_th``, ``p``, ``q`` (length T, demand kW / kvar), ``x``
    (T*n_x), ``c`` (T*n_c), ``y`` (T*n_y). Equality families: ``initial_state`` (1b),
    ``dynamics`` (1c, T-1 steps), ``outputs`` (1d), ``power_mapping`` (1f; also split into
    ``power_mapping_thermal`` / ``_active`` / ``_reactive``). The comfort band and the other
    output limits (1e) are variable bounds on ``y``; inside each step, at the model's
    ``comfort_fractions``, the zone band holds through the inequality families
    ``comfort_max_within_step`` / ``comfort_min_within_step`` (on ``x[t]`` and ``c[t]``).
    ``timestep_h`` must equal the step the model was discretised at.
    """
    _check_timestep(model, timestep_h)
    key = content_key(float(timestep_h), *(getattr(model, f.name) for f in fields(model)))
    return _copy(_BLOCKS.get(key, lambda: _build(model, timestep_h)))


def _build(model: BuildingModel, timestep_h: float) -> LPBlock:
    n_t = model.n_timesteps
    n_x, n_c, n_y = model.x0.size, len(model.control_names), len(model.output_names)
    sizes = {"p_th": n_t, "p": n_t, "q": n_t, "x": n_t * n_x, "c": n_t * n_c, "y": n_t * n_y}
    variables: dict[str, np.ndarray] = {}
    offset = 0
    for label, size in sizes.items():
        variables[label] = np.arange(offset, offset + size)
        offset += size
    n = offset

    eye_t = sp.identity(n_t, format="csr")
    lead = sp.eye(n_t - 1, n_t, k=1, format="csr")  # picks x[t+1]
    lag = sp.eye(n_t - 1, n_t, k=0, format="csr")  # picks x[t]

    def assemble(rows: int, parts: dict[str, sp.spmatrix]) -> sp.csr_matrix:
        blocks = [parts.get(label, sp.csr_matrix((rows, size))) for label, size in sizes.items()]
        return sp.hstack(blocks, format="csr")

    first = sp.eye(n_x, n_t * n_x, format="csr")
    rows_initial = assemble(n_x, {"x": first})
    rhs_initial = model.x0.copy()

    rows_dynamics = assemble((n_t - 1) * n_x, {
        "x": sp.kron(lead, sp.identity(n_x)) - sp.kron(lag, sp.csr_matrix(model.A)),
        "c": -sp.kron(lag, sp.csr_matrix(model.B_c)),
    })
    d_next = model.d_next
    rhs_dynamics = (model.d[:-1] @ model.B_d.T + d_next[:-1] @ model.B_d_next.T).ravel()

    rows_outputs = assemble(n_t * n_y, {
        "x": -sp.kron(eye_t, sp.csr_matrix(model.C)),
        "c": -sp.kron(eye_t, sp.csr_matrix(model.D_c)),
        "y": sp.identity(n_t * n_y),
    })
    rhs_outputs = (model.d @ model.D_d.T).ravel()

    mapping = []
    for label, matrix in (("p_th", model.M_pth_y), ("p", model.M_p_y), ("q", model.M_q_y)):
        mapping.append(assemble(n_t, {label: eye_t,
                                      "y": -sp.kron(eye_t, sp.csr_matrix(matrix))}))
    rows_mapping = sp.vstack(mapping, format="csr")

    families = [("initial_state", rows_initial, rhs_initial),
                ("dynamics", rows_dynamics, rhs_dynamics),
                ("outputs", rows_outputs, rhs_outputs),
                ("power_mapping", rows_mapping, np.zeros(3 * n_t))]
    eq_rows: dict[str, np.ndarray] = {}
    start = 0
    for label, rows, _ in families:
        eq_rows[label] = np.arange(start, start + rows.shape[0])
        start += rows.shape[0]
    mapping_rows = eq_rows["power_mapping"]
    eq_rows["power_mapping_thermal"] = mapping_rows[:n_t]
    eq_rows["power_mapping_active"] = mapping_rows[n_t:2 * n_t]
    eq_rows["power_mapping_reactive"] = mapping_rows[2 * n_t:]

    lb = np.full(n, -np.inf)
    ub = np.full(n, np.inf)
    lb[variables["y"]] = model.y_min.ravel()
    ub[variables["y"]] = model.y_max.ravel()
    comfort = _comfort_within_step(model, d_next)
    ub_rows: dict[str, np.ndarray] = {}
    a_ub, b_ub, start = [], [], 0
    for label, (rows, rhs) in comfort.items():
        a_ub.append(assemble(rows["x"].shape[0], rows))
        b_ub.append(rhs)
        ub_rows[label] = np.arange(start, start + rhs.size)
        start += rhs.size
    return LPBlock(
        n=n, c=np.zeros(n), lb=lb, ub=ub,
        A_eq=sp.vstack([rows for _, rows, _ in families], format="csr"),
        b_eq=np.concatenate([rhs for _, _, rhs in families]),
        A_ub=sp.vstack(a_ub, format="csr") if a_ub else sp.csr_matrix((0, n)),
        b_ub=np.concatenate(b_ub) if b_ub else np.zeros(0),
        variables=variables, eq_rows=eq_rows, ub_rows=ub_rows, name=f"building_{model.name}",
    )


def _comfort_within_step(model: BuildingModel, d_next: np.ndarray
                         ) -> dict[str, tuple[dict[str, sp.csr_matrix], np.ndarray]]:
    """Rows ``a x[t] + b_c c[t] <= rhs`` holding the zone band of step ``t`` at each of the
    model's ``comfort_fractions`` of the step, for every step whose bound is finite: the upper
    bound (``comfort_max_within_step``) and the lower one (``comfort_min_within_step``), each
    ordered by step, then point. Empty for a model without in-step points."""
    if not model.comfort_fractions:
        return {}
    n_t = model.n_timesteps
    zone = model.output_index(STATE_NAMES[0])
    per_point = [model.output_within_step(STATE_NAMES[0], f) for f in model.comfort_fractions]
    # (T, K) rows: the state's coefficients, and the disturbances' part of the temperature
    a = np.stack([p[0] for p in per_point])  # (K, n_x)
    b_c = np.stack([p[1] for p in per_point])  # (K, n_c)
    offset = (model.d @ np.stack([p[2] for p in per_point]).T
              + d_next @ np.stack([p[3] for p in per_point]).T)  # (T, K)
    eye_t = sp.identity(n_t, format="csr")
    x_rows = sp.kron(eye_t, sp.csr_matrix(a), format="csr")  # row t*K + j
    c_rows = sp.kron(eye_t, sp.csr_matrix(b_c), format="csr")
    n_points = len(model.comfort_fractions)
    out = {}
    for label, bound, sign in (("comfort_max_within_step", model.y_max[:, zone], 1.0),
                               ("comfort_min_within_step", model.y_min[:, zone], -1.0)):
        keep = np.repeat(np.isfinite(bound), n_points)
        if not keep.any():
            continue
        rhs = sign * (np.repeat(bound, n_points) - offset.ravel())
        out[label] = ({"x": sign * x_rows[keep], "c": sign * c_rows[keep]}, rhs[keep])
    return out


def aggregator_block(models: list[BuildingModel], timestep_h: float) -> LPBlock:
    """All buildings in one LP block (the flexible load aggregator's constraints, eq. (4)).

    Groups ``p_th``, ``p``, ``q`` have length T*n_der in time-major order (index ``t*n_der + k``
    for DER ``k`` in the order of ``models``), as the grid blocks. Each building's internal
    variables follow as groups ``"<name>/x"``, ``"<name>/c"``, ``"<name>/y"``. Equality families
    are the buildings' families stacked (``initial_state``, ``dynamics``, ``outputs``,
    ``power_mapping``) and, per building, ``"<name>/<family>"``. Zero cost.
    """
    if len(models) == 0:
        raise ValueError("models must hold at least one BuildingModel")
    n_t = models[0].n_timesteps
    for model in models:
        if model.n_timesteps != n_t:
            raise ValueError(f"models: building {model.name!r} has {model.n_timesteps} steps, "
                             f"expected {n_t}")
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ValueError("models: building names must be unique")
    blocks = [building_block(m, timestep_h) for m in models]
    n_der = len(models)
    exchanged = GROUPS
    variables = {label: np.arange(i * n_t * n_der, (i + 1) * n_t * n_der)
                 for i, label in enumerate(exchanged)}
    offset = 3 * n_t * n_der
    column_maps = []
    for k, (model, block) in enumerate(zip(models, blocks, strict=True)):
        column_map = np.empty(block.n, dtype=int)
        for i, label in enumerate(exchanged):
            column_map[block.variables[label]] = i * n_t * n_der + np.arange(n_t) * n_der + k
        for label in ("x", "c", "y"):
            local = block.variables[label]
            column_map[local] = offset + np.arange(local.size)
            variables[f"{model.name}/{label}"] = offset + np.arange(local.size)
            offset += local.size
        column_maps.append(column_map)
    n = offset

    lb = np.full(n, -np.inf)
    ub = np.full(n, np.inf)
    for block, column_map in zip(blocks, column_maps, strict=True):
        lb[column_map] = block.lb
        ub[column_map] = block.ub
    A_eq, b_eq, eq_rows = _stack_rows(models, blocks, column_maps, n, "eq")
    A_ub, b_ub, ub_rows = _stack_rows(models, blocks, column_maps, n, "ub")
    return LPBlock(
        n=n, c=np.zeros(n), lb=lb, ub=ub, A_eq=A_eq, b_eq=b_eq, A_ub=A_ub, b_ub=b_ub,
        variables=variables, eq_rows=eq_rows, ub_rows=ub_rows, name="flexible_load_aggregator",
    )


def _stack_rows(models: list[BuildingModel], blocks: list[LPBlock],
                column_maps: list[np.ndarray], n: int, kind: str
                ) -> tuple[sp.csr_matrix, np.ndarray, dict[str, np.ndarray]]:
    """The buildings' equality (``kind="eq"``) or inequality (``"ub"``) rows one below the other,
    on the aggregator's columns; families stacked, and per building ``"<name>/<family>"``."""
    rows, cols, vals, rhs = [], [], [], []
    families: dict[str, list[np.ndarray]] = {}
    row_offset = 0
    for model, block, column_map in zip(models, blocks, column_maps, strict=True):
        coo = getattr(block, f"A_{kind}").tocoo()
        rows.append(coo.row + row_offset)
        cols.append(column_map[coo.col])
        vals.append(coo.data)
        rhs.append(getattr(block, f"b_{kind}"))
        for family, local_rows in getattr(block, f"{kind}_rows").items():
            families.setdefault(family, []).append(local_rows + row_offset)
            families[f"{model.name}/{family}"] = [local_rows + row_offset]
        row_offset += rhs[-1].size
    matrix = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                           shape=(row_offset, n))
    return matrix, np.concatenate(rhs), {k: np.concatenate(v) for k, v in families.items()}


def _check_timestep(model: BuildingModel, timestep_h: float) -> None:
    if not (np.isfinite(timestep_h) and timestep_h > 0):
        raise ValueError(f"timestep_h must be a positive number, got {timestep_h}")
    if abs(timestep_h - model.timestep_h) > 1e-9:
        raise ValueError(f"timestep_h={timestep_h} differs from the step the model of building "
                         f"{model.name!r} was discretised at ({model.timestep_h} h)")


