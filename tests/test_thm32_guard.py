"""Issue 14: Theorem 3.2's range needs Lemma E.4 at every step, and vacuous checks are counted apart.

* Lemma E.4 (eqs. 105, 106): ``alpha1 - 4 ||D(t) - D(0)||_F <= sigma_min^2(T_t)`` and
  ``sigma_max^2(T_t) <= alpha2 + 2 ||D(t) - D(0)||_F``, which Theorem E.1's induction uses at every step
  (A_4(t)). convtool records it per step (``lemmaE4_applies`` / ``lemmaE4_held``) and counts a step in
  Theorem 3.2's range only where Lemma E.3 held at T0 and eq. (89) and Lemma E.4 held at every step so far.
  Checked here against a dense computation in plain numpy: the operator T_k as an ((n + m) h) x (n m)
  matrix and the h x h imbalance D(k) at full width.
* For n != m Lemma E.4 can fail after Lemma E.3 held at T0 (a constructed n = 1, m = 2 instance).
* Finding on the paper (the issue's counterexample): Theorem 3.2's bound fails on X = 1, Y = [1, 0.3],
  W1 = [1, 0, 0], W2 = [[1, 0, 0], [0, 0, 0]] at eta0 = eta_max/10; replayed at 50 digits with mpmath,
  independently of convtool. The cause is Lemma E.3's lower bound: mubar > mu_0. convtool does not count
  those steps in Theorem 3.2's range.
* A check is vacuous at step t when its accepted value ``bound (1 + RTOL_HELD) + band`` is >= L(t).
"""

from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pytest

from convtool.cli.render import _violations_cell, _violations_value
from convtool.numeric.constants import compute_constants
from convtool.numeric.engine import run_gd
from convtool.numeric.losses import SquaredLoss

EPS = np.finfo(float).eps


# ------------------------------------------------------------------ independent numpy reference

def table2_alpha(X, Y, W1, W2):
    """alpha1, alpha2 of Table 2 from the data and the full-width weights (plain numpy)."""
    n, m = W1.shape[0], W2.shape[0]
    ev_g = np.linalg.eigvalsh(X.T @ X)
    mu, K = ev_g[0], ev_g[-1]
    Ws = np.linalg.lstsq(X, Y, rcond=None)[0]
    sv = np.linalg.svd(Ws, compute_uv=False)
    dist0 = np.linalg.norm(W1 @ W2.T - Ws)
    b1 = max(0.0, sv[min(n, m) - 1] - np.sqrt(K / mu) * dist0)
    b2 = sv[0] + np.sqrt(K / mu) * dist0
    ev = np.sort(np.linalg.eigvalsh(W1.T @ W1 - W2.T @ W2))[::-1]   # D0, descending
    lam_n, lam_m_neg = ev[n - 1], np.sort(-ev)[::-1][m - 1]
    lp, lm = max(ev[0], 0.0), max(-ev[-1], 0.0)
    dl = max(lam_n, 0.0) + max(lam_m_neg, 0.0)
    dp, dm = lp - max(lam_n, 0.0), lm - max(lam_m_neg, 0.0)
    a1 = (-dp - dm + np.sqrt((dp + dl) ** 2 + 4 * b1 ** 2) + np.sqrt((dm + dl) ** 2 + 4 * b1 ** 2)) / 2
    a2 = (lp + np.sqrt(lp ** 2 + 4 * b2 ** 2)) / 2 + (lm + np.sqrt(lm ** 2 + 4 * b2 ** 2)) / 2
    return a1, a2


def dense_T(W1, W2):
    """The operator G -> [G W2; G^T W1] (eq. 8) as an ((n + m) h) x (n m) matrix."""
    n, m = W1.shape[0], W2.shape[0]
    cols = []
    for i in range(n):
        for j in range(m):
            G = np.zeros((n, m))
            G[i, j] = 1.0
            cols.append(np.vstack([G @ W2, G.T @ W1]).ravel())
    return np.array(cols).T


def replay_lemma_e4(X, Y, W1, W2, etas):
    """GD (eq. 7) with the given steps at full width: per state sigma_min^2(T_k), sigma_max^2(T_k) of the dense
    operator and ||D(k) - D(0)||_F of the dense h x h imbalance."""
    D0 = W1.T @ W1 - W2.T @ W2
    smin, smax, drift = [], [], []
    for k in range(len(etas) + 1):
        s = np.linalg.svd(dense_T(W1, W2), compute_uv=False) ** 2
        smin.append(s[-1])
        smax.append(s[0])
        drift.append(np.linalg.norm(W1.T @ W1 - W2.T @ W2 - D0))
        if k < len(etas):
            G = X.T @ (X @ W1 @ W2.T - Y)
            W1, W2 = W1 - etas[k] * G @ W2, W2 - etas[k] * G.T @ W1
    return np.array(smin), np.array(smax), np.array(drift)


def _quiet_run(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_gd(*args, **kw)


# ------------------------------------------------------------------ Lemma E.4 per step

def test_lemma_e4_per_step_matches_dense_numpy():
    rng = np.random.default_rng(0)
    n, m, h, N = 2, 3, 7, 4                   # n != m, h > n + m: the run is width-reduced (r = 5)
    X, Y = rng.normal(size=(N, n)), rng.normal(size=(N, m))
    W1, W2 = rng.normal(size=(n, h)), rng.normal(size=(m, h))
    res = _quiet_run(SquaredLoss(X, Y), W1, W2, schedule="constant", steps=25)
    a, T = res.arrays, int(res.steps[0])
    assert T == 25 and res.config.get("reduced")
    a1, a2 = table2_alpha(X, Y, W1, W2)
    assert res.constants[0]["alpha1"] == pytest.approx(a1, rel=1e-10)
    assert res.constants[0]["alpha2"] == pytest.approx(a2, rel=1e-10)
    smin, smax, drift = replay_lemma_e4(X, Y, W1, W2, a["eta"][0, :T])
    scale = np.linalg.norm(W1) ** 2 + np.linalg.norm(W2) ** 2
    np.testing.assert_allclose(a["sigma_min_T_sq"][0, :T + 1], smin, rtol=1e-9)
    np.testing.assert_allclose(a["sigma_max_T_sq"][0, :T + 1], smax, rtol=1e-9)
    np.testing.assert_allclose(a["drift"][0, :T + 1], drift, rtol=1e-7, atol=1e3 * EPS * scale)
    np.testing.assert_allclose(a["lemmaE4_lower_bound"][0, :T + 1], a1 - 4 * drift, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(a["lemmaE4_upper_bound"][0, :T + 1], a2 + 2 * drift, rtol=1e-9, atol=1e-10)
    held = (smin >= a1 - 4 * drift) & (smax <= a2 + 2 * drift)
    margin = np.minimum(smin - (a1 - 4 * drift), a2 + 2 * drift - smax)
    clear = np.abs(margin[:T]) > 1e-8 * a2
    assert clear.all()
    np.testing.assert_array_equal(a["lemmaE4_held"][0, :T], held[:T])
    # inside Theorem 3.2's other hypotheses at every step (Lemma E.3 at T0, eq. 89), and it held there
    assert a["lemmaE4_applies"][0, :T].all() and held.all()
    assert np.array_equal(a["thm32_in_range"][0, :T], a["lemmaE4_applies"][0, :T])
    v = res.violations()
    assert v["lemmaE4"] == 0 and v["lemmaE4_steps_applicable"] == T and v["thm32_steps_in_range"] == T


#: n = 1, m = 2, h = 3: Lemma E.3 holds at T0 with a margin of 0.0029, Lemma E.4 fails from t = 1 on
E4_FAILS = {"X": np.array([[1.0]]), "Y": np.array([[0.9, 0.2267]]), "W1": np.array([[1.0, 0.0, 0.0]]),
            "W2": np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.0]])}


def test_lemma_e4_fails_after_passing_at_t0_and_those_steps_are_not_in_range():
    X, Y, W1, W2 = (E4_FAILS[k] for k in ("X", "Y", "W1", "W2"))
    a1, a2 = table2_alpha(X, Y, W1, W2)
    const = compute_constants(SquaredLoss(X, Y), W1, W2)
    assert const.alpha1 == pytest.approx(a1, rel=1e-12)
    assert {ch.name: ch.ok for ch in const.checks}["Lemma E.3 at T0"] and const.theorem_applies
    T = 10
    res = _quiet_run(SquaredLoss(X, Y), W1, W2, schedule="constant", steps=T)
    a = res.arrays
    smin, smax, drift = replay_lemma_e4(X, Y, W1, W2, a["eta"][0, :T])
    assert 0.002 < smin[0] - a1 < 0.003                       # Lemma E.3 at T0 holds (sigma_min^2 = 1.25)
    lower = a1 - 4 * drift
    assert (smin[1:] < lower[1:] - 1e-3).all()                # Lemma E.4 fails at t = 1..T, by far
    assert (smax <= a2 + 2 * drift).all()                     # (its upper bound holds)
    # eq. (89) holds at every step: the old range would have counted all T steps
    assert a["lemmaE4_applies"][0, :T].all()
    np.testing.assert_array_equal(a["lemmaE4_held"][0, :T], [True] + [False] * (T - 1))
    np.testing.assert_array_equal(a["thm32_in_range"][0, :T], [True] + [False] * (T - 1))
    v = res.violations()
    assert (v["lemmaE4"], v["lemmaE4_first"], v["lemmaE4_steps_applicable"]) == (T - 1, 1, T)
    assert v["thm32_steps_in_range"] == 1
    text = _violations_value(v, "lemmaE4", "lemmaE4_steps_applicable")
    assert text == f"{T - 1} of {T} steps, first t=1"


# ------------------------------------------------------------------ the counterexample (finding)

CEX = {"X": np.array([[1.0]]), "Y": np.array([[1.0, 0.3]]), "W1": np.array([[1.0, 0.0, 0.0]]),
       "W2": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])}


def _replay_counterexample(steps=3, digits=50):
    """Theorem E.1's constants (c = 1/2, d = 2) and GD at eta0 = eta_max/10, all in mpmath, without convtool."""
    with mp.workdps(digits):
        mu = K = mp.mpf(1)                                   # X = 1
        Y = [mp.mpf(1), mp.mpf("0.3")]
        a, b = [mp.mpf(1), 0, 0], [[mp.mpf(1), 0, 0], [0, 0, 0]]   # W1 (1 x 3), W2 (2 x 3)

        def prod(a, b):
            return [sum(a[k] * b[j][k] for k in range(3)) for j in range(2)]

        def loss(W):
            return sum((Y[j] - W[j]) ** 2 for j in range(2)) / 2

        L0 = loss(prod(a, b))                                # 0.045; W* = Y, l* = 0
        dist0 = mp.sqrt(sum((prod(a, b)[j] - Y[j]) ** 2 for j in range(2)))
        smin_ws = mp.sqrt(Y[0] ** 2 + Y[1] ** 2)            # W* is 1 x 2: one singular value
        b1, b2 = smin_ws - dist0, smin_ws + dist0
        # D(0) = W1^T W1 - W2^T W2 = 0: lambda_+- = Delta_low = Delta_+- = 0
        a1, a2 = 2 * b1, 2 * b2
        c, d = mp.mpf(1) / 2, mp.mpf(2)

        def theory(e, t=0):
            mubar = mu * (a1 + 2 * a2 * (1 - mp.exp(e ** c)))
            kb0 = mp.sqrt(2 * K * L0) + 6 * K ** 2 * b2 * L0 * e ** 2 + K * mp.exp(e ** c) * a2 * (
                1 + 3 * mp.sqrt(2 * K * L0) * e)
            rb0 = 1 - 2 * mubar * e + mubar * kb0 * e ** 2
            dl = (1 + e ** d) * rb0
            kbt = mp.sqrt(2 * K * L0 * rb0 ** t) + 6 * K ** 2 * b2 * L0 * e ** 2 * dl ** t + K * mp.exp(e ** c) * a2 * (
                1 + 3 * mp.sqrt(2 * K * L0 * dl ** t) * e)
            return mubar, kb0, rb0, dl, kbt

        e1 = mp.findroot(lambda e: e * theory(e)[1] - 1, (mp.mpf("1e-9"), 1), solver="bisect")
        f88 = lambda e: 4 * K * L0 * e ** 2 - (1 - mp.exp(-e ** c)) * (1 - theory(e)[3])  # noqa: E731
        grid = [mp.mpf(10) ** (-8 + mp.mpf(k) / 500) for k in range(4001)]        # 1e-8 .. 1, log grid
        k = next(k for k in range(4000) if f88(grid[k]) * f88(grid[k + 1]) < 0)  # first sign change
        e2 = mp.findroot(f88, (grid[k], grid[k + 1]), solver="bisect")
        e3 = mp.log(1 + a1 / (2 * a2)) ** (1 / c)
        eta_max = min(e1, e2, e3)
        eta0 = eta_max / 10
        mubar, _, rb0, _, _ = theory(eta0)
        Ls, rows = [L0], []
        for t in range(steps):
            W = prod(a, b)
            G = [W[j] - Y[j] for j in range(2)]              # grad l = X^T (X W - Y), X = 1
            s1 = sum(x ** 2 for x in a)                       # sigma_1^2(W1) (n = 1)
            ev = mp.eigsy(mp.matrix([[sum(b[i][k] * b[j][k] for k in range(3)) for j in range(2)]
                                     for i in range(2)]))[0]
            s2 = sorted(ev[i] for i in range(2))              # eigenvalues of W2 W2^T, ascending
            smin_T, smax_T = s1 + s2[0], s1 + s2[1]           # Lemma A.2
            sW = mp.sqrt(sum(x ** 2 for x in W))
            Kt = K * smax_T + mp.sqrt(2 * K * Ls[-1]) + 6 * K ** 2 * sW * Ls[-1] * eta0 ** 2 + \
                3 * K * smax_T * mp.sqrt(2 * K * Ls[-1]) * eta0
            cap = (1 + eta0 ** d) ** (mp.mpf(t) / 2) * eta0
            a, b = ([a[k] - eta0 * sum(G[j] * b[j][k] for j in range(2)) for k in range(3)],
                    [[b[j][k] - eta0 * G[j] * a[k] for k in range(3)] for j in range(2)])
            Ls.append(loss(prod(a, b)))
            rhobar_t = 1 - 2 * mubar * eta0 + mubar * theory(eta0, t)[4] * eta0 ** 2
            rows.append({"mu_t": mu * smin_T, "eq89": eta0 <= cap * (1 + mp.mpf("1e-30")) and eta0 * Kt <= 1,
                         "ratio": Ls[-1] / Ls[-2], "step_bound": rhobar_t * Ls[-2],
                         "cum_bound": L0 * rb0 ** (t + 1), "L_next": Ls[-1]})
        return {"alpha1": a1, "alpha2": a2, "eta_max": eta_max, "eta0": eta0, "mubar": mubar, "rhobar0": rb0,
                "sigma_min_T0_sq": rows[0]["mu_t"] / mu, "rows": rows}


def test_finding_theorem_32_counterexample_replayed_and_not_counted():
    rep = _replay_counterexample()
    assert float(rep["alpha1"]) == pytest.approx(1.488, abs=5e-4) and rep["alpha1"] > 0
    assert float(rep["eta_max"]) == pytest.approx(0.055651, abs=5e-7)
    assert float(rep["rhobar0"]) == pytest.approx(0.98817869, abs=5e-9)
    assert float(rep["mubar"]) == pytest.approx(1.0717, abs=5e-5)
    # the cause: mubar > mu_0 = mu sigma_min^2(T0) = 1, i.e. Lemma E.3's lower bound alpha1 <= sigma_min^2(T0) fails
    assert rep["sigma_min_T0_sq"] == 1 and rep["mubar"] > rep["rows"][0]["mu_t"]
    assert rep["alpha1"] > rep["sigma_min_T0_sq"]
    rows = rep["rows"]
    assert float(rows[0]["ratio"]) == pytest.approx(0.98890076, abs=5e-9)
    for t, r in enumerate(rows):                     # eq. (89) holds, yet both of Theorem 3.2's bounds fail
        assert r["eq89"], t
        assert r["L_next"] > r["cum_bound"] * (1 + mp.mpf("1e-6")), t
        assert r["L_next"] > r["step_bound"] * (1 + mp.mpf("1e-6")), t
    # convtool agrees on the numbers, flags Lemma E.3 at T0 and counts none of these steps in Theorem 3.2's range
    loss, W1, W2 = SquaredLoss(CEX["X"], CEX["Y"]), CEX["W1"], CEX["W2"]
    const = compute_constants(loss, W1, W2)
    assert const.eta_max == pytest.approx(float(rep["eta_max"]), rel=1e-9)
    assert {ch.name: ch.ok for ch in const.checks}["Lemma E.3 at T0"] is False and not const.theorem_applies
    res = _quiet_run(loss, W1, W2, schedule="constant", eta0=const.eta_max / 10, steps=3)
    a = res.arrays
    assert res.constants[0]["rhobar0"] == pytest.approx(float(rep["rhobar0"]), rel=1e-9)
    np.testing.assert_allclose(a["ratio"][0, :3], [float(r["ratio"]) for r in rows], rtol=1e-10)
    assert not a["thm32_held"][0, :3].any()          # the bound fails ...
    assert not a["thm32_in_range"][0, :3].any()      # ... where convtool does not claim it
    assert not a["lemmaE4_applies"][0, :3].any()
    v = res.violations()
    assert v["thm32"] == 0 and v["thm32_steps_in_range"] == 0 and v["thm31"] == 0


# ------------------------------------------------------------------ vacuous checks

def test_vacuous_when_mu_t_is_zero():
    """Rank-one W1, W2 (n = m = 2) stay rank one under GD: sigma_min(T_t) = 0, mu_t = 0, rho = 1 (to round-off,
    far inside RTOL_HELD), and every applicable Theorem 3.1 step accepts any L(t+1) <= L(t)."""
    rng = np.random.default_rng(0)
    u = np.array([1.0, 0.0, 0.0, 0.0])
    W1, W2 = np.outer([1.0, 0.5], u), np.outer([0.7, -0.2], u)
    res = _quiet_run(SquaredLoss(np.eye(2), rng.normal(size=(2, 2))), W1, W2, schedule="constant", eta0=0.05,
                     steps=20)
    a, v = res.arrays, res.violations()
    assert (np.abs(a["mu_t"][0]) < 1e-12).all() and a["thm31_applicable"][0].all()   # 0 up to round-off
    assert a["thm31_vacuous"][0].all()
    assert v["thm31_steps_vacuous"] == v["thm31_steps_applicable"] == 20 and v["thm32_steps_in_range"] == 0
    assert _violations_value(v, "thm31", "thm31_steps_applicable") == "0 of 20 steps (20 vacuous)"
    assert _violations_cell(v, "thm31", "thm31_steps_applicable") == "0/20 (20 vacuous)"
    assert _violations_cell(v, "thm32", "thm32_steps_in_range") == "0/0"


def test_vacuous_flags_at_the_float_floor_match_the_accepted_values():
    """A run to the float floor: early steps are evidence, late ones vacuous (rounding band >= (1 - rhobar) L(t))."""
    rng = np.random.default_rng(0)
    X = np.linalg.qr(rng.normal(size=(2, 2)))[0]
    W1, W2 = rng.normal(size=(2, 6)), rng.normal(size=(2, 6))
    res = _quiet_run(SquaredLoss(X, X @ W1 @ W2.T + 0.1), W1, W2, schedule="adaptive", steps=300, tol=1e-300)
    a, v = res.arrays, res.violations()
    T = int(res.steps[0])
    Lp, Ln = a["loss"][0, :T], a["loss"][0, 1:T + 1]
    delta = 64 * EPS * a["weight_fro_prod"][0, 1:T + 1]
    K = res.constants[0]["K"]
    band = np.sqrt(2 * K * Ln) * delta + 0.5 * K * delta ** 2
    acc31 = a["rho"][0, :T] * Lp * (1 + 1e-9) + band
    acc32 = np.minimum(a["rhobar"][0, :T] * Lp, a["bound_rhobar0"][0, 1:T + 1]) * (1 + 1e-9) + band
    exp31, exp32 = a["thm31_applicable"][0] & (acc31 >= Lp), a["thm32_in_range"][0] & (acc32 >= Lp)
    np.testing.assert_array_equal(a["thm31_vacuous"][0], exp31)
    np.testing.assert_array_equal(a["thm32_vacuous"][0], exp32)
    assert 0 < v["thm32_steps_vacuous"] < v["thm32_steps_in_range"] == T
    assert not a["thm32_vacuous"][0, :100].any()     # far from the floor every step is evidence
    assert v["thm31_steps_vacuous"] == int(exp31.sum()) and v["thm32_steps_vacuous"] == int(exp32.sum())
    assert v["thm31"] == 0 and v["thm32"] == 0
    cell = _violations_cell(v, "thm32", "thm32_steps_in_range")
    assert cell == f"0/{T} ({v['thm32_steps_vacuous']} vacuous)"


def test_drift_step_below_resolution_is_flagged():
    """Issue 14 item 7: ||D(t+1) - D(t)||_F below 64 eps ||W1|| ||W2|| is round-off, flagged as unresolved."""
    from convtool.numeric.engine import run_gd
    from convtool.numeric.experiments import default_batch

    b = default_batch(seeds=1, h=40)
    res = run_gd(b.losses[0], b.W1[0], b.W2[0], schedule="adaptive", steps=400, tol=1e-300)
    a = res.arrays
    T = int(res.steps[0])
    res_level = 64 * np.finfo(float).eps * a["weight_fro_prod"][0, 1:T + 1]
    ds = a["drift_step"][0, :T]
    np.testing.assert_array_equal(a["drift_step_resolved"][0, :T], ds > res_level)
    assert a["drift_step_resolved"][0, :5].all() and not a["drift_step_resolved"][0, T - 5:T].any()
