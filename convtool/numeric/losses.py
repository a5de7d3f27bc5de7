"""Losses l(W) of Problem 1 (strongly convex, smooth), with their constants mu, K, W*, l*.

A :class:`Loss` gives the value, the gradient, the excess loss ``l(W) - l*``,
the constants ``mu`` and ``K`` and the minimizer ``W*``. Every method accepts a
leading batch dimension (``W`` of shape ``(..., n, m)``), which the GD engine
uses to run several seeds as one computation.

The three built-in losses are quadratic, ``l(W) = 1/2 ||A(W) - b||^2`` for a
linear operator ``A`` of full column rank; for them the excess loss is computed
from the explicit residual at the minimizer, ``1/2 ||A(W - W*)||^2``, which is
exact down to the smallest representable losses (no cancellation against
``l*``) and never negative. The gradient ``A^*(A(W - W*))`` is the same formula
written around W*, so GD's fixed point is W* to full precision.

Plugging in your own loss
-------------------------
Subclass :class:`Loss` and implement ``grad`` and ``excess`` (both
batch-aware), and set ``n, m, mu, K, Wstar, lstar`` in ``__init__``. ``mu`` and
``K`` must be the strong convexity and smoothness constants of l on all of
R^{n x m} (Theorem 3.1's proof uses them globally). If your excess loss is
computed as ``l(W) - l*`` it can come out slightly negative near the float
floor; the engine clips it at 0 and counts the clipped steps.

Examples
--------
>>> import numpy as np
>>> X = np.diag([1.0, 2.0]); Y = np.eye(2)
>>> loss = SquaredLoss(X, Y)
>>> loss.mu, loss.K
(1.0, 4.0)
>>> float(loss.excess(loss.Wstar))
0.0
"""

from __future__ import annotations

import numpy as np

from convtool.errors import InputError

__all__ = ["Loss", "SquaredLoss", "FactorizationLoss", "SensingLoss", "LOSSES", "make_loss", "stack_losses"]


class Loss:
    """Interface of a loss l(W), W in R^{n x m}, of Problem 1."""

    name = "loss"
    #: short formula shown by the CLI
    formula = "l(W)"
    n: int
    m: int
    mu: float
    K: float
    Wstar: np.ndarray
    lstar: float
    N: int | None = None

    def grad(self, W: np.ndarray) -> np.ndarray:
        """Gradient of l at W (batch-aware)."""
        raise NotImplementedError

    def excess(self, W: np.ndarray) -> np.ndarray:
        """Excess loss l(W) - l* (batch-aware; a float for a single W)."""
        raise NotImplementedError

    def value(self, W: np.ndarray) -> np.ndarray:
        """l(W) = excess + l*."""
        return self.excess(W) + self.lstar

    @property
    def strongly_convex(self) -> bool:
        """Whether mu > 0, so the constants needing strong convexity apply."""
        return self.mu > 0

    def describe(self) -> dict:
        return {"loss": self.name, "n": self.n, "m": self.m, "N": self.N}


def _sym_extremes(G: np.ndarray) -> tuple[float, float, np.ndarray]:
    ev = np.linalg.eigvalsh(G)
    scale = max(abs(ev[-1]), np.finfo(float).tiny)
    lo = float(ev[0]) if ev[0] > scale * G.shape[0] * np.finfo(float).eps * 10 else 0.0
    return lo, float(ev[-1]), ev


class SquaredLoss(Loss):
    """Squared loss ``l(W) = 1/2 ||Y - X W||_F^2`` (Section 4, eq. 22).

    ``mu = lambda_min(X^T X)`` and ``K = lambda_max(X^T X)``; ``mu = 0`` (X of
    deficient column rank) is reported, not rejected: the constants needing
    strong convexity are then not applicable. ``W*`` is the least-squares
    solution (minimum-norm when X is rank deficient), ``l* = l(W*)``.
    """

    name = "squared"
    formula = "1/2 ||Y - X W||_F^2"

    def __init__(self, X: np.ndarray, Y: np.ndarray):
        X = np.array(X, dtype=np.float64)
        Y = np.array(Y, dtype=np.float64)
        self.X, self.Y = X, Y
        self.N, self.n = X.shape
        self.m = Y.shape[1]
        self.G = X.T @ X
        self.mu, self.K, self.gram_eigs = _sym_extremes(self.G)
        self.Wstar, *_ = np.linalg.lstsq(X, Y, rcond=None)
        R = Y - X @ self.Wstar
        self.lstar = 0.5 * float(np.sum(R * R))

    def excess(self, W):
        E = np.asarray(W) - self.Wstar
        XE = self.X @ E
        return 0.5 * np.sum(XE * XE, axis=(-2, -1))

    def grad(self, W):
        return self.G @ (np.asarray(W) - self.Wstar)


class FactorizationLoss(SquaredLoss):
    """Matrix factorization ``l(W) = 1/2 ||Y - W||_F^2``: the squared loss with X = I (mu = K = 1)."""

    name = "factorization"
    formula = "1/2 ||Y - W||_F^2"

    def __init__(self, Y: np.ndarray):
        Y = np.array(Y, dtype=np.float64)
        super().__init__(np.eye(Y.shape[0]), Y)

    def excess(self, W):
        E = np.asarray(W) - self.Wstar
        return 0.5 * np.sum(E * E, axis=(-2, -1))

    def grad(self, W):
        return np.asarray(W) - self.Wstar


class SensingLoss(Loss):
    """Matrix sensing ``l(W) = 1/2 sum_i (<A_i, W> - y_i)^2`` with A of shape (p, n, m).

    With the operator matrix ``M`` (p x nm, rows vec(A_i)), ``mu`` and ``K`` are
    the extreme eigenvalues of the Gram ``M^T M`` (nm x nm); strong convexity
    needs p >= nm measurements spanning R^{n x m}.
    """

    name = "sensing"
    formula = "1/2 sum_i (<A_i, W> - y_i)^2"

    def __init__(self, A: np.ndarray, y: np.ndarray):
        A = np.array(A, dtype=np.float64)
        y = np.array(y, dtype=np.float64).reshape(-1)
        self.A, self.y = A, y
        self.N, self.n, self.m = A.shape
        self.M = A.reshape(self.N, self.n * self.m)
        self.G = self.M.T @ self.M
        self.mu, self.K, self.gram_eigs = _sym_extremes(self.G)
        w, *_ = np.linalg.lstsq(self.M, y, rcond=None)
        self.Wstar = w.reshape(self.n, self.m)
        r = self.M @ w - y
        self.lstar = 0.5 * float(r @ r)

    def _flat(self, W):
        W = np.asarray(W)
        return (W - self.Wstar).reshape(W.shape[:-2] + (self.n * self.m,))

    def excess(self, W):
        r = np.einsum("...pk,...k->...p", self.M, self._flat(W))
        return 0.5 * np.sum(r * r, axis=-1)

    def grad(self, W):
        W = np.asarray(W)
        return np.einsum("...kl,...l->...k", self.G, self._flat(W)).reshape(W.shape)


_STACKED = {"squared": ("X", "Y", "G", "Wstar", "mu", "K", "lstar"),
            "factorization": ("X", "Y", "G", "Wstar", "mu", "K", "lstar"),
            "sensing": ("A", "y", "M", "G", "Wstar", "mu", "K", "lstar")}


def stack_losses(losses: list) -> Loss:
    """One loss over a batch: instance r of the batch uses ``losses[r]``.

    All losses must be of the same built-in kind and shapes. The result's arrays
    carry a leading batch axis (``Wstar`` (R, n, m), ``mu`` (R,) ...) and its
    methods take ``W`` of shape (R, n, m); the formulas are the single-instance
    ones, broadcast. Used to run the paper's experiments (one instance per seed)
    as one computation.
    """
    first = losses[0]
    if first.name not in _STACKED or any(type(L) is not type(first) for L in losses):
        raise TypeError("stack_losses needs losses of one built-in kind")
    shapes = {(L.n, L.m, L.N) for L in losses}
    if len(shapes) != 1:
        raise ValueError(f"losses to stack must share shapes, got {sorted(shapes)}")
    out = object.__new__(type(first))
    out.n, out.m, out.N = first.n, first.m, first.N
    for attr in _STACKED[first.name]:
        setattr(out, attr, np.stack([np.asarray(getattr(L, attr), dtype=float) for L in losses]))
    out.batch = len(losses)
    return out


LOSSES = {"squared": SquaredLoss, "factorization": FactorizationLoss, "sensing": SensingLoss}

#: arrays each loss reads from a data file
LOSS_ARRAYS = {"squared": ("X", "Y"), "factorization": ("Y",), "sensing": ("A", "y")}


def make_loss(kind: str, arrays: dict) -> Loss:
    """Build loss ``kind`` from named arrays (``X, Y`` / ``Y`` / ``A, y``).

    Raises :class:`~convtool.errors.InputError` for an unknown kind or missing arrays.
    """
    if kind not in LOSSES:
        raise InputError(f"unknown loss {kind!r}; choose one of {', '.join(LOSSES)}")
    missing = [k for k in LOSS_ARRAYS[kind] if k not in arrays]
    if missing:
        raise InputError(f"loss {kind!r} needs array(s) {', '.join(missing)} in the data file")
    return LOSSES[kind](*[arrays[k] for k in LOSS_ARRAYS[kind]])
