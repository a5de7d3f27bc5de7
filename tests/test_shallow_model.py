"""The shallow network of Song et al. (convtool.numeric.shallow, shallow_constants, theories.song_et_al).

Oracles: finite differences (gradients, the Jacobian), an explicit Khatri-Rao construction (the Hadamard
identity), Monte Carlo over many draws of W0 (E[M0], with its standard error), singular values of the
explicit Jacobian (Lemma 3's near-isometry, eq. 43), an independent evaluation of the fixed point chi, and the
paper's inequalities (Theorem 2, Lemmas 1, 2) on a real GD run where the certificate holds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from convtool.analysis.activations import builtin
from convtool.numeric.shallow import (ShallowLoss, expected_gram, hadamard_sigma_min, init_layers, init_scales,
                                      jacobian_matrix, jacobian_spectrum, ntk_gram, run_shallow, shallow_model)
from convtool.numeric.shallow_constants import compute_shallow_constants


def _data(n, d0, d2, seed=0, ynorm=1.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d0))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Y = rng.standard_normal((n, d2))
    return X, Y * ynorm / np.linalg.norm(Y)


def _Phi(X, W, V, act):
    return V @ act.phi(W @ X.T)  # the paper's Z (d2 x n)


@pytest.mark.parametrize("name", ["gelu", "tanh", "softplus0"])
def test_gradients_of_the_paper_loss_match_finite_differences(name):
    act = builtin(name)
    X, Y = _data(6, 3, 2)
    W, V = init_layers(3, 5, 2, 0.8, 0.5, seed=1)
    model, loss = shallow_model(X, W, V, act), ShallowLoss(Y)
    st = model.init_state()
    g = model.param_grads(st, loss.grad(model.product(st)))

    def h(Wm, Vm):
        return float(np.sum((_Phi(X, Wm, Vm, act).T - Y) ** 2))  # ||V phi(W X) - Y||^2, no 1/2

    eps = 1e-6
    for j, (P, G) in enumerate(zip((W[0], V[0]), g)):
        num = np.zeros_like(P)
        for idx in np.ndindex(P.shape):
            E = np.zeros_like(P)
            E[idx] = eps
            args_p = (W[0] + E, V[0]) if j == 0 else (W[0], V[0] + E)
            args_m = (W[0] - E, V[0]) if j == 0 else (W[0], V[0] - E)
            num[idx] = (h(*args_p) - h(*args_m)) / (2 * eps)
        np.testing.assert_allclose(G[0], num, rtol=1e-6, atol=1e-8)
    assert float(loss.excess(model.product(st))[0]) == pytest.approx(h(W[0], V[0]), rel=1e-13)


def test_jacobian_matrix_against_finite_differences_and_the_ntk_gram():
    act = builtin("gelu")
    X, _ = _data(5, 3, 2)
    W, V = init_layers(3, 4, 2, 1.0, 0.7, seed=2)
    W, V = W[0], V[0]
    J = jacobian_matrix(X, W, V, act)
    eps = 1e-6
    theta = np.concatenate([W.ravel(), V.ravel()])

    def z(th):
        Wm, Vm = th[:W.size].reshape(W.shape), th[W.size:].reshape(V.shape)
        return _Phi(X, Wm, Vm, act).ravel()

    num = np.stack([(z(theta + eps * e) - z(theta - eps * e)) / (2 * eps) for e in np.eye(theta.size)], axis=1)
    np.testing.assert_allclose(J, num, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ntk_gram(X, W, V, act), J @ J.T, rtol=1e-12, atol=1e-13)


def test_jacobian_spectrum_routes_agree():
    act = builtin("tanh")
    X, _ = _data(12, 4, 2, seed=3)
    W, V = init_layers(4, 20, 2, 1.0, 0.3, seed=4)
    s = np.linalg.svd(jacobian_matrix(X, W[0], V[0], act), compute_uv=False)
    dense = jacobian_spectrum(X, W[0], V[0], act)
    gram = jacobian_spectrum(X, W[0], V[0], act, dense_max=0)
    lanczos = jacobian_spectrum(X, W[0], V[0], act, dense_max=0, gram_max=0)
    assert dense[2].startswith("svd") and gram[2].startswith("eigvalsh") and lanczos[2].startswith("Lanczos")
    for r in (dense, gram, lanczos):
        assert r[0] == pytest.approx(s[23], rel=1e-6) and r[1] == pytest.approx(s[0], rel=1e-9)


@pytest.mark.parametrize("name,d1,w2", [("gelu", 30, 0.05), ("tanh", 25, 0.5), ("softplus0", 40, 0.2)])
def test_lemma3_near_isometry_on_explicit_jacobians(name, d1, w2):
    act = builtin(name)
    X, Y = _data(8, 4, 2, seed=5)
    for seed in range(3):
        W, V = init_layers(4, d1, 2, 1.0, w2, seed=seed)
        q = compute_shallow_constants(X, Y, W[0], V[0], act, omega1=1.0, omega2=w2, gram=False,
                                      symbolic=False).quantities
        s = np.linalg.svd(jacobian_matrix(X, W[0], V[0], act), compute_uv=False)
        assert q["mu_Phi"] <= s[X.shape[0] * 2 - 1] * (1 + 1e-12)  # (42): sigma_min(J) >= sigma_min(phi(W0 X))
        assert s[0] <= q["nu_Phi"] * (1 + 1e-12)                   # (41)
        A = act.phi(W[0] @ X.T)
        assert q["mu_Phi"] == pytest.approx(np.linalg.svd(A, compute_uv=False)[X.shape[0] - 1], rel=1e-12)


def test_mu_phi_zero_below_n_with_its_reason():
    X, Y = _data(10, 4, 1)
    W, V = init_layers(4, 6, 1, 1.0, 0.1)
    q = compute_shallow_constants(X, Y, W[0], V[0], builtin("gelu"), omega1=1.0, omega2=0.1, gram=False,
                                  symbolic=False).quantities
    assert q["mu_Phi"] == 0.0 and "d1 = 6 < n = 10" in q["mu_Phi_zero_reason"]
    for k in ("rho_Phi", "certificate_ratio", "eta_explicit", "rate_guaranteed"):
        assert not q[k] and "d1 = 6 < n = 10" in q[k].reason
    with pytest.raises(Exception, match="pass --eta"):
        run_shallow(X, Y, W, V, builtin("gelu"), steps=3)
    res = run_shallow(X, Y, W, V, builtin("gelu"), steps=3, eta=0.01)
    assert "eta_explicit is not applicable" in res.summary()["theorem_not_applicable"]


def _khatri_rao_power(X, t):
    """Explicit X^{*t} (columns vec(x_a tensor ... tensor x_a)), samples as rows of X: shape (d0^t, n)."""
    cols = []
    for x in X:
        v = x
        for _ in range(t - 1):
            v = np.kron(v, x)
        cols.append(v)
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("t", [1, 2, 3])
def test_hadamard_identity_against_explicit_khatri_rao(t):
    rng = np.random.default_rng(t)
    X = rng.standard_normal((7, 3))
    K = _khatri_rao_power(X, t)
    s = np.linalg.svd(K, compute_uv=False)
    s_n = s[6] if s.size >= 7 else 0.0  # the n-th singular value (0 for a wide-short X^{*t})
    ours, why = hadamard_sigma_min(X, t)
    if math.comb(3 + t - 1, t) < 7:  # symmetric tensors: rank <= C(d0 + t - 1, t)
        assert ours == 0.0 and "rank" in why and s_n < 1e-12
    else:
        assert ours == pytest.approx(s_n, rel=1e-9)
    np.testing.assert_allclose(K.T @ K, (X @ X.T) ** t, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,omega1", [("gelu", 0.7), ("tanh", 1.3)])
def test_expected_gram_against_monte_carlo(name, omega1):
    act = builtin(name)
    X, _ = _data(5, 3, 1, seed=7)
    K, _ = expected_gram(X, act, omega1)
    rng = np.random.default_rng(11)
    draws = 200_000
    Wd = omega1 * rng.standard_normal((draws, 3))
    A = act.phi(Wd @ X.T)                       # one row of W0 per draw: M0 / d1 = mean of a a^T
    mc = A.T @ A / draws
    se = np.sqrt(np.var(A[:, :, None] * A[:, None, :], axis=0) / draws)
    assert np.all(np.abs(mc - K) <= 5 * se + 1e-12)
    # the large-n route (kernel table + spline) agrees with the per-pair rule
    K2, method = expected_gram(X, act, omega1, direct_max=0)
    assert "spline" in method
    np.testing.assert_allclose(K2, K, rtol=1e-7, atol=1e-9)


def test_chi_apriori_is_the_fixed_point_and_the_steps():
    X, Y = _data(6, 4, 1, seed=8)
    W, V = init_layers(4, 60, 1, 1.0, 0.05, seed=1)
    q = compute_shallow_constants(X, Y, W[0], V[0], builtin("gelu"), omega1=1.0, omega2=0.05, gram=False,
                                  symbolic=False).quantities
    chi, s, mu, sX = q["chi_max"], q["sigma_max_V0"], q["mu_Phi"], q["sigma_max_X"]
    beta = math.sqrt(2) * sX * (q["phi_d1_max"] + q["phi_d2_max"] * chi)
    assert chi == pytest.approx(s + mu / (2 * beta), rel=1e-12)  # chi = sigma_max(V0) + rho(chi)
    assert q["beta_Phi"] == pytest.approx(beta, rel=1e-12) and q["rho_Phi"] == pytest.approx(chi - s, rel=1e-10)
    h0, nu = q["h0"], q["nu_Phi"]
    G = 2 * math.sqrt(h0) + 3 * 2 * mu * nu / (4 * beta)
    assert q["eta_a"] == pytest.approx(1 / (beta * G + 4.5 * nu ** 2), rel=1e-12)
    assert q["eta_b"] == pytest.approx(mu / (6 * beta * nu * G), rel=1e-12)
    assert q["eta_a_simple"] == pytest.approx(1 / (2 * beta * math.sqrt(h0) + 6 * nu ** 2), rel=1e-12)
    assert q["eta_13"] == pytest.approx(1 / (2 * beta * math.sqrt(h0) + 2 * mu ** 2 + 2 * nu ** 2), rel=1e-12)
    # the issue's correction of the notes: condition (b) binds, so the notes' one-line step is too large
    assert q["eta_b"] < q["eta_a_simple"] and q["eta_explicit"] == q["eta_b"]
    assert q["certificate_ratio"] == pytest.approx(h0 * beta ** 2 * nu ** 2 / (2 * mu ** 6), rel=1e-12)


def test_init_scales():
    assert init_scales("lecun", 4, 9) == (0.5, 1 / 3, "LeCun: 1/sqrt(d0), 1/sqrt(d1)")
    w1, w2, _ = init_scales("he", 4, 9)
    assert (w1, w2) == pytest.approx((math.sqrt(0.5), math.sqrt(2 / 9)))
    w1, w2, how = init_scales("gaussian", 4, 9, omega1=2.0)
    assert w1 * w2 * 6 == pytest.approx(1.0) and "omega1 omega2" in how
    W, V = init_layers(40, 300, 2, 0.5, 0.1, seed=3)
    assert np.std(W) == pytest.approx(0.5, rel=0.02) and np.std(V) == pytest.approx(0.1, rel=0.1)


def test_theorem2_lemmas_on_a_run_where_the_certificate_holds():
    """n = 3, d1 = 8000, tiny labels: the derived GD certificate holds; every check applies and holds."""
    X, Y = _data(3, 3, 1, seed=1, ynorm=0.01)
    rng_fix = np.random.default_rng(1)
    X = rng_fix.standard_normal((3, 3))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Y = rng_fix.standard_normal((3, 1))
    Y *= 0.01 / np.linalg.norm(Y)
    d1 = 8000
    w2 = 1e-3 / math.sqrt(3 * d1)
    W, V = init_layers(3, d1, 1, 1.0, w2, seed=0)
    res = run_shallow(X, Y, W, V, builtin("gelu"), steps=150, omega1=1.0, omega2=w2, jacobian=True)
    s = res.summary()
    assert s["certificate_gd_holds"] == [True] and s["theorem_not_applicable"] is None
    v = s["violations"]
    for key in ("thm2_rate", "ball", "path", "lemma1", "chi"):
        assert v[f"{key}_steps_applicable"] == 150 and v[key] == 0, key
    L = res.arrays["loss"][0]
    assert np.all(L[1:] <= res.arrays["envelope"][0, 1:] * (1 + 1e-9))
    assert s["observed_rate"] < s["rate_guaranteed"][0]  # GD is faster than the envelope
    assert np.isfinite(res.arrays["jac_sigma_min"]).all()
