"""``convtool constants --model deep-linear`` and ``convtool generate zhao-xu`` (issue 7, Zhao & Xu).

Expected values come from independent computations in the test (numpy from the definitions) or from
the reading notes' Appendix G reproduction (beta = 1811.5, alpha = 428.7 at data seed 0; C3 = 6.8e5).
"""

from __future__ import annotations

import numpy as np
import pytest

from clihelpers import assert_user_error, ok, strict_json  # tests/clihelpers.py

SMALL = ("--widths", "40")


def small_data(tmp_path, layers=None, rank_deficient=False):
    rng = np.random.default_rng(11)
    X = rng.normal(size=(30, 5))
    if rank_deficient:
        X = X[:, :3] @ rng.normal(size=(3, 5))
    Y = rng.normal(size=(30, 2))
    arrays = {"X": X, "Y": Y}
    for j, W in enumerate(layers or [], 1):
        arrays[f"W{j}"] = W
    path = tmp_path / "dln.npz"
    np.savez(path, **arrays)
    return path, X, Y


def test_generate_zhao_xu_reproduces_appendix_g_data(invoke, tmp_path):
    out = tmp_path / "zx.npz"
    ok(invoke("generate", "zhao-xu", "-o", out))
    with np.load(out) as f:
        X, Y = f["X"], f["Y"]
    assert X.shape == (1000, 128) and Y.shape == (1000, 10)
    s = np.linalg.svd(X, compute_uv=False)
    assert s[0] ** 2 == pytest.approx(1811.5, abs=0.05) and s[-1] ** 2 == pytest.approx(428.7, abs=0.05)


def test_constants_json_keys_and_values_against_numpy(invoke, tmp_path):
    rng = np.random.default_rng(2)
    layers = [rng.normal(size=(12, 5)), rng.normal(size=(9, 12)), rng.normal(size=(2, 9))]
    path, X, Y = small_data(tmp_path, layers)
    d = strict_json(ok(invoke("constants", path, "--model", "deep-linear", "--json")).stdout)
    for key in ("rank_X", "alpha", "beta", "kappa", "lstar", "E0", "dist0_X_sq", "Wstar_X_sq", "B_delta", "C0",
                "N_distinct", "Delta_1", "eta_thm1", "eta_cor3", "eta1", "eta0_c", "eta", "q", "c1_hat", "c2_hat",
                "M_hat", "width_C1", "width_C2", "width_C3", "width_C4", "width_C5", "width_C6"):
        assert key in d, key
    # oracle: the paper's definitions, with the paper's column layout
    Xp, Yp = X.T, Y.T
    ev = np.linalg.eigvalsh(Xp @ Xp.T)
    alpha, beta = ev[ev > 1e-9 * ev[-1]].min(), ev[-1]
    assert d["alpha"] == pytest.approx(alpha, rel=1e-12) and d["beta"] == pytest.approx(beta, rel=1e-12)
    aN = 1 / np.sqrt(12 * 9 * 2)
    V0 = aN * layers[2] @ layers[1] @ layers[0]
    Wst = Yp @ np.linalg.pinv(Xp)
    L = lambda W: 0.5 * np.sum((W @ Xp - Yp) ** 2)  # noqa: E731
    assert d["lstar"] == pytest.approx(L(Wst), rel=1e-10)
    assert d["E0"] == pytest.approx(L(V0) - L(Wst), rel=1e-9)
    assert d["dist0_X_sq"] == pytest.approx(np.sum((V0 - Wst) ** 2), rel=1e-9)  # X full row rank: P_X = I
    assert d["eta_thm1"] == pytest.approx(2 / (beta * 3), rel=1e-12) and d["eta"] == d["eta_thm1"]
    es = 3 * d["eta"] / 2
    assert d["q"] == pytest.approx(max((1 - alpha * es) ** 2, (1 - beta * es) ** 2), rel=1e-12)
    B = 2 * 5 / 0.1 + np.sum(Wst ** 2)
    assert d["B_delta"] == pytest.approx(B, rel=1e-10)
    C0 = 12 / 9
    assert d["width_C1"] == pytest.approx(2 * (beta / alpha) ** 2 * B * C0 + np.log(3), rel=1e-10)
    assert d["width_C2"] == pytest.approx(2 * (beta / alpha) ** 2 * B * C0 + C0 * np.log(2), rel=1e-10)
    assert d["N_distinct"] == 2 and d["Delta_1"] == pytest.approx(1 / 12 + 1 / 9)
    assert d["init"] == "file"


def test_default_instance_matches_the_notes(invoke):
    d = strict_json(ok(invoke("constants", "--model", "deep-linear", *SMALL, "--json")).stdout)
    assert d["beta"] == pytest.approx(1811.5, abs=0.05) and d["kappa"] == pytest.approx(4.225, abs=5e-4)
    assert d["width_C3"] == pytest.approx(6.8e5, rel=0.01)  # notes 4.3: C3 = n_N kappa^2 B_delta at delta = 0.1
    assert d["q"] == pytest.approx((1 - 1 / d["kappa"]) ** 2, rel=1e-12)  # eta_* = 1/beta


def test_c4_to_c6_not_applicable_beyond_eta0(invoke):
    # with eta = eta_thm1, eta < eta0(c) fails for c >= ln 2 / 2: C4-C6 are reported n/a with the reason
    d = strict_json(ok(invoke("constants", "--model", "deep-linear", *SMALL, "--c", "0.4", "--json")).stdout)
    for k in ("width_C4", "width_C5", "width_C6", "rate_thm4_proof"):
        assert d[k] is None and "eta0_c" in d["not_applicable"][k]
    d = strict_json(ok(invoke("constants", "--model", "deep-linear", *SMALL, "--c", "0.3", "--json")).stdout)
    assert isinstance(d["width_C4"], float)


def test_depth_two_has_no_M_hat(invoke):
    d = strict_json(ok(invoke("constants", "--model", "deep-linear", "--depth", "2", *SMALL, "--json")).stdout)
    assert d["M_hat"] is None and "depth N = 2" in d["not_applicable"]["M_hat"]


def test_balanced_init_has_zero_region_parameters(invoke):
    d = strict_json(ok(invoke("constants", "--model", "deep-linear", "--init", "balanced", "--widths", "130",
                              "--json")).stdout)
    assert abs(d["c1_hat"]) < 1e-10 and abs(d["c2_hat"]) < 1e-10
    assert [c for c in d["checks"] if c["name"].startswith("width for")][0]["ok"] is False


def test_table_renders_every_number_at_several_widths(invoke):
    d = strict_json(ok(invoke("constants", "--model", "deep-linear", *SMALL, "--json")).stdout)
    for cols in ("60", "80", "200"):
        out = ok(invoke("constants", "--model", "deep-linear", *SMALL, env={"COLUMNS": cols})).stdout
        for key in ("alpha", "beta", "width_C3", "q"):
            assert repr(d[key]) in out, (cols, key)


def test_narrow_hidden_layer_warns(invoke, tmp_path):
    r = ok(invoke("constants", "--model", "deep-linear", "--widths", "3", "--json"))
    assert "Warning:" in r.stderr and "below max(n_0, n_N)" in r.stderr


@pytest.mark.parametrize("case,fragment", [
    ("chain", "W_2"), ("nan", "W_1"), ("depth1", "depth 1"), ("gap", "without gaps")])
def test_bad_layer_files(invoke, tmp_path, case, fragment):
    rng = np.random.default_rng(0)
    W1, W2 = rng.normal(size=(7, 5)), rng.normal(size=(2, 7))
    if case == "chain":
        layers = [W1, rng.normal(size=(2, 6))]
    elif case == "nan":
        W1[0, 0] = np.nan
        layers = [W1, W2]
    elif case == "depth1":
        layers = [rng.normal(size=(2, 5))]
    else:
        path, _, _ = small_data(tmp_path)
        with np.load(path) as f:
            arrays = dict(f)
        np.savez(path, **arrays, W1=W1, W3=W2)
        assert_user_error(invoke("constants", path, "--model", "deep-linear"), fragment)
        return
    path, _, _ = small_data(tmp_path, layers)
    assert_user_error(invoke("constants", path, "--model", "deep-linear"), fragment)


def test_options_of_the_other_model_are_refused(invoke):
    assert_user_error(invoke("constants", "--depth", "3"), "deep-linear only")
    assert_user_error(invoke("constants", "--model", "deep-linear", "--eta0", "0.1"), "two-layer model only")
    assert_user_error(invoke("constants", "--model", "deep-linear", "--init", "xavier"), "deep-linear init")
    assert_user_error(invoke("constants", "--model", "deep-linear", "--widths", "10,20,30"), "hidden widths")


def test_rank_deficient_X_uses_the_smallest_nonzero_eigenvalue(invoke, tmp_path):
    path, X, _ = small_data(tmp_path, rank_deficient=True)
    d = strict_json(ok(invoke("constants", path, "--model", "deep-linear", *SMALL, "--json")).stdout)
    s = np.linalg.svd(X, compute_uv=False)
    assert d["rank_X"] == 3 and d["alpha"] == pytest.approx(s[2] ** 2, rel=1e-10)


# ------------------------------------------------------------------ run / compare --model deep-linear

def oracle_dln_gd(X, Y, layers, eta, steps):
    """Plain numpy eq. (7) on the unscaled W_j, paper layout; returns E_DLN(t) and the convex GD gap E(t)."""
    Xp, Yp = X.T, Y.T
    Ws = [W.copy() for W in layers]
    aN = 1 / np.sqrt(np.prod([W.shape[0] for W in Ws]))
    N, nN = len(Ws), Ws[-1].shape[0]
    Wst = Yp @ np.linalg.pinv(Xp)
    L = lambda W: 0.5 * np.sum((W @ Xp - Yp) ** 2)  # noqa: E731
    def prod(ws):
        P = np.eye(ws[0].shape[1])
        for W in ws:
            P = W @ P
        return P
    V = aN * prod(Ws)
    Wc = V.copy()
    E, Ec = [L(V) - L(Wst)], [L(Wc) - L(Wst)]
    es = N * eta / nN
    for _ in range(steps):
        G = (aN * prod(Ws) @ Xp - Yp) @ Xp.T
        grads = []
        for j in range(N):
            left = prod(Ws[j + 1:]) if j + 1 < N else np.eye(nN)
            right = prod(Ws[:j]) if j > 0 else np.eye(Xp.shape[0])
            grads.append(aN * left.T @ G @ right.T)
        Ws = [W - eta * g for W, g in zip(Ws, grads)]
        Wc = Wc - es * (Wc @ Xp - Yp) @ Xp.T
        E.append(L(aN * prod(Ws)) - L(Wst))
        Ec.append(L(Wc) - L(Wst))
    return np.array(E), np.array(Ec)


def test_run_deep_linear_matches_a_numpy_loop(invoke, tmp_path):
    rng = np.random.default_rng(4)
    layers = [rng.normal(size=(40, 5)), rng.normal(size=(40, 40)), rng.normal(size=(2, 40))]
    path, X, Y = small_data(tmp_path, layers)
    out = tmp_path / "run.npz"
    d = strict_json(ok(invoke("run", path, "--model", "deep-linear", "--steps", "15", "--json", "--out", out)).stdout)
    beta = np.linalg.svd(X, compute_uv=False)[0] ** 2
    eta = 2 / (3 * beta)  # thm1: n_N/(N beta)
    assert d["summary"]["schedule"] == "thm1" and d["summary"]["mean_eta"] == pytest.approx(eta, rel=1e-12)
    E, Ec = oracle_dln_gd(X, Y, layers, eta, 15)
    with np.load(out) as f:
        np.testing.assert_allclose(f["loss"], E, rtol=1e-8)
        np.testing.assert_allclose(f["E_cvx"], Ec, rtol=1e-8)
        assert f["W1_0"].shape == (40, 5) and f["W3_T"].shape == (2, 40)
    v = d["summary"]["violations"]
    assert v["cvx_q"] == 0 and v["cvx_q_steps_applicable"] == 15
    assert v["thm1_steps_applicable"] == 0 and "no init family" in v["thm1_not_applicable"]


@pytest.mark.parametrize("schedule", ["cor3", "backtracking", "adgd"])
def test_run_deep_linear_schedules(invoke, tmp_path, schedule):
    # a wide orthogonal network on small data is stable under each schedule (narrow ones diverge, App. G)
    path, _, _ = small_data(tmp_path)
    d = strict_json(ok(invoke("run", path, "--model", "deep-linear", "--widths", "200", "--init", "orthogonal",
                              "--schedule", schedule, "--steps", "10", "--tol", "1e-300", "--json")).stdout)
    s = d["summary"]
    assert s["schedule"] == schedule and s["status"] == {"max_steps": 1} and s["steps"] == [10]
    assert s["final_loss"][0] < d["zhao_xu_constants"]["E0"]


def test_run_deep_linear_constant_needs_eta(invoke):
    assert_user_error(invoke("run", "--model", "deep-linear", *SMALL, "--schedule", "constant"), "--eta")
    d = strict_json(ok(invoke("run", "--model", "deep-linear", *SMALL, "--schedule", "constant", "--eta", "1e-4",
                              "--steps", "5", "--json")).stdout)
    assert d["summary"]["mean_eta"] == pytest.approx(1e-4)


def test_run_two_layer_refuses_deep_linear_schedule(invoke):
    assert_user_error(invoke("run", "--width", "30", "--schedule", "thm1"), "deep-linear")


def test_run_deep_linear_table_shows_checks(invoke):
    out = ok(invoke("run", "--model", "deep-linear", "--widths", "200", "--init", "orthogonal", "--steps", "10",
                    env={"COLUMNS": "80"})).stdout
    for word in ("cvx_q", "lemma5", "thm2", "thm1", "E_cvx(T)/E_cvx(0)"):
        assert word in out


def test_run_deep_linear_seeds(invoke):
    d = strict_json(ok(invoke("run", "--model", "deep-linear", *SMALL, "--seeds", "3", "--steps", "5",
                              "--json")).stdout)
    assert d["summary"]["seeds"] == 3 and len(set(d["summary"]["final_loss"])) == 3


def test_compare_widths_distance_shrinks(invoke):
    d = strict_json(ok(invoke("compare", "--model", "deep-linear", "--compare-widths", "150,600", "--init",
                              "orthogonal", "--steps", "20", "--json")).stdout)
    rows = d["rows"]
    assert [r["width"] for r in rows] == [150, 600]
    assert rows[1]["dist_ratio_max"] < rows[0]["dist_ratio_max"]
    for r in rows:
        assert r["violations"]["cvx_q"] == 0 and r["violations"]["lemma5"] == 0 and r["violations"]["thm2"] == 0


def test_compare_deep_linear_bad_options(invoke):
    assert_user_error(invoke("compare", "--model", "deep-linear", "--compare-widths", "a,b"), "--compare-widths")
    assert_user_error(invoke("compare", "--compare-widths", "10"), "deep-linear only")
    assert_user_error(invoke("compare", "--model", "deep-linear", "--schedules", "thm1,cor3"), "one schedule")


def test_schedule_deep_linear_steps(invoke):
    d = strict_json(ok(invoke("schedule", "--model", "deep-linear", *SMALL, "--json")).stdout)
    c = strict_json(ok(invoke("constants", "--model", "deep-linear", *SMALL, "--json")).stdout)
    rows = {r["step"]: r for r in d["steps"]}
    a, b = c["alpha"], c["beta"]
    assert rows["eta_thm1"]["eta_star"] == pytest.approx(1 / b, rel=1e-12)
    assert rows["eta_cor3"]["eta_star"] == pytest.approx(2 / (a + b), rel=1e-12)
    assert rows["eta_cor3"]["q"] == pytest.approx(((b / a - 1) / (b / a + 1)) ** 2, rel=1e-10)  # eq. (4)'s rate
    assert rows["eta1"]["q"] is None and "eta1" in rows["eta1"]["q_not_applicable"]  # q is defined for eta < eta1
    assert rows["eta0_c"]["eta_ratio"] == pytest.approx(1.0)
    assert_user_error(invoke("schedule", "--depth", "3"), "deep-linear only")


def test_deep_linear_plots(invoke, tmp_path):
    pytest.importorskip("matplotlib")
    ok(invoke("run", "--model", "deep-linear", *SMALL, "--steps", "8", "--plot", tmp_path / "r.png"))
    ok(invoke("compare", "--model", "deep-linear", "--compare-widths", "130,200", "--steps", "8",
              "--plot", tmp_path / "c.png"))
    for name in ("r.png", "c.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_loss_scale_mean_is_example_1(invoke, tmp_path):
    # Example 1's (1/M) ||W X - Y||_F^2: alpha, beta scale by 2/M; the step and every gap follow
    path, X, Y = small_data(tmp_path)
    s = strict_json(ok(invoke("constants", path, "--model", "deep-linear", *SMALL, "--json")).stdout)
    m = strict_json(ok(invoke("constants", path, "--model", "deep-linear", *SMALL, "--loss-scale", "mean",
                              "--json")).stdout)
    M = X.shape[0]
    for key in ("alpha", "beta", "lstar", "E0"):
        assert m[key] == pytest.approx(2 / M * s[key], rel=1e-12), key
    assert m["eta_thm1"] == pytest.approx(s["eta_thm1"] * M / 2, rel=1e-12) and m["kappa"] == pytest.approx(s["kappa"])
    r = strict_json(ok(invoke("run", path, "--model", "deep-linear", *SMALL, "--loss-scale", "mean", "--steps", "5",
                              "--json")).stdout)
    assert r["summary"]["mean_eta"] == pytest.approx(m["eta_thm1"], rel=1e-12)
