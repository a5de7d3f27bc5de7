"""The ``convtool`` command line: output, strict JSON, one-line errors, fast start.

Every invocation goes through the ``invoke`` fixture (``tests/conftest.py``):
in-process ``CliRunner`` with ``COLUMNS=120`` and ``NO_COLOR=1``. Each test
asserts the exit code and ``result.exception`` as well as the text, so a
traceback cannot hide behind a text check that passes.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import subprocess
import sys
import time

import numpy as np
import pytest

from convtool.cli.render import GROUP_TITLES, fmt, render_constants
from convtool.numeric.constants import FIELDS, GROUPS, compute_constants
from convtool.numeric.data import default_instance, load_instance

from clihelpers import assert_user_error, ok  # tests/clihelpers.py

REQUIRED_JSON_KEYS = ["mu", "K", "lstar", "L0", "lambda_plus", "lambda_minus", "Delta_low", "Delta_plus",
                      "Delta_minus", "beta1", "beta2", "alpha1", "alpha2", "sigma_min_T0_sq", "sigma_max_T0_sq",
                      "eta0_1", "eta0_2", "eta0_3", "eta_max", "eta0", "mubar", "Kbar0", "rhobar0", "Delta"]


def close(a, b):
    if a is None or b is None:
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    return a == b


# ------------------------------------------------------------------ data files

@pytest.fixture(scope="module")
def default_result():
    inst = default_instance()
    return inst, compute_constants(inst.loss, inst.W1, inst.W2)


@pytest.fixture
def small_npz(tmp_path):
    """A small squared-loss instance with weights: N = 6, n = 4, m = 3, h = 12."""
    rng = np.random.default_rng(1)
    X = np.linalg.qr(rng.normal(size=(6, 4)))[0] * 2.0
    W1, W2 = rng.normal(size=(4, 12)), rng.normal(size=(3, 12))
    Y = X @ W1 @ W2.T + 0.1 * rng.normal(size=(6, 3))
    path = tmp_path / "small.npz"
    np.savez(path, X=X, Y=Y, W1=W1, W2=W2)
    return path


@pytest.fixture
def data_only_npz(tmp_path):
    """X, Y without weights (needs --width)."""
    rng = np.random.default_rng(2)
    path = tmp_path / "xy.npz"
    np.savez(path, X=rng.normal(size=(8, 4)), Y=rng.normal(size=(8, 3)))
    return path


# ------------------------------------------------------------------ constants

def test_constants_default_tables(invoke):
    r = ok(invoke("constants"))
    out = r.stdout
    assert r.stderr == ""
    assert out.splitlines()[0].startswith("source: built-in default")
    for group in GROUPS:
        assert GROUP_TITLES[group] in out
    for name in ("alpha1", "alpha2", "eta_max", "eta0_1", "eta0_2", "mubar", "rhobar0", "Kbar0"):
        assert f"│ {name} " in out
    for dim in ("N", "n", "m", "h"):
        assert f"│ {dim} " in out
    assert "Solver (eqs. 87, 88)" in out and "brentq" in out and "converged" in out
    assert "Applicability" in out and "✓" in out and "✗" not in out
    assert "n/a" not in out


def test_constants_values_in_table(invoke, default_result):
    _, res = default_result
    out = ok(invoke("constants")).stdout
    for field in ("alpha1", "eta_max", "L0", "rhobar0"):
        assert fmt(res.quantities[field]) in out


def test_constants_json_strict_and_equal_to_library(invoke, default_result):
    inst, res = default_result
    r = ok(invoke("constants", "--json"))
    assert r.stderr == ""
    data = json.loads(r.stdout)  # strict: NaN/Infinity would not be written (allow_nan=False)
    assert isinstance(data, dict)
    missing = [k for k in REQUIRED_JSON_KEYS if k not in data]
    assert not missing
    expected = res.to_dict()
    for key in FIELDS:
        assert close(data[key], expected[key]), (key, data[key], expected[key])
    assert data["source"] == inst.source
    assert (data["n"], data["m"], data["h"], data["rank"]) == (res.n, res.m, res.h, res.rank)
    assert {c["name"] for c in data["checks"]} == {c.name for c in res.checks}
    assert set(data["roots"]) == {"eta0_1", "eta0_2"}
    assert "Infinity" not in r.stdout and "NaN" not in r.stdout


def test_constants_latex_column(invoke):
    r = ok(invoke("constants", "--latex"))
    assert "LaTeX" in r.stdout
    assert r"\alpha_1" in r.stdout
    j = json.loads(ok(invoke("constants", "--json", "--latex")).stdout)
    assert j["latex"]["alpha1"].startswith(r"\alpha_1 =")


def test_constants_eta0_above_eta_max_warns(invoke, default_result):
    _, res = default_result
    eta0 = 10 * res.eta_max
    r = ok(invoke("constants", "--eta0", eta0))
    assert r.stderr.startswith("Warning: ")
    assert "above eta_max" in r.stderr
    assert "Traceback" not in r.stderr
    row = next(ln for ln in r.stdout.splitlines() if "eta0 <= eta_max" in ln)
    assert "✗" in row
    j = json.loads(ok(invoke("constants", "--eta0", eta0, "--json")).stdout)
    check = next(c for c in j["checks"] if c["name"] == "eta0 <= eta_max")
    assert check["ok"] is False
    assert j["eta0"] == pytest.approx(eta0) and j["eta0_source"] == "user"


def test_constants_theory_options(invoke, small_npz):
    inst = load_instance(small_npz)
    res = compute_constants(inst.loss, inst.W1, inst.W2, c=0.3, d=1.5)
    j = json.loads(ok(invoke("constants", small_npz, "--c", "0.3", "--d", "1.5", "--json")).stdout)
    assert (j["c"], j["d"]) == (0.3, 1.5)
    expected = res.to_dict()
    for key in REQUIRED_JSON_KEYS:
        assert close(j[key], expected[key]), key


def test_rank_deficient_x_is_not_an_error(invoke, tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(6, 4))
    X[:, 3] = X[:, 0]  # rank 3: mu = 0
    path = tmp_path / "rd.npz"
    np.savez(path, X=X, Y=rng.normal(size=(6, 3)))
    r = ok(invoke("constants", path, "--width", 10))
    assert "n/a [1]" in r.stdout
    notes = r.stdout[r.stdout.index("n/a reasons:"):]
    assert "[1] mu = 0" in notes
    row = next(ln for ln in r.stdout.splitlines() if "│ alpha1 " in ln)
    assert "n/a" in row
    j = json.loads(ok(invoke("constants", path, "--width", 10, "--json")).stdout)
    assert j["mu"] == 0.0 and j["alpha1"] is None and j["eta_max"] is None
    assert "mu = 0" in j["not_applicable"]["alpha1"]


def test_render_inf_and_not_applicable(default_result):
    """inf prints as 'inf'; a NotApplicable as 'n/a [k]' with its reason as footnote k."""
    from rich.console import Console

    from convtool.results import NotApplicable

    _, res = default_result
    res = type(res)(**{**res.__dict__, "quantities": {**res.quantities, "eta0_2": float("inf"),
                                                      "Delta_low": NotApplicable("because of a test")}})
    buf = io.StringIO()
    Console(file=buf, width=100, color_system=None, legacy_windows=False).print(render_constants(res, "test"))
    out = buf.getvalue()
    row = next(ln for ln in out.splitlines() if "│ eta0_2 " in ln)
    assert "│      inf │" in row or " inf " in row
    assert "[1] because of a test" in out


# ------------------------------------------------------------------ generate / save-init

def test_generate_then_constants(invoke, tmp_path):
    path = tmp_path / "f.npz"
    r = ok(invoke("generate", "fig1", "--n", 4, "--h", 20, "--seed", 1, "-o", path))
    assert r.stdout.startswith(f"wrote {path}: fig1(n=4, h=20, sigma=1.0, seed=1)")
    assert len(r.stdout.splitlines()) == 1
    with np.load(path) as f:
        assert sorted(f.files) == ["W1", "W2", "X", "Y"]
        assert f["W1"].shape == (4, 20)
    r = ok(invoke("constants", path))
    assert f"source: {path}" in r.stdout and "h=20" in r.stdout
    j = json.loads(ok(invoke("constants", path, "--json")).stdout)
    inst = load_instance(path)
    assert close(j["alpha1"], compute_constants(inst.loss, inst.W1, inst.W2).alpha1)


@pytest.mark.parametrize("fig,args", [("fig3", ["--p", "0.3", "--h", "30", "--n", "3"]),
                                      ("fig4", ["--h", "25", "--n", "3"])], ids=["fig3", "fig4"])
def test_generate_other_figures(invoke, tmp_path, fig, args):
    path = tmp_path / f"{fig}.npz"
    r = ok(invoke("generate", fig, *args, "-o", path))
    assert r.stdout.startswith(f"wrote {path}: {fig}(")
    ok(invoke("constants", path, "--json"))


@pytest.mark.parametrize("args,fragment", [
    (["fig3", "--sigma", "1"], "not --sigma"),
    (["fig1", "--n", "0"], "n must be a positive integer"),
    (["fig3", "--p", "-1"], "p must be > 0"),
], ids=["option-not-taken", "bad-n", "bad-p"])
def test_generate_bad_parameters(invoke, tmp_path, args, fragment):
    assert_user_error(invoke("generate", *args, "-o", tmp_path / "x.npz"), fragment)
    assert not (tmp_path / "x.npz").exists()


def test_generate_unwritable(invoke, tmp_path):
    # checked before the instance is generated (issue 15): the missing folder is named
    assert_user_error(invoke("generate", "fig4", "--h", 10, "-o", tmp_path / "no" / "dir.npz"), "no", "does not exist")
    assert_user_error(invoke("generate", "fig4", "--h", 10, "-o", "/proc/convtool.npz"), "cannot write")


def test_save_init_round_trip(invoke, data_only_npz, tmp_path):
    saved = tmp_path / "init.npz"
    r = ok(invoke("constants", data_only_npz, "--width", 15, "--init", "xavier", "--seed", 7,
                  "--save-init", saved, "--json"))
    assert f"saved data and initial weights to {saved}" in r.stderr
    first = json.loads(r.stdout)
    with np.load(saved) as f:
        assert sorted(f.files) == ["W1", "W2", "X", "Y"]
        assert f["W1"].shape == (4, 15) and f["W2"].shape == (3, 15)
    again = json.loads(ok(invoke("constants", saved, "--json")).stdout)
    assert again["h"] == 15
    for key in FIELDS:
        assert close(first[key], again[key]), key


def test_instance_options_without_data(invoke):
    # --width / --seed select the Fig. 1 instance at that width and seed; others need DATA
    j = json.loads(ok(invoke("constants", "--width", 50, "--seed", 3, "--json")).stdout)
    assert j["h"] == 50
    from convtool.numeric.experiments import default_batch
    from convtool.numeric.constants import compute_constants
    b = default_batch(seeds=1, seed=3, h=50)
    assert close(j["alpha1"], compute_constants(b.losses[0], b.W1[0], b.W2[0]).alpha1)
    assert_user_error(invoke("constants", "--init", "xavier"), "--init", "DATA")


# ------------------------------------------------------------------ bad input: one line, exit 2

def _write(tmp_path, name, **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def _bad_cases():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))

    def missing_file(tmp):
        return [tmp / "nope.npz"], "file not found"

    def directory(tmp):
        return [tmp], "directory"

    def text_file(tmp):
        p = tmp / "data.npz"
        p.write_text("X = 1, 2, 3\n")
        return [p], "not an .npz archive"

    def npy_file(tmp):
        p = tmp / "x.npy"
        np.save(p, X)
        return [p], "not an .npz archive"

    def pickled_object(tmp):
        p = tmp / "obj.npz"
        np.savez(p, X=np.array([{"a": 1}, None], dtype=object), Y=Y)
        return [p], "pickled"

    def raw_pickle(tmp):
        p = tmp / "raw.npz"
        p.write_bytes(pickle.dumps({"X": X}))
        return [p], "pickled files are refused"

    def missing_x(tmp):
        return [_write(tmp, "noX.npz", Y=Y), "--width", "8"], "needs array(s) X"

    def mismatched(tmp):
        return [_write(tmp, "mm.npz", X=X, Y=Y[:4]), "--width", "8"], "same number of rows"

    def weights_mismatch(tmp):
        return [_write(tmp, "wm.npz", X=X, Y=Y, W1=rng.normal(size=(4, 8)), W2=rng.normal(size=(3, 9)))], "width"

    def nan_entries(tmp):
        Xn = X.copy()
        Xn[0, 0] = np.nan
        return [_write(tmp, "nan.npz", X=Xn, Y=Y), "--width", "8"], "NaN"

    def narrow(tmp):
        return [_write(tmp, "narrow.npz", X=X, Y=Y, W1=rng.normal(size=(4, 2)), W2=rng.normal(size=(3, 2)))], \
            "below min(n, m)"

    def narrow_width(tmp):
        return [_write(tmp, "xy.npz", X=X, Y=Y), "--width", "2"], "below min(n, m)"

    def no_width(tmp):
        return [_write(tmp, "xy.npz", X=X, Y=Y)], "--width"

    def bad_c(tmp):
        return ["--c", "1.5"], "c must lie in (0, 1)"

    def bad_d(tmp):
        return ["--d", "1"], "d must be > 1"

    def bad_eta0(tmp):
        return ["--eta0", "-1"], "eta0 must be a positive number"

    return [missing_file, directory, text_file, npy_file, pickled_object, raw_pickle, missing_x, mismatched,
            weights_mismatch, nan_entries, narrow, narrow_width, no_width, bad_c, bad_d, bad_eta0]


@pytest.mark.parametrize("case", _bad_cases(), ids=lambda f: f.__name__.replace("_", "-"))
def test_bad_input_one_line_exit_2(invoke, tmp_path, case):
    args, fragment = case(tmp_path)
    assert_user_error(invoke("constants", *args), fragment)
    assert_user_error(invoke("constants", *args, "--json"), fragment)


def test_click_usage_error_exits_2(invoke):
    r = invoke("constants", "--loss", "nonsense")
    assert r.exit_code == 2 and isinstance(r.exception, SystemExit)
    assert "Traceback" not in r.stderr


# ------------------------------------------------------------------ explain

def test_explain_formula_tree_reference(invoke):
    r = ok(invoke("explain", "alpha1"))
    out = r.stdout
    assert out.startswith("alpha1 (expression) - Table 2")
    assert "Lemma E.3" in out  # description
    assert "α₁ =" in out  # sympy pretty print
    assert r"LaTeX: \alpha_1 = " in out
    assert "depends on:" in out
    for dep in ("├── Delta_low", "beta1", "lambda_n_D0", "sigma_min_Wstar", "(expanded above)"):
        assert dep in out
    assert "_lambdifygenerated" not in out


def test_explain_with_values(invoke, small_npz):
    inst = load_instance(small_npz)
    res = compute_constants(inst.loss, inst.W1, inst.W2)
    out = ok(invoke("explain", "alpha1", small_npz)).stdout
    assert f"source: {small_npz}" in out
    assert f"alpha1 = {fmt(res.alpha1)}" in out
    assert f"beta1 = {fmt(res.beta1)}" in out
    assert f"mu = {fmt(res.mu)}" in out


def test_explain_default_instance(invoke, default_result):
    _, res = default_result
    out = ok(invoke("explain", "eta_max", "--default")).stdout
    assert f"eta_max = {fmt(res.eta_max)}" in out
    assert f"eta0_1 = {fmt(res.eta0_1)}" in out


def test_explain_values_not_applicable(invoke, tmp_path):
    path = _write(tmp_path, "rd.npz", X=np.zeros((4, 3)) + np.eye(4, 3) * [1, 1, 0], Y=np.ones((4, 2)))
    out = ok(invoke("explain", "alpha1", path, "--width", 6)).stdout
    assert "alpha1 = n/a (mu = 0" in out


@pytest.mark.parametrize("name,kind,marker", [
    ("alpha1", "expression", "def _lambdifygenerated("),
    ("eta0_1", "equation", "# residual f(eta0"),
    ("mu", "primitive", "# primitive"),
], ids=["expression", "equation", "primitive"])
def test_explain_source(invoke, name, kind, marker):
    out = ok(invoke("explain", name, "--source")).stdout
    assert out.startswith(f"{name} ({kind})")
    assert "generated source:" in out and marker in out


def test_explain_json(invoke, small_npz):
    j = json.loads(ok(invoke("explain", "alpha2", small_npz, "--json")).stdout)
    assert j["name"] == "alpha2" and j["reference"] == "Table 2"
    assert {c["name"] for c in j["tree"]["inputs"]} == {"beta2", "lambda_minus", "lambda_plus"}
    assert isinstance(j["tree"]["value"], float)


def test_explain_list(invoke):
    from convtool.analysis import names

    out = ok(invoke("explain", "--list")).stdout
    for n in names():
        assert f"│ {n} " in out
    j = json.loads(ok(invoke("explain", "--list", "--json")).stdout)
    assert [q["name"] for q in j] == names()


@pytest.mark.parametrize("name,fragment", [("nonsense", "unknown quantity 'nonsense'"),
                                           ("alpah1", "did you mean alpha1")], ids=["no-match", "close-match"])
def test_explain_unknown_name(invoke, name, fragment):
    line = assert_user_error(invoke("explain", name), fragment)
    assert "explain --list" in line


def test_explain_usage(invoke, small_npz):
    r = invoke("explain")
    assert r.exit_code == 2 and "NAME" in r.stderr
    assert_user_error(invoke("explain", "alpha1", small_npz, "--default"), "either DATA or --default")
    assert_user_error(invoke("explain", "alpha1", "--c", "0.3"), "--c", "give DATA or --default")
    assert_user_error(invoke("explain", "alpha1", "--default", "--std", "9"), "--std", "DATA")
    j = json.loads(ok(invoke("explain", "mubar", "--default", "--c", "0.3", "--json")).stdout)
    assert next(c for c in j["tree"]["inputs"] if c["name"] == "c")["value"] == 0.3


# ------------------------------------------------------------------ fast start, tables in sync

def test_version(invoke):
    from convtool import __version__

    r = ok(invoke("--version"))
    assert r.stdout.strip() == f"convtool {__version__}"


def test_import_is_light_and_version_fast():
    code = ("import sys, time; t = time.perf_counter(); import convtool.cli.main; "
            "heavy = [m for m in ('numpy', 'sympy', 'scipy', 'networkx', 'rich') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported by convtool.cli.main: {out.stdout}"
    t0 = time.perf_counter()
    v = subprocess.run([sys.executable, "-m", "convtool.cli", "--version"], capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    assert v.returncode == 0 and v.stdout.startswith("convtool ") and v.stderr == ""
    assert elapsed < 1.0, f"--version took {elapsed:.2f} s"


def test_choices_match_library_tables():
    """The CLI's choices are plain tuples (no heavy imports); they must equal the library's tables."""
    from convtool.cli.cmd_generate import GENERATOR_CHOICES
    from convtool.cli.options import INIT_CHOICES, INSTANCE_DEFAULTS, LOSS_CHOICES
    from convtool.numeric.generators import GENERATORS
    from convtool.numeric.init import INIT_SCHEMES
    from convtool.numeric.losses import LOSSES

    assert LOSS_CHOICES == tuple(LOSSES)
    assert INIT_CHOICES == tuple(INIT_SCHEMES)
    assert GENERATOR_CHOICES == tuple(GENERATORS)
    import inspect

    from convtool.numeric.data import build_instance

    sig = inspect.signature(build_instance)
    assert {k: sig.parameters[k].default for k in INSTANCE_DEFAULTS} == INSTANCE_DEFAULTS


def test_no_color_env_is_honoured(invoke):
    term = {"FORCE_COLOR": "1", "TERM": "xterm-256color"}
    coloured = ok(invoke("constants", env={**term, "NO_COLOR": None})).stdout
    plain = ok(invoke("constants", env={**term, "NO_COLOR": "1"})).stdout
    assert "\x1b[32m" in coloured  # the green check marks
    assert "\x1b[32m" not in plain and "\x1b[31m" not in plain
