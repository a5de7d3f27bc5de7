"""Linear ResNet model of Zou, Long & Gu (issue 8): gradients by finite differences, dense products, transforms,
the minibatch sampler (unbiasedness and the variance bound (A.9) as Monte Carlo means with their standard errors).
"""

from __future__ import annotations

import numpy as np
import pytest

from convtool.errors import InputError
from convtool.numeric.losses import SquaredLoss
from convtool.numeric.resnet import LinearResNet, MinibatchSampler, hidden_init, make_transforms


def dense_U(A, B, Ws, skip=True):
    """Oracle: the paper's product B (I + W_L) ... (I + W_1) A, formed densely."""
    m = A.shape[0]
    V = np.eye(m)
    for W in Ws:
        V = ((np.eye(m) + W) if skip else W) @ V
    return B @ V @ A


def paper_loss(A, B, Ws, X, Y, skip=True):
    """Oracle: 1/2 ||U X_p - Y_p||_F^2 with the paper's column samples."""
    U = dense_U(A, B, Ws, skip)
    return 0.5 * np.sum((U @ X.T - Y.T) ** 2)


@pytest.mark.parametrize("skip", [True, False], ids=["resnet", "no-skip"])
@pytest.mark.parametrize("d,k", [(3, 2), (2, 4)], ids=["d>k", "d<k"])
def test_product_and_gradients_against_dense_and_finite_differences(skip, d, k):
    rng = np.random.default_rng(3)
    n, m, L = 25, 6, 4
    X, Y = rng.normal(size=(n, d)), rng.normal(size=(n, k))
    A, B = rng.normal(size=(2, m, d)), rng.normal(size=(2, k, m))  # two seeds with their own transforms
    W0 = 0.1 * rng.normal(size=(2, L, m, m))
    mdl = LinearResNet(A, B, W0, skip=skip)
    st = mdl.init_state()
    loss = SquaredLoss(X, Y)
    P = mdl.product(st)
    for r in range(2):
        np.testing.assert_allclose(P[r], dense_U(A[r], B[r], W0[r], skip).T, rtol=1e-12, atol=1e-12)
        assert loss.value(P[r]) == pytest.approx(paper_loss(A[r], B[r], W0[r], X, Y, skip), rel=1e-12)
    g = mdl.param_grads(st, loss.grad(P))[0]
    h = 1e-6
    for r in range(2):
        for idx in [(0, 0, 1), (1, 5, 2), (3, 2, 2), (2, 4, 0)]:
            Wp, Wm = W0[r].copy(), W0[r].copy()
            Wp[idx] += h
            Wm[idx] -= h
            fd = (paper_loss(A[r], B[r], Wp, X, Y, skip) - paper_loss(A[r], B[r], Wm, X, Y, skip)) / (2 * h)
            assert g[r][idx] == pytest.approx(fd, rel=1e-6, abs=1e-6 * max(1.0, abs(fd)))
    assert mdl.grad_sq(st, (g,)) == pytest.approx(np.sum(g * g, axis=(1, 2, 3)), rel=1e-13)


def test_zero_init_is_BA_and_step_is_plain_gd():
    rng = np.random.default_rng(0)
    A, B = make_transforms("gaussian", d=3, k=2, m=5, seed=1)
    mdl = LinearResNet(A, B, depth=3)
    st = mdl.init_state()
    np.testing.assert_array_equal(mdl.product(st)[0], (B @ A).T)
    g = (rng.normal(size=st[0].shape),)
    new = mdl.step(st, g, np.array([0.25]))
    np.testing.assert_array_equal(new[0], st[0] - 0.25 * g[0])
    np.testing.assert_array_equal(st[0], 0)  # the state is never modified in place


def test_transforms_of_section_4():
    A, B = make_transforms("modified-identity", d=3, k=2, m=6, alpha_mod=2.5)
    np.testing.assert_array_equal(B @ A, 0)  # disjoint supports: BA = 0, so L(W0) = ||Y||^2/2
    np.testing.assert_allclose(np.linalg.svd(A, compute_uv=False), 1)
    np.testing.assert_allclose(np.linalg.svd(B, compute_uv=False), 2.5)
    A, B = make_transforms("identity", d=3, k=3, m=12)
    np.testing.assert_allclose(B @ A, 2 * np.eye(3))  # sqrt(m/k) I
    A, B = make_transforms("gaussian", d=3, k=2, m=7, alpha=0.5, beta=3.0, seed=4)
    rng = np.random.default_rng(4)
    np.testing.assert_array_equal(A, 0.5 * rng.standard_normal((7, 3)))
    np.testing.assert_array_equal(B, 3.0 * rng.standard_normal((2, 7)))
    with pytest.raises(InputError, match="m >= d \\+ k = 5"):
        make_transforms("modified-identity", d=3, k=2, m=4)
    with pytest.raises(InputError, match="unknown transform"):
        make_transforms("orthogonal", d=3, k=2, m=4)
    W = hidden_init(3, 4, skip=False, hidden_std=0.5, seed=2, R=2)
    np.testing.assert_array_equal(W[1], 0.5 * np.random.default_rng(3).standard_normal((3, 4, 4)))
    assert not hidden_init(3, 4).any()


@pytest.mark.parametrize("bad,match", [
    (dict(A=np.ones((5, 3)), B=np.ones((2, 4))), "m disagree"),
    (dict(A=np.full((5, 3), np.nan), B=np.ones((2, 5))), "non-finite"),
    (dict(A=np.ones((5, 3)), B=np.ones((2, 5)), W0=np.zeros((2, 4, 4))), "\\(L, m, m\\)"),
    (dict(A=np.ones((5, 3)), B=np.ones((2, 5)), depth=0), "positive integer"),
], ids=["m", "nan", "W shape", "L=0"])
def test_bad_model_input_is_one_line(bad, match):
    with pytest.raises(InputError, match=match):
        LinearResNet(**bad)


class _Obs:
    def __init__(self, mdl, st, loss):
        self.state, self.W = st, mdl.product(st)
        self.Gl = loss.grad(self.W)
        self.grads = mdl.param_grads(st, self.Gl)


def _setup(n=12, b=4):
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(n, 3)), rng.normal(size=(n, 2))
    A, B = make_transforms("gaussian", d=3, k=2, m=5, seed=0)
    mdl = LinearResNet(A, B, 0.05 * rng.normal(size=(1, 3, 5, 5)))
    st = mdl.init_state()
    loss = SquaredLoss(X, Y)
    return X, Y, mdl, st, loss, MinibatchSampler(X, Y, mdl, b, sgd_seed=1)


def test_full_batch_gradient_formula_equals_the_loss_gradient():
    X, Y, mdl, st, loss, _ = _setup()
    smp = MinibatchSampler(X, Y, mdl, X.shape[0])
    W = mdl.product(st)
    idx = np.arange(X.shape[0])[None]
    np.testing.assert_allclose(smp.batch_loss_grad(W, idx), loss.grad(W), rtol=1e-10, atol=1e-12)
    obs = _Obs(mdl, st, loss)
    assert smp(0, obs) is obs.grads  # b = n: the full gradient itself (GD bit for bit)


def test_minibatch_gradient_is_unbiased_and_meets_the_variance_bound():
    """E G = grad L and E||G - grad||^2 <= (n^2/b) E_i ||grad l_i||^2 ((A.9)), as Monte Carlo means with
    4-standard-error slack over 4000 draws."""
    X, Y, mdl, st, loss, smp = _setup()
    obs = _Obs(mdl, st, loss)
    g = obs.grads[0][0]
    draws = np.array([smp(t, obs)[0][0] for t in range(4000)])
    mean, se = draws.mean(axis=0), draws.std(axis=0, ddof=1) / np.sqrt(len(draws))
    assert np.all(np.abs(mean - g) <= 4 * se + 1e-12)
    n, b = X.shape[0], smp.b
    per = []
    for i in range(n):  # per-sample gradients l_i = 1/2 ||U x_i - y_i||^2
        Gi = smp.batch_loss_grad(obs.W, np.array([[i]])) / n  # (n/1) x_i r_i^T / n
        per.append(np.sum(mdl.param_grads(st, Gi)[0][0] ** 2))
    bound = n ** 2 / b * np.mean(per)
    dev = np.sum((draws - g) ** 2, axis=(1, 2, 3))
    assert dev.mean() <= bound + 4 * dev.std(ddof=1) / np.sqrt(len(dev))
    assert dev.mean() > 0  # a real variance, not the full gradient


def test_sampler_draws_without_replacement_and_per_epoch_covers_each_sample_once():
    X, Y, mdl, st, loss, smp = _setup(n=12, b=5)
    for _ in range(50):
        idx = smp.indices()
        assert len(set(idx[0])) == 5
    ep = MinibatchSampler(X, Y, mdl, 4, sgd_seed=0, per_epoch=True)
    seen = np.concatenate([ep.indices()[0] for _ in range(3)])
    assert sorted(seen) == list(range(12))
    assert "not covered" in ep.to_dict()["algorithm"]
    with pytest.raises(InputError, match="1..n = 12"):
        MinibatchSampler(X, Y, mdl, 13)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(d=st.integers(1, 4), k=st.integers(1, 4), m=st.integers(1, 5), L=st.integers(1, 4), skip=st.booleans(),
       seed=st.integers(0, 10 ** 6))
def test_gradient_is_the_directional_derivative_for_any_shape(d, k, m, L, skip, seed):
    """Property: <grad, D> equals the central difference of the loss along a random direction D (any d, k, m,
    L, both variants); the product equals the dense oracle."""
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(7, d)), rng.normal(size=(7, k))
    A, B, W = rng.normal(size=(m, d)), rng.normal(size=(k, m)), 0.3 * rng.normal(size=(L, m, m))
    D = rng.normal(size=(L, m, m))
    mdl = LinearResNet(A, B, W, skip=skip)
    s0 = mdl.init_state()
    np.testing.assert_allclose(mdl.product(s0)[0], dense_U(A, B, W, skip).T, rtol=1e-10, atol=1e-10)
    loss = SquaredLoss(X, Y)
    g = mdl.param_grads(s0, loss.grad(mdl.product(s0)))[0][0]
    h = 1e-5
    f = lambda Wx: paper_loss(A, B, Wx, X, Y, skip)  # noqa: E731
    fd = (f(W + h * D) - f(W - h * D)) / (2 * h)
    scale = max(1.0, abs(fd), float(np.linalg.norm(g) * np.linalg.norm(D)))
    assert abs(float(np.sum(g * D)) - fd) <= 1e-6 * scale
