"""Du, Hu & Lee's one-step identities under minibatch SGD (the engine's ``run(stochastic=...)``).

The first-order terms of the one-step drift cancel for the gradient of *any* loss of the network's output at the
current weights (the proof of Theorem 2.1 in Section 2.3 reduces to one sample's loss), so with the update
W - eta g of a minibatch gradient g the drift is eta^2 (...) of g, not of the full gradient. Oracle: plain numpy
from the definitions on the states and gradients the stochastic callable saw (not the theory's code).
"""

from __future__ import annotations

import numpy as np
import pytest

from convtool.numeric.engine import run
from convtool.numeric.losses import FactorizationLoss, SquaredLoss
from convtool.numeric.mlp import init_mlp_layers, make_mlp
from convtool.numeric.models import TwoLayerLinear
from convtool.numeric.theories.balanced import Balanced

EPS = np.finfo(float).eps


class _Minibatch:
    """Fresh uniform b-subset of the n samples each step; the model's parameter gradients at the minibatch loss's
    output gradient ``grad_out(W, idx)``. Logs (state, full grads, minibatch grads) per step."""

    def __init__(self, model, grad_out, n, b, seed=0):
        self.model, self.grad_out, self.n, self.b = model, grad_out, n, b
        self.rng = np.random.default_rng(seed)
        self.log = []

    def __call__(self, t, obs):
        idx = self.rng.choice(self.n, size=self.b, replace=False)
        g = self.model.param_grads(obs.state, self.grad_out(obs.W, idx))
        self.log.append((obs.state, obs.grads, g))
        return g


def _fro(A):
    return float(np.sum(A * A))


def _mlp(act):
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(12, 4)), rng.normal(size=(12, 2))
    net = make_mlp(X, init_mlp_layers((4, 5, 3, 2), [0.8], seed=2), act, slope=0.2)

    def grad_out(F, idx):  # (n/b) * the rows idx of F - Y: the minibatch loss (n/2b) sum_{i in B} ||f(x_i) - y_i||^2
        G = np.zeros_like(F)
        G[:, idx] = (F[:, idx] - Y[idx]) * (12 / idx.size)
        return G

    return net, FactorizationLoss(Y), grad_out, 12, [(0, 1), (1, 2)]


def _two_layer():
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(15, 4)), rng.normal(size=(15, 3))
    mdl = TwoLayerLinear(rng.normal(size=(4, 6)) / 2, rng.normal(size=(3, 6)) / 2, reduce=False)

    def grad_out(W, idx):  # (n/b) X_B^T (X_B W - Y_B)
        XB = X[idx]
        return (15 / idx.size) * (XB.T @ (XB @ W - Y[idx]))

    return mdl, SquaredLoss(X, Y), grad_out, 15, None


@pytest.mark.parametrize("case", ["mlp-relu", "mlp-linear", "two-layer"])
def test_one_step_identities_use_the_update_gradients(case):
    if case == "two-layer":
        model, loss, grad_out, n, pairs = _two_layer()
    else:
        model, loss, grad_out, n, pairs = _mlp(case[4:])
    T, eta = 30, 5e-3
    sgd = _Minibatch(model, grad_out, n, n // 3)
    res = run(model, loss, "constant", eta0=eta, steps=T, tol=1e-300, theories=[Balanced()], stochastic=sgd)
    v = res.violations()
    keys = ["B1", "D1"] if case == "two-layer" else ["B1", "B2", "b1", "b2"]
    keys += ["D1", "D2"] if case == "mlp-linear" else []
    for k in keys:
        assert v[f"balanced_{k}_step"] == 0 and v[f"balanced_{k}_step_steps_applicable"] == T, k
        assert v[f"balanced_{k}_cum"] == 0 and v[f"balanced_{k}_cum_steps_applicable"] == T, k
        assert "SGD run" in v[f"balanced_{k}_descent_not_applicable"]
    # oracle on the logged states and gradients: the observed change is eta^2 (...) of the minibatch gradients to
    # round-off, and far from eta^2 (...) of the full gradients
    states = [s for s, _, _ in sgd.log] + [res.state_T if case != "two-layer" else (res.state_T[0], res.state_T[1])]
    for t, (st, gf, gm) in enumerate(sgd.log):
        nxt = states[t + 1]
        if case == "two-layer":  # the layer view (W1^T, W2): B = ||W1||^2 - ||W2||^2, D = W1^T W1 - W2^T W2
            W0, W1, Gm, Gf = [st[0][0], st[1][0]], [nxt[0][0], nxt[1][0]], [gm[0][0], gm[1][0]], [gf[0][0], gf[1][0]]
            prs = [(0, 1)]
        else:
            W0, W1, Gm, Gf = [w[0] for w in st], [w[0] for w in nxt], [g[0] for g in gm], [g[0] for g in gf]
            prs = pairs
        for h, (i, j) in enumerate(prs):
            dB = (_fro(W1[i]) - _fro(W1[j])) - (_fro(W0[i]) - _fro(W0[j]))
            pm = eta ** 2 * (_fro(Gm[i]) - _fro(Gm[j]))
            pf = eta ** 2 * (_fro(Gf[i]) - _fro(Gf[j]))
            tol = 64 * 20 * EPS * (_fro(W0[i]) + _fro(W0[j]) + _fro(W1[i]) + _fro(W1[j]))
            assert abs(dB - pm) <= tol
            assert abs(dB - pf) > 1e3 * tol          # the full gradient's prediction is wrong
            assert res.arrays[f"bal_B{h + 1}_step_pred"][0, t] == pytest.approx(abs(pm), rel=1e-9)
            if case == "two-layer":
                dD = (W1[0].T @ W1[0] - W1[1].T @ W1[1]) - (W0[0].T @ W0[0] - W0[1].T @ W0[1])
                Pm = eta ** 2 * (Gm[0].T @ Gm[0] - Gm[1].T @ Gm[1])
                Pf = eta ** 2 * (Gf[0].T @ Gf[0] - Gf[1].T @ Gf[1])
                assert np.linalg.norm(dD - Pm) <= tol and np.linalg.norm(dD - Pf) > 1e3 * tol
                assert res.arrays["bal_D1_step_pred"][0, t] == pytest.approx(np.linalg.norm(Pm), rel=1e-9)
    # the cumulative bound is the sum of eta^2 ||g_s||^2 of the update gradients, not of the full ones
    gsq = [sum(_fro(g[0]) for g in gm) for _, _, gm in sgd.log]
    np.testing.assert_allclose(res.arrays["bal_cum_bound"][0, 1:], np.cumsum(eta ** 2 * np.array(gsq)), rtol=1e-12)


def test_gd_run_sees_its_own_gradients_and_keeps_the_descent_checks():
    """Without ``stochastic`` the update gradients are the recorded ones: the descent checks apply."""
    model, loss, _, _, _ = _mlp("relu")
    res = run(model, loss, "constant", eta0=5e-3, steps=10, tol=1e-300, theories=[Balanced()])
    v = res.violations()
    assert "balanced_B1_descent_not_applicable" not in v and v["balanced_B1_descent_steps_applicable"] > 0
    assert v["balanced_B1_step"] == 0 and v["balanced_B1_descent"] == 0
    np.testing.assert_allclose(res.arrays["bal_cum_bound"][0, 1:],
                               np.cumsum(2.5e-5 * res.arrays["grad_sq"][0, :-1]), rtol=1e-12)


def test_sgd_with_a_cadence_says_why_the_cumulative_bound_is_not_checked():
    model, loss, grad_out, n, _ = _mlp("relu")
    res = run(model, loss, "constant", eta0=2e-2, steps=9, tol=1e-300, theories=[Balanced(every=3)],
              stochastic=_Minibatch(model, grad_out, n, 4))
    v = res.violations()
    assert "not recorded in between" in v["balanced_B1_cum_not_applicable"]
    assert v["balanced_B1_step"] == 0 and v["balanced_B1_step_steps_applicable"] == 3


@pytest.mark.parametrize("every", [1, 3])
@pytest.mark.parametrize("reduce", ["auto", False])
def test_two_layer_batched_records_equal_the_per_step_ones(every, reduce):
    """The two-layer model's records come from arrays evaluated in batches of states (no per-neuron vector); with
    ``record_neurons`` they are formed per step. Both give the same B_1, D_1 records across batch boundaries (150
    steps > 64) and with a cadence, under SGD (the update gradients) as under GD."""
    model, loss, grad_out, n, _ = _two_layer()
    A0, B0 = model.W1_0, model.W2_0
    for stochastic in (False, True):
        out = []
        for neurons in (False, True):
            mdl = TwoLayerLinear(A0, B0, reduce=reduce)
            sgd = _Minibatch(mdl, grad_out, n, 5, seed=1) if stochastic else None
            out.append(run(mdl, loss, "constant", eta0=5e-3, steps=150, tol=1e-300, stochastic=sgd,
                           theories=[Balanced(record_neurons=neurons, every=every)]))
        a, b = out[0].arrays, out[1].arrays
        for k in ("bal_fro1", "bal_fro2", "bal_gfro1", "bal_gfro2", "bal_B1_drift", "bal_B1_step_err", "bal_D1_drift",
                  "bal_D1_step_err", "bal_D1_step_pred", "bal_cum_bound", "balanced_D1_step_applies"):
            assert np.array_equal(np.isfinite(a[k]), np.isfinite(b[k])), k
            np.testing.assert_allclose(a[k], b[k], rtol=1e-9, atol=1e-14, err_msg=k)
        v = out[0].violations()
        assert v["balanced_D1_step"] == 0 and v["balanced_D1_step_steps_applicable"] == len(range(0, 150, every))


def test_resnet_no_skip_chain_under_algorithm1_sgd_and_skip_not_applicable():
    """The linear ResNet model's no-skip baseline B W_L ... W_1 A under its own SGD sampler (Algorithm 1,
    ``MinibatchSampler``): the trained layers' identities hold with the minibatch gradients; with skip connections
    the theory says why nothing applies."""
    from convtool.numeric.resnet import LinearResNet, MinibatchSampler

    rng = np.random.default_rng(8)
    d, k, m, L, n = 3, 2, 4, 3, 16
    X, Y = rng.normal(size=(n, d)), rng.normal(size=(n, k))
    A, B = rng.normal(size=(m, d)) / 2, rng.normal(size=(k, m)) / 2
    W0 = np.eye(m)[None] + 0.1 * rng.normal(size=(L, m, m))
    mdl = LinearResNet(A, B, W0, skip=False)
    sgd = MinibatchSampler(X, Y, mdl, batch=4, sgd_seed=3)
    log = []

    def stochastic(t, obs):
        g = sgd(t, obs)
        log.append((obs.grads[0][0], g[0][0]))
        return g

    eta = 1e-3
    res = run(mdl, SquaredLoss(X, Y), "constant", eta0=eta, steps=20, tol=1e-300, theories=[Balanced()],
              stochastic=stochastic)
    v = res.violations()
    for key in ("B1", "B2", "b1", "b2", "D1", "D2"):
        assert v[f"balanced_{key}_step"] == 0 and v[f"balanced_{key}_step_steps_applicable"] == 20, key
    # the predicted drift is the minibatch one (eta^2 (||g_1||^2 - ||g_2||^2) of the sampler's gradient)
    for t, (gf, gm) in enumerate(log):
        pm, pf = (eta ** 2 * abs(_fro(g[0]) - _fro(g[1])) for g in (gm, gf))
        assert res.arrays["bal_B1_step_pred"][0, t] == pytest.approx(pm, rel=1e-9) and abs(pm - pf) > 1e-3 * pm
    res = run(LinearResNet(A, B, W0 - np.eye(m)[None], skip=True), SquaredLoss(X, Y), "constant", eta0=1e-3, steps=2,
              theories=[Balanced()])
    rows = res.summary()["balancedness"]["rows"]
    assert len(rows) == 1 and "skip connections" in rows[0]["not_applicable"]


def test_sgd_rows_and_table_say_the_descent_bound_is_not_applicable():
    from rich.console import Console

    from convtool.cli.render_balanced import _held, balancedness_table

    model, loss, grad_out, n, _ = _mlp("relu")
    res = run(model, loss, "constant", eta0=5e-3, steps=5, tol=1e-300, theories=[Balanced()],
              stochastic=_Minibatch(model, grad_out, n, 4))
    bal = res.summary()["balancedness"]
    row = next(r for r in bal["rows"] if r["invariant"] == "B1")
    assert "SGD run" in row["descent"]["not_applicable"] and "not_applicable" not in row["step"]
    assert "descent bound: not applicable (SGD run" in _held(row) and "identity yes 5/5" in _held(row)
    table = balancedness_table(bal)
    held, bound = ([str(c) for c in table.columns[i]._cells] for i in (4, 3))
    assert any("descent bound: not applicable (SGD run" in c for c in held)
    assert any("|g_s|^2 (update)" in c for c in bound) and not any("max eta (L0" in c for c in bound)
    Console(width=60, record=True).print(table)  # renders at a narrow width
