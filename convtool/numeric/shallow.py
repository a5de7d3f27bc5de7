"""Song et al.'s shallow network ``x -> V phi(W x)`` (15): model, loss, initialization, data geometry, spectra.

Paper: Song, Ramezani-Kebrya, Pethick, Eftekhari, Cevher, "Subquadratic Overparameterization for Shallow
Neural Networks", NeurIPS 2021 (arXiv:2111.01875). Samples are rows here (``X`` n x d0, ``Y`` n x d2); the
paper's ``X`` is ``X.T``. Layers ``W`` (d1 x d0), ``V`` (d2 x d1), both trained, no biases.

* :func:`shallow_model` -- the shared :class:`~convtool.numeric.feedforward.FeedForward` with N = 2 and the
  activation compiled from its sympy expression; :class:`ShallowLoss` is the paper's output loss
  ``||F - Y||_F^2`` (16) (no 1/2: twice :class:`~convtool.numeric.losses.FactorizationLoss`).
* :func:`init_scales`, :func:`init_layers` -- (17) ``W0 ~ N(0, omega1^2)``, ``V0 ~ N(0, omega2^2)``; LeCun
  (1/sqrt(d0), 1/sqrt(d1)) and He (sqrt(2/d0), sqrt(2/d1)) are Section 6's family ``omega1 omega2 ~ c/sqrt(d0 d1)``.
* :func:`hadamard_sigma_min` -- ``sigma_min(X^{*t}) = sqrt(lambda_min((X X^T)^{o t}))`` (rows here): the Gram
  of the Khatri-Rao power is the Hadamard power of the Gram, so ``X^{*t}`` (d0^t x n) is never formed.
* :func:`expected_gram` -- the exact ``E[M0]/d1 = K``, ``K_ab = E[phi(w.x_a) phi(w.x_b)]``, w ~ N(0, omega1^2 I):
  a two-dimensional Gauss-Hermite rule per distinct pair (small n), or the kernel ``kappa(rho)`` tabulated on
  a fine grid of correlations and interpolated (unit-norm samples, large n).
* :func:`jacobian_spectrum` -- sigma_min, sigma_max of the Jacobian adjoint (the n d2 singular values of J):
  an SVD of the explicit Jacobian when small, the eigenvalues of the n d2 x n d2 NTK Gram ``J J^T``
  (formed from n x n products) up to :data:`GRAM_MAX`, Lanczos (``eigsh``) on a LinearOperator beyond.
"""

from __future__ import annotations

import math

import numpy as np

from convtool.errors import InputError
from convtool.numeric.feedforward import FeedForward
from convtool.numeric.losses import Loss

__all__ = ["ShallowLoss", "shallow_model", "init_scales", "init_layers", "hadamard_sigma_min", "sigma_max",
           "expected_gram", "jacobian_matrix", "ntk_gram", "jacobian_spectrum", "JAC_DENSE_MAX", "GRAM_MAX",
           "INITS"]

#: explicit Jacobian SVD up to this many entries (n d2 x (d1 d0 + d2 d1))
JAC_DENSE_MAX = 20_000
#: NTK Gram eigenvalues up to this n d2
GRAM_MAX = 4000
INITS = ("lecun", "he", "gaussian")


class ShallowLoss(Loss):
    """The paper's output loss ``f(F) = ||F - Y||_F^2`` (16) of the predictions F (n x d2): alpha_f = beta_f = 2."""

    name = "song-et-al"
    formula = "||V phi(W X) - Y||_F^2"

    def __init__(self, Y):
        Y = np.array(Y, dtype=np.float64)
        if Y.ndim != 2 or Y.size == 0 or not np.isfinite(Y).all():
            raise InputError(f"Y must be a finite non-empty 2-D array (n x d2), got shape {Y.shape}")
        self.Y = self.Wstar = Y
        self.n, self.m = Y.shape
        self.mu = self.K = 2.0
        self.lstar = 0.0

    def excess(self, W):
        E = np.asarray(W) - self.Y
        return np.sum(E * E, axis=(-2, -1))

    def grad(self, W):
        return 2.0 * (np.asarray(W) - self.Y)


def shallow_model(X, W, V, act) -> FeedForward:
    """``FeedForward([W, V], X, act.activation())``: F = phi(X W^T) V^T (R, n, d2)."""
    return FeedForward([W, V], X, act.activation())


def init_scales(init: str, d0: int, d1: int, omega1: float | None = None, omega2: float | None = None):
    """``(omega1, omega2, how)``: explicit values win; ``lecun``/``he`` (Section 6); one omega given: the other
    from omega1 omega2 = 1/sqrt(d0 d1) ((19), Section 6's family); nothing given: LeCun."""
    for name, v in (("omega1", omega1), ("omega2", omega2)):
        if v is not None and not (np.isfinite(v) and v > 0):
            raise InputError(f"--{name} must be a positive number, got {v!r}")
    if init not in INITS:
        raise InputError(f"--init {init!r} does not apply to --model shallow (choose lecun, he, or gaussian with "
                         f"--omega1/--omega2)")
    c = {"he": 2.0}.get(init, 1.0)
    if omega1 is not None and omega2 is not None:
        return float(omega1), float(omega2), "given"
    if omega1 is not None:
        return float(omega1), c / (omega1 * math.sqrt(d0 * d1)), f"omega2 from omega1 omega2 = {c:g}/sqrt(d0 d1)"
    if omega2 is not None:
        return c / (omega2 * math.sqrt(d0 * d1)), float(omega2), f"omega1 from omega1 omega2 = {c:g}/sqrt(d0 d1)"
    if init == "he":
        return math.sqrt(2 / d0), math.sqrt(2 / d1), "He: sqrt(2/d0), sqrt(2/d1)"
    return 1 / math.sqrt(d0), 1 / math.sqrt(d1), "LeCun: 1/sqrt(d0), 1/sqrt(d1)"


def init_layers(d0: int, d1: int, d2: int, omega1: float, omega2: float, seed: int = 0, R: int = 1):
    """(17): ``W0`` (R, d1, d0) ~ N(0, omega1^2), ``V0`` (R, d2, d1) ~ N(0, omega2^2), seed r of the batch
    drawn from ``default_rng([seed, r])``."""
    Ws, Vs = [], []
    for r in range(R):
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, r])
        Ws.append(omega1 * rng.standard_normal((d1, d0)))
        Vs.append(omega2 * rng.standard_normal((d2, d1)))
    return np.stack(Ws), np.stack(Vs)


def sigma_max(A) -> float:
    return float(np.linalg.norm(np.asarray(A, dtype=np.float64), 2))


def hadamard_sigma_min(X, t: int) -> tuple[float, str | None]:
    """``(sigma_min(X^{*t}), reason)`` from the Hadamard power of the Gram ``(X X^T)^{o t}`` (rows as samples).

    0 with the reason when the rank bound ``C(d0 + t - 1, t) < n`` holds (the columns ``x^{(x) t}`` are symmetric
    tensors, so X^{*t} has rank at most the dimension of that space, not d0^t) or lambda_min is below the
    round-off of the Gram.
    """
    X = np.asarray(X, dtype=np.float64)
    n, d0 = X.shape
    if t < 1 or int(t) != t:
        raise InputError(f"t must be a positive integer, got {t!r}")
    rank = math.comb(d0 + int(t) - 1, int(t))
    if rank < n:
        return 0.0, (f"rank: X^(*{t}) has rank <= C(d0 + t - 1, t) = {rank} < n = {n} (symmetric tensors; "
                     f"d0^t = {d0 ** t})")
    H = (X @ X.T) ** int(t)
    ev = np.linalg.eigvalsh(H)
    tol = n * np.finfo(np.float64).eps * max(ev[-1], 0.0) * 4
    if ev[0] <= tol:
        return 0.0, f"lambda_min((X X^T)^(o{t})) = {ev[0]:.3g} is below round-off {tol:.3g}"
    return float(math.sqrt(ev[0])), None


# ------------------------------------------------------------------ E[M0]
def _kernel_pairs(act, s_a, s_b, rho, nodes: int = 48):
    """E[phi(s_a u) phi(s_b (rho u + sqrt(1 - rho^2) v))] for arrays of pairs (2-D Gauss-Hermite)."""
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / math.sqrt(2 * math.pi)
    U, Vv = z[:, None], z[None, :]
    Wt = w[:, None] * w[None, :]
    out = np.empty(len(rho))
    c = np.sqrt(np.clip(1 - rho ** 2, 0.0, 1.0))
    for i in range(len(rho)):
        with np.errstate(all="ignore"):
            out[i] = np.sum(Wt * act.phi(s_a[i] * U) * act.phi(s_b[i] * (rho[i] * U + c[i] * Vv)))
    return out


def expected_gram(X, act, omega1: float, *, nodes: int = 48, direct_max: int = 60, grid: int = 4001):
    """``(K, method)`` with ``E[M0] = d1 K`` exactly (up to quadrature), ``M0 = phi(W0 X)^T phi(W0 X)``."""
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    norms = np.linalg.norm(X, axis=1)
    if not (norms > 0).all():
        raise InputError("a sample of X is zero: E[M0] needs nonzero samples")
    Gn = (X @ X.T) / np.outer(norms, norms)
    unit = np.allclose(norms, norms[0], rtol=1e-12)
    iu = np.triu_indices(n)
    if n <= direct_max or not unit:
        if n > 400:
            raise InputError(f"E[M0] for n = {n} samples of unequal norms is not computed (needs equal norms "
                             f"beyond n = 400)")
        vals = _kernel_pairs(act, omega1 * norms[iu[0]], omega1 * norms[iu[1]], np.clip(Gn[iu], -1, 1), nodes)
        method = f"2-D Gauss-Hermite ({nodes}^2 nodes) per pair"
    else:
        from scipy.interpolate import CubicSpline

        rg = np.linspace(-1, 1, grid)
        s = np.full(grid, omega1 * norms[0])
        kap = _kernel_pairs(act, s, s, rg, nodes)
        vals = CubicSpline(rg, kap)(np.clip(Gn[iu], -1, 1))
        method = f"kernel kappa(rho) by 2-D Gauss-Hermite ({nodes}^2 nodes) on {grid} correlations, cubic spline"
    K = np.empty((n, n))
    K[iu] = vals
    K.T[iu] = vals
    return K, method


# ------------------------------------------------------------------ Jacobian
def jacobian_matrix(X, W, V, act) -> np.ndarray:
    """The explicit Jacobian of vec(Z) = vec(V phi(W X^T)) (row-major over (output k, sample a)) with respect
    to (vec W, vec V) (row-major): shape (d2 n, d1 d0 + d2 d1). Small cases only."""
    X, W, V = (np.asarray(a, dtype=np.float64) for a in (X, W, V))
    P = W @ X.T
    D, A = act.dphi(P), act.phi(P)
    d2, d1 = V.shape
    n, d0 = X.shape
    JW = np.einsum("ki,ia,aj->kaij", V, D, X).reshape(d2 * n, d1 * d0)
    JV = np.einsum("kl,ia->kali", np.eye(d2), A).reshape(d2 * n, d2 * d1)
    return np.hstack([JW, JV])


def ntk_gram(X, W, V, act) -> np.ndarray:
    """``J J^T`` (d2 n x d2 n) without J: block (k, k') = (D^T diag(V_k V_k') D) o (X X^T) + [k = k'] A^T A."""
    X, W, V = (np.asarray(a, dtype=np.float64) for a in (X, W, V))
    P = W @ X.T
    D, A = act.dphi(P), act.phi(P)
    d2 = V.shape[0]
    n = X.shape[0]
    G = X @ X.T
    M = A.T @ A
    out = np.empty((d2 * n, d2 * n))
    for k in range(d2):
        for kk in range(k, d2):
            B = ((D * (V[k] * V[kk])[:, None]).T @ D) * G
            if k == kk:
                B = B + M
            out[k * n:(k + 1) * n, kk * n:(kk + 1) * n] = B
            out[kk * n:(kk + 1) * n, k * n:(k + 1) * n] = B.T
    return out


def _jjt_operator(X, W, V, act):
    from scipy.sparse.linalg import LinearOperator

    P = W @ X.T
    D, A = act.dphi(P), act.phi(P)
    d2, n = V.shape[0], X.shape[0]

    def mv(z):
        Dl = np.asarray(z, dtype=np.float64).reshape(d2, n)
        gW = (D * (V.T @ Dl)) @ X          # adjoint (39): (phi'(WX) o V^T Delta) X^T
        gV = Dl @ A.T                      # Delta phi(WX)^T
        return (V @ (D * (gW @ X.T)) + gV @ A).reshape(-1)

    return LinearOperator((d2 * n, d2 * n), matvec=mv, dtype=np.float64)


def jacobian_spectrum(X, W, V, act, *, dense_max: int = JAC_DENSE_MAX, gram_max: int = GRAM_MAX,
                      tol: float = 1e-10, maxiter: int = 3000) -> tuple[float, float, str]:
    """``(sigma_min, sigma_max, method)`` of the Jacobian adjoint at (W, V) (one seed; module docstring)."""
    X, W, V = (np.asarray(a, dtype=np.float64) for a in (X, W, V))
    n, d0 = X.shape
    d2, d1 = V.shape
    rows, cols = d2 * n, d1 * d0 + d2 * d1
    if rows * cols <= dense_max:
        s = np.linalg.svd(jacobian_matrix(X, W, V, act), compute_uv=False)
        smin = float(s[rows - 1]) if cols >= rows else 0.0
        return smin, float(s[0]), "svd of the explicit Jacobian"
    if rows <= gram_max:
        ev = np.linalg.eigvalsh(ntk_gram(X, W, V, act))
        return float(math.sqrt(max(ev[0], 0.0))), float(math.sqrt(max(ev[-1], 0.0))), "eigvalsh of the NTK Gram J J^T"
    from scipy.sparse.linalg import eigsh

    from scipy.sparse.linalg import ArpackNoConvergence

    op = _jjt_operator(X, W, V, act)
    lmax = float(eigsh(op, k=1, which="LA", tol=tol, return_eigenvectors=False)[0])
    method = "Lanczos (eigsh) on J J^T as a LinearOperator"
    try:
        lmin = float(eigsh(op, k=1, which="SA", tol=tol, maxiter=maxiter, return_eigenvectors=False)[0])
    except ArpackNoConvergence as exc:  # report the best Ritz value, and say so
        vals = np.asarray(exc.eigenvalues, dtype=float)
        if vals.size == 0:
            return float("nan"), float(math.sqrt(max(lmax, 0.0))), method + f" (smallest: no convergence in {maxiter})"
        lmin = float(vals.min())
        method += f" (smallest not converged in {maxiter} iterations: an upper bound)"
    return float(math.sqrt(max(lmin, 0.0))), float(math.sqrt(max(lmax, 0.0))), method


def run_shallow(X, Y, W, V, act, *, eta: float | None = None, steps: int = 1000, tol: float = 1e-12,
                chi: float | None = None, jacobian: bool = False, omega1: float | None = None,
                omega2: float | None = None, t: int | None = None, progress=None, divergence: float = 1e8):
    """Full-batch GD with a constant step on ``||V phi(W X^T)^T... - Y||_F^2`` with Song et al.'s theory attached.

    ``W`` (d1, d0) or (R, d1, d0), ``V`` (d2, d1) or (R, d2, d1); ``eta`` None: each seed's ``eta_explicit``
    (InputError, one line, where it is not applicable, e.g. d1 < n). Returns the engine's RunResult.
    """
    from convtool.numeric.engine import run
    from convtool.numeric.theories.song_et_al import SongEtAl

    if eta is not None and not (np.isfinite(eta) and eta > 0):
        raise InputError(f"--eta must be a positive number, got {eta!r}")
    model = shallow_model(X, W, V, act)
    loss = ShallowLoss(Y)
    if loss.n != model.n or loss.m != model.m:
        raise InputError(f"Y must be n x d2 = {model.n} x {model.m}, got {loss.Y.shape}")
    th = SongEtAl(act, chi=chi, jacobian=jacobian, omega1=omega1, omega2=omega2, t=t)
    res = run(model, loss, "constant", theories=[th], steps=steps, eta0=eta, tol=tol, progress=progress,
              divergence=divergence)
    res.config.update({"model": "shallow", "activation": act.name, "d0": model.widths[0], "d1": model.widths[1],
                       "d2": model.widths[2], "jacobian": bool(jacobian)})
    return res
