"""Deep linear networks ``L(a_N W_N ... W_1)`` of Zhao & Xu, for the GD engine, with the paper's per-iterate quantities.

The model of [ZX2024]_ (eq. 6): layers ``W_j`` of shape (n_j, n_{j-1}), j = 1..N, n_0 = d inputs,
n_N = k outputs, end-to-end matrix ``a_N W_{N:1}`` (k x d) with ``a_N = 1/sqrt(n_1 ... n_N)``, trained by
plain simultaneous GD (eq. 7). Everything here uses the equivalent parametrization of Remark 1, eq. (9),
``V_j = W_j / sqrt(n_j)``: then ``V_{N:1} = a_N W_{N:1}`` exactly, eq. (7) is
``V_j <- V_j - (eta / n_j) V_{N:j+1}^T grad L(V_{N:1}) V_{j-1:1}^T``, and no product of widths is ever
formed (a_N underflows for deep wide networks; the V's stay O(1)).

Layouts (read this before mixing results with the paper)
--------------------------------------------------------
convtool stores data with samples as rows: ``X`` (M, d), ``Y`` (M, k), loss ``l(W) = 1/2 ||Y - X W||_F^2``
with ``W`` (d, k). The paper uses columns, ``X_paper = X^T``, and end-to-end matrices ``V`` (k, d). The
model's ``product`` is therefore ``W = V^T = (a_N W_{N:1})^T`` (R, d, k), so every convtool loss is reused
unchanged, and the loss gradient ``Gl`` (d, k) is the transpose of the paper's ``grad L(V)`` (k, d).
The projector P_X of the paper projects onto the column space of X_paper, which is the row space of the
row-sample X in R^d: its basis ``U_X`` (d, r) is made of the leading RIGHT singular vectors of ``X``
(:func:`projector_basis`). The semi-norm ``||A||_X = ||A P_X||_F`` of a paper-layout A (k, d) is
``||U_X^T A^T||_F`` for the convtool-layout ``A^T`` (d, k); the functions taking matrices have a
``layout`` argument, ``"convtool"`` (default, (..., d, k)) or ``"paper"`` ((..., k, d)).

Batching: the model and the per-iterate primitives carry a leading seed axis R (like
:class:`~convtool.numeric.models.TwoLayerLinear`). ``U_X`` is (d, r), shared by the batch, or (R, d, r).

Cost of one step: with ``T_j = V_{N:j+1}`` (k x n_j, suffix products) and ``H_j = grad V_{j-1:1}^T``
(k x n_{j-1}, built as ``H_{j+1} = H_j V_j^T``) the layer gradient is the outer-product-shaped
``g_j = T_j^T H_j``; product, gradients and update take ``O(k sum_j n_j n_{j-1})`` flops (the network
is used transposed when d < k, giving ``O(min(d, k) sum_j n_j n_{j-1})``). ``product`` keeps its
suffix products for the ``param_grads`` call on the same state (state arrays are treated as
immutable: ``step`` returns new arrays, never modifies them in place).

References
----------
.. [ZX2024] H. Zhao and J. Xu, "Convergence Analysis and Trajectory Comparison of Gradient Descent for
   Overparameterized Deep Linear Networks", TMLR 07/2024; shared/papers/deep-linear-trajectory-zhao-xu.txt,
   reading notes shared/notes/deep-linear-trajectory.md.

Examples
--------
>>> import numpy as np
>>> from convtool.numeric.losses import SquaredLoss
>>> rng = np.random.default_rng(0)
>>> X, Y = rng.normal(size=(20, 4)), rng.normal(size=(20, 2))
>>> layers = init_layers([4, 30, 30, 2], "orthogonal", seed=0)
>>> mdl = DeepLinear(layers)
>>> mdl.N, mdl.widths, mdl.R
(3, (4, 30, 30, 2), 1)
>>> state = mdl.init_state()
>>> W = mdl.product(state)                      # (R, d, k) = (a_N W_{N:1})^T
>>> W.shape
(1, 4, 2)
>>> loss = SquaredLoss(X, Y)
>>> grads = mdl.param_grads(state, loss.grad(W))
>>> state1 = mdl.step(state, grads, np.array([1e-3]))
>>> bool(loss.excess(mdl.product(state1))[0] < loss.excess(W)[0])
True
>>> U, r = projector_basis(X)
>>> p_lo, p_hi, method = P_spectrum(state, U)   # equal-width orthogonal init: P(0) = (N / n_N) Id
>>> float(np.round(p_lo[0], 12)), float(np.round(p_hi[0], 12)), method
(1.0, 1.0, 'dense')
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from convtool.errors import ConvtoolError, InputError

__all__ = ["DeepLinear", "init_layers", "INIT_SCHEMES", "projector_basis", "x_seminorm_sq", "P_apply",
           "P_spectrum", "region_params", "saddle_margin", "layer_drift", "residual_ratio",
           "bare_layerwise_step", "one_peak_index"]

EPS = np.finfo(np.float64).eps
#: largest n_N r for which P_spectrum falls back to the dense matrix when ARPACK fails
_DENSE_FALLBACK_MAX = 4096

#: initialization schemes of Sec. 2.3 (:func:`init_layers`)
INIT_SCHEMES = {
    "gaussian": "all entries i.i.d. N(0, 1) (Sec. 2.3, Gaussian initialization)",
    "orthogonal": "one-peak random orthogonal embeddings / projections (Definition 1)",
    "balanced": "special balanced initialization, equal hidden widths n >= max(n_0, n_N) (Sec. 2.3)",
}


def _T(A):
    return np.swapaxes(A, -1, -2)


# --------------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------------

def _as_layers(layers, what="layer") -> list:
    """Validated float64 copies of the layers, all batched (R, n_j, n_{j-1}); one-line InputErrors."""
    if isinstance(layers, np.ndarray) or not isinstance(layers, Sequence):
        raise InputError("deep linear layers must be a list of N >= 2 arrays W_1..W_N, W_j of shape "
                         "(n_j, n_{j-1}) or (R, n_j, n_{j-1})")
    N = len(layers)
    if N < 2:
        raise InputError(f"a deep linear network needs depth N >= 2 (Zhao & Xu, Sec. 2.2); got {N} {what}(s)")
    out = []
    for j, W in enumerate(layers, start=1):
        try:
            A = np.array(W, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{what} W_{j} is not a numeric array ({exc})") from None
        if A.ndim == 2:
            A = A[None]
        if A.ndim != 3:
            raise InputError(f"{what} W_{j} must be (n_{j}, n_{j - 1}) or (R, n_{j}, n_{j - 1}); got shape {A.shape}")
        if 0 in A.shape:
            raise InputError(f"{what} W_{j} has an empty dimension: shape {A.shape}")
        if not np.isfinite(A).all():
            raise InputError(f"{what} W_{j} has non-finite entries (NaN or inf)")
        out.append(A)
    Rs = {A.shape[0] for A in out}
    R = max(Rs)
    if not Rs <= {1, R}:
        raise InputError(f"deep linear layers disagree on the batch size R: {[A.shape[0] for A in out]}")
    out = [np.broadcast_to(A, (R,) + A.shape[1:]).copy() if A.shape[0] != R else A for A in out]
    for j in range(1, N):
        if out[j].shape[2] != out[j - 1].shape[1]:
            raise InputError(f"{what} W_{j + 1} has {out[j].shape[2]} columns but W_{j} has {out[j - 1].shape[1]} "
                             f"rows: W_j must be (n_j, n_{{j-1}}) (shapes {out[j - 1].shape[1:]}, {out[j].shape[1:]})")
    return out


def _suffixes(Vs: Sequence[np.ndarray]) -> list:
    """``T[j] = V_{N:j+1}`` for j = 0..N-1 (T[0] = V_{N:1}); ``T[N] = None`` is the identity.

    0-based ``Vs[j] = V_{j+1}``; N - 1 matmuls, each k x n_j x n_{j-1}.
    """
    N = len(Vs)
    T = [None] * (N + 1)
    T[N - 1] = Vs[N - 1]
    for j in range(N - 2, -1, -1):
        T[j] = T[j + 1] @ Vs[j]
    return T


def _layer_grads(Vs: Sequence[np.ndarray], T: list, G: np.ndarray) -> list:
    """``g_j = dL/dV_j = V_{N:j+1}^T G V_{j-1:1}^T`` for all j from the suffixes T and G (paper layout).

    ``H_1 = G``, ``H_{j+1} = H_j V_j^T`` (k x n_j), ``g_j = T_j^T H_j``: 2N - 1 matmuls in all.
    """
    N = len(Vs)
    out = []
    H = G
    for j in range(N):
        out.append(H if T[j + 1] is None else _T(T[j + 1]) @ H)
        if j < N - 1:
            H = H @ _T(Vs[j])
    return out


class DeepLinear:
    """Deep linear network ``L(V_{N:1}) = L(a_N W_N ... W_1)`` (eq. 6), batched over R seeds, in V-form (eq. 9).

    Duck-typed like :class:`~convtool.numeric.models.TwoLayerLinear`, with the parameters passed as one
    state tuple ``(V_1, ..., V_N)``, ``V_j = W_j / sqrt(n_j)`` of shape (R, n_j, n_{j-1}):

    * ``product(state)`` -> ``W = (V_{N:1})^T = (a_N W_{N:1})^T`` (R, d, k), the argument of convtool's losses;
    * ``param_grads(state, Gl)`` -> ``g_j = dL/dV_j = V_{N:j+1}^T G V_{j-1:1}^T`` with ``G = Gl^T`` (k, d);
    * ``step(state, grads, eta)`` -> eq. (7) in V-form, ``V_j - (eta / n_j) g_j`` (eta of shape (R,));
    * ``grad_sq(state, grads)`` -> ``sum_j ||dL/dW_j||_F^2 = sum_j ||g_j||_F^2 / n_j`` (R,);
    * ``full_weights(state)`` -> ``[W_j] = [sqrt(n_j) V_j]``.

    Parameters
    ----------
    layers : list of N >= 2 arrays
        The initial W_j (unscaled, as in eq. 7), each (n_j, n_{j-1}) or (R, n_j, n_{j-1}); an unbatched
        layer (or R = 1) is broadcast to the batch. Copied, never modified.

    Raises
    ------
    InputError
        Depth N < 2 (the paper needs N >= 2), a broken shape chain (names the layer), NaN/inf entries
        (names the layer), batch sizes that disagree.

    Attributes
    ----------
    R, N : int
        Batch size and depth (number of weight matrices).
    widths : tuple of int
        ``(n_0, ..., n_N)``, n_0 = d, n_N = k.
    d, k : int
        Input and output dimensions (also as ``n``, ``m``: the shape (n, m) of the product, as for the losses).
    W_0 : list of ndarray
        The initial layers (copies).
    """

    name = "deep linear"

    def __init__(self, layers):
        Ws = _as_layers(layers)
        self.N = len(Ws)
        self.R = Ws[0].shape[0]
        self.widths = (int(Ws[0].shape[2]),) + tuple(int(W.shape[1]) for W in Ws)
        self.d, self.k = self.widths[0], self.widths[-1]
        self.n, self.m = self.d, self.k
        self.W_0 = Ws
        self._V0 = tuple(W / np.sqrt(n) for W, n in zip(Ws, self.widths[1:]))
        # work with the transposed network V^T = V_1^T ... V_N^T when its output side (d) is the smaller one
        self._flip = self.d < self.k
        self._cache = None

    # -- state ------------------------------------------------------------------------------------
    def init_state(self) -> tuple:
        """``(V_1(0), ..., V_N(0))``, ``V_j(0) = W_j(0) / sqrt(n_j)`` (fresh copies)."""
        return tuple(V.copy() for V in self._V0)

    def _oriented(self, state):
        return [_T(V) for V in reversed(state)] if self._flip else list(state)

    def _suffix_cache(self, state):
        c = self._cache
        if c is not None and len(c[0]) == len(state) and all(a is b for a, b in zip(c[0], state)):
            return c[1]
        if len(state) != self.N:
            raise InputError(f"state has {len(state)} layers; this model has N = {self.N}")
        T = _suffixes(self._oriented(state))
        self._cache = (tuple(state), T)  # holds the arrays, so their identity cannot be reused
        return T

    # -- engine interface ---------------------------------------------------------------------------
    def product(self, state) -> np.ndarray:
        """``W = (V_{N:1})^T = (a_N W_{N:1})^T``, shape (R, d, k) (convtool layout)."""
        T0 = self._suffix_cache(state)[0]
        return T0 if self._flip else _T(T0)

    def param_grads(self, state, Gl) -> tuple:
        """Gradients ``g_j = dL/dV_j = V_{N:j+1}^T G V_{j-1:1}^T``, G = Gl^T (k, d), Gl the loss gradient
        at the product (R, d, k); ``dL/dW_j = g_j / sqrt(n_j)`` (eqs. 7, 9). O(N) matmuls in all."""
        Gl = np.asarray(Gl, dtype=np.float64)
        T = self._suffix_cache(state)
        Vs = self._oriented(state)
        if self._flip:
            g = _layer_grads(Vs, T, Gl)
            return tuple(_T(x) for x in reversed(g))
        return tuple(_layer_grads(Vs, T, _T(Gl)))

    def step(self, state, grads, eta) -> tuple:
        """Eq. (7) in V-form (eq. 9): ``V_j <- V_j - (eta / n_j) g_j``; eta scalar or (R,). New arrays."""
        e = np.broadcast_to(np.asarray(eta, dtype=np.float64), (self.R,))[:, None, None]
        return tuple(V - (e / n) * g for V, g, n in zip(state, grads, self.widths[1:]))

    def grad_sq(self, state, grads) -> np.ndarray:
        """``sum_j ||dL/dW_j||_F^2 = sum_j ||g_j||_F^2 / n_j`` (R,): the squared gradient norm of eq. (7)'s loss."""
        return sum(np.einsum("rij,rij->r", g, g) / n for g, n in zip(grads, self.widths[1:]))  # no g*g temporary

    def gd_coordinates(self, state, grads):
        """``(W_j, dL/dW_j)``: the coordinates of eq. (7), in which the step is plain GD ``W - eta g``
        (the V_j of eq. 9 take per-layer steps eta/n_j); what step-size rules such as adgd must see."""
        r = [np.sqrt(float(n)) for n in self.widths[1:]]
        return (tuple(V * s for V, s in zip(state, r)), tuple(g / s for g, s in zip(grads, r)))

    def full_weights(self, state) -> list:
        """The unscaled layers ``W_j = sqrt(n_j) V_j`` (R, n_j, n_{j-1})."""
        return [np.sqrt(n) * V for V, n in zip(state, self.widths[1:])]

    def drift(self, state) -> np.ndarray:
        """``||W_j(t) - W_j(0)||_F`` (R, N): :func:`layer_drift` from this model's initial state."""
        return layer_drift(state, self._V0)


# --------------------------------------------------------------------------------------------------
# initializations (Sec. 2.3)
# --------------------------------------------------------------------------------------------------

def _haar(rng, rows: int, cols: int) -> np.ndarray:
    """Haar-distributed (rows x cols) matrix with orthonormal columns, rows >= cols: QR of a Gaussian
    with the signs of R's diagonal moved into Q (Remark 9 / Prop. 3.4 of [ZX2024]_; Mezzadri 2007)."""
    Q, Rf = np.linalg.qr(rng.standard_normal((rows, cols)))
    s = np.sign(np.diag(Rf))
    s[s == 0] = 1.0
    return Q * s


def _check_widths(widths) -> tuple:
    try:
        w = tuple(int(n) for n in widths)
    except (TypeError, ValueError):
        raise InputError(f"widths must be a sequence of positive integers (n_0, ..., n_N); got {widths!r}") from None
    if len(w) < 3:
        raise InputError(f"widths (n_0, ..., n_N) need N >= 2 layers (at least 3 entries); got {w}")
    if any(n < 1 for n in w) or any(float(a) != b for a, b in zip(widths, w)):
        raise InputError(f"widths must be positive integers; got {tuple(widths)}")
    return w


def one_peak_index(widths) -> int:
    """The peak p of a one-peak width profile (Definition 1): ``1 <= p < N`` with
    ``n_0 <= n_1 <= ... <= n_p`` and ``n_p >= n_{p+1} >= ... >= n_N`` (the first such p).

    Raises :class:`InputError` for a profile that is not one-peak.
    """
    w = _check_widths(widths)
    N = len(w) - 1
    p = 1 + int(np.argmax(w[1:N]))
    ok = all(w[i] <= w[i + 1] for i in range(p)) and all(w[i] >= w[i + 1] for i in range(p, N))
    if not ok:
        raise InputError(f"widths {w} are not one-peak (Definition 1 needs n_0 <= ... <= n_p >= ... >= n_N "
                         f"for some 1 <= p < N)")
    return p


def init_layers(widths, scheme: str = "gaussian", seed: int = 0, R: int = 1) -> list:
    """Random initial layers ``W_1..W_N`` (NOT the V's) of Sec. 2.3 [ZX2024]_, batched (R, n_j, n_{j-1}).

    Parameters
    ----------
    widths : sequence of int
        ``(n_0, ..., n_N)``, N >= 2.
    scheme : {"gaussian", "orthogonal", "balanced"}
        * ``gaussian``: every entry i.i.d. N(0, 1); with a_N this gives the normalization (8),
          ``E ||a_N W_{N:1} x||^2 = ||x||^2`` (Lemma 9).
        * ``orthogonal``: one-peak random orthogonal embeddings and projections (Definition 1):
          ``W_i^T W_i = n_i I`` for i <= p (Haar embeddings, scaled), ``W_j W_j^T = n_{j-1} I`` for j > p
          (Haar projections, scaled), p from :func:`one_peak_index`; a profile that is not one-peak is an error.
        * ``balanced``: the special balanced init (Sec. 2.3), needs ``n_1 = ... = n_{N-1} = n >= max(n_0, n_N)``:
          ``W_1 = sqrt(n) U_1 [I; 0] V_1^T``, ``W_i = sqrt(n) U_i U_{i-1}^T`` (2 <= i <= N-1),
          ``W_N = sqrt(n) U_N [I, 0] V_N^T``; all of V_1 (n_0 x n_0), U_1..U_{N-1} (n x n), U_N (n_N x n_N)
          and V_N (n x n) are Haar (the paper needs only V_N random).
    seed : int
        Seed r of the batch uses ``np.random.default_rng(seed + r)``.
    R : int
        Batch size.

    Draw order per seed: gaussian and orthogonal draw W_1, ..., W_N in turn (orthogonal: one Gaussian
    (max x min) matrix per layer, QR, sign fix); balanced draws V_1, U_1, ..., U_{N-1}, U_N, V_N.

    Examples
    --------
    >>> Ws = init_layers([3, 8, 8, 2], "orthogonal", seed=1, R=2)
    >>> [W.shape for W in Ws]
    [(2, 8, 3), (2, 8, 8), (2, 2, 8)]
    >>> bool(np.allclose(Ws[0][0].T @ Ws[0][0], 8 * np.eye(3)))
    True
    """
    w = _check_widths(widths)
    N = len(w) - 1
    if scheme not in INIT_SCHEMES:
        raise InputError(f"unknown deep-linear init {scheme!r}; choose one of {', '.join(INIT_SCHEMES)}")
    R = int(R)
    if R < 1:
        raise InputError(f"batch size R must be >= 1; got {R}")
    if scheme == "orthogonal":
        p = one_peak_index(w)
    if scheme == "balanced":
        hidden = set(w[1:N])
        if len(hidden) != 1 or w[1] < max(w[0], w[N]):
            raise InputError(f"balanced init needs equal hidden widths n >= max(n_0, n_N); got widths {w}")
    out = [np.empty((R, w[j], w[j - 1])) for j in range(1, N + 1)]
    for r in range(R):
        rng = np.random.default_rng(int(seed) + r)
        if scheme == "gaussian":
            for j in range(1, N + 1):
                out[j - 1][r] = rng.standard_normal((w[j], w[j - 1]))
        elif scheme == "orthogonal":
            for j in range(1, N + 1):
                if j <= p:   # embedding: n_j >= n_{j-1}, W^T W = n_j I
                    out[j - 1][r] = np.sqrt(w[j]) * _haar(rng, w[j], w[j - 1])
                else:        # projection: n_j <= n_{j-1}, W W^T = n_{j-1} I
                    out[j - 1][r] = np.sqrt(w[j - 1]) * _haar(rng, w[j - 1], w[j]).T
        else:
            n, nx, ny = w[1], w[0], w[N]
            V1 = _haar(rng, nx, nx)
            U = [_haar(rng, n, n) for _ in range(N - 1)]   # U_1..U_{N-1}
            UN = _haar(rng, ny, ny)
            VN = _haar(rng, n, n)
            out[0][r] = np.sqrt(n) * U[0][:, :nx] @ V1.T            # U_1 [I; 0] V_1^T
            for i in range(2, N):
                out[i - 1][r] = np.sqrt(n) * U[i - 1] @ U[i - 2].T   # V_i = U_{i-1}
            out[N - 1][r] = np.sqrt(n) * UN @ VN[:, :ny].T           # U_N [I, 0] V_N^T
    return out


# --------------------------------------------------------------------------------------------------
# per-iterate primitives
# --------------------------------------------------------------------------------------------------

def projector_basis(X) -> tuple[np.ndarray, int]:
    """Orthonormal basis ``U_X`` (d, r) of the row space of the row-sample X (M, d), and r = rank X.

    ``P_X = U_X U_X^T`` is the projector of [ZX2024]_ Sec. 2.1 onto the column space of
    ``X_paper = X^T``, i.e. ``P_X = X_paper (X_paper^T X_paper)^+ X_paper^T``. ``U_X`` holds the leading
    r RIGHT singular vectors of X (the notes' ``svd(X)[0]`` is for the paper's column layout).

    Rank tolerance: singular values ``sigma_i > max(M, d) * eps * sigma_1`` count (numpy's
    ``matrix_rank`` default). X = 0 is an error (the paper assumes X != 0).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise InputError(f"X must be a 2-D (M, d) array; got shape {X.shape}")
    if not np.isfinite(X).all():
        raise InputError("X has non-finite entries (NaN or inf)")
    _, s, Vt = np.linalg.svd(X, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        raise InputError("X is zero: the semi-norm ||.||_X needs X != 0 (Sec. 2.1)")
    tol = max(X.shape) * EPS * s[0]
    r = int(np.sum(s > tol))
    return Vt[:r].T.copy(), r


def _layout_to_paper(A, layout):
    if layout == "convtool":
        return _T(np.asarray(A, dtype=np.float64))
    if layout == "paper":
        return np.asarray(A, dtype=np.float64)
    raise InputError(f"layout must be 'convtool' ((..., d, k)) or 'paper' ((..., k, d)); got {layout!r}")


def x_seminorm_sq(A, U_X, layout: str = "convtool") -> np.ndarray:
    """``||A||_X^2 = ||A P_X||_F^2`` (Sec. 2.1) of paper-layout A (k, d), batched over leading axes.

    ``layout="convtool"`` (default) takes ``A^T`` (..., d, k), as convtool's products and gradients are
    stored, and returns ``||U_X^T A^T||_F^2``; ``layout="paper"`` takes (..., k, d): ``||A U_X||_F^2``.
    """
    B = _layout_to_paper(A, layout) @ np.asarray(U_X, dtype=np.float64)
    return np.sum(B * B, axis=(-2, -1))


def _as_V(layers_or_state, kind: str = "auto") -> list:
    """V's from a state tuple (V_j, as from ``init_state``) or a list of layers (W_j, as from ``init_layers``)."""
    if kind == "auto":
        kind = "state" if isinstance(layers_or_state, tuple) else "layers"
    if kind not in ("state", "layers"):
        raise InputError(f"kind must be 'auto', 'state' or 'layers'; got {kind!r}")
    Vs = [np.asarray(V, dtype=np.float64) for V in layers_or_state]
    Vs = [V[None] if V.ndim == 2 else V for V in Vs]
    if len(Vs) < 2:
        raise InputError(f"a deep linear network needs depth N >= 2; got {len(Vs)} layer(s)")
    for j in range(1, len(Vs)):
        if Vs[j].ndim != 3 or Vs[j].shape[-1] != Vs[j - 1].shape[-2]:
            raise InputError(f"layer W_{j + 1} of shape {Vs[j].shape} does not follow W_{j} of shape "
                             f"{Vs[j - 1].shape}: W_j must be (R, n_j, n_{{j-1}})")
    if kind == "layers":
        Vs = [W / np.sqrt(W.shape[-2]) for W in Vs]
    return Vs


def _grams(Vs, U_X):
    """Per-term factors of P(t) (eq. 41) in the basis A = B U_X^T:
    ``L_i = V_{N:i+1} V_{N:i+1}^T`` (R, k, k) and ``Rg_i = U_X^T V_{i-1:1}^T V_{i-1:1} U_X`` (R, r, r), i = 1..N,
    with the empty products V_{N:N+1} = I_k (L_N = I) and V_{0:1} = I_d (Rg_1 = I_r)."""
    N = len(Vs)
    R = Vs[0].shape[0]
    k = Vs[-1].shape[-2]
    U = np.asarray(U_X, dtype=np.float64)
    Ub = np.broadcast_to(U, (R,) + U.shape[-2:])
    r = U.shape[-1]
    T = _suffixes(Vs)
    Ls = [T[i] @ _T(T[i]) for i in range(1, N)] + [np.broadcast_to(np.eye(k), (R, k, k))]
    Rg = [np.broadcast_to(np.eye(r), (R, r, r))]
    Q = Ub
    for i in range(1, N):
        Q = Vs[i - 1] @ Q                  # V_{i:1} U_X (n_i x r)
        Rg.append(_T(Q) @ Q)
    return Ls, Rg


def P_apply(state, A, U_X, layout: str = "convtool") -> np.ndarray:
    """The operator of eq. (41), in V-variables:
    ``P(t)[A] = sum_i (1/n_i) V_{N:i+1} V_{N:i+1}^T (A P_X) P_X V_{i-1:1}^T V_{i-1:1} P_X``.

    A in ``layout`` ("convtool": (R, d, k); "paper": (R, k, d)); the result in the same layout. By the
    end-to-end identity (42), ``V(t+1) = V(t) - eta P(t)[grad L] + a_N E(t)`` holds in the X semi-norm.
    """
    Vs = list(state)
    Ap = _layout_to_paper(A, layout)
    U = np.asarray(U_X, dtype=np.float64)
    Ls, Rg = _grams(Vs, U)
    B = Ap @ U
    out = sum((L / V.shape[-2]) @ B @ Rm for L, Rm, V in zip(Ls, Rg, Vs))
    P = out @ _T(U)
    return _T(P) if layout == "convtool" else P


def P_spectrum(state, U_X, dense_max: int = 500, tol: float = 0.0) -> tuple[np.ndarray, np.ndarray, str]:
    """Extreme eigenvalues of P(t) (eq. 41) on the subspace {A = A P_X}, scaled by n_N / N: ``(p_lo, p_hi, method)``.

    In the basis ``A = B U_X^T`` (B of shape (n_N, r)) the operator is ``B -> sum_i (1/n_i) L_i B Rg_i``
    with ``L_i = V_{N:i+1} V_{N:i+1}^T`` (n_N x n_N) and ``Rg_i = U_X^T V_{i-1:1}^T V_{i-1:1} U_X`` (r x r);
    the empty products give ``L_N = I``, ``Rg_1 = I``. Its matrix for the row-major ``vec(B)`` is
    ``sum_i (1/n_i) kron(L_i, Rg_i)`` (the notes' ``Rg_i kron L_i`` is the same matrix for column-major
    vec, a permutation similarity), of size (n_N r)^2. ``p = (n_N / N) lambda``: (43) says
    ``e^{-2 c_2} <= p_lo <= p_hi <= e^{2 c_1}`` in the convergence region, and p_lo = p_hi = 1 exactly
    for the equal-width orthogonal or balanced init at t = 0. (On all of R^{k x d} lambda_min is 0 when
    rank X < d, hence the restriction.)

    Parameters
    ----------
    state : tuple of (R, n_j, n_{j-1}) arrays
        The V's.
    U_X : ndarray (d, r) or (R, d, r)
        From :func:`projector_basis`.
    dense_max : int
        ``n_N r <= dense_max`` (or <= 2): exact dense ``eigvalsh`` (method "dense"). Above it:
        ``scipy.sparse.linalg.eigsh`` (``which="LA"`` and ``"SA"``) on a ``LinearOperator`` applying
        the operator as 2N small matrix products per call, with the fixed start vector
        ``default_rng(0).standard_normal(n_N r)`` (method "lanczos"); the big matrix is never formed,
        except as a fallback for a seed where ARPACK fails (no convergence, zero operator) and
        ``n_N r <= 4096``; beyond that a failure raises :class:`~convtool.errors.ConvtoolError`.
    tol : float
        ARPACK's relative tolerance (0 = machine precision).

    Returns
    -------
    p_lo, p_hi : ndarray (R,)
        NaN for a seed with non-finite weights.
    method : str
        "dense" or "lanczos".
    """
    Vs = list(state)
    R, N = Vs[0].shape[0], len(Vs)
    k = Vs[-1].shape[-2]
    U = np.asarray(U_X, dtype=np.float64)
    r = U.shape[-1]
    kr = k * r
    with np.errstate(all="ignore"):
        Ls, Rg = _grams(Vs, U)
    Lh = np.stack([L / V.shape[-2] for L, V in zip(Ls, Vs)], axis=1)   # (R, N, k, k)
    Rs = np.stack(Rg, axis=1)                                          # (R, N, r, r)
    ok = np.isfinite(Lh).all(axis=(1, 2, 3)) & np.isfinite(Rs).all(axis=(1, 2, 3))
    Lh = np.where(ok[:, None, None, None], Lh, 0.0)
    Rs = np.where(ok[:, None, None, None], Rs, 0.0)
    lo, hi = np.full(R, np.nan), np.full(R, np.nan)
    if kr <= max(int(dense_max), 2):
        M = np.einsum("riac,ribe->rabce", Lh, Rs).reshape(R, kr, kr)
        ev = np.linalg.eigvalsh(0.5 * (M + _T(M)))
        lo, hi = ev[:, 0].copy(), ev[:, -1].copy()
        method = "dense"
    else:
        from scipy.sparse.linalg import ArpackError, LinearOperator, eigsh

        v0 = np.random.default_rng(0).standard_normal(kr)
        for s in range(R):
            if not ok[s]:
                continue
            Ls_s, Rs_s = Lh[s], Rs[s]

            def mv(v, Ls_s=Ls_s, Rs_s=Rs_s):
                B = np.asarray(v, dtype=np.float64).reshape(k, r)
                return np.einsum("iac,ce,ieb->ab", Ls_s, B, Rs_s, optimize=True).ravel()

            op = LinearOperator((kr, kr), matvec=mv, rmatvec=mv, dtype=np.float64)
            try:
                hi[s] = eigsh(op, k=1, which="LA", v0=v0, tol=tol, return_eigenvectors=False)[0]
                lo[s] = eigsh(op, k=1, which="SA", v0=v0, tol=tol, return_eigenvectors=False)[0]
            except ArpackError as exc:   # includes ArpackNoConvergence; a zero operator stops ARPACK too
                if kr > _DENSE_FALLBACK_MAX:
                    raise ConvtoolError(f"P_spectrum: Lanczos failed for seed {s} ({exc}) and n_N r = {kr} is "
                                        f"too large for the dense fallback") from None
                Mx = np.einsum("iac,ibe->abce", Ls_s, Rs_s).reshape(kr, kr)
                ev = np.linalg.eigvalsh(0.5 * (Mx + Mx.T))
                lo[s], hi[s] = ev[0], ev[-1]
        method = "lanczos"
    scale = k / N
    lo, hi = scale * lo, scale * hi
    lo[~ok], hi[~ok] = np.nan, np.nan
    return lo, hi, method


def _spec_norm(mats, dense_max: int = 250_000) -> float:
    """Spectral norm of the chain ``mats[-1] @ ... @ mats[0]`` (one seed): dense when the product is small,
    else Lanczos (``eigsh``) on its Gram applied through the chain (the product is not formed)."""
    rows, cols = mats[-1].shape[0], mats[0].shape[1]
    if rows * cols <= dense_max or min(rows, cols) <= 2:
        P = mats[0]
        for A in mats[1:]:
            P = A @ P
        return float(np.linalg.norm(P, 2))
    from scipy.sparse.linalg import LinearOperator, eigsh

    def mv(x):
        y = np.asarray(x, dtype=np.float64).ravel()
        for A in mats:
            y = A @ y
        for A in reversed(mats):
            y = A.T @ y
        return y

    op = LinearOperator((cols, cols), matvec=mv, rmatvec=mv, dtype=np.float64)
    v0 = np.random.default_rng(0).standard_normal(cols)
    lam = eigsh(op, k=1, which="LA", v0=v0, tol=1e-12, return_eigenvectors=False)[0]
    return float(np.sqrt(max(lam, 0.0)))


def region_params(layers_or_state, U_X, theta: float = 0.5, kind: str = "auto"):
    """The smallest constants with which the weights satisfy the convergence-region conditions (14)
    of Lemma 3 [ZX2024]_ (lines 1-3; the loss line 4 is not included): ``(c1_hat, c2_hat, M_hat)``.

    In V-variables (notes Sec. 2.6): with ``s^L_i = sqrt(n_N / n_i) sigma(V_{N:i+1})`` (1 <= i <= N-1,
    all n_N singular values; the n_N-th is 0 when n_i < n_N) and ``s^R_i = sigma(V_{i-1:1} U_X)``
    (2 <= i <= N, all r; the r-th is 0 when n_{i-1} < r):

    * ``c1_hat = 2 max ln s`` and ``c2_hat = -2 min ln s`` over all of them (lines 1-2 of (14) hold iff
      c1 >= c1_hat and c2 >= c2_hat; a negative value means every c > 0 is admissible; c2_hat = inf when
      a product is rank deficient);
    * ``M_hat = max_{1 < i <= j < N} 2 ||V_{j:i}|| sqrt(n_j / max(n_{i-1}, n_j)) / N^theta`` (line 3),
      None for N = 2 (no such pair).

    Exact values: 0, 0 for the special balanced init and for the equal-width orthogonal init with
    n >= max(n_0, n_N) (Remark 11, proof of Thm 6); M_hat = 2 there with theta = 0.

    Parameters
    ----------
    layers_or_state : list of W_j or tuple of V_j
        A list (as from :func:`init_layers` or ``full_weights``) is read as unscaled layers W_j, a tuple
        (as from ``init_state`` / ``step``) as V's; ``kind="layers"`` / ``"state"`` overrides.
    U_X : ndarray (d, r) or (R, d, r)
    theta : float
        The exponent theta of (14) (1/2 for Gaussian init, 0 for orthogonal and balanced).

    Returns
    -------
    c1_hat, c2_hat : ndarray (R,)
    M_hat : ndarray (R,) or None
        NaN for a seed with non-finite weights.
    """
    Vs = _as_V(layers_or_state, kind)
    N, R = len(Vs), Vs[0].shape[0]
    k = Vs[-1].shape[-2]
    bad = ~np.all([np.isfinite(V).all(axis=(-2, -1)) for V in Vs], axis=0)   # diverged seeds give NaN
    if bad.any():
        Vs = [np.where(bad[:, None, None], 0.0, V) for V in Vs]
    Ls, Rg = _grams(Vs, U_X)
    logs = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(1, N):                        # s^L_i^2 = (n_N / n_i) eig(L_i)
            n_i = Vs[i - 1].shape[-2]
            ev = np.clip(np.linalg.eigvalsh(Ls[i - 1]), 0.0, None) * (k / n_i)
            logs.append(np.log(ev))
        for i in range(2, N + 1):                    # s^R_i^2 = eig(Rg_i)
            ev = np.clip(np.linalg.eigvalsh(Rg[i - 1]), 0.0, None)
            logs.append(np.log(ev))
    allv = np.concatenate(logs, axis=-1)             # ln s^2 = 2 ln s
    c1 = np.where(bad, np.nan, np.max(allv, axis=-1))
    c2 = np.where(bad, np.nan, -np.min(allv, axis=-1))
    if N == 2:
        return c1, c2, None
    M = np.zeros(R)
    for s in range(R):
        best = 0.0
        for i in range(2, N):
            for j in range(i, N):
                chain = [Vs[t - 1][s] for t in range(i, j + 1)]     # V_i, ..., V_j
                n_j, n_im1 = Vs[j - 1].shape[-2], Vs[i - 1].shape[-1]
                val = 2.0 * _spec_norm(chain) * np.sqrt(n_j / max(n_im1, n_j))
                best = max(best, val)
        M[s] = best / float(N) ** theta
    M[bad] = np.nan
    return c1, c2, M


def saddle_margin(layers_or_state, order: int | None = None, kind: str = "auto"):
    """Bad-saddle margin of Sec. 4.5 [ZX2024]_: ``sigma(W_{N-1:2}) / sqrt(n_{N-1:2}) = sigma(V_{N-1:2})`` (R,).

    Kawaguchi's bad saddles have a rank-deficient ``W_{N-1:2}`` (n_{N-1} x n_1); the paper claims
    ``>= e^{-c_1-c_2}`` in the convergence region. Which singular value (``order``, 1-based, descending):
    by default the smallest, ``min(n_{N-1}, n_1)``-th, for a square or tall ``V_{N-1:2}``, and the
    n_N-th for a wide one (n_{N-1} < n_1): the argument of Sec. 4.5 (``sigma_k(AB) <= ||A|| sigma_k(B)``
    applied to ``W_{N:2} = W_N W_{N-1:2}``) only bounds the n_N-th singular value (notes Sec. 3.9).
    An order beyond min(n_{N-1}, n_1) gives 0. Measured: for a square Gaussian hidden product the smallest
    singular value is O(1/n) (about 1e-3 at n = 400 and 1000, N = 3, d = 16, k = 3) while
    ``e^{-c1_hat - c2_hat}`` is 0.31 and 0.48 and the n_N-th and r-th singular values are about 1.9:
    the paper's bound holds for those, not for sigma_min; pass ``order=n_N`` to compare with it.

    Returns None for N = 2: W_{1:2} is the empty product (the identity by the paper's convention),
    so there is no hidden product to become rank deficient.

    Cost: a dense SVD of the (n_{N-1} x n_1) product per seed (O(n^3)); meant for occasional checks.
    """
    Vs = _as_V(layers_or_state, kind)
    N = len(Vs)
    if N == 2:
        return None
    P = Vs[1]
    for t in range(2, N - 1):
        P = Vs[t] @ P                                  # V_{N-1:2}
    rows, cols = P.shape[-2:]
    k = Vs[-1].shape[-2]
    if order is None:
        order = k if rows < cols else min(rows, cols)
    order = int(order)
    if order < 1:
        raise InputError(f"saddle_margin order must be >= 1; got {order}")
    out = np.zeros(P.shape[0])
    for s in range(P.shape[0]):
        if not np.isfinite(P[s]).all():
            out[s] = np.nan
            continue
        sv = np.linalg.svd(P[s], compute_uv=False)
        out[s] = sv[order - 1] if order <= sv.size else 0.0
    return out


def layer_drift(state, state0) -> np.ndarray:
    """Per-layer drift ``||W_j(t) - W_j(0)||_F = sqrt(n_j) ||V_j(t) - V_j(0)||_F`` (R, N), from V states
    (the quantity of C(t) in the proof of Lemma 3, bounded there by the radius R)."""
    cols = []
    for V, V0 in zip(state, state0):
        D = V - V0
        cols.append(np.sqrt(V.shape[-2]) * np.sqrt(np.einsum("...ij,...ij->...", D, D)))
    return np.stack(cols, axis=-1)


def residual_ratio(V_t, V_t1, grad_t, eta_star, Wstar, U_X, layout: str = "convtool") -> np.ndarray:
    """``tau_hat(t) = ||R(t)||_X / ||V(t) - W*||_X`` with Lemma 4's residual
    ``R(t) = V(t+1) - V(t) + eta_* grad L(V(t))`` (the paper's (16) asks tau_hat(t) <= tau for all t).

    All matrices in one ``layout``: "convtool" (default) takes ``V(t)^T = model.product(state)``
    (R, d, k), the loss gradient ``loss.grad`` at it and ``loss.Wstar`` (d, k) or (R, d, k), i.e. the
    transposes of the paper's (k, d) matrices; "paper" takes (k, d). ``eta_star = (N / n_N) eta``,
    scalar or (R,). Returns (R,) (NaN where V(t) = W* on the row space of X).
    """
    Vt = np.asarray(V_t, dtype=np.float64)
    e = np.asarray(eta_star, dtype=np.float64)
    e = e[..., None, None] if e.ndim else e
    Rt = np.asarray(V_t1, dtype=np.float64) - Vt + e * np.asarray(grad_t, dtype=np.float64)
    num = x_seminorm_sq(Rt, U_X, layout)
    den = x_seminorm_sq(Vt - np.asarray(Wstar, dtype=np.float64), U_X, layout)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, np.sqrt(num / np.where(den > 0, den, 1.0)), np.nan)


def bare_layerwise_step(Vs, X, Y, eta) -> list:
    """One plain-numpy GD step (9) on ``1/2 ||Y - X V_{N:1}^T||_F^2``, nothing recorded (bench baseline).

    ``Vs`` = [V_1..V_N] (n_j, n_{j-1}) (or with a leading batch axis), X (M, d), Y (M, k) row-sample,
    eta a scalar. The same math as ``DeepLinear`` + ``SquaredLoss`` (suffix products, then
    ``g_j = V_{N:j+1}^T G V_{j-1:1}^T``, all gradients before any update), written directly.
    """
    N = len(Vs)
    T = [None] * (N + 1)
    T[N - 1] = Vs[N - 1]
    for j in range(N - 2, -1, -1):
        T[j] = T[j + 1] @ Vs[j]
    E = X @ np.swapaxes(T[0], -1, -2) - Y          # (M, k) residual
    H = np.swapaxes(E, -1, -2) @ X                 # grad L(V) = (V X^T - Y^T) X, (k, d)
    out = []
    for j in range(N):
        g = H if j == N - 1 else np.swapaxes(T[j + 1], -1, -2) @ H
        if j < N - 1:
            H = H @ np.swapaxes(Vs[j], -1, -2)
        out.append(Vs[j] - (eta / Vs[j].shape[-2]) * g)
    return out
