"""Tests of the step-size schedules (:mod:`convtool.numeric.schedules`), one per defining property.

The engine's recorded step sizes are checked against formulas written here from the paper
(shared/papers/local-pl-two-layer-linear.txt), evaluated on the iterates of an independent
full-width numpy GD loop fed the recorded step sizes:

* ``adaptive``: eq. (19) with ``1/K_t`` read as the positive root of ``eta K_t(eta) = 1``
  (typo reading 4) and the growth cap ``(1 + eta0^d)^(t/2) eta0`` (typo reading 2);
* ``local``: the minimizer of ``rho(eta) = 1 - 2 mu_t eta + mu_t K_t(eta) eta^2`` (eqs. 10-12);
* ``xu2023``: refuses non-squared losses and descends (its published formula: tests/test_xu2023.py);
* ``backtracking``: Algorithm 1 with the Armijo test (typo reading 5);
* ``adgd``: Malitsky & Mishchenko (2020), Algorithm 1, re-implemented here;
* ``constant``: eta_t = eta0 = eta_max (Theorem E.1), eta_max re-derived here.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.optimize import brentq

from convtool.errors import InputError
from convtool.numeric.engine import run_gd
from convtool.numeric.schedules import SCHEDULES, make_schedule

from oracles import gd_loop, make_instance  # tests/oracles.py

EPS = np.finfo(float).eps


def instance(kind, seed, h=8, scale=0.5, n=3, m=2):
    rng = np.random.default_rng(seed)
    loss, orc = make_instance(kind, n, m, rng)
    W1, W2 = scale * rng.normal(size=(n, h)), scale * rng.normal(size=(m, h))
    return loss, orc, W1, W2


def sv(A):
    return np.linalg.svd(A, compute_uv=False)


class State:
    """Primitives of Theorem 3.1 / Lemma C.1 at full-width weights (W1, W2)."""

    def __init__(self, orc, W1, W2):
        n, m = W1.shape[0], W2.shape[0]
        s1, s2 = sv(W1), sv(W2)
        self.orc, self.W1, self.W2 = orc, W1, W2
        self.smin_T = (s1[n - 1] ** 2 if W1.shape[1] >= n else 0.0) + (s2[m - 1] ** 2 if W2.shape[1] >= m else 0.0)
        self.smax_T = s1[0] ** 2 + s2[0] ** 2
        self.W = W1 @ W2.T
        self.L = orc.excess(self.W)
        self.sW = sv(self.W)[0]
        self.G = orc.grad(self.W)
        self.gnorm = np.linalg.norm(self.G)
        self.Wfro = np.linalg.norm(self.W)
        self.mu_t = orc.mu * self.smin_T
        self.grad_sq = np.sum((self.G @ W2) ** 2) + np.sum((self.G.T @ W1) ** 2)

    def K_t(self, eta):
        """Eq. (12); depends on eta itself."""
        K, L = self.orc.K, self.L
        return (K * self.smax_T + np.sqrt(2 * K * L) + 6 * K ** 2 * self.sW * L * eta ** 2
                + 3 * K * self.smax_T * np.sqrt(2 * K * L) * eta)

    def rho(self, eta):
        """Eq. (10)."""
        return 1 - 2 * self.mu_t * eta + self.mu_t * self.K_t(eta) * eta ** 2

    def eta_hat(self):
        """Positive root of eta K_t(eta) = 1 (a cubic with positive coefficients but the constant)."""
        K, L = self.orc.K, self.L
        c3 = 6 * K ** 2 * self.sW * L
        c2 = 3 * K * self.smax_T * np.sqrt(2 * K * L)
        c1 = K * self.smax_T + np.sqrt(2 * K * L)
        r = np.roots([c3, c2, c1, -1.0]) if c3 > 0 else np.roots([c2, c1, -1.0]) if c2 > 0 else np.array([1 / c1])
        r = r[np.abs(r.imag) <= 1e-12 * np.abs(r)].real
        r = r[r > 0]
        assert r.size == 1
        # polish with Newton (np.roots is only backward stable)
        x = r[0]
        for _ in range(3):
            f = x * self.K_t(x) - 1
            df = c1 + 2 * c2 * x + 3 * c3 * x * x
            x -= f / df
        return x

    def g48(self, eta):
        """Left side of eq. (48)."""
        a = eta * self.gnorm * self.Wfro
        return self.smin_T - a - self.orc.K * eta / 2 * (self.smax_T + a) ** 2

    def rho_xu(self, eta):
        """Eq. (50)."""
        mu, K, g, sW, sT = self.orc.mu, self.orc.K, self.gnorm, self.sW, self.smax_T
        return (1 - 2 * eta * mu * self.smin_T + K * mu * eta ** 2 * sT ** 2 + 2 * eta ** 2 * mu * sW * g
                + 2 * eta ** 3 * mu * K * sT * sW * g + eta ** 4 * mu * K * sW ** 2 * g ** 2)


def states_of(orc, W1, W2, res):
    T = int(res.steps[0])
    eta = res.arrays["eta"][0, :T]
    it = gd_loop(orc, W1, W2, eta)
    return eta, [State(orc, a, b) for a, b in it]


def K0_of(orc, W1, W2):
    return orc.K * (sv(W1)[0] ** 2 + sv(W2)[0] ** 2)


# --------------------------------------------------------------------------- adaptive
def _check_adaptive(res, orc, W1, W2, eta0, d=2.0):
    """Checks eq. (19) step by step; returns (#cap binding, #eta_hat binding, #eta0 clip)."""
    a = res.arrays
    eta, S = states_of(orc, W1, W2, res)
    T = eta.size
    counts = {"cap": 0, "hat": 0, "clip": 0}
    for t in range(T):
        if S[t].L <= 1e-20:
            break
        cap = (1 + eta0 ** d) ** (t / 2) * eta0
        hat_rec = a["eta_hat"][0, t]
        hat = S[t].eta_hat()
        # the recorded eta_hat is the positive root of eta K_t(eta) = 1 (own K_t), to round-off
        np.testing.assert_allclose(hat_rec, hat, rtol=1e-9)
        assert abs(hat_rec * S[t].K_t(hat_rec) - 1) <= 1e-9
        assert (1 - 1e-6) * hat * S[t].K_t((1 - 1e-6) * hat) < 1 < (1 + 1e-6) * hat * S[t].K_t((1 + 1e-6) * hat)
        # eta0 <= eta_t <= (1 + eta0^d)^(t/2) eta0
        assert eta0 * (1 - 1e-12) <= eta[t] <= cap * (1 + 1e-12)
        if hat >= eta0 * (1 + 1e-9):
            assert eta[t] <= hat * (1 + 1e-9)
            if cap <= hat:
                np.testing.assert_allclose(eta[t], cap, rtol=1e-12)
                counts["cap"] += 1
            else:
                np.testing.assert_allclose(eta[t], hat, rtol=1e-9)
                counts["hat"] += 1
        else:  # eq. 15 is infeasible (1/K_t < eta0): the documented lower clip at eta0
            np.testing.assert_allclose(eta[t], eta0, rtol=1e-12)
            counts["clip"] += 1
    return counts


def test_adaptive_default_eta_max_within_theorem_range():
    loss, orc, W1, W2 = instance("squared", 3, h=10, scale=0.7)
    res = run_gd(loss, W1, W2, schedule="adaptive", steps=200)
    eta0 = res.constants[0]["eta0"]
    assert eta0 == res.constants[0]["eta_max"]
    counts = _check_adaptive(res, orc, W1, W2, eta0)
    assert counts["clip"] == 0  # with eta0 <= eta_max, eta_t <= eta_hat_t always (Theorem E.1)
    v = res.violations()
    assert v["thm31"] == 0 and v["thm32"] == 0 and v["thm32_steps_in_range"] == int(res.steps[0])


@pytest.mark.parametrize("kind,seed,scale,frac", [("sensing", 5, 0.3, 0.2), ("squared", 5, 0.3, 0.8),
                                                  ("factorization", 5, 0.3, 0.4)])
def test_adaptive_both_branches(kind, seed, scale, frac):
    """eta0 a few times eta_max, so that the growth cap overtakes eta_hat within the run."""
    loss, orc, W1, W2 = instance(kind, seed, scale=scale)
    eta0 = frac / K0_of(orc, W1, W2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # eta0 > eta_max warns
        res = run_gd(loss, W1, W2, schedule="adaptive", eta0=eta0, steps=300)
    assert eta0 > res.constants[0]["eta_max"]
    counts = _check_adaptive(res, orc, W1, W2, eta0)
    assert counts["cap"] > 0 and counts["hat"] > 0, counts
    assert res.violations()["thm31"] == 0


def test_adaptive_bar_uses_kbar():
    """adaptive-bar: eta_t = max(eta0, min(cap, 1/Kbar_t)) with the recorded Kbar_t."""
    loss, orc, W1, W2 = instance("squared", 3, h=10, scale=0.7)
    res = run_gd(loss, W1, W2, schedule="adaptive-bar", steps=100)
    a = res.arrays
    T = int(res.steps[0])
    eta0 = res.constants[0]["eta0"]
    t = np.arange(T)
    cap = (1 + eta0 ** 2) ** (t / 2) * eta0
    expect = np.maximum(eta0, np.minimum(cap, 1 / a["Kbar_t"][0, :T]))
    np.testing.assert_allclose(a["eta"][0, :T], expect, rtol=1e-12)


# --------------------------------------------------------------------------- local
@pytest.mark.parametrize("kind", ["squared", "factorization", "sensing"])
def test_local_minimizes_rho(kind):
    loss, orc, W1, W2 = instance(kind, 7, h=9, scale=0.6)
    res = run_gd(loss, W1, W2, schedule="local", steps=150)
    eta, S = states_of(orc, W1, W2, res)
    checked = 0
    for t in range(eta.size):
        s = S[t]
        if s.L <= 1e-20:
            break
        e = eta[t]
        r = s.rho(e)
        tiny = 1e-12 * max(1.0, abs(r))
        assert r <= s.rho(e * (1 + 1e-3)) + tiny and r <= s.rho(e * (1 - 1e-3)) + tiny
        grid = e * np.linspace(1e-3, 4.0, 4001)
        assert r <= s.rho(grid).min() + tiny
        np.testing.assert_allclose(res.arrays["rho"][0, t], r, rtol=1e-8, atol=1e-12)
        assert 0 < e * s.K_t(e) < 2  # the minimizer lies in Theorem 3.1's range
        checked += 1
    assert checked >= 10


# --------------------------------------------------------------------------- xu2023
# The step against Xu et al.'s published code is checked in tests/test_xu2023.py.
@pytest.mark.parametrize("kind,scale", [("squared", 0.6), ("sensing", 0.5), ("factorization", 1.2)])
def test_xu2023_descends_on_the_squared_loss(kind, scale):
    loss, orc, W1, W2 = instance(kind, 9, h=9, scale=scale)
    s = make_schedule("xu2023")
    if kind == "sensing":  # Xu et al.'s rule is for 1/2 ||Y - X W||_F^2 only
        with pytest.raises(InputError):
            s.bind(loss)
        return
    s.bind(loss)
    res = run_gd(loss, W1, W2, schedule=s, steps=120)
    eta, S = states_of(orc, W1, W2, res)
    assert eta.size >= 10 and np.all(eta > 0)
    L = np.array([st.L for st in S])
    assert np.all(np.diff(L) <= 1e-12 * L[:-1])  # every step decreases the loss


# --------------------------------------------------------------------------- backtracking
@pytest.mark.parametrize("kind,opts", [("squared", {}), ("sensing", {"tau": 0.5, "gamma": 0.3}),
                                       ("factorization", {"eta_bt": 2.0, "tau": 0.7, "gamma": 0.5})])
def test_backtracking_armijo_and_maximal(kind, opts):
    loss, orc, W1, W2 = instance(kind, 13, h=7, scale=0.8)
    res = run_gd(loss, W1, W2, schedule="backtracking", steps=150, schedule_options=opts)
    eta_bt, tau, gamma = opts.get("eta_bt", 1.0), opts.get("tau", 0.1), opts.get("gamma", 0.9)
    a = res.arrays
    eta, S = states_of(orc, W1, W2, res)
    reduced = 0
    for t in range(eta.size):
        s = S[t]
        if s.L <= 1e-20:
            break
        e = eta[t]
        j = np.log(e / eta_bt) / np.log(tau)
        assert abs(j - round(j)) <= 1e-9 and round(j) >= 0  # eta_t = eta_bt tau^j
        # Armijo (typo reading 5), recorded arrays and own loop
        assert a["loss"][0, t + 1] <= a["loss"][0, t] - gamma * e * a["grad_sq"][0, t] + 1e-12 * a["loss"][0, t]
        assert S[t + 1].L <= s.L - gamma * e * s.grad_sq + 1e-12 * s.L
        # ||grad L|| agrees to round-off (absolute 1e-12 for the gradient written around W* vs from the data)
        assert abs(np.sqrt(a["grad_sq"][0, t]) - np.sqrt(s.grad_sq)) <= 1e-8 * np.sqrt(s.grad_sq) + 1e-12
        if round(j) > 0:  # maximality: the previous trial eta_t / tau failed the test
            e2 = e / tau
            G = s.G
            A2, B2 = s.W1 - e2 * G @ s.W2, s.W2 - e2 * G.T @ s.W1
            Lnew = orc.excess(A2 @ B2.T)
            assert not (Lnew <= s.L - gamma * e2 * s.grad_sq - 1e-12 * s.L)
            reduced += 1
    assert reduced >= 5
    assert res.extra["backtracking_failures"] == [0]


# --------------------------------------------------------------------------- adgd
def _adgd_loop(orc, W1, W2, lam0, steps, stop):
    """Malitsky & Mishchenko (2020), Algorithm 1, on x = (W1, W2), own implementation."""
    x = (np.array(W1, dtype=float), np.array(W2, dtype=float))

    def grad(x):
        G = orc.grad(x[0] @ x[1].T)
        return G @ x[1], G.T @ x[0]

    g = grad(x)
    lams = []
    lam_prev, theta = None, np.inf
    x_prev = g_prev = None
    L0 = orc.excess(x[0] @ x[1].T)
    for k in range(steps):
        if orc.excess(x[0] @ x[1].T) <= stop * L0:
            break
        if k == 0:
            lam = lam0
        else:
            dx = np.sqrt(sum(np.sum((u - v) ** 2) for u, v in zip(x, x_prev)))
            dg = np.sqrt(sum(np.sum((u - v) ** 2) for u, v in zip(g, g_prev)))
            lam = min(np.sqrt(1 + theta) * lam_prev, dx / (2 * dg) if dg > 0 else np.inf)
            theta = lam / lam_prev
        lams.append(lam)
        x_prev, g_prev = x, g
        x = (x[0] - lam * g[0], x[1] - lam * g[1])
        g = grad(x)
        lam_prev = lam
    return np.array(lams)


@pytest.mark.parametrize("kind,lam0", [("squared", 1e-6), ("sensing", 1e-3), ("factorization", 0.05)])
def test_adgd_matches_own_implementation(kind, lam0):
    loss, orc, W1, W2 = instance(kind, 17, h=9, scale=0.7)
    res = run_gd(loss, W1, W2, schedule="adgd", steps=200, schedule_options={"lam0": lam0})
    # lam_t is a ratio of differences of iterates and gradients: its rounding error grows like
    # eps ||g|| / ||g_t - g_(t-1)||, so the sequences are compared while L(t) > 1e-6 L(0)
    # (measured agreement there: < 2e-9 relative)
    mine = _adgd_loop(orc, W1, W2, lam0, 200, stop=1e-6)
    assert mine.size >= 12
    np.testing.assert_allclose(res.arrays["eta"][0, : mine.size], mine, rtol=1e-6)


# --------------------------------------------------------------------------- constant
def _own_eta_max(orc, W1, W2, c=0.5, d=2.0):
    """eta_max of Theorem E.1 from dense D(0) (small h) and the notes' formulas."""
    n, m = W1.shape[0], W2.shape[0]
    K, mu = orc.K, orc.mu
    D0 = W1.T @ W1 - W2.T @ W2
    ev = np.sort(np.linalg.eigvalsh(D0))[::-1]
    evn = np.sort(-ev)[::-1]
    lam_p, lam_m = max(ev[0], 0.0), max(evn[0], 0.0)
    lam_n, lam_mneg = max(ev[n - 1], 0.0), max(evn[m - 1], 0.0)
    Dlow, Dp, Dm = lam_n + lam_mneg, lam_p - lam_n, lam_m - lam_mneg
    W0 = W1 @ W2.T
    dist = np.linalg.norm(W0 - orc.Wstar)
    sws = sv(orc.Wstar)
    beta1 = max(0.0, sws[min(n, m) - 1] - np.sqrt(K / mu) * dist)
    beta2 = sws[0] + np.sqrt(K / mu) * dist
    a1 = (-Dp - Dm + np.sqrt((Dp + Dlow) ** 2 + 4 * beta1 ** 2) + np.sqrt((Dm + Dlow) ** 2 + 4 * beta1 ** 2)) / 2
    a2 = (lam_p + np.sqrt(lam_p ** 2 + 4 * beta2 ** 2)) / 2 + (lam_m + np.sqrt(lam_m ** 2 + 4 * beta2 ** 2)) / 2
    L0 = orc.excess(W0)

    def mubar(e):
        return mu * (a1 + 2 * a2 * (1 - np.exp(e ** c)))

    def Kbar0(e):
        return np.sqrt(2 * K * L0) + 6 * K ** 2 * beta2 * L0 * e ** 2 + K * np.exp(e ** c) * a2 * (
            1 + 3 * np.sqrt(2 * K * L0) * e)

    def one_minus_Delta(e):  # 1 - (1 + e^d)(1 - 2 mubar e + mubar Kbar0 e^2), without cancellation
        rb = 1 - 2 * mubar(e) * e + mubar(e) * Kbar0(e) * e ** 2
        return 2 * mubar(e) * e - mubar(e) * Kbar0(e) * e ** 2 - e ** d * rb

    def F(e):
        return -np.expm1(-e ** c) * one_minus_Delta(e) - 4 * K * L0 * e ** 2

    e1 = brentq(lambda e: e * Kbar0(e) - 1, 0.0, 1.0 / (K * a2), xtol=1e-300, rtol=4 * EPS)
    e3 = np.log1p(a1 / (2 * a2)) ** (1 / c)
    grid = np.logspace(-30, np.log10(100 * min(e1, e3)), 20000)
    Fg = F(grid)
    assert Fg[0] > 0
    bad = np.flatnonzero(Fg <= 0)
    e2 = np.inf if bad.size == 0 else brentq(F, grid[bad[0] - 1], grid[bad[0]], xtol=1e-300, rtol=4 * EPS)
    return min(e1, e2, e3)


@pytest.mark.parametrize("kind", ["squared", "sensing", "factorization"])
def test_constant_is_eta_max_by_default(kind):
    loss, orc, W1, W2 = instance(kind, 19, h=10, scale=0.7)
    res = run_gd(loss, W1, W2, schedule="constant", steps=40)
    T = int(res.steps[0])
    eta = res.arrays["eta"][0, :T]
    eta_max = res.constants[0]["eta_max"]
    assert np.all(eta == eta_max) and res.constants[0]["eta0"] == eta_max
    np.testing.assert_allclose(eta_max, _own_eta_max(orc, W1, W2), rtol=1e-6)
    # an explicit eta0 is used as given
    res2 = run_gd(loss, W1, W2, schedule="constant", eta0=0.5 * eta_max, steps=10)
    assert np.all(res2.arrays["eta"][0] == 0.5 * eta_max)


# --------------------------------------------------------------------------- errors
def test_registry_names():
    assert sorted(SCHEDULES) == ["adaptive", "adaptive-bar", "adgd", "backtracking", "constant", "cor3", "duhulee",
                                 "local", "rank1", "thm1", "thm31", "thm36", "thm38", "xu2023"]


@pytest.mark.parametrize("name,opts", [
    ("nope", {}), ("Adaptive", {}), ("backtracking", {"tau": 1.5}), ("backtracking", {"tau": 0.0}),
    ("backtracking", {"gamma": 1.0}), ("backtracking", {"eta_bt": 0.0}), ("backtracking", {"eta_bt": np.nan}),
    ("backtracking", {"foo": 1}), ("adgd", {"lam0": -1.0}), ("adgd", {"lam0": np.inf}),
    ("constant", {"eta_bt": 1.0}), ("local", {"tau": 0.5}),
])
def test_bad_schedule_or_options(name, opts):
    with pytest.raises(InputError) as info:
        make_schedule(name, **opts)
    assert "\n" not in str(info.value)
    loss, orc, W1, W2 = instance("squared", 1, h=6)
    with pytest.raises(InputError):
        run_gd(loss, W1, W2, schedule=name, steps=3, schedule_options=opts)


def test_bad_run_arguments():
    loss, orc, W1, W2 = instance("squared", 1, h=6)
    for kw in ({"steps": -1}, {"tol": 0.0}, {"tol": 1.0}):
        with pytest.raises(InputError):
            run_gd(loss, W1, W2, schedule="local", **kw)
    with pytest.raises(InputError):  # shapes that do not match the loss
        run_gd(loss, W2, W1, schedule="local", steps=3)
