"""Safeguarded Anderson acceleration against plain fixed-point iteration and a direct solve.

References: for an affine map ``T(w) = A w + b`` the fixed point is ``solve(I - A, b)``; type-II
Anderson with memory ``m >= n`` is GMRES-like and reaches it in about ``n + 1`` steps (exact
arithmetic), while plain iteration needs ``log(tol) / log(spectral radius)`` steps. The ring
buffers are checked against a literal implementation that re-stacks its history every step.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distributed_resource_optimization.admm.acceleration import AndersonAccelerator


def _affine(n: int, radius: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    eig = radius * rng.uniform(0.5, 1.0, n)
    eig[0] = radius
    return q @ np.diag(eig) @ q.T, rng.normal(size=n)


def _run(acc: AndersonAccelerator | None, T, w0: np.ndarray, iters: int) -> list[np.ndarray]:
    w, out = w0.copy(), []
    for _ in range(iters):
        tw = T(w)
        w = tw if acc is None else acc.next_point(w, tw)
        out.append(w.copy())
    return out


def test_affine_map_reaches_the_fixed_point_like_gmres():
    n = 8
    A, b = _affine(n, 0.99, seed=0)
    fixed = np.linalg.solve(np.eye(n) - A, b)
    w0 = np.zeros(n)
    acc = AndersonAccelerator(memory=10)
    accelerated = _run(acc, lambda w: A @ w + b, w0, 3 * n)
    plain = _run(None, lambda w: A @ w + b, w0, 3 * n)
    assert np.linalg.norm(accelerated[-1] - fixed) < 1e-8 * np.linalg.norm(fixed)
    # Plain iteration contracts only by 0.99 per step: still far away after 24 steps.
    assert np.linalg.norm(plain[-1] - fixed) > 0.5 * np.linalg.norm(fixed)


class _Literal:
    """The textbook form: lists of differences, stacked and multiplied anew every step."""

    def __init__(self, memory: int, regularization: float = 1e-10) -> None:
        self.memory, self.reg = memory, regularization
        self.dW: list[np.ndarray] = []
        self.dF: list[np.ndarray] = []
        self.w_prev = self.f_prev = None

    def next_point(self, w: np.ndarray, tw: np.ndarray) -> np.ndarray:
        f = tw - w
        if self.w_prev is not None:
            self.dW.append(w - self.w_prev)
            self.dF.append(f - self.f_prev)
            self.dW, self.dF = self.dW[-self.memory:], self.dF[-self.memory:]
        self.w_prev, self.f_prev = w.copy(), f.copy()
        if not self.dF:
            return tw
        dF, dW = np.stack(self.dF, axis=1), np.stack(self.dW, axis=1)
        gram = dF.T @ dF
        gram += self.reg * np.trace(gram) * np.eye(gram.shape[0])
        return tw - (dW + dF) @ np.linalg.solve(gram, dF.T @ f)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(3, 12), memory=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_ring_buffers_match_the_literal_form(n, memory, seed):
    """Same iterates as the literal implementation while the residual is well above rounding (a
    contracting map, no safeguard), through several wraps of the ring buffer."""
    memory = min(memory, n - 1)  # more differences than dimensions make the fit singular
    A, b = _affine(n, 0.9, seed)
    rng = np.random.default_rng(seed + 1)
    w_ours = w_lit = rng.normal(size=n)

    def fixed_point_map(w):  # mildly nonlinear, still a contraction
        return A @ w + b + 0.05 * np.tanh(w)

    ours, literal = AndersonAccelerator(memory=memory, safeguard=np.inf), _Literal(memory)
    for k in range(3 * memory + 4):
        tw = fixed_point_map(w_ours)
        if np.linalg.norm(tw - w_ours) < 1e-6:
            break
        w_ours, w_lit = ours.next_point(w_ours, tw), literal.next_point(w_lit, fixed_point_map(w_lit))
        np.testing.assert_allclose(w_ours, w_lit, rtol=1e-6, atol=1e-8, err_msg=f"step {k}")
    assert ours.rejected == 0


def test_safeguard_rejects_a_worse_extrapolation_and_returns_the_plain_point():
    acc = AndersonAccelerator(memory=2, safeguard=1.0)
    w1 = np.array([1.0, 0.0])
    acc.next_point(np.zeros(2), w1)
    extrapolated = acc.next_point(w1, np.array([1.5, 0.0]))
    assert acc._last_extrapolated  # the second call extrapolates
    # The map now answers with a much larger residual at the extrapolated point.
    back = acc.next_point(extrapolated, extrapolated + 100.0)
    assert acc.rejected == 1 and acc.accepted == 0
    np.testing.assert_array_equal(back, np.array([1.5, 0.0]))  # the last plain T(w)


def test_history_follows_a_change_of_state_size():
    acc = AndersonAccelerator(memory=3)
    _run(acc, lambda w: 0.5 * w + 1.0, np.zeros(4), 5)
    acc.reset()
    out = _run(acc, lambda w: 0.5 * w + 1.0, np.zeros(6), 6)
    np.testing.assert_allclose(out[-1], 2.0, atol=1e-10)


def test_memory_must_be_positive():
    with pytest.raises(ValueError, match="memory"):
        AndersonAccelerator(memory=0)


@pytest.mark.exact
def test_without_the_pause_the_iteration_is_the_former_one() -> None:
    """``anderson_max_pause=0`` switches the pause after rejections off: the flex family's seed 0
    then runs exactly as before it existed (recorded with commit 8525541: 930 iterations,
    objective and certified gap to the last bit; the memory savings since change no bit)."""
    from distributed_resource_optimization.flex_sharing import (
        flex_sharing_coordinator,
        run_flex_sharing,
    )

    res = run_flex_sharing(1000, seed=0, coordinator=flex_sharing_coordinator(
        anderson_max_pause=0, polish=False)).admm
    # Bit-identical here; 1e-9 (the "unchanged") leaves room for another BLAS.
    assert res.iterations == 930
    assert res.objective == pytest.approx(-1686.876629147664, rel=1e-9)
    assert res.gap_certified == pytest.approx(7.949617847717762e-05, rel=1e-9)
