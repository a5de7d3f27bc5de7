"""``convtool widths`` and :func:`convtool.numeric.widths.width_table` (issue 7).

The Theorem 3.3 row is checked against eq. (131) of the local-PL paper written out here as printed
(numerator and denominator in powers of h); the deep-linear rows against
``compute_deep_linear_constants`` (one source of truth); Lemma 3.1 on both sides of h = n + m.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from clihelpers import assert_user_error, ok, strict_json  # tests/clihelpers.py

ROW_KEYS = {"paper", "result", "reference", "quantity", "value", "value_not_applicable", "formula", "assumptions",
            "init", "constant", "C", "derived", "width_name", "width", "meets", "reason"}
ZX_ROWS = ("width_standing", "width_thm1_gaussian", "width_thm1_orthogonal", "width_thm2_balanced", "width_thm4",
           "width_thm5", "width_thm5_equal", "width_thm6", "width_lemma3_derived")


def _data(tmp_path, *, n=5, m=2, N=30, h=None, layers=None, name="w.npz"):
    rng = np.random.default_rng(7)
    arrays = {"X": rng.normal(size=(N, n)), "Y": rng.normal(size=(N, m))}
    if h is not None:
        arrays["W1"], arrays["W2"] = rng.normal(size=(n, h)), rng.normal(size=(m, h))
    for j, W in enumerate(layers or [], 1):
        arrays[f"W{j}"] = W
    path = tmp_path / name
    np.savez(path, **arrays)
    return path, arrays


def _rows(d, paper=None):
    return [r for r in d["rows"] if paper is None or r["paper"] == paper]


def test_json_keys(invoke, tmp_path):
    path, _ = _data(tmp_path, h=9)
    d = strict_json(ok(invoke("widths", path, "--widths", "6", "--json")).stdout)
    assert set(d) == {"source", "params", "sources", "rows", "warnings", "provenance"}  # issue 12: provenance
    assert set(d["params"]) == {"delta", "c", "C", "eta", "theta", "eps", "loss_scale", "p", "target"}
    assert d["sources"]["two_layer"] == {"n": 5, "m": 2, "h": 9, "h_source": "W1 (5 x 9), W2 (2 x 9) of DATA"}
    assert d["sources"]["deep_linear"]["widths"] == [5, 6, 6, 2]
    for r in d["rows"]:
        assert set(r) == ROW_KEYS
        assert r["meets"] in ("yes", "no", "n/a")
        assert r["constant"] in ("explicit", "up to an absolute constant C", "unspecified (poly)")
        assert (r["C"] is not None) == (r["constant"] == "up to an absolute constant C")
    assert [r["quantity"] for r in _rows(d, "zhao-xu")] == list(ZX_ROWS)
    assert [r["result"] for r in _rows(d, "local-pl")] == ["Problem 2", "Lemma 3.1", "Theorem 3.3", "Theorem 3.3"]


def test_deep_linear_rows_equal_compute_deep_linear_constants(invoke, tmp_path):
    from convtool.analysis import get
    from convtool.numeric.dln_constants import compute_deep_linear_constants

    rng = np.random.default_rng(3)
    layers = [rng.normal(size=(12, 5)), rng.normal(size=(9, 12)), rng.normal(size=(2, 9))]
    path, arrays = _data(tmp_path, layers=layers)
    args = ("--delta", "0.2", "--c", "0.05", "--C", "3", "--eta", "1e-4")
    d = strict_json(ok(invoke("widths", path, *args, "--json")).stdout)
    ref = compute_deep_linear_constants(arrays["X"], arrays["Y"], layers, delta=0.2, c=0.05, C=3.0, eta=1e-4,
                                        init="file").quantities
    rows = {r["quantity"]: r for r in _rows(d, "zhao-xu")}
    assert d["sources"]["deep_linear"]["init"] == "file"
    for name in ZX_ROWS[1:]:
        q = get(name, paper="zhao-xu")
        assert rows[name]["value"] == ref[name], name  # the same float, not recomputed
        assert rows[name]["reference"] == q.reference and rows[name]["derived"] == q.derived
        assert rows[name]["width"] == ref["n_min"] == 9.0
        assert rows[name]["meets"] == ("yes" if 9.0 >= ref[name] else "no")
        assert rows[name]["C"] == (None if q.derived else 3.0)
    assert rows["width_standing"]["value"] == max(ref["n_0"], ref["n_N"]) == 5.0
    assert rows["width_standing"]["meets"] == "yes"


def test_deep_linear_not_applicable_rows_say_why(invoke, tmp_path):
    # eta above eta0(c): Theorems 4-6 do not apply; their rows are n/a with the registry's reason
    path, _ = _data(tmp_path)
    d = strict_json(ok(invoke("widths", path, "--widths", "6", "--c", "0.4", "--json")).stdout)
    rows = {r["quantity"]: r for r in _rows(d, "zhao-xu")}
    for name in ("width_thm4", "width_thm5", "width_thm5_equal", "width_thm6"):
        assert rows[name]["value"] is None and rows[name]["meets"] == "n/a"
        assert "eta0_c" in rows[name]["value_not_applicable"]
    assert rows["width_thm1_gaussian"]["value"] is not None


@pytest.mark.parametrize("h, meets", [(6, "no"), (7, "yes"), (8, "yes")], ids=["h=n+m-1", "h=n+m", "h=n+m+1"])
def test_lemma31_row_meets_for_h_around_n_plus_m(invoke, tmp_path, h, meets):
    path, _ = _data(tmp_path, n=5, m=2, h=h)
    d = strict_json(ok(invoke("widths", path, "--widths", "6", "--json")).stdout)
    row = next(r for r in _rows(d, "local-pl") if r["result"] == "Lemma 3.1")
    assert row["value"] == 7.0 and row["width"] == float(h) and row["meets"] == meets
    assert row["constant"] == "explicit"


def test_two_layer_width_from_option_and_missing(tmp_path):
    from convtool.numeric.widths import width_table

    X, Y = np.random.default_rng(0).normal(size=(20, 4)), np.random.default_rng(1).normal(size=(20, 3))
    rows = {r.result: r for r in width_table(X, Y, h=6, papers=["local-pl"]).rows if r.result != "Theorem 3.3"}
    assert rows["Lemma 3.1"].meets == "no" and rows["Problem 2"].meets == "yes"
    none = width_table(X, Y, papers=["local-pl"]).rows
    assert all(r.meets == "n/a" for r in none)


def _eq131_paper_form(h, *, p, delta, X, Y):
    """Eq. (131) as printed: alpha1 / alpha2 >= num / den, with Lemma F.5's B (numpy from the definitions)."""
    n, m = X.shape[1], Y.shape[1]
    eig = np.linalg.eigvalsh(X.T @ X)
    mu, K = eig[0], eig[-1]
    Wstar = np.linalg.solve(X.T @ X, X.T @ Y)
    smax, fro = np.linalg.svd(Wstar, compute_uv=False)[0], math.sqrt(float(np.sum(Wstar ** 2)))
    B = math.sqrt(m + n) + 0.5 * math.log(2 / delta)
    num = 2 * h ** (1 - 2 * p) + 2 * B ** 2 * h ** (-2 * p) - 4 * B * h ** (0.5 - 2 * p)
    den = (2 * h ** (1 - 2 * p) + 4 * h ** (0.5 - 2 * p) * B + 2 * B ** 2 * h ** (-2 * p) + 2 * smax
           + 2 * math.sqrt(K / mu) * (fro + 2 * math.sqrt(m) * B * h ** (0.5 - 2 * p)))
    return num / den, B


@pytest.mark.parametrize("p, target, delta", [(0.375, 0.5, 0.1), (0.275, 0.9, 0.05), (0.475, 0.3, 0.5)])
def test_theorem33_row_against_eq131_oracle(invoke, tmp_path, p, target, delta):
    path, arrays = _data(tmp_path, n=4, m=3, N=25, h=50)
    d = strict_json(ok(invoke("widths", path, "--widths", "6", "--p", p, "--target", target, "--delta", delta,
                              "--json")).stdout)
    stated, derived = [r for r in _rows(d, "local-pl") if r["result"] == "Theorem 3.3"]
    assert stated["value"] is None and stated["constant"] == "unspecified (poly)" and stated["meets"] == "n/a"
    assert derived["derived"] is True and derived["constant"] == "explicit"
    h_star = derived["value"]
    assert h_star == int(h_star)
    X, Y = arrays["X"], arrays["Y"]
    at, B = _eq131_paper_form(h_star, p=p, delta=delta, X=X, Y=Y)
    below, _ = _eq131_paper_form(h_star - 1, p=p, delta=delta, X=X, Y=Y)
    assert h_star > B ** 2
    assert at >= target * (1 - 1e-12)
    assert below < target * (1 + 1e-12) or h_star - 1 <= B ** 2
    assert derived["meets"] == ("yes" if 50 >= h_star else "no")


def test_theorem33_not_applicable_for_rank_deficient_x():
    from convtool.numeric.widths import width_table

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 6))  # N < n: mu = 0
    row = [r for r in width_table(X, rng.normal(size=(3, 2)), h=9, papers=["local-pl"]).rows][-1]
    assert row.meets == "n/a" and "mu = 0" in row.value.reason


@pytest.mark.parametrize("args, fragment", [
    (("--p", "0.6"), "--p must lie in (0, 1/2)"),
    (("--target", "1.5"), "--target must lie in (0, 1)"),
    (("--delta", "0"), "--delta must lie in (0, 1)"),
    (("--width", "3"), "--width 3 conflicts"),
], ids=["p", "target", "delta", "width-conflict"])
def test_bad_options(invoke, tmp_path, args, fragment):
    path, _ = _data(tmp_path, h=8)
    assert_user_error(invoke("widths", path, "--widths", "6", *args), fragment)


def test_bad_data(invoke, tmp_path):
    path = tmp_path / "noy.npz"
    np.savez(path, X=np.ones((4, 2)))
    assert_user_error(invoke("widths", path), "Y")
    bad = tmp_path / "nan.npz"
    np.savez(bad, X=np.full((4, 2), np.nan), Y=np.ones((4, 1)))
    assert_user_error(invoke("widths", bad))
    assert_user_error(invoke("widths", tmp_path / "missing.npz"))
    rng = np.random.default_rng(0)
    chain, _ = _data(tmp_path, layers=[rng.normal(size=(6, 5)), rng.normal(size=(2, 6))], name="chain.npz")
    assert_user_error(invoke("widths", chain, "--depth", "3"), "--depth and --widths apply only")


def test_widths_rendering_never_truncates_a_number(invoke, tmp_path):
    """Every value of --json appears, with all its repr digits, in the table at 60, 80 and 200 columns."""
    path, _ = _data(tmp_path, h=9)
    d = strict_json(ok(invoke("widths", path, "--widths", "6", "--json")).stdout)
    values = [r["value"] for r in d["rows"] if r["value"] is not None]
    assert len(values) >= 10
    for cols in ("60", "80", "200"):
        out = ok(invoke("widths", path, "--widths", "6", env={"COLUMNS": cols})).stdout
        assert max(len(line) for line in out.splitlines()) <= int(cols)
        for v in values:
            assert repr(float(v)) in out, (cols, v)
        for r in d["rows"]:
            assert r["meets"] in out
