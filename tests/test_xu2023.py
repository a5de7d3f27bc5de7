"""The ``xu2023`` schedule against Xu et al.'s (2023) published code, re-implemented here in plain numpy.

Source: github.com/simonxu97/aistats2023_overparametrization, first commit 3bc68f72cf3d5025fbb966510cb23f86570059e8,
``utils.py``: ``loss``, ``d``, ``e``, ``c``, ``p1``, ``p2``, ``alpha``, ``beta``, ``a1``-``a4`` and
``find_lr(..., version='rho_hat')`` (the step ``main.train_over`` takes after every update). The oracle below
follows that code line by line in its own convention (``u = W1`` (n x h), ``v = W2^T`` (h x m), full width,
``np.linalg.eig`` / ``scipy.linalg.eigh`` on the h x h imbalance, ``np.roots`` keeping the last real root).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from convtool.errors import InputError
from convtool.numeric.engine import run_gd
from convtool.numeric.experiments import default_batch
from convtool.numeric.schedules import make_schedule

from oracles import gd_loop, make_instance  # tests/oracles.py


# ------------------------------------------------------------------ the first commit's utils.py, transcribed
def _loss(x, y, u, v):
    return 1 / 2 * np.linalg.norm((y - x.dot(u.dot(v))), 'fro') ** 2


def _e(x, y, u, v):
    return y - x.dot(u.dot(v))


def _c(x):
    return (np.linalg.norm(x, ord=2) / np.linalg.norm(x, ord=-2)) ** 2


def _p1(x, y, u, v):
    return np.max([np.linalg.norm(y, ord=-2) - np.linalg.norm(_e(x, y, u, v), 'fro'), 0]) / np.linalg.norm(x, ord=2)


def _p2(x, y, u, v):
    return (np.linalg.norm(y, 'fro') + np.linalg.norm(_e(x, y, u, v), 'fro')) / np.linalg.norm(x, ord=-2)


def _beta(x, y, u, v):
    imbalance = u.T.dot(u) - v.dot(v.T)
    w = -np.sort(-np.real(np.linalg.eig(imbalance)[0]))
    w_neg = -np.sort(-np.real(np.linalg.eig(-imbalance)[0]))
    l1, l2 = np.max([w[0], 0]), np.max([w_neg[0], 0])
    p = _p2(x, y, u, v)
    return (l1 + np.sqrt(l1 ** 2 + 4 * p ** 2)) / 2 + (l2 + np.sqrt(l2 ** 2 + 4 * p ** 2)) / 2


def _alpha(x, y, u, v):
    r = np.linalg.matrix_rank(x)
    m = v.shape[1]
    p = _p1(x, y, u, v)
    imbalance = u.T.dot(u) - v.dot(v.T)
    w = -np.sort(-scipy.linalg.eigh(imbalance, eigvals_only=True))
    w_neg = -np.sort(-scipy.linalg.eigh(-imbalance, eigvals_only=True))
    # h < r or h < m: the code would fail here; the schedule's documented reading counts the missing as 0
    pad = max(r, m) - w.size
    if pad > 0:
        w = np.sort(np.concatenate([w, np.zeros(pad)]))[::-1]
        w_neg = np.sort(np.concatenate([w_neg, np.zeros(pad)]))[::-1]
    delta1 = np.max([w[0], 0]) - np.max([w[r - 1], 0])
    delta2 = np.max([w_neg[0], 0]) - np.max([w_neg[m - 1], 0])
    delta3 = np.max([w[r - 1], 0]) + np.max([w_neg[m - 1], 0])
    return (-delta1 + np.sqrt((delta1 + delta3) ** 2 + 4 * p ** 2) - delta2 + np.sqrt((delta2 + delta3) ** 2 + 4 * p ** 2)) / 2


def _a(x, y, u, v):
    """a1..a4 of find_lr('rho_hat'): current alpha, beta, p2 and c1 = c2 = 1.0 (utils.py lines 112-119)."""
    al, be, p2 = _alpha(x, y, u, v), _beta(x, y, u, v), _p2(x, y, u, v)
    smin, smax, L = np.linalg.norm(x, ord=-2), np.linalg.norm(x, ord=2), _loss(x, y, u, v)
    a1 = 2 * al * 1.0 * smin ** 2
    a2 = np.sqrt(8) * p2 * np.sqrt(L) * smax * smin ** 2 + _c(x) * be ** 2 * 1.0 ** 2 * smin ** 4
    a3 = np.sqrt(8) * be * p2 * 1.0 * np.sqrt(L) * smax ** 3 * smin ** 2
    a4 = 2 * _c(x) ** 2 * p2 ** 2 * L * smin ** 6
    return a1, a2, a3, a4


def find_lr_rho_hat(x, y, u, v):
    """The step of find_lr(..., 'rho_hat'): the last real root of d/d eta of utils.target."""
    a1, a2, a3, a4 = _a(x, y, u, v)
    r1 = None
    for i in np.roots([4 * a4, 3 * a3, 2 * a2, -a1]):
        if np.isreal(i):
            r1 = np.real(i)
    return r1


def target(eta, x, y, u, v):
    a1, a2, a3, a4 = _a(x, y, u, v)
    return 1.0 - a1 * eta + a2 * eta ** 2 + a3 * eta ** 3 + a4 * eta ** 4


# ------------------------------------------------------------------ tests
def _bound_run(losses, W1, W2, steps, **opts):
    s = make_schedule("xu2023", **opts)
    s.bind(losses)
    return run_gd(losses, W1, W2, schedule=s, steps=steps)


@pytest.mark.parametrize("kind,n,m,h,scale", [("squared", 3, 2, 9, 0.6), ("squared", 4, 3, 9, 0.8), ("squared", 3, 2, 5, 0.7),
                                             ("factorization", 3, 2, 12, 1.2)])
def test_step_equals_published_code(kind, n, m, h, scale):
    rng = np.random.default_rng(5)
    loss, orc, = make_instance(kind, n, m, rng)
    W1, W2 = scale * rng.normal(size=(n, h)), scale * rng.normal(size=(m, h))
    res = _bound_run(loss, W1, W2, steps=60)
    T = int(res.steps[0])
    eta = res.arrays["eta"][0, :T]
    X = loss.X
    Y = loss.Y
    checked = 0
    for t, (A, B) in enumerate(gd_loop(orc, W1, W2, eta)[:T]):
        u, v = A, B.T
        ref = find_lr_rho_hat(X, Y, u, v)
        assert ref is not None and ref > 0
        np.testing.assert_allclose(eta[t], ref, rtol=1e-7)
        # it minimizes the published bound utils.target over eta > 0
        grid = ref * np.linspace(0.05, 3.0, 600)
        assert target(ref, X, Y, u, v) <= target(grid, X, Y, u, v).min() + 1e-12
        checked += 1
    assert checked >= 10


def test_step_equals_published_code_fig1_setting():
    b = default_batch(seeds=1, h=60)
    res = _bound_run(b.losses, b.W1, b.W2, steps=12)
    L, W1, W2 = b.losses[0], b.W1[0], b.W2[0]
    eta = res.arrays["eta"][0]
    for t, (A, B) in enumerate(gd_loop(_Sq(L), W1, W2, eta)):
        if t == eta.size:
            break
        np.testing.assert_allclose(eta[t], find_lr_rho_hat(L.X, L.Y, A, B.T), rtol=1e-7)


class _Sq:
    def __init__(self, L):
        self.X, self.Y = L.X, L.Y

    def grad(self, W):
        return -self.X.T @ (self.Y - self.X @ W)


def test_c1_c2_options_do_not_change_the_step():
    """The first commit's time-varying step passes 1.0 for both constants (utils.py lines 116-119)."""
    rng = np.random.default_rng(2)
    loss, _ = make_instance("squared", 3, 2, rng)
    W1, W2 = 0.7 * rng.normal(size=(3, 8)), 0.7 * rng.normal(size=(2, 8))
    a = _bound_run(loss, W1, W2, steps=15)
    b = _bound_run(loss, W1, W2, steps=15, c1=0.2, c2=3.0)
    np.testing.assert_array_equal(a.arrays["eta"], b.arrays["eta"])
    assert a.schedule["c1"] == 0.5 and a.schedule["c2"] == 1.5
    assert b.schedule["c1"] == 0.2 and b.schedule["c2"] == 3.0


@pytest.mark.parametrize("opts", [{"c1": 1.0}, {"c1": 0.0}, {"c1": -0.5}, {"c1": np.nan}, {"c2": 1.0},
                                  {"c2": 0.5}, {"c2": np.inf}, {"c2": "2"}, {"c1": True}, {"c3": 1.0}])
def test_options_validate(opts):
    with pytest.raises(InputError) as info:
        make_schedule("xu2023", **opts)
    assert "\n" not in str(info.value)


def test_other_losses_refused():
    rng = np.random.default_rng(0)
    loss, _ = make_instance("sensing", 2, 2, rng)
    with pytest.raises(InputError) as info:
        make_schedule("xu2023").bind(loss)
    assert "\n" not in str(info.value) and "squared" in str(info.value)


def test_converges_on_fig1_setting():
    b = default_batch(seeds=2)
    res = _bound_run(b.losses, b.W1, b.W2, steps=400)
    assert res.status == ["converged", "converged"]
    assert np.all(res.steps < 100)
    L = res.arrays["loss"]
    for r in range(2):
        T = int(res.steps[r])
        assert np.all(np.diff(L[r, : T + 1]) < 0)  # monotone decrease
