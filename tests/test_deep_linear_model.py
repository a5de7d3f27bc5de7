"""The deep linear model of Zhao & Xu (``convtool.numeric.deep_linear``) against independent oracles.

Every expected value below is computed here, from the paper's definitions written out directly with the
UNSCALED layers W_j and ``a_N = 1/sqrt(n_1 ... n_N)`` (small cases), the paper's column layout
``X_paper = X^T`` and ``P_X = X_paper pinv(X_paper)``, never from the module's own helpers:

* finite differences of ``L(a_N W_{N:1})`` w.r.t. every W_j (hypothesis over shapes, N = 2..4, d < k and d > k);
* one model step against eq. (7) in W-form; ``grad_sq`` against ``sum_j ||dL/dW_j||^2`` of eq. (7);
* the end-to-end identity (42) in the X semi-norm (rank-deficient X too), with the higher-order terms
  expanded by brute force over all subsets of layers; it is NOT exact in Frobenius norm when rank X < d;
* P(t)'s spectrum against the matrix built by applying eq. (41) to each basis matrix of {A = A P_X}
  (hypothesis), Lanczos against dense; ``sum_j ||dL/dW_j||^2 = <grad, P(t)[grad]>_X`` (notes 1.6);
* the initializations: Definition 1's identities, the QR sign fix (Haar), the balanced init's region
  constants, P(0) = (N / n_N) Id at equal widths, the normalization (8) by Monte Carlo with a CLT tolerance;
* convex GD's contraction q (10), Lemma 5 on a real DLN run, and trajectory closeness growing with width.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from convtool.errors import InputError
from convtool.numeric.deep_linear import (DeepLinear, P_apply, P_spectrum, init_layers, layer_drift,
                                          projector_basis, region_params, residual_ratio, saddle_margin,
                                          x_seminorm_sq, bare_layerwise_step, one_peak_index)
from convtool.numeric.losses import SquaredLoss

# --------------------------------------------------------------------------------------------------
# independent oracles (paper layout, unscaled W's)
# --------------------------------------------------------------------------------------------------


def chain(Ws, j, i):
    """W_{j:i} = W_j W_{j-1} ... W_i (1-based, inclusive); the empty product (j = i - 1) is the identity."""
    if j == i - 1:
        n = Ws[i - 1].shape[1] if i - 1 < len(Ws) else Ws[-1].shape[0]
        return np.eye(n)
    P = Ws[i - 1]
    for t in range(i + 1, j + 1):
        P = Ws[t - 1] @ P
    return P


def a_N(Ws):
    return 1.0 / math.sqrt(math.prod(W.shape[0] for W in Ws))


def end_to_end(Ws):
    """a_N W_{N:1}, paper layout (k x d)."""
    return a_N(Ws) * chain(Ws, len(Ws), 1)


def loss_layers(Ws, X, Y):
    """L = 1/2 ||Y_p - a_N W_{N:1} X_p||_F^2 with X_p = X^T, Y_p = Y^T (the loss of eq. 6 / App. G)."""
    E = end_to_end(Ws) @ X.T - Y.T
    return 0.5 * float(np.sum(E * E))


def grad_paper(V, X, Y):
    """grad L(V) = (V X_p - Y_p) X_p^T (k x d)."""
    return (V @ X.T - Y.T) @ X


def proj(X):
    """P_X = X_p (X_p^T X_p)^+ X_p^T = X_p pinv(X_p), X_p = X^T (d x d)."""
    Xp = X.T
    return Xp @ np.linalg.pinv(Xp)


def P_def(Ws, A, PX):
    """Eq. (41) verbatim: a_N^2 sum_i W_{N:i+1} W_{N:i+1}^T (A P_X) (W_{i-1:1} P_X)^T (W_{i-1:1} P_X)."""
    N = len(Ws)
    out = np.zeros_like(A)
    for i in range(1, N + 1):
        L = chain(Ws, N, i + 1)
        Rr = chain(Ws, i - 1, 1) @ PX
        out += L @ L.T @ (A @ PX) @ Rr.T @ Rr
    return a_N(Ws) ** 2 * out


def layer_grads_W(Ws, X, Y):
    """dL/dW_j = a_N W_{N:j+1}^T grad L(a_N W_{N:1}) W_{j-1:1}^T (the update direction of eq. 7)."""
    N = len(Ws)
    G = grad_paper(end_to_end(Ws), X, Y)
    return [a_N(Ws) * chain(Ws, N, j + 1).T @ G @ chain(Ws, j - 1, 1).T for j in range(1, N + 1)]


def semi_sq(A, PX):
    """||A||_X^2 = ||A P_X||_F^2 (paper layout)."""
    B = A @ PX
    return float(np.sum(B * B))


def low_rank_X(rng, M, d, r):
    return rng.standard_normal((M, r)) @ rng.standard_normal((r, d))


def data(rng, M, d, k, rank=None):
    X = rng.standard_normal((M, d)) if rank is None else low_rank_X(rng, M, d, rank)
    Y = X @ rng.standard_normal((d, k)) + 0.3 * rng.standard_normal((M, k))
    return X, Y


def engine_step(mdl, state, loss, eta):
    """What the GD engine does per step: product, loss gradient, layer gradients, update."""
    W = mdl.product(state)
    Gl = loss.grad(W)
    grads = mdl.param_grads(state, Gl)
    return mdl.step(state, grads, eta), grads


@st.composite
def networks(draw, max_w=5):
    N = draw(st.integers(2, 4))
    widths = [draw(st.integers(1, max_w)) for _ in range(N + 1)]
    M = draw(st.integers(1, 7))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rank_def = draw(st.booleans())
    rng = np.random.default_rng(seed)
    d, k = widths[0], widths[-1]
    r = min(M, d)
    if rank_def and r > 1:
        X = low_rank_X(rng, M, d, r - 1)
    else:
        X = rng.standard_normal((M, d))
    Y = rng.standard_normal((M, k))
    Ws = [rng.standard_normal((widths[j], widths[j - 1])) for j in range(1, N + 1)]
    return Ws, X, Y


# --------------------------------------------------------------------------------------------------
# gradients and the step
# --------------------------------------------------------------------------------------------------


def fd_grads(Ws, X, Y, h=1e-5):
    out = []
    for j, W in enumerate(Ws):
        g = np.zeros_like(W)
        for idx in np.ndindex(W.shape):
            Wp = [w.copy() for w in Ws]
            Wm = [w.copy() for w in Ws]
            Wp[j][idx] += h
            Wm[j][idx] -= h
            g[idx] = (loss_layers(Wp, X, Y) - loss_layers(Wm, X, Y)) / (2 * h)
        out.append(g)
    return out


def check_fd(Ws, X, Y):
    mdl = DeepLinear(Ws)
    state = mdl.init_state()
    loss = SquaredLoss(X, Y)
    grads = mdl.param_grads(state, loss.grad(mdl.product(state)))
    fd = fd_grads(Ws, X, Y)
    scale = max(1.0, max(float(np.abs(f).max()) for f in fd))
    for j, (g, f) in enumerate(zip(grads, fd), start=1):
        # dL/dW_j = (dL/dV_j) / sqrt(n_j)
        np.testing.assert_allclose(g[0] / np.sqrt(Ws[j - 1].shape[0]), f, rtol=1e-6, atol=1e-7 * scale,
                                   err_msg=f"layer {j}")


@pytest.mark.parametrize("widths", [(3, 5, 2), (4, 6, 3, 2), (3, 4, 6, 5, 2), (2, 4, 3, 5)],
                         ids=["N2", "N3", "N4", "N3-d<k"])
def test_param_grads_match_central_differences(widths):
    rng = np.random.default_rng(sum(widths))
    Ws = [rng.standard_normal((widths[j], widths[j - 1])) for j in range(1, len(widths))]
    X, Y = data(rng, 6, widths[0], widths[-1])
    check_fd(Ws, X, Y)


@settings(max_examples=40, deadline=None)
@given(networks())
def test_param_grads_central_differences_property(net):
    check_fd(*net)


def test_step_equals_eq7_in_W_form_and_grad_sq():
    rng = np.random.default_rng(1)
    widths = (4, 7, 5, 3)
    X, Y = data(rng, 9, 4, 3, rank=3)
    Ws = init_layers(widths, "gaussian", seed=5, R=2)
    before = [W.copy() for W in Ws]
    mdl = DeepLinear(Ws)
    eta = np.array([1e-3, 3e-3])
    state = mdl.init_state()
    new, grads = engine_step(mdl, state, SquaredLoss(X, Y), eta)
    got = mdl.full_weights(new)
    gsq = mdl.grad_sq(state, grads)
    for r in range(2):
        Wr = [W[r] for W in Ws]
        dW = layer_grads_W(Wr, X, Y)
        for j in range(3):
            np.testing.assert_allclose(got[j][r], Wr[j] - eta[r] * dW[j], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(gsq[r], sum(float(np.sum(g * g)) for g in dW), rtol=1e-12)
    for W, W0 in zip(Ws, before):  # inputs never modified
        np.testing.assert_array_equal(W, W0)


def test_product_is_transposed_end_to_end_and_cache_follows_the_state():
    rng = np.random.default_rng(2)
    Ws = init_layers((3, 6, 4, 5), "gaussian", seed=0)          # d < k: the model runs transposed
    X, Y = data(rng, 8, 3, 5)
    loss = SquaredLoss(X, Y)
    mdl = DeepLinear([W[0] for W in Ws])                        # unbatched layers are promoted
    assert mdl.R == 1 and mdl.widths == (3, 6, 4, 5) and mdl.N == 3
    s0 = mdl.init_state()
    np.testing.assert_allclose(mdl.product(s0)[0], end_to_end([W[0] for W in Ws]).T, rtol=1e-13)
    s1, _ = engine_step(mdl, s0, loss, 1e-2)
    W0, W1 = mdl.product(s0), mdl.product(s1)                   # cache now holds s1
    g0 = mdl.param_grads(s0, loss.grad(W0))                     # must not reuse s1's products
    g0_fresh = DeepLinear([W[0] for W in Ws]).param_grads(s0, loss.grad(W0))
    for a, b in zip(g0, g0_fresh):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    assert not np.allclose(W0, W1)


def test_bare_layerwise_step_is_the_same_math():
    rng = np.random.default_rng(3)
    X, Y = data(rng, 12, 5, 2)
    Ws = init_layers((5, 9, 8, 2), "orthogonal", seed=2)
    mdl = DeepLinear(Ws)
    s = mdl.init_state()
    new, _ = engine_step(mdl, s, SquaredLoss(X, Y), 0.01)
    bare = bare_layerwise_step([V[0] for V in s], X, Y, 0.01)
    for a, b in zip(new, bare):
        np.testing.assert_allclose(a[0], b, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------------------------------
# the end-to-end dynamics (41)-(42) and the operator P(t)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rank", [None, 3], ids=["full-rank", "rank-deficient"])
@pytest.mark.parametrize("widths", [(5, 6, 3), (5, 7, 6, 3), (5, 6, 8, 7, 3)], ids=["N2", "N3", "N4"])
def test_end_to_end_update_identity_42(widths, rank):
    rng = np.random.default_rng(len(widths) + (rank or 0))
    d, k, N = widths[0], widths[-1], len(widths) - 1
    X, Y = data(rng, 10, d, k, rank=rank)
    PX = proj(X)
    Ws = [W[0] for W in init_layers(widths, "gaussian", seed=7)]
    mdl = DeepLinear(Ws)
    eta = 0.3 / np.linalg.norm(X, 2) ** 2
    new, _ = engine_step(mdl, mdl.init_state(), SquaredLoss(X, Y), eta)
    V1 = mdl.product(new)[0].T                                   # model's V(t+1), paper layout
    V0 = end_to_end(Ws)
    G = grad_paper(V0, X, Y)
    # brute-force expansion of prod_j (V_j - Delta_j), V_j = W_j / sqrt(n_j), Delta_j from eq. (7)
    Vs = [W / np.sqrt(W.shape[0]) for W in Ws]
    Ds = [eta * g / np.sqrt(W.shape[0]) for g, W in zip(layer_grads_W(Ws, X, Y), Ws)]
    first = np.zeros_like(V0)
    hot = np.zeros_like(V0)
    for S in itertools.product([0, 1], repeat=N):
        if sum(S) == 0:
            continue
        P = np.eye(d)
        for j in range(N):
            P = (-Ds[j] if S[j] else Vs[j]) @ P
        if sum(S) == 1:
            first += P
        else:
            hot += P
    # exact expansion (Frobenius) as a check of the brute force itself
    np.testing.assert_allclose(V1, V0 + first + hot, rtol=1e-12, atol=1e-13)
    pred = V0 - eta * P_def(Ws, G, PX) + hot                     # eq. (42): a_N E(t) = hot
    scale = semi_sq(V1 - V0, PX)
    assert semi_sq(V1 - pred, PX) <= 1e-24 * scale + 1e-28
    # the module's operator is eq. (41) (both layouts)
    U, _ = projector_basis(X)
    np.testing.assert_allclose(P_apply(mdl.init_state(), G[None], U, layout="paper")[0], P_def(Ws, G, PX),
                               rtol=1e-11, atol=1e-12 * np.abs(P_def(Ws, G, PX)).max())
    np.testing.assert_allclose(P_apply(mdl.init_state(), G.T[None], U)[0], P_def(Ws, G, PX).T,
                               rtol=1e-11, atol=1e-12 * np.abs(P_def(Ws, G, PX)).max())
    A = rng.standard_normal(G.shape)                              # a generic A, not of the form A P_X
    np.testing.assert_allclose(P_apply(mdl.init_state(), A[None], U, layout="paper")[0], P_def(Ws, A, PX),
                               rtol=1e-11, atol=1e-12 * np.abs(P_def(Ws, A, PX)).max())
    fro = float(np.sum((V1 - pred) ** 2)) / float(np.sum((V1 - V0) ** 2))
    if rank is None:
        assert fro < 1e-24
    else:  # notes' correction: with rank X < d, (42) holds only in ||.||_X
        assert fro > 1e-8


def dense_P_matrix(Ws, X):
    """The matrix of eq. (41) on {A = A P_X} in the orthonormal basis e_a u_b^T (u_b from scipy's orth)."""
    k = Ws[-1].shape[0]
    Ub = scipy.linalg.orth(X.T)
    PX = proj(X)
    r = Ub.shape[1]
    basis = [np.outer(np.eye(k)[a], Ub[:, b]) for a in range(k) for b in range(r)]
    return np.array([[np.sum(Bi * P_def(Ws, Bj, PX)) for Bj in basis] for Bi in basis])


@settings(max_examples=40, deadline=None)
@given(networks())
def test_P_spectrum_against_dense_operator_matrix(net):
    Ws, X, _ = net
    if not np.any(X):
        return
    N, k = len(Ws), Ws[-1].shape[0]
    Mx = dense_P_matrix(Ws, X)
    np.testing.assert_allclose(Mx, Mx.T, atol=1e-10 * max(1.0, np.abs(Mx).max()))
    ev = np.linalg.eigvalsh(Mx) * k / N
    U, r = projector_basis(X)
    assert r == scipy.linalg.orth(X.T).shape[1]
    mdl = DeepLinear(Ws)
    lo, hi, method = P_spectrum(mdl.init_state(), U)
    assert method == "dense"
    tol = 1e-9 * max(1.0, abs(ev[-1]))
    assert abs(lo[0] - ev[0]) <= tol and abs(hi[0] - ev[-1]) <= tol
    # (43) from the region conditions (14) (Prop. 2: each term's spectrum is products of the factors')
    c1, c2, _ = region_params(Ws, U)
    with np.errstate(over="ignore"):
        assert hi[0] <= np.exp(2 * max(c1[0], 0.0)) * (1 + 1e-9)
        assert lo[0] >= np.exp(-2 * max(c2[0], 0.0)) * (1 - 1e-9) - 1e-12


@pytest.mark.parametrize("widths,M,rank", [((8, 10, 9, 3), 20, None), ((20, 60, 50, 4), 30, 15)],
                         ids=["kr=24", "kr=60-rank-deficient"])
def test_P_spectrum_lanczos_matches_dense(widths, M, rank):
    rng = np.random.default_rng(4)
    X, _ = data(rng, M, widths[0], widths[-1], rank=rank)
    U, r = projector_basis(X)
    kr = widths[-1] * r
    Ws = [W[0] for W in init_layers(widths, "gaussian", seed=1)]
    state = DeepLinear(Ws).init_state()
    lo_l, hi_l, m_l = P_spectrum(state, U, dense_max=kr - 1)
    lo_d, hi_d, m_d = P_spectrum(state, U, dense_max=kr)
    assert (m_l, m_d) == ("lanczos", "dense")
    np.testing.assert_allclose([lo_l[0], hi_l[0]], [lo_d[0], hi_d[0]], rtol=1e-9)
    if kr <= 24:  # and the dense path against eq. (41) itself
        ev = np.linalg.eigvalsh(dense_P_matrix(Ws, X)) * widths[-1] / (len(widths) - 1)
        np.testing.assert_allclose([lo_d[0], hi_d[0]], [ev[0], ev[-1]], rtol=1e-10)


@pytest.mark.parametrize("rank", [None, 2], ids=["full-rank", "rank-deficient"])
def test_gradient_norm_is_P_quadratic_form(rank):
    """sum_j ||dL/dW_j||_F^2 = <grad L, P(t)[grad L]>_X (notes 1.6, derived)."""
    rng = np.random.default_rng(5)
    widths = (4, 6, 7, 5, 3)
    X, Y = data(rng, 9, 4, 3, rank=rank)
    PX = proj(X)
    Ws = [W[0] for W in init_layers(widths, "gaussian", seed=3)]
    mdl = DeepLinear(Ws)
    s = mdl.init_state()
    grads = mdl.param_grads(s, SquaredLoss(X, Y).grad(mdl.product(s)))
    G = grad_paper(end_to_end(Ws), X, Y)
    rhs = float(np.sum((G @ PX) * (P_def(Ws, G, PX) @ PX)))
    np.testing.assert_allclose(mdl.grad_sq(s, grads)[0], rhs, rtol=1e-11)


# --------------------------------------------------------------------------------------------------
# initializations (Sec. 2.3)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("widths", [(3, 5, 7, 7, 4, 2), (2, 6, 3), (4, 4, 4, 4), (3, 9, 5, 5, 1)])
def test_orthogonal_init_definition_1(widths):
    R = 3
    Ws = init_layers(widths, "orthogonal", seed=11, R=R)
    for j in range(1, len(widths)):
        n_j, n_jm1 = widths[j], widths[j - 1]
        for r in range(R):
            W = Ws[j - 1][r]
            assert W.shape == (n_j, n_jm1)
            if n_j >= n_jm1:   # embedding (i <= p); a square layer satisfies both identities
                np.testing.assert_allclose(W.T @ W, n_j * np.eye(n_jm1), atol=1e-12 * n_j)
            if n_j <= n_jm1:   # projection (j > p)
                np.testing.assert_allclose(W @ W.T, n_jm1 * np.eye(n_j), atol=1e-12 * n_jm1)


def test_orthogonal_init_is_sign_fixed_haar():
    """Haar: an entry of sqrt(1/n) W (orthonormal columns, n rows) has mean 0 and variance 1/n; an
    unfixed Householder QR gives Q[0, 0] = a_11 / R_11 of one sign."""
    D, n = 400, 6
    Ws = init_layers((2, n, 1), "orthogonal", seed=0, R=D)
    q00 = Ws[0][:, 0, 0] / np.sqrt(n)
    se = np.sqrt(1.0 / n / D)
    assert abs(q00.mean()) <= 4 * se
    assert abs(np.mean(q00 ** 2) - 1.0 / n) <= 0.25 / n


@pytest.mark.parametrize("widths", [(3, 5, 2, 6, 2), (6, 4, 4, 2), (3, 5, 8)])
def test_orthogonal_init_rejects_profiles_that_are_not_one_peak(widths):
    with pytest.raises(InputError, match="not one-peak"):
        init_layers(widths, "orthogonal", seed=0)
    with pytest.raises(InputError, match="not one-peak"):
        one_peak_index(widths)


def test_one_peak_index():
    assert one_peak_index((3, 5, 7, 7, 4, 2)) == 2
    assert one_peak_index((2, 2, 2)) == 1


@pytest.mark.parametrize("widths", [(3, 8, 2), (4, 6, 6, 3), (5, 7, 7, 7, 7)])
def test_balanced_init_region_constants_zero(widths):
    rng = np.random.default_rng(6)
    X, _ = data(rng, 12, widths[0], widths[-1], rank=widths[0] - 1)
    U, _ = projector_basis(X)
    Ws = init_layers(widths, "balanced", seed=4, R=2)
    N = len(widths) - 1
    c1, c2, M = region_params(Ws, U, theta=0.0)
    np.testing.assert_allclose(c1, 0.0, atol=1e-12)
    np.testing.assert_allclose(c2, 0.0, atol=1e-12)
    if N == 2:
        assert M is None
    else:
        np.testing.assert_allclose(M, 2.0, rtol=1e-12)  # Thm 6 proof: M = 2, theta = 0
    # the defining bounds (14) directly from the W's: all normalized singular values are 1
    Ub = scipy.linalg.orth(X.T)
    for r in range(2):
        Wr = [W[r] for W in Ws]
        for i in range(1, N):
            s = np.linalg.svd(chain(Wr, N, i + 1), compute_uv=False) / np.sqrt(math.prod(widths[i:N]))
            np.testing.assert_allclose(s, 1.0, atol=1e-12)
        for i in range(2, N + 1):
            s = np.linalg.svd(chain(Wr, i - 1, 1) @ Ub, compute_uv=False) / np.sqrt(math.prod(widths[1:i]))
            np.testing.assert_allclose(s, 1.0, atol=1e-12)
    lo, hi, _ = P_spectrum(DeepLinear(Ws).init_state(), U)
    np.testing.assert_allclose(np.r_[lo, hi], 1.0, atol=1e-12)
    # the structure of Sec. 2.3: sqrt(n) x (isometry; orthogonal; co-isometry), hidden layers random
    n = widths[1]
    for r in range(2):
        np.testing.assert_allclose(Ws[0][r].T @ Ws[0][r], n * np.eye(widths[0]), atol=1e-12 * n)
        np.testing.assert_allclose(Ws[-1][r] @ Ws[-1][r].T, n * np.eye(widths[-1]), atol=1e-12 * n)
        for W in Ws[1:-1]:
            np.testing.assert_allclose(W[r] @ W[r].T, n * np.eye(n), atol=1e-12 * n)
            assert np.linalg.norm(W[r] / np.sqrt(n) - np.eye(n)) > 0.5


@pytest.mark.parametrize("widths", [(3, 5, 4, 2), (3, 2, 2, 2), (4, 5, 6)])
def test_balanced_init_rejects_unequal_or_thin_hidden_widths(widths):
    with pytest.raises(InputError, match="balanced init needs equal hidden widths"):
        init_layers(widths, "balanced", seed=0)


@pytest.mark.parametrize("rank", [None, 3], ids=["full-rank", "rank-deficient"])
def test_equal_width_orthogonal_P0_is_scaled_identity(rank):
    rng = np.random.default_rng(7)
    widths = (5, 12, 12, 12, 3)
    X, Y = data(rng, 15, 5, 3, rank=rank)
    U, _ = projector_basis(X)
    mdl = DeepLinear(init_layers(widths, "orthogonal", seed=2, R=2))
    s = mdl.init_state()
    lo, hi, _ = P_spectrum(s, U)
    np.testing.assert_allclose(np.r_[lo, hi], 1.0, atol=1e-12)
    np.testing.assert_allclose(saddle_margin(s), 1.0, atol=1e-12)
    s1, _ = engine_step(mdl, s, SquaredLoss(X, Y), 0.05 / np.linalg.norm(X, 2) ** 2)
    lo1, hi1, _ = P_spectrum(s1, U)
    assert np.all(hi1 - lo1 > 1e-8)  # GD moves P(t) away from the identity


@pytest.mark.parametrize("scheme", ["gaussian", "orthogonal"])
def test_normalization_8_monte_carlo(scheme):
    """E ||a_N W_{N:1}(0) x||^2 = ||x||^2 (eq. 8). Gaussian: Z = prod_i chi^2_{n_i} / n_i exactly
    (Lemma 9), Var Z = prod_i (1 + 2/n_i) - 1; orthogonal: the sample variance. Tolerance 4 standard errors."""
    widths = (4, 6, 5, 3)                                # one-peak (p = 1)
    D = 400
    Ws = init_layers(widths, scheme, seed=123, R=D)
    x = np.array([1.0, -2.0, 0.5, 3.0])
    Z = np.array([np.sum((end_to_end([W[r] for W in Ws]) @ x) ** 2) for r in range(D)]) / (x @ x)
    if scheme == "gaussian":
        var = math.prod(1 + 2 / n for n in widths[1:]) - 1
    else:
        var = Z.var(ddof=1)
    assert abs(Z.mean() - 1.0) <= 4 * math.sqrt(var / D)
    assert var > 0.05  # the check has power: Z is not constant


def test_init_layers_batch_uses_seed_plus_r():
    a = init_layers((3, 5, 2), "gaussian", seed=10, R=3)
    b = init_layers((3, 5, 2), "gaussian", seed=12, R=1)
    rng = np.random.default_rng(11)
    np.testing.assert_array_equal(a[0][2], b[0][0])
    np.testing.assert_array_equal(a[0][1], rng.standard_normal((5, 3)))
    with pytest.raises(InputError, match="unknown deep-linear init"):
        init_layers((3, 5, 2), "xavier")


# --------------------------------------------------------------------------------------------------
# region constants, saddle margin, drift
# --------------------------------------------------------------------------------------------------


def test_region_params_against_definition_14():
    rng = np.random.default_rng(8)
    widths = (3, 7, 5, 6, 2)
    N = 4
    X, _ = data(rng, 10, 3, 2, rank=2)
    Ub = scipy.linalg.orth(X.T)
    U, _ = projector_basis(X)
    Ws = [W[0] for W in init_layers(widths, "gaussian", seed=9)]
    logs = []
    for i in range(1, N):
        s = np.linalg.svd(chain(Ws, N, i + 1), compute_uv=False) / np.sqrt(math.prod(widths[i:N]))
        logs += list(2 * np.log(s))
    for i in range(2, N + 1):
        s = np.linalg.svd(chain(Ws, i - 1, 1) @ Ub, compute_uv=False) / np.sqrt(math.prod(widths[1:i]))
        logs += list(2 * np.log(s))
    theta = 0.5
    M = max(2 * np.linalg.norm(chain(Ws, j, i), 2)
            / (N ** theta * math.sqrt(math.prod(widths[i:j]) * max(widths[i - 1], widths[j])))
            for i in range(2, N) for j in range(i, N))
    c1, c2, Mh = region_params(Ws, U, theta=theta)                       # list: unscaled layers
    np.testing.assert_allclose([c1[0], c2[0], Mh[0]], [max(logs), -min(logs), M], rtol=1e-10)
    c1s, c2s, Ms = region_params(DeepLinear(Ws).init_state(), U, theta=theta)  # tuple: V state
    np.testing.assert_allclose([c1s[0], c2s[0], Ms[0]], [c1[0], c2[0], Mh[0]], rtol=1e-12)


def test_region_params_lanczos_norm_and_depth_two():
    Ws = [W[0] for W in init_layers((4, 600, 600, 2), "gaussian", seed=1)]   # V_2 600 x 600: Lanczos norm
    U = np.eye(4)
    _, _, M = region_params(Ws, U, theta=0.0)
    np.testing.assert_allclose(M[0], 2 * np.linalg.norm(Ws[1], 2) / np.sqrt(600), rtol=1e-9)
    assert region_params(init_layers((3, 5, 2), "gaussian", seed=0), np.eye(3))[2] is None


def test_saddle_margin_against_svd():
    Ws = [W[0] for W in init_layers((3, 6, 7, 8, 2), "gaussian", seed=3)]
    P = chain(Ws, 3, 2) / math.sqrt(7 * 8)                # W_{N-1:2} / sqrt(n_{N-1:2}), 8 x 6 (tall)
    sv = np.linalg.svd(P, compute_uv=False)
    np.testing.assert_allclose(saddle_margin(Ws), sv[-1], rtol=1e-10)
    Ws = [W[0] for W in init_layers((3, 8, 4, 2), "gaussian", seed=3)]   # V_2 4 x 8 (wide): n_N-th
    sv = np.linalg.svd(Ws[1] / 2.0, compute_uv=False)
    np.testing.assert_allclose(saddle_margin(Ws), sv[1], rtol=1e-10)
    np.testing.assert_allclose(saddle_margin(Ws, order=4), sv[3], rtol=1e-10)
    assert saddle_margin(init_layers((3, 5, 2), "gaussian", seed=0)) is None


def test_layer_drift():
    rng = np.random.default_rng(9)
    X, Y = data(rng, 8, 3, 2)
    Ws = init_layers((3, 5, 4, 2), "gaussian", seed=0, R=2)
    mdl = DeepLinear(Ws)
    s = mdl.init_state()
    for _ in range(3):
        s, _ = engine_step(mdl, s, SquaredLoss(X, Y), 1e-3)
    want = np.array([[np.linalg.norm(W[r] - W0[r]) for W, W0 in zip(mdl.full_weights(s), Ws)] for r in range(2)])
    np.testing.assert_allclose(mdl.drift(s), want, rtol=1e-12)
    np.testing.assert_allclose(layer_drift(s, mdl.init_state()), want, rtol=1e-12)


# --------------------------------------------------------------------------------------------------
# convex GD, Lemma 5 and trajectory comparison (Thm 2)
# --------------------------------------------------------------------------------------------------


def alpha_beta(X):
    ev = np.linalg.eigvalsh(X.T @ X)
    return float(ev[ev > 1e-10 * ev[-1]].min()), float(ev[-1])


@pytest.mark.parametrize("rank", [None, 4], ids=["full-rank", "rank-deficient"])
@pytest.mark.parametrize("which", ["1/beta", "2/(alpha+beta)", "1.5/beta"])
def test_convex_gd_contracts_by_q(rank, which):
    rng = np.random.default_rng(10)
    X, Y = data(rng, 20, 6, 2, rank=rank)
    alpha, beta = alpha_beta(X)
    es = {"1/beta": 1 / beta, "2/(alpha+beta)": 2 / (alpha + beta), "1.5/beta": 1.5 / beta}[which]
    q = max((1 - alpha * es) ** 2, (1 - beta * es) ** 2)
    loss = SquaredLoss(X, Y)
    U, _ = projector_basis(X)
    mdl = DeepLinear(init_layers((6, 20, 20, 2), "gaussian", seed=0))
    W = mdl.product(mdl.init_state())                    # the DLN's start W(0) = a_N W_{N:1}(0)
    PX = proj(X)
    e = x_seminorm_sq(W - loss.Wstar, U)[0]
    np.testing.assert_allclose(e, semi_sq((W[0] - loss.Wstar).T, PX), rtol=1e-12)
    ratios = []
    e0 = e
    while e > 1e-12 * e0 and len(ratios) < 200:   # below, W - W* carries round-off of relative size > 1e-9
        W = W - es * loss.grad(W)
        e1 = x_seminorm_sq(W - loss.Wstar, U)[0]
        ratios.append(e1 / e)
        e = e1
    assert max(ratios) <= q * (1 + 1e-8)
    assert max(ratios) >= 0.9 * q   # q is attained asymptotically (the extreme eigen-directions)


def dln_run(widths, scheme, seed, X, Y, T, R=1):
    """DLN GD with eta = n_N / (N beta) and the matching convex GD (eta_* = 1/beta) from the same start."""
    loss = SquaredLoss(X, Y)
    U, _ = projector_basis(X)
    N, k = len(widths) - 1, widths[-1]
    beta = alpha_beta(X)[1]
    eta, es = k / (N * beta), 1 / beta
    mdl = DeepLinear(init_layers(widths, scheme, seed=seed, R=R))
    s = mdl.init_state()
    V = mdl.product(s)
    Wc = V.copy()
    out = {"V": [V], "W": [Wc], "tau": [], "loss": loss, "U": U, "es": es,
           "q": (1 - alpha_beta(X)[0] * es) ** 2}
    for _ in range(T):
        Gl = loss.grad(V)
        s = mdl.step(s, mdl.param_grads(s, Gl), eta)
        V1 = mdl.product(s)
        out["tau"].append(residual_ratio(V, V1, Gl, es, loss.Wstar, U))
        Wc = Wc - es * loss.grad(Wc)
        V = V1
        out["V"].append(V)
        out["W"].append(Wc)
    return out


def test_lemma5_on_a_dln_run():
    rng = np.random.default_rng(12)
    X, Y = data(rng, 40, 8, 2, rank=6)
    run = dln_run((8, 250, 250, 2), "orthogonal", 0, X, Y, T=30)
    loss, U, q, es = run["loss"], run["U"], run["q"], run["es"]
    PX = proj(X)
    # residual ratio against the paper-layout definition of Lemma 4
    for t in (0, 7):
        Vp, Vp1 = run["V"][t][0].T, run["V"][t + 1][0].T
        Rt = Vp1 - Vp + es * grad_paper(Vp, X, Y)
        want = math.sqrt(semi_sq(Rt, PX) / semi_sq(Vp - loss.Wstar.T, PX))
        np.testing.assert_allclose(run["tau"][t][0], want, rtol=1e-9)
    tau_hat = np.array([t[0] for t in run["tau"]])
    e0 = semi_sq(run["V"][0][0].T - loss.Wstar.T, PX)
    assert q + 7 * tau_hat.max() < 1, "instance outside Lemma 5's range: widen it"
    for t in range(1, len(run["V"])):
        tau = tau_hat[:t].max()
        e = semi_sq(run["V"][t][0].T - loss.Wstar.T, PX)
        assert e <= (q + 7 * tau) ** t * e0 * (1 + 1e-9) + 1e-20
    assert 0 < tau_hat.max() < 0.05


def test_trajectories_closer_at_larger_width():
    """App-G-like instance: max_t ||V(t) - W(t)||_X^2 / ||V(0) - W*||_X^2 shrinks with the width (Thm 2)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 16))
    Y = X @ rng.standard_normal((16, 3)) + rng.standard_normal((100, 3))
    PX = proj(X)
    for scheme in ("orthogonal", "gaussian"):
        dist = {}
        for n in (50, 400):
            run = dln_run((16, n, n, 3), scheme, 1, X, Y, T=25, R=2)
            Ws_ = run["loss"].Wstar.T
            vals = []
            for r in range(2):
                e0 = semi_sq(run["V"][0][r].T - Ws_, PX)
                vals.append(max(semi_sq((V[r] - W[r]).T, PX) for V, W in zip(run["V"], run["W"])) / e0)
            dist[n] = np.array(vals)
        assert np.all(np.isfinite(dist[400]))
        assert np.all(dist[400] < dist[50]), (scheme, dist)


# --------------------------------------------------------------------------------------------------
# input validation
# --------------------------------------------------------------------------------------------------


def test_input_errors_are_one_line_and_name_the_layer():
    rng = np.random.default_rng(0)
    W1, W2, W3 = rng.standard_normal((5, 3)), rng.standard_normal((4, 5)), rng.standard_normal((2, 4))
    with pytest.raises(InputError, match=r"depth N >= 2.*got 1"):
        DeepLinear([W1])
    with pytest.raises(InputError, match=r"layer W_3 has 5 columns but W_2 has 4 rows"):
        DeepLinear([W1, W2, rng.standard_normal((2, 5))])
    bad = W2.copy()
    bad[1, 1] = np.nan
    with pytest.raises(InputError, match=r"layer W_2 has non-finite entries"):
        DeepLinear([W1, bad, W3])
    with pytest.raises(InputError, match=r"batch size"):
        DeepLinear([np.stack([W1] * 2), np.stack([W2] * 3), W3])
    with pytest.raises(InputError, match=r"W_1 must be"):
        DeepLinear([np.ones(3), W2, W3])
    with pytest.raises(InputError, match="X is zero"):
        projector_basis(np.zeros((3, 2)))
    with pytest.raises(InputError) as info:
        DeepLinear([W1, W2, rng.standard_normal((2, 5))])
    assert "\n" not in str(info.value)
    m = DeepLinear([np.stack([W1] * 2), W2, W3])     # an R = 1 layer is broadcast to the batch
    assert m.R == 2 and m.init_state()[1].shape == (2, 4, 5)
