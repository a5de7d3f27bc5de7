"""CLI of the linear ResNet (issue 8): constants / run / compare --model resnet, generate zou-long-gu, widths and
explain rows, every new option and the bad inputs (one-line errors, exit 2). Expected values are computed here
from the definitions (paper layout) or taken from the reading notes' Section 5 reproduction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from clihelpers import assert_user_error, ok, strict_json  # tests/clihelpers.py

KEYS = ("rank_X", "X_norm", "sigma_r", "kappa", "X_fro", "X_2inf", "Y_fro", "lstar", "L0", "Delta0", "lambda_A",
        "mu_A", "lambda_B", "mu_B", "Gamma", "thm31_margin", "eta_thm31", "eta_thm31_printed", "rho_thm31", "T_eps",
        "R_GD", "region", "beta_smooth0", "m_prop33", "m_cor34", "thm36_margin", "eta_thm36", "T_thm36",
        "thm38_margin", "eta_thm38", "alpha_star")


def small(tmp_path, name="r.npz", m=5, d=3, k=2, n=30, **extra):
    rng = np.random.default_rng(8)
    X, Y = rng.normal(size=(n, d)), rng.normal(size=(n, k))
    arrays = {"X": X, "Y": Y, "A": rng.normal(size=(m, d)), "B": rng.normal(size=(k, m)), **extra}
    arrays = {key: v for key, v in arrays.items() if v is not None}
    path = tmp_path / name
    np.savez(path, **arrays)
    return path, arrays


def test_constants_json_keys_and_values(invoke, tmp_path):
    path, a = small(tmp_path)
    d = strict_json(ok(invoke("constants", path, "--model", "resnet", "--depth", "3", "--json")).stdout)
    for key in KEYS:
        assert key in d, key
    Xp, Yp, A, B = a["X"].T, a["Y"].T, a["A"], a["B"]
    assert d["L0"] == pytest.approx(0.5 * np.sum((B @ A @ Xp - Yp) ** 2), rel=1e-12)
    lA, lB = np.linalg.norm(A, 2), np.linalg.norm(B, 2)
    X2 = np.linalg.norm(Xp, 2)
    e = math.e
    assert d["eta_thm31"] == pytest.approx(1 / (2 * 3 * lA * lB * X2 * (math.sqrt(2 * e * d["L0"]) + e / 2 * lA * lB
                                                                          * X2)), rel=1e-12)
    assert d["region"] == pytest.approx(0.5 / 3) and d["transform"] == "file"
    assert d["thm38_margin"] is None and "L(W*) = 0" in d["not_applicable"]["thm38_margin"]
    assert "eta_thm31" in d["derived"] and "R_GD" not in d["derived"]


def test_constants_default_instance_matches_the_notes(invoke):
    d = strict_json(ok(invoke("constants", "--model", "resnet", "--transform", "modified-identity", "--json")).stdout)
    # notes Appendix Z (seed 0 draw of Section 5's data): ||X||_2 = 34.44, sigma_r = 29.03, L* = 48.9
    assert d["X_norm"] == pytest.approx(34.44, abs=0.005) and d["sigma_r"] == pytest.approx(29.03, abs=0.005)
    assert d["lstar"] == pytest.approx(48.9, abs=0.05)
    assert d["thm31_margin"] == pytest.approx(0.0137, abs=5e-5) and d["alpha_star"] == pytest.approx(73.22, abs=0.01)
    assert d["eta_thm31"] == pytest.approx(6.83e-6, rel=1e-3) and d["rho_thm31"] == pytest.approx(0.0212, abs=5e-5)
    assert d["m_cor34"] == pytest.approx(2.27e7, rel=0.01)


def test_constants_m_below_d_says_which_theorem_no_longer_applies(invoke, tmp_path):
    path, _ = small(tmp_path, m=2)
    r = ok(invoke("constants", path, "--model", "resnet", "--depth", "2", "--json"))
    d = strict_json(r.stdout)
    assert d["mu_A"] == 0.0 and d["thm31_margin"] is None
    assert "m = 2 < d = 3" in d["not_applicable"]["thm31_margin"]
    assert "Theorems 3.1, 3.6 and 3.8 do not apply" in d["not_applicable"]["thm31_margin"]
    table = ok(invoke("constants", path, "--model", "resnet", "--depth", "2")).stdout
    assert "m = 2 < d = 3" in " ".join(table.split())


@pytest.mark.parametrize("cols", ["60", "80"])
def test_constants_table_never_truncates(invoke, tmp_path, cols):
    path, _ = small(tmp_path)
    d = strict_json(ok(invoke("constants", path, "--model", "resnet", "--depth", "3", "--json")).stdout)
    out = ok(invoke("constants", path, "--model", "resnet", "--depth", "3", env={"COLUMNS": cols})).stdout
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= int(cols)
    for key in ("eta_thm31", "Gamma", "m_cor34", "beta_smooth0"):
        assert repr(float(d[key])) in out, key


@pytest.mark.parametrize("args,extra,frags", [
    (("--depth", "2"), dict(A=np.ones((5, 4))), ["A must be (m, d) with d = 3"]),
    (("--depth", "2"), dict(B=np.ones((3, 5))), ["B must be (k, m) with k = 2"]),
    (("--depth", "2"), dict(B=np.ones((2, 6))), ["A's rows and B's columns"]),
    (("--depth", "2"), dict(B=None), ["holds A but not B"]),
    (("--depth", "2", "--batch", "31"), {}, ["--batch 31 is larger than the number of samples n = 30"]),
    ((), dict(W=np.zeros((0, 5, 5))), ["L = 0 layers"]),
    ((), dict(W=np.zeros((2, 4, 4))), ["W must be (L, m, m) with m = 5"]),
    (("--depth", "2", "--transform", "identity"), {}, ["applies only to generated transforms"]),
    (("--depth", "2", "--widths", "4"), {}, ["--widths does not apply to --model resnet"]),
], ids=["A", "B", "m", "only A", "batch>n", "L=0", "W shape", "transform+file", "foreign option"])
def test_bad_input_is_one_line(invoke, tmp_path, args, extra, frags):
    path, _ = small(tmp_path, **extra)
    assert_user_error(invoke("constants", path, "--model", "resnet", *args), *frags)


def test_generated_transform_option_errors(invoke):
    assert_user_error(invoke("constants", "--model", "resnet", "--transform", "identity", "--alpha", "2"),
                      "--alpha applies to --transform gaussian")
    assert_user_error(invoke("constants", "--model", "resnet", "--transform", "modified-identity", "--hidden", "15"),
                      "m >= d + k = 20")
    assert_user_error(invoke("constants", "--model", "resnet", "--hidden-std", "0.1"), "--hidden-std applies to "
                      "--no-skip")
    assert_user_error(invoke("constants", "--model", "two-layer", "--batch", "3"), "--batch does not apply")
    r = invoke("constants", "--model", "resnet", "--depth", "0")
    assert r.exit_code == 2 and "Traceback" not in r.output  # click's own range check


def test_run_json_out_and_schedules(invoke, tmp_path):
    path, a = small(tmp_path, m=6)
    out = tmp_path / "run.npz"
    j = strict_json(ok(invoke("run", path, "--model", "resnet", "--depth", "3", "--steps", "30", "--json",
                              "--out", out)).stdout)
    z = j["summary"]["zou_long_gu"]
    assert j["schedule"]["name"] == "thm31" and j["config"]["depth"] == 3
    assert j["summary"]["mean_eta"] == pytest.approx(z["eta_thm31"][0], rel=1e-12)
    for key in ("thm31", "traj", "region", "lemma_a1", "lemma_a2", "thm38", "thm36_iii"):
        assert key in j["summary"]["violations"]
    with np.load(out) as f:
        for key in ("loss", "w_max", "pl_min", "pred_thm31", "a2_lhs", "X", "Y", "A", "B", "W_0", "W_T", "metadata"):
            assert key in f.files, key
        np.testing.assert_array_equal(f["A"], a["A"])
        assert f["W_T"].shape == (3, 6, 6)
    t = ok(invoke("run", path, "--model", "resnet", "--depth", "3", "--steps", "20", "--schedule", "constant",
                  "--eta", "1e-4", "--no-skip", "--hidden-std", "0.1", env={"COLUMNS": "80"})).stdout
    assert "no-skip baseline" in " ".join(t.split())
    assert_user_error(invoke("run", path, "--model", "resnet", "--schedule", "thm38", "--batch", "5"),
                      "not applicable", "L(W*) = 0")
    assert_user_error(invoke("run", path, "--model", "resnet", "--schedule", "adaptive"), "does not apply")
    assert_user_error(invoke("run", path, "--model", "resnet", "--per-epoch"), "--per-epoch applies to SGD")


def test_run_batch_n_equals_gd_through_the_cli(invoke, tmp_path):
    path, _ = small(tmp_path)
    base = ("run", path, "--model", "resnet", "--depth", "2", "--steps", "15", "--schedule", "constant", "--eta",
            "1e-4", "--json")
    gd = strict_json(ok(invoke(*base)).stdout)
    sgd = strict_json(ok(invoke(*base, "--batch", "30", "--sgd-seed", "3")).stdout)
    assert gd["summary"]["final_loss"] == sgd["summary"]["final_loss"]
    sgd = strict_json(ok(invoke(*base, "--batch", "6", "--seeds", "3", "--per-epoch")).stdout)
    z = sgd["summary"]["zou_long_gu"]
    assert "not covered" in z["sgd"]["algorithm"] and z["reached_eps"]["seeds"] == 3


def test_compare_depths(invoke, tmp_path):
    rng = np.random.default_rng(2)
    path = tmp_path / "xy.npz"
    np.savez(path, X=rng.normal(size=(30, 2)), Y=rng.normal(size=(30, 2)))
    j = strict_json(ok(invoke("compare", path, "--model", "resnet", "--depths", "2,4", "--transform",
                              "modified-identity", "--hidden", "4", "--alpha-mod", "20", "--steps", "2000",
                              "--json")).stdout)
    rows = j["rows"]
    assert [r["depth"] for r in rows] == [2, 4] and all(r["resnet_status"] == "converged" for r in rows)
    assert rows[0]["eta"] == pytest.approx(2 * rows[1]["eta"], rel=1e-12)
    out = ok(invoke("compare", path, "--model", "resnet", "--depths", "2,4", "--transform", "modified-identity",
                    "--hidden", "4", "--alpha-mod", "20", "--steps", "2000", env={"COLUMNS": "60"})).stdout
    assert "baseline" in out and "…" not in out and max(len(x) for x in out.splitlines()) <= 60
    assert_user_error(invoke("compare", path, "--model", "resnet", "--depths", "2,x"), "--depths")
    assert_user_error(invoke("compare", path, "--model", "resnet", "--batch", "3"), "does not apply to compare")


def test_generate_zou_long_gu_reproduces_section5(invoke, tmp_path):
    out = tmp_path / "z.npz"
    ok(invoke("generate", "zou-long-gu", "-o", out))
    with np.load(out) as f:
        X, Y = f["X"], f["Y"]
    assert X.shape == (1000, 10) and Y.shape == (1000, 10)
    rng = np.random.default_rng(0)
    Xp = rng.standard_normal((10, 1000))
    np.testing.assert_array_equal(X, Xp.T)
    np.testing.assert_array_equal(Y, (-Xp + 0.1 * rng.standard_normal((10, 1000))).T)
    from convtool.cli.cmd_generate import RESNET_GENERATOR_CHOICES
    from convtool.numeric.generators import RESNET_GENERATORS

    assert RESNET_GENERATOR_CHOICES == tuple(RESNET_GENERATORS)


def test_widths_rows_and_explain_readings(invoke, tmp_path):
    path, _ = small(tmp_path, m=5)
    d = strict_json(ok(invoke("widths", path, "--widths", "6", "--json")).stdout)
    rows = [r for r in d["rows"] if r["paper"] == "zou-long-gu"]
    assert [r["quantity"] for r in rows] == ["m_prop33", "m_cor34"]
    assert rows[0]["value"] == pytest.approx(100 * (math.sqrt(3) + math.sqrt(2 * math.log(120))) ** 2)
    assert rows[0]["meets"] == "no" and rows[0]["width"] == 5.0 and rows[1]["derived"] is True
    out = " ".join(ok(invoke("explain", "zou-long-gu:eta_thm31_printed")).stdout.split())
    assert "reading 7" in out and "(sum a)^2/2" in out
    out = " ".join(ok(invoke("explain", "zou-long-gu:eta_thm38")).stdout.split())
    assert "reading 12" in out
    out = ok(invoke("explain", "--list", "--paper", "zou-long-gu")).stdout
    assert "Zou, Philip M. Long and Quanquan Gu" in out and "arXiv:2003.01094" in " ".join(out.split())


def test_gaussian_transform_options_and_sgd_theorem_schedule(invoke):
    d = strict_json(ok(invoke("constants", "--model", "resnet", "--alpha", "0.5", "--beta", "2", "--hidden", "25",
                              "--seed", "3", "--depth", "4", "--json")).stdout)
    rng = np.random.default_rng(3)
    A, B = 0.5 * rng.standard_normal((25, 10)), 2.0 * rng.standard_normal((10, 25))
    assert d["lambda_A"] == pytest.approx(np.linalg.norm(A, 2), rel=1e-12)
    assert d["mu_B"] == pytest.approx(np.linalg.svd(B, compute_uv=False)[-1], rel=1e-12)
    assert d["m"] == 25 and d["L"] == 4
    j = strict_json(ok(invoke("run", "--model", "resnet", "--transform", "modified-identity", "--batch", "100",
                              "--schedule", "thm36", "--steps", "3", "--seeds", "2", "--eps", "1", "--json")).stdout)
    z = j["summary"]["zou_long_gu"]
    assert j["schedule"]["name"] == "thm36" and z["sgd"]["batch"] == 100
    assert j["summary"]["mean_eta"] == pytest.approx(j["constants"][0]["eta_thm36"], rel=1e-12)
    out = ok(invoke("run", "--model", "resnet", "--transform", "modified-identity", "--batch", "100", "--schedule",
                    "constant", "--eta", "1e-9", "--steps", "3", "--seeds", "2", env={"COLUMNS": "60"})).stdout
    assert "…" not in out and max(len(x) for x in out.splitlines()) <= 60 and "(2 seeds)" in " ".join(out.split())


def test_resnet_schedules_refused_by_the_other_models(invoke):
    assert_user_error(invoke("run", "--schedule", "thm31", "--steps", "2"), "linear ResNet (--model resnet)")
    assert_user_error(invoke("run", "--model", "deep-linear", "--widths", "20", "--schedule", "thm38", "--steps",
                             "2"), "does not apply to the deep linear model")


def test_explain_with_values_at_the_resnet_instance(invoke, tmp_path):
    path, _ = small(tmp_path)
    c = strict_json(ok(invoke("constants", path, "--model", "resnet", "--depth", "3", "--json")).stdout)
    j = strict_json(ok(invoke("explain", "zou-long-gu:R_GD", path, "--depth", "3", "--json")).stdout)
    assert j["value"] == c["R_GD"] and j["model"] == "resnet"
    out = " ".join(ok(invoke("explain", "zou-long-gu:thm38_margin", path, "--depth", "3")).stdout.split())
    assert "needs L(W*) = 0" in out
    assert_user_error(invoke("explain", "zou-long-gu:R_GD", path, "--model", "deep-linear"), "need --model resnet")


def test_run_plot_and_compare_tol(invoke, tmp_path):
    pytest.importorskip("matplotlib")
    path, _ = small(tmp_path)
    png = tmp_path / "r.png"
    ok(invoke("run", path, "--model", "resnet", "--depth", "2", "--steps", "5", "--plot", png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert_user_error(invoke("compare", "--model", "resnet", "--tol", "1e-3"), "--eps")


def test_run_shows_balancedness_not_applicable_with_skips_and_held_without(invoke, tmp_path):
    """Issue 9: the balancedness records appear in ``run --model resnet``; with skip connections every
    invariant is "not applicable" with the reason in words (not zeros), and on the no-skip baseline the
    trained layers' one-step identities hold (Du, Hu & Lee Theorems 2.1, 2.2)."""
    path, _ = small(tmp_path, m=6)
    j = strict_json(ok(invoke("run", path, "--model", "resnet", "--depth", "3", "--steps", "10", "--json")).stdout)
    rows = j["summary"]["balancedness"]["rows"]
    assert rows and all("skip connections" in (r["not_applicable"] or "") for r in rows)
    t = " ".join(ok(invoke("run", path, "--model", "resnet", "--depth", "3", "--steps", "10",
                           env={"COLUMNS": "250"})).stdout.split())
    assert "Balancedness" in t and "not applicable: skip connections" in t
    narrow = ok(invoke("run", path, "--model", "resnet", "--depth", "3", "--steps", "10", env={"COLUMNS": "80"})).stdout
    assert "Balancedness" in narrow and "…" not in narrow and max(map(len, narrow.splitlines())) <= 80
    j = strict_json(ok(invoke("run", path, "--model", "resnet", "--depth", "3", "--steps", "10", "--schedule",
                              "constant", "--eta", "1e-4", "--no-skip", "--hidden-std", "0.1", "--json")).stdout)
    rows = [r for r in j["summary"]["balancedness"]["rows"] if r.get("step")]
    inv = [r for r in rows if r["step"]["applicable"]]
    assert len(inv) >= 3 * 2  # B_h, b_h, D_h for the 2 adjacent pairs of W_1..W_3
    assert all(r["step"]["violations"] == 0 for r in inv)
