"""Spectra of the two-layer weights from small matrices only.

Nothing here forms or decomposes an h x h matrix. The key object is the
*width reduction* (issue 4): with ``Z = [W1; W2]`` ((n+m) x h) and a thin QR
``Z^T = Q R`` (Q: h x r orthonormal columns, r = rank Z <= n + m), GD never
leaves the row space of Z(0), so the width-h problem is exactly the width-r one
on ``S1 = W1 Q``, ``S2 = W2 Q``:

* ``W1 W2^T = S1 S2^T`` and the singular values of W1, W2 are those of S1, S2;
* the nonzero eigenvalues of ``D = W1^T W1 - W2^T W2`` (h x h) are those of the
  r x r matrix ``S1^T S1 - S2^T S2 = Q^T D Q``; its other h - r eigenvalues are
  exactly 0 (D vanishes on the orthogonal complement of range Q).

Proof in two lines: the GD updates ``W1 <- W1 - eta G W2``, ``W2 <- W2 - eta G^T W1``
only add left-multiples of W2 and W1, so the rows of Z(t) stay in rowspace(Z(0)) =
range(Q)^T; hence ``Z(t) = Z(t) Q Q^T`` and every quantity above depends on Z(t) Q alone.

Accuracy (issue 14): the eigenvalues of a Gram matrix ``A^T A`` are accurate to about
``eps sigma_max^2``, i.e. ``eps cond^2`` relative in ``sigma_min^2``; an SVD of the (small)
matrix itself, to about ``eps sigma_max`` per singular value, ``2 eps cond`` relative in
``sigma_min^2``. The Gram (cheap, and batched in one call) is kept where it is accurate:
while ``sigma_min^2 >= GRAM_SV_RTOL sigma_max^2`` (cond <= 100); the matrices beyond get the
SVD (:func:`singular_values_sq`, and the per-step
:func:`convtool.numeric.models.spectra_batch`, by the same rule). The imbalance D is indefinite and is
decomposed as formed (``S1^T S1 - S2^T S2``, absolute error about
``eps (sigma_max(W1)^2 + sigma_max(W2)^2)`` in each eigenvalue).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> W1, W2 = rng.normal(size=(3, 50)), rng.normal(size=(2, 50))
>>> spec = imbalance_spectrum(W1, W2)
>>> spec.h, spec.rank
(50, 5)
>>> bool(np.allclose(np.sort(spec.eigenvalues(full=True))[::-1][:5],
...                  np.linalg.eigvalsh(W1.T @ W1 - W2.T @ W2)[::-1][:5]))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["WidthReduction", "reduce_width", "reduce_width_stack", "StackedReduction", "ImbalanceSpectrum",
           "imbalance_spectrum", "reduced_imbalance", "lambda_k_rows", "singular_values_sq", "extreme_sv_sq",
           "ExtremeEigs", "RANK_RTOL", "GRAM_SV_RTOL"]

#: Relative tolerance of the numerical rank of Z(0): singular values of Z below
#: ``RANK_RTOL * max(n + m, h) * sigma_max(Z)`` count as zero (numpy's matrix_rank default).
RANK_RTOL = np.finfo(np.float64).eps


@dataclass
class WidthReduction:
    """Exact reduction of width-h weights to width r = rank [W1; W2] (see module docstring).

    Attributes
    ----------
    Q : ndarray (h, r)
        Orthonormal basis of the row space of ``Z(0) = [W1(0); W2(0)]``.
    S1, S2 : ndarray (n, r), (m, r)
        Reduced weights ``W1 Q``, ``W2 Q``.
    h, rank : int
        Original width and numerical rank r.
    tol : float
        The singular-value threshold used for the rank.
    """

    Q: np.ndarray
    S1: np.ndarray
    S2: np.ndarray
    h: int
    rank: int
    tol: float

    def expand(self, S1: np.ndarray, S2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Full-width weights ``(S1 Q^T, S2 Q^T)`` (batch-aware)."""
        return S1 @ self.Q.T, S2 @ self.Q.T


def reduce_width(W1: np.ndarray, W2: np.ndarray) -> WidthReduction:
    """Reduce ``W1`` (n x h), ``W2`` (m x h) to their row space; cost O(h (n+m)^2).

    The rank is numerical: an SVD of Z^T's R factor ((n+m) x (n+m)) drops singular
    values below ``RANK_RTOL * max(n + m, h) * sigma_max(Z)``; a rank-deficient Z
    (W2 = W1, or h < n + m) thus gives r < n + m and the reduction stays exact.
    """
    W1 = np.asarray(W1, dtype=np.float64)
    W2 = np.asarray(W2, dtype=np.float64)
    n, h = W1.shape
    Z = np.vstack([W1, W2])  # (n+m, h)
    Q0, R = np.linalg.qr(Z.T, mode="reduced")  # Q0: h x k, k = min(h, n+m)
    U, s, _ = np.linalg.svd(R, full_matrices=False)  # R = U diag(s) V^T, small
    tol = RANK_RTOL * max(Z.shape) * (s[0] if s.size else 0.0)
    r = int(np.sum(s > tol))
    Q = Q0 @ U[:, :r]
    return WidthReduction(Q=Q, S1=W1 @ Q, S2=W2 @ Q, h=h, rank=r, tol=float(tol))


def _raise_qr_error(err, flag):
    raise np.linalg.LinAlgError("Incorrect argument found while performing QR factorization")


#: numpy's qr gufuncs ``(qr_r_raw, qr_reduced)``, once checked to give ``np.linalg.qr``'s floats; False where
#: numpy has none or they do not (:func:`_qr_gufuncs`)
_QR_GUFUNCS: list = []


def _qr_gufuncs():
    """``(qr_r_raw, qr_reduced)`` of ``numpy.linalg._umath_linalg`` (private: numpy 2's names), or None. Checked
    once per process against ``np.linalg.qr`` on a small stack, bit for bit, so that a numpy whose gufuncs
    changed (no longer writing R and the reflectors back into their input) falls back, not miscomputes."""
    if not _QR_GUFUNCS:
        try:
            from numpy.linalg import _umath_linalg as um

            fns = (um.qr_r_raw, um.qr_reduced)
            a = np.cos(np.arange(2 * 7 * 3, dtype=np.float64) * 1.7).reshape(2, 7, 3)
            q0, r0 = np.linalg.qr(a, mode="reduced")
            q1, r1 = _qr_with(fns, a.copy())
            ok = q0.tobytes() == q1.tobytes() and r0.tobytes() == r1.tobytes() and q0.shape == q1.shape
        except Exception:  # noqa: BLE001 - private names: any failure means the public route
            ok = False
        _QR_GUFUNCS[:] = [fns if ok else False]
    return _QR_GUFUNCS[0] or None


def _qr_with(fns, a):
    raw, reduced = fns
    k = min(a.shape[-2:])
    with np.errstate(call=_raise_qr_error, invalid="call", over="ignore", divide="ignore", under="ignore"):
        tau = raw(a, signature="d->d")  # a now holds R above its diagonal and the reflectors below
        q = reduced(a, tau, signature="dd->d")
    return q, np.triu(a[..., :k, :])


def _qr_overwrite(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.linalg.qr(a, mode="reduced")`` of a float64 stack ``a`` (..., p, q) that it may overwrite: numpy's
    own two gufuncs (``geqrf``, then ``orgqr``), the same floats, the same error, without the copy of ``a``
    that ``np.linalg.qr`` makes first (8 MB at R = 100, h = 500, n + m = 20: ~2.6 ms of ~18). Where numpy has
    no such gufuncs (they are private) or they fail the check of :func:`_qr_gufuncs`, ``np.linalg.qr``."""
    fns = _qr_gufuncs()
    if fns is None or a.dtype != np.float64 or a.ndim < 2 or not a.dtype.isnative or not a.size:
        return tuple(np.linalg.qr(a, mode="reduced"))
    return _qr_with(fns, a)


@dataclass
class StackedReduction:
    """:func:`reduce_width` of every seed of a batch, with the stacked arrays the engine runs on.

    ``Q`` (R, h, k), ``S1 = W1 Q`` (R, n, k), ``S2 = W2 Q`` (R, m, k), k = max(1, largest rank): a seed of
    lower rank r has zero columns from r on (they stay zero under GD). ``reductions[i]`` is seed i's
    :class:`WidthReduction`, its arrays views of the stacks where the seed has full rank."""

    reductions: list
    Q: np.ndarray
    S1: np.ndarray
    S2: np.ndarray

    @property
    def ranks(self) -> np.ndarray:
        return np.array([r.rank for r in self.reductions])


def reduce_width_stack(W1: np.ndarray, W2: np.ndarray) -> StackedReduction:
    """:func:`reduce_width` of every seed of a batch, ``W1`` (R, n, h), ``W2`` (R, m, h): the same
    reductions bit for bit (numpy's stacked ``qr``, ``svd`` and ``matmul`` run the same LAPACK / BLAS routine
    on each matrix; tests/test_reduction.py), in three stacked calls instead of R of each (issue 13: 100 seeds
    at h = 500 paid ~0.3 ms a seed in Python and call overhead), and the stacks the engine starts from. A seed
    whose rank is below n + m is reduced on its own (its basis keeps r of the columns)."""
    W1 = np.asarray(W1, dtype=np.float64)
    W2 = np.asarray(W2, dtype=np.float64)
    R, n, h = W1.shape
    m = W2.shape[1]
    # [W1; W2]^T (R, h, n+m) as a scratch copy, which the QR overwrites and which is released right after it
    # (its memory then takes Q0 U below instead of fresh pages)
    Q0, Rf = _qr_overwrite(np.swapaxes(np.concatenate([W1, W2], axis=1), -1, -2))
    U, s, _ = np.linalg.svd(Rf, full_matrices=False)
    tol = RANK_RTOL * max(n + m, h) * (s[:, 0] if s.shape[1] else np.zeros(R))
    ranks = np.sum(s > tol[:, None], axis=1)
    k = s.shape[1]
    full = ranks == k
    kmax = int(max(1, k if full.any() else ranks.max()))
    if full.any():
        Q = Q0 @ U
        S1, S2 = W1 @ Q, W2 @ Q
    else:
        Q, S1, S2 = np.zeros((R, h, kmax)), np.zeros((R, n, kmax)), np.zeros((R, m, kmax))
    out = []
    for i in range(R):
        if full[i]:
            out.append(WidthReduction(Q=Q[i], S1=S1[i], S2=S2[i], h=h, rank=int(k), tol=float(tol[i])))
            continue
        red = reduce_width(W1[i], W2[i])
        out.append(red)
        for stack, part in ((Q, red.Q), (S1, red.S1), (S2, red.S2)):
            stack[i] = 0.0
            stack[i, :, : red.rank] = part
    return StackedReduction(reductions=out, Q=Q, S1=S1, S2=S2)


@dataclass
class ImbalanceSpectrum:
    """Spectrum of ``D = W1^T W1 - W2^T W2`` (h x h) from its r nonzero-candidate eigenvalues.

    ``reduced`` holds the eigenvalues of the r x r matrix ``S1^T S1 - S2^T S2``
    in descending order; the remaining ``h - r`` eigenvalues of D are exactly 0.
    """

    reduced: np.ndarray
    h: int
    n: int
    m: int

    @property
    def rank(self) -> int:
        return int(self.reduced.size)

    def eigenvalues(self, full: bool = False) -> np.ndarray:
        """The r reduced eigenvalues, or (``full=True``) all h, padded with zeros, descending."""
        if not full:
            return self.reduced.copy()
        return np.sort(np.concatenate([self.reduced, np.zeros(self.h - self.rank)]))[::-1]

    def lambda_k(self, k: int, negate: bool = False) -> float:
        """The k-th largest eigenvalue of D (or of -D); 0 when k > h (no such eigenvalue).

        Only the top k are needed, so the zero padding is virtual: the k-th largest of
        ``reduced ∪ {0} * (h - r)``.
        """
        ev = -self.reduced[::-1] if negate else self.reduced  # descending
        if k > self.h:
            return 0.0
        pos = ev[ev > 0]
        if k <= pos.size:
            return float(pos[k - 1])
        zeros = self.h - self.rank
        if k <= pos.size + zeros:
            return 0.0
        rest = ev[ev <= 0]
        return float(rest[k - 1 - pos.size - zeros])

    @property
    def lambda_max(self) -> float:
        return self.lambda_k(1)

    @property
    def lambda_max_neg(self) -> float:
        return self.lambda_k(1, negate=True)


def lambda_k_rows(reduced: np.ndarray, h: int, k: int, negate: bool = False) -> list:
    """:meth:`ImbalanceSpectrum.lambda_k` of every row of ``reduced`` (R, r: each row a seed's reduced
    eigenvalues, descending, as :class:`ImbalanceSpectrum` holds them) at once, the same floats (each is one
    of the row's values or the padding's 0.0); a row with a NaN takes :meth:`~ImbalanceSpectrum.lambda_k`
    itself (NaN drops out of both of its selections there)."""
    reduced = np.asarray(reduced, dtype=np.float64)
    R, r = reduced.shape
    if k > h:
        return [0.0] * R
    E = -reduced[:, ::-1] if negate else reduced  # descending rows
    zeros = h - r
    npos = np.sum(E > 0, axis=1)
    take_pos = E[:, min(k - 1, r - 1)] if r else np.zeros(R)
    j = k - 1 - zeros
    take_rest = E[:, min(max(j, 0), r - 1)] if r else np.zeros(R)
    vals = np.where(k <= npos, take_pos, np.where(k <= npos + zeros, 0.0, take_rest)).tolist()
    bad = np.isnan(reduced).any(axis=1)
    if bad.any():
        for i in np.flatnonzero(bad):
            vals[i] = ImbalanceSpectrum(reduced=reduced[i], h=h, n=0, m=0).lambda_k(k, negate=negate)
    return vals


def reduced_imbalance(S1: np.ndarray, S2: np.ndarray) -> np.ndarray:
    """``Q^T D Q = S1^T S1 - S2^T S2`` (..., r, r) for reduced weights ``S1 = W1 Q``, ``S2 = W2 Q``.

    Its eigenvalues are the nonzero-candidate eigenvalues of ``D = W1^T W1 - W2^T W2`` and
    its Frobenius distances equal those of D (Q has orthonormal columns). The one place
    the reduced imbalance is formed, for the constants and for every GD step.
    """
    return np.swapaxes(S1, -1, -2) @ S1 - np.swapaxes(S2, -1, -2) @ S2


def imbalance_spectrum(W1: np.ndarray, W2: np.ndarray, reduction: WidthReduction | None = None
                       ) -> ImbalanceSpectrum:
    """Spectrum of the imbalance D = W1^T W1 - W2^T W2 through the width reduction (Table 2)."""
    red = reduction if reduction is not None else reduce_width(W1, W2)
    ev = np.linalg.eigvalsh(reduced_imbalance(red.S1, red.S2))[::-1]
    return ImbalanceSpectrum(reduced=ev, h=red.h, n=red.S1.shape[0], m=red.S2.shape[0])


#: The Gram route gives sigma_min^2 only while ``sigma_min^2 >= GRAM_SV_RTOL sigma_max^2``
#: (cond <= 100; relative error then at most about ``q eps 1e4``, q the Gram's size); below,
#: the matrix is decomposed again by an SVD (:func:`singular_values_sq`, ``method="auto"``).
GRAM_SV_RTOL = 1e-4


def singular_values_sq(A: np.ndarray, method: str = "auto") -> np.ndarray:
    """Squared singular values of ``A`` (..., p, q), descending: min(p, q) values.

    Parameters
    ----------
    A : ndarray (..., p, q)
    method : {"auto", "svd", "gram"}
        ``"gram"``: eigenvalues of the smaller Gram matrix (``A A^T`` or ``A^T A``), clipped
        at 0 (round-off can make tiny ones negative). Each has absolute error about
        ``min(p, q) eps sigma_max(A)^2``, so ``sigma_i^2`` has relative error about
        ``eps (sigma_max / sigma_i)^2`` (1e-4 for the smallest at cond 1e6): accurate for
        the largest values, or for well-conditioned A.
        ``"svd"``: ``np.linalg.svd(A, compute_uv=False)``, squared. Each singular value has
        absolute error about ``eps sigma_max(A)``, so ``sigma_i^2`` has relative error about
        ``2 eps sigma_max / sigma_i`` (``2 eps cond(A)`` for the smallest).
        ``"auto"`` (default): the Gram values, except for the matrices of the batch whose
        smallest value is below ``GRAM_SV_RTOL`` times the largest (cond > 100), which get the
        SVD's: every value to relative error about ``min(p, q) eps min(cond, 100) cond``
        (at most ``2e-12 min(p, q)`` where the Gram is kept).

    Examples
    --------
    >>> A = np.array([[1.0, 1.0], [1.0, 1.0 + 1e-7]])  # cond(A) = 8e7
    >>> ["%.4e" % v for v in singular_values_sq(A)]  # the Gram route alone gets 2.44e-15
    ['4.0000e+00', '2.5000e-15']
    """
    A = np.asarray(A)
    if method == "svd":
        return np.linalg.svd(A, compute_uv=False) ** 2
    if method not in ("gram", "auto"):
        raise ValueError(f"method must be 'auto', 'svd' or 'gram', got {method!r}")
    p, q = A.shape[-2:]
    G = A @ np.swapaxes(A, -1, -2) if p <= q else np.swapaxes(A, -1, -2) @ A
    ev = np.clip(np.linalg.eigvalsh(G)[..., ::-1], 0.0, None)
    if method == "gram" or min(p, q) == 0:
        return ev
    redo = ev[..., -1] < GRAM_SV_RTOL * ev[..., 0]  # NaN compares False
    if redo.any():
        ev[redo] = np.linalg.svd(A[redo], compute_uv=False) ** 2
    return ev


def extreme_sv_sq(A: np.ndarray, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(sigma_k^2, sigma_max^2) of A (..., p, q); sigma_k is the k-th singular value.

    ``k`` defaults to p (the row count: sigma_n(W1) for W1 of shape n x h) and the
    k-th singular value is 0 when k exceeds min(p, q) (Lemma A.2's convention).
    Computed by :func:`singular_values_sq` (``method="auto"``: the SVD's relative error about
    ``2 eps sigma_max / sigma_k`` in sigma_k^2 wherever the Gram's ``eps (sigma_max / sigma_k)^2``
    would exceed about ``eps 1e4``).
    """
    A = np.asarray(A)
    p, q = A.shape[-2:]
    k = p if k is None else k
    if min(p, q) == 0:  # a width-0 reduction (all-zero weights, rank r = 0): every singular value is 0
        zero = np.zeros(A.shape[:-2])
        return zero, zero.copy()
    s = singular_values_sq(A)
    smax = s[..., 0]
    smin = s[..., k - 1] if k <= min(p, q) else np.zeros_like(smax)
    return smin, smax


#: a warm-started extreme eigenvalue is accepted when its certified error bound is at most this times
#: ``q eps`` times the scale (q the size; the scale ``||M||_2``, for a Gram's smallest value through its factor
#: ``sigma_max sigma_min``, the SVD's accuracy): the dense routes' own error is of that order
CERT_ULPS = 4.0


class ExtremeEigs:
    """Certified extreme eigenvalues of a slowly changing batch of symmetric matrices (issue 13).

    Called once per GD step with the stack ``M`` (P, q, q) of one kind of matrix (the reduced imbalance; or
    the factors of the weights' Grams), it returns ``(lambda_min, lambda_max)`` (P,) for the matrices it can certify and
    a mask of those it cannot, which the caller decomposes densely (and passes back with :meth:`reset`).

    Method. The two extreme eigenvectors V of the last dense decomposition are the trial vectors: their
    Rayleigh quotients ``theta`` and residuals (one batched product ``M V``, no q x q decomposition). Each
    ``theta`` with computed residual ``rho`` (plus a rounding
    allowance ``q eps ||M||_F``) is certified against the last dense decomposition ``M0`` of that matrix:
    by Weyl's inequality every eigenvalue moved by at most ``delta = ||M - M0||_F`` since, so the second
    largest is at most ``lambda_2(M0) + delta``. If ``theta - rho`` exceeds that, the eigenvalue within
    ``rho`` of theta is the largest one, and Kato-Temple bounds its distance to the Rayleigh quotient
    (``theta <= lambda_max <= theta + rho^2 / (theta - lambda_2(M0) - delta)``); likewise at the bottom.
    A Rayleigh-Ritz step on ``[V, M V, M^2 V]`` was tried as a second stage and dropped: on the Grams of
    a moving GD iterate (top gap ~1% of the spread) it left the residual 1e2-1e4 times above what
    certification needs, so it only added its cost before the dense route.
    A value is accepted when that bound is at most :data:`CERT_ULPS` q eps times its scale; otherwise the
    matrix goes back to the dense route, which refreshes ``M0``. With ``factored=True`` the stack holds
    factors F of Grams ``F F^T`` (:meth:`__call__`): the Rayleigh quotients are ``||F^T v||^2``, so the
    smallest has the SVD's accuracy where the Gram's own would lose ``eps cond^2``
    (:func:`singular_values_sq`), and no Gram is formed.
    """

    #: after a call that certified nothing, the next ``skip`` calls go straight to the dense route (doubling up
    #: to this many while nothing certifies; reset by the first success): a moving iterate costs then about
    #: the dense route alone, not the certificate on top
    MAX_SKIP = 16

    def __init__(self, factored: bool = False):
        #: whether the calls pass factors F (P, p, k) of the Grams ``F F^T`` instead of the matrices
        self.factored = bool(factored)
        self.M0 = None
        self._skip = self._backoff = 0
        #: matrices certified from the previous eigenvectors, and sent to the dense route (:meth:`reset`)
        self.stats = {"warm": 0, "dense": 0}

    def reset(self, M: np.ndarray, rows, ev: np.ndarray, vecs: np.ndarray) -> None:
        """Record the dense decomposition of the matrices ``M[rows]`` (factors F[rows] when ``factored``):
        ascending eigenvalues ``ev`` and eigenvectors ``vecs`` (columns; the two extreme ones are kept)."""
        q = ev.shape[-1]
        self.set_reference(M, rows, ev[:, -2] if q > 1 else np.inf, ev[:, 1] if q > 1 else -np.inf,
                           np.sqrt(np.clip(ev[:, -1], 0.0, None)), vecs[:, :, [0, -1]])

    def set_reference(self, M: np.ndarray, rows, lam2, lamq1, smax0, V2) -> None:
        """The reference of the rows ``rows``: the matrices (factors) ``M[rows]``, their second largest and
        second smallest eigenvalues, sigma_max of the factor and the extreme eigenvectors ``V2`` (len, q, 2).
        A matrix zero-padded to the stack's size keeps its vectors zero on the padding, and then everything
        here is that of the unpadded matrix (its Rayleigh quotients and residuals do not see the padding)."""
        rows = np.asarray(rows)
        P, q = M.shape[0], V2.shape[1]
        if self.M0 is None or self.M0.shape != M.shape:
            self.M0 = np.full(M.shape, np.nan)
            self.lam2 = np.full(P, np.inf)      # second largest eigenvalue of the reference
            self.lamq1 = np.full(P, -np.inf)    # second smallest
            self.smax0 = np.full(P, np.nan)     # sigma_max of the reference factor
            self.fro0 = np.full(P, np.nan)      # ||reference||_F
            self.V = np.zeros((P, q, 2))
        self.stats["dense"] += int(rows.size)
        self.M0[rows] = M[rows]
        self.fro0[rows] = np.sqrt(np.einsum("pij,pij->p", M[rows], M[rows]))
        self.lam2[rows], self.lamq1[rows], self.smax0[rows] = lam2, lamq1, smax0
        self.V[rows] = V2

    def __call__(self, M: np.ndarray, need_low=True):
        """``(lo, hi, ok)``: certified extreme eigenvalues (P,) where ``ok``; elsewhere NaN.

        ``M`` is the stack of symmetric matrices, or (``factored``) of factors F (P, p, k) of the Grams
        ``F F^T``: then the Gram is never formed (products ``F (F^T V)``), Weyl's ``delta`` is bounded by
        ``||F - F0||_2 (||F||_2 + ||F0||_2) <= d (2 sigma_max(F0) + d)``, ``d = ||F - F0||_F``, and the
        Rayleigh quotients are ``||F^T v||^2``, so the smallest one has the SVD's accuracy (its acceptance
        scale ``sqrt(lambda_max lambda_min)`` instead of ``lambda_max``). ``need_low`` (bool or (P,) mask):
        where False, the smallest value is not needed and not certified (NaN).

        The previous step's extreme eigenvectors are the trial vectors: enough wherever the matrix moved
        little since the last dense decomposition, e.g. the imbalance D (conserved by gradient flow) and
        every matrix along the float floor.
        """
        P = M.shape[0]
        if self.M0 is None or self.M0.shape != M.shape or self.V.shape[1] < 3 or self._skip > 0:
            self._skip = max(self._skip - 1, 0)
            nan = np.full(P, np.nan)
            return nan, nan.copy(), np.zeros(P, dtype=bool)
        q = self.V.shape[1]
        d = M - self.M0
        dn = np.sqrt(np.einsum("pij,pij->p", d, d))
        V = self.V
        if self.factored:
            FtV = np.swapaxes(M, -1, -2) @ V
            U = M @ FtV
            th = np.einsum("pij,pij->pj", FtV, FtV)
            big = self.smax0 + dn  # >= sigma_max(F)
            delta = dn * (self.smax0 + big)
            allow = (EPS_SPECTRA * (q + M.shape[-1])) * big * big
        else:
            U = M @ V
            th = np.einsum("pij,pij->pj", V, U)
            delta = dn
            allow = (EPS_SPECTRA * q) * (self.fro0 + dn)  # >= ||M||_F
        res = U - V * th[:, None, :]
        rho = np.sqrt(np.einsum("pij,pij->pj", res, res)) + allow[:, None]  # + rounding allowance
        # both ends at once: column 0 the smallest (sign -1, reference lamq1), column 1 the largest
        gap = (th - np.stack([self.lamq1, self.lam2], axis=1)) * _SIGNS - delta[:, None]
        scale = np.abs(th).max(axis=1)
        if self.factored:  # the smallest value's scale: sqrt(lambda_max lambda_min), the SVD's accuracy
            sc = np.stack([np.sqrt(scale * np.clip(th[:, 0], 0.0, None)), scale], axis=1)
        else:
            sc = scale[:, None]
        with np.errstate(invalid="ignore", over="ignore"):
            good = (gap > rho) & (rho * rho <= (CERT_ULPS * q * EPS_SPECTRA) * sc * gap)
        ok = (good[:, 1] & (good[:, 0] | ~np.asarray(need_low, dtype=bool))) & np.isfinite(delta)
        nok = int(np.count_nonzero(ok))
        self.stats["warm"] += nok
        self._backoff = 0 if nok else min(2 * self._backoff or 1, self.MAX_SKIP)
        self._skip = self._backoff
        nan = np.nan
        return (np.where(ok & need_low, th[:, 0], nan), np.where(ok, th[:, 1], nan), ok)


_SIGNS = np.array([-1.0, 1.0])
EPS_SPECTRA = np.finfo(np.float64).eps
