"""GD and SGD runs of the linear ResNet (issue 8): Theorem 3.1's curve on instances built to satisfy it,
Lemmas A.1 and A.2 at random points of the region and along runs, Section 4's stall with identity transforms,
the depth-free iteration count, --batch n = GD, and the SGD statements as frequencies over seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from convtool.numeric.losses import SquaredLoss
from convtool.numeric.resnet import LinearResNet, make_transforms
from convtool.numeric.resnet_constants import compute_resnet_constants
from convtool.numeric.resnet_experiments import compare_depths, run_resnet, run_sgd_batch

e = math.e
GD_CHECKS = ("thm31", "traj", "region", "lemma_a1", "lemma_a2")


def whitened(n, d, rng):
    return np.linalg.qr(rng.normal(size=(n, d)))[0] * np.sqrt(n)


def remark32_instance():
    """Remark 3.2: A = B = I, X X^T = I (paper layout), L* = 0, Delta0 below C^-2 = 1/(32 e^3)."""
    rng = np.random.default_rng(0)
    X = whitened(20, 3, rng) / np.sqrt(20)
    Phi = np.eye(3) + 0.015 * rng.normal(size=(3, 3))
    return X, X @ Phi.T, np.eye(3), np.eye(3), 3


def near_optimal_instance():
    """Gaussian transforms with Y close to X (BA)^T: a tiny Delta0 (L* > 0 through orthogonal noise)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 2))
    A, B = make_transforms("gaussian", d=2, k=2, m=6, seed=3)
    Z = rng.normal(size=(30, 2))
    noise = Z - X @ np.linalg.lstsq(X, Z, rcond=None)[0]
    return X, X @ (B @ A + 1e-4 * rng.normal(size=(2, 2))).T + noise, A, B, 4


def large_m_instance():
    """Gaussian transforms, d = k = 1 and m = 400: the margin grows like sqrt(m) and passes 1."""
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(6, 1)), 0.01 * rng.normal(size=(6, 1))
    A, B = make_transforms("gaussian", d=1, k=1, m=400, seed=2)
    return X, Y, A, B, 2


@pytest.mark.parametrize("make", [remark32_instance, near_optimal_instance, large_m_instance],
                         ids=["remark32", "near-optimal", "large-m"])
def test_theorem31_curve_bounds_the_gap_on_every_step(make):
    X, Y, A, B, L = make()
    c = compute_resnet_constants(X, Y, A, B, depth=L)
    assert c.quantities["thm31_margin"] >= 1  # the instance is in the theorem's regime
    res = run_resnet(X, Y, A, B, depth=L, schedule="thm31", steps=150, tol=1e-12)
    v = res.violations()
    for key in GD_CHECKS:
        assert v[key] == 0, (key, v)
    T = int(res.steps[0])
    assert v["thm31_steps_applicable"] == T >= 10
    assert v["lemma_a1_steps_applicable"] == T + 1 and v["lemma_a2_steps_applicable"] == T  # never vacuous here
    gap, pred = res.arrays["loss"][0, : T + 1], res.arrays["pred_thm31"][0, : T + 1]
    assert np.all(gap <= pred * (1 + 1e-9) + 1e-300)  # the same inequality, read off the records
    assert pred[1] == pytest.approx(pred[0] * (1 - c.quantities["rho_thm31"]), rel=1e-12)
    assert np.nanmax(res.arrays["w_max"]) <= c.quantities["R_GD"] <= c.quantities["region"] * (1 + 1e-12)


def _region_point(rng, L, m, radius, spectral=False):
    W = rng.normal(size=(L, m, m))
    for l in range(L):
        s = np.linalg.norm(W[l], 2) if spectral else np.linalg.norm(W[l])
        W[l] *= radius * rng.uniform(0.2, 1.0) / s
    return W


def test_lemmas_a1_a2_at_random_points_of_the_region():
    """Lemma A.1's bounds and Lemma A.2's inequality (printed constant and the tighter sqrt(e L/2) one, reading 7)
    at 200 random pairs with max_l ||W_l||_F <= 0.5/L; Lemma A.1 also with only ||W_l||_2 <= 0.5/L (reading 6)."""
    rng = np.random.default_rng(11)
    n, d, k, m, L = 15, 3, 2, 5, 3
    X, Y = rng.normal(size=(n, d)), rng.normal(size=(n, k))
    A, B = rng.normal(size=(m, d)), rng.normal(size=(k, m))
    loss = SquaredLoss(X, Y)
    lA, lB = np.linalg.norm(A, 2), np.linalg.norm(B, 2)
    mA, mB = np.linalg.svd(A, compute_uv=False)[-1], np.linalg.svd(B, compute_uv=False)[-1]
    s = np.linalg.svd(X, compute_uv=False)
    X2, sr = s[0], s[-1]
    lo, hi = 2 / e * mA ** 2 * mB ** 2 * sr ** 2, 2 * e * lA ** 2 * lB ** 2 * X2 ** 2
    worst_tight = -np.inf
    for trial in range(200):
        spectral = trial % 2 == 1
        W = _region_point(rng, L, m, 0.5 / L, spectral=spectral)
        mdl = LinearResNet(A, B, W)
        st = mdl.init_state()
        P = mdl.product(st)
        gap = float(loss.excess(P)[0])
        g = mdl.param_grads(st, loss.grad(P))[0][0]
        per = np.sum(g * g, axis=(1, 2))
        assert np.all(per >= lo * gap * (1 - 1e-9)) and np.all(per <= hi * gap * (1 + 1e-9))
        if spectral:
            continue
        Wt = _region_point(rng, L, m, 0.5 / L)
        dW = Wt - W
        LW = float(loss.value(P)[0])
        Lt = float(loss.value(LinearResNet(A, B, Wt).product((Wt[None],)))[0])
        lin = float(np.sum(g * dW))
        sq = float(np.sum(dW * dW))
        printed = L * lA * lB * X2 * (math.sqrt(2 * e * LW) + 0.5 * e * lA * lB * X2)
        tight = L * lA * lB * X2 * (math.sqrt(e * LW / 2) + 0.5 * e * lA * lB * X2)
        assert Lt - LW <= lin + printed * sq + 1e-9 * abs(LW)
        assert Lt - LW <= lin + tight * sq + 1e-9 * abs(LW)
        worst_tight = max(worst_tight, (Lt - LW - lin) / (tight * sq))
    assert 0 < worst_tight < 1


def test_identity_transforms_stall_on_whitened_data_with_phi_minus_identity():
    """Section 4.1: with A = [I; 0], B = sqrt(m/k) [I, 0], X X^T = n I and Phi = -I, GD from zero stays at the
    loss of U = 0, 1/2 ||Y||_F^2 (L* = 0), and only the top-left d x d block of every W_l moves."""
    rng = np.random.default_rng(1)
    X = whitened(30, 3, rng)
    Y = -X
    A, B = make_transforms("identity", d=3, k=3, m=6)
    c = compute_resnet_constants(X, Y, A, B, depth=3)
    assert c.quantities["thm31_margin"] < 1 and c.quantities["identity_fail_ratio"] > 1
    res = run_resnet(X, Y, A, B, depth=3, schedule="constant", eta=1e-3, steps=2000)
    plateau = 0.5 * np.sum(Y ** 2)
    loss = res.arrays["loss"][0]
    assert res.status[0] == "max_steps" and c.quantities["lstar"] < 1e-20
    assert np.all(loss[500:] >= 0.999 * plateau)
    W = res.state_T[0]
    assert np.abs(W[:, 3:, :]).max() == 0 and np.abs(W[:, :, 3:]).max() == 0


def test_iterations_to_eps_at_the_theory_step_are_flat_in_depth():
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(40, 2)), rng.normal(size=(40, 2))
    cmp = compare_depths(X, Y, [2, 8], transform="modified-identity", hidden=4, alpha_mod=20.0, steps=3000)
    r2, r8 = cmp.rows
    assert r2.resnet_status == r8.resnet_status == "converged"
    assert r2.rho_thm31 == pytest.approx(r8.rho_thm31, rel=1e-12)  # L cancels in rho at eta_thm31
    assert abs(r8.resnet_steps - r2.resnet_steps) <= 0.2 * r2.resnet_steps
    assert r2.eta == pytest.approx(4 * r8.eta, rel=1e-12)


def test_batch_n_equals_gd_exactly():
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(12, 2)), rng.normal(size=(12, 2))
    A, B = make_transforms("modified-identity", d=2, k=2, m=4, alpha_mod=5.0)
    gd = run_resnet(X, Y, A, B, depth=3, schedule="constant", eta=1e-3, steps=40)
    sgd = run_resnet(X, Y, A, B, depth=3, schedule="constant", eta=1e-3, steps=40, batch=12, sgd_seed=5)
    np.testing.assert_array_equal(gd.arrays["loss"], sgd.arrays["loss"])
    np.testing.assert_array_equal(gd.state_T, sgd.state_T)
    small = run_resnet(X, Y, A, B, depth=3, schedule="constant", eta=1e-3, steps=40, batch=4, sgd_seed=5)
    assert not np.array_equal(small.arrays["loss"], gd.arrays["loss"])


def interp_instance(b=4, L=2):
    """L* = 0, whitened X, modified identity with alpha twice Theorem 3.8's (and 3.6's) threshold."""
    rng = np.random.default_rng(0)
    X = whitened(8, 2, rng)
    Y = X @ rng.normal(size=(2, 2)).T
    A, B = make_transforms("modified-identity", d=2, k=2, m=4)
    q = compute_resnet_constants(X, Y, A, B, depth=L, batch=b, steps=60).quantities
    A, B = make_transforms("modified-identity", d=2, k=2, m=4, alpha_mod=2 / q["thm38_margin"])
    return X, Y, A, B


def test_theorem38_envelope_holds_with_probability_at_least_1_minus_delta():
    """Theorem 3.8 (A.19) at its own step, 300 independent minibatch streams: the fraction of seeds whose loss
    stayed below 2 L0 exp(-t rho) for all t <= T must be >= 1 - delta, up to 3 binomial standard errors."""
    X, Y, A, B = interp_instance()
    R, delta = 300, 0.1
    res = run_sgd_batch(X, Y, A, B, depth=2, seeds=R, batch=4, schedule="thm38", steps=60, delta=delta)
    z = res.summary()["zou_long_gu"]
    v = res.violations()
    assert v["thm38_steps_applicable"] == R * 60  # the hypotheses held on every step of every seed
    frac = z["below_envelope_thm38"]["fraction"]
    assert frac >= 1 - delta - 3 * math.sqrt(delta * (1 - delta) / R)
    assert z["max_loss_below_2L0"]["fraction"] >= 1 - delta - 3 * math.sqrt(delta * (1 - delta) / R)


def test_sgd_expected_gap_contracts_as_the_proof_of_theorem36_says():
    """The proof's recursion (A.13) with L* = 0 (gamma_1 = 0): E[L(t)] <= (1 - eta gamma_0)^t L0,
    gamma_0 = 4 L mu_A^2 mu_B^2 sigma_r^2 / (3e), at a step meeting its two sub-requirements; the mean over
    400 seeds against the bound plus 4 standard errors, every iterate in the region."""
    X, Y, A, B = interp_instance()
    L, b, n = 2, 4, X.shape[0]
    c = compute_resnet_constants(X, Y, A, B, depth=L, batch=b).values
    lam2 = (c["lambda_A"] * c["lambda_B"] * c["X_norm"]) ** 2
    eta = min(1 / (6 * e * L * lam2), b / (2 * e * L * n * lam2))
    g0 = 4 * L * c["mu_A"] ** 2 * c["mu_B"] ** 2 * c["sigma_r"] ** 2 / (3 * e)
    R, T = 400, 40
    res = run_sgd_batch(X, Y, A, B, depth=L, seeds=R, batch=b, schedule="constant", eta=eta, steps=T)
    loss = res.arrays["loss"]
    mean, se = loss.mean(axis=0), loss.std(axis=0, ddof=1) / math.sqrt(R)
    bound = (1 - eta * g0) ** np.arange(T + 1) * c["L0"]
    assert np.all(mean <= bound * (1 + 1e-12) + 4 * se)
    assert bound[-1] < 0.5 * bound[0]  # the bound itself decays: the test can fail
    v = res.violations()
    assert v["lemma_a2_steps_applicable"] == R * T and v["lemma_a2"] == 0 and v["lemma_a1"] == 0
