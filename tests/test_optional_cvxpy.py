"""cvxpy is an optional extra: the package, the flex sharing and the market clearing work
without it, and a cvxpy local model says which extra to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

#: Run in a fresh interpreter in which ``import cvxpy`` fails as if it were not installed.
SCRIPT = textwrap.dedent("""
    import sys
    sys.modules["cvxpy"] = None  # an import of cvxpy now raises ImportError
    import numpy as np
    import distributed_resource_optimization as dro
    from distributed_resource_optimization.local.qp import CvxpyLocalModel

    flex = dro.run_flex_sharing(6, seed=0)
    assert flex.status.value == "converged", flex
    district = dro.load_district(resolution="60min")
    market = dro.run_market_clearing(district, "unconstrained", max_iters=200)
    central = dro.solve_district(district, "unconstrained")
    assert market.converged
    assert abs(market.objective - central.objective) / central.objective < 1e-3
    try:
        CvxpyLocalModel(None)
    except ImportError as exc:
        print("cvxpy:", exc)
    assert "cvxpy" not in [m for m in sys.modules if sys.modules[m] is not None]
    print("ok")
""")


@pytest.mark.slow
@pytest.mark.processes
def test_market_and_flex_sharing_run_without_cvxpy():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "distributed-resource-optimization[cvxpy]" in done.stdout
    assert done.stdout.strip().endswith("ok")
