"""The typo / OCR readings of Zou, Long & Gu (reading notes section 7; numbered as in the docstring of
convtool/analysis/zou_long_gu.py), each checked by a derivation or a numerical (counterexample) search.
Readings 6 and 7 (Lemma A.1's spectral hypothesis, Lemma A.2's sqrt(e L/2)) are checked at random region points
in tests/test_resnet_runs.py; reading 17 (modified identity) and 20 (mu = 0 when m < d) in the model and
constants tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from convtool.numeric.losses import SquaredLoss
from convtool.numeric.resnet import LinearResNet, MinibatchSampler, make_transforms
from convtool.numeric.resnet_constants import compute_resnet_constants

e = math.e
C = 4 * math.sqrt(2 * e ** 3)


def test_lemma_a1_proof_constants():
    L = np.arange(1, 10001, dtype=float)
    assert np.all((1 - 0.5 / L) ** (2 * L - 2) >= 1 / e) and np.all((1 + 0.5 / L) ** (2 * L - 2) <= e)
    assert np.all((1 + 0.5 / L) ** L <= math.sqrt(e))


def test_reading8_vershynin_t_and_the_band_frequency():
    """t = sqrt(2 log(12/delta)) gives 2 exp(-t^2/2) = delta/6 per matrix (the printed 2 sqrt(log(12/delta)) does
    not match the width); at m = m_prop33 the band event holds with frequency >= 1 - delta/3."""
    for delta in (0.01, 0.1, 0.5):
        t = math.sqrt(2 * math.log(12 / delta))
        assert 2 * math.exp(-t ** 2 / 2) == pytest.approx(delta / 6, rel=1e-12)
        tp = 2 * math.sqrt(math.log(12 / delta))
        assert 2 * math.exp(-tp ** 2 / 2) != pytest.approx(delta / 6, rel=1e-3)
    delta, R = 0.5, 400
    m = math.ceil(100 * (1 + math.sqrt(2 * math.log(12 / delta))) ** 2)  # d = k = 1
    rng = np.random.default_rng(0)
    norms = np.linalg.norm(rng.standard_normal((R, m)), axis=1) / math.sqrt(m)  # sigma(A) of an m x 1 Gaussian A
    frac = np.mean((norms >= 0.9) & (norms <= 1.1))
    assert frac >= 1 - delta / 3


def test_reading9_loss_bound_of_proposition33():
    """log(3n/delta) (union over n samples at delta/(3n)), 1 + 2 sqrt(t) + 2t <= 5t for t >= 1, and the bound on
    L(W0) as a frequency over Gaussian draws (>= 1 - 2 delta/3); the exact mean E L(W0) against the sample mean."""
    tt = np.linspace(1, 1e4, 100001)
    assert np.all(1 + 2 * np.sqrt(tt) + 2 * tt <= 5 * tt)
    rng = np.random.default_rng(1)
    n, d, k, m, delta = 5, 2, 2, 60, 0.3
    X, Y = rng.normal(size=(n, d)), rng.normal(size=(n, k))
    XF2, YF2 = np.sum(X * X), np.sum(Y * Y)
    bound = 6.05 * k * m * math.log(3 * n / delta) * XF2 + YF2
    L0 = []
    for s in range(600):
        A, B = make_transforms("gaussian", d=d, k=k, m=m, seed=s)
        L0.append(0.5 * np.sum((X @ (B @ A).T - Y) ** 2))
    L0 = np.array(L0)
    assert np.mean(L0 <= bound) >= 1 - 2 * delta / 3
    mean = 0.5 * (k * m * XF2 + YF2)  # EL0_gauss at alpha = beta = 1
    assert abs(L0.mean() - mean) <= 4 * L0.std(ddof=1) / math.sqrt(len(L0))


def test_reading10_sigma_r_squared_makes_the_condition_scale_free_and_reading5_homogeneity():
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    A, B = make_transforms("gaussian", d=3, k=2, m=6, seed=0)
    q1 = compute_resnet_constants(X, Y, A, B, depth=2).quantities
    q2 = compute_resnet_constants(7 * X, 7 * Y, A, B, depth=2).quantities
    assert q2["thm31_margin"] == pytest.approx(q1["thm31_margin"], rel=1e-10)
    assert q2["m_cor34"] == pytest.approx(q1["m_cor34"], rel=1e-10)
    # the printed sigma_r (not squared) would scale the right side by c: counterexample to that reading
    v1 = compute_resnet_constants(X, Y, A, B, depth=2).values
    alt = lambda v: C * v["X_norm"] * math.sqrt(v["Delta0"]) / v["sigma_r"]  # noqa: E731
    v2 = compute_resnet_constants(7 * X, 7 * Y, A, B, depth=2).values
    assert alt(v2) / alt(v1) == pytest.approx(7.0, rel=1e-10)
    # reading 5: with Y = 0 the condition is exactly degree-1 homogeneous in the scales of A and B
    Z = np.zeros_like(Y)
    g1 = compute_resnet_constants(X, Z, A, B, depth=2).quantities["thm31_margin"]
    g2 = compute_resnet_constants(X, Z, A / math.sqrt(6), B / math.sqrt(2), depth=2).quantities["thm31_margin"]
    assert g2 == pytest.approx(g1, rel=1e-10)


def test_reading11_minibatch_bound_is_linear_in_n():
    """Lemma A.1: ||G_l||^2 <= 2e n^2 lambda^2 ||X||^2 L / B^2 holds; the sqrt(n) reading (n in place of n^2)
    fails when one large sample carries all the loss and the batch is that sample."""
    n, m, L = 40, 3, 2
    X = np.full((n, 1), 0.01)
    X[0, 0] = 1.0
    A, B = make_transforms("gaussian", d=1, k=1, m=m, seed=1)
    U = (B @ A)[0, 0]
    Y = U * X
    Y[0, 0] += 5.0
    mdl = LinearResNet(A, B, depth=L)
    st = mdl.init_state()
    loss = SquaredLoss(X, Y)
    Lval = float(loss.value(mdl.product(st))[0])
    smp = MinibatchSampler(X, Y, mdl, 1)
    G = mdl.param_grads(st, smp.batch_loss_grad(mdl.product(st), np.array([[0]])))[0][0]
    lam = np.linalg.norm(A, 2) * np.linalg.norm(B, 2) * np.linalg.norm(X, 2)
    for l in range(L):
        g2 = np.sum(G[l] ** 2)
        assert g2 <= 2 * e * n ** 2 * lam ** 2 * Lval
        assert g2 > 2 * e * n * lam ** 2 * Lval  # the sqrt(8 e^3 n) form's bound is violated


def test_reading12_azuma_step_constants():
    a, b, t = sp.symbols("a b t", positive=True)
    f = -a * t + b * sp.sqrt(t)
    tstar = sp.solve(sp.diff(f, t), t)[0]
    assert sp.simplify(f.subs(t, tstar) - b ** 2 / (4 * a)) == 0
    eta, L, n, lam, mu, sr, X2, B_, lg = sp.symbols("eta L n lam mu s_r X2 B lg", positive=True)
    a_ = eta * L * mu * sr ** 2 / (3 * sp.E)  # 4/3 - 1 of the contraction; mu = mu_A^2 mu_B^2, lam = lam_A^2 lam_B^2
    b_ = 4 * sp.E * eta * L * n * lam * X2 ** 2 / B_ * sp.sqrt(2 * lg)
    coeff = sp.simplify((b_ ** 2 / a_) / (eta * L * n ** 2 * lam ** 2 * X2 ** 4 * lg / (B_ ** 2 * mu * sr ** 2)))
    assert sp.simplify(coeff - 96 * sp.E ** 3) == 0
    assert sp.simplify(coeff / 4 - 24 * sp.E ** 3) == 0  # the tight maximum: 24 e^3 <= 54 e^3 <= 96 e^3
    rho = np.linspace(0, 1, 101)
    for tt in (1, 10, 1000):
        assert np.all((1 - rho) ** tt <= np.exp(-rho * tt) + 1e-300)  # A.19's envelope is the weaker one


def test_reading16_identity_transforms_never_certified_for_x_orthogonal_to_y():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 3))
    Z = rng.normal(size=(30, 3))
    Y = Z - X @ np.linalg.lstsq(X, Z, rcond=None)[0]  # <X, Y>_F = 0 and L* = ||Y||^2/2
    for m in (3, 12, 48, 192):
        q = compute_resnet_constants(X, Y, *make_transforms("identity", d=3, k=3, m=m), depth=2).quantities
        assert q["thm31_margin"] < 1 / q["identity_fail_ratio"] * 1.0000001 < 1
        # the scale of X does not matter (the paper's ||X||_F >= sqrt(2)/C is scale dependent)
        q2 = compute_resnet_constants(1e-3 * X, 1e-3 * Y, *make_transforms("identity", d=3, k=3, m=m),
                                      depth=2).quantities
        assert q2["identity_fail_ratio"] == pytest.approx(q["identity_fail_ratio"], rel=1e-12)


def test_reading11_theorem36_step_is_what_its_proof_requires():
    """The printed eta of Theorem 3.6's proof from its own ingredients: the first term is gamma_0 eps'/(4 gamma_1)
    with gamma_1 carrying no eta^2; the second is Azuma's (3 e eta L n lam^2 ||X||^2/B) sqrt(2 T log(T/delta))
    <= ln 2 at T = e log(L0/eps')/(eta L mu^2 sigma_r^2), solved for eta (sqrt(8 e^3) n and ||X||_{2,inf}^2)."""
    from convtool.analysis import get

    L, n, b, lam, mu, sr, X2, Xinf, ls, ep, lg, lgT = sp.symbols("L n B lam mu s_r X2 Xinf lstar epsp lg lgT",
                                                                positive=True)
    g0 = 4 * L * mu * sr ** 2 / (3 * sp.E)  # mu = mu_A^2 mu_B^2, lam = lam_A^2 lam_B^2
    g1 = 2 * sp.E ** 2 * L ** 2 * n * lam ** 2 * X2 ** 2 * Xinf ** 2 * ls / b
    first = b * mu * sr ** 2 / (6 * sp.E ** 3 * L * n * lam ** 2 * X2 ** 2) * ep / (Xinf ** 2 * ls)
    assert sp.simplify(g0 * ep / (4 * g1) - first) == 0
    eta = sp.symbols("eta", positive=True)
    T = sp.E * lg / (eta * L * mu * sr ** 2)  # lg = log(L0/eps')
    lhs = (3 * sp.E * eta * L * n * lam * X2 ** 2 / b) ** 2 * 2 * T * lgT  # squared Azuma term, lgT = log(T/delta)
    eta_max = sp.solve(sp.Eq(lhs, sp.log(2) ** 2), eta)[0]
    second = b * mu * sr ** 2 / (6 * sp.E ** 3 * L * n * lam ** 2 * X2 ** 2) * sp.log(2) ** 2 * b / (
        3 * n * X2 ** 2 * lgT * lg)
    assert sp.simplify(eta_max - second) == 0
    from convtool.analysis.evaluate import evaluate

    v = dict(L=3.0, n=50.0, b=10.0, lambda_A=2.0, lambda_B=1.5, mu_A=0.5, mu_B=0.7, sigma_r=1.3, X_norm=4.0,
             X_2inf=1.1, lstar=0.2, epsilon=0.03, T=1e6, delta=0.1, L0=9.0)
    reg = evaluate(v, targets=["eta_thm36"], paper="zou-long-gu")["eta_thm36"]
    sub = {L: 3, n: 50, b: 10, lam: 9.0, mu: 0.25 * 0.49, sr: 1.3, X2: 4.0, Xinf: 1.1, ls: 0.2, ep: 0.01,
           lg: math.log(9.0 / 0.01), lgT: math.log(1e6 / 0.1)}
    want = min(float(first.subs(sub)), float(second.subs(sub)))
    assert reg == pytest.approx(want, rel=1e-12)
    assert get("zou-long-gu:eta_thm36").reference.startswith("proof of Theorem 3.6")
