"""Electric grid operator: data -> AC power flow -> linear model -> LP block, eq. (1k)-(1o).

One module per step: :mod:`.data` (``load_electric_grid``, from the electric grid files only),
:mod:`.power_flow` (network matrices, ``solve_power_flow``), :mod:`.linear`
(``linear_electric_grid_model``) and :mod:`.block` (``electric_grid_block``, limits
as data; a scenario's limits: :mod:`..grid_operators`).

The district grid is a radial, three-phase balanced 22 kV network, so it is modelled by its
single-phase (positive-sequence) equivalent in per unit: base power ``BASE_POWER_KVA``
(three-phase), base voltage the nominal line-to-line voltage, lines as pi-models (series impedance,
half of the shunt susceptance at each end). All powers in the public API are three-phase totals.

Sign conventions: DER powers are *demand*, positive = consumption, in kW / kvar (the data files list
loads as negative W / var; the loader flips and scales them). Branch power "from" / "to" is the
complex power entering the line at its ``node_1`` / ``node_2`` end, so on a line that carries
power from node 1 to node 2 the "to" value has a negative real part (as in pandapower / MATPOWER).
The source (substation) injection is positive when the district draws power from upstream.
"""

from .block import electric_grid_block
from .data import ElectricGridData, load_electric_grid
from .linear import (
    DEFAULT_BRANCH_POWER_FACTOR,
    DEFAULT_VOLTAGE_MAX_PU,
    DEFAULT_VOLTAGE_MIN_PU,
    LinearElectricGridModel,
    linear_electric_grid_model,
)
from .power_flow import BASE_POWER_KVA, PowerFlowError, PowerFlowResult, solve_power_flow

__all__ = [
    "BASE_POWER_KVA",
    "DEFAULT_BRANCH_POWER_FACTOR",
    "DEFAULT_VOLTAGE_MAX_PU",
    "DEFAULT_VOLTAGE_MIN_PU",
    "ElectricGridData",
    "LinearElectricGridModel",
    "PowerFlowError",
    "PowerFlowResult",
    "electric_grid_block",
    "linear_electric_grid_model",
    "load_electric_grid",
    "solve_power_flow",
]
