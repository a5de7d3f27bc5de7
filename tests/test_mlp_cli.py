"""``convtool run/constants --model mlp``, the Balancedness table on every model, ``generate du-hu-lee-fig2`` (issue 9)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from clihelpers import assert_user_error, ok, strict_json  # tests/clihelpers.py


def _data(tmp_path, layers=None, name="mlp.npz"):
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(20, 4)), rng.normal(size=(20, 2))
    arrays = {"X": X, "Y": Y}
    for j, W in enumerate(layers or [], 1):
        arrays[f"W{j}"] = W
    path = tmp_path / name
    np.savez(path, **arrays)
    return str(path), X, Y


SMALL = ("--widths", "6", "--steps", "30")


@pytest.mark.parametrize("act", ["relu", "leaky-relu", "linear"])
def test_run_mlp_table_json_and_out(invoke, tmp_path, act):
    path, X, Y = _data(tmp_path)
    extra = ("--slope", "0.2") if act == "leaky-relu" else ()
    r = ok(invoke("run", path, "--model", "mlp", "--activation", act, *extra, *SMALL, "--eta", "0.01"))
    assert "Balancedness" in r.stdout and "B_1" in r.stdout and "identity yes 30/30" in r.stdout
    if act != "linear":
        assert "not applicable" in r.stdout and "not linear" in r.stdout
    out = tmp_path / "run.npz"
    d = strict_json(ok(invoke("run", path, "--model", "mlp", "--activation", act, *extra, *SMALL, "--eta", "0.01",
                              "--json", "--out", str(out))).stdout)
    rows = {row["invariant"]: row for row in d["summary"]["balancedness"]["rows"]}
    assert set(rows) == {"B1", "b1", "D1", "B2", "b2", "D2"}
    assert rows["B1"]["step"] == {"violations": 0, "applicable": 30}
    with np.load(out) as f:
        W1_0, W2_0 = f["W1_0"], f["W2_0"]
        B = f["bal_B1"]
        assert {"X", "Y", "W3_T", "metadata", "bal_cum_bound"} <= set(f.files)
    # oracle: B_1(0) from the saved initial layers
    assert B[0] == pytest.approx(np.sum(W1_0 ** 2) - np.sum(W2_0 ** 2), rel=1e-12)
    assert rows["B1"]["initial"] == pytest.approx(B[0], rel=1e-12)


@pytest.mark.parametrize("width", [60, 80])
def test_balancedness_table_folds_never_truncates(invoke, tmp_path, width):
    from rich.console import Console

    from convtool.cli.render_balanced import balancedness_table
    from convtool.numeric.mlp import init_mlp_layers, run_mlp

    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    res = run_mlp(X, Y, init_mlp_layers((3, 5, 2), [0.5]), activation="linear", eta=1e-3, steps=5)
    bal = res.summary()["balancedness"]
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None, legacy_windows=False).print(balancedness_table(bal))
    lines = buf.getvalue().splitlines()
    assert "…" not in buf.getvalue() and max(len(ln) for ln in lines) <= width
    head = next(ln for ln in lines if "max drift" in ln)
    cuts = [i for i, ch in enumerate(head) if ch == "┃"]
    body = [ln for ln in lines if ln.startswith("│")]
    first_row = []
    for ln in body:  # the first invariant's rows, until its next row starts (a new name in column 1)
        if first_row and ln[cuts[0] + 1: cuts[1]].strip().startswith("b_1"):
            break
        first_row.append(ln)
    col = "".join(ln[cuts[2] + 1: cuts[3]].strip() for ln in first_row)
    assert col == repr(bal["rows"][0]["max_drift"])


def test_layers_from_the_file_and_constants(invoke, tmp_path):
    rng = np.random.default_rng(1)
    layers = [rng.normal(size=(5, 4)), rng.normal(size=(3, 5)), rng.normal(size=(2, 3))]
    path, X, Y = _data(tmp_path, layers)
    d = strict_json(ok(invoke("constants", path, "--model", "mlp", "--activation", "linear", "--json")).stdout)
    assert d["B"][0] == pytest.approx(np.sum(layers[0] ** 2) - np.sum(layers[1] ** 2), rel=1e-12)
    assert d["D_fro"][1] == pytest.approx(np.linalg.norm(layers[1] @ layers[1].T - layers[2].T @ layers[2]),
                                          rel=1e-12)
    assert {"command", "seed", "init", "timestamp", "versions"} <= set(d["provenance"])  # issue 12: every --json
    d = strict_json(ok(invoke("run", path, "--model", "mlp", "--steps", "5", "--json")).stdout)
    assert d["summary"]["schedule"] == "backtracking" and d["config"]["widths"] == [4, 5, 3, 2]
    assert {"convtool", "numpy", "scipy", "sympy"} <= set(d["provenance"]["versions"])
    assert_user_error(invoke("run", path, "--model", "mlp", "--widths", "4"), "--widths applies only")


def test_generated_layer_std_gives_the_expected_norms(invoke, tmp_path):
    path, X, Y = _data(tmp_path)
    d = strict_json(ok(invoke("constants", path, "--model", "mlp", "--widths", "50", "--layer-std", "0.1,0.2,0.3",
                              "--json")).stdout)
    assert d["expected_sq_norms"] == pytest.approx([50 * 4 * 0.01, 50 * 50 * 0.04, 2 * 50 * 0.09])
    for got, want in zip(d["sq_norms"], d["expected_sq_norms"]):
        assert got == pytest.approx(want, rel=0.3)  # chi-square with >= 100 degrees of freedom


@pytest.mark.parametrize("args,frag", [
    (("--activation", "tanh"), "not an mlp activation"),
    (("--activation", "relu", "--slope", "0.1"), "--slope applies to --activation leaky-relu"),
    (("--layer-std", "1,2"), "layer standard deviations"),
    (("--layer-std", "a"), "--layer-std"),
    (("--schedule", "adaptive"), "does not apply to --model mlp"),
    (("--schedule", "constant"), "needs --eta"),
    (("--loss", "sensing"), "--loss does not apply"),
])
def test_bad_input_is_one_line_exit_2(invoke, tmp_path, args, frag):
    path, X, Y = _data(tmp_path)
    assert_user_error(invoke("run", path, "--model", "mlp", "--widths", "4", "--steps", "3", *args), frag)


def test_mlp_options_refused_on_other_models(invoke):
    assert_user_error(invoke("run", "--slope", "0.1", "--steps", "2"), "--slope does not apply to --model two-layer")
    assert_user_error(invoke("run", "--model", "deep-linear", "--layer-std", "1", "--steps", "2"),
                      "--layer-std does not apply")


def test_two_layer_and_deep_linear_runs_show_the_balancedness_table(invoke, tmp_path):
    r = ok(invoke("run", "--width", "30", "--steps", "20"))
    assert "Balancedness" in r.stdout and "D_1" in r.stdout and "--record" in r.stdout
    d = strict_json(ok(invoke("run", "--width", "30", "--steps", "20", "--record", "neurons", "--json")).stdout)
    rows = {row["invariant"]: row for row in d["summary"]["balancedness"]["rows"]}
    assert rows["b1"]["not_applicable"] is None and rows["b1"]["step"]["violations"] == 0
    path, X, Y = _data(tmp_path)
    r = ok(invoke("run", path, "--model", "deep-linear", "--widths", "6", "--steps", "5"))
    assert "Balancedness" in r.stdout and "Zhao & Xu" in r.stdout


def test_generate_du_hu_lee_fig2_variances(invoke, tmp_path):
    from convtool.cli.cmd_generate import MLP_GENERATOR_CHOICES
    from convtool.numeric.generators import MLP_GENERATORS

    assert tuple(MLP_GENERATORS) == MLP_GENERATOR_CHOICES
    out = tmp_path / "f2.npz"
    ok(invoke("generate", "du-hu-lee-fig2", "-o", str(out)))
    with np.load(out) as f:
        shapes = {k: f[k].shape for k in f.files}
        norms = [np.sum(f[f"W{j}"] ** 2) for j in (1, 2, 3)]
    assert shapes == {"X": (1000, 1000), "Y": (1000, 10), "W1": (100, 1000), "W2": (100, 100), "W3": (10, 100)}
    assert norms == pytest.approx([0.1, 0.1, 0.1], rel=0.15)   # E||W_j||^2 = 0.1 (Sec. 4, balanced)
    ok(invoke("generate", "du-hu-lee-fig2", "-o", str(out), "--variant", "unbalanced", "--d", "200", "--M", "30"))
    with np.load(out) as f:
        var = [np.var(f[f"W{j}"]) for j in (1, 2, 3)]
    assert var == pytest.approx([1e-4] * 3, rel=0.3)


def test_run_on_the_generated_fig2_file(invoke, tmp_path):
    out = tmp_path / "f2.npz"
    ok(invoke("generate", "du-hu-lee-fig2", "-o", str(out), "--d", "30", "--M", "25", "--h", "8"))
    d = strict_json(ok(invoke("run", str(out), "--model", "mlp", "--eta", "0.05", "--steps", "20", "--json")).stdout)
    assert d["summary"]["violations"]["balanced_b2_step"] == 0


def test_mlp_adgd_schedule_keeps_the_identities(invoke, tmp_path):
    """The model-neutral adgd schedule (its own step sizes) on the mlp: the one-step identities hold at each eta_t."""
    path, X, Y = _data(tmp_path)
    d = strict_json(ok(invoke("run", path, "--model", "mlp", "--widths", "6", "--steps", "15", "--schedule", "adgd",
                              "--json")).stdout)
    assert d["summary"]["schedule"] == "adgd"
    rows = {row["invariant"]: row for row in d["summary"]["balancedness"]["rows"]}
    for k in ("B1", "b1", "B2", "b2"):
        assert rows[k]["step"]["violations"] == 0 and rows[k]["step"]["applicable"] == d["summary"]["steps"][0] > 0
