"""Small named instances (loss, W1, W2) for the oracle tests, in the spirit of scipy's ``_tstutils.py``.

Every :class:`Case` has an ``id`` (used as the pytest id), a one-line description, the
exponents ``c, d`` of Theorem E.1 to use with it, a set of ``tags`` naming the regime
it exercises, and two builders:

* ``case.raw()`` -- the raw arrays (``kind`` plus ``X, Y`` / ``Y`` / ``A, y``, and
  ``W1, W2``), from a fixed seed; the independent oracles of the tests read these;
* ``case.build()`` -- ``(loss, W1, W2)`` with the convtool loss built from the same arrays.

Widths stay <= 60 so dense h x h oracles are instant.

Tags
----
``mu_zero``          rank-deficient X: l is not strongly convex (mu = 0)
``alpha1_zero``      balanced and without margin: alpha1 = 0, Theorem 3.2 does not apply
``balanced``         D(0) = 0 exactly (W2 = W1)
``h_lt_n``           width below n (lambda_n(D0) and sigma_n(W1) are the zero padding)
``eq88_grid_miss``   eq. (88) has its smallest root in a sign-change window narrower than
                     the solver's 24-points-per-decade grid (see test_constants_oracle.py)
``eq88_below_floor`` d close to 1 with a tiny mu alpha1: F(eta0) <= 0 already at the solver's
                     scan floor 1e-100 (the smallest root of eq. 88 is below the float range)

Examples
--------
>>> case = CASE_BY_ID["sq_n3_m2_h10"]
>>> loss, W1, W2 = case.build()
>>> (loss.n, loss.m, W1.shape[1])
(3, 2, 10)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from convtool.numeric.losses import FactorizationLoss, SensingLoss, SquaredLoss

__all__ = ["Case", "CASES", "CASE_BY_ID", "case_ids", "make_loss_from_raw", "random_orthogonal"]


@dataclass(frozen=True)
class Case:
    """One named instance; ``make`` returns the raw-array dict from a fixed seed."""

    id: str
    description: str
    make: Callable[[], dict]
    c: float = 0.5
    d: float = 2.0
    tags: frozenset = field(default_factory=frozenset)

    def raw(self) -> dict:
        """Fresh copies of the raw arrays (``kind``, data arrays, ``W1``, ``W2``)."""
        return self.make()

    def build(self):
        """``(loss, W1, W2)`` for :func:`convtool.numeric.constants.compute_constants`."""
        r = self.raw()
        return make_loss_from_raw(r), r["W1"], r["W2"]

    def __repr__(self) -> str:  # short pytest ids / messages
        return f"Case({self.id})"


def make_loss_from_raw(r: dict):
    if r["kind"] == "squared":
        return SquaredLoss(r["X"], r["Y"])
    if r["kind"] == "factorization":
        return FactorizationLoss(r["Y"])
    if r["kind"] == "sensing":
        return SensingLoss(r["A"], r["y"])
    raise ValueError(r["kind"])


def random_orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    Q, R = np.linalg.qr(rng.standard_normal((n, n)))
    return Q * np.sign(np.diag(R))


def _squared(seed, n, m, h, *, N=None, scale=1.0, X="orthogonal", noise=0.1, target="teacher"):
    """Squared loss; ``target='teacher'``: Y = X W1 W2^T + noise, ``'random'``: Y i.i.d. N(0, 1)."""

    def make():
        rng = np.random.default_rng(seed)
        NN = n if N is None else N
        if isinstance(X, str) and X == "orthogonal":
            Xm = random_orthogonal(rng, n)
        elif isinstance(X, str) and X == "gaussian":
            Xm = rng.standard_normal((NN, n))
        else:
            Xm = X(rng)
        W1 = scale * rng.standard_normal((n, h))
        W2 = scale * rng.standard_normal((m, h))
        if target == "teacher":
            Y = Xm @ W1 @ W2.T + noise * rng.standard_normal((Xm.shape[0], m))
        else:
            Y = rng.standard_normal((Xm.shape[0], m))
        return {"kind": "squared", "X": Xm, "Y": Y, "W1": W1, "W2": W2}

    return make


def _ill_conditioned_X(rng):
    # X = U diag(1, 10^-1.5, 10^-3) V^T: cond(X) = 1e3, kappa = K / mu = 1e6
    U, V = random_orthogonal(rng, 3), random_orthogonal(rng, 3)
    return U @ np.diag(np.logspace(0, -3, 3)) @ V.T


def _rank_deficient_X(rng):
    # N = 5, n = 3, rank 2: third column is a combination of the first two -> mu = 0
    B = rng.standard_normal((5, 2))
    return np.column_stack([B, B @ np.array([0.7, -1.3])])


def _balanced(seed, n, h, noise):
    def make():
        rng = np.random.default_rng(seed)
        X = random_orthogonal(rng, n)
        W1 = rng.standard_normal((n, h))
        W2 = W1.copy()  # D(0) = W1^T W1 - W2^T W2 = 0 exactly
        if noise is None:
            Y = rng.standard_normal((n, n))  # far from W1 W1^T: no margin, beta1 = 0
        else:
            Y = X @ W1 @ W2.T + noise * rng.standard_normal((n, n))
        return {"kind": "squared", "X": X, "Y": Y, "W1": W1, "W2": W2}

    return make


def _factorization(seed, n, m, h, noise, scale=1.0):
    def make():
        rng = np.random.default_rng(seed)
        W1 = scale * rng.standard_normal((n, h))
        W2 = scale * rng.standard_normal((m, h))
        Y = W1 @ W2.T + noise * rng.standard_normal((n, m))
        return {"kind": "factorization", "Y": Y, "W1": W1, "W2": W2}

    return make


def _sensing(seed, n, m, h, p):
    def make():
        rng = np.random.default_rng(seed)
        A = rng.standard_normal((p, n, m)) / np.sqrt(p)
        W1 = rng.standard_normal((n, h))
        W2 = rng.standard_normal((m, h))
        y = np.einsum("pij,ij->p", A, W1 @ W2.T) + 0.1 * rng.standard_normal(p)
        return {"kind": "sensing", "A": A, "y": y, "W1": W1, "W2": W2}

    return make


def _grid_miss_make():
    # Found by search (seed 3 of W1, W2 ~ N(0, 1), 2 x 6, Y = W1 W2^T + 1e-6 N(0, 1), factorization):
    # with c = 0.725, d = 4 the window where eq. 88's F is negative is [0.06585, 0.06654], a ratio
    # of 1.01, narrower than the 10^(1/24) = 1.10 spacing of convtool's scan grid.
    rng = np.random.default_rng(3)
    W1 = rng.normal(size=(2, 6))
    W2 = rng.normal(size=(2, 6))
    Y = W1 @ W2.T + 1e-6 * rng.normal(size=(2, 2))
    return {"kind": "factorization", "Y": Y, "W1": W1, "W2": W2}


CASES: list[Case] = [
    Case("sq_n3_m2_h10", "squared, X orthogonal 3x3, n=3 > m=2, h=10 >= n+m, teacher Y + noise 0.1",
         _squared(0, 3, 2, 10)),
    Case("sq_n2_m4_h6", "squared, X Gaussian 2x2, n=2 < m=4, h = n + m = 6",
         _squared(1, 2, 4, 6, X="gaussian")),
    Case("sq_N8_lstar", "squared, N=8 > n=3, X Gaussian 8x3, Y random: l* > 0, h=12",
         _squared(2, 3, 2, 12, N=8, X="gaussian", target="random")),
    Case("sq_h_lt_nm", "squared, n=m=3, min(n,m) <= h=4 < n+m, teacher Y + noise 1e-3 (margin: beta1 > 0)",
         _squared(3, 3, 3, 4, noise=1e-3), tags=frozenset({"h_lt_nm"})),
    Case("sq_h_lt_nm_no_margin", "squared, n=m=3, h=4 < n+m, noise 0.1: Delta_low = 0 and beta1 = 0, alpha1 = 0",
         _squared(3, 3, 3, 4), tags=frozenset({"h_lt_nm", "alpha1_zero"})),
    Case("sq_h_lt_n", "squared, n=4, m=2, h=3 < n (lambda_n(D0) = sigma_n(W1) = 0 by padding)",
         _squared(4, 4, 2, 3), tags=frozenset({"h_lt_n", "h_lt_nm"})),
    Case("sq_tiny_init", "squared, init scale 1e-4, Y random (no margin, alpha1 ~ imbalance ~ 1e-8)",
         _squared(5, 3, 2, 20, scale=1e-4, target="random")),
    Case("sq_large_init", "squared, init scale 1e3, teacher Y + noise 1, n=2, m=3, h=8",
         _squared(6, 2, 3, 8, scale=1e3, noise=1.0)),
    Case("balanced_margin", "squared, W2 = W1 (D0 = 0), teacher Y + noise 0.01: alpha1 = 2 beta1 > 0",
         _balanced(7, 3, 7, 0.01), tags=frozenset({"balanced"})),
    Case("balanced_no_margin", "squared, W2 = W1 (D0 = 0), Y random: beta1 = 0, alpha1 = 0",
         _balanced(8, 2, 5, None), tags=frozenset({"balanced", "alpha1_zero"})),
    Case("ill_conditioned_X", "squared, X with cond 1e3 (kappa = 1e6), n=3, m=2, h=10",
         _squared(9, 3, 2, 10, X=_ill_conditioned_X, noise=1e-3)),
    Case("factorization", "matrix factorization Y = W1 W2^T + 0.1 noise, n=3, m=4, h=12",
         _factorization(10, 3, 4, 12, 0.1)),
    Case("sensing", "matrix sensing, p=10 >= nm=6 Gaussian A_i, n=2, m=3, h=8",
         _sensing(11, 2, 3, 8, 10)),
    Case("rank_deficient_X", "squared, X 5x3 of rank 2 (mu = 0), h=9",
         _squared(12, 3, 2, 9, N=5, X=_rank_deficient_X), tags=frozenset({"mu_zero"})),
    Case("paper_fig1_small", "Fig. 1 setting shrunk: X orthogonal 4x4, N(0,1) init, h=60, c=0.5, d=1.01",
         _squared(13, 4, 4, 60, noise=1.0), c=0.5, d=1.01),
    Case("wide_h60_n1_m1", "squared, scalar n=m=1 with h=60",
         _squared(14, 1, 1, 60)),
    Case("eq88_grid_miss", "factorization, L0 ~ 1e-12, c=0.725, d=4: eq. 88 negative only on a ~1% window",
         _grid_miss_make, c=0.725, d=4.0,
         tags=frozenset({"eq88_grid_miss"})),
    Case("eq88_below_floor", "squared, init scale 1e-4, Y random, d=1.01: F(1e-100) <= 0",
         _squared(5, 3, 2, 20, scale=1e-4, target="random"), c=0.5, d=1.01,
         tags=frozenset({"eq88_below_floor"})),
]


CASE_BY_ID: dict[str, Case] = {c.id: c for c in CASES}
assert len(CASE_BY_ID) == len(CASES), "case ids must be unique"


def case_ids(*, with_tags=(), without_tags=()) -> list[str]:
    """Ids of the cases having all ``with_tags`` and none of ``without_tags``."""
    return [c.id for c in CASES if set(with_tags) <= c.tags and not (set(without_tags) & c.tags)]
