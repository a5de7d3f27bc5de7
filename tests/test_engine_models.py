"""The model-neutral engine (issue 7): deep linear runs against plain numpy oracles, the zhao-xu theory's
checks, and a new model run without touching the engine."""

from __future__ import annotations

import numpy as np
import pytest

from convtool.numeric.deep_linear import DeepLinear, init_layers
from convtool.numeric.engine import run
from convtool.numeric.losses import SquaredLoss
from convtool.numeric.theories import THEORIES_FOR_MODEL, theories_for
from convtool.numeric.theories.zhao_xu import THM1_NOT_MET, ScaledLoss, ZhaoXu


def _instance(M=8, d=4, k=2, seed=0):
    rng = np.random.default_rng(seed)
    X = np.linalg.qr(rng.normal(size=(M, d)))[0]           # orthonormal columns: alpha = beta = 1
    return X, rng.normal(size=(M, k))


def _numpy_dln(Ws, X, Y, eta, T):
    """Plain layer-wise GD (eq. 7) on 1/2 ||X (a_N W_N..W_1)^T - Y||^2, unscaled W's; losses (T+1,)."""
    Ws = [W.copy() for W in Ws]
    a = 1 / np.sqrt(np.prod([W.shape[0] for W in Ws], dtype=float))
    Wstar = np.linalg.lstsq(X, Y, rcond=None)[0]
    out = []
    for t in range(T + 1):
        P = Ws[0]
        for W in Ws[1:]:
            P = W @ P
        V = a * P                                             # (k, d)
        out.append(0.5 * np.sum((X @ (V.T - Wstar)) ** 2))
        if t == T:
            break
        G = (X.T @ (X @ V.T - Y)).T                            # grad wrt V (k, d)
        grads = []
        for j in range(len(Ws)):
            left = np.eye(Ws[-1].shape[0])
            for W in reversed(Ws[j + 1:]):
                left = left @ W
            right = np.eye(Ws[0].shape[1])
            for W in Ws[:j]:
                right = W @ right
            grads.append(a * left.T @ G @ right.T)
        Ws = [W - eta * g for W, g in zip(Ws, grads)]
    return np.array(out), Ws


def test_deep_linear_engine_equals_numpy_loop():
    X, Y = _instance()
    Ws = [W[0] for W in init_layers([4, 7, 6, 2], "gaussian", seed=3)]
    T, eta = 25, 0.05
    res = run(DeepLinear(Ws), SquaredLoss(X, Y), "constant", eta0=eta, steps=T, tol=1e-300)
    want, Ws_T = _numpy_dln(Ws, X, Y, eta, T)
    np.testing.assert_allclose(res.arrays["loss"][0], want, rtol=1e-10, atol=1e-14)
    for got, w in zip(res.state_T, Ws_T):
        np.testing.assert_allclose(got[0], w, rtol=1e-10, atol=1e-12)


def test_convex_companion_equals_numpy_gd_and_checks_hold():
    X, Y = _instance()
    mdl = DeepLinear(init_layers([4, 200, 200, 2], "orthogonal", seed=0))
    eta = 0.9 * 2 / 3                                          # eta_* = N eta / n_N = 0.9 < 2/beta = 2
    T = 30
    res = run(mdl, SquaredLoss(X, Y), "constant", theories=["zhao-xu"], eta0=eta, steps=T, tol=1e-300)
    loss = SquaredLoss(X, Y)
    Wc = mdl.product(mdl.init_state())[0].copy()
    es = 3 * eta / 2
    E = []
    for t in range(int(res.steps[0]) + 1):
        E.append(float(loss.excess(Wc)))
        Wc = Wc - es * loss.grad(Wc)
    np.testing.assert_allclose(res.arrays["E_cvx"][0], E, rtol=1e-10, atol=1e-30)
    v = res.violations()
    for key in ("cvx_q", "lemma5", "thm2"):
        assert v[key] == 0 and v[f"{key}_steps_applicable"] > 0, (key, v)
    assert v["thm1_steps_applicable"] == 0 and v["thm1_not_applicable"] == THM1_NOT_MET


def test_wrong_eta_is_not_applicable_and_diverges():
    X, Y = _instance()
    mdl = DeepLinear(init_layers([4, 50, 50, 2], "orthogonal", seed=0))
    eta = 3.0 * 2 * 2 / 3                                      # eta_* = 6 > 2/beta
    res = run(mdl, SquaredLoss(X, Y), "constant", theories=["zhao-xu"], eta0=eta, steps=500)
    v = res.violations()
    assert res.status == ["diverged"] or res.status == ["non_finite"]
    assert v["cvx_q_steps_applicable"] == 0 and v["lemma5_steps_applicable"] == 0


def test_lemma5_violation_detected_with_a_wrong_rate():
    """A theory that claims a rate q too small (eta_* taken 10x too small in q) is caught."""
    X, Y = _instance()
    mdl = DeepLinear(init_layers([4, 100, 100, 2], "orthogonal", seed=0))
    th = ZhaoXu()
    res = run(mdl, SquaredLoss(X, Y), "constant", theories=[th], eta0=0.3, steps=20, tol=1e-300)
    a = res.arrays
    wrong_q = a["q"] ** 4                                      # a bound that is too tight
    viol = a["cvx_q_applies"] & ~(a["cvx_X_sq"][:, 1:] <= wrong_q * a["cvx_X_sq"][:, :-1])
    assert viol.any()


def test_distance_smaller_at_larger_width():
    X, Y = _instance()
    out = []
    for n in (20, 400):
        mdl = DeepLinear(init_layers([4, n, n, 2], "gaussian", seed=1))
        res = run(mdl, SquaredLoss(X, Y), "constant", theories=["zhao-xu"], eta0=0.3, steps=40, tol=1e-300)
        out.append(np.nanmax(res.arrays["dist_X_sq"]))
    assert out[1] < out[0]


def test_scaled_loss_example1():
    X, Y = _instance()
    M = X.shape[0]
    mdl = DeepLinear(init_layers([4, 60, 60, 2], "orthogonal", seed=0))
    res = run(mdl, ScaledLoss(SquaredLoss(X, Y), 2 / M), "constant", theories=["zhao-xu"], eta0=1.0, steps=10)
    assert res.theory("zhao-xu").beta == pytest.approx(2 / M)


class OneLayer:
    """A toy third model, W itself (R, n, m): not known to the engine."""

    name = "one layer"

    def __init__(self, W0):
        self.W0 = np.array(W0, dtype=float, ndmin=3)
        self.R, self.n, self.m = self.W0.shape

    def init_state(self):
        return (self.W0.copy(),)

    def product(self, state):
        return state[0]

    def param_grads(self, state, Gl):
        return (np.asarray(Gl),)

    def step(self, state, grads, eta):
        return (state[0] - np.asarray(eta)[:, None, None] * grads[0],)

    def grad_sq(self, state, grads):
        return np.sum(grads[0] ** 2, axis=(-2, -1))

    def full_weights(self, state):
        return (state[0].copy(),)


@pytest.mark.parametrize("schedule,opts", [("constant", {}), ("backtracking", {}), ("adgd", {"lam0": 0.1})])
def test_toy_model_runs_without_engine_changes(schedule, opts):
    X, Y = _instance()
    loss = SquaredLoss(X, Y)
    res = run(OneLayer(np.zeros((4, 2))), loss, schedule, eta0=0.5 if schedule == "constant" else None,
              schedule_options=opts, steps=200)
    assert res.status == ["converged"] and res.violations() == {}
    if schedule == "constant":                                # plain GD, by hand
        W = np.zeros((4, 2))
        for _ in range(3):
            W = W - 0.5 * loss.grad(W)
        np.testing.assert_allclose(res.arrays["loss"][0, 3], loss.excess(W), rtol=1e-12)


def test_registry():
    assert {k: THEORIES_FOR_MODEL[k] for k in ("two-layer", "deep-linear", "mlp")} == {
        "two-layer": ["local-pl", "du-hu-lee"], "deep-linear": ["zhao-xu", "du-hu-lee"],
        "mlp": ["du-hu-lee"]}  # issue 9: one balancedness theory on every model
    assert THEORIES_FOR_MODEL["shallow"] == ["song-et-al"]
    assert THEORIES_FOR_MODEL["resnet"] == ["zou-long-gu", "du-hu-lee"]  # not applicable with skips, in words
    assert [th.key for th in theories_for("deep-linear")] == ["zhao-xu", "du-hu-lee"]


def test_run_result_notebook_views():
    """RunResult has a short repr, an HTML summary and a long per-step DataFrame (issue 12)."""
    from convtool.numeric.engine import run_gd
    from convtool.numeric.experiments import default_batch

    b = default_batch(seeds=2, h=20)
    res = run_gd(b.losses, b.W1, b.W2, steps=15)
    text = repr(res)
    assert text.startswith("RunResult(") and "schedule=adaptive" in text and "R=2" in text and len(text) < 300
    html = res._repr_html_()
    assert html.startswith("<div>") and "observed_rate" in html
    df = res.to_frame()
    T = res.arrays["loss"].shape[1]
    assert len(df) == 2 * T and {"loss", "eta"} <= set(df.columns)
    assert df["loss"].iloc[0] == res.arrays["loss"][0, 0]


def test_plugin_json_carries_provenance():
    from click.testing import CliRunner

    from convtool.cli.main import cli
    from tests.clihelpers import ok, strict_json

    for args in (["constants", "--model", "resnet", "--json"], ["run", "--model", "resnet", "--steps", "2", "--json"]):
        doc = strict_json(ok(CliRunner().invoke(cli, args)).stdout)
        assert {"command", "seed", "versions"} <= set(doc["provenance"])
