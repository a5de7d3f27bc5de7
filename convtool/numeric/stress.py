"""Stress tests of the papers' checks: random instances, every violation replayed at high precision.

:func:`stress` draws instances from documented families (:data:`FAMILIES`), runs GD with the schedules a
check covers, and counts, over every step where the check *applied* (the non-vacuous steps), those where it
did not hold. Every flagged step is replayed at ``digits`` decimal digits with mpmath
(:func:`replay_two_layer`): the exact GD recursion from the same float inputs with the recorded step sizes,
and the bound's registry formula evaluated with ``sympy.lambdify(..., "mpmath")`` from
``convtool.analysis.get(name).expr``. Only violations that hold at high precision are reported as
counterexamples; the others are counted as float artifacts. The smallest counterexample is then shrunk,
hypothesis-style (:func:`shrink`): fewer dimensions, then rounder numbers (1, 2, 3 significant digits, zeroed
entries), keeping each candidate only if it still violates, re-verified at high precision.

Checks
------
Every check of every theory that applies to the model is a valid ``check``
(:data:`convtool.numeric.theories.THEORIES_FOR_MODEL`, each theory's ``checks``: ``Check(key, applies,
held, reference, ...)``). A theory added later plugs in the same way; it gets a high-precision replay when
:data:`REPLAYS` has one for it (else its float violations are reported as *unreplayed*, never as
counterexamples), and the schedules of :data:`CHECK_SCHEDULES` (default: the model's :data:`MODEL_SCHEDULES`).

As stated (``as_stated=True``)
------------------------------
convtool counts a Theorem 3.2 step as in range only where its own guards hold as well, among them Lemma
E.3 at T0 (``alpha1 <= sigma_min^2(T0)``, which the proof uses and which fails for n != m). With
``as_stated`` a step counts where the paper's *stated* hypotheses hold: mu > 0, alpha1 > 0,
eta0 <= eta_max and eq. (89) (eta0 <= eta_s <= min(growth cap, 1/K_s) at every step s <= t), whether or
not convtool's extra guards do (:data:`AS_STATED`; a check without an entry there is the same either way).
``steps_excluded`` counts the steps the guards exclude.

Families
--------
``FAMILIES[model][name](rng, dims) -> (arrays, meta)``: ``arrays`` is the data-file layout (two-layer:
``X`` (N x n), ``Y`` (N x m), ``W1`` (n x h), ``W2`` (m x h); deep-linear: ``X``, ``Y``, ``W1 .. WN``), so a
counterexample is saved as a file ``convtool run`` reads. ``dims`` comes from the shape filter
(:data:`SHAPES`: ``any``, ``n!=m``, ``n=m``).

Examples
--------
>>> res = stress("two-layer", "thm31", trials=2, families=["well-conditioned"], shapes="n=m", steps=10,
...              schedules=["constant"])
>>> res.violations, res.steps_checked > 0
(0, True)
"""

from __future__ import annotations

import difflib
import json
import time
import warnings
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from convtool.errors import InputError

__all__ = ["stress", "StressResult", "Counterexample", "FAMILIES", "SHAPES", "MODEL_SCHEDULES", "CHECK_SCHEDULES",
           "AS_STATED", "REPLAYS", "ETA0_FRACTIONS", "registered_checks", "replay_two_layer", "shrink",
           "save_counterexample", "Dims", "draw_trial", "draw_dims"]

#: step sizes tried on the two-layer model, as fractions of each instance's eta_max (drawn per trial)
ETA0_FRACTIONS = (1.0, 0.5, 0.1)
#: schedules run for a check by default, per model
MODEL_SCHEDULES = {"two-layer": ("constant", "adaptive", "adaptive-bar"), "deep-linear": ("thm1", "cor3")}
#: (theory key, check key) -> the schedules the check covers (default: :data:`MODEL_SCHEDULES`)
CHECK_SCHEDULES = {("local-pl", "thm32"): ("constant", "adaptive", "adaptive-bar"),
                   ("zhao-xu", "thm1"): ("thm1",)}


@dataclass(frozen=True)
class Dims:
    """Sizes of one draw: W is n x m, width h (deep-linear: the hidden width), N samples."""

    n: int
    m: int
    h: int
    N: int


def _draw_shape(rng, shapes: str, max_dim: int) -> tuple[int, int]:
    n = int(rng.integers(1, max_dim + 1))
    if shapes == "n=m":
        return n, n
    if shapes == "n!=m":
        m = int(rng.integers(1, max_dim))
        return n, m + (m >= n)
    return n, int(rng.integers(1, max_dim + 1))


#: shape filters: name -> (description, predicate on (n, m))
SHAPES = {"any": ("any n, m", lambda n, m: True), "n!=m": ("n != m only", lambda n, m: n != m),
          "n=m": ("n = m only", lambda n, m: n == m)}


def draw_dims(rng, shapes: str = "any", max_dim: int = 3) -> Dims:
    """n, m in 1..max_dim (through the filter), h in min(n, m)..n + m + 2, N in n..n + 2."""
    n, m = _draw_shape(rng, shapes, max_dim)
    h = int(rng.integers(min(n, m), n + m + 3))
    return Dims(n, m, h, n + int(rng.integers(0, 3)))


# ------------------------------------------------------------------ two-layer families

def _scale(rng, lo=-1.0, hi=0.5):
    return float(10 ** rng.uniform(lo, hi))


def _data(rng, d: Dims, kappa: float = 1.0, orthonormal=False):
    if orthonormal:
        X = np.linalg.qr(rng.normal(size=(d.N, d.n)))[0]
    else:
        U = np.linalg.qr(rng.normal(size=(d.N, d.n)))[0]
        V = np.linalg.qr(rng.normal(size=(d.n, d.n)))[0]
        X = U @ np.diag(np.geomspace(1.0, 1.0 / kappa, d.n)) @ V.T if kappa != 1.0 else rng.normal(size=(d.N, d.n))
    return X


def _gaussian_init(rng, d: Dims, scale):
    return scale * rng.normal(size=(d.n, d.h)), scale * rng.normal(size=(d.m, d.h))


def _fam_gaussian(rng, d: Dims):
    """X, Y, W1, W2 i.i.d. N(0, 1) (weights times a scale 10^U(-1, 0.5))."""
    s = _scale(rng)
    W1, W2 = _gaussian_init(rng, d, s)
    return {"X": _data(rng, d), "Y": rng.normal(size=(d.N, d.m)), "W1": W1, "W2": W2}, {"init_scale": s}


def _fam_well(rng, d: Dims):
    """X with orthonormal columns (mu = K = 1), h >= n + m, Gaussian Y and init (Lemma 3.1's setting)."""
    d = Dims(d.n, d.m, max(d.h, d.n + d.m), d.N)
    s = _scale(rng)
    W1, W2 = _gaussian_init(rng, d, s)
    return {"X": _data(rng, d, orthonormal=True), "Y": rng.normal(size=(d.N, d.m)), "W1": W1, "W2": W2}, \
        {"init_scale": s}


def _fam_ill(rng, d: Dims):
    """X = U diag(geomspace(1, 1/kappa)) V^T with kappa = 10^U(1, 3)."""
    kappa = float(10 ** rng.uniform(1, 3))
    W1, W2 = _gaussian_init(rng, d, _scale(rng))
    return {"X": _data(rng, d, kappa=kappa), "Y": rng.normal(size=(d.N, d.m)), "W1": W1, "W2": W2}, \
        {"kappa_X": kappa}


def _fam_scale(rng, d: Dims):
    """Gaussian data, init scale 10^U(-2.5, 1) (tiny to large initializations)."""
    s = _scale(rng, -2.5, 1.0)
    W1, W2 = _gaussian_init(rng, d, s)
    return {"X": _data(rng, d), "Y": rng.normal(size=(d.N, d.m)), "W1": W1, "W2": W2}, {"init_scale": s}


def _balanced(rng, d: Dims):
    r = min(d.n, d.m, d.h)
    U1 = np.linalg.qr(rng.normal(size=(d.n, d.n)))[0][:, :r]
    U2 = np.linalg.qr(rng.normal(size=(d.m, d.m)))[0][:, :r]
    V = np.linalg.qr(rng.normal(size=(d.h, d.h)))[0][:, :r]
    S = np.diag(10 ** rng.uniform(-0.5, 0.5, size=r))
    return U1 @ S @ V.T, U2 @ S @ V.T


def _fam_balanced(rng, d: Dims):
    """Balanced init D(0) = W1^T W1 - W2^T W2 = 0 (W1 = U1 S V^T, W2 = U2 S V^T, rank min(n, m, h)), Gaussian data."""
    W1, W2 = _balanced(rng, d)
    return {"X": _data(rng, d), "Y": rng.normal(size=(d.N, d.m)), "W1": W1, "W2": W2}, {}


def _fam_near_opt(rng, d: Dims):
    """Y = X W1 W2^T + noise 10^U(-3, 0) (near the optimum), Gaussian or balanced init."""
    bal = bool(rng.integers(2))
    W1, W2 = _balanced(rng, d) if bal else _gaussian_init(rng, d, _scale(rng))
    X = _data(rng, d)
    noise = float(10 ** rng.uniform(-3, 0))
    return {"X": X, "Y": X @ W1 @ W2.T + noise * rng.normal(size=(d.N, d.m)), "W1": W1, "W2": W2}, \
        {"noise": noise, "balanced": bal}


def _fam_lstar(rng, d: Dims):
    """N > n samples and Gaussian Y, so l* > 0 almost surely."""
    d = Dims(d.n, d.m, d.h, d.n + 1 + int(rng.integers(0, 3)))
    W1, W2 = _gaussian_init(rng, d, _scale(rng))
    return {"X": _data(rng, d), "Y": rng.normal(size=(d.N, d.m)), "W1": W1, "W2": W2}, {}


_SIMPLE = np.array([0.0, 0.0, 1.0, -1.0, 0.5, 2.0])
_SIMPLE_Y = np.array([0.0, 0.1, 0.3, -0.3, 0.5, 1.0])


def _fam_simple(rng, d: Dims):
    """Round numbers (the shape of a hand-made counterexample): X = diag of {1, 2} (N = n), weights
    from {0, 0, 1, -1, 0.5, 2}, Y = X W1 W2^T + entries from {0, 0.1, 0.3, -0.3, 0.5, 1}."""
    d = Dims(d.n, d.m, d.h, d.n)
    X = np.diag(rng.choice([1.0, 2.0], size=d.n))
    W1, W2 = rng.choice(_SIMPLE, size=(d.n, d.h)), rng.choice(_SIMPLE, size=(d.m, d.h))
    return {"X": X, "Y": X @ W1 @ W2.T + rng.choice(_SIMPLE_Y, size=(d.n, d.m)), "W1": W1, "W2": W2}, {}


def _fam_axis(rng, d: Dims):
    """Axis-aligned balanced weights at the optimum plus round noise (the shape of the n != m Lemma E.3
    counterexample): X = I_n (N = n), W1 = a [I_k 0] (n x h), W2 = a [I_k 0] (m x h), k = min(n, m, h),
    a from {1, 2, 0.5}, Y = W1 W2^T + entries from {0, 0.3, -0.3, 1}."""
    d = Dims(d.n, d.m, d.h, d.n)
    a = float(rng.choice([1.0, 2.0, 0.5]))
    k = min(d.n, d.m, d.h)
    W1, W2 = np.zeros((d.n, d.h)), np.zeros((d.m, d.h))
    W1[:k, :k] = W2[:k, :k] = a * np.eye(k)
    Y = W1 @ W2.T + rng.choice([0.0, 0.3, -0.3, 1.0], size=(d.n, d.m))
    return {"X": np.eye(d.n), "Y": Y, "W1": W1, "W2": W2}, {"a": a}


# ------------------------------------------------------------------ deep-linear family

def _fam_dln_small(rng, d: Dims):
    """Deep linear: X (M x n), Y (M x m) Gaussian with M = n + 2..6, depth 2 or 3, hidden width 4..24,
    gaussian or orthogonal layers (:func:`convtool.numeric.deep_linear.init_layers`)."""
    from convtool.numeric.deep_linear import init_layers

    M = d.n + 2 + int(rng.integers(0, 5))
    depth = int(rng.integers(2, 4))
    width = int(rng.integers(4, 25))
    init = str(rng.choice(["gaussian", "orthogonal"]))
    X, Y = rng.normal(size=(M, d.n)), rng.normal(size=(M, d.m))
    layers = init_layers((d.n, *([width] * (depth - 1)), d.m), init, seed=int(rng.integers(2 ** 31)))
    arrays = {"X": X, "Y": Y, **{f"W{j + 1}": W[0] for j, W in enumerate(layers)}}
    return arrays, {"depth": depth, "width": width, "init": init}


#: model -> family name -> generator ``(rng, dims) -> (arrays, meta)`` (its docstring documents it)
FAMILIES = {
    "two-layer": {"gaussian": _fam_gaussian, "well-conditioned": _fam_well, "ill-conditioned": _fam_ill,
                  "init-scale": _fam_scale, "balanced": _fam_balanced, "near-optimum": _fam_near_opt,
                  "lstar-positive": _fam_lstar, "simple": _fam_simple, "axis": _fam_axis},
    "deep-linear": {"small-widths": _fam_dln_small},
}


# ------------------------------------------------------------------ checks

def registered_checks(model: str) -> dict:
    """``{check key: (theory key, Check)}`` of every theory that applies to ``model``."""
    from convtool.numeric.theories import THEORIES_FOR_MODEL, make_theory

    if model not in THEORIES_FOR_MODEL:
        raise InputError(f"unknown model {model!r}; choose from {', '.join(sorted(THEORIES_FOR_MODEL))}")
    out = {}
    for tk in THEORIES_FOR_MODEL[model]:
        for c in make_theory(tk).checks:
            out[c.key] = (tk, c)
    return out


def _check_of(model: str, check: str):
    checks = registered_checks(model)
    if check not in checks:
        close = difflib.get_close_matches(check, list(checks), n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise InputError(f"unknown check {check!r} for model {model}{hint}; choose from {', '.join(checks)}")
    return checks[check]


_TOL89 = 1 + 1e-12  # the engine's tolerance on eq. (89)
#: the guards of convtool that the paper does not state (names of ``compute_constants`` checks)
_UNSTATED_GUARDS = ("Lemma E.3 at T0",)


def _thm32_as_stated(result) -> np.ndarray:
    """Theorem 3.2's stated hypotheses per step: mu > 0, alpha1 > 0, eta0 <= eta_max (the required
    constants checks but the unstated guards) and eq. (89) at every step so far."""
    a = result.arrays
    eta = a["eta"]
    R, T = eta.shape
    steps = np.arange(T)[None, :] < np.asarray(result.steps)[:, None]
    stated = np.array([all(ch["ok"] for ch in c["checks"] if ch["required"] and ch["name"] not in _UNSTATED_GUARDS)
                       for c in result.constants])
    eta0 = np.array([c["eta0"] if isinstance(c.get("eta0"), float) else np.nan for c in result.constants])
    with np.errstate(invalid="ignore"):
        ok = (eta0[:, None] <= eta * _TOL89) & (eta <= a["growth_cap"] * _TOL89) & (eta * a["K_t"] <= _TOL89)
    return steps & stated[:, None] & np.logical_and.accumulate(ok | ~steps, axis=1)


#: (theory key, check key) -> ``f(result) -> (R, T) bool``: where the check applies under the paper's stated
#: hypotheses only (module docstring); checks not listed apply the same way with and without ``as_stated``
AS_STATED = {("local-pl", "thm32"): _thm32_as_stated}


# ------------------------------------------------------------------ high-precision replay (two-layer)

@lru_cache(maxsize=None)
def _mp_compiled(paper: str, name: str):
    import sympy as sp

    from convtool.analysis import REGISTRIES
    from convtool.analysis.registry import display

    q = REGISTRIES[paper][name]
    f = sp.lambdify([display(REGISTRIES[paper][i].symbol) for i in q.inputs], display(q.expr), modules="mpmath")
    return f, tuple(q.inputs)


def _mp_evaluate(values: dict, targets, paper: str = "local-pl") -> dict:
    """``values`` extended by the registry expressions ``targets`` need, in mpmath."""
    from convtool.analysis import REGISTRIES
    from convtool.analysis.graph import evaluation_order

    reg = REGISTRIES[paper]
    out = dict(values)
    for n in evaluation_order(list(targets), paper):
        if reg[n].kind != "expression" or n in out:
            continue
        f, inputs = _mp_compiled(paper, n)
        if all(i in out for i in inputs):
            out[n] = f(*[out[i] for i in inputs])
    return out


def _eigs(mp, A) -> list:
    """Eigenvalues of a symmetric mpmath matrix, descending (closed forms up to 2 x 2)."""
    if A.rows == 1:
        return [A[0, 0]]
    if A.rows == 2:
        a, b, d = A[0, 0], A[0, 1], A[1, 1]
        r = mp.sqrt(((a - d) / 2) ** 2 + b * b)
        return [(a + d) / 2 + r, (a + d) / 2 - r]
    return sorted(mp.eigsy(A, eigvals_only=True), reverse=True)


def _fro_sq(A):
    return sum(A[i, j] ** 2 for i in range(A.rows) for j in range(A.cols))


class _MpTwoLayer:
    """Exact (``digits``) GD on ``1/2 ||XW - Y||^2``, ``W = W1 W2^T``, from the float inputs."""

    def __init__(self, arrays):
        import mpmath

        self.mp = mp = mpmath.mp  # the caller holds mpmath.workdps(digits): lambdify's functions use the global context
        M = self._M = lambda a: mp.matrix(np.asarray(a, dtype=float).tolist())
        self.X, self.Y = M(arrays["X"]), M(arrays["Y"])
        self.W1, self.W2 = M(arrays["W1"]), M(arrays["W2"])
        self.n, self.m, self.h = self.W1.rows, self.W2.rows, self.W1.cols
        G = self.X.T * self.X
        self.Wstar = mp.lu_solve(G, self.X.T * self.Y) if self.m == 1 else \
            mp.inverse(G) * (self.X.T * self.Y)
        ev = _eigs(mp, G)
        W0 = self.W1 * self.W2.T
        sw = _eigs(mp, self.Wstar * self.Wstar.T)
        D = self.W1.T * self.W1 - self.W2.T * self.W2
        eD = _eigs(mp, D)
        n, m, h = self.n, self.m, self.h
        self.init = {"mu": ev[-1], "K": ev[0], "L0": self.excess(W0),
                     "sigma_min_Wstar": mp.sqrt(max(sw[min(n, m) - 1], 0)), "sigma_max_Wstar": mp.sqrt(max(sw[0], 0)),
                     "dist0": mp.sqrt(_fro_sq(W0 - self.Wstar)),
                     "lambda_max_D0": eD[0], "lambda_max_negD0": -eD[-1],
                     "lambda_n_D0": eD[n - 1] if h >= n else mp.mpf(0),
                     "lambda_m_negD0": -eD[h - m] if h >= m else mp.mpf(0)}

    def excess(self, W):
        E = self.X * (W - self.Wstar)
        return _fro_sq(E) / 2

    def state_values(self, W1, W2):
        mp = self.mp
        W = W1 * W2.T
        G = self.X.T * (self.X * W - self.Y)
        s1, s2 = _eigs(mp, W1 * W1.T), _eigs(mp, W2 * W2.T)
        sW = _eigs(mp, W * W.T) if self.n <= self.m else _eigs(mp, W.T * W)
        vals = {"s1_max_sq": s1[0], "s1_min_sq": s1[-1] if self.h >= self.n else mp.mpf(0),
                "s2_max_sq": s2[0], "s2_min_sq": s2[-1] if self.h >= self.m else mp.mpf(0),
                "sigma_max_W": mp.sqrt(max(sW[0], 0)), "W_fro": mp.sqrt(_fro_sq(W)),
                "grad_l_norm": mp.sqrt(_fro_sq(G)), "L_t": self.excess(W)}
        return vals, G

    def trajectory(self, etas):
        """States 0..len(etas): (W1, W2) after each recorded step."""
        W1, W2 = self.W1, self.W2
        out = [(W1, W2)]
        for eta in etas:
            G = self.X.T * (self.X * (W1 * W2.T) - self.Y)
            e = self.mp.mpf(float(eta))
            W1, W2 = W1 - e * (G * W2), W2 - e * (G.T * W1)
            out.append((W1, W2))
        return out


#: relative slack of the replayed hypotheses on the step size (eq. 89), the engine's own: a schedule that sets
#: eta_t to its cap computes it to a few ulps; the bound itself is tested with no slack
_HYP_RTOL = 1e-12
_TARGETS = ("rho", "K_t", "rhobar", "rhobar0", "growth_cap", "alpha1", "alpha2", "sigma_min_T_sq",
            "sigma_max_T_sq", "Kbar0", "eta0_3")


def _num(x) -> float:
    return float(x)


def replay_two_layer(arrays: dict, etas, eta0: float, check: str, steps, *, as_stated: bool = False,
                     c: float = 0.5, d: float = 2.0, digits: int = 50, first_only: bool = False) -> dict:
    """Replay the two-layer steps ``steps`` of a run at ``digits`` digits; ``{t: detail}``.

    The GD recursion ``W1 <- W1 - eta_t G W2``, ``W2 <- W2 - eta_t G^T W1`` (G the gradient of
    ``1/2 ||XW - Y||^2`` at ``W1 W2^T``) runs in mpmath from the float arrays (exact as binary numbers)
    with the recorded ``etas``; ``L(t) = 1/2 ||X (W(t) - W*)||^2`` with W* solved in mpmath. The bounds
    and hypotheses are the registry's formulas in mpmath (``lambdify(..., "mpmath")``):

    * ``thm31``: applies where ``0 < eta_t K_t(eta_t) < 2``; holds where ``L(t+1) <= rho L(t)``;
    * ``thm32``: applies where mu > 0, alpha1 > 0, eta0 Kbar_0(eta0) <= 1 (eq. 87), eta0 <= the third
      term of eta_max, and eq. (89) at every step s <= t, up to the engine's relative slack 1e-12 on the
      step size (``eq89_excess`` reports the largest relative excess; and, unless ``as_stated``, Lemma
      E.3 at T0);
      holds where ``L(t+1) <= rhobar L(t)`` and ``L(t+1) <= L0 rhobar0^(t+1)``. Eq. (88)'s root is the
      float solver's (its bracket is proven; not re-solved here).

    ``detail``: ``confirmed`` (applies and fails at high precision), ``applies``, ``L_t``, ``L_next``,
    ``bound``, ``excess`` ((L_next - bound)/bound), ``which`` bound failed (floats) and ``reason`` where it
    does not apply. With ``first_only`` it stops at the first confirmed step.
    """
    if check not in ("thm31", "thm32"):
        raise InputError(f"no high-precision replay for check {check!r}")
    import mpmath

    with mpmath.workdps(int(digits)):
        return _replay_two_layer(arrays, etas, eta0, check, sorted(int(t) for t in steps), as_stated, c, d,
                                 int(digits), first_only)


def _replay_two_layer(arrays, etas, eta0, check, steps, as_stated, c, d, digits, first_only):
    mpo = _MpTwoLayer(arrays)
    mp = mpo.mp
    T = steps[-1] + 1
    traj = mpo.trajectory(list(etas)[:T])
    base = dict(mpo.init, c=mp.mpf(c), d=mp.mpf(d), eta0=mp.mpf(float(eta0)))
    cache = {}

    def at(t):
        if t not in cache:
            vals, _ = mpo.state_values(*traj[t])
            vals.update(base, t=mp.mpf(t), eta=mp.mpf(float(etas[t])) if t < len(etas) else mp.mpf(0))
            cache[t] = _mp_evaluate(vals, _TARGETS)
        return cache[t]

    out = {}
    reason0 = None
    if check == "thm32":
        v0 = at(0)
        if not v0["mu"] > 0:
            reason0 = "mu = 0"
        elif not v0["alpha1"] > 0:
            reason0 = "alpha1 <= 0 at high precision"
        elif not v0["eta0"] * v0["Kbar0"] <= 1:
            reason0 = "eta0 Kbar_0(eta0) > 1 (eq. 87) at high precision"
        elif not v0["eta0"] <= v0["eta0_3"]:
            reason0 = "eta0 above eta_max's third term at high precision"
        elif not as_stated and not (v0["alpha1"] <= v0["sigma_min_T_sq"] and v0["sigma_max_T_sq"] <= v0["alpha2"]):
            reason0 = "Lemma E.3 at T0 fails at high precision"
    eq89_ok_until = -1  # eq. (89) held at every step 0..eq89_ok_until
    slack = mp.mpf("-inf")  # the largest relative excess of eta_s over eq. (89)'s limits so far
    for t in steps:
        v, Ln = at(t), at(t + 1)["L_t"]
        Lt = v["L_t"]
        if check == "thm31":
            ek = v["eta"] * v["K_t"]
            applies, reason = bool(v["eta"] > 0 and ek < 2), None if v["eta"] > 0 and ek < 2 else "eta K_t >= 2"
            bounds = {"rho L(t)": v["rho"] * Lt}
        else:
            reason = reason0
            if reason is None:
                for s in range(eq89_ok_until + 1, t + 1):
                    w = at(s)
                    e = w["eta"]
                    over = max(w["eta0"] / e - 1, e / w["growth_cap"] - 1, e * w["K_t"] - 1)
                    slack = max(slack, over)
                    if over > _HYP_RTOL:
                        reason = f"eq. (89) fails at step {s} at high precision"
                        break
                    eq89_ok_until = s
            applies = reason is None
            bounds = {"rhobar L(t)": v["rhobar"] * Lt, "L0 rhobar0^(t+1)": v["L0"] * v["rhobar0"] ** (t + 1)}
        which, worst = None, None
        for name, b in bounds.items():
            ex = (Ln - b) / b if b > 0 else (mp.inf if Ln > b else mp.mpf(0))
            if worst is None or ex > worst[1]:
                which, worst = name, (b, ex)
        confirmed = bool(applies and worst[1] > 0)
        out[t] = {"confirmed": confirmed, "applies": applies, "reason": reason, "L_t": _num(Lt),
                  "L_next": _num(Ln), "ratio": _num(Ln / Lt) if Lt > 0 else None, "bound": _num(worst[0]),
                  "which": which, "excess": _num(worst[1]), "digits": digits,
                  **({"eq89_excess": _num(slack)} if check == "thm32" else {})}
        if confirmed and first_only:
            break
    return out


#: (theory key, check key) -> the model whose replay implements it
REPLAYS = {("local-pl", "thm31"): "two-layer", ("local-pl", "thm32"): "two-layer"}


# ------------------------------------------------------------------ models

class _TwoLayerModel:
    key = "two-layer"

    def __init__(self, c, d):
        self.c, self.d = c, d

    @staticmethod
    def dims(arrays) -> dict:
        return {"n": arrays["W1"].shape[0], "m": arrays["W2"].shape[0], "h": arrays["W1"].shape[1],
                "N": arrays["X"].shape[0]}

    def eta0(self, arrays, frac):
        """(eta0, None) or (None, reason the instance has no admissible eta0)."""
        from convtool.numeric.constants import compute_constants
        from convtool.numeric.losses import SquaredLoss

        try:
            loss = SquaredLoss(arrays["X"], arrays["Y"])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cres = compute_constants(loss, arrays["W1"], arrays["W2"], c=self.c, d=self.d)
        except InputError as exc:
            return None, str(exc).split(";")[0]
        em = cres.quantities["eta_max"]
        if not isinstance(em, float):
            return None, "eta_max not applicable: " + str(em).split(";")[0].split(":")[0]
        return frac * em, None

    def run(self, arrays, schedule, eta0, steps):
        from convtool.numeric.engine import run_gd
        from convtool.numeric.losses import SquaredLoss

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return run_gd(SquaredLoss(arrays["X"], arrays["Y"]), arrays["W1"], arrays["W2"], schedule=schedule,
                          eta0=eta0, steps=steps, c=self.c, d=self.d)


class _DeepLinearModel:
    key = "deep-linear"

    def __init__(self, c, d):
        pass

    @staticmethod
    def dims(arrays) -> dict:
        layers = sorted((k for k in arrays if k[0] == "W"), key=lambda k: int(k[1:]))
        return {"n": arrays["X"].shape[1], "m": arrays["Y"].shape[1], "h": arrays["W1"].shape[0],
                "N": arrays["X"].shape[0], "depth": len(layers)}

    def eta0(self, arrays, frac):
        return None, None

    def run(self, arrays, schedule, eta0, steps, init="file"):
        from convtool.numeric.dln_experiments import run_deep_linear

        layers = [arrays[f"W{j}"] for j in range(1, len(arrays) - 1)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return run_deep_linear(arrays["X"], arrays["Y"], layers, schedule=schedule, steps=steps, init=init)


_MODELS = {"two-layer": _TwoLayerModel, "deep-linear": _DeepLinearModel}


# ------------------------------------------------------------------ results

@dataclass
class Counterexample:
    """One run whose check failed at high precision: the instance, the run and the replayed steps.

    ``arrays`` is the data-file layout (:func:`save_counterexample` writes it with ``metadata``);
    ``steps`` the confirmed violating steps, ``first`` the replay detail of the first one
    (:func:`replay_two_layer`); ``shrunk_from`` the sizes of the instance it was shrunk from.
    """

    family: str
    trial: int
    schedule: str
    eta0: float | None
    eta0_fraction: float | None
    arrays: dict
    meta: dict
    steps: list
    first: dict
    shrunk_from: dict | None = None
    file: str | None = None

    @property
    def dims(self) -> dict:
        return {k: int(v) for k, v in _MODELS[self.meta.get("model", "two-layer")].dims(self.arrays).items()}

    def size(self) -> tuple:
        """Order of "smaller": total dimensions, nonzero entries, significant digits."""
        nz = sum(int(np.count_nonzero(a)) for a in self.arrays.values())
        digits = sum(_sig_digits(x) for a in self.arrays.values() for x in np.ravel(a))
        return (sum(self.dims.values()), nz, digits)

    def reproduce(self, path: str = "FILE.npz") -> str:
        """The ``convtool run`` command that reproduces the first violating step from the saved file."""
        t = self.steps[0]
        eta = f" --eta0 {self.eta0!r}" if self.eta0 is not None else ""
        model = " --model deep-linear" if self.meta.get("model") == "deep-linear" else ""
        cd = f" --c {self.meta['c']:g} --d {self.meta['d']:g}" if "c" in self.meta else ""
        return f"convtool run {path}{model} --schedule {self.schedule}{eta} --steps {t + 1}{cd}"

    def to_dict(self, arrays: bool = True) -> dict:
        from convtool.results import jsonable

        out = {"family": self.family, "trial": self.trial, "schedule": self.schedule, "eta0": self.eta0,
               "eta0_fraction": self.eta0_fraction, "dims": self.dims, "steps": list(self.steps),
               "first": self.first, "meta": self.meta, "shrunk_from": self.shrunk_from, "file": self.file,
               "reproduce": self.reproduce(self.file or "FILE.npz")}
        if arrays:
            out["arrays"] = {k: np.asarray(v).tolist() for k, v in self.arrays.items()}
        return jsonable(out)


def _sig_digits(x: float) -> int:
    if x == 0:
        return 0
    for k in range(1, 18):
        if float(f"{x:.{k}g}") == x:
            return k
    return 17


@dataclass
class StressResult:
    """What :func:`stress` found. Step counts are over all runs (trial x schedule).

    ``steps_checked``: steps where the check applied (non-vacuous); ``steps_excluded``: with
    ``as_stated``, steps the paper's hypotheses cover but convtool's guards exclude (None otherwise);
    ``float_violations``: steps flagged in float64; ``violations``: those confirmed at ``digits`` digits;
    ``artifacts``: flagged steps the replay refuted (bound holds, or a hypothesis fails, at high
    precision); ``unreplayed``: flagged steps of a check without a replay (:data:`REPLAYS`), never
    counted as violations. ``counterexamples``: one per violating run; ``smallest``: the smallest of
    them, shrunk (:func:`shrink`).
    """

    model: str
    check: str
    theory: str
    reference: str
    description: str
    as_stated: bool
    trials: int
    seed: int
    families: list
    shapes: str
    schedules: list
    steps: int
    digits: int
    runs: int = 0
    skipped: dict = field(default_factory=dict)
    steps_taken: int = 0
    steps_checked: int = 0
    steps_excluded: int | None = None
    float_violations: int = 0
    violations: int = 0
    artifacts: int = 0
    unreplayed: int = 0
    replay: str | None = None
    counterexamples: list = field(default_factory=list)
    smallest: Counterexample | None = None
    shrink_runs: int = 0
    notes: list = field(default_factory=list)
    wall_time: float = 0.0

    def to_dict(self, arrays: bool = True) -> dict:
        from convtool.results import jsonable

        out = {k: getattr(self, k) for k in ("model", "check", "theory", "reference", "description", "as_stated",
                                             "trials", "seed", "families", "shapes", "schedules", "steps", "digits",
                                             "runs", "skipped", "steps_taken", "steps_checked", "steps_excluded",
                                             "float_violations", "violations", "artifacts", "unreplayed", "replay",
                                             "shrink_runs", "notes", "wall_time")}
        out["counterexamples"] = [c.to_dict(arrays=False) for c in self.counterexamples]
        out["smallest"] = None if self.smallest is None else self.smallest.to_dict(arrays=arrays)
        return jsonable(out)


# ------------------------------------------------------------------ the search

def _applies(result, tk, chk, as_stated):
    guarded = np.asarray(result.arrays[chk.applies], dtype=bool)
    f = AS_STATED.get((tk, chk.key)) if as_stated else None
    return (f(result) if f is not None else guarded), guarded


def _one(model, arrays, schedule, eta0, steps, tk, chk, as_stated):
    """Run once; (result, applies, guarded, flagged steps of seed 0)."""
    res = model.run(arrays, schedule, eta0, steps)
    app, guarded = _applies(res, tk, chk, as_stated)
    held = np.asarray(res.arrays[chk.held], dtype=bool)
    return res, app, guarded, np.flatnonzero((app & ~held)[0])


def _replay(model_key, tk, chk, arrays, res, eta0, flagged, as_stated, c, d, digits, first_only=False):
    if REPLAYS.get((tk, chk.key)) != model_key:
        return None
    return replay_two_layer(arrays, res.arrays["eta"][0], eta0, chk.key, flagged, as_stated=as_stated, c=c, d=d,
                            digits=digits, first_only=first_only)


def draw_trial(model: str, families, shapes: str, max_dim: int, seed: int, i: int):
    """Trial ``i``'s draw, ``(family, arrays, meta, eta0 fraction)``, from ``default_rng([seed, i])``: the
    family (uniform over ``families``), the sizes (:func:`draw_dims`), the instance and (two-layer) the
    fraction of eta_max from :data:`ETA0_FRACTIONS`."""
    rng = np.random.default_rng([int(seed), int(i)])
    fam = families[int(rng.integers(len(families)))]
    dims = draw_dims(rng, shapes, max_dim)
    arrays, meta = FAMILIES[model][fam](rng, dims)
    frac = ETA0_FRACTIONS[int(rng.integers(len(ETA0_FRACTIONS)))] if model == "two-layer" else None
    return fam, arrays, {"model": model, **meta}, frac


def stress(model: str = "two-layer", check: str = "thm32", trials: int = 100, families=None, shapes: str = "any",
           seed: int = 0, as_stated: bool = False, steps: int = 100, schedules=None, max_dim: int = 3,
           digits: int = 50, c: float = 0.5, d: float = 2.0, shrink_smallest: bool = True,
           shrink_budget: int = 200, progress=None) -> StressResult:
    """Draw ``trials`` instances, run the check's schedules on each, replay every violation at high precision.

    Parameters
    ----------
    model : {"two-layer", "deep-linear"}
    check : str
        A key of :func:`registered_checks` (``thm31``, ``thm32``... for two-layer; ``cvx_q``, ``lemma5``,
        ``thm2``, ``thm1`` for deep-linear). InputError with close matches otherwise.
    trials : int
        Instances drawn; each runs every schedule (``schedules``, default :data:`CHECK_SCHEDULES` or
        :data:`MODEL_SCHEDULES`).
    families : list of str, optional
        Keys of ``FAMILIES[model]`` (default all), one drawn per trial.
    shapes : {"any", "n!=m", "n=m"}
        Shape filter (:data:`SHAPES`); n, m in 1..``max_dim``.
    seed : int
        Trial i draws from ``default_rng([seed, i])`` (reproducible one by one).
    as_stated : bool
        Count steps where the paper's stated hypotheses hold (module docstring, :data:`AS_STATED`).
    steps : int
        GD steps per run.
    digits : int
        mpmath precision of the replay.
    c, d : float
        Theorem E.1's exponents (two-layer).
    shrink_smallest : bool
        Shrink the smallest counterexample (:func:`shrink`, at most ``shrink_budget`` runs).
    progress : callable, optional
        ``progress(i, trials)`` after each trial.

    Returns
    -------
    StressResult
    """
    t_start = time.perf_counter()
    tk, chk = _check_of(model, check)
    fams = FAMILIES[model]
    families = list(fams) if not families else list(families)
    bad = [f for f in families if f not in fams]
    if bad:
        close = difflib.get_close_matches(bad[0], list(fams), n=2, cutoff=0.5)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise InputError(f"unknown family {bad[0]!r} for model {model}{hint}; choose from {', '.join(fams)}")
    if shapes not in SHAPES:
        raise InputError(f"unknown shape filter {shapes!r}; choose from {', '.join(SHAPES)}")
    if shapes == "n!=m" and max_dim < 2:
        raise InputError("shapes n!=m needs max_dim >= 2")
    trials, steps, max_dim = int(trials), int(steps), int(max_dim)
    if trials < 0 or steps < 1 or max_dim < 1 or digits < 20:
        raise InputError(f"need trials >= 0, steps >= 1, max_dim >= 1, digits >= 20; got {trials}, {steps}, "
                         f"{max_dim}, {digits}")
    scheds = list(schedules) if schedules else list(CHECK_SCHEDULES.get((tk, chk.key), MODEL_SCHEDULES[model]))
    from convtool.numeric.schedules import SCHEDULES

    allowed = [s for s in SCHEDULES if s not in ("thm1", "cor3")] if model == "two-layer" else \
        ["thm1", "cor3", "backtracking", "adgd"]
    for s in scheds:
        if s not in allowed:
            raise InputError(f"schedule {s!r} does not apply to model {model} here; choose from {', '.join(allowed)}")
    mdl = _MODELS[model](c, d)
    has_replay = REPLAYS.get((tk, chk.key)) == model
    out = StressResult(model=model, check=check, theory=tk, reference=chk.reference, description=chk.description,
                       as_stated=bool(as_stated), trials=trials, seed=int(seed), families=families, shapes=shapes,
                       schedules=scheds, steps=steps, digits=int(digits),
                       steps_excluded=0 if as_stated else None,
                       replay=f"mpmath, {digits} digits" if has_replay else None)
    if as_stated and (tk, chk.key) not in AS_STATED:
        out.notes.append(f"{check} has no separate as-stated hypotheses: as_stated changes nothing")
    if not has_replay:
        out.notes.append(f"no high-precision replay for {tk}:{check}: float violations are reported as "
                         f"unreplayed, not as counterexamples")
    if chk.not_applicable:
        out.notes.append(f"{check}: {chk.not_applicable} (with the default theory options)")
    for i in range(trials):
        fam, arrays, meta, frac = draw_trial(model, families, shapes, max_dim, seed, i)
        meta.update({"c": c, "d": d} if model == "two-layer" else {})
        eta0, reason = mdl.eta0(arrays, frac)
        if reason is not None:
            out.skipped[reason] = out.skipped.get(reason, 0) + 1
        else:
            for sched in scheds:
                try:
                    res, app, guarded, flagged = _one(mdl, arrays, sched, eta0, steps, tk, chk, as_stated)
                except InputError as exc:
                    key = str(exc).split(";")[0]
                    out.skipped[key] = out.skipped.get(key, 0) + 1
                    continue
                out.runs += 1
                out.steps_taken += int(np.sum(res.steps))
                out.steps_checked += int(app.sum())
                if as_stated:
                    out.steps_excluded += int((app & ~guarded).sum())
                if flagged.size == 0:
                    continue
                out.float_violations += int(flagged.size)
                rep = _replay(model, tk, chk, arrays, res, eta0, flagged, as_stated, c, d, digits)
                if rep is None:
                    out.unreplayed += int(flagged.size)
                    continue
                conf = [t for t in flagged if rep[int(t)]["confirmed"]]
                out.violations += len(conf)
                out.artifacts += int(flagged.size) - len(conf)
                if conf:
                    out.counterexamples.append(Counterexample(
                        family=fam, trial=i, schedule=sched, eta0=eta0, eta0_fraction=frac, arrays=arrays,
                        meta=dict(meta), steps=[int(t) for t in conf], first=rep[int(conf[0])]))
        if progress is not None:
            progress(i + 1, trials)
    if out.counterexamples:
        best = min(out.counterexamples, key=lambda ce: ce.size())
        if shrink_smallest and model == "two-layer":
            out.smallest, out.shrink_runs = shrink(best, check, as_stated=as_stated, steps=steps, digits=digits,
                                                   budget=shrink_budget)
        else:
            out.smallest = best
            if model != "two-layer":
                out.notes.append("shrinking is implemented for the two-layer model only")
    out.wall_time = time.perf_counter() - t_start
    return out


# ------------------------------------------------------------------ shrinking

def _drop(a, axis, j):
    return np.delete(a, j, axis=axis)


def _candidates(arrays):
    """Smaller instances, simplest moves first: drop an index of n, m, h or a sample; round every entry to
    1, 2, 3 significant digits; zero one entry; round one entry to 1 significant digit."""
    X, Y, W1, W2 = (arrays[k] for k in ("X", "Y", "W1", "W2"))
    n, m, h, N = W1.shape[0], W2.shape[0], W1.shape[1], X.shape[0]
    for j in range(n) if n > 1 else ():
        yield {"X": _drop(X, 1, j), "Y": Y, "W1": _drop(W1, 0, j), "W2": W2}
    for j in range(m) if m > 1 else ():
        yield {"X": X, "Y": _drop(Y, 1, j), "W1": W1, "W2": _drop(W2, 0, j)}
    for j in range(h) if h > 1 else ():
        yield {"X": X, "Y": Y, "W1": _drop(W1, 1, j), "W2": _drop(W2, 1, j)}
    for j in range(N) if N > n else ():
        yield {"X": _drop(X, 0, j), "Y": _drop(Y, 0, j), "W1": W1, "W2": W2}
    rnd = np.vectorize(lambda x, k: float(f"{x:.{k}g}"))
    for k in (1, 2, 3):
        cand = {key: rnd(a, k) for key, a in arrays.items()}
        if any(not np.array_equal(cand[key], arrays[key]) for key in arrays):
            yield cand
    for key in ("X", "Y", "W1", "W2"):
        a = arrays[key]
        for idx in zip(*np.nonzero(a)):
            b = a.copy()
            b[idx] = 0.0
            yield {**arrays, key: b}
    for key in ("X", "Y", "W1", "W2"):
        a = arrays[key]
        for idx in zip(*np.nonzero(a)):
            x = float(f"{a[idx]:.1g}")
            if x != a[idx]:
                b = a.copy()
                b[idx] = x
                yield {**arrays, key: b}


def shrink(ce: Counterexample, check: str, *, as_stated: bool = False, steps: int = 100, digits: int = 50,
           budget: int = 200) -> tuple[Counterexample, int]:
    """Greedy shrinking of a two-layer counterexample: ``(smallest still violating, runs used)``.

    Candidates (:func:`_candidates`) are tried in order; the first one that still violates the check
    with the same schedule and eta0 fraction (flagged in float64 and confirmed by
    :func:`replay_two_layer`) replaces the instance, and the search restarts from it, until no candidate
    violates or ``budget`` runs are spent. The result is never larger (:meth:`Counterexample.size`) than
    ``ce``.
    """
    tk, chk = _check_of("two-layer", check)
    mdl = _TwoLayerModel(ce.meta.get("c", 0.5), ce.meta.get("d", 2.0))
    best, used = ce, 0
    start_dims = ce.dims
    improved = True
    while improved and used < budget:
        improved = False
        for cand in _candidates(best.arrays):
            if used >= budget:
                break
            ok = all(np.isfinite(a).all() for a in cand.values())
            eta0 = None
            if ok:
                eta0, reason = mdl.eta0(cand, ce.eta0_fraction or 1.0)
                ok = reason is None
            if not ok:
                continue
            used += 1
            try:
                res, _, _, flagged = _one(mdl, cand, ce.schedule, eta0, steps, tk, chk, as_stated)
            except InputError:
                continue
            if flagged.size == 0:
                continue
            rep = _replay("two-layer", tk, chk, cand, res, eta0, flagged, as_stated, mdl.c, mdl.d, digits,
                          first_only=True)
            conf = [t for t in flagged if int(t) in rep and rep[int(t)]["confirmed"]]
            if not conf:
                continue
            new = Counterexample(family=ce.family, trial=ce.trial, schedule=ce.schedule, eta0=eta0,
                                 eta0_fraction=ce.eta0_fraction, arrays=cand, meta=dict(ce.meta),
                                 steps=[int(t) for t in conf], first=rep[int(conf[0])], shrunk_from=start_dims)
            if new.size() < best.size():
                best, improved = new, True
                break
    return best, used


# ------------------------------------------------------------------ files

def save_counterexample(ce: Counterexample, path: str, check: str = "") -> str:
    """Write ``ce`` as a data file (its arrays plus a JSON ``metadata`` string with eta0, the schedule, the
    steps and the reproducing command); ``convtool run PATH --schedule S --eta0 E`` reproduces it."""
    from convtool.numeric.data import save_arrays

    ce.file = path
    meta = {"check": check, **ce.to_dict(arrays=False)}
    save_arrays(path, {**{k: np.asarray(v, dtype=float) for k, v in ce.arrays.items()},
                       "metadata": json.dumps(meta, allow_nan=False)})
    return path

