"""The shared feed-forward implementation: finite-difference gradients, the deep linear network as its
linear special case, and the GD run through the engine (convtool.numeric.feedforward)."""

from __future__ import annotations

import numpy as np
import pytest

from convtool.errors import InputError
from convtool.numeric.deep_linear import DeepLinear
from convtool.numeric.feedforward import FeedForward, make_activation
from convtool.numeric.losses import FactorizationLoss, SquaredLoss


def _net(act, widths=(3, 6, 5, 2), R=2, N=7, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, widths[0]))
    layers = [rng.normal(size=(R, b, a)) / np.sqrt(a) for a, b in zip(widths[:-1], widths[1:])]
    return X, layers, rng.normal(size=(N, widths[-1]))


@pytest.mark.parametrize("act", ["linear", "relu", "leaky-relu"])
def test_gradient_matches_central_differences(act):
    X, layers, Y = _net(act)
    net = FeedForward(layers, X, act, slope=0.2)
    loss = FactorizationLoss(Y)
    st = net.init_state()
    g = net.param_grads(st, loss.grad(net.product(st)))
    h = 1e-6
    for j in range(len(st)):
        for idx in [(0, 0, 0), (1, 1, 2), (1, -1, -1)]:
            plus = [W.copy() for W in st]
            minus = [W.copy() for W in st]
            plus[j][idx] += h
            minus[j][idx] -= h
            fd = (loss.value(net.product(tuple(plus)))[idx[0]] - loss.value(net.product(tuple(minus)))[idx[0]]) / (2 * h)
            assert fd == pytest.approx(g[j][idx], rel=1e-5, abs=1e-7)


def test_linear_feedforward_with_a_N_is_the_deep_linear_network():
    X, layers, Y = _net("linear", widths=(4, 9, 7, 3), R=1)
    widths = (4, 9, 7, 3)
    aN = 1 / np.sqrt(np.prod(widths[1:]))
    ff = FeedForward(layers, X, "linear", scale=aN)
    dl = DeepLinear([W[0] for W in layers])
    F = ff.product(ff.init_state())[0]
    W = dl.product(dl.init_state())[0]
    np.testing.assert_allclose(F, X @ W, rtol=1e-12, atol=1e-14)
    # gradients: dl/dW_j of the feed-forward net = the deep linear model's dL/dW_j = g_j / sqrt(n_j)
    gf = ff.param_grads(ff.init_state(), FactorizationLoss(Y).grad(F[None]))
    sq = SquaredLoss(X, Y)
    gd = dl.param_grads(dl.init_state(), sq.grad(W[None]))
    for j, n in enumerate(widths[1:]):
        np.testing.assert_allclose(gf[j], gd[j] / np.sqrt(n), rtol=1e-10, atol=1e-13)


def test_bad_shapes_name_the_layer():
    X = np.ones((5, 3))
    with pytest.raises(InputError, match="W2"):
        FeedForward([np.ones((4, 3)), np.ones((2, 5))], X, "relu")
    with pytest.raises(InputError, match="X has 2 columns"):
        FeedForward([np.ones((4, 3))], np.ones((5, 2)), "relu")
    with pytest.raises(InputError, match="unknown activation"):
        make_activation("swish")


def test_layers_are_not_modified_and_engine_descends():
    from convtool.numeric.engine import run

    X, layers, Y = _net("relu", R=3)
    before = [W.copy() for W in layers]
    net = FeedForward(layers, X, "relu")
    res = run(net, FactorizationLoss(Y), "constant", eta0=1e-2, steps=200)
    for a, b in zip(layers, before):
        np.testing.assert_array_equal(a, b)
    L = res.arrays["loss"]
    assert np.all(L[:, -1] < L[:, 0])
