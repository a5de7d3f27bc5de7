"""Zhao & Xu (TMLR 2024) quantities against independent oracles written from the paper.

Paper: shared/papers/deep-linear-trajectory-zhao-xu.txt; notes: shared/notes/deep-linear-trajectory.md.
Every oracle below is typed again by hand from the paper (numpy / mpmath), never from the registry:

* the identities the notes derive (eq. 10 as a max, Theorem 1's step as eta/eta0 = e^{2c}/2, the printed
  and the proof's rates of Lemma 3 / Theorems 4-6, the explicit Lemma 3 constants at c = 0.3 and 0.1,
  the drift radius, the tau formula of Lemma 4, the D_R of Lemma 6's proof);
* the theorem-shaped claims on a real convex problem (rank-deficient squared loss, row samples):
  one convex GD step contracts ||W - W*||_X^2 by q (eq. 10), Lemma 5 and Lemma 6 (with D_R) on the
  perturbed dynamics V(t+1) = V(t) - eta_* grad L(V(t)) + R(t), ||R(t)||_X <= tau ||V(t) - W*||_X;
* Appendix G's numbers (notes section 4.3) only as consistency of formulas: kappa from beta and alpha,
  C3 from the data constants, q + 7 tau, D_R(1).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp

from convtool.analysis import get
from convtool.analysis.evaluate import evaluate

P = "zhao-xu"


def zx(values, *targets):
    """Evaluate zhao-xu targets from plain-name values; returns the values of the targets."""
    out = evaluate(values, targets=list(targets), paper=P)
    return out[targets[0]] if len(targets) == 1 else tuple(out[t] for t in targets)


def data_values(alpha, beta, **extra):
    """Primitives that give these alpha, beta (loss_scale 1)."""
    return {"loss_scale": 1.0, "lambda_min_pos": alpha, "lambda_max": beta, **extra}


# ------------------------------------------------------------------ eq. (10)

def q_oracle(alpha, beta, es):
    """Eq. (10) transcribed: the two branches, nan outside 0 < eta_* < 2/beta."""
    if 0 < es <= 2 / (alpha + beta):
        return 1 - alpha * es * (2 - es * alpha)
    if 2 / (alpha + beta) < es < 2 / beta:
        return 1 - beta * es * (2 - es * beta)
    return math.nan


@pytest.mark.parametrize("seed", range(5))
def test_q_piecewise_equals_max_form_and_oracle(seed):
    """The notes' identity q = max((1 - alpha eta_*)^2, (1 - beta eta_*)^2) on (0, 2/beta), both branches."""
    rng = np.random.default_rng(seed)
    alpha = float(10 ** rng.uniform(-2, 1))
    beta = alpha * float(10 ** rng.uniform(0, 2))
    nN, N = 3.0, 4.0
    for frac in np.concatenate([rng.uniform(0.01, 0.99, 20), [0.5, 1 / (1 + alpha / beta)]]):
        es = frac * 2 / beta
        eta = es * nN / N
        got = zx(data_values(alpha, beta, eta=eta, n_N=nN, N=N), "q")
        max_form = max((1 - alpha * es) ** 2, (1 - beta * es) ** 2)
        assert got == pytest.approx(q_oracle(alpha, beta, es), rel=1e-12, abs=1e-14)
        assert got == pytest.approx(max_form, rel=1e-12, abs=1e-14)
    # beyond 2/beta eq. (10) is undefined: nan (not applicable)
    assert math.isnan(zx(data_values(alpha, beta, eta=2.5 / beta * nN / N, n_N=nN, N=N), "q"))


def test_q_branches_are_the_squares_symbolically():
    """Each branch of the registered Piecewise is the square of (1 - alpha eta_*) resp. (1 - beta eta_*)."""
    q = get("q", paper=P)
    a, b, es = (get(n, paper=P).symbol for n in ("alpha", "beta", "eta_star"))
    (e1, _), (e2, _), _ = q.expr.args
    assert sp.expand(e1 - (1 - a * es) ** 2) == 0
    assert sp.expand(e2 - (1 - b * es) ** 2) == 0


def test_q_special_values():
    alpha, beta = 0.7, 5.3
    kappa = beta / alpha
    nN, N = 2.0, 3.0
    base = data_values(alpha, beta, n_N=nN, N=N)
    es_thm1 = zx(base, "eta_thm1") * N / nN
    assert es_thm1 == pytest.approx(1 / beta)
    assert zx({**base, "eta": zx(base, "eta_thm1")}, "q") == pytest.approx((1 - 1 / kappa) ** 2)
    q_cor3 = zx({**base, "eta": zx(base, "eta_cor3")}, "q")
    assert q_cor3 == pytest.approx(1 - 4 * kappa / (1 + kappa) ** 2)
    assert q_cor3 == pytest.approx(((kappa - 1) / (kappa + 1)) ** 2)
    assert zx(base, "rate_cvx_4") == pytest.approx(q_cor3)


def test_one_convex_step_contracts_by_q():
    """Eq. (10) is the per-step contraction of ||W - W*||_X^2 on a real rank-deficient squared loss."""
    rng = np.random.default_rng(1)
    M, n0, nN, r = 30, 8, 3, 5
    X = rng.standard_normal((M, r)) @ rng.standard_normal((r, n0))  # rank 5 < n0: only a semi-norm
    Y = rng.standard_normal((M, nN))
    s = 2 / M  # Example 1's (1/M)||X W^T - Y||^2
    ev = np.linalg.eigvalsh(X.T @ X)
    pos = ev[ev > 1e-9 * ev[-1]]
    alpha, beta = s * pos[0], s * pos[-1]
    _, _, Vt = np.linalg.svd(X)
    PX = Vt[:r].T @ Vt[:r]
    Wst = np.linalg.lstsq(X, Y, rcond=None)[0].T

    def grad(W):
        return s * (X @ W.T - Y).T @ X

    vals = {"loss_scale": s, "lambda_min_pos": pos[0], "lambda_max": pos[-1], "n_N": nN, "N": 4.0}
    assert zx(vals, "alpha") == pytest.approx(alpha) and zx(vals, "beta") == pytest.approx(beta)
    for frac in (0.1, 0.5, 0.9, 1.3, 1.9):
        es = frac / beta
        q = zx({**vals, "eta": es * nN / 4.0}, "q")
        for _ in range(5):
            W = rng.standard_normal((nN, n0))
            W1 = W - es * grad(W)
            d0 = np.sum(((W - Wst) @ PX) ** 2)
            d1 = np.sum(((W1 - Wst) @ PX) ** 2)
            assert d1 <= q * d0 * (1 + 1e-10)


# ------------------------------------------------------------------ steps, rates of Theorems 1, 4-6

@pytest.mark.parametrize("c", [0.01, 0.1, 0.2, 0.3, 0.34])
def test_theorem1_step_is_e2c_over_2_of_eta0(c):
    vals = data_values(0.5, 3.0, n_N=4.0, N=5.0, c=c)
    eta1 = zx(vals, "eta_thm1")
    assert zx(vals, "eta0_c") == pytest.approx(2 * 4.0 / (math.exp(2 * c) * 5.0 * 3.0))
    assert zx({**vals, "eta": eta1}, "eta_ratio") == pytest.approx(math.exp(2 * c) / 2)
    assert c < math.log(2) / 2  # so Theorems 4-6 cover Theorem 1's step


def test_theorem1_step_not_covered_for_c_at_least_ln2_over_2():
    c = math.log(2) / 2 + 1e-3
    vals = data_values(0.5, 3.0, n_N=4.0, N=5.0, c=c)
    assert zx({**vals, "eta": zx(vals, "eta_thm1")}, "eta_ratio") > 1


@pytest.mark.parametrize("c", [0.01, 0.05, 0.2, 0.3])
def test_theorem1_eps_from_theorem4_rates(c):
    """At eta = eta_thm1: printed Thm 4 rate = 1 - (1 - eps)/kappa with 1 - eps = 2e^c - e^{3c}; the proof's
    with 1 - eps = 2e^{-c} - e^c (notes section 3.3)."""
    alpha, beta = 0.5, 3.0
    kappa = beta / alpha
    vals = data_values(alpha, beta, n_N=4.0, N=5.0, c=c)
    vals["eta"] = zx(vals, "eta_thm1")
    r = math.exp(2 * c) / 2
    printed = 1 - 4 * math.exp(-c) * r * (1 - r) / kappa
    proof = 1 - 4 * math.exp(-3 * c) * r * (1 - r) / kappa
    assert zx(vals, "rate_thm4_printed") == pytest.approx(printed)
    assert zx(vals, "rate_thm4_proof") == pytest.approx(proof)
    eps_p, eps_q = zx(vals, "eps_thm1_printed", "eps_thm1_proof")
    assert 1 - eps_p == pytest.approx(2 * math.exp(c) - math.exp(3 * c))
    assert 1 - eps_q == pytest.approx(2 * math.exp(-c) - math.exp(c))
    assert zx({**vals, "eps": eps_p}, "rate_thm1") == pytest.approx(printed)
    assert zx({**vals, "eps": eps_q}, "rate_thm1") == pytest.approx(proof)
    if c <= 0.05:  # eps ~ c (printed: c + 7c^2/2 + ...) and ~ 3c (proof: 3c - c^2/2 + ...)
        assert abs(eps_p - c) <= 4 * c ** 2 and abs(eps_q - 3 * c) <= c ** 2


@pytest.mark.parametrize("c,eps", [(0.1, 0.3), (0.3, 0.5), (0.6, 0.05)])
def test_lemma3_rates_printed_and_proof(c, eps):
    """Lemma 3: printed 1 - eta gamma = 1 - 4 eps(1 - eps) e^{-3 c2}/kappa; the proof's rate
    1 - 4 eps(1 - eps) e^{-6(c1+c2)}/kappa = 1 - eta gamma_proof; with c1 = c/6, c2 = c/3 and
    eta = (1 - eps) eta0 these are Theorem 4's printed and proof rates."""
    alpha, beta, nN, N = 0.4, 2.5, 3.0, 6.0
    kappa = beta / alpha
    c1, c2 = c / 6, c / 3
    vals = data_values(alpha, beta, n_N=nN, N=N, c=c, eps=eps)
    eta_L3 = zx(vals, "eta_L3")
    assert eta_L3 == pytest.approx((1 - eps) * 2 * nN / (math.exp(6 * c1 + 3 * c2) * beta * N))
    assert eta_L3 == pytest.approx((1 - eps) * zx(vals, "eta0_c"))
    g_printed = 2 * math.exp(6 * c1) * eps * alpha * N / nN
    g_proof = 2 * math.exp(-3 * c2) * eps * alpha * N / nN
    assert zx(vals, "gamma_printed") == pytest.approx(g_printed)
    assert zx(vals, "gamma_proof") == pytest.approx(g_proof)
    assert zx(vals, "rho_L3_printed") == pytest.approx(1 - 4 * eps * (1 - eps) * math.exp(-3 * c2) / kappa)
    rho = 1 - 4 * eps * (1 - eps) * math.exp(-6 * (c1 + c2)) / kappa
    assert zx(vals, "rho_L3") == pytest.approx(rho)
    assert 1 - eta_L3 * g_proof == pytest.approx(rho)
    at_eta = {**vals, "eta": eta_L3}
    assert zx(at_eta, "eps_thm4") == pytest.approx(eps)
    assert zx(at_eta, "rate_thm4_proof") == pytest.approx(rho)
    assert zx(at_eta, "rate_thm4_printed") == pytest.approx(zx(vals, "rho_L3_printed"))


def test_convex_rates_and_bounds():
    alpha, beta = 0.3, 2.1
    kappa = beta / alpha
    vals = data_values(alpha, beta, t=7.0, E0=5.0, dist0_X_sq=2.0)
    assert zx(vals, "rate_cvx_3") == pytest.approx(1 - 1 / kappa)
    assert zx(vals, "rate_cvx_4") == pytest.approx(((kappa - 1) / (kappa + 1)) ** 2)
    assert zx(vals, "bound_cvx_3") == pytest.approx((1 - 1 / kappa) ** 7 * 5.0)
    assert zx(vals, "bound_cvx_4") == pytest.approx(beta / 2 * ((kappa - 1) / (kappa + 1)) ** 14 * 2.0)


# ------------------------------------------------------------------ widths (eqs. 11, 22)

def test_width_constants_eqs_11_22():
    v = dict(n_N=10.0, N=4.0, n_min=200.0, n_max=500.0, N_distinct=2.0, rank_X=50.0, Wstar_X_sq=30.0,
             delta=0.1, C=2.0, c=0.2, **data_values(1.5, 6.0))
    kappa = 4.0
    C0 = 500 / 200
    B = 2 * 50 / 0.1 + 30
    eta0 = 2 * 10 / (math.exp(0.4) * 4 * 6.0)
    v["eta"] = 0.6 * eta0
    e2 = (eta0 - v["eta"]) ** 2 / eta0 ** 2
    want = {
        "C0": C0, "B_delta": B,
        "width_C1": 10 * kappa ** 2 * B * C0 + math.log(4.0),
        "width_C2": 10 * kappa ** 2 * B * C0 + C0 * math.log(2.0),
        "width_C3": 10 * kappa ** 2 * B,
        "width_C4": 10 * kappa ** 2 * B / e2,
        "width_C5": 10 * kappa ** 2 * B * C0 / e2 + math.log(4.0),
        "width_C6": 10 * kappa ** 2 * B * C0 / e2 + C0 * math.log(2.0),
    }
    got = evaluate(v, targets=list(want) + ["width_thm1_gaussian", "width_thm1_orthogonal", "width_thm2_balanced",
                                            "width_thm4", "width_thm5", "width_thm5_equal", "width_thm6",
                                            "eps_thm4", "width_standing"], paper=P)
    for k, w in want.items():
        assert got[k] == pytest.approx(w, rel=1e-12), k
    assert e2 == pytest.approx(got["eps_thm4"] ** 2)
    assert got["width_thm1_gaussian"] == pytest.approx(2 * want["width_C1"] * 4)
    assert got["width_thm1_orthogonal"] == pytest.approx(2 * want["width_C2"])
    assert got["width_thm2_balanced"] == pytest.approx(2 * want["width_C3"])
    assert got["width_thm4"] == pytest.approx(2 * want["width_C5"] * 4)
    assert got["width_thm5"] == pytest.approx(2 * want["width_C6"])
    assert got["width_thm5_equal"] == got["width_thm6"] == pytest.approx(2 * want["width_C4"])
    assert zx({**v, "n_0": 12.0}, "width_standing") == 12.0


# ------------------------------------------------------------------ Lemma 3: explicit constants

def lemma3_oracle(c):
    """eps1, xi and the two Claim constants of notes section 3.6, in 30-digit mpmath."""
    mpmath.mp.dps = 30
    c1, c2 = mpmath.mpf(c) / 6, mpmath.mpf(c) / 3
    e = mpmath.exp
    eps1 = e(-c1 / 2) * min(e(c1) - e(c1 / 2), e(-c2 / 2) - e(-c2), mpmath.mpf(1) / 2)
    xi = min((e(-2 * c2) - e(-3 * c2)) / e(4 * c1 + 1), (e(6 * c1) - e(4 * c1)) / (4 * e(6 * c1 + 1)),
             mpmath.sqrt(e(6 * c1) - e(4 * c1)) / (2 * e(4 * c1 + 1)), 1)
    k2 = 2 * e(4 * c1 + 6 * c2) / mpmath.log(1 + eps1) ** 2
    k3 = 32 * e(2 + 4 * c1) / xi ** 2
    return float(eps1), float(xi), float(k2), float(k3)


@pytest.mark.parametrize("c,notes", [
    (0.3, (0.0253, 0.00875, 7.1e3, 3.8e6)),
    (0.1, (0.0084, 0.0030, 3.8e4, 2.8e7)),
], ids=["c=0.3", "c=0.1"])
def test_lemma3_constants_match_oracle_and_notes(c, notes):
    got = zx({"c": c}, "eps1", "xi", "C_claim2", "C_claim3")
    want = lemma3_oracle(c)
    for g, w in zip(got, want):
        assert g == pytest.approx(w, rel=1e-12)
    # the notes' rounded numbers (2-3 significant digits)
    for g, n in zip(got, notes):
        assert g == pytest.approx(n, rel=0.02)


def test_c1_c2_are_the_proofs_choice():
    assert zx({"c": 0.6}, "c1", "c2") == (pytest.approx(0.1), pytest.approx(0.2))
    assert get("c1", paper=P).expr == get("c", paper=P).symbol / 6


def lemma3_values(**over):
    v = dict(c=0.3, eps=0.4, n_N=5.0, N=4.0, theta=0.5, M_hat=1.7, E0=80.0, **data_values(0.8, 3.2))
    v.update(over)
    return v


def test_drift_radius_closed_forms():
    """R with gamma_proof = sqrt(2) e^{2c1+3c2} kappa sqrt(B0 n_N)/(eps N); with the printed gamma the
    notes' sqrt(2) e^{-4c1} kappa sqrt(B0 n_N)/(eps N) is smaller."""
    v = lemma3_values()
    c1, c2, kappa = 0.05, 0.1, 4.0
    B0 = 80.0 / 3.2
    R = zx(v, "drift_radius_R")
    assert zx(v, "B0") == pytest.approx(B0)
    assert R == pytest.approx(math.sqrt(2) * math.exp(2 * c1 + 3 * c2) * kappa * math.sqrt(B0 * 5.0) / (0.4 * 4.0))
    # the definition R = 2 e^{2 c1} sqrt(2 beta B)/(sqrt(n_N) gamma), B = beta B0
    gp = zx(v, "gamma_proof")
    assert R == pytest.approx(2 * math.exp(2 * c1) * math.sqrt(2 * 3.2 * 3.2 * B0) / (math.sqrt(5.0) * gp))
    R_printed = 2 * math.exp(2 * c1) * math.sqrt(2 * 3.2 * 3.2 * B0) / (math.sqrt(5.0) * zx(v, "gamma_printed"))
    assert R_printed == pytest.approx(math.sqrt(2) * math.exp(-4 * c1) * kappa * math.sqrt(B0 * 5.0) / (0.4 * 4.0))
    assert R_printed < R


def test_lemma3_width_is_the_claims_requirements():
    """width_claim2 = (N^{theta+1} M R / ln(1 + eps1))^2 (so (1 + x)^N - 1 <= e^{Nx} - 1 <= eps1 at
    x = R M N^theta / sqrt(n_min)); width_lemma3_derived = C(c1, c2) M^2 kappa^2 B0 N^{2 theta} n_N / eps^2."""
    for over in ({}, {"M_hat": 0.4}, {"theta": 0.0, "c": 0.1, "eps": 0.05}):
        v = lemma3_values(**over)
        out = evaluate(v, targets=["width_claim2", "width_claim3", "width_lemma3_derived", "C_lemma3_derived",
                                   "drift_radius_R", "eps1", "M_L3", "B0", "kappa", "xi"], paper=P)
        M = max(v["M_hat"], 1.0)
        assert out["M_L3"] == M
        N, th = v["N"], v["theta"]
        w2 = (N ** (th + 1) * M * out["drift_radius_R"] / math.log(1 + out["eps1"])) ** 2
        assert out["width_claim2"] == pytest.approx(w2, rel=1e-10)
        nmin = out["width_claim2"]
        x = out["drift_radius_R"] * M * N ** th / math.sqrt(nmin)
        assert (1 + x) ** N - 1 <= out["eps1"] * (1 + 1e-12)
        # Claim 3 in the paper's form: 2 sqrt(2) M e^{1+2c1} sqrt(B0) N^theta sqrt(n_N/n_min) <= xi/2
        c1 = v["c"] / 6
        n3 = out["width_claim3"]
        lhs = 2 * math.sqrt(2) * M * math.exp(1 + 2 * c1) * math.sqrt(out["B0"]) * N ** th * math.sqrt(v["n_N"] / n3)
        assert lhs == pytest.approx(out["xi"] / 2, rel=1e-10)
        const = out["C_lemma3_derived"] * M ** 2 * out["kappa"] ** 2 * out["B0"] * N ** (2 * th) * v["n_N"] / v["eps"] ** 2
        assert out["width_lemma3_derived"] == pytest.approx(const, rel=1e-10)
        assert out["width_lemma3_derived"] == max(out["width_claim2"], out["width_claim3"])


def test_c_min_region():
    assert zx({"c1_hat": 0.01, "c2_hat": 0.05}, "c_min_region") == pytest.approx(0.15)
    assert zx({"c1_hat": 0.05, "c2_hat": 0.01}, "c_min_region") == pytest.approx(0.3)
    assert zx({"c1_hat": -0.2, "c2_hat": -0.1}, "c_min_region") < 0  # exact isometries: every c > 0


# ------------------------------------------------------------------ Lemma 4, (43), first order

@pytest.mark.parametrize("c", [0.05, 0.3, 1.0])
def test_tau_formula(c):
    """tau(c1, c2, xi) = 2 e^{-6c1-3c2}(e^{4c1+1} xi + max(e^{2c1} - 1, 1 - e^{-2c2})); with c1 = c/6,
    c2 = c/3 the notes' 2 e^{-2c}(e^{2c/3+1} xi + max(e^{c/3} - 1, 1 - e^{-2c/3}))."""
    xi = lemma3_oracle(c)[1]
    want = 2 * math.exp(-2 * c) * (math.exp(2 * c / 3 + 1) * xi + max(math.exp(c / 3) - 1, 1 - math.exp(-2 * c / 3)))
    assert zx({"c": c}, "tau_formula") == pytest.approx(want, rel=1e-12)


def test_operator_bounds_43_and_B():
    c = 0.6
    got = zx({"c": c}, "p_lo_bound_43", "p_hi_bound_43", "p_lo_bound_B", "p_hi_bound_B")
    assert got == pytest.approx((math.exp(-0.4), math.exp(0.2), math.exp(-0.8), math.exp(0.4)))


def test_first_order_rate():
    """1 - 2 alpha eta_*(p_lo - beta eta_* p_hi^2/2): 1 - 1/kappa at p = 1, eta_* = 1/beta (eq. 3's rate)."""
    alpha, beta, nN, N = 0.5, 4.0, 2.0, 3.0
    v = data_values(alpha, beta, n_N=nN, N=N, eta=nN / (beta * N), p_lo=1.0, p_hi=1.0)
    assert zx(v, "rho_first_order") == pytest.approx(1 - alpha / beta)
    v.update(p_lo=0.9, p_hi=1.2, eta=0.7 * nN / (beta * N))
    es = 0.7 / beta
    assert zx(v, "rho_first_order") == pytest.approx(1 - 2 * alpha * es * (0.9 - beta / 2 * es * 1.44))
    assert zx(v, "pl_dln") == pytest.approx(2 * alpha * N * 0.9 / nN)


# ------------------------------------------------------------------ Lemma 5, Lemma 6 / Theorem 2

def test_D_R_second_entry_is_the_proofs_sum():
    """14 tau sum_{j<t} (q + 7 tau)^j q^{t-1-j} = 2((q + 7 tau)^t - q^t) (proof of Lemma 6)."""
    mpmath.mp.dps = 40
    for q, tau, t in [(0.5, 0.01, 5), (0.9, 0.001, 40), (0.2, 0.1, 3)]:
        s = 14 * tau * sum(mpmath.mpf(q + 7 * tau) ** j * mpmath.mpf(q) ** (t - 1 - j) for j in range(t))
        assert float(s) == pytest.approx(2 * ((q + 7 * tau) ** t - q ** t), rel=1e-12)


def _dr(q, tau, t):
    return zx({"q": q, "tau": tau, "t": float(t)}, "D_R")


def test_D_R_is_implied_by_printed_D_at_14_tau():
    """Lemma 6's 'replace 14 tau and 7 tau by tau': D_R(tau) <= D_printed(14 tau) and (12c)_R <= (12c) at 14 tau."""
    rng = np.random.default_rng(3)
    for _ in range(50):
        q, tau, t = rng.uniform(0.05, 0.95), 10 ** rng.uniform(-4, -1.5), float(rng.integers(0, 60))
        v = {"q": q, "tau": tau, "t": t, "dist0_X_sq": 1.0, **data_values(1.0, 2.0)}
        d_r, b_r = zx(v, "D_R", "bound_12c_R")
        d_p, b_p = zx({**v, "tau": 14 * tau}, "D_printed", "bound_12c")
        assert d_r <= d_p * (1 + 1e-12) and b_r <= b_p * (1 + 1e-12)
    assert zx({"q": 0.583, "tau": 0.0, "t": 3.0}, "D_R") == 0.0


def _perturbed_runs(seed, tau_frac, frac_eta):
    """Convex GD W(t) and V(t+1) = V(t) - eta_* grad L(V) + R(t), ||R||_X = tau ||V - W*||_X, same start."""
    rng = np.random.default_rng(seed)
    M, n0, nN, r = 40, 7, 2, 5
    X = rng.standard_normal((M, r)) @ rng.standard_normal((r, n0))
    Y = rng.standard_normal((M, nN))
    ev = np.linalg.eigvalsh(X.T @ X)
    pos = ev[ev > 1e-9 * ev[-1]]
    alpha, beta = pos[0], pos[-1]  # loss 1/2 ||X W^T - Y||^2: s = 1
    _, _, Vt = np.linalg.svd(X)
    PX = Vt[:r].T @ Vt[:r]
    Wst = np.linalg.lstsq(X, Y, rcond=None)[0].T

    def L(W):
        return 0.5 * np.sum((X @ W.T - Y) ** 2)

    def grad(W):
        return (X @ W.T - Y).T @ X

    def nx2(A):
        return float(np.sum((A @ PX) ** 2))

    es = frac_eta * 2 / beta
    q = q_oracle(alpha, beta, es)
    tau = tau_frac * (1 - q) / 7  # q + 7 tau < 1
    V = W = rng.standard_normal((nN, n0))
    d0 = nx2(V - Wst)
    Ls = L(Wst)
    rows = []
    for t in range(40):
        rows.append((t, nx2(V - Wst), nx2(V - W), L(V) - Ls, L(W) - Ls))
        Rdir = rng.standard_normal((nN, n0)) @ PX
        R = Rdir / math.sqrt(nx2(Rdir)) * tau * math.sqrt(nx2(V - Wst))
        V, W = V - es * grad(V) + R, W - es * grad(W)
    vals = {"loss_scale": 1.0, "lambda_min_pos": alpha, "lambda_max": beta, "n_N": 1.0, "N": 1.0, "eta": es,
            "tau": tau, "dist0_X_sq": d0}
    return rows, vals, q


@pytest.mark.parametrize("seed,tau_frac,frac_eta", [(0, 0.5, 0.5), (1, 0.9, 0.3), (2, 0.2, 0.95), (3, 0.7, 0.7)])
def test_lemma5_and_lemma6_bounds_hold_on_perturbed_dynamics(seed, tau_frac, frac_eta):
    """Lemma 5: ||V(t) - W*||_X^2 <= (q + 7 tau)^t ||V(0) - W*||_X^2; Lemma 6 with the proof's D_R:
    (18a) distance, (18b) gap difference, (18c) and the derived beta/2 form of the DLN gap."""
    rows, vals, q = _perturbed_runs(seed, tau_frac, frac_eta)
    assert zx(vals, "q") == pytest.approx(q, rel=1e-12)
    d0 = vals["dist0_X_sq"]
    for t, dv, dvw, ev, ew in rows:
        v = {**vals, "t": float(t)}
        out = evaluate(v, targets=["lemma5_rate", "bound_12a_R", "bound_12b_R", "bound_12c_R", "bound_12c_tight"],
                       paper=P)
        tol = 1 + 1e-9
        assert dv <= out["lemma5_rate"] ** t * d0 * tol + 1e-12
        assert dvw <= out["bound_12a_R"] * tol + 1e-12
        assert abs(ev - ew) <= out["bound_12b_R"] * tol + 1e-12
        assert ev <= out["bound_12c_tight"] * tol + 1e-12 <= out["bound_12c_R"] * tol + 1e-12


# ------------------------------------------------------------------ Appendix G numbers (consistency only)

def test_appendix_g_numbers_are_consistent_with_the_formulas():
    """Notes section 4.3 (a scratch re-run, not the paper): beta = 1811.5, alpha = 428.7, r = 128,
    ||W*||_X^2 = 1276, n_N = 10, N = 3, eta = n_N/(N ||X||^2)."""
    v = dict(loss_scale=1.0, lambda_max=1811.5, lambda_min_pos=428.7, rank_X=128.0, Wstar_X_sq=1276.0, n_N=10.0,
             N=3.0, delta=0.1)
    v["eta"] = 10.0 / (3.0 * 1811.5)
    out = evaluate(v, targets=["kappa", "q", "width_C3", "eta_thm1", "eta_star"], paper=P)
    assert out["eta_thm1"] == pytest.approx(v["eta"]) and out["eta_star"] == pytest.approx(1 / 1811.5)
    assert out["kappa"] == pytest.approx(4.225, abs=1e-3)
    assert out["q"] == pytest.approx(0.583, abs=1e-3)
    assert out["width_C3"] == pytest.approx(6.8e5, rel=0.01)
    assert zx({**v, "delta": 0.4}, "width_C3") == pytest.approx(3.4e5, rel=0.01)
    # "q + 7 tau_R = 0.795" with tau_R = 0.030: the formula gives 0.793 (the notes round tau_R = 0.0303)
    assert zx({"q": out["q"], "tau": 0.030}, "lemma5_rate") == pytest.approx(0.793, abs=1e-3)
    assert _dr(out["q"], 0.030, 1) == pytest.approx(0.42, abs=1e-6)  # D_R(1) = 14 tau_R
    assert zx({"q": out["q"], "tau": 0.115}, "lemma5_rate") == pytest.approx(1.39, abs=3e-3)  # Gaussian 2000
