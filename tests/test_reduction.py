"""Width reduction (issue 4): reduced (``reduce=True``) and full-width (``reduce=False``) runs agree.

GD on ``l(W1 W2^T)`` keeps the rows of ``Z(t) = [W1(t); W2(t)]`` in the row space of Z(0), so
the width-h run equals the width-r run on ``Z Q`` (Q: orthonormal basis of that row space). The
two runs therefore differ by round-off only, and every recorded quantity must agree.

Tolerances (stated once, used throughout):

* step sizes, largest singular values, K_t, rho: ``rtol = 1e-9``;
* smallest singular values come from eigenvalues of Gram matrices, whose absolute error is
  ~ eps sigma_max^2: compared as squares, ``|x^2 - y^2| <= 1e-9 y^2 + 1e-12 sigma_max^2`` per step
  (mu_t likewise with ``mu sigma_max^2(T_t)``);
* lambda_max(D), lambda_max(-D), drift: ``atol = 1e-12 (n s1_max^2 + m s2_max^2)`` per step, the
  rounding of an imbalance of that size (differences of Gram matrices);
* excess loss: ``rtol = 1e-9`` while ``L(t) > 1e-10 L(0)``; below that, relative error grows like
  ``eps ||W|| / ||W - W*||``, so ``sqrt(L)`` is compared with ``atol = 1e-12 sqrt(K) (||W||_F + ||W*||_F)``
  (measured agreement on these instances: < 2e-10 relative, 1e-13 absolute).

These bounds presuppose a locally stable run. Where GD is unstable in some direction (eta K_t
well above 2: eta0 far above 1/K_0, or backtracking accepting eta_bt = 1 steps while a
rounding-sized component grows 4x per step) any two roundings of the same run separate
exponentially, reduced or not; the instances below are chosen stable and checked not to diverge.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from convtool.numeric.engine import run_gd
from convtool.numeric.losses import FactorizationLoss, SensingLoss, SquaredLoss
from convtool.numeric.models import TwoLayerLinear
from convtool.numeric.spectra import imbalance_spectrum, reduce_width

LOSSES = ["squared", "factorization", "sensing"]
SCHEDULES = ["constant", "adaptive", "local", "backtracking"]
#: regime -> (n, m, h, balanced): h > n + m; n <= h < n + m; h < n; W2 = W1 (rank n < n + m)
REGIMES = {"wide": (3, 2, 9, False), "narrow": (3, 2, 4, False), "below_n": (3, 2, 2, False),
           "balanced": (3, 3, 10, True)}
IMBALANCE = ["lambda_max_D", "lambda_max_negD", "drift"]


def make_loss(kind, n, m, rng):
    if kind == "squared":
        return SquaredLoss(rng.normal(size=(n + 2, n)), rng.normal(size=(n + 2, m)))
    if kind == "factorization":
        return FactorizationLoss(rng.normal(size=(n, m)))
    p = n * m + 2
    return SensingLoss(rng.normal(size=(p, n, m)) / np.sqrt(p), rng.normal(size=p))


def build(kind, regime, seed=3, scale=0.6):
    n, m, h, balanced = REGIMES[regime]
    rng = np.random.default_rng(seed)
    loss = make_loss(kind, n, m, rng)
    W1 = scale * rng.normal(size=(n, h))
    W2 = W1.copy() if balanced else scale * rng.normal(size=(m, h))
    return loss, W1, W2


def K0_of(loss, W1, W2):
    return float(loss.K) * (np.linalg.norm(W1, 2) ** 2 + np.linalg.norm(W2, 2) ** 2)


def _cases():
    """Every loss meets every regime and every schedule meets three regimes (12 pairs of runs)."""
    regs = list(REGIMES)
    return [(kind, sched, regs[(i + j) % len(regs)])
            for j, kind in enumerate(LOSSES) for i, sched in enumerate(SCHEDULES)]


def _assert_runs_agree(red, full, loss, W1, W2):
    a, b = red.arrays, full.arrays
    assert red.status == full.status and np.array_equal(red.steps, full.steps)
    T = int(full.steps[0])
    # step sizes
    np.testing.assert_allclose(a["eta"][0, :T], b["eta"][0, :T], rtol=1e-9, atol=0)
    # spectra (Gram-based: smallest singular values compared as squares against sigma_max^2)
    for lo, hi in (("s1_min", "s1_max"), ("s2_min", "s2_max"), ("sW_min", "sW_max")):
        np.testing.assert_allclose(a[hi][0, : T + 1], b[hi][0, : T + 1], rtol=1e-9, err_msg=hi)
        x, y, top = a[lo][0, : T + 1], b[lo][0, : T + 1], b[hi][0, : T + 1]
        assert np.all(np.abs(x ** 2 - y ** 2) <= 1e-9 * y ** 2 + 1e-12 * top ** 2), lo
    n, m = W1.shape[0], W2.shape[0]
    s1, s2 = b["s1_max"][0, : T + 1], b["s2_max"][0, : T + 1]
    mu = float(np.asarray(loss.mu))
    x, y = a["mu_t"][0, : T + 1], b["mu_t"][0, : T + 1]
    assert np.all(np.abs(x - y) <= 1e-9 * y + 1e-12 * mu * (s1 ** 2 + s2 ** 2)), "mu_t"
    wscale = np.sum(W1 * W1) + np.sum(W2 * W2)
    imb = 1e-12 * (n * s1 ** 2 + m * s2 ** 2)
    for key in IMBALANCE:
        x, y = a[key][0, : T + 1], b[key][0, : T + 1]
        assert np.all(np.abs(x - y) <= 1e-9 * np.abs(y) + imb), key
    # losses
    x, y = a["loss"][0, : T + 1], b["loss"][0, : T + 1]
    big = y > 1e-10 * y[0]
    np.testing.assert_allclose(x[big], y[big], rtol=1e-9)
    Wn = np.linalg.norm(W1 @ W2.T) + np.linalg.norm(np.asarray(loss.Wstar))
    np.testing.assert_allclose(np.sqrt(x), np.sqrt(y), rtol=0, atol=1e-12 * np.sqrt(float(loss.K)) * Wn)
    # the theorem bookkeeping follows
    np.testing.assert_allclose(a["K_t"][0, :T], b["K_t"][0, :T], rtol=1e-9)
    np.testing.assert_allclose(a["rho"][0, :T], b["rho"][0, :T], rtol=1e-9, atol=1e-12)
    # reconstructed full-width weights
    wn = np.sqrt(wscale)
    np.testing.assert_allclose(red.W1_T, full.W1_T, rtol=0, atol=1e-9 * wn)
    np.testing.assert_allclose(red.W2_T, full.W2_T, rtol=0, atol=1e-9 * wn)
    assert red.W1_T.shape == full.W1_T.shape == (1,) + W1.shape


@pytest.mark.parametrize("kind,schedule,regime", _cases())
def test_reduced_equals_full_width(kind, schedule, regime):
    loss, W1, W2 = build(kind, regime)
    n, m, h, _ = REGIMES[regime]
    kw = {"eta0": 0.3 / K0_of(loss, W1, W2)} if schedule in ("constant", "adaptive") else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # explicit eta0 above eta_max warns
        red = run_gd(loss, W1, W2, schedule=schedule, steps=200, reduce=True, **kw)
        full = run_gd(loss, W1, W2, schedule=schedule, steps=200, reduce=False, **kw)
    assert red.config["reduced"] is True and full.config["reduced"] is False
    rank = np.linalg.matrix_rank(np.vstack([W1, W2]))
    assert red.config["rank"] == [rank]
    assert int(full.steps[0]) >= 30 and full.status[0] in ("converged", "max_steps")
    _assert_runs_agree(red, full, loss, W1, W2)


def test_reduced_equals_full_width_default_eta0_long():
    """adaptive with eta0 = eta_max (the paper's setting), h >> n + m, 400 steps."""
    loss, W1, W2 = build("squared", "wide", seed=8)
    W1 = np.hstack([W1, 0.6 * np.random.default_rng(9).normal(size=(3, 21))])
    W2 = np.hstack([W2, 0.6 * np.random.default_rng(10).normal(size=(2, 21))])
    red = run_gd(loss, W1, W2, schedule="adaptive", steps=400)
    full = run_gd(loss, W1, W2, schedule="adaptive", steps=400, reduce=False)
    assert red.config["reduced"] and int(red.steps[0]) >= 200
    _assert_runs_agree(red, full, loss, W1, W2)


def test_auto_reduces_only_above_n_plus_m():
    rng = np.random.default_rng(0)
    for h, expect in ((4, False), (5, False), (6, True), (40, True)):
        mdl = TwoLayerLinear(rng.normal(size=(3, h)), rng.normal(size=(2, h)), reduce="auto")
        assert mdl.reduced is expect
        assert mdl.k == (min(h, 5) if expect else h)


# --------------------------------------------------------------------------- rank
def _rank_cases():
    rng = np.random.default_rng(41)
    U = rng.normal(size=(3, 2))
    V = rng.normal(size=(2, 30))
    W1 = rng.normal(size=(3, 30))
    return {
        "wide": (W1, rng.normal(size=(2, 30))),
        "narrow": (rng.normal(size=(3, 4)), rng.normal(size=(2, 4))),
        "below_n": (rng.normal(size=(3, 2)), rng.normal(size=(2, 2))),
        "balanced": (W1, W1.copy()),
        "low_rank": (U @ V, rng.normal(size=(2, 2)) @ V),  # Z = [U; B] V has rank 2
        "dependent_rows": (np.vstack([W1[:2], W1[0] + 2 * W1[1]]), rng.normal(size=(2, 30))),
        "tiny_scale": (1e-150 * W1, 1e-150 * W1[:2]),
        "zero": (np.zeros((3, 7)), np.zeros((2, 7))),
    }


@pytest.mark.parametrize("case", list(_rank_cases()))
def test_reduce_width_rank_and_basis(case):
    W1, W2 = _rank_cases()[case]
    Z = np.vstack([W1, W2])
    red = reduce_width(W1, W2)
    assert red.rank == np.linalg.matrix_rank(Z)
    Q = red.Q
    assert Q.shape == (W1.shape[1], red.rank)
    np.testing.assert_allclose(Q.T @ Q, np.eye(red.rank), atol=1e-13)
    # Z lies in range(Q): Z Q Q^T = Z, and the products agree
    zs = max(np.abs(Z).max(), 1e-300)
    np.testing.assert_allclose(Z @ Q @ Q.T, Z, rtol=0, atol=1e-13 * zs)
    np.testing.assert_allclose(red.S1 @ red.S2.T, W1 @ W2.T, rtol=0, atol=1e-13 * zs ** 2 * W1.shape[1])


# --------------------------------------------------------------------------- imbalance spectrum
def _dense_desc(W1, W2):
    return np.sort(np.linalg.eigvalsh(W1.T @ W1 - W2.T @ W2))[::-1]


@pytest.mark.parametrize("regime", list(REGIMES))
@pytest.mark.parametrize("kind", ["squared", "sensing"])
def test_imbalance_eigenvalues_reduced_vs_dense(kind, regime):
    loss, W1, W2 = build(kind, regime, seed=5)
    h = W1.shape[1]
    res = run_gd(loss, W1, W2, schedule="local", steps=100, reduce=True)
    T = int(res.steps[0])
    mdl = TwoLayerLinear(W1, W2, reduce=True)
    Q = mdl.Q[0]
    for t, (A, B) in ((0, (W1, W2)), (T, (res.W1_T[0], res.W2_T[0]))):
        wscale = np.sum(A * A) + np.sum(B * B)
        dense = _dense_desc(A, B)
        # through the reduction of the iterate itself
        spec = imbalance_spectrum(A, B)
        np.testing.assert_allclose(spec.eigenvalues(full=True), dense, rtol=0, atol=1e-12 * wscale)
        assert spec.rank == np.linalg.matrix_rank(np.vstack([A, B]))
        # through the initial basis Q (the coordinates the engine runs in): the r eigenvalues of
        # Q^T D Q padded with h - r zeros are D's
        Dr = (A @ Q).T @ (A @ Q) - (B @ Q).T @ (B @ Q)
        ev = np.sort(np.concatenate([np.linalg.eigvalsh(Dr), np.zeros(h - Q.shape[1])]))[::-1]
        np.testing.assert_allclose(ev, dense, rtol=0, atol=1e-12 * wscale)
        # recorded lambda_max(D), lambda_max(-D)
        np.testing.assert_allclose(res.arrays["lambda_max_D"][0, t], max(dense[0], 0.0), atol=1e-12 * wscale)
        np.testing.assert_allclose(res.arrays["lambda_max_negD"][0, t], max(-dense[-1], 0.0), atol=1e-12 * wscale)
    # full-width GD never leaves the row space of Z(0): the final weights satisfy W = W Q Q^T
    full = run_gd(loss, W1, W2, schedule="local", steps=T, reduce=False)
    assert full.status[0] in ("converged", "max_steps")
    for Wf in (full.W1_T[0], full.W2_T[0]):
        np.testing.assert_allclose(Wf @ Q @ Q.T, Wf, rtol=0, atol=1e-12 * np.sqrt(wscale))


def test_reduce_width_stack_equals_seed_by_seed():
    """reduce_width_stack (stacked qr / svd / matmul, issue 13) gives each seed's reduce_width bit for bit:
    full-rank seeds, and a rank-deficient seed (W2 = W1) in the same batch, reduced on its own."""
    from convtool.numeric.spectra import reduce_width, reduce_width_stack

    rng = np.random.default_rng(5)
    W1, W2 = rng.normal(size=(5, 4, 30)), rng.normal(size=(5, 3, 30)) * 1e-3
    W2[2] = W1[2, :3]  # rank 4 < n + m = 7
    out = reduce_width_stack(W1, W2).reductions
    assert [r.rank for r in out] == [7, 7, 4, 7, 7]
    for i in range(5):
        ref = reduce_width(W1[i], W2[i])
        for f in ("Q", "S1", "S2"):
            assert np.array_equal(getattr(out[i], f), getattr(ref, f)), (i, f)
        assert (out[i].h, out[i].rank, out[i].tol) == (ref.h, ref.rank, ref.tol)


def test_lambda_k_rows_equals_lambda_k():
    """``spectra.lambda_k_rows`` (the batched constants' k-th largest eigenvalue of D or -D over the seeds) gives
    :meth:`ImbalanceSpectrum.lambda_k` of each row, the same floats (signed zeros included), on spectra with
    positive, zero, negative and NaN values, padding zeros (h > r) or none, and k from 1 past h."""
    from convtool.numeric.spectra import ImbalanceSpectrum, lambda_k_rows

    rng = np.random.default_rng(9)
    for _ in range(300):
        R, r = int(rng.integers(1, 6)), int(rng.integers(1, 9))
        h = r + int(rng.integers(0, 4))
        ev = rng.choice([-2.0, -1.0, -0.0, 0.0, 0.5, 3.0], size=(R, r)) * rng.uniform(0.5, 2.0, size=(R, r))
        if rng.random() < 0.2:
            ev[int(rng.integers(R)), int(rng.integers(r))] = np.nan
        ev = -np.sort(-ev, axis=1)  # descending rows (NaN last), as eigvalsh's reversed
        for k in range(1, h + 2):
            for neg in (False, True):
                wants = []
                for i in range(R):
                    try:
                        wants.append(ImbalanceSpectrum(reduced=ev[i], h=h, n=0, m=0).lambda_k(k, negate=neg))
                    except IndexError:  # a NaN row can leave lambda_k no value: the rows' call raises it too
                        wants.append(IndexError)
                if IndexError in wants:
                    with pytest.raises(IndexError):
                        lambda_k_rows(ev, h, k, neg)
                    continue
                got = lambda_k_rows(ev, h, k, neg)
                for i, want in enumerate(wants):
                    assert (got[i] == want or (got[i] != got[i] and want != want)) and \
                        np.signbit(got[i]) == np.signbit(want), (ev[i], h, k, neg, got[i], want)
