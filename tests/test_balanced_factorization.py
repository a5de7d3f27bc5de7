"""Du, Hu & Lee's matrix factorization (Theorem 3.1, Lemmas 3.1, 3.2) and rank-1 case (Theorem 3.2) on two-layer
runs with the factorization loss; oracles by hand from the paper's formulas (issue 9)."""

from __future__ import annotations

import numpy as np
import pytest

from clihelpers import assert_user_error, ok, strict_json  # tests/clihelpers.py
from convtool.numeric import factorization as fx
from convtool.numeric.losses import FactorizationLoss


def _mf(seed=0, d1=8, d2=6, r=3, scale=None):
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(d1, r)) @ rng.normal(size=(r, d2))
    Mf = np.linalg.norm(M)
    eps = 0.5 * Mf
    s = np.sqrt(eps / (10 * max(d1, d2) ** 2)) if scale is None else scale
    return M, rng.normal(size=(d1, r)) * s, rng.normal(size=(d2, r)) * s, eps


def test_claim_b1_corrected_one_step_identity():
    # eq. (13) with the typo fixed: D_{t+1} - D_t = eta^2 (V^T R^T R V - U^T R R^T U)
    M, U, V, _ = _mf(1, scale=0.7)
    eta = 0.03
    R = U @ V.T - M
    U1, V1 = U - eta * R @ V, V - eta * R.T @ U
    D = lambda a, b: a.T @ a - b.T @ b  # noqa: E731
    np.testing.assert_allclose(D(U1, V1) - D(U, V), eta ** 2 * (V.T @ R.T @ R @ V - U.T @ R @ R.T @ U), atol=1e-12)


def test_duhulee_schedule_keeps_balancedness_and_lemma31_claims():
    M, U0, V0, eps = _mf()
    res = fx.run_two_layer(FactorizationLoss(M), U0, V0, schedule="duhulee", schedule_options={"eps": eps},
                           steps=300, tol=1e-300)
    Mf = np.linalg.norm(M)
    t = np.arange(300)
    np.testing.assert_allclose(res.arrays["eta"][0], np.sqrt(eps / 3) / (100 * (t + 1) * Mf ** 1.5), rtol=1e-14)
    v = res.violations()
    for key in ("dhl_L31_i", "dhl_L31_ii", "dhl_L31_iii", "dhl_eq13_worst", "dhl_eq13_data", "balanced_D1_step"):
        assert v[key] == 0 and v[f"{key}_steps_applicable"] == 300, key
    fxs = res.summary()["factorization"]
    assert fxs["not_applicable"] is None and all(c["ok"] for c in fxs["preconditions"])
    # oracle: ||D_t||_F from the final full-width weights, below eps; tau_T by hand
    U, V = res.W1_T[0], res.W2_T[0]
    assert np.linalg.norm(U.T @ U - V.T @ V) <= eps
    assert fxs["tau_T"] == pytest.approx(res.arrays["eta"][0].sum(), rel=1e-12)
    assert fxs["D_fro_max"] <= fxs["eq13_data_bound"] <= fxs["eq13_worst_bound"] * (1 + 1e-12)


def test_footnote11_constant_and_its_refusal():
    from scipy.special import zeta

    M, U0, V0, eps = _mf()
    Mf, r = np.linalg.norm(M), 3
    D0 = np.linalg.norm(U0.T @ U0 - V0.T @ V0)
    want = min(np.sqrt((eps - D0) / (40 * np.sqrt(r) * Mf ** 3 * zeta(1.5))), 1 / ((66 * np.sqrt(r) + 2) * Mf))
    assert float(fx.duhulee_c_eta(Mf, r, eps, 0.25, D0)) == pytest.approx(want, rel=1e-13)
    res = fx.run_two_layer(FactorizationLoss(M), U0, V0, schedule="duhulee", schedule_options={"eps": eps, "delta": 0.25},
                           steps=50, tol=1e-300)
    np.testing.assert_allclose(res.arrays["eta"][0], want * (np.arange(50) + 1.0) ** -0.75, rtol=1e-13)
    with pytest.raises(Exception, match="needs \\|\\|D_0\\|\\|_F < eps"):
        fx.duhulee_c_eta(Mf, r, 0.1 * D0, 0.25, D0)


def test_procrustes_and_hessian_form():
    M, _, _, _ = _mf(3)
    Us, Vs = fx.balanced_optimum(M, 3)
    Q = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0]
    dist, DU, DV = fx.procrustes(Us @ Q, Vs @ Q, M, 3)
    assert dist == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(Us @ Vs.T, M, atol=1e-12)
    # eq. (12) = second derivative of f along (DU, DV), by central differences
    rng = np.random.default_rng(1)
    U, V, DU, DV = rng.normal(size=(8, 3)), rng.normal(size=(6, 3)), rng.normal(size=(8, 3)), rng.normal(size=(6, 3))
    f = lambda s: 0.5 * np.sum(((U + s * DU) @ (V + s * DV).T - M) ** 2)  # noqa: E731
    h = 1e-4
    assert fx.hessian_form(U, V, M, DU, DV) == pytest.approx((f(h) - 2 * f(0) + f(-h)) / h ** 2, rel=1e-6)


def test_lemma32_certifies_a_balanced_saddle():
    M, _, _, _ = _mf(4)
    P, S, Qt = np.linalg.svd(M, full_matrices=False)
    s = np.sqrt(S[:3]) * np.array([1.0, 1.0, 0.0])   # drop the third direction: stationary, balanced, not optimal
    U, V = P[:, :3] * s, Qt[:3].T * s
    R = U @ V.T - M
    assert np.linalg.norm(R @ V) < 1e-12 and np.linalg.norm(R.T @ U) < 1e-12
    eps = 0.5 * S[2]
    cert = fx.saddle_certificate(U, V, M, eps, 0.0, 1e-10)
    assert cert["residual_fro"] == pytest.approx(S[2], rel=1e-12)
    assert cert["hessian_form"] <= cert["bound"] < 0 and "strict saddle certified" in cert["note"]


def _rank1(seed=0, d1=9, d2=6, s1=3.0, c_init=0.01):
    rng = np.random.default_rng(seed)
    u, v = rng.normal(size=d1), rng.normal(size=d2)
    M = s1 * np.outer(u / np.linalg.norm(u), v / np.linalg.norm(v))
    std = c_init * np.sqrt(s1 / max(d1, d2))
    U0, V0 = std * rng.normal(size=(d1, 1)), std * rng.normal(size=(d2, 1))
    return M, U0, V0


def _signs(M, U0, V0):
    P, S, Qt = np.linalg.svd(M)
    return float(U0[:, 0] @ P[:, 0]) * float(V0[:, 0] @ Qt[0])   # alpha_0 beta_0, invariant under the flip


def test_rank1_init_condition_alpha0_beta0_positive_is_checked():
    for seed in range(20):
        M, U0, V0 = _rank1(seed)
        res = fx.run_two_layer(FactorizationLoss(M), U0, V0, schedule="rank1", steps=2, tol=1e-20)
        cond = res.summary()["factorization"]["rank1"]["init_conditions"][2]
        assert cond["ok"] == (_signs(M, U0, V0) > 0)


def test_rank1_recurrences_match_the_iterates_and_stage1_bound():
    seed = next(s for s in range(50) if _signs(*_rank1(s)) > 0)
    M, U0, V0 = _rank1(seed)
    c = 0.1
    res = fx.run_two_layer(FactorizationLoss(M), U0, V0, schedule="rank1", schedule_options={"c_step": c},
                           steps=400, tol=1e-20)
    v = res.violations()
    assert v["dhl_rank1_recurrence"] == 0 and v["dhl_rank1_recurrence_steps_applicable"] > 100
    a = res.arrays
    assert np.nanmax(a["r1_rec_err"]) < 1e-12
    assert res.arrays["eta"][0, 0] == pytest.approx(c / 3.0, rel=1e-12)
    # the rank-1 residual identity (notes Sec. 2.3) on the recorded state
    al, be, ap, bp, h = (a[f"r1_{k}"][0] for k in ("alpha", "beta", "alpha_perp", "beta_perp", "h"))
    ok_ = np.isfinite(al)
    lhs = 2 * a["loss"][0][ok_]
    rhs = (h ** 2 + al ** 2 * bp ** 2 + be ** 2 * ap ** 2 + ap ** 2 * bp ** 2)[ok_]
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-14)
    r1 = res.summary()["factorization"]["rank1"]
    assert r1["T1"] <= r1["T1_bound"]
    assert r1["init_conditions"][2]["ok"]
    assert all(w["held"] == "yes" for w in r1["windows"])
    assert r1["observed_rate"] == pytest.approx(1 - c, abs=0.02)   # notes: 1 - c_step when balanced


def test_rank1_refused_on_a_rank3_target():
    M, U0, V0, _ = _mf()
    with pytest.raises(Exception, match="rank-1 target and width h = 1"):
        fx.run_two_layer(FactorizationLoss(M), U0, V0, schedule="rank1", steps=3)


# ------------------------------------------------------------------ CLI

def _file(tmp_path, M, name="mf.npz"):
    p = tmp_path / name
    np.savez(p, Y=M)
    return str(p)


def test_cli_eps_above_norm_runs_and_says_not_applicable(invoke, tmp_path):
    M, _, _, _ = _mf()
    path = _file(tmp_path, M)
    big = 2 * np.linalg.norm(M)
    args = ("run", path, "--loss", "factorization", "--width", "3", "--std", "0.01", "--schedule", "duhulee",
            "--eps", str(big), "--steps", "10")
    r = ok(invoke(*args))
    assert "not applicable" in r.stdout and "0 < eps < ||M*||_F" in r.stdout
    d = strict_json(ok(invoke(*args, "--json")).stdout)
    assert "precondition fails: 0 < eps < ||M*||_F" in d["summary"]["factorization"]["not_applicable"]
    assert d["summary"]["violations"]["dhl_L31_i_steps_applicable"] == 0


def test_cli_rank1_on_rank3_is_exit_2_and_works_on_rank1(invoke, tmp_path):
    M, _, _, _ = _mf()
    assert_user_error(invoke("run", _file(tmp_path, M), "--loss", "factorization", "--width", "3", "--schedule",
                             "rank1", "--c-step", "0.1", "--steps", "3"), "rank-1 target")
    M1, _, _ = _rank1()
    d = strict_json(ok(invoke("run", _file(tmp_path, M1, "r1.npz"), "--loss", "factorization", "--width", "1",
                              "--std", "0.003", "--schedule", "rank1", "--c-step", "0.2", "--steps", "200",
                              "--json")).stdout)
    assert d["summary"]["factorization"]["rank1"]["recurrence_max_err"] < 1e-12


@pytest.mark.parametrize("args,frag", [
    (("--eps", "1"), "apply to the two-layer model with --loss factorization"),
    (("--loss", "factorization", "--delta", "0.2"), "--delta applies to --schedule duhulee"),
    (("--loss", "factorization", "--schedule", "duhulee"), "needs --eps"),
    (("--loss", "factorization", "--schedule", "duhulee", "--eps", "1", "--delta", "0.9"), "delta must lie in"),
    (("--loss", "factorization", "--c-step", "0.1"), "--c-step applies to --schedule rank1"),
])
def test_cli_factorization_option_errors(invoke, tmp_path, args, frag):
    M, _, _, _ = _mf()
    path = _file(tmp_path, M)
    if "--loss" not in args:
        rng = np.random.default_rng(0)
        path = str(tmp_path / "sq.npz")
        np.savez(path, X=rng.normal(size=(10, 3)), Y=rng.normal(size=(10, 2)))
    assert_user_error(invoke("run", path, "--width", "3", "--steps", "3", *args), frag)


def test_cli_constants_factorization(invoke, tmp_path):
    M, _, _, _ = _mf()
    path = _file(tmp_path, M)
    d = strict_json(ok(invoke("constants", path, "--loss", "factorization", "--width", "3", "--std", "0.01",
                              "--eps", "2", "--json")).stdout)
    c = d["du_hu_lee"]
    assert c["rank_M"] == 3 and c["M_fro"] == pytest.approx(np.linalg.norm(M), rel=1e-12)
    assert c["c_eta_thm31"] == pytest.approx(np.sqrt(2 / 3) / (100 * np.linalg.norm(M) ** 1.5), rel=1e-13)
    assert c["not_applicable"] is None and [p["ok"] for p in c["preconditions"]] == [True] * 5
    r = ok(invoke("constants", path, "--loss", "factorization", "--width", "3", "--std", "0.01", "--eps", "2"))
    assert "Theorem 3.1" in r.stdout


def test_notes_correction_hessian_at_an_optimum_sees_sigma_max_of_U_with_Delta_U_zero():
    # notes Sec. 1.4 say: "taking Delta_U = 0 shows lambda_max >= sigma_max(V)^2"; with Delta_U = 0 the form (12)
    # at R = 0 is ||U Delta_V^T||_F^2, whose maximum over unit Delta_V is sigma_max(U)^2 (Delta_V = 0 gives V's)
    M, _, _, _ = _mf(5)
    Us, Vs = fx.balanced_optimum(M, 3)
    U, V = 10.0 * Us, Vs / 10.0             # the rescaling keeps f = 0 and makes U large, V small
    P, S, Qt = np.linalg.svd(U, full_matrices=False)
    DV = np.zeros_like(V)
    DV[0] = Qt[0]                           # unit Delta_V along U's top right singular vector
    form = fx.hessian_form(U, V, M, np.zeros_like(U), DV)
    assert form == pytest.approx(S[0] ** 2, rel=1e-10)
    assert form > 100 * np.linalg.norm(V, 2) ** 2
