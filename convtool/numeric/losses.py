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
written around W*, so GD's fixed point is W* to full precision. Both cost the
same at any number of samples N (issue 13): the excess goes through the n x n R
factor of ``X = Q R`` (``||X E|| = ||R E||``), the gradient through the Gram
``X^T X``, each formed once in ``__init__``.

Accuracy near the floor: ``excess(W)`` (what the engine records) is the residual form at
the loss's own ``lstsq`` W* to a few ulps relative at every level (tests/test_step_floor.py,
50 digits, down to 1e-28 of L(0)); that W* is off the exact minimizer by about
``eps cond(X) ||W*||``. :meth:`SquaredLoss.excess_exact` measures from the exact minimizer
(``Wstar + Wstar_lo``, one refinement step in double-double) and is a few ulps relative down
to 1e-30 of L(0) and below; why the engine does not record it: its docstring.

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

    def excess_grad(self, W: np.ndarray) -> tuple:
        """``(excess(W), grad(W))``; the built-in losses form ``W - W*`` once for both (what the engine calls
        every step)."""
        return self.excess(W), self.grad(W)

    def value(self, W: np.ndarray) -> np.ndarray:
        """l(W) = excess + l*."""
        return self.excess(W) + self.lstar

    @property
    def strongly_convex(self) -> bool:
        """Whether mu > 0, so the constants needing strong convexity apply."""
        return self.mu > 0

    def describe(self) -> dict:
        return {"loss": self.name, "n": self.n, "m": self.m, "N": self.N}


#: Relative tolerance of the numerical column rank of X (or of the sensing operator M, N x n):
#: a smallest singular value at or below ``RANK_RTOL * max(N, n) * sigma_max`` counts as 0, so
#: mu = 0 (numpy's ``matrix_rank`` default; the SVD's own error is about that size).
RANK_RTOL = np.finfo(np.float64).eps

#: The Gram eigenvalues give mu only while ``lambda_min >= GRAM_RTOL * lambda_max`` (cond <= 100);
#: below, mu and K come from an SVD (:func:`_operator_spectrum`).
GRAM_RTOL = 1e-4


def _small_factor(X: np.ndarray) -> np.ndarray:
    """The smallest matrix ``F`` with ``F^T F = X^T X``: the R factor (n x n) of ``X = Q R`` when N > n, else X.

    The excess loss ``1/2 ||X E||_F^2 = 1/2 ||R E||_F^2`` (Q has orthonormal columns) then costs O(n^2 m) per
    step at any number of samples N (issue 13). Householder QR is backward stable: ``X + dX = Q R`` with
    ``||dX|| <= c eps ||X||``, so ``||R E||`` differs from ``||X E||`` by at most ``c eps ||X|| ||E||``, a relative
    ``c eps cond(X)``: the same order as the rounding of ``X @ E`` itself (tests/test_step_floor.py compares both
    with a 50-digit evaluation of the residual form).
    """
    N, n = X.shape
    if N <= n:
        return X
    return np.linalg.qr(X, mode="r")


def _slices(X: np.ndarray, N: int) -> list:
    """Ozaki's error-free splitting of the columns of X: ``X = sum_s X_s`` exactly, each column of each slice on a
    grid of at most ``beta = (53 - ceil(log2 N)) // 2`` bits, so that every product of two slices summed over the
    N rows (a BLAS ``X_a^T X_b``) is exact in float64 whatever the summation order."""
    beta = (53 - int(np.ceil(np.log2(max(N, 2))))) // 2
    out, rest = [], np.array(X, dtype=float)
    for _ in range(64):
        mx = np.max(np.abs(rest), axis=0)
        if not mx.any():
            break
        e = np.ceil(np.log2(np.where(mx > 0, mx, 1.0)))
        sigma = np.where(mx > 0, np.ldexp(1.0, (e + 53 - beta).astype(int)), 0.0)
        hi = (rest + sigma) - sigma
        out.append(hi)
        rest = rest - hi
    return out


def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _dd_matmul_T(Xs: list, Ys: list) -> tuple:
    """``X^T Y`` as a double-double ``(hi, lo)`` from the slices of X and Y (each slice product exact)."""
    hi = lo = 0.0
    for a in Xs:
        for b in Ys:
            hi, e = _two_sum(hi, a.T @ b)
            lo = lo + e
    return _two_sum(hi, lo)


def _dd_gemm_small(G: np.ndarray, W: np.ndarray) -> tuple:
    """``G W`` (n x n times n x m, small) as a double-double: Dekker's exact products, summed with TwoSum."""
    split = 134217729.0  # 2^27 + 1

    def halves(a):
        c = split * a
        h = c - (c - a)
        return h, a - h

    Gh, Gl = halves(G[:, :, None])
    Wh, Wl = halves(W[None, :, :])
    p = G[:, :, None] * W[None, :, :]
    err = ((Gh * Wh - p) + Gh * Wl + Gl * Wh) + Gl * Wl  # p + err = G_ik W_kj exactly
    hi, lo = np.zeros((G.shape[0], W.shape[1])), np.zeros((G.shape[0], W.shape[1]))
    for k in range(G.shape[1]):
        hi, e = _two_sum(hi, p[:, k, :])
        lo = lo + (e + err[:, k, :])
    return _two_sum(hi, lo)


def _refine_lstsq(X: np.ndarray, Y: np.ndarray, Wh: np.ndarray, Xr: np.ndarray) -> np.ndarray:
    """The correction ``W_lo`` with ``W_hi + W_lo`` the least-squares solution to about ``eps^2 cond(X)^2``
    (one step of iterative refinement on the normal equations, whose residual ``X^T Y - X^T X W_hi`` is formed
    in double-double: Ozaki slices for the sums over the N samples). Zero where X has deficient rank."""
    N = X.shape[0]
    Xs, Ys = _slices(X, N), _slices(Y, N)
    Gh, Gl = _dd_matmul_T(Xs, Xs)
    Ch, Cl = _dd_matmul_T(Xs, Ys)
    Ph, Pl = _dd_gemm_small(Gh, Wh)
    g = ((Ch - Ph) + (Cl - Pl)) - Gl @ Wh  # X^T (Y - X W_hi) to about eps^2 ||X||^2 ||W||
    # solve G W_lo = g through the R factor (Xr^T Xr = G)
    return np.linalg.solve(Xr, np.linalg.solve(Xr.T, g))


def _half_sq(E: np.ndarray) -> np.ndarray:
    """``1/2 ||E||_F^2`` over the last two axes (a float for one matrix, (R,) for a batch)."""
    return 0.5 * np.sum(E * E, axis=(-2, -1))  # numpy's pairwise sum, as before (the golden L0 bits)


def _operator_spectrum(X: np.ndarray, G: np.ndarray) -> tuple[float, float, np.ndarray]:
    """``(mu, K, gram_eigs)`` of the quadratic loss with operator X (N x n) and Gram ``G = X^T X``.

    ``mu = sigma_min(X)^2`` (0 when X has numerical column rank < n: ``sigma_min(X) <=
    RANK_RTOL max(N, n) sigma_max(X)``), ``K = sigma_max(X)^2`` and ``gram_eigs``, the n
    eigenvalues of ``X^T X`` ascending (``n - N`` exact zeros first when N < n).

    Notes
    -----
    Two routes, chosen by the conditioning (issue 14):

    * Gram, ``eigvalsh(G)``: each eigenvalue has absolute error about ``(N + n) eps lambda_max``,
      so mu has relative error about ``eps cond(X)^2`` (worst ``(N + n) eps cond(X)^2``). It is
      kept when ``lambda_min >= GRAM_RTOL lambda_max`` (cond(X) <= 100: relative error at most
      about ``(N + n) 2.2e-12``, typically 1e-13), the well-conditioned instances.
    * SVD of X, otherwise (of the n x n R factor of ``X = Q R`` when N > 2n: the same
      singular values, cost O(N n^2)): each singular value has absolute error about
      ``eps sigma_max``, so mu has relative error about ``2 eps cond(X)``, K about ``eps``.
      Measured on 100 exactly known X (10 columns, cond 2^20 ~ 1e6;
      tests/test_accuracy_spectra.py): SVD median 1e-11, max 2.3e-10; the Gram route
      median 1.2e-5, max 1.5e-4.
    """
    N, n = X.shape
    ev = np.linalg.eigvalsh(G)
    if n > 0 and np.isfinite(ev).all() and ev[0] >= GRAM_RTOL * ev[-1] > 0:
        return float(ev[0]), float(ev[-1]), ev
    R = np.linalg.qr(X, mode="r") if N > 2 * n else X
    s = np.linalg.svd(R, compute_uv=False)  # descending, min(N, n) values
    smax = float(s[0]) if s.size else 0.0
    full_rank = s.size == n and n > 0 and s[-1] > RANK_RTOL * max(N, n) * smax
    mu = float(s[-1]) ** 2 if full_rank else 0.0
    gram_eigs = np.concatenate([np.zeros(n - s.size), s[::-1] ** 2])
    return mu, smax ** 2, gram_eigs


class SquaredLoss(Loss):
    """Squared loss ``l(W) = 1/2 ||Y - X W||_F^2`` (Section 4, eq. 22).

    ``mu = sigma_min(X)^2 = lambda_min(X^T X)`` and ``K = sigma_max(X)^2``, to relative
    error about ``eps cond(X)`` (an SVD of X where the Gram's ``eps cond(X)^2`` would be too
    large; see :func:`_operator_spectrum`); ``mu = 0`` (X of deficient numerical column rank:
    ``sigma_min(X) <= max(N, n) eps sigma_max(X)``) is reported, not rejected: the
    constants needing strong convexity are then not applicable. ``W*`` is the least-squares
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
        self.Xr = _small_factor(X)
        self.mu, self.K, self.gram_eigs = _operator_spectrum(X, self.G)
        self.Wstar, *_ = np.linalg.lstsq(X, Y, rcond=None)
        R = Y - X @ self.Wstar
        self.lstar = 0.5 * float(np.sum(R * R))

    @property
    def Wstar_lo(self) -> np.ndarray:
        """The correction with ``Wstar + Wstar_lo`` the exact least-squares solution to about ``eps^2 cond(X)^2``
        (full column rank and N > n: :func:`_refine_lstsq`, computed once on first use; zeros otherwise)."""
        lo = self.__dict__.get("_Wstar_lo")
        if lo is None:
            X, Y = np.asarray(self.X), np.asarray(self.Y)
            lo = np.zeros_like(np.asarray(self.Wstar))
            if X.ndim == 2 and self.N > self.n and self.mu > 0 and np.shape(self.Xr) == (self.n, self.n) \
                    and np.isfinite(X).all() and np.isfinite(Y).all():
                r = _refine_lstsq(X, Y, self.Wstar, self.Xr)
                if np.isfinite(r).all() and np.abs(r).max(initial=0.0) <= 1e-8 * np.abs(self.Wstar).max(initial=0.0):
                    lo = r
            self.__dict__["_Wstar_lo"] = lo
        return lo

    def excess_exact(self, W):
        """``l(W) - l*`` against the exact minimizer ``Wstar + Wstar_lo``: a few ulps relative at every level
        down to the float floor (tests/test_step_floor.py: 50 digits, to 1e-30 of L(0)).

        :meth:`excess`, what the engine records, is measured from the ``lstsq`` W* itself (error about
        ``eps cond(X) ||W*||`` against the exact minimizer, so its relative accuracy against the exact
        excess is lost as ``||W - W*||`` approaches that error). Recording this one instead moved a golden
        output beyond its tolerance (the observed rate of ``compare_sq``, fitted down to 1e-28 of L(0), by
        1.7e-9 relative against 1e-9), so the engine keeps :meth:`excess`.
        """
        E = (np.asarray(W) - self.Wstar) - self.Wstar_lo  # the difference first: exact near W*
        return _half_sq(self.Xr @ E)

    def excess(self, W):
        """``1/2 ||Xr (W - W*)||_F^2 = 1/2 ||X (W - W*)||_F^2`` (:func:`_small_factor`): O(n^2 m), not O(N n m)."""
        return _half_sq(self.Xr @ (np.asarray(W) - self.Wstar))

    def grad(self, W):
        return self.G @ (np.asarray(W) - self.Wstar)

    def excess_grad(self, W):
        cls = type(self)
        if cls.excess is not SquaredLoss.excess or cls.grad is not SquaredLoss.grad:  # a subclass's own formulas
            return self.excess(W), self.grad(W)
        E = np.asarray(W) - self.Wstar
        return _half_sq(self.Xr @ E), self.G @ E


class FactorizationLoss(SquaredLoss):
    """Matrix factorization ``l(W) = 1/2 ||Y - W||_F^2``: the squared loss with X = I (mu = K = 1)."""

    name = "factorization"
    formula = "1/2 ||Y - W||_F^2"

    def __init__(self, Y: np.ndarray):
        Y = np.array(Y, dtype=np.float64)
        super().__init__(np.eye(Y.shape[0]), Y)

    def excess(self, W):
        E = np.asarray(W) - self.Wstar
        return _half_sq(E)

    def grad(self, W):
        return np.asarray(W) - self.Wstar

    def excess_grad(self, W):
        cls = type(self)
        if cls.excess is not FactorizationLoss.excess or cls.grad is not FactorizationLoss.grad:
            return self.excess(W), self.grad(W)
        E = np.asarray(W) - self.Wstar
        return _half_sq(E), E


class SensingLoss(Loss):
    """Matrix sensing ``l(W) = 1/2 sum_i (<A_i, W> - y_i)^2`` with A of shape (p, n, m).

    With the operator matrix ``M`` (p x nm, rows vec(A_i)), ``mu`` and ``K`` are
    the extreme eigenvalues of the Gram ``M^T M`` (nm x nm), to relative error about
    ``eps cond(M)`` (:func:`_operator_spectrum`); strong convexity needs p >= nm measurements spanning R^{n x m}
    (``sigma_min(M) > max(p, nm) eps sigma_max(M)``).
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
        self.Mr = _small_factor(self.M)
        self.mu, self.K, self.gram_eigs = _operator_spectrum(self.M, self.G)
        w, *_ = np.linalg.lstsq(self.M, y, rcond=None)
        self.Wstar = w.reshape(self.n, self.m)
        r = self.M @ w - y
        self.lstar = 0.5 * float(r @ r)

    def _flat(self, W):
        W = np.asarray(W)
        return (W - self.Wstar).reshape(W.shape[:-2] + (self.n * self.m,))

    def excess(self, W):
        """``1/2 ||Mr vec(W - W*)||^2`` with ``Mr`` the R factor of M (:func:`_small_factor`), O((nm)^2) per step."""
        r = np.einsum("...pk,...k->...p", self.Mr, self._flat(W))
        return 0.5 * np.sum(r * r, axis=-1)

    def grad(self, W):
        W = np.asarray(W)
        return np.einsum("...kl,...l->...k", self.G, self._flat(W)).reshape(W.shape)


_STACKED = {"squared": ("X", "Y", "G", "Xr", "Wstar", "mu", "K", "lstar"),
            "factorization": ("X", "Y", "G", "Xr", "Wstar", "mu", "K", "lstar"),
            "sensing": ("A", "y", "M", "G", "Mr", "Wstar", "mu", "K", "lstar")}


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
        setattr(out, attr, _stack(attr, losses))
    out.batch = len(losses)
    return out


def _stack(attr: str, losses: list) -> np.ndarray:
    """``np.stack`` of the losses' ``attr`` as float64 arrays; for Python floats (the scalars ``mu, K, l*``) one
    ``np.array`` of the list, the same (R,) array at a tenth of the cost (issue 13: 100 seeds' losses are
    stacked twice per batched run). Arrays keep ``np.stack``, whose result follows its inputs' memory order."""
    vals = [getattr(L, attr) for L in losses]
    if all(type(v) is float for v in vals):
        return np.array(vals, dtype=float)
    return np.stack([np.asarray(v, dtype=float) for v in vals])


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
