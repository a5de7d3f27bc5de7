"""Every constant of :func:`compute_constants` against an independent dense numpy oracle.

The oracle below is a second implementation written straight from the paper
(``shared/papers/local-pl-two-layer-linear.txt``: Table 2, Theorem 3.1 eqs. 10-12,
Theorem E.1 eqs. 87-91, eq. 114, Lemma A.2) and the reading notes
(``shared/notes/local-pl-two-layer.md``). It imports nothing from ``convtool.analysis``
and works by brute force: a full dense h x h ``eigvalsh`` of D(0), full SVDs of W1, W2,
W*, W(0), W* by LAPACK's ``gelsy`` (convtool uses numpy's ``gelsd``), mu, K from
``eigvalsh(X^T X)`` (sensing: of the operator matrix's Gram), L(0) as the plain
difference ``l(W0) - l*``, and its own scans and Brent solves for eqs. (87), (88).

Tolerances
----------
Every primitive p_i gets an absolute round-off bound E_i (see :func:`_error_bounds`): both
implementations compute spectra from Gram matrices (W1^T W1, X^T X ...), which lose
*absolute* accuracy ~ eps * (inner length) * sigma_max^2 -- a small eigenvalue or a
spread ``lambda_+ - lambda_n`` near 0 has no relative accuracy at all, so a relative
tolerance alone would be wrong. W* has the least-squares forward error
eps (kappa_X ||W*|| + kappa_X^2 ||r|| / ||X||). For each compared quantity q the
allowed difference is

    atol(q) = 4 * sum_i max_{+-} |q(p +- E_i e_i) - q(p)|  +  atol_floor(q)

(the oracle formula re-evaluated with each primitive moved by its bound: first-order
error propagation that also respects the kinks of max(., 0) and min), and
``rtol(q)`` covers the evaluation of the formula itself (a few flops: 1e-12; roots
solved to 4 eps relative: 1e-11). Quantities of the form ``1 - small`` (rates, Delta)
get ``atol_floor = 16 eps``, the resolution of doubles near 1.
"""

from __future__ import annotations

import json
import math
import warnings
from functools import lru_cache

import numpy as np
import pytest
import scipy.linalg
from scipy.optimize import brentq

from cases import CASE_BY_ID, CASES, case_ids
from convtool.errors import ConvtoolWarning, InputError
from convtool.numeric.constants import FIELDS, compute_constants
from convtool.results import NotApplicable

EPS = np.finfo(np.float64).eps
SAFETY = 4.0

# ============================================================== dense oracle: primitives


def dense_primitives(raw: dict) -> tuple[dict, dict]:
    """Primitive values from the raw arrays by dense linear algebra, and aux data for error bounds."""
    W1 = np.array(raw["W1"], dtype=float)
    W2 = np.array(raw["W2"], dtype=float)
    n, h = W1.shape
    m = W2.shape[0]
    kind = raw["kind"]
    if kind in ("squared", "factorization"):
        X = np.array(raw["X"], dtype=float) if kind == "squared" else np.eye(n)
        Y = np.array(raw["Y"], dtype=float)
        gram = X.T @ X
        Wstar = scipy.linalg.lstsq(X, Y, lapack_driver="gelsy")[0]  # min-norm if rank deficient

        def lval(W):
            R = X @ W - Y
            return 0.5 * float(np.sum(R * R))

        inner = X.shape[0]
        op_fro2 = float(np.sum(X * X))
        b_norm = float(np.linalg.norm(Y))
    elif kind == "sensing":
        A = np.array(raw["A"], dtype=float)
        y = np.array(raw["y"], dtype=float)
        p = A.shape[0]
        M = A.reshape(p, n * m)  # row i = vec(A_i), row-major vec: <A_i, W> = M[i] @ W.ravel()
        gram = M.T @ M
        Wstar = scipy.linalg.lstsq(M, y, lapack_driver="gelsy")[0].reshape(n, m)

        def lval(W):
            r = M @ W.ravel() - y
            return 0.5 * float(r @ r)

        inner = p
        op_fro2 = float(np.sum(M * M))
        b_norm = float(np.linalg.norm(y))
    else:  # pragma: no cover
        raise ValueError(kind)

    ev_gram = np.linalg.eigvalsh(gram)
    K = float(ev_gram[-1])
    mu = float(ev_gram[0])
    lstar = lval(Wstar)
    W0 = W1 @ W2.T
    lW0 = lval(W0)
    L0 = lW0 - lstar  # the EXCESS loss, as the plain difference (independent of convtool's form)

    D0 = W1.T @ W1 - W2.T @ W2  # h x h, dense
    ev = np.linalg.eigvalsh(D0)[::-1]  # descending, all h
    ev_neg = np.sort(-ev)[::-1]  # spectrum of -D0, descending
    # lambda_k of an h x h matrix for k > h: the "no such eigenvalue" convention of convtool's
    # docstring (lambda_n_D0: "0 when h < n")
    lam_n = float(ev[n - 1]) if n <= h else 0.0
    lam_m_neg = float(ev_neg[m - 1]) if m <= h else 0.0

    s1 = np.linalg.svd(W1, compute_uv=False)  # min(n, h) values, descending
    s2 = np.linalg.svd(W2, compute_uv=False)
    s1_min = float(s1[n - 1]) if n <= h else 0.0  # sigma_n(W1), 0 when h < n (Lemma A.2)
    s2_min = float(s2[m - 1]) if m <= h else 0.0
    sws = np.linalg.svd(Wstar, compute_uv=False)
    sW0 = np.linalg.svd(W0, compute_uv=False)

    P = {
        "n": n, "m": m, "h": h,
        "mu": mu, "K": K, "lstar": lstar, "L0": L0,
        "lambda_max_D0": float(ev[0]), "lambda_max_negD0": float(ev_neg[0]),
        "lambda_n_D0": lam_n, "lambda_m_negD0": lam_m_neg,
        "s1_min_sq": s1_min ** 2, "s1_max_sq": float(s1[0]) ** 2,
        "s2_min_sq": s2_min ** 2, "s2_max_sq": float(s2[0]) ** 2,
        "sigma_min_Wstar": float(sws[min(n, m) - 1]), "sigma_max_Wstar": float(sws[0]),
        "dist0": float(np.linalg.norm(W0 - Wstar)),
        "sigma_max_W": float(sW0[0]),
    }
    aux = {"mu_eff": float(ev_gram[ev_gram > 1e-10 * K][0]), "inner": inner, "op_fro2": op_fro2, "b_norm": b_norm, "lW0": lW0,
           "Wstar_2": float(sws[0]), "Wstar_F": float(np.linalg.norm(Wstar)),
           "W1_F": float(np.linalg.norm(W1)), "W2_F": float(np.linalg.norm(W2)),
           "ev_D0": ev}
    return P, aux


def _error_bounds(P: dict, aux: dict) -> dict:
    """Absolute round-off bounds E_i on |convtool - oracle| for each primitive (see module docstring)."""
    n, m, h = P["n"], P["m"], P["h"]
    K, mu = P["K"], P["mu"]
    inner = max(aux["inner"], n * m)
    E = {}
    # Gram X^T X: entries are dot products of length N, error <= N eps ||X||_F^2; Weyl -> eigenvalues
    E["K"] = E["mu"] = 8 * EPS * inner * aux["op_fro2"]
    # rank-deficient X (mu = 0): both give the minimum-norm solution; its conditioning is that of the
    # nonzero part of the spectrum
    mu_eff = mu if mu > 1e-10 * K else aux["mu_eff"]
    kX = math.sqrt(K / mu_eff)
    r_norm = math.sqrt(max(2 * P["lstar"], 0.0))
    # least squares forward error (both solvers are backward stable)
    eW = 8 * EPS * inner * (kX * aux["Wstar_2"] + kX ** 2 * r_norm / math.sqrt(K))
    # W(0) = W1 W2^T (convtool: S1 S2^T with S = W Q): dot products of length h
    eW0 = 8 * EPS * h * aux["W1_F"] * aux["W2_F"]
    smax_ws, smin_ws = P["sigma_max_Wstar"], P["sigma_min_Wstar"]
    # convtool takes singular values as sqrt(eigvalsh(W W^T)): abs error eps smax^2 / smin, capped by sqrt(eps) smax
    gram_sv = 8 * EPS * max(n, m) * smax_ws ** 2
    E["sigma_max_Wstar"] = eW + gram_sv / max(smax_ws, 1e-300)
    E["sigma_min_Wstar"] = eW + min(gram_sv / max(smin_ws, 1e-300), math.sqrt(gram_sv))
    E["dist0"] = math.sqrt(min(n, m)) * eW + eW0
    E["sigma_max_W"] = eW0 + 8 * EPS * min(n, m) * P["sigma_max_W"]
    # spectra of D0 (h x h here, r x r in convtool) and of W1 W1^T, W2 W2^T: Gram error ~ eps (h+n+m) sigma_max^2
    S = P["s1_max_sq"] + P["s2_max_sq"]
    e_spec = 8 * EPS * (h + n + m) * S
    for k in ("lambda_max_D0", "lambda_max_negD0", "lambda_n_D0", "lambda_m_negD0",
              "s1_min_sq", "s1_max_sq", "s2_min_sq", "s2_max_sq"):
        E[k] = e_spec
    # l* = 1/2 ||r||^2: error of r is eps * N (||b|| + ||X|| ||W*||)
    e_r = 8 * EPS * inner * (aux["b_norm"] + math.sqrt(K) * aux["Wstar_F"])
    E["lstar"] = e_r * r_norm + e_r ** 2
    # L0: oracle is l(W0) - l* (cancellation: eps (l(W0) + l*)); convtool is 1/2 ||X (W0 - W*)||^2,
    # whose error is sqrt(2 K L0) (||dW*|| + ||dW0||)
    T = table2(P)
    if "_alpha1_addends" in T:
        P["_d_alpha1"] = 0.0
        E["_d_alpha1"] = 8 * EPS * T["_alpha1_addends"]
    E["L0"] = (8 * EPS * inner * (aux["lW0"] + P["lstar"]) + E["lstar"]
               + math.sqrt(2 * K * max(P["L0"], 0.0)) * (E["dist0"]) + K * E["dist0"] ** 2)
    return E


# ============================================================== dense oracle: formulas (paper)


def sq(x):
    return math.sqrt(x) if x > 0 else 0.0


def table2(P: dict) -> dict:
    """Table 2 and Lemma A.2 from primitives."""
    mu, K = P["mu"], P["K"]
    out = {}
    lp = max(P["lambda_max_D0"], 0.0)
    lm = max(P["lambda_max_negD0"], 0.0)
    ln = max(P["lambda_n_D0"], 0.0)
    lmn = max(P["lambda_m_negD0"], 0.0)
    out["lambda_plus"], out["lambda_minus"] = lp, lm
    out["Delta_low"] = ln + lmn
    out["Delta_plus"] = lp - ln
    out["Delta_minus"] = lm - lmn
    out["sigma_min_T0_sq"] = P["s1_min_sq"] + P["s2_min_sq"]  # Lemma A.2
    out["sigma_max_T0_sq"] = P["s1_max_sq"] + P["s2_max_sq"]
    if mu > 0:
        root_kappa = math.sqrt(K / mu)
        out["beta1"] = max(0.0, P["sigma_min_Wstar"] - root_kappa * P["dist0"])
        out["beta2"] = P["sigma_max_Wstar"] + root_kappa * P["dist0"]
        Dp, Dm, Dl, b1, b2 = out["Delta_plus"], out["Delta_minus"], out["Delta_low"], out["beta1"], out["beta2"]
        r1, r2 = math.sqrt((Dp + Dl) ** 2 + 4 * b1 ** 2), math.sqrt((Dm + Dl) ** 2 + 4 * b1 ** 2)
        # "_d_alpha1": pseudo-primitive for the rounding of this cancelling sum (0 in the oracle value,
        # moved by 8 eps (|Dp| + |Dm| + r1 + r2) in the error propagation)
        out["alpha1"] = (-Dp - Dm + r1 + r2) / 2 + P.get("_d_alpha1", 0.0)
        out["_alpha1_addends"] = (Dp + Dm + r1 + r2) / 2
        out["alpha2"] = (lp + math.sqrt(lp ** 2 + 4 * b2 ** 2)) / 2 + (lm + math.sqrt(lm ** 2 + 4 * b2 ** 2)) / 2
        out["kappa"] = K / mu
        out["rate_nonoverparam"] = 1 - mu / K
        out["alpha_ratio"] = out["alpha1"] / out["alpha2"]
        out["local_rate_limit"] = 1 - (mu / K) * out["alpha1"] / out["alpha2"]
    return out


def kbar0(eta, P, T, c):
    """Eq. (91) with exp(eta0^c) (typo reading 3): Kbar_0 as a function of eta0."""
    K, L0 = P["K"], max(P["L0"], 0.0)
    s = np.sqrt(2 * K * L0)
    return s + 6 * K ** 2 * T["beta2"] * L0 * eta ** 2 + K * np.exp(eta ** c) * T["alpha2"] * (1 + 3 * s * eta)


def g87(eta, P, T, c):
    """Eq. (87) residual: eta0 Kbar_0(eta0) - 1."""
    return eta * kbar0(eta, P, T, c) - 1.0


def F88(eta, P, T, c, d):
    """Eq. (88) residual F = (1 - exp(-eta^c))(1 - Delta) - 4 K L0 eta^2 and the scale of its addends.

    Written without cancellation (my own algebra): 1 - Delta = (1 + eta^d) mubar eta (2 - Kbar0 eta) - eta^d
    (Delta = (1 + eta^d) rhobar0, rhobar0 = 1 - 2 mubar eta + mubar Kbar0 eta^2),
    mubar = mu (alpha1 - 2 alpha2 expm1(eta^c)), 1 - exp(-eta^c) = -expm1(-eta^c).
    """
    eta = np.asarray(eta, dtype=float)
    mu, K, L0 = P["mu"], P["K"], max(P["L0"], 0.0)
    a1, a2 = T["alpha1"], T["alpha2"]
    with np.errstate(all="ignore"):
        ec = eta ** c
        em = np.expm1(ec)
        mubar = mu * (a1 - 2 * a2 * em)
        mubar_scale = mu * (a1 + 2 * a2 * em)
        kb = kbar0(eta, P, T, c)
        one_m = -np.expm1(-ec)
        ed = eta ** d
        omD = (1 + ed) * mubar * eta * (2 - kb * eta) - ed
        omD_scale = (1 + ed) * mubar_scale * eta * (2 + kb * eta) + ed
        q = 4 * K * L0 * eta ** 2
        return one_m * omD - q, one_m * omD_scale + q


def theory_at(P: dict, T: dict, eta0: float, c: float, d: float) -> dict:
    """Theorem E.1 quantities and Theorem 3.1's mu_t, K_t, rho at t = 0 with eta = eta0."""
    mu, K, L0 = P["mu"], P["K"], max(P["L0"], 0.0)
    a1, a2 = T["alpha1"], T["alpha2"]
    E = math.exp(eta0 ** c)
    out = {"eta0": eta0}
    em = math.expm1(eta0 ** c)  # exp(eta0^c) - 1 without cancellation (eta0^c can be ~1e-8)
    out["mubar"] = mu * (a1 - 2 * a2 * em)
    out["Kbar0"] = float(kbar0(eta0, P, T, c))
    out["rhobar0"] = 1 - 2 * out["mubar"] * eta0 + out["mubar"] * out["Kbar0"] * eta0 ** 2
    out["one_minus_rhobar0"] = 2 * out["mubar"] * eta0 - out["mubar"] * out["Kbar0"] * eta0 ** 2
    out["Delta"] = (1 + eta0 ** d) * out["rhobar0"]
    # 1 - Delta without cancellation: (1 + eta0^d)(1 - rhobar0) - eta0^d
    out["one_minus_Delta"] = (1 + eta0 ** d) * out["one_minus_rhobar0"] - eta0 ** d
    out["local_rate"] = 1 - (mu / K) * (a1 - 2 * a2 * em) / (E * a2)
    out["drift_total_bound"] = 2 * K * eta0 ** 2 * a2 * E * L0 / out["one_minus_Delta"]
    sminT, smaxT = T["sigma_min_T0_sq"], T["sigma_max_T0_sq"]
    out["mu_0"] = mu * sminT  # eq. (11)
    s = math.sqrt(2 * K * L0)
    out["K_0"] = K * smaxT + s + 6 * K ** 2 * P["sigma_max_W"] * L0 * eta0 ** 2 + 3 * K * smaxT * s * eta0  # (12)
    out["rho_0"] = 1 - 2 * out["mu_0"] * eta0 + out["mu_0"] * out["K_0"] * eta0 ** 2  # eq. (10)
    return out


def oracle_eta0_1(P, T, c) -> float:
    """Unique positive root of eq. (87) by bisection-safe Brent on a doubled bracket."""
    b = 1.0
    while g87(b, P, T, c) < 0:
        b *= 2.0
    a = b
    while g87(a, P, T, c) > 0 and a > 1e-300:
        a /= 2.0
    return brentq(lambda x: float(g87(x, P, T, c)), a, b, xtol=1e-300, rtol=4 * EPS, maxiter=500)


def oracle_eta_K(P, T, c) -> float:
    """Root of eta Kbar_0(eta) = 2, where the factor (2 - Kbar_0 eta) of 1 - Delta changes sign."""
    f = lambda x: float(x * kbar0(x, P, T, c) - 2.0)  # noqa: E731
    b = 1.0
    while f(b) < 0:
        b *= 2.0
    a = b
    while f(a) > 0 and a > 1e-300:
        a /= 2.0
    return brentq(f, a, b, xtol=1e-300, rtol=4 * EPS, maxiter=500)


def eta0_3_formula(T, c) -> float:
    return math.log1p(T["alpha1"] / (2 * T["alpha2"])) ** (1.0 / c)


def x_star(P, T, c) -> float:
    """A point where eq. (88)'s F is provably < 0 (when alpha1 > 0, mu > 0).

    At x* = min(eta0^(3), eta_K) one factor of (1 + x^d) mubar x (2 - Kbar_0 x) vanishes
    (mubar = 0 at eta0^(3), 2 - Kbar_0 x = 0 at eta_K), so 1 - Delta = -x^d < 0 and
    F(x*) = -(1 - exp(-x^c)) x^d - 4 K L0 x^2 < 0. Hence eq. (88) always has a positive
    root, below x*: footnote 4's eta0^(2) = inf never happens when Theorem E.1 applies.
    """
    return min(eta0_3_formula(T, c), oracle_eta_K(P, T, c))


ORACLE_FLOOR = 1e-140


def oracle_eta0_2(P, T, c, d, points=200_000) -> float:
    """Smallest positive root of eq. (88): first sign change on a dense log grid below x*, then Brent.

    Returns nan when F <= 0 already at ``ORACLE_FLOOR`` = 1e-140 (chosen so that no term of F
    underflows there: F ~ eta^(1+c) mubar, 4 K L0 eta^2 stay far above 1e-308).
    """
    xs = x_star(P, T, c)
    grid = np.geomspace(ORACLE_FLOOR, xs, points)
    F, _ = F88(grid, P, T, c, d)
    nonpos = np.flatnonzero(~(F > 0))
    assert nonpos.size, "F(x*) < 0 must hold"
    j = int(nonpos[0])
    if j == 0:
        return float("nan")
    return brentq(lambda x: float(F88(x, P, T, c, d)[0]), grid[j - 1], grid[j], xtol=1e-300, rtol=4 * EPS,
                  maxiter=500)


def _local_root(fun, r):
    """Root of fun near r (a sign change from + to - in a widening window), for error propagation."""
    for w in (1e-9, 1e-7, 1e-5, 1e-3, 1e-2, 0.1, 0.5):
        a, b = r * (1 - w), r * (1 + w)
        fa, fb = fun(a), fun(b)
        if fa > 0 >= fb:
            return brentq(fun, a, b, xtol=1e-300, rtol=4 * EPS, maxiter=500)
    return float("nan")


# ============================================================== oracle per case (cached)


class OracleCase:
    def __init__(self, case):
        self.case = case
        raw = case.raw()
        self.raw = raw
        self.P, self.aux = dense_primitives(raw)
        self.E = _error_bounds(self.P, self.aux)
        self.c, self.d = case.c, case.d
        self.T = table2(self.P)
        loss, W1, W2 = case.build()
        self.res = compute_constants(loss, W1, W2, c=case.c, d=case.d)

    # ---- quantities as functions of the primitives (for the comparison and its error propagation)
    def value(self, name, P=None):
        P = self.P if P is None else P
        T = table2(P)
        c, d = self.c, self.d
        if name in P:
            return P[name]
        if name in T:
            return T[name]
        if name == "eta0_3":
            return eta0_3_formula(T, c)
        if name == "eta0_1":
            if P is self.P:
                return self._eta0_1
            return _local_root(lambda x: -float(g87(x, P, T, c)), self._eta0_1)
        if name == "eta0_2":
            if P is self.P:
                return self._eta0_2
            return _local_root(lambda x: float(F88(x, P, T, c, d)[0]), self._eta0_2)
        if name in ("eta_max", "eta0"):  # the default eta0 is eta_max
            return min(self.value("eta0_1", P), self.value("eta0_2", P), eta0_3_formula(T, c))
        # theory at the eta0 convtool chose (an input of these formulas, exact)
        return theory_at(P, T, float(self.res.eta0), c, d)[name]

    @property
    def _eta0_1(self):
        if not hasattr(self, "_e1"):
            self._e1 = oracle_eta0_1(self.P, self.T, self.c)
        return self._e1

    @property
    def _eta0_2(self):
        if not hasattr(self, "_e2"):
            self._e2 = oracle_eta0_2(self.P, self.T, self.c, self.d)
        return self._e2

    def propagated(self, name) -> float:
        """sum_i max_{+-} |q(p +- E_i) - q(p)|: the oracle's sensitivity to the primitives' round-off."""
        q0 = self.value(name)
        tot = 0.0
        for k, e in self.E.items():
            if e == 0:
                continue
            worst = 0.0
            for sgn in (1, -1):
                Pp = dict(self.P)
                Pp[k] = self.P[k] + sgn * e
                if k in ("mu", "L0") and Pp[k] <= 0:
                    Pp[k] = self.P[k]  # a bound larger than the value itself: keep the sign
                with np.errstate(all="ignore"):
                    try:
                        v = self.value(name, Pp)
                    except (ValueError, ZeroDivisionError):
                        v = math.nan
                if np.isfinite(v):
                    worst = max(worst, abs(v - q0))
            tot += worst
        return tot


@lru_cache(maxsize=None)
def oracle(case_id: str) -> OracleCase:
    return OracleCase(CASE_BY_ID[case_id])


# quantity -> (rtol of the formula evaluation, absolute floor); see module docstring
ONE_MINUS = 16 * EPS
TOLS = {
    "mu": (1e-13, 0.0), "K": (1e-13, 0.0), "kappa": (1e-12, 0.0), "lstar": (1e-12, 0.0), "L0": (1e-12, 0.0),
    "lambda_plus": (1e-12, 0.0), "lambda_minus": (1e-12, 0.0), "Delta_low": (1e-12, 0.0),
    "Delta_plus": (1e-12, 0.0), "Delta_minus": (1e-12, 0.0),
    "beta1": (1e-12, 0.0), "beta2": (1e-12, 0.0), "sigma_min_Wstar": (1e-12, 0.0), "sigma_max_Wstar": (1e-12, 0.0),
    "alpha1": (1e-12, 0.0), "alpha2": (1e-12, 0.0), "alpha_ratio": (1e-12, 0.0),
    "sigma_min_T0_sq": (1e-12, 0.0), "sigma_max_T0_sq": (1e-12, 0.0),
    "eta0_1": (1e-11, 0.0), "eta0_2": (1e-9, 0.0), "eta0_3": (1e-11, 0.0), "eta_max": (1e-9, 0.0),
    "eta0": (1e-9, 0.0),
    "mubar": (1e-11, 0.0), "Kbar0": (1e-12, 0.0), "rhobar0": (1e-12, ONE_MINUS), "Delta": (1e-12, ONE_MINUS),
    "local_rate": (1e-12, ONE_MINUS), "local_rate_limit": (1e-12, ONE_MINUS),
    "rate_nonoverparam": (1e-12, ONE_MINUS), "drift_total_bound": (1e-9, 0.0),
    "mu_0": (1e-12, 0.0), "K_0": (1e-12, 0.0), "rho_0": (1e-12, ONE_MINUS),
}
# mubar = mu (alpha1 + 2 alpha2 (1 - exp(eta0^c))) cancels at eta0 = eta0^(3): its floor is relative to
# the addends; handled in the test below.

IMBALANCE = ["lambda_plus", "lambda_minus", "Delta_low", "Delta_plus", "Delta_minus"]
DATA = ["mu", "K", "lstar", "L0"]
ALWAYS = DATA + IMBALANCE + ["sigma_min_T0_sq", "sigma_max_T0_sq", "sigma_min_Wstar", "sigma_max_Wstar"]
NEEDS_MU = ["kappa", "beta1", "beta2", "alpha1", "alpha2", "alpha_ratio", "eta0_3", "rate_nonoverparam",
            "local_rate_limit"]
NEEDS_ETA0 = ["eta0_1", "eta0_2", "eta_max", "eta0", "mubar", "Kbar0", "rhobar0", "Delta", "local_rate",
              "mu_0", "K_0", "rho_0"]

FULL = case_ids(without_tags=("mu_zero", "alpha1_zero", "eq88_grid_miss", "eq88_below_floor"))


def _compare(o: OracleCase, name: str):
    got = getattr(o.res, name)
    assert not isinstance(got, NotApplicable), f"{name}: {got}"
    want = o.value(name)
    rtol, floor = TOLS[name]
    atol = SAFETY * o.propagated(name) + floor
    if name == "mubar":
        P, T = o.P, o.T
        e0 = float(o.res.eta0)
        atol += 16 * EPS * P["mu"] * (T["alpha1"] + 2 * T["alpha2"] * math.expm1(e0 ** o.c))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"{o.case.id}: {name}")
    return got, want, atol


# ============================================================== per-quantity comparisons


@pytest.mark.parametrize("name", ALWAYS)
@pytest.mark.parametrize("case_id", [c.id for c in CASES])
def test_primitive_quantities(case_id, name):
    o = oracle(case_id)
    if name == "mu" and "mu_zero" in o.case.tags:
        assert o.res.mu == 0.0
        assert o.P["mu"] <= 1e-12 * o.P["K"]
        return
    _compare(o, name)


@pytest.mark.parametrize("name", NEEDS_MU)
@pytest.mark.parametrize("case_id", case_ids(without_tags=("mu_zero",)))
def test_strongly_convex_quantities(case_id, name):
    _compare(oracle(case_id), name)


@pytest.mark.parametrize("name", NEEDS_ETA0)
@pytest.mark.parametrize("case_id", FULL)
def test_step_size_and_theory_quantities(case_id, name):
    _compare(oracle(case_id), name)


@pytest.mark.parametrize("case_id", FULL)
def test_one_minus_rates_resolved(case_id):
    """rhobar0 and Delta are 1 - small: their distance from 1 is right to the resolution of doubles near 1."""
    o = oracle(case_id)
    th = theory_at(o.P, o.T, float(o.res.eta0), o.c, o.d)
    np.testing.assert_allclose(1 - o.res.rhobar0, th["one_minus_rhobar0"], rtol=1e-8,
                               atol=4 * EPS + SAFETY * o.propagated("rhobar0"))
    np.testing.assert_allclose(1 - o.res.Delta, th["one_minus_Delta"], rtol=1e-8,
                               atol=4 * EPS + SAFETY * o.propagated("Delta"))
    # the theorem's requirements at eta0 <= eta_max (eq. 95): mubar > 0, 0 < rhobar0, Delta < 1
    # (with a tiny eta0, rhobar0 = 1 - 4e-23 is 1.0 in doubles: the strict inequalities are on 1 - rhobar0)
    assert o.res.mubar > 0 and 0 < o.res.rhobar0 <= 1 and 0 < o.res.Delta <= 1
    assert th["one_minus_rhobar0"] > 0 and th["one_minus_Delta"] > 0


# drift_total_bound = 2 K eta0^2 alpha2 exp(eta0^c) L0 / (1 - Delta) (proof of Theorem E.1, A_3(t), eq. 103).
# At the default eta0 = eta_max = eta0^(2), 1 - Delta = 4 K L0 eta0^2 / (1 - exp(-eta0^c)) is tiny, so
# 1 - Delta must be formed without cancellation ((1 + eta0^d)(1 - rhobar0) - eta0^d); the oracle's value
# agrees with a 50-digit mpmath evaluation. convtool forms 1 - Delta in floating point: relative error
# eps / (1 - Delta), 8% at 1 - Delta = 8e-16, inf at 1 - Delta < eps / 2.
DRIFT_CANCELLATION = {"sq_h_lt_nm": "1 - Delta = 8.4e-16: 8% off", "ill_conditioned_X": "1 - Delta = 1.8e-14: 0.8% off",
                      "sq_tiny_init": "1 - Delta = 3.9e-23 rounds to 0: inf instead of 5.4e-8"}


@pytest.mark.parametrize("case_id", FULL)
def test_drift_total_bound(case_id):
    # regression (cases in DRIFT_CANCELLATION): 1 - Delta was formed in floating point
    o = oracle(case_id)
    got = o.res.drift_total_bound
    want = o.value("drift_total_bound")
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=SAFETY * o.propagated("drift_total_bound"))


@pytest.mark.parametrize("case_id", case_ids(without_tags=("mu_zero",)))
def test_lemma_E3(case_id):
    """alpha1 <= sigma_min^2(T0) <= sigma_max^2(T0) <= alpha2 (Lemma E.3), on convtool's values.

    Slack 1e-9 alpha2: relative round-off of the four values (all ~ alpha2 or smaller).
    """
    r = oracle(case_id).res
    slack = 1e-9 * r.alpha2
    assert r.alpha1 <= r.sigma_min_T0_sq + slack
    assert r.sigma_min_T0_sq <= r.sigma_max_T0_sq + slack
    assert r.sigma_max_T0_sq <= r.alpha2 + slack


def dense_T_star_T(W1, W2):
    """Matrix of U -> U W2 W2^T + W1 W1^T U (eq. 30) on column-major vec(U), U in R^{n x m}."""
    n, m = W1.shape[0], W2.shape[0]
    return np.kron(np.eye(m), W1 @ W1.T) + np.kron(W2 @ W2.T, np.eye(n))


@pytest.mark.parametrize("case_id", [c.id for c in CASES])
def test_operator_T0_dense(case_id):
    """sigma_min^2(T0), sigma_max^2(T0) as extreme eigenvalues of the dense (nm x nm) T*T: checks Lemma A.2."""
    o = oracle(case_id)
    W1, W2 = o.raw["W1"], o.raw["W2"]
    ev = np.linalg.eigvalsh(dense_T_star_T(W1, W2))
    atol = SAFETY * o.E["s1_max_sq"]  # absolute Gram accuracy eps (h + n + m) (||W1||^2 + ||W2||^2)
    np.testing.assert_allclose(o.res.sigma_min_T0_sq, ev[0], rtol=1e-12, atol=atol)
    np.testing.assert_allclose(o.res.sigma_max_T0_sq, ev[-1], rtol=1e-12, atol=atol)


@pytest.mark.parametrize("case_id", case_ids(with_tags=("h_lt_n",)))
def test_width_below_n_conventions(case_id):
    """lambda_n(D0) of an h x h D0 with h < n is the padding 0, and sigma_n(W1) = 0 (Lemma A.2)."""
    o = oracle(case_id)
    r = o.res
    assert o.P["h"] < o.P["n"]
    assert o.P["lambda_n_D0"] == 0.0 and o.P["s1_min_sq"] == 0.0
    assert r.values["lambda_n_D0"] == 0.0 and r.values["s1_min_sq"] == 0.0
    np.testing.assert_allclose(r.sigma_min_T0_sq, o.P["s2_min_sq"], rtol=1e-12)
    # Delta_+ = lambda_+ - max(0, 0) = lambda_+
    np.testing.assert_allclose(r.Delta_plus, r.lambda_plus, rtol=1e-15)
    np.testing.assert_allclose(r.Delta_plus, max(o.P["lambda_max_D0"], 0.0), rtol=1e-12,
                               atol=SAFETY * o.E["lambda_max_D0"])


# ============================================================== the roots, checked by their equations


@pytest.mark.parametrize("case_id", case_ids(without_tags=("mu_zero",)))
def test_eta0_1_solves_eq87(case_id):
    o = oracle(case_id)
    rr = o.res.roots["eta0_1"]
    assert rr.converged and rr.status == 0 and rr.flag == "converged"
    r = o.res.eta0_1
    assert r == rr.root
    # residual with the oracle's own Kbar_0 (eq. 91, exp(eta0^c)); eta Kbar0 is O(1) at the root
    tol = 1e-12 + SAFETY * o.propagated("eta0_1") / r
    assert abs(float(g87(r, o.P, o.T, o.c))) <= tol
    # unique positive root of an increasing function: sign change across it
    assert g87(0.999 * r, o.P, o.T, o.c) < 0 < g87(1.001 * r, o.P, o.T, o.c)
    grid = np.linspace(0, 10 * r, 2001)
    assert np.all(np.diff(g87(grid, o.P, o.T, o.c)) > 0)
    # convtool's own residual field
    assert abs(rr.residual) <= 1e-12


@pytest.mark.parametrize("case_id", FULL)
def test_eta0_2_is_smallest_root_of_eq88(case_id):
    o = oracle(case_id)
    rr = o.res.roots["eta0_2"]
    assert rr.converged and rr.status == 0
    r = o.res.eta0_2
    assert 0 < r < math.inf and r == rr.root
    F, scale = F88(r, o.P, o.T, o.c, o.d)
    assert abs(F) <= 1e-9 * scale, (F, scale)
    # no sign change below the root: dense scan from 1e-12 r (and a coarser one down to the solver's floor)
    grid = np.geomspace(1e-12 * r, r * (1 - 1e-7), 200_000)
    assert np.all(F88(grid, o.P, o.T, o.c, o.d)[0] > 0)
    low = np.geomspace(1e-100, 1e-12 * r, 20_000)
    assert np.all(F88(low, o.P, o.T, o.c, o.d)[0] > 0)
    # a genuine crossing
    assert F88(0.999 * r, o.P, o.T, o.c, o.d)[0] > 0 > F88(1.001 * r, o.P, o.T, o.c, o.d)[0]
    # below the point where F < 0 is proven
    assert r <= x_star(o.P, o.T, o.c)


@pytest.mark.parametrize("case_id", case_ids(without_tags=("mu_zero", "alpha1_zero")))
def test_eq88_has_a_root_below_x_star(case_id):
    """The oracle's own claim behind the eta0_2 checks: F(x*) < 0 (see :func:`x_star`)."""
    o = oracle(case_id)
    xs = x_star(o.P, o.T, o.c)
    assert 0 < xs < math.inf
    assert F88(xs, o.P, o.T, o.c, o.d)[0] < 0


@pytest.mark.parametrize("case_id", FULL + case_ids(with_tags=("eq88_grid_miss",)))
def test_eta_max_is_min_of_three(case_id):
    o = oracle(case_id)
    r = o.res
    assert r.eta_max == min(r.eta0_1, r.eta0_2, r.eta0_3)
    assert r.eta0 == r.eta_max and r.eta0_source == "eta_max"
    # against the oracle's own three terms (true smallest root of eq. 88 included)
    want = min(o._eta0_1, o._eta0_2, eta0_3_formula(o.T, o.c))
    np.testing.assert_allclose(r.eta_max, want, rtol=1e-9, atol=SAFETY * o.propagated("eta_max"))
    assert all(ch.ok for ch in r.checks if ch.name in ("strong convexity", "alpha1 > 0", "eta0 <= eta_max"))


def test_grid_miss_case_scan_range():
    """The eq. 88 scan ends at x* = min(eta0^(3), eta_K) where the oracle's F is negative, so the
    narrow negative window of this case is found (it was missed by the old fixed-span grid)."""
    o = oracle("eq88_grid_miss")
    rr = o.res.roots["eta0_2"]
    assert rr.status == 0 and rr.converged
    sc = rr.scan
    assert sc["lower"] == 1e-100 and sc["per_decade"] == 24
    assert F88(np.array([sc["upper"]]), o.P, o.T, o.c, o.d)[0][0] < 0
    assert sc["upper"] <= eta0_3_formula(o.T, o.c) * (1 + 1e-12)


@pytest.mark.parametrize("case_id", case_ids(with_tags=("mu_zero",)))
def test_mu_zero_not_applicable(case_id):
    o = oracle(case_id)
    r = o.res
    na_fields = NEEDS_MU + NEEDS_ETA0 + ["drift_total_bound"]
    for k in na_fields:
        v = getattr(r, k)
        assert isinstance(v, NotApplicable), k
        assert "mu" in v.reason, (k, v.reason)
        assert k in r.not_applicable
    for k in ALWAYS:
        assert isinstance(getattr(r, k), float), k
    assert not r.theorem_applies
    assert [ch.ok for ch in r.checks if ch.name == "strong convexity"] == [False]


@pytest.mark.parametrize("case_id", case_ids(with_tags=("alpha1_zero",)))
def test_alpha1_zero(case_id):
    o = oracle(case_id)
    r = o.res
    assert o.T["alpha1"] <= SAFETY * o.propagated("alpha1")
    assert r.alpha1 == 0.0
    for k in ("eta0_2", "eta_max", "eta0", "mubar", "rhobar0"):
        assert isinstance(getattr(r, k), NotApplicable), k
    assert "alpha1" in r.eta0_2.reason
    assert not r.theorem_applies


def test_alpha1_exactly_zero_is_not_positive():
    # regression: the cancelling sum -Dp - Dm + sqrt(.) + sqrt(.) gave alpha1 = +1e-16 and a false "alpha1 > 0"
    """W1 = diag(0.1, 0), W2 = diag(0, 2), Y = 0: D0 = diag(0.01, -4), so lambda_2(D0) < 0, lambda_2(-D0) < 0
    (Delta_low = 0) and W* = 0 (beta1 = 0): alpha1 = (-0.01 - 4 + 0.01 + 4) / 2 = 0 exactly."""
    W1, W2 = np.diag([0.1, 0.0]), np.diag([0.0, 2.0])
    from convtool.numeric.losses import FactorizationLoss

    r = compute_constants(FactorizationLoss(np.zeros((2, 2))), W1, W2)
    assert r.beta1 == 0.0 and r.Delta_low == 0.0
    assert r.alpha1 <= 0.0
    assert {ch.name: ch.ok for ch in r.checks}["alpha1 > 0"] is False
    assert isinstance(r.eta_max, NotApplicable)


def test_small_scale_data_eta0_1():
    # regression: the bracket end overflowed exp(b^c) (X = 0.01 I, init 1e-2: b = 7e6)
    rng = np.random.default_rng(0)
    W1, W2 = 1e-2 * rng.normal(size=(2, 6)), 1e-2 * rng.normal(size=(2, 6))
    X = 0.01 * np.eye(2)
    raw = {"kind": "squared", "X": X, "Y": X @ W1 @ W2.T, "W1": W1, "W2": W2}
    P, _ = dense_primitives(raw)
    T = table2(P)
    want = oracle_eta0_1(P, T, 0.5)
    assert math.isfinite(want) and T["alpha1"] > 0
    from convtool.numeric.losses import SquaredLoss

    res = compute_constants(SquaredLoss(raw["X"], raw["Y"]), W1, W2)
    assert not isinstance(res.eta0_1, NotApplicable), res.eta0_1
    np.testing.assert_allclose(res.eta0_1, want, rtol=1e-9)
    assert not isinstance(res.eta_max, NotApplicable)


@pytest.mark.parametrize("case_id", case_ids(with_tags=("balanced",)))
def test_balanced_imbalance_is_zero(case_id):
    o = oracle(case_id)
    r = o.res
    assert np.all(o.aux["ev_D0"] == 0.0)
    for k in IMBALANCE:
        assert getattr(r, k) == 0.0, k
    if "alpha1_zero" not in o.case.tags:
        # with no imbalance alpha1 = (2 sqrt(4 beta1^2)) / 2 = 2 beta1
        np.testing.assert_allclose(r.alpha1, 2 * r.beta1, rtol=1e-14)
        assert r.beta1 > 0


def test_case_regimes_are_what_they_claim():
    """Guard the case collection itself (so the regimes stay covered)."""
    o = oracle("sq_N8_lstar")
    assert o.P["lstar"] > 0.1
    assert oracle("sq_tiny_init").T["alpha1"] < 1e-6
    assert oracle("sq_large_init").T["alpha2"] > 1e6
    assert oracle("ill_conditioned_X").T["kappa"] > 1e5
    assert oracle("sq_h_lt_nm").P["h"] < 6 and oracle("sq_h_lt_nm").T["alpha1"] > 0
    assert oracle("sensing").P["mu"] > 0
    assert oracle("paper_fig1_small").P["h"] >= 60
    for c in CASES:
        assert c.raw()["W1"].shape[1] <= 60


# ============================================================== API contract


def test_inputs_not_modified():
    loss, W1, W2 = CASE_BY_ID["sq_n3_m2_h10"].build()
    W1c, W2c = W1.copy(), W2.copy()
    compute_constants(loss, W1, W2)
    compute_constants(loss, W1, W2, eta0=1e-3)
    np.testing.assert_array_equal(W1, W1c)
    np.testing.assert_array_equal(W2, W2c)


def test_eta0_above_eta_max_warns():
    loss, W1, W2 = CASE_BY_ID["sq_n3_m2_h10"].build()
    ref = compute_constants(loss, W1, W2)
    eta0 = 2 * ref.eta_max
    with pytest.warns(ConvtoolWarning, match="eta_max"):
        res = compute_constants(loss, W1, W2, eta0=eta0)
    assert res.eta0 == eta0 and res.eta0_source == "user"
    chk = {ch.name: ch for ch in res.checks}
    assert chk["eta0 <= eta_max"].ok is False
    assert not res.theorem_applies
    # a user eta0 below eta_max: no warning, check passes, theory evaluated at that eta0
    o = oracle("sq_n3_m2_h10")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvtoolWarning)
        low = compute_constants(loss, W1, W2, eta0=0.5 * ref.eta_max)
    assert {ch.name: ch.ok for ch in low.checks}["eta0 <= eta_max"] is True
    th = theory_at(o.P, o.T, 0.5 * ref.eta_max, o.c, o.d)
    for k in ("mubar", "Kbar0", "Delta", "K_0", "rho_0"):
        np.testing.assert_allclose(getattr(low, k), th[k], rtol=1e-10, err_msg=k)


@pytest.mark.parametrize("kw", [{"c": 0.0}, {"c": 1.0}, {"c": -0.5}, {"c": 1.5}, {"c": float("nan")},
                                {"d": 1.0}, {"d": 0.5}, {"d": float("nan")}, {"eta0": 0.0}, {"eta0": -1.0},
                                {"eta0": float("inf")}])
def test_bad_parameters_raise_input_error(kw):
    loss, W1, W2 = CASE_BY_ID["sq_n3_m2_h10"].build()
    with pytest.raises(InputError):
        compute_constants(loss, W1, W2, **kw)


REQUIRED_KEYS = ["mu", "K", "lstar", "L0", "lambda_plus", "lambda_minus", "Delta_low", "Delta_plus",
                 "Delta_minus", "beta1", "beta2", "alpha1", "alpha2", "sigma_min_T0_sq", "sigma_max_T0_sq",
                 "eta0_1", "eta0_2", "eta0_3", "eta_max", "eta0", "mubar", "Kbar0", "rhobar0", "Delta"]


@pytest.mark.parametrize("case_id", [c.id for c in CASES])
def test_to_dict_strict_json(case_id):
    r = oracle(case_id).res
    dct = r.to_dict()
    from convtool.results import jsonable

    assert dct == jsonable(dct) and list(dct) == list(jsonable(dct))  # plain all through (roots included)
    text = json.dumps(dct, allow_nan=False)
    back = json.loads(text)
    for k in REQUIRED_KEYS:
        assert k in back, k
    for k in FIELDS:
        v = getattr(r, k)
        if isinstance(v, NotApplicable) or not math.isfinite(v):
            assert back[k] is None, k
        else:
            assert back[k] == v, k
    if r.eta0_2 == math.inf:
        assert back["eta0_2"] is None
        assert back["roots"]["eta0_2"]["root"] is None


def test_eta0_2_null_when_infinite():
    # eq. 88 always has a root below x* when the theorem applies, so an infinite eta0_2 (footnote 4)
    # only reaches to_dict by construction here: it must serialize as null
    r = oracle("eq88_grid_miss").res
    r.quantities["eta0_2"] = math.inf
    assert json.loads(json.dumps(r.to_dict(), allow_nan=False))["eta0_2"] is None
