"""Property-based tests (hypothesis) of the closed-form pieces against brute-force minimisation."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from distributed_resource_optimization.admm.objectives import (
    ADMMTargetDistanceObjective,
    ADMMTargetDistanceSquaredObjective,
    TargetData,
)
from distributed_resource_optimization.local.flex import flex_prox

finite = st.floats(-50, 50, allow_nan=False, allow_infinity=False, allow_subnormal=False)
positive = st.floats(0.05, 20, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(m=st.integers(1, 5), data=st.data())
def test_flex_prox_is_the_exact_minimiser(m: int, data) -> None:
    d = np.array(data.draw(st.lists(finite, min_size=m, max_size=m)))
    v = np.array(data.draw(st.lists(finite, min_size=m, max_size=m)))
    P = np.array(data.draw(st.lists(finite, min_size=m, max_size=m)))
    rho = np.array(data.draw(st.lists(positive, min_size=m, max_size=m)))

    def f(s: float) -> float:
        x = s * d
        return float(P @ x + 0.5 * rho @ (x - v) ** 2)

    x = flex_prox(d[None, :], np.array([P @ d]), v[None, :], rho[None, :])[0]
    s_ref = minimize_scalar(f, bounds=(0.0, 1.0), method="bounded",
                            options={"xatol": 1e-12}).x
    best = min(f(s_ref), f(0.0), f(1.0))
    s = 0.0 if float(d @ d) == 0.0 else float(d @ x / (d @ d))
    assert -1e-12 <= s <= 1 + 1e-12
    assert f(s) <= best + 1e-7 * max(1.0, abs(best))


@settings(max_examples=200, deadline=None)
@given(m=st.integers(1, 4), data=st.data())
def test_target_distance_prox_optimality(m: int, data) -> None:
    target = np.array(data.draw(st.lists(finite, min_size=m, max_size=m)))
    w = np.array(data.draw(st.lists(positive, min_size=m, max_size=m)))
    point = np.array(data.draw(st.lists(finite, min_size=m, max_size=m)))
    t = data.draw(positive)
    td = TargetData(target, w)
    for obj, g in ((ADMMTargetDistanceObjective(), lambda s, k: w[k] * abs(s - target[k])),
                   (ADMMTargetDistanceSquaredObjective(), lambda s, k: w[k] * (s - target[k]) ** 2)):
        s = obj.prox(point, t, td)
        for k in range(m):  # separable: compare each coordinate with a 1-D brute force
            h = lambda y, k=k, g=g: g(y, k) + (y - point[k]) ** 2 / (2 * t)  # noqa: E731
            lo, hi = min(point[k], target[k]) - 1, max(point[k], target[k]) + 1
            ref = minimize_scalar(h, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
            assert h(s[k]) <= h(ref.x) + 1e-8 * max(1.0, abs(h(ref.x)))
