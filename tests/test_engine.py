"""Tests of the GD engine (:mod:`convtool.numeric.engine`) against independent plain-numpy oracles.

Every expected value here is computed from the paper (shared/papers/local-pl-two-layer-linear.txt)
with plain numpy written for these tests, never with convtool's own formulas:

* gradients: central finite differences (the losses are quadratic, so central differences are
  exact up to rounding);
* the loss sequence: a full-width numpy GD loop (eqs. 7-8, simultaneous update) fed the engine's
  recorded step sizes, with the loss gradient written from the data (``X^T (X W - Y)``,
  ``sum_i r_i A_i``) and the excess loss ``1/2 ||X (W - W*)||^2`` from our own ``lstsq`` W*;
* Theorem 3.1 (eqs. 10-12) and Lemma E.2 (eq. 102) from SVDs / dense h x h imbalances of the
  loop's full-width weights.

Tolerances (round-off model). The engine runs at reduced width and the loop at full width, so
the iterates differ by accumulated rounding ``delta ~ 1e-15 ||W||``; the excess loss
``L ~ K/2 ||W - W*||^2`` then has relative error about ``2 delta / ||W - W*||``, which stays
below 1e-8 while L > 1e-20 for the contractive schedules used (measured: < 1e-9). Below the
float floor no relative comparison is meaningful, so loss comparisons use L > 1e-20.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from convtool.numeric.engine import STATUSES, run_gd
from convtool.numeric.losses import FactorizationLoss, SquaredLoss, stack_losses
from convtool.numeric.models import TwoLayerLinear

from oracles import gd_loop, make_instance  # tests/oracles.py

EPS = np.finfo(float).eps


def sv(A):
    return np.linalg.svd(A, compute_uv=False)


def thm31(orc, W1, W2, eta):
    """(mu_t, K_t, rho) of Theorem 3.1, eqs. 10-12, from full-width weights (excess loss)."""
    n, m = W1.shape[0], W2.shape[0]
    s1, s2 = sv(W1), sv(W2)
    smin_T = (s1[n - 1] ** 2 if W1.shape[1] >= n else 0.0) + (s2[m - 1] ** 2 if W2.shape[1] >= m else 0.0)
    smax_T = s1[0] ** 2 + s2[0] ** 2
    W = W1 @ W2.T
    L = orc.excess(W)
    K = orc.K
    sW = sv(W)[0]
    K_t = K * smax_T + np.sqrt(2 * K * L) + 6 * K ** 2 * sW * L * eta ** 2 + 3 * K * smax_T * np.sqrt(2 * K * L) * eta
    mu_t = orc.mu * smin_T
    return mu_t, K_t, 1 - 2 * mu_t * eta + mu_t * K_t * eta ** 2


def K0_of(orc, W1, W2):
    return orc.K * (sv(W1)[0] ** 2 + sv(W2)[0] ** 2)


def init(rng, n, m, h, scale=1.0):
    return scale * rng.normal(size=(n, h)), scale * rng.normal(size=(m, h))


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("kind", ["squared", "factorization", "sensing"])
def test_loss_grad_matches_finite_differences(kind):
    rng = np.random.default_rng(11)
    n, m = 3, 2
    loss, _ = make_instance(kind, n, m, rng)
    for W in (rng.normal(size=(n, m)), loss.Wstar + 0.3 * rng.normal(size=(n, m))):
        G = np.asarray(loss.grad(W))
        step = 1e-5
        fd = np.zeros_like(W)
        for i in range(n):
            for j in range(m):
                E = np.zeros_like(W)
                E[i, j] = step
                fd[i, j] = (float(loss.value(W + E)) - float(loss.value(W - E))) / (2 * step)
        scale = max(1.0, float(np.abs(loss.value(W))))
        np.testing.assert_allclose(G, fd, rtol=1e-6, atol=1e-8 * scale)
        # value and excess are consistent: l(W) - l(W*) = excess
        np.testing.assert_allclose(float(loss.value(W)) - float(loss.value(loss.Wstar)), float(loss.excess(W)),
                                   rtol=1e-9, atol=1e-12 * scale)


@pytest.mark.parametrize("kind", ["squared", "factorization", "sensing"])
def test_two_layer_grads_match_finite_differences(kind):
    rng = np.random.default_rng(12)
    n, m, h = 2, 3, 4
    loss, _ = make_instance(kind, n, m, rng)
    W1, W2 = init(rng, n, m, h)
    Gl = np.asarray(loss.grad(W1 @ W2.T))
    g1, g2 = TwoLayerLinear.param_grads(W1[None], W2[None], Gl[None])
    np.testing.assert_allclose(g1[0], Gl @ W2, rtol=1e-14, atol=1e-14)

    def L(A, B):
        return float(loss.value(A @ B.T))

    step = 1e-5
    fd1, fd2 = np.zeros_like(W1), np.zeros_like(W2)
    for idx in np.ndindex(W1.shape):
        E = np.zeros_like(W1)
        E[idx] = step
        fd1[idx] = (L(W1 + E, W2) - L(W1 - E, W2)) / (2 * step)
    for idx in np.ndindex(W2.shape):
        E = np.zeros_like(W2)
        E[idx] = step
        fd2[idx] = (L(W1, W2 + E) - L(W1, W2 - E)) / (2 * step)
    scale = max(1.0, L(W1, W2))
    # L is quartic in (W1, W2): central differences have O(step^2) truncation error
    np.testing.assert_allclose(g1[0], fd1, rtol=1e-6, atol=1e-7 * scale)
    np.testing.assert_allclose(g2[0], fd2, rtol=1e-6, atol=1e-7 * scale)


# --------------------------------------------------------------------------- loss sequence
@pytest.mark.parametrize("kind,schedule,h,scale,frac", [("squared", "adaptive", 12, 0.7, 0.3),
                                                         ("factorization", "adaptive", 9, 0.5, 0.05),
                                                         ("sensing", "local", 7, 0.3, None),
                                                         ("squared", "local", 4, 0.3, None)])
def test_engine_matches_full_width_numpy_loop(kind, schedule, h, scale, frac):
    rng = np.random.default_rng(21)
    n, m = 3, 2
    loss, orc = make_instance(kind, n, m, rng)
    W1, W2 = init(rng, n, m, h, scale)
    kw = {"eta0": frac / K0_of(orc, W1, W2)} if frac else {}
    res = run_gd(loss, W1, W2, schedule=schedule, steps=400, **kw)
    assert res.config["reduced"] == (h > n + m)
    T = int(res.steps[0])
    assert T >= 200
    eta = res.arrays["eta"][0, :T]
    it = gd_loop(orc, W1, W2, eta)
    mine = np.array([orc.excess(a @ b.T) for a, b in it])
    eng = res.arrays["loss"][0, : T + 1]
    assert np.all(np.isfinite(eng))
    ok = mine > 1e-20
    assert ok.sum() >= 200
    np.testing.assert_allclose(eng[ok], mine[ok], rtol=1e-8)
    # after the stop nothing is recorded
    assert np.all(np.isnan(res.arrays["loss"][0, T + 1:]))
    # final full-width weights are the loop's
    scale = np.linalg.norm(W1) + np.linalg.norm(W2)
    np.testing.assert_allclose(res.W1_T[0], it[-1][0], atol=1e-10 * scale)
    np.testing.assert_allclose(res.W2_T[0], it[-1][1], atol=1e-10 * scale)
    # grad_sq record = ||grad_W1 L||^2 + ||grad_W2 L||^2 at the loop's iterates
    gsq = []
    for a, b in it:
        G = orc.grad(a @ b.T)
        gsq.append(np.sum((G @ b) ** 2) + np.sum((G.T @ a) ** 2))
    gsq = np.array(gsq)
    big = gsq > 1e-16 * gsq[0]
    np.testing.assert_allclose(res.arrays["grad_sq"][0, : T + 1][big], gsq[big], rtol=1e-6)


# --------------------------------------------------------------------------- Theorem 3.1
@st.composite
def instances(draw):
    n = draw(st.integers(1, 4))
    m = draw(st.integers(1, 4))
    h = draw(st.integers(n + m, 40))
    kind = draw(st.sampled_from(["squared", "factorization", "sensing"]))
    schedule = draw(st.sampled_from(["constant", "adaptive", "local"]))
    log_scale = draw(st.floats(-1.0, 0.5))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    extra = draw(st.integers(0, 3))
    # eta0 for constant/adaptive: None (default eta_max) or a fraction of 1/K_0 (may exceed 2/K_t:
    # those steps are then outside Theorem 3.1 and not counted)
    frac = draw(st.one_of(st.none(), st.floats(0.05, 2.5)))
    return n, m, h, kind, schedule, 10.0 ** log_scale, seed, extra, frac


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
@example((1, 1, 2, "squared", "constant", 1.7782794100389228, 10, 0, None))  # nearly tight bound
def test_theorem_31_never_violated(inst):
    n, m, h, kind, schedule, scale, seed, extra, frac = inst
    rng = np.random.default_rng(seed)
    loss, orc = make_instance(kind, n, m, rng, extra=extra)
    W1, W2 = init(rng, n, m, h, scale)
    kw = {}
    if schedule != "local" and frac is not None:
        kw["eta0"] = frac / K0_of(orc, W1, W2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run_gd(loss, W1, W2, schedule=schedule, steps=80, **kw)
    a = res.arrays
    T = int(res.steps[0])
    assert res.status[0] in STATUSES
    app = a["thm31_applicable"][0, :T]
    assert np.array_equal(app, (a["eta"][0, :T] > 0) & (a["eta"][0, :T] * a["K_t"][0, :T] < 2))
    # where 0 < eta K_t < 2: L(t+1) <= rho L(t), up to the rounding of the recorded L(t+1). The
    # iterate W(t+1) carries an error ||dW|| <= delta = 64 eps ||W1||_F ||W2||_F, which moves the
    # excess loss by up to sqrt(2 K L) delta + K delta^2 / 2 (first order: it is not a floor).
    L = a["loss"][0, : T + 1]
    rho = a["rho"][0, :T]
    fro = np.sqrt(n * m) * a["s1_max"][0, 1: T + 1] * a["s2_max"][0, 1: T + 1]
    delta = 64 * EPS * fro
    band = np.sqrt(2 * orc.K * L[1:]) * delta + orc.K * delta ** 2 / 2
    ok = L[1:] <= rho * L[:-1] * (1 + 1e-9) + band
    assert np.all(ok[app]), np.flatnonzero(app & ~ok)
    # the engine's own flags agree: Theorem 3.1 held at every step where it applied
    viol = a["thm31_applicable"][0, :T] & ~a["thm31_held"][0, :T]
    assert not viol.any(), np.flatnonzero(viol)
    assert res.violations()["thm31"] == 0


def test_theorem_31_no_spurious_violation_when_tight():
    # regression: the 'held' allowance was a K delta^2 floor; rounding moves L(t+1) at first order in delta
    # n = m = 1 (bound nearly tight: ratio / rho ~ 1 - 4e-9 in exact arithmetic at t = 41, 44),
    # found by test_theorem_31_never_violated; 60-digit arithmetic from the same iterate confirms
    # L(42) / L(41) = 0.495541287843 <= rho = 0.495541289784, yet the engine records 0.495541290508.
    rng = np.random.default_rng(10)
    loss, orc = make_instance("squared", 1, 1, rng, extra=0)
    W1, W2 = init(rng, 1, 1, 2, 1.7782794100389228)
    res = run_gd(loss, W1, W2, schedule="constant", steps=80)
    assert res.violations()["thm31"] == 0, res.violations()


@pytest.mark.parametrize("kind,schedule", [("squared", "adaptive"), ("sensing", "local"),
                                           ("factorization", "constant"), ("squared", "local")])
def test_theorem_31_independent_recomputation(kind, schedule):
    """Own K_t, rho (eqs. 11-12) from SVDs of the loop's full-width weights and the recorded eta."""
    rng = np.random.default_rng(31)
    n, m, h = 3, 2, 9
    loss, orc = make_instance(kind, n, m, rng)
    W1, W2 = init(rng, n, m, h, 0.6)
    kw = {"eta0": 0.5 / K0_of(orc, W1, W2)} if schedule in ("adaptive", "constant") else {}
    res = run_gd(loss, W1, W2, schedule=schedule, steps=150, **kw)
    a = res.arrays
    T = int(res.steps[0])
    eta = a["eta"][0, :T]
    it = gd_loop(orc, W1, W2, eta)
    L = np.array([orc.excess(p @ q.T) for p, q in it])
    checked = 0
    for t in range(T):
        if L[t] < 1e-18:
            break
        mu_t, K_t, rho = thm31(orc, *it[t], eta[t])
        np.testing.assert_allclose(a["K_t"][0, t], K_t, rtol=1e-8)
        np.testing.assert_allclose(a["mu_t"][0, t], mu_t, rtol=1e-8, atol=1e-12 * mu_t + 1e-300)
        np.testing.assert_allclose(a["rho"][0, t], rho, rtol=1e-8, atol=1e-10)
        if 0 < eta[t] * K_t < 2:
            assert L[t + 1] <= rho * L[t] * (1 + 1e-9), (t, L[t + 1], rho * L[t])
            checked += 1
    assert checked >= 50


# --------------------------------------------------------------------------- Lemma E.2 and drift
@pytest.mark.parametrize("kind,schedule", [("squared", "local"), ("factorization", "adaptive"),
                                           ("sensing", "backtracking")])
def test_lemma_E2_drift_dense(kind, schedule):
    rng = np.random.default_rng(41)
    n, m, h = 3, 2, 12
    loss, orc = make_instance(kind, n, m, rng)
    W1, W2 = init(rng, n, m, h, 0.8)
    kw = {"eta0": 0.4 / K0_of(orc, W1, W2)} if schedule == "adaptive" else {}
    res = run_gd(loss, W1, W2, schedule=schedule, steps=200, **kw)
    assert res.config["reduced"]
    a = res.arrays
    T = int(res.steps[0])
    eta = a["eta"][0, :T]
    it = gd_loop(orc, W1, W2, eta)
    D = [p.T @ p - q.T @ q for p, q in it]
    for t in range(T):
        p, q = it[t]
        atol = 64 * EPS * (np.sum(p * p) + np.sum(q * q))  # rounding of the h x h difference
        step_dense = np.linalg.norm(D[t + 1] - D[t])
        # eq. 117, cancellation-free: eta^2 (W2^T G^T G W2 - W1^T G G^T W1) (the paper prints
        # G^T G in the second term too; the dimensions force G G^T when n != m)
        G = orc.grad(p @ q.T)
        Gq, Gp = G @ q, G.T @ p
        exact = eta[t] ** 2 * np.linalg.norm(Gq.T @ Gq - Gp.T @ Gp)
        assert abs(step_dense - exact) <= atol
        np.testing.assert_allclose(a["drift_step"][0, t], exact, rtol=1e-6, atol=atol)
        # Lemma E.2 (eq. 102) with the excess loss
        bound = 2 * orc.K * eta[t] ** 2 * (sv(p)[0] ** 2 + sv(q)[0] ** 2) * orc.excess(p @ q.T)
        assert exact <= bound * (1 + 1e-9) + 1e-300
        assert a["drift_step"][0, t] <= bound * (1 + 1e-9) + atol
        np.testing.assert_allclose(a["drift_step_bound"][0, t], bound, rtol=1e-8, atol=1e-300)
    drift = np.array([np.linalg.norm(Dt - D[0]) for Dt in D])
    atol = 64 * EPS * (np.sum(W1 * W1) + np.sum(W2 * W2))
    np.testing.assert_allclose(a["drift"][0, : T + 1], drift, rtol=1e-6, atol=atol)
    # the cumulative bound dominates the drift (triangle inequality over Lemma E.2)
    assert np.all(a["drift"][0, : T + 1] <= a["drift_bound"][0, : T + 1] * (1 + 1e-9) + atol)


# --------------------------------------------------------------------------- stopping rules
def _small_problem(seed=51, h=8, scale=0.7):
    rng = np.random.default_rng(seed)
    loss, orc = make_instance("squared", 3, 2, rng)
    W1, W2 = init(rng, 3, 2, h, scale)
    return loss, orc, W1, W2


def test_tolerance_stop():
    loss, orc, W1, W2 = _small_problem()
    tol = 1e-6
    res = run_gd(loss, W1, W2, schedule="local", steps=2000, tol=tol)
    T = int(res.steps[0])
    L = res.arrays["loss"][0]
    assert res.status == ["converged"]
    assert 0 < T < 2000
    assert L[T] / L[0] <= tol
    assert np.all(L[:T] / L[0] > tol)  # the first time the tolerance is reached
    assert np.all(np.isnan(L[T + 1:])) and np.all(np.isnan(res.arrays["eta"][0, T:]))


def test_max_steps_stop():
    loss, orc, W1, W2 = _small_problem()
    res = run_gd(loss, W1, W2, schedule="local", steps=7)
    assert res.status == ["max_steps"] and int(res.steps[0]) == 7
    assert np.all(np.isfinite(res.arrays["loss"][0])) and res.arrays["loss"].shape == (1, 8)
    assert res.arrays["eta"].shape == (1, 7)


@pytest.mark.parametrize("factor", [30.0, 1e4, 1e20])
def test_divergence_stop(factor):
    # (10 / K_0 still converges on this instance: K_0 = K sigma_max^2(T_0) overestimates the curvature)
    loss, orc, W1, W2 = _small_problem()
    eta0 = factor / K0_of(orc, W1, W2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no floating-point warnings leak out
        res = run_gd(loss, W1, W2, schedule="constant", eta0=eta0, steps=300)
    T = int(res.steps[0])
    assert res.status[0] in ("diverged", "non_finite")
    assert T < 300
    L = res.arrays["loss"][0]
    assert not np.any(np.isnan(L[:T]))
    assert np.all(np.isfinite(L[:T]))
    if res.status[0] == "diverged":
        assert np.isfinite(L[T]) and L[T] > 1e8 * L[0]
    np.testing.assert_array_equal(res.arrays["eta"][0, :T], eta0)
    # the summary of a diverged run is strict JSON
    json.loads(json.dumps(res.summary(), allow_nan=False))


def test_divergence_stop_absurd_eta0():
    # regression: Python-float pow in evaluate raised OverflowError for eta0 = 1e100
    loss, orc, W1, W2 = _small_problem()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run_gd(loss, W1, W2, schedule="constant", eta0=1e100, steps=10)
    assert res.status[0] in ("diverged", "non_finite")


def _zero_loss_instances():
    rng = np.random.default_rng(61)
    n, m, h = 3, 3, 12
    W1, W2 = init(rng, n, m, h)
    X = rng.normal(size=(n, n))
    return [("squared", SquaredLoss(X, X @ W1 @ W2.T), W1, W2),
            ("factorization", FactorizationLoss(W1 @ W2.T), W1, W2)]


@pytest.mark.parametrize("schedule", ["constant", "adaptive", "local", "xu2023", "backtracking", "adgd"])
def test_zero_loss_instance_no_crash(schedule):
    for _, loss, W1, W2 in _zero_loss_instances():
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            res = run_gd(loss, W1, W2, schedule=schedule, steps=20)
        T = int(res.steps[0])
        L = res.arrays["loss"][0, : T + 1]
        assert res.status[0] in STATUSES
        assert np.all(np.isfinite(L)) and np.all(L <= 1e-20)
        json.loads(json.dumps(res.summary(), allow_nan=False))


@pytest.mark.parametrize("which", ["squared", "factorization"])
def test_zero_loss_instance_status(which):
    # regression: L(0) ~ 1e-29 from rounding counted as positive, so the run went to max_steps
    name, loss, W1, W2 = next(x for x in _zero_loss_instances() if x[0] == which)
    res = run_gd(loss, W1, W2, schedule="adaptive", steps=50)
    assert res.status[0] in ("zero_loss", "converged"), (res.status, res.arrays["loss"][0, :3])


# --------------------------------------------------------------------------- batches
def test_batch_of_seeds_equals_single_runs():
    rng = np.random.default_rng(71)
    n, m, h, R = 3, 2, 10, 4
    loss, orc = make_instance("squared", n, m, rng)
    W1 = 0.7 * rng.normal(size=(R, n, h))
    W2 = 0.7 * rng.normal(size=(R, m, h))
    for schedule in ("local", "adaptive"):
        batch = run_gd(loss, W1, W2, schedule=schedule, steps=150)
        for r in range(R):
            one = run_gd(loss, W1[r], W2[r], schedule=schedule, steps=150)
            assert one.status[0] == batch.status[r] and one.steps[0] == batch.steps[r]
            np.testing.assert_allclose(batch.arrays["loss"][r], one.arrays["loss"][0], rtol=1e-12, atol=0,
                                       equal_nan=True)
            np.testing.assert_allclose(batch.arrays["eta"][r], one.arrays["eta"][0], rtol=1e-12, equal_nan=True)
            np.testing.assert_allclose(batch.W1_T[r], one.W1_T[0], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("kind", ["squared", "factorization", "sensing"])
def test_stacked_instances_equal_single_runs(kind):
    rng = np.random.default_rng(72)
    n, m, h, R = 2, 3, 9, 3
    pairs = [make_instance(kind, n, m, rng) for _ in range(R)]
    losses = [p[0] for p in pairs]
    W1 = 0.8 * rng.normal(size=(R, n, h))
    W2 = 0.8 * rng.normal(size=(R, m, h))
    # the stacked loss evaluates instance r on batch entry r
    stacked = stack_losses(losses)
    Wb = W1 @ np.swapaxes(W2, 1, 2)
    for r in range(R):
        np.testing.assert_allclose(stacked.excess(Wb)[r], pairs[r][1].excess(Wb[r]), rtol=1e-12)
        np.testing.assert_allclose(stacked.grad(Wb)[r], pairs[r][1].grad(Wb[r]), rtol=1e-10, atol=1e-12)
    # a list of losses runs as one batch, equal to the single runs
    batch = run_gd(losses, W1, W2, schedule="local", steps=120)
    for r in range(R):
        one = run_gd(losses[r], W1[r], W2[r], schedule="local", steps=120)
        assert one.status[0] == batch.status[r] and one.steps[0] == batch.steps[r]
        for key in ("loss", "eta"):  # the batch's records run to the last step any seed took, NaN beyond
            mine_b, single = batch.arrays[key][r], one.arrays[key][0]
            np.testing.assert_allclose(mine_b[: single.size], single, rtol=1e-12, equal_nan=True)
            assert np.isnan(mine_b[single.size:]).all()
        # and against the oracle loop of instance r
        T = int(one.steps[0])
        it = gd_loop(pairs[r][1], W1[r], W2[r], one.arrays["eta"][0, :T])
        mine = np.array([pairs[r][1].excess(p @ q.T) for p, q in it])
        ok = mine > 1e-20
        np.testing.assert_allclose(batch.arrays["loss"][r, : T + 1][ok], mine[ok], rtol=1e-8)


# --------------------------------------------------------------------------- save / inputs
def test_save_layout(tmp_path):
    loss, orc, W1, W2 = _small_problem(h=6)
    T = 25
    res = run_gd(loss, W1, W2, schedule="local", steps=T)
    path = tmp_path / "run.npz"
    res.save(path)
    with np.load(path, allow_pickle=False) as z:
        keys = set(z.files)
        assert {"eta", "loss", "W1_0", "W2_0", "W1_T", "W2_T", "metadata"} <= keys
        assert z["eta"].shape == (T,) and z["loss"].shape == (T + 1,)
        np.testing.assert_array_equal(z["W1_0"], W1)
        np.testing.assert_array_equal(z["W2_0"], W2)
        assert z["W1_T"].shape == W1.shape and z["W2_T"].shape == W2.shape
        np.testing.assert_array_equal(z["W1_T"], res.W1_T[0])
        np.testing.assert_array_equal(z["loss"], res.arrays["loss"][0])
        meta = json.loads(str(z["metadata"]))
    assert meta["summary"]["schedule"] == "local"


def test_save_diverged_run(tmp_path):
    loss, orc, W1, W2 = _small_problem(h=6)
    res = run_gd(loss, W1, W2, schedule="constant", eta0=1e3 / K0_of(orc, W1, W2), steps=50)
    res.save(tmp_path / "div.npz")
    with np.load(tmp_path / "div.npz", allow_pickle=False) as z:
        json.loads(str(z["metadata"]))


def test_inputs_not_modified():
    rng = np.random.default_rng(81)
    n, m, h = 3, 2, 10
    X, Y = rng.normal(size=(5, n)), rng.normal(size=(5, m))
    loss = SquaredLoss(X, Y)
    X0, Y0, Ws0 = X.copy(), Y.copy(), loss.Wstar.copy()
    W1, W2 = init(rng, n, m, h)
    W1c, W2c = W1.copy(), W2.copy()
    for schedule in ("local", "backtracking", "adgd"):
        res = run_gd(loss, W1, W2, schedule=schedule, steps=30)
        np.testing.assert_array_equal(W1, W1c)
        np.testing.assert_array_equal(W2, W2c)
        np.testing.assert_array_equal(X, X0)
        np.testing.assert_array_equal(Y, Y0)
        np.testing.assert_array_equal(loss.Wstar, Ws0)
        np.testing.assert_array_equal(res.W1_0[0], W1c)
        # the result does not alias the inputs
        assert not np.shares_memory(res.W1_0, W1) and not np.shares_memory(res.W1_T, W1)


def test_reference_loss_is_problem_one_gd():
    """reference_loss: GD on W itself from W(0) = W1(0) W2(0)^T with eta = 1/K (eq. 6, Fig. 4), own loop."""
    rng = np.random.default_rng(81)
    X, Y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    W1, W2 = rng.normal(size=(3, 9)), rng.normal(size=(2, 9))
    res = run_gd(SquaredLoss(X, Y), W1, W2, schedule="constant", steps=25, tol=1e-300)
    G = X.T @ X
    K = np.linalg.eigvalsh(G)[-1]
    Wstar = np.linalg.lstsq(X, Y, rcond=None)[0]
    W = W1 @ W2.T
    want = []
    for _ in range(26):
        want.append(0.5 * np.linalg.norm(X @ (W - Wstar)) ** 2)
        W = W - (X.T @ (X @ W - Y)) / K
    np.testing.assert_allclose(res.arrays["reference_loss"][0], want, rtol=1e-8)
    assert res.summary()["reference_rate"] < 1


def test_reference_losses_stacked_equal_seed_by_seed():
    """engine.reference_losses runs a batch of losses as one stacked GD (issue 13): every seed's row equals
    its own ``run_reference`` bit for bit, cut where that seed reached tol, NaN after it."""
    from convtool.numeric.engine import reference_losses, run_reference
    from convtool.numeric.losses import SquaredLoss

    rng = np.random.default_rng(3)
    losses = []
    for r in range(6):  # conditioning from mild to poor: the seeds reach tol at different steps
        X = rng.normal(size=(30, 10)) * np.geomspace(1, 10 ** (r / 3), 10)
        losses.append(SquaredLoss(X, X @ rng.normal(size=(10, 5)) + 0.1 * rng.normal(size=(30, 5))))
    W1, W2 = rng.normal(size=(6, 10, 40)) / 40 ** 0.25, rng.normal(size=(6, 5, 40)) / 40 ** 0.25
    for tol in (1e-14, 1e-6, 1e-3):
        ref, _ = reference_losses(losses, W1, W2, 150, tol)
        rows = [run_reference(L, w1 @ w2.T, 150, tol=tol)[0] for L, w1, w2 in zip(losses, W1, W2)]
        assert ref.shape == (6, max(r.size for r in rows))
        assert len({r.size for r in rows}) >= 2  # seeds stop at different steps (or run to the end)
        for r, row in enumerate(rows):
            assert np.array_equal(ref[r, : row.size], row)
            assert np.isnan(ref[r, row.size:]).all()
