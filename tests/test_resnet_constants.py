"""Constants of Zou, Long & Gu (issue 8) against dense brute-force computations from the paper's definitions.

Every expected value is computed here from the printed formulas in the paper's column layout (X_p = X^T),
independently of the registry; T_eps and Theorem 3.6's fixed point are checked by direct search.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from convtool.numeric.resnet import make_transforms
from convtool.numeric.resnet_constants import compute_resnet_constants
from convtool.results import NotApplicable

e = math.e
C = 4 * math.sqrt(2 * e ** 3)


def oracle(X, Y, A, B, L, eps, delta, b):
    Xp, Yp = X.T, Y.T
    d, n = Xp.shape
    k, m = B.shape
    s = np.linalg.svd(Xp, compute_uv=False)
    r = int(np.sum(s > 1e-10 * s[0]))
    X2, sr = s[0], s[r - 1]
    Phi = Yp @ np.linalg.pinv(Xp)
    lstar = 0.5 * np.sum((Phi @ Xp - Yp) ** 2)
    L0 = 0.5 * np.sum((B @ A @ Xp - Yp) ** 2)
    lA, lB = np.linalg.norm(A, 2), np.linalg.norm(B, 2)
    mA = math.sqrt(max(np.linalg.eigvalsh(A.T @ A)[0], 0)) if m >= d else 0.0
    mB = math.sqrt(max(np.linalg.eigvalsh(B @ B.T)[0], 0)) if m >= k else 0.0
    G = mA ** 2 * mB ** 2 / (lA * lB)
    D0 = L0 - lstar
    eta = 1 / (2 * L * lA * lB * X2 * (math.sqrt(2 * e * L0) + 0.5 * e * lA * lB * X2))
    eta_p = 1 / (2 * L * lA * lB * X2 * (math.sqrt(e * L0) + 0.5 * e * lA * lB * X2))
    rho = eta * L * mA ** 2 * mB ** 2 * sr ** 2 / e
    T = 0
    while (1 - rho) ** T * D0 > eps:
        T += 1
    out = dict(rank_X=r, X_norm=X2, sigma_r=sr, kappa=X2 ** 2 / sr ** 2, X_fro=np.linalg.norm(Xp),
               X_2inf=np.linalg.norm(Xp, axis=0).max(), Y_fro=np.linalg.norm(Yp), lstar=lstar, L0=L0, Delta0=D0,
               lambda_A=lA, mu_A=mA, lambda_B=lB, mu_B=mB, Gamma=G,
               thm31_margin=G / (C * X2 * math.sqrt(D0) / sr ** 2), eta_thm31=eta, eta_thm31_printed=eta_p,
               rho_thm31=rho, T_eps=T,
               R_GD=math.sqrt(8 * e ** 3) * lA * lB * X2 * math.sqrt(D0) / (L * mA ** 2 * mB ** 2 * sr ** 2),
               region=0.5 / L, beta_smooth0=1 / eta, pl_lower=2 / e * mA ** 2 * mB ** 2 * sr ** 2,
               pl_upper=2 * e * lA ** 2 * lB ** 2 * X2 ** 2,
               m_prop33=100 * (math.sqrt(max(d, k)) + math.sqrt(2 * math.log(12 / delta))) ** 2,
               thm36_margin=G / (math.sqrt(8 * e ** 3) * n * X2 * math.log(3 * L0 / eps) * math.sqrt(2 * L0)
                                 / (b * sr ** 2)),
               alpha_star=C * X2 * math.sqrt(0.5 * np.sum(Yp ** 2) - lstar) / sr ** 2,
               identity_fail_ratio=C * X2 * np.linalg.norm(Xp) / (math.sqrt(2) * sr ** 2))
    a = 0.81 ** 2 / 1.21
    c, p, q = C * X2 / sr ** 2, 6.05 * k * math.log(3 * n / delta) * np.linalg.norm(Xp) ** 2, np.sum(Yp ** 2)
    # smallest m with a m >= c sqrt(p m + q), by bisection on the inequality itself
    lo, hi = 0.0, 1.0
    while a * hi < c * math.sqrt(p * hi + q):
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if a * mid < c * math.sqrt(p * mid + q) else (lo, mid)
    out["m_cor34"] = max(hi, out["m_prop33"])

    def T36(Tv):
        eta36 = b * mA ** 2 * mB ** 2 * sr ** 2 / (6 * e ** 3 * L * n * lA ** 4 * lB ** 4 * X2 ** 2) * min(
            (eps / 3) / (out["X_2inf"] ** 2 * lstar) if lstar > 0 else math.inf,
            math.log(2) ** 2 * b / (3 * n * X2 ** 2 * math.log(Tv / delta) * math.log(3 * L0 / eps)))
        return eta36, e / (eta36 * L * mA ** 2 * mB ** 2 * sr ** 2) * math.log(3 * D0 / eps)
    out["T36"] = T36
    return out


@pytest.fixture(scope="module")
def instance():
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))
    A, B = make_transforms("gaussian", d=3, k=2, m=7, seed=2)
    return X, Y, A, B


def test_every_constant_against_brute_force(instance):
    X, Y, A, B = instance
    res = compute_resnet_constants(X, Y, A, B, depth=4, eps=1e-3, delta=0.1, batch=10)
    q = res.quantities
    o = oracle(X, Y, A, B, 4, 1e-3, 0.1, 10)
    for key, want in o.items():
        if key == "T36":
            continue
        assert q[key] == pytest.approx(want, rel=1e-9), key
    assert q["C_thm31"] == pytest.approx(25.352261862, rel=1e-9)
    # Theorem 3.6's fixed point: T = T(eta(T)) by the oracle, T >= 1, and eta_thm36 = eta(T)
    T, eta36 = q["T_thm36"], q["eta_thm36"]
    e36, Tn = o["T36"](T)
    assert T >= 1 and Tn == pytest.approx(T, rel=1e-9) and eta36 == pytest.approx(e36, rel=1e-9)
    # the other root lies below T = 1 (issue: two roots, take T >= 1)
    g = lambda t: t - o["T36"](t)[1]  # noqa: E731
    assert g(1.0) < 0 and g(2 * T) > 0


def test_theorem_38_needs_lstar_zero_and_its_constants(instance):
    X, Y, A, B = instance
    res = compute_resnet_constants(X, Y, A, B, depth=4, batch=10, steps=500)
    for key in ("thm38_margin", "eta_thm38"):
        assert isinstance(res.quantities[key], NotApplicable) and "L(W*) = 0" in res.quantities[key].reason
    Y0 = X @ np.random.default_rng(1).normal(size=(3, 2))  # L* = 0
    res = compute_resnet_constants(X, Y0, A, B, depth=4, batch=10, steps=500)
    q = res.quantities
    o = oracle(X, Y0, A, B, 4, 1.0, 0.1, 10)
    n = 40
    base = 10 ** 2 * o["mu_A"] ** 2 * o["mu_B"] ** 2 * o["sigma_r"] ** 2 / (
        4 * n ** 2 * o["lambda_A"] ** 4 * o["lambda_B"] ** 4 * o["X_norm"] ** 4 * math.log(500 / 0.1))
    assert q["eta_thm38"] == pytest.approx(math.log(2) * base / (96 * e ** 3), rel=1e-9)
    assert q["eta_thm38_printed"] == pytest.approx(math.log(2) * base / (54 * e ** 3), rel=1e-9)
    assert q["eta_thm38_tight"] == pytest.approx(math.log(2) * base / (24 * e ** 3), rel=1e-9)
    rhs = 4 * math.sqrt(2 * e ** 3) * n * o["X_norm"] * math.sqrt(2 * o["L0"]) / (10 * o["sigma_r"] ** 2)
    assert q["thm38_margin"] == pytest.approx(o["Gamma"] / rhs, rel=1e-9)
    assert q["T_thm38"] == 500.0


def test_m_below_d_makes_the_mu_constants_not_applicable_with_the_reason():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(30, 4)), rng.normal(size=(30, 2))
    A, B = rng.normal(size=(3, 4)), rng.normal(size=(2, 3))
    res = compute_resnet_constants(X, Y, A, B, depth=3)
    q = res.quantities
    assert q["mu_A"] == 0.0 and q["mu_B"] > 0
    for key in ("Gamma", "thm31_margin", "rho_thm31", "T_eps", "R_GD", "pl_lower", "thm36_margin"):
        assert isinstance(q[key], NotApplicable), key
        assert "m = 3 < d = 4" in q[key].reason and "Theorems 3.1, 3.6 and 3.8 do not apply" in q[key].reason
    assert isinstance(q["eta_thm31"], float)  # the step itself needs no mu
    assert not next(c for c in res.checks if c.name == "m >= max(d, k)").ok


def test_delta0_is_cancellation_free_near_the_optimum():
    """A near-optimal start: L0 - L* would lose every digit; Delta0 comes from the explicit residual."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 2))
    A, B = np.eye(2), np.eye(2)
    Phi = np.eye(2) + 1e-9 * rng.normal(size=(2, 2))
    Z = rng.normal(size=(50, 2))
    noise = Z - X @ np.linalg.lstsq(X, Z, rcond=None)[0]  # orthogonal to X's columns: W* = Phi^T exactly
    Y = X @ Phi.T + noise
    res = compute_resnet_constants(X, Y, A, B, depth=2)
    want = 0.5 * np.sum((X @ (np.eye(2) - Phi.T)) ** 2)
    assert res.quantities["Delta0"] == pytest.approx(want, rel=1e-6)
    assert res.quantities["Delta0"] < 1e-12 * res.quantities["lstar"]


def test_alpha_star_meets_the_condition_exactly_for_the_modified_identity():
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(30, 3)), rng.normal(size=(30, 2))
    a_star = compute_resnet_constants(X, Y, *make_transforms("modified-identity", d=3, k=2, m=5), depth=3
                                      ).quantities["alpha_star"]
    res = compute_resnet_constants(X, Y, *make_transforms("modified-identity", d=3, k=2, m=5, alpha_mod=a_star),
                                   depth=3)
    assert res.quantities["thm31_margin"] == pytest.approx(1.0, rel=1e-12)
    assert res.quantities["R_GD"] == pytest.approx(res.quantities["region"], rel=1e-12)  # notes 4.2: R_GD = 0.5/L


def test_remark_32_threshold_and_cor34_constant():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(10, 2)), rng.normal(size=(10, 2))
    q = compute_resnet_constants(X, Y, np.eye(2), np.eye(2), depth=2).quantities
    assert q["remark32"] == pytest.approx(1 / (32 * e ** 3), rel=1e-12)
    assert q["cor34_const"] == pytest.approx(32 * e ** 3 * 6.05 / (0.81 ** 2 / 1.21) ** 2, rel=1e-12)
    assert round(q["cor34_const"], 1) == 13225.7  # the notes' 13,227 is a rounding slip
