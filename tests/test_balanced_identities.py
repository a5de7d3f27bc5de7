"""Du, Hu & Lee's invariants under GD: the exact one-step drift identities (derived, notes Sec. 3.2), on random
nets of several depths and activations, kinks included; the theory's records on every model it covers.

Oracles are written here in plain numpy from the definitions (not the theory's code): b_h = rowsq(W_h) -
colsq(W_{h+1}), D_h = W_h W_h^T - W_{h+1}^T W_{h+1}, one GD step W - eta G by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from convtool.numeric.engine import run
from convtool.numeric.feedforward import Activation, FeedForward
from convtool.numeric.losses import FactorizationLoss
from convtool.numeric.mlp import init_mlp_layers, make_mlp, run_mlp
from convtool.numeric.theories.balanced import Balanced

EPS = np.finfo(float).eps


def _net_step(Ws, X, Y, act, eta, slope=0.1):
    net = FeedForward(Ws, X, act, slope=slope)
    st_ = net.init_state()
    F = net.product(st_)
    G = net.param_grads(st_, F - Y)
    new = [W - eta * g for W, g in zip(st_, G)]
    return [W[0] for W in st_], [g[0] for g in G], [W[0] for W in new]


def _b(Ws, h):
    return np.sum(Ws[h] ** 2, axis=1) - np.sum(Ws[h + 1] ** 2, axis=0)


def _D(Ws, h):
    return Ws[h] @ Ws[h].T - Ws[h + 1].T @ Ws[h + 1]


@settings(max_examples=25, deadline=None)
@given(depth=st.integers(2, 4), act=st.sampled_from(["linear", "relu", "leaky-relu"]), seed=st.integers(0, 10 ** 6),
       log_eta=st.floats(-4, -1))
def test_one_step_drift_is_eta_squared_term_to_round_off(depth, act, seed, log_eta):
    rng = np.random.default_rng(seed)
    dims = [int(x) for x in rng.integers(2, 7, size=depth + 1)]
    X, Y = rng.normal(size=(9, dims[0])), rng.normal(size=(9, dims[-1]))
    Ws = [rng.normal(size=(dims[j + 1], dims[j])) / np.sqrt(dims[j]) for j in range(depth)]
    eta = 10.0 ** log_eta
    W0, G, W1 = _net_step(Ws, X, Y, act, eta)
    for h in range(depth - 1):
        scale = np.sum(W0[h] ** 2) + np.sum(W0[h + 1] ** 2) + np.sum(W1[h] ** 2) + np.sum(W1[h + 1] ** 2)
        tol = 64 * max(dims) * EPS * scale
        obs = _b(W1, h) - _b(W0, h)
        pred = eta ** 2 * (np.sum(G[h] ** 2, axis=1) - np.sum(G[h + 1] ** 2, axis=0))
        np.testing.assert_allclose(obs, pred, rtol=0, atol=tol)
        # the first-order term is not small: without the cancellation the error would be ~ eta |<W, G>|
        first = 2 * eta * np.abs(np.sum(W0[h] * G[h], axis=1))
        assert np.all(np.abs(obs - pred) <= tol) and (first.max() > 1e3 * tol or first.max() == 0)
        if act == "linear":
            obsD = _D(W1, h) - _D(W0, h)
            predD = eta ** 2 * (G[h] @ G[h].T - G[h + 1].T @ G[h + 1])
            np.testing.assert_allclose(obsD, predD, rtol=0, atol=tol)


@pytest.mark.parametrize("act,dphi0", [("relu", 0.0), ("leaky-relu", 0.1)])
def test_identity_holds_at_relu_kinks_with_the_chosen_subgradient(act, dphi0):
    # integer data and weights: many pre-activations are exactly 0 (phi'(0) is then the chosen subgradient)
    rng = np.random.default_rng(3)
    X = rng.integers(-1, 2, size=(12, 4)).astype(float)
    W1 = rng.integers(-1, 2, size=(6, 4)).astype(float)
    W2 = rng.integers(-2, 3, size=(3, 6)).astype(float)
    Y = rng.normal(size=(12, 3))
    Z = X @ W1.T
    assert np.sum(Z == 0) >= 5
    net = FeedForward([W1, W2], X, act, slope=0.1)
    assert float(net.act.dphi(np.zeros(1))[0]) == dphi0
    eta = 0.01
    W0, G, Wn = _net_step([W1, W2], X, Y, act, eta)
    np.testing.assert_allclose(_b(Wn, 0) - _b(W0, 0), eta ** 2 * (np.sum(G[0] ** 2, 1) - np.sum(G[1] ** 2, 0)),
                               rtol=0, atol=1e-12)
    # pointwise identity behind it (proof of Thm 2.1, eq. 7): <W1[i,:], G1[i,:]> = <W2[:,i], G2[:,i]>
    np.testing.assert_allclose(np.sum(W0[0] * G[0], 1), np.sum(W0[1] * G[1], 0), rtol=0, atol=1e-11)


def test_mlp_gradients_against_central_differences():
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(7, 3)), rng.normal(size=(7, 2))
    for act in ("linear", "relu", "leaky-relu"):
        layers = init_mlp_layers((3, 5, 4, 2), [0.8, 0.6, 0.7], seed=2)
        net = make_mlp(X, layers, act, slope=0.2)
        loss = FactorizationLoss(Y)
        s = net.init_state()
        G = net.param_grads(s, loss.grad(net.product(s)))

        def f(state):
            return float(loss.excess(net.product(state))[0])

        h = 1e-6
        for j in range(3):
            for idx in [(0, 0, 0), (0, 1, 1), (0, net.widths[j + 1] - 1, net.widths[j] - 1)]:
                plus = [W.copy() for W in s]
                minus = [W.copy() for W in s]
                plus[j][idx] += h
                minus[j][idx] -= h
                fd = (f(tuple(plus)) - f(tuple(minus))) / (2 * h)
                assert fd == pytest.approx(G[j][idx], rel=1e-6, abs=1e-8), (act, j, idx)


@pytest.mark.parametrize("act", ["linear", "relu", "leaky-relu"])
def test_theory_on_mlp_runs_without_violations(act):
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(15, 4)), rng.normal(size=(15, 2))
    layers = init_mlp_layers((4, 6, 5, 2), [0.5], seed=0, R=2)
    res = run_mlp(X, Y, layers, activation=act, schedule="constant", eta=5e-3, steps=40, tol=1e-300)
    v = res.violations()
    for key in ("B1", "B2", "b1", "b2"):
        assert v[f"balanced_{key}_step"] == 0 and v[f"balanced_{key}_step_steps_applicable"] == 80
        assert v[f"balanced_{key}_cum"] == 0
    rows = {r["invariant"]: r for r in res.summary()["balancedness"]["rows"]}
    if act == "linear":
        assert rows["D1"]["not_applicable"] is None and v["balanced_D1_step"] == 0
    else:
        assert "not linear" in rows["D1"]["not_applicable"] and "balanced_D1_step_steps_applicable" in v
        assert "bal_D1_drift" not in res.arrays  # not recorded, not silently zero
    # the records are the definitions at the states (oracle at the end)
    WT = res.state_T
    B_T = np.sum(WT[0] ** 2, axis=(1, 2)) - np.sum(WT[1] ** 2, axis=(1, 2))
    np.testing.assert_allclose(res.arrays["bal_B1"][:, -1], B_T, rtol=1e-12)


def test_check_can_fail_for_a_non_homogeneous_activation_declared_homogeneous():
    tanh = Activation("tanh (declared homogeneous)", np.tanh, lambda z: 1 - np.tanh(z) ** 2, homogeneous=True)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    net = FeedForward([rng.normal(size=(4, 3)), rng.normal(size=(2, 4))], X, tanh)
    res = run(net, FactorizationLoss(Y), "constant", eta0=1e-2, steps=10, theories=[Balanced()], tol=1e-300)
    assert res.violations()["balanced_b1_step"] > 0


def test_non_homogeneous_activation_is_not_applicable_in_words():
    tanh = Activation("tanh", np.tanh, lambda z: 1 - np.tanh(z) ** 2)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    net = FeedForward([rng.normal(size=(4, 3)), rng.normal(size=(2, 4))], X, tanh)
    res = run(net, FactorizationLoss(Y), "constant", eta0=1e-2, steps=3, theories=[Balanced()])
    rows = res.summary()["balancedness"]["rows"]
    assert len(rows) == 1 and "not positively homogeneous" in rows[0]["not_applicable"]
    assert not any(k.startswith("bal_") for k in res.arrays)


def test_skip_connections_are_not_applicable():
    from convtool.numeric.theories.balanced import layer_view

    class Res:
        skip_connections = True

    assert "skip connections" in layer_view(Res()).reason


def test_drift_shrinks_linearly_with_the_step_at_fixed_flow_time():
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(20, 4)), rng.normal(size=(20, 3))
    layers = init_mlp_layers((4, 6, 3), [0.6], seed=1)
    drift = {}
    for eta, steps in ((4e-3, 50), (2e-3, 100), (1e-3, 200)):   # tau = 0.2 each
        res = run_mlp(X, Y, layers, activation="relu", schedule="constant", eta=eta, steps=steps, tol=1e-300)
        drift[eta] = np.abs(res.arrays["bal_B1_drift"][0, -1])
    assert drift[4e-3] / drift[2e-3] == pytest.approx(2.0, rel=0.1)
    assert drift[2e-3] / drift[1e-3] == pytest.approx(2.0, rel=0.1)


# ------------------------------------------------------------------ two-layer and deep-linear models

def _two_layer(h=40, seed=0):
    from convtool.numeric.losses import SquaredLoss

    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(12, 4)), rng.normal(size=(12, 3))
    return SquaredLoss(X, Y), rng.normal(size=(4, h)) / np.sqrt(h), rng.normal(size=(3, h)) / np.sqrt(h)


def test_two_layer_local_pl_records_unchanged_and_D_shared():
    from convtool.numeric.engine import run_gd
    from convtool.numeric.factorization import run_two_layer

    loss, W1, W2 = _two_layer()
    a = run_gd(loss, W1, W2, schedule="adaptive", steps=40)
    b = run_two_layer(loss, W1, W2, schedule="adaptive", steps=40)
    for k, v in a.arrays.items():
        np.testing.assert_array_equal(v, b.arrays[k], err_msg=k)   # local-PL records identical (NaN == NaN)
    # the balancedness D(t) drift is the local-PL paper's D(t) drift: one quantity
    np.testing.assert_allclose(b.arrays["bal_D1_drift"], b.arrays["drift"], rtol=1e-13, atol=1e-300)
    v = b.violations()
    assert v["balanced_D1_step"] == 0 and v["balanced_B1_step"] == 0 and v["balanced_D1_step_steps_applicable"] > 0


@pytest.mark.parametrize("reduce", ["auto", False])
def test_two_layer_neurons_on_request_exact_through_the_reduction(reduce):
    from convtool.numeric.factorization import run_two_layer

    loss, W1, W2 = _two_layer(h=30)
    res = run_two_layer(loss, W1, W2, schedule="constant", eta0=0.05, steps=25, tol=1e-300, reduce=reduce,
                        balanced={"record_neurons": True})
    assert res.config["reduced"] == (reduce == "auto")
    v = res.violations()
    assert v["balanced_b1_step"] == 0 and v["balanced_b1_step_steps_applicable"] == 25
    # oracle: per-neuron drift from the full-width weights at both ends
    b0 = np.sum(W1 ** 2, 0) - np.sum(W2 ** 2, 0)
    bT = np.sum(res.W1_T[0] ** 2, 0) - np.sum(res.W2_T[0] ** 2, 0)
    assert res.arrays["bal_b1_drift"][0, -1] == pytest.approx(np.max(np.abs(bT - b0)), rel=1e-9)


def test_deep_linear_balancedness_on_the_unscaled_layers():
    from convtool.numeric.deep_linear import DeepLinear, init_layers
    from convtool.numeric.losses import SquaredLoss

    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(15, 4)), rng.normal(size=(15, 2))
    layers = init_layers((4, 7, 6, 2), "gaussian", seed=0)
    mdl = DeepLinear(layers)
    res = run(mdl, SquaredLoss(X, Y), "constant", eta0=2e-3, steps=30, theories=["zhao-xu", Balanced()], tol=1e-300)
    v = res.violations()
    for k in ("B1", "B2", "b1", "b2", "D1", "D2"):
        assert v[f"balanced_{k}_step"] == 0 and v[f"balanced_{k}_step_steps_applicable"] == 30, k
    W = res.state_T
    D_T = W[1][0] @ W[1][0].T - W[2][0].T @ W[2][0]
    D_0 = layers[1][0] @ layers[1][0].T - layers[2][0].T @ layers[2][0]
    assert res.arrays["bal_D2_drift"][0, -1] == pytest.approx(np.linalg.norm(D_T - D_0), rel=1e-9)
    # a wide hidden layer: D_h not formed, said in words
    th = Balanced(dense_max=5)
    res = run(DeepLinear(layers), SquaredLoss(X, Y), "constant", eta0=2e-3, steps=3, theories=[th])
    rows = {r["invariant"]: r for r in res.summary()["balancedness"]["rows"]}
    assert "not recorded: n_1 = 7 > 5" in rows["D1"]["not_applicable"]


@settings(max_examples=12, deadline=None)
@given(model=st.sampled_from(["mlp-linear", "mlp-relu", "mlp-leaky-relu", "deep-linear", "two-layer"]),
       depth=st.integers(2, 4), seed=st.integers(0, 10 ** 6))
def test_theory_records_the_identity_on_every_model(model, depth, seed):
    """The theory's one-step checks hold (to its rounding band) on random small instances of each model."""
    from convtool.numeric.deep_linear import DeepLinear
    from convtool.numeric.losses import SquaredLoss
    from convtool.numeric.models import TwoLayerLinear

    rng = np.random.default_rng(seed)
    dims = [int(x) for x in rng.integers(2, 6, size=depth + 1)]
    X, Y = rng.normal(size=(8, dims[0])), rng.normal(size=(8, dims[-1]))
    if model.startswith("mlp"):
        mdl = make_mlp(X, init_mlp_layers(dims, [0.7], seed=seed % 1000), model[4:], slope=0.3)
        loss = FactorizationLoss(Y)
    elif model == "deep-linear":
        mdl = DeepLinear([rng.normal(size=(dims[j + 1], dims[j])) for j in range(depth)])
        loss = SquaredLoss(X, Y)
    else:
        mdl = TwoLayerLinear(rng.normal(size=(dims[0], 7)) / 3, rng.normal(size=(dims[-1], 7)) / 3)
        loss = SquaredLoss(X, Y)
    res = run(mdl, loss, "constant", eta0=1e-3, steps=8, tol=1e-300, theories=[Balanced(record_neurons=True)])
    v = res.violations()
    steps = [k for k in v if k.endswith("_step") and k.startswith("balanced_")]
    assert steps and all(v[k] == 0 for k in steps)
    assert all(v[f"{k}_steps_applicable"] > 0 for k in steps if f"{k}_not_applicable" not in v)


@pytest.mark.parametrize("every", [1, 3])
def test_matrix_invariant_batches_across_flushes_and_cadence(every):
    """D's records are evaluated in batches of states (_DBatch): across batch boundaries (> 64 steps) and with a
    cadence they equal the definitions at the states (oracle: D from the recorded-by-hand iterates)."""
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(12, 3)), rng.normal(size=(12, 2))
    layers = init_mlp_layers((3, 4, 2), [0.6], seed=3)
    net = make_mlp(X, layers, "linear")
    T, eta = 150, 2e-3
    res = run(net, FactorizationLoss(Y), "constant", eta0=eta, steps=T, tol=1e-300, theories=[Balanced(every=every)])
    # oracle: plain GD by hand
    Ws = [W[0].copy() for W in net.W_0]
    D0 = Ws[0] @ Ws[0].T - Ws[1].T @ Ws[1]
    drift = [0.0]
    for _ in range(T):
        F = np.maximum(X @ Ws[0].T, -np.inf) @ Ws[1].T
        Gd = F - Y
        G1, G0 = Gd.T @ (X @ Ws[0].T), (Gd @ Ws[1]).T @ X
        Ws = [Ws[0] - eta * G0, Ws[1] - eta * G1]
        drift.append(np.linalg.norm(Ws[0] @ Ws[0].T - Ws[1].T @ Ws[1] - D0))
    rec = res.arrays["bal_D1_drift"][0]
    have = np.isfinite(rec)
    expect = np.array([t % every in (0, 1) for t in range(T + 1)]) if every > 1 else np.ones(T + 1, bool)
    np.testing.assert_array_equal(have, expect)
    np.testing.assert_allclose(rec[have], np.array(drift)[have], rtol=1e-9, atol=1e-15)
    v = res.violations()
    assert v["balanced_D1_step"] == 0
    assert v["balanced_D1_step_steps_applicable"] == (T if every == 1 else len(range(0, T, every)))
