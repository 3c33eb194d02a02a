# TEMPORARY SHIM (issue 23 merge): forms.py was split into state.py, sharing.py, general.py and stopping.py.
"""Re-exports the names of the old ``admm.forms`` from their new modules."""

from distributed_resource_optimization.admm.general import GeneralConsensusState  # noqa: F401
from distributed_resource_optimization.admm.sharing import SharingState  # noqa: F401
from distributed_resource_optimization.admm.state import (  # noqa: F401
    ADMMSettings,
    Bound,
    FormState,
    History,
    LocalRequest,
    ParticipantSpec,
    expand_price,
)
from distributed_resource_optimization.admm.stopping import Residuals  # noqa: F401
