"""``convtool constants/run --model shallow``, ``generate song-et-al`` and ``widths --model shallow`` (issue 10).

Every new option, and bad input (unparsable expressions, payloads, free symbols, a non-smooth activation,
phi(0) != 0, d1 < n): one line, exit 2, nothing created; a value that does not apply is shown as not
applicable with its reason. Values are checked against numpy computations from the definitions.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from clihelpers import assert_user_error, ok, strict_json  # tests/clihelpers.py

SMALL = ("--width", "60")


@pytest.fixture(autouse=True)
def _short_sympy_limits(monkeypatch):
    """The CLI tests check messages and numpy oracles, not the symbolic steps (tests/test_activations.py does):
    short time limits keep a loaded machine from waiting on sympy (a time-out falls back to the numeric route)."""
    from convtool.numeric import hermite

    monkeypatch.setattr(hermite, "SOLVE_TIMEOUT", 0.5)
    monkeypatch.setattr(hermite, "SYMPY_TIMEOUT", 1.0)


def _data(tmp_path, n=12, d0=4, d2=1, weights=None, name="s.npz", unit=True):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((n, d0))
    if unit:
        X /= np.linalg.norm(X, axis=1, keepdims=True)
    Y = rng.standard_normal((n, d2))
    Y /= np.linalg.norm(Y)
    arrays = {"X": X, "Y": Y, **(weights or {})}
    path = tmp_path / name
    np.savez(path, **arrays)
    return path, X, Y


def test_constants_json_keys_and_values_against_numpy(invoke, tmp_path):
    rng = np.random.default_rng(5)
    W, V = 0.9 * rng.standard_normal((20, 4)), 0.1 * rng.standard_normal((1, 20))
    path, X, Y = _data(tmp_path, weights={"W": W, "V": V})
    d = strict_json(ok(invoke("constants", path, "--model", "shallow", "--json")).stdout)
    keys = ["sigma_max_X", "sigma_min_X1", "sigma_min_X2", "sigma_min_X3", "sigma_min_X4", "mu_Phi", "nu_Phi",
            "chi_max", "beta_Phi", "rho_Phi", "h0", "grad_f0_norm", "certificate_ratio", "certificate_gd",
            "certificate_gd_holds", "eta_13", "eta_explicit", "rate_guaranteed", "omega1", "t", "EM0_min", "EM0_max",
            "width_79", "width_80"] + [f"c{i}" for i in range(7)]
    for k in keys:
        assert k in d, k
    A = d["activation"]
    assert A["name"] == "gelu" and d["notes"]["omega1_source"].startswith("read from the weights")
    from scipy.special import ndtr

    Aw = (W @ X.T) * ndtr(W @ X.T)
    s = np.linalg.svd(Aw, compute_uv=False)
    assert d["mu_Phi"] == pytest.approx(s[11], rel=1e-10) and d["h0"] == pytest.approx(np.sum((V @ Aw - Y.T) ** 2))
    assert d["omega1"] == pytest.approx(np.sqrt(np.mean(W ** 2)), rel=1e-12)
    assert d["sigma_max_X"] == pytest.approx(np.linalg.norm(X, 2), rel=1e-12)
    assert d["grad_f0_norm"] == pytest.approx(2 * np.sqrt(d["h0"]), rel=1e-12)
    assert d["certificate_gd"] == pytest.approx(1 / 4608) and d["certificate_gd_holds"] is False
    assert d["sigma_min_X1"] == 0.0 and "rank" in d["notes"]["sigma_min_X1"]  # d0 = 4 < n = 12
    # X^(*2) of 12 samples in d0 = 4 has rank <= C(5, 2) = 10 < 12; c3 = 0 for GeLU: t = 4
    assert d["sigma_min_X2"] == 0.0 and "C(d0 + t - 1, t) = 10" in d["notes"]["sigma_min_X2"]
    assert d["t"] == 4.0 and d["EM0_min"] > 0
    assert d["width_79"] is None and "no finite r2" in d["not_applicable"]["width_79"]  # GeLU, omega1 != 1


def test_constants_table_folds_at_60_and_80_columns(invoke):
    for cols in (60, 80):
        r = ok(invoke("constants", "--model", "shallow", *SMALL, "--activation", "tanh", "--omega1", "1",
                      env={"COLUMNS": str(cols)}))
        assert "…" not in r.stdout and "width_odd" in r.stdout
        assert max(len(line) for line in r.stdout.splitlines()) <= cols


def test_omega1_one_gives_the_width_rows_and_odd_variant(invoke):
    d = strict_json(ok(invoke("constants", "--model", "shallow", "--activation", "gelu", "--omega1", "1",
                              "--json")).stdout)
    assert d["width_79"] > 0 and d["width_80"] > 0 and d["omega1"] == 1.0
    assert "omega1 = 1" in d["notes"]["r1_r2"]
    assert d["width_odd"] is None and "not odd" in d["not_applicable"]["width_odd"]
    t = strict_json(ok(invoke("constants", "--model", "shallow", "--activation", "tanh", "--omega1", "1",
                              "--json")).stdout)
    assert t["width_79"] is None and "c0 = 0" in t["not_applicable"]["width_79"] and t["width_odd"] > 0
    assert t["t"] == 3.0  # tanh is odd: c2 = 0, so the first usable t is 3


def test_chi_t_delta_options(invoke):
    base = strict_json(ok(invoke("constants", "--model", "shallow", "--omega1", "1", "--json")).stdout)
    d = strict_json(ok(invoke("constants", "--model", "shallow", "--omega1", "1", "--chi", "2", "--t", "4",
                              "--delta", "0.25", "--json")).stdout)
    assert d["chi_max"] == 2.0 and d["notes"]["chi_source"] == "given (--chi)"
    assert d["beta_Phi"] == pytest.approx(np.sqrt(2) * d["sigma_max_X"] * (d["phi_d1_max"] + 2 * d["phi_d2_max"]))
    assert d["t"] == 4.0 and d["c_t"] == d["c4"] and d["sigma_min_Xt"] == d["sigma_min_X4"]
    assert "0.25" in d["notes"]["deltas"] and d["xi_78"] != base["xi_78"]


def test_init_lecun_he_and_omegas(invoke):
    le = strict_json(ok(invoke("constants", "--model", "shallow", "--init", "lecun", "--json")).stdout)
    he = strict_json(ok(invoke("constants", "--model", "shallow", "--init", "he", "--json")).stdout)
    assert le["omega1"] == pytest.approx(1 / np.sqrt(10)) and le["omega2"] == pytest.approx(1 / np.sqrt(400))
    assert he["omega1"] == pytest.approx(np.sqrt(0.2)) and he["omega_product_19"] == pytest.approx(2.0)
    w = strict_json(ok(invoke("constants", "--model", "shallow", "--omega2", "0.01", "--json")).stdout)
    assert w["omega1"] * w["omega2"] * np.sqrt(10 * 400) == pytest.approx(1.0)


@pytest.mark.parametrize("args,fragment", [
    (("--activation", "x +"), "cannot parse"),
    (("--activation", "x + y"), "name 'y' is not allowed"),
    (("--activation", "__import__('os').system('touch X')"), "--activation"),
    (("--activation", "sin.eval.__globals__['__builtins__']['__import__']('pathlib').Path('X').touch()"),
     "only plain function calls"),
    (("--activation", "x**(10**10**10)"), "out of range"),
    (("--init", "xavier"), "does not apply to --model shallow"),
    (("--omega1", "-1"), "--omega1 must be a positive number"),
    (("--depth", "3"), "--depth does not apply to --model shallow"),
], ids=["syntax", "free-symbol", "import", "globals", "huge-exponent", "init", "omega", "depth"])
def test_bad_input_is_one_line_and_creates_nothing(invoke, tmp_path, monkeypatch, args, fragment):
    monkeypatch.chdir(tmp_path)
    for cmd in ("constants", "run"):
        assert_user_error(invoke(cmd, "--model", "shallow", *args), fragment)
    assert os.listdir(tmp_path) == []


def test_other_models_refuse_the_shallow_options(invoke):
    assert_user_error(invoke("constants", "--omega1", "2"), "--omega1 does not apply to --model two-layer")
    assert_user_error(invoke("constants", "--model", "deep-linear", "--chi", "1"), "--chi does not apply")


def test_non_smooth_and_phi0_activations_are_reported_not_crashed(invoke):
    d = strict_json(ok(invoke("constants", "--model", "shallow", "--activation", "relu", "--json")).stdout)
    assert d["beta_Phi"] is None and "Remark 2 excludes ReLU" in d["not_applicable"]["beta_Phi"]
    assert d["activation"]["twice_differentiable"] is False and d["phi_d1_max"] == 1.0
    r = ok(invoke("constants", "--model", "shallow", "--activation", "relu"))
    assert "Remark 2 excludes ReLU" in r.stdout.replace("\n", " ") or "Remark 2" in r.stdout
    s = strict_json(ok(invoke("constants", "--model", "shallow", "--activation", "sigmoid", "--json")).stdout)
    chk = {c["name"]: c for c in s["checks"]}
    assert chk["phi0_zero"]["ok"] is False and "0.5" in chk["phi0_zero"]["detail"]
    assert s["activation"]["phi0"] == 0.5


def test_d1_below_n(invoke):
    d = strict_json(ok(invoke("constants", "--model", "shallow", "--width", "20", "--json")).stdout)
    assert d["mu_Phi"] == 0.0 and "d1 = 20 < n = 50" in d["mu_Phi_zero_reason"]
    assert d["eta_explicit"] is None and "d1 = 20 < n = 50" in d["not_applicable"]["eta_explicit"]
    assert_user_error(invoke("run", "--model", "shallow", "--width", "20", "--steps", "5"), "pass --eta")
    r = strict_json(ok(invoke("run", "--model", "shallow", "--width", "20", "--steps", "5", "--eta", "0.01",
                              "--json")).stdout)
    assert "eta_explicit is not applicable" in r["summary"]["theorem_not_applicable"]


def test_run_json_out_and_jacobian(invoke, tmp_path):
    out = tmp_path / "run.npz"
    r = strict_json(ok(invoke("run", "--model", "shallow", *SMALL, "--steps", "20", "--json", "--out", out,
                              "--jacobian", "--seeds", "2")).stdout)
    s = r["summary"]
    assert s["seeds"] == 2 and len(s["eta"]) == 2 and s["eta"] == s["eta_explicit"]
    assert s["jacobian_every_step"] is True
    with np.load(out) as f:
        jac, loss, dist = f["jac_sigma_min"], f["loss"], f["dist0"]
        assert jac.shape == loss.shape == (2, 21) and np.isfinite(jac).all()
        assert "W1_0" in f.files and "X" in f.files
    # without --jacobian: only step 0
    r2 = tmp_path / "run2.npz"
    ok(invoke("run", "--model", "shallow", *SMALL, "--steps", "5", "--out", r2))
    with np.load(r2) as f:
        j = f["jac_sigma_min"]
        assert np.isfinite(j[0]) and np.isnan(j[1:]).all()
    assert dist[0, 0] == 0.0 and (np.diff(loss, axis=1) < 0).all()  # eta_explicit decreases h every step


def test_run_table_and_eta(invoke):
    r = ok(invoke("run", "--model", "shallow", *SMALL, "--steps", "10", "--eta", "1e-3", env={"COLUMNS": "80"}))
    assert "thm2_rate" in r.stdout and "eta > eta_explicit" in " ".join(r.stdout.split())
    assert_user_error(invoke("run", "--model", "shallow", "--eta", "-1"), "--eta must be a positive number")
    assert_user_error(invoke("run", "--model", "shallow", "--schedule", "adaptive"), "constant step")


def test_file_weights_conflicts(invoke, tmp_path):
    rng = np.random.default_rng(1)
    path, X, Y = _data(tmp_path, weights={"W": rng.standard_normal((15, 4)), "V": rng.standard_normal((1, 15))})
    assert_user_error(invoke("constants", path, "--model", "shallow", "--width", "9"), "apply only to generated")
    bad, _, _ = _data(tmp_path, weights={"W": rng.standard_normal((15, 4)), "V": rng.standard_normal((1, 14))},
                      name="bad.npz")
    assert_user_error(invoke("constants", bad, "--model", "shallow"), "V must be d2 x d1")
    nowt, _, _ = _data(tmp_path, name="nowt.npz", unit=False)
    assert_user_error(invoke("constants", nowt, "--model", "shallow"), "give --width")
    d = strict_json(ok(invoke("constants", nowt, "--model", "shallow", "--width", "30", "--json")).stdout)
    chk = {c["name"]: c for c in d["checks"]}
    assert chk["unit_norm_samples"]["ok"] is False  # reported, not enforced


def test_generate_song_et_al(invoke, tmp_path):
    out = tmp_path / "g.npz"
    r = ok(invoke("generate", "song-et-al", "--d", "6", "--M", "30", "--k", "2", "--h", "20", "-o", out))
    assert "song-et-al(d=6, M=30, k=2, h=20, seed=0)" in r.stdout
    with np.load(out) as f:
        X, Y = f["X"], f["Y"]
    assert X.shape == (30, 6) and Y.shape == (30, 2)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-14)
    assert np.linalg.norm(Y) == pytest.approx(1.0, rel=1e-14)
    assert_user_error(invoke("generate", "song-et-al", "--n", "3", "-o", tmp_path / "x.npz"), "takes")


def test_widths_shallow_rows_and_table1(invoke):
    r = ok(invoke("widths", "--model", "shallow", "--activation", "gelu", "--omega1", "1", env={"COLUMNS": "100"}))
    flat = " ".join(r.stdout.split())
    assert "(79)" in flat and "(80)" in flat and "odd" in flat
    assert "Oymak and Soltanolkotabi" in flat and "n^{3/2}" in flat
    d = strict_json(ok(invoke("widths", "--model", "shallow", "--omega1", "1", "--json")).stdout)
    rows = {row["name"]: row for row in d["shallow"]["rows"]}
    assert rows["width_79"]["value"] > 0 and len(d["shallow"]["table1"]) == 6


def test_explain_a_song_et_al_quantity(invoke):
    r = ok(invoke("explain", "song-et-al:eta_explicit"))
    assert "derived" in r.stdout.lower()
