"""Models for the GD engine: the two-layer linear model ``l(W1 W2^T)`` and Problem 1 itself.

A model holds a batch of R parameter sets (leading axis R) and offers the
engine's model interface (:func:`convtool.numeric.engine.run`), with the state a
tuple of parameter arrays: ``init_state()``, ``product(state)`` (R, n, m), the
argument of the losses, ``param_grads(state, Gl)`` from the loss gradient at the
product, ``step(state, grads, eta)``, ``grad_sq(state, grads)`` (R,),
``full_weights(state)`` and, optionally, ``round_off(state)``, the bound on the
computed product's error used for the rounding band. :class:`TwoLayerLinear` also
gives the per-iterate spectral quantities the local-PL theory needs. Every spectrum comes from matrices of size at most
(n + m) x (n + m); nothing h x h is formed.

Width reduction (issue 4)
-------------------------
GD on ``l(W1 W2^T)`` only adds left-multiples of W2 to W1 and of W1 to W2, so
the rows of ``Z(t) = [W1(t); W2(t)]`` stay in the row space of Z(0). With
``Z(0)^T = Q R`` (Q: h x r orthonormal), the width-h run is *exactly* the width-r
run on ``S1 = W1 Q``, ``S2 = W2 Q``: ``W1(t) = S1(t) Q^T``, the products, the
singular values and the nonzero eigenvalues of D(t) coincide (the remaining
h - r eigenvalues of D(t) are 0). :class:`TwoLayerLinear` applies it when
``h > n + m`` (``reduce="auto"``); ``reduce=False`` runs at full width for
comparison. It does not apply to deep linear networks with h x h hidden layers
(their updates multiply hidden layers on both sides) nor to shallow nonlinear
networks (the activation breaks the row-space invariance).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> W1, W2 = rng.normal(size=(3, 200)), rng.normal(size=(2, 200))
>>> mdl = TwoLayerLinear(W1, W2)
>>> mdl.reduced, mdl.k
(True, 5)
>>> state = mdl.init_state()
>>> bool(np.allclose(mdl.product(state)[0], W1 @ W2.T))
True
"""

from __future__ import annotations

import numpy as np

from convtool.numeric.spectra import GRAM_SV_RTOL, ExtremeEigs, reduce_width_stack, reduced_imbalance

__all__ = ["TwoLayerLinear", "ProblemOne", "spectra_batch", "blas_threads", "BLAS_THREADS"]

#: BLAS threads for the two-layer model's computations (its per-step products, spectra and the width-reduction
#: QR). Measured in bench/bench_step_floor.py part (d), one thread against the library default, at every size
#: convtool runs (n = m = 20 and 100 steps, the QR at h = 16000): one thread was as fast or faster at each
#: (2-core machine, shared with other jobs, default = 2 threads: the QR 30-35x slower with the default, the
#: recorded step 1.07-1.4x at n = m = 20 and 1.1-9x at n = m = 100).
#: Applied through ``threadpoolctl`` when it is installed (optional: ``pip install threadpoolctl``); otherwise
#: set ``OPENBLAS_NUM_THREADS=1`` (``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``) before starting Python.
BLAS_THREADS = 1


def blas_threads(threads: int | None = BLAS_THREADS):
    """A context limiting the BLAS thread pools to ``threads`` (``threadpoolctl.threadpool_limits``), or a
    no-op when threadpoolctl is not installed or ``threads`` is None (the environment variables decide).

    The same limits as ``threadpool_limits(threads, "blas")`` on the same libraries, through one
    ``ThreadpoolController`` kept while no module was imported since it was made (:func:`_blas_controller`):
    finding the loaded libraries reads ``/proc/self/maps``, ~1 ms, which each of a run's two contexts paid."""
    import contextlib

    if threads is None:
        return contextlib.nullcontext()
    try:
        import threadpoolctl
    except ImportError:
        return contextlib.nullcontext()
    ctrl = _blas_controller(threadpoolctl)
    if ctrl is None:  # a threadpoolctl before 3.0 (no controller): a fresh lookup each time
        return threadpoolctl.threadpool_limits(limits=int(threads), user_api="blas")
    return ctrl.limit(limits=int(threads), user_api="blas")


#: ``[(threadpoolctl module, sys.modules signature, controller)]`` of :func:`_blas_controller`
_CONTROLLER: list = []


def _blas_controller(module):
    """``module.ThreadpoolController()`` made again only when ``sys.modules`` changed since the last one (its
    size or newest entry) or ``module`` is another object (None where the module has no controller class).

    A BLAS library enters the process with the extension module that links it (numpy's with numpy, scipy's
    with ``scipy.linalg``), so a controller made after the last import still knows every BLAS the process can
    call; a library opened by hand (``ctypes``) without any import since is the one it would not see."""
    import sys

    def signature():
        try:
            return len(sys.modules), next(reversed(sys.modules), None)
        except RuntimeError:  # sys.modules changed while read (an import in another thread): not a match
            return object()

    make = getattr(module, "ThreadpoolController", None)
    if make is None:
        return None
    if _CONTROLLER and _CONTROLLER[0][0] is module and _CONTROLLER[0][1] == signature():
        return _CONTROLLER[0][2]
    ctrl = make()
    _CONTROLLER[:] = [(module, signature(), ctrl)]
    return ctrl


def spectra_batch(A: np.ndarray, B: np.ndarray, W: np.ndarray, D: np.ndarray | None = None,
                  tracker: dict | None = None) -> dict:
    """Per-iterate spectral primitives of Lemma A.2 and eq. (12), batched, from small matrices.

    ``A`` (R, n, k), ``B`` (R, m, k) are the (possibly reduced) weights and ``W`` their product;
    ``D`` (R, r, r), if given, is the reduced imbalance, whose extreme eigenvalues are added.
    The n-th singular value of A is 0 when k < n (likewise for B). Only extreme eigenvalues are used,
    of the smallest Gram of each matrix (``A A^T`` or ``A^T A``, ...).

    ``tracker`` (a dict the caller keeps from step to step, e.g. the local-PL theory along a run): the
    extreme eigenvalues come from :class:`convtool.numeric.spectra.ExtremeEigs`, the Rayleigh quotients of
    the previous step's extreme eigenvectors, certified to the dense route's accuracy (no decomposition and,
    for the Grams, no Gram formed on the steps it certifies: one call for the three factors, one for D);
    the matrices it cannot certify take the dense route, which refreshes its reference. Without a tracker,
    or below :data:`TRACK_MIN_SIZE`, every step takes the dense route.

    Notes
    -----
    Dense route, accuracy (issue 14). A Gram eigenvalue has absolute error about ``q eps sigma_max^2``
    (q <= n + m its size), so ``sigma_min^2`` from the Gram has relative error about
    ``q eps cond^2``. The largest values (``*_max_sq``, ``sigma_max_W``) are always taken from
    the Gram (relative error about ``q eps``). A smallest one (``s1_min_sq``, ``s2_min_sq``,
    ``sigma_min_W``) is kept from the Gram only where ``sigma_min^2 >= GRAM_SV_RTOL sigma_max^2``
    (:data:`convtool.numeric.spectra.GRAM_SV_RTOL` = 1e-4: cond <= 100, relative error at most
    about ``q eps 1e4`` = 4e-11 at q = 20, in practice ~1e-13);
    for the seeds where it is smaller, all values of that matrix are taken from a batched
    ``np.linalg.svd(..., compute_uv=False)`` of it instead, relative error about ``2 eps cond``.
    The tracked route takes a Gram's smallest value through its factor (``||F^T y||^2``), the SVD's accuracy.
    """
    R, n, k = A.shape
    m = B.shape[-2]
    mats = (A, B, W)
    # index of the smallest singular value used, per matrix (None: it is 0 by Lemma A.2's convention)
    low = (n - 1 if k >= n else None, m - 1 if k >= m else None, min(n, m) - 1)
    if tracker is None or max(min(n, k), min(m, k), min(n, m)) < TRACK_MIN_SIZE:
        grams = [A @ np.swapaxes(A, -1, -2) if n <= k else np.swapaxes(A, -1, -2) @ A,
                 B @ np.swapaxes(B, -1, -2) if m <= k else np.swapaxes(B, -1, -2) @ B,
                 W @ np.swapaxes(W, -1, -2) if n <= m else np.swapaxes(W, -1, -2) @ W]
        smin, smax = _gram_extremes_dense(mats, grams, low, R)
    else:
        smin, smax = _gram_extremes_tracked(mats, low, R, tracker)
    zero = np.zeros(R)
    out = {
        "s1_min_sq": smin[0] if k >= n else zero, "s1_max_sq": smax[0],
        "s2_min_sq": smin[1] if k >= m else zero, "s2_max_sq": smax[1],
        "sigma_max_W": np.sqrt(smax[2]), "sigma_min_W": np.sqrt(smin[2]),
        "W_fro": np.sqrt(np.einsum("rij,rij->r", W, W)),
    }
    if D is not None:
        if not D.shape[-1]:
            lo = hi = np.zeros(R)
        elif tracker is None or D.shape[-1] < TRACK_MIN_SIZE:
            evD = _eigvalsh_finite(D)
            lo, hi = evD[:, 0], evD[:, -1]
        else:
            lo, hi = _tracked(tracker, "D", D)
        # D (h x h) has h - r further eigenvalues 0 (h >= r), hence the max with 0
        out["lambda_max_D"] = np.maximum(hi, 0.0)
        out["lambda_max_negD"] = np.maximum(-lo, 0.0)
    return out


def _gram_extremes_dense(mats, grams, low, R):
    """(smallest used, largest) squared singular values of the three matrices from one batched ``eigvalsh`` of
    their zero-padded Grams (padding a PSD matrix with zeros only appends zero eigenvalues), with the SVD redo."""
    q = max(g.shape[-1] for g in grams)
    stack = np.zeros((3, R, q, q))
    for i, g in enumerate(grams):
        stack[i, :, : g.shape[-1], : g.shape[-1]] = g
    ev = _eigvalsh_finite(stack)  # ascending
    sq = np.clip(ev[:, :, ::-1], 0.0, None)
    for i, j in enumerate(low):
        if j is None:
            continue
        redo = sq[i, :, j] < GRAM_SV_RTOL * sq[i, :, 0]  # NaN (diverged seed) compares False
        if redo.any():
            sv = np.linalg.svd(mats[i][redo], compute_uv=False)
            sq[i, redo, : sv.shape[-1]] = sv * sv
    smin = [sq[i, :, j] if j is not None else np.zeros(R) for i, j in enumerate(low)]
    return smin, [sq[i, :, 0] for i in range(3)]


def _gram_extremes_tracked(mats, low, R, tracker):
    """As :func:`_gram_extremes_dense`, certified from the previous eigenvectors through the factors themselves
    (:class:`~convtool.numeric.spectra.ExtremeEigs` with ``factored=True``: no Gram is formed where that
    certifies), the three factors zero-padded into one stack (one call; the padding is invisible to the
    certificate, :meth:`~convtool.numeric.spectra.ExtremeEigs.set_reference`)."""
    facs = [F if F.shape[-2] <= F.shape[-1] else np.swapaxes(F, -1, -2) for F in mats]  # Gram = F F^T, smallest
    p = max(F.shape[-2] for F in facs)
    c = max(F.shape[-1] for F in facs)
    if all(F.shape[-2:] == (p, c) for F in facs):
        stack = np.concatenate(facs)
    else:
        stack = np.zeros((3 * R, p, c))
        for i, F in enumerate(facs):
            stack[i * R:(i + 1) * R, : F.shape[-2], : F.shape[-1]] = F
    need_low = np.repeat(np.array([j is not None for j in low]), R)
    tr = tracker.get("grams")
    if tr is None:
        tr = tracker["grams"] = ExtremeEigs(factored=True)
    lo, hi, ok = tr(stack, need_low=need_low)
    bad = np.flatnonzero(~ok)
    if bad.size:
        _dense_grams(bad, mats, facs, low, R, stack, tr, lo, hi)
    smin = [np.clip(lo[i * R:(i + 1) * R], 0.0, None) if low[i] is not None else np.zeros(R) for i in range(3)]
    smax = [np.clip(hi[i * R:(i + 1) * R], 0.0, None) for i in range(3)]
    return smin, smax


def _dense_grams(sel, mats, facs, low, R, stack, tr, lo, hi) -> None:
    """Dense route of :func:`_gram_extremes_dense` for rows ``sel`` of the padded factor stack: ``lo[sel]``,
    ``hi[sel]`` from one ``eigh`` of each (unpadded) Gram, the SVD redo included (the untracked route's
    values to round-off), and the tracker's reference from the same decomposition."""
    p = stack.shape[-2]
    for i in range(3):
        here = sel[(sel >= i * R) & (sel < (i + 1) * R)]
        if not here.size:
            continue
        seeds = here - i * R
        F = facs[i][seeds]
        G = F @ np.swapaxes(F, -1, -2)
        fin = np.isfinite(G).all(axis=(-2, -1))
        if not fin.any():
            continue
        rows, G = here[fin], G[fin]
        e, v = np.linalg.eigh(G)
        q = e.shape[-1]
        V2 = np.zeros((rows.size, p, 2))
        V2[:, :q] = v[:, :, [0, -1]]
        tr.set_reference(stack, rows, e[:, -2] if q > 1 else np.inf, e[:, 1] if q > 1 else -np.inf,
                         np.sqrt(np.clip(e[:, -1], 0.0, None)), V2)
        ev = np.clip(e[:, ::-1], 0.0, None)
        if low[i] is not None:
            jj = low[i]
            redo = ev[:, jj] < GRAM_SV_RTOL * ev[:, 0]
            if redo.any():
                sv = np.linalg.svd(mats[i][seeds[fin][redo]], compute_uv=False)
                ev[redo, : sv.shape[-1]] = sv * sv
            lo[rows] = ev[:, jj]
        else:
            lo[rows] = 0.0
        hi[rows] = ev[:, 0]


#: matrices smaller than this take the dense route even with a tracker: there the batched ``eigvalsh`` costs
#: less than the certificate's numpy calls (spectra of one seed, measured interleaved on the loaded 2-core
#: machine, dense / tracked: n = m = 10: 184 / 426 us (three tracked calls then; one now), n = m = 20:
#: 187 / 173 us, n = m = 32: 472 / 218 us, n = m = 50: 1013 / 293 us, n = m = 100: 5890 / 574 us)
TRACK_MIN_SIZE = 20


def _tracked(tracker, key, M):
    """Extreme eigenvalues ``(lo, hi)`` of the symmetric stack M through ``tracker[key]`` (an
    :class:`~convtool.numeric.spectra.ExtremeEigs`); the uncertified rows by ``eigh``, which resets it there."""
    tr = tracker.get(key)
    if tr is None:
        tr = tracker[key] = ExtremeEigs()
    lo, hi, ok = tr(M)
    sel = np.flatnonzero(~ok)
    if sel.size:
        Ms = M[sel]
        fin = np.isfinite(Ms).all(axis=(-2, -1))
        lo[sel[~fin]] = hi[sel[~fin]] = np.nan
        if fin.any():
            e, v = np.linalg.eigh(Ms[fin])
            lo[sel[fin]], hi[sel[fin]] = e[:, 0], e[:, -1]
            tr.reset(M, sel[fin], e, v)
    return lo, hi


def _eigvalsh_finite(M: np.ndarray) -> np.ndarray:
    """``eigvalsh`` with NaN rows for non-finite matrices (a diverged seed), not a LinAlgError."""
    bad = ~np.isfinite(M).all(axis=(-2, -1))
    if not bad.any():
        return np.linalg.eigvalsh(M)
    ev = np.linalg.eigvalsh(np.where(bad[..., None, None], 0.0, M))
    ev[bad] = np.nan
    return ev


class TwoLayerLinear:
    """Two-layer linear model ``L(W1, W2) = l(W1 W2^T)``, W1 (n x h), W2 (m x h), batched over R.

    GD (eqs. 7-8): ``W1 <- W1 - eta grad_l(W) W2``, ``W2 <- W2 - eta grad_l(W)^T W1``.

    Parameters
    ----------
    W1, W2 : ndarray, shapes (n, h) / (m, h) or (R, n, h) / (R, m, h)
        Initial weights (copied, never modified).
    reduce : {"auto", True, False}
        Width reduction (module docstring); "auto" reduces when h > n + m.
    """

    name = "two-layer linear"
    #: BLAS threads of its computations (:data:`BLAS_THREADS`; the engine applies it to the loop)
    blas_threads = BLAS_THREADS

    def __init__(self, W1, W2, reduce="auto"):
        W1 = np.array(W1, dtype=np.float64, ndmin=3)
        W2 = np.array(W2, dtype=np.float64, ndmin=3)
        if W1.ndim != 3 or W2.ndim != 3 or W1.shape[0] != W2.shape[0] or W1.shape[2] != W2.shape[2]:
            raise ValueError(f"W1, W2 must be (R, n, h), (R, m, h); got {W1.shape}, {W2.shape}")
        self.R, self.n, self.h = W1.shape
        self.m = W2.shape[1]
        with blas_threads(self.blas_threads):
            stack = reduce_width_stack(W1, W2)
        self.reductions = stack.reductions
        self.ranks = stack.ranks
        # (R, h, k), k the largest rank: zero columns for seeds of lower rank stay zero under GD
        self.Q = stack.Q
        self.reduced = bool(self.h > self.n + self.m) if reduce == "auto" else bool(reduce)
        self.W1_0, self.W2_0 = W1, W2
        self.k = self.Q.shape[2] if self.reduced else self.h
        self._A0 = stack.S1 if self.reduced else W1.copy()  # W1 Q, the reduction's own product
        self._B0 = stack.S2 if self.reduced else W2.copy()

    def init_state(self) -> tuple:
        """``(A, B)``: the (reduced) initial weights, fresh copies."""
        return self._A0.copy(), self._B0.copy()

    def initial_weights(self) -> tuple:
        """The full-width weights the model was given, ``(W1(0), W2(0))`` (R, n, h), (R, m, h): what
        :meth:`full_weights` of :meth:`init_state` gives up to round-off, without the expansion."""
        return self.W1_0, self.W2_0

    @staticmethod
    def product(state, *rest):
        """``W = A B^T`` (R, n, m); ``product((A, B))`` (also ``product(A, B)``)."""
        A, B = (state, rest[0]) if rest else state
        return A @ np.swapaxes(B, -1, -2)

    @staticmethod
    def param_grads(state, Gl, *rest):
        """Gradients of L with respect to (W1, W2): ``(Gl W2, Gl^T W1)``; ``param_grads((A, B), Gl)``
        (also ``param_grads(A, B, Gl)``)."""
        if rest:
            (A, B), Gl = (state, Gl), rest[0]
        else:
            A, B = state
        return Gl @ B, np.swapaxes(Gl, -1, -2) @ A

    @staticmethod
    def step(state, grads, eta):
        """Eqs. (7)-(8): ``(A - eta gA, B - eta gB)``, eta of shape (R,)."""
        (A, B), (gA, gB) = state, grads
        e = np.asarray(eta)[:, None, None]
        return A - e * gA, B - e * gB

    @staticmethod
    def grad_sq(state, grads):
        """``||grad_W1 L||_F^2 + ||grad_W2 L||_F^2`` (R,) (the reduction preserves Frobenius norms)."""
        gA, gB = grads
        return np.sum(gA * gA, axis=(-2, -1)) + np.sum(gB * gB, axis=(-2, -1))

    @staticmethod
    def weight_fro_prod(state):
        """``||W1||_F ||W2||_F`` (R,)."""
        A, B = state
        return np.sqrt(np.sum(A * A, axis=(-2, -1)) * np.sum(B * B, axis=(-2, -1)))

    def round_off(self, state):
        """``delta = 64 eps ||W1||_F ||W2||_F`` (R,): bound on the computed product's error
        (:mod:`convtool.numeric.engine`, rounding band)."""
        return 64 * np.finfo(np.float64).eps * self.weight_fro_prod(state)

    def imbalance(self, state, *rest):
        """``Q^T D Q`` (R, r, r): D's nonzero spectrum and ||D(t) - D(0)||_F in r x r form."""
        A, B = (state, rest[0]) if rest else state
        if not self.reduced:
            A, B = A @ self.Q, B @ self.Q
        return reduced_imbalance(A, B)

    def full_weights(self, state, *rest):
        """Full-width weights (R, n, h), (R, m, h)."""
        A, B = (state, rest[0]) if rest else state
        if self.reduced:
            Qt = np.swapaxes(self.Q, -1, -2)
            return A @ Qt, B @ Qt
        return A.copy(), B.copy()

    @staticmethod
    def spectra(state, W, D=None, tracker=None):
        """:func:`spectra_batch` of the state ``(A, B)`` and its product W (``tracker``: its warm start)."""
        A, B = state
        return spectra_batch(A, B, W, D, tracker)


class ProblemOne:
    """GD on Problem 1 itself, ``min_W l(W)``, started at ``W(0) = W1(0) W2(0)^T`` (Fig. 4 reference).

    With eta = 1/K it attains the non-overparametrized rate ``1 - mu/K`` (eq. 6).
    """

    name = "problem 1"

    def __init__(self, W0):
        self.W0 = np.array(W0, dtype=np.float64, ndmin=3)
        self.R, self.n, self.m = self.W0.shape

    def init_state(self):
        return (self.W0.copy(),)
