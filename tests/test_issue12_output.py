"""Issue 12: output that never hides a number, plots that draw the right bound, results that leave the tool.

Tables are rendered at 60, 80 and 200 columns: no cell is cut (no ellipsis) and every number printed at 200
columns also appears at 80. The --format forms are parsed back (csv, markdown, latex) and compared with the
--json numbers; --out files are loaded again (as DATA, and by ``convtool show``); plots are inspected through
their artists and the saved file's magic bytes. Small instances (h = 20, <= 60 steps) keep this file fast.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from clihelpers import assert_user_error, ok, strict_json
from convtool.cli.main import cli

SMALL = ("--width", "20", "--steps", "40")
NUM = re.compile(r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|\.\d+(?:e[-+]?\d+)?|inf)")


def invoke(*args, env=None, cols="120"):
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": cols, "NO_COLOR": "1", **(env or {})})


def numbers(text: str) -> set:
    return set(NUM.findall(text))


# ------------------------------------------------------------------ A: tables at 60, 80, 200 columns

WIDTH_CASES = {
    "constants": ("constants", "--width", "20", "--instance", "fig1"),
    "constants-eta0-high": ("constants", "--width", "20", "--eta0", "0.01"),
    "schedule": ("schedule", "--width", "20", "--steps", "5"),
    "run": ("run", *SMALL),
    "run-local": ("run", *SMALL, "--schedule", "local"),
    "compare": ("compare", "--width", "20", "--steps", "15", "--seeds", "2", "--schedules", "adaptive,adgd"),
    "constants-dln": ("constants", "--model", "deep-linear", "--widths", "30"),  # DATA added by the test
    # the plugin models render through the same fitting (convtool.cli.plugins.emit_table)
    "run-mlp": ("run", "--model", "mlp", "--steps", "20", "--eta", "0.01"),
    "constants-resnet": ("constants", "--model", "resnet"),
    "run-resnet": ("run", "--model", "resnet", "--steps", "20"),
}


def _small_dln(tmp_path) -> str:
    path = str(tmp_path / "zx.npz")
    ok(invoke("generate", "zhao-xu", "--d", "6", "--M", "40", "--k", "3", "-o", path))
    return path


@pytest.mark.parametrize("case", sorted(WIDTH_CASES), ids=sorted(WIDTH_CASES))
def test_tables_keep_every_number_at_60_80_200_columns(case, monkeypatch, tmp_path):
    import time

    monkeypatch.setattr(time, "perf_counter", lambda: 0.0)  # wall times 0: the three runs print the same numbers
    args = WIDTH_CASES[case]
    if case == "constants-dln":
        args = (*args, _small_dln(tmp_path))
    outs = {c: ok(invoke(*args, cols=str(c))).stdout for c in (60, 80, 200)}
    for c, text in outs.items():
        assert "…" not in text, (c, text)
        assert max(len(line) for line in text.splitlines()) <= c, c
    wide = numbers(outs[200])
    assert wide, outs[200]
    missing = wide - numbers(outs[80])
    assert not missing, f"{case}: printed at 200 columns but not at 80: {sorted(missing)[:10]}"
    missing60 = wide - numbers(outs[60])
    assert not missing60, f"{case}: printed at 200 columns but not at 60: {sorted(missing60)[:10]}"


def test_fit_stacks_a_table_that_would_cut_a_number():
    """A two-column table whose cells cannot share 30 columns is printed stacked, every digit kept."""
    from rich.console import Console
    from rich.table import Table

    from convtool.cli.formats import fit_all

    t = Table(title="t")
    t.add_column("quantity", no_wrap=True)
    t.add_column("value", no_wrap=True)
    t.add_row("a_long_quantity_name_here", "0.00074480000012345")
    cut = io.StringIO()
    Console(file=cut, width=30, color_system=None, _environ={}).print(t)
    assert "…" in cut.getvalue()  # rich alone cuts it: the case is real
    buf = io.StringIO()
    Console(file=buf, width=30, color_system=None, _environ={}).print(fit_all(t))
    assert "0.00074480000012345" in buf.getvalue() and "…" not in buf.getvalue()


# ------------------------------------------------------------------ A: rates near 1

@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1 - 1e-3, max_value=1 + 1e-3, allow_nan=False).filter(lambda x: 0 < abs(1.0 - x) < 1e-3))
def test_value_near_one_never_prints_as_one(x):
    from convtool.cli.render import fmt

    text = fmt(x)
    assert text not in ("1", "1.0")
    sign, gap = re.fullmatch(r"1 ([-+]) (\S+)", text).groups()
    exact = Fraction(1) - Fraction(x)  # the exact gap, an independent oracle of 1 - x
    assert (sign == "-") == (exact > 0)
    assert float(gap) == pytest.approx(abs(float(exact)), rel=1e-5)


def test_issue_examples_near_one():
    from convtool.cli.render import fmt

    assert fmt(0.9999999999999525) == "1 - 4.75175e-14"
    assert fmt(0.99999951) == "1 - 4.9e-07"
    assert fmt(1.0) == "1" and fmt(0.5) == "0.5"


# ------------------------------------------------------------------ A: --digits and --format

def _csv_blocks(text: str) -> dict:
    blocks = {}
    for block in text.strip().split("\n\n"):
        rows = list(csv.reader(io.StringIO(block)))
        blocks[rows[0][0]] = rows[1:]
    return blocks


def test_constants_digits_and_formats_carry_the_json_values():
    js = strict_json(ok(invoke("constants", "--width", "20", "--json")).stdout)
    three = ok(invoke("constants", "--width", "20", "--digits", "3")).stdout
    row = next(ln for ln in three.splitlines() if ln.startswith("│ eta_max "))
    assert row.split("│")[2].strip() == f"{js['eta_max']:.3g}"
    blocks = _csv_blocks(ok(invoke("constants", "--width", "20", "--format", "csv", "--digits", "10")).stdout)
    values = {row[0]: row[1] for rows in blocks.values() for row in rows[1:] if len(row) > 1}
    for key in ("eta_max", "alpha1", "alpha2", "rhobar0", "L0", "mubar"):
        assert float(values[key]) == pytest.approx(js[key], rel=1e-9), key
    md = ok(invoke("constants", "--width", "20", "--format", "markdown")).stdout
    assert md.count("|---|") >= 6 and "eta_max" in md and "…" not in md
    tex = ok(invoke("constants", "--width", "20", "--format", "latex")).stdout
    assert tex.count(r"\begin{tabular}") == tex.count(r"\end{tabular}") >= 6
    assert r"eta\_max" in tex and "eta_max" not in tex.replace(r"eta\_max", "")


def test_compare_csv_has_per_seed_rows_matching_the_saved_records(tmp_path):
    out = tmp_path / "cmp.npz"
    args = ("compare", "--width", "20", "--steps", "30", "--seeds", "3", "--schedules", "adaptive,local")
    text = ok(invoke(*args, "--format", "csv", "--digits", "12", "--out", str(out))).stdout
    per_seed = _csv_blocks(text)["Per seed"]
    head, rows = per_seed[0], per_seed[1:]
    assert len(rows) == 3 * 2 + 3  # 3 seeds x 2 schedules + the reference per seed
    with np.load(out, allow_pickle=False) as f:
        for name in ("adaptive", "local"):
            loss, steps = f[f"{name}__loss"], f[f"{name}__steps"]
            mine = [dict(zip(head, r)) for r in rows if r[0] == name]
            assert [int(r["seed_index"]) for r in mine] == [0, 1, 2]
            for r in mine:
                k = int(r["seed_index"])
                assert int(r["steps"]) == steps[k]
                assert float(r["final_L"]) == pytest.approx(loss[k, steps[k]], rel=1e-10)
    for fmt in ("markdown", "latex"):
        assert "Per seed" in ok(invoke(*args, "--format", fmt)).stdout


def test_run_and_schedule_take_every_format():
    for cmd in (("run", *SMALL), ("schedule", "--width", "20", "--steps", "4")):
        for fmt in ("markdown", "csv", "latex"):
            r = ok(invoke(*cmd, "--format", fmt))
            assert r.stdout.strip() and "┃" not in r.stdout and "…" not in r.stdout


# ------------------------------------------------------------------ B: the verdict

@pytest.mark.parametrize("schedule, guarantee", [("adaptive", "Theorem 3.2"), ("local", "Theorem 3.1")])
def test_verdict_counts_match_the_summary(schedule, guarantee):
    js = strict_json(ok(invoke("run", *SMALL, "--schedule", schedule, "--json")).stdout)
    v, viol = js["verdict"], js["summary"]["violations"]
    assert v["guarantee"] == guarantee
    c31, c32 = v["checks"]
    assert c31["applies_on"] == viol["thm31_steps_applicable"]
    assert c31["applies_on"] - c31["held_on"] == viol["thm31"]
    assert c32["applies_on"] == viol["thm32_steps_in_range"]
    assert c32["applies_on"] - c32["held_on"] == viol["thm32"]
    assert v["steps"] == sum(js["summary"]["steps"])
    assert v["observed_rate"] == js["summary"]["observed_rate"]
    if guarantee == "Theorem 3.2":
        assert v["guarantee_rate"] == js["summary"]["rhobar0"]
    table = ok(invoke("run", *SMALL, "--schedule", schedule)).stdout
    assert f"held on {c31['held_on']} of {c31['applies_on']} steps where it applies" in " ".join(table.split())
    if schedule == "local":
        assert "Theorem 3.2: applies at no step" in " ".join(table.split())


def test_compare_gives_a_verdict_per_schedule():
    js = strict_json(ok(invoke("compare", "--width", "20", "--steps", "30", "--schedules", "adaptive,local",
                               "--json")).stdout)
    assert {r["name"]: r["verdict"]["guarantee"] for r in js["rows"] if "verdict" in r} == \
        {"adaptive": "Theorem 3.2", "local": "Theorem 3.1"}


# ------------------------------------------------------------------ C: plots

def _run_result(schedule, steps=40, seeds=1):
    from convtool.numeric.experiments import default_batch, run_batch

    return run_batch(default_batch(h=20, seeds=seeds), schedule=schedule, steps=steps)


def _labels(ax):
    return [line.get_label() for line in ax.get_lines()]


def test_run_plot_draws_theorem_32_only_in_its_range(tmp_path):
    from convtool.cli.plots import plot_run

    local = plot_run(_run_result("local"), tmp_path / "l.png")
    ax = local.axes[0]
    assert ax.get_yscale() == "log"
    labels = _labels(ax)
    assert not any(lab.startswith("Thm 3.2:") for lab in labels)  # outside its range at every step
    assert any("Thm 3.2 bound omitted" in lab and "outside its range" in lab for lab in labels)
    thm31 = [ln for ln in ax.get_lines() if ln.get_label().startswith("Thm 3.1:")]
    assert len(thm31) == 1
    adaptive = plot_run(_run_result("adaptive"), tmp_path / "a.png")
    labels = _labels(adaptive.axes[0])
    assert sum(lab.startswith("Thm 3.2:") for lab in labels) == 2
    # the legend entries are mathtext
    assert any("$" in lab for lab in labels)


def test_thm31_chain_restarts_after_steps_it_does_not_cover():
    from convtool.cli.plots import thm31_chain

    rng = np.random.default_rng(0)
    L = np.cumprod(rng.uniform(0.5, 1.0, (2, 13)), axis=1)
    rho = rng.uniform(0.6, 1.0, (2, 12))
    app = rng.random((2, 12)) < 0.6
    ch = thm31_chain(L, rho, app)
    for r in range(2):
        for t in range(12):  # brute force: walk back to the start a of the applicable run containing step t
            if not app[r, t]:
                continue
            a = t
            while a > 0 and app[r, a - 1]:
                a -= 1
            assert ch[r, t + 1] == pytest.approx(L[r, a] * np.prod(rho[r, a:t + 1]), rel=1e-12)
        covered = np.zeros(13, dtype=bool)
        covered[:-1] |= app[r]
        covered[1:] |= app[r]
        assert np.isnan(ch[r, ~covered]).all()


def test_compare_plot_styles_panels_and_y_range(tmp_path):
    from convtool.cli.plots import plot_compare
    from convtool.numeric.experiments import compare_schedules, default_batch

    cmp = compare_schedules(default_batch(h=20, seeds=2), ["adaptive", "constant", "local"], steps=30)
    fig = plot_compare(cmp, tmp_path / "c.svg")
    ax, ax_e = fig.axes[:2]
    med = {ln.get_label().split(" ")[0]: ln for ln in ax.get_lines() if "median" in ln.get_label()}
    assert set(med) == {"adaptive", "constant", "local"}
    styles = {(ln.get_linestyle(), ln.get_color(), ln.get_marker()) for ln in med.values()}
    assert len({s[0] for s in styles}) == 3  # adaptive = constant here: the styles still tell them apart
    assert ax.get_yscale() == ax_e.get_yscale() == "log"
    assert {ln.get_label() for ln in ax_e.get_lines()} == {"adaptive", "constant", "local"}
    seeds_lines = [ln for ln in ax.get_lines() if ln.get_label().startswith("_")]
    assert len(seeds_lines) >= 3 * 2  # one thin line per seed and schedule
    ref = cmp.runs["adaptive"].arrays["reference_loss"]
    lo = np.nanmin(np.where(ref > 0, ref, np.nan))
    assert ax.get_ylim()[0] > lo  # the reference (round-off after one step) does not set the range


def test_plot_format_follows_the_extension_and_dpi(tmp_path):
    from convtool.cli.plots import plot_run

    res = _run_result("adaptive", steps=10)
    for ext, magic in ((".png", b"\x89PNG\r\n\x1a\n"), (".pdf", b"%PDF"), (".svg", b"<?xml")):
        plot_run(res, tmp_path / f"fig{ext}")
        assert (tmp_path / f"fig{ext}").read_bytes().startswith(magic), ext

    def width(p):
        return int.from_bytes(p.read_bytes()[16:20], "big")  # the PNG IHDR width

    plot_run(res, tmp_path / "a.png", dpi=30)
    plot_run(res, tmp_path / "b.png", dpi=60)
    assert width(tmp_path / "b.png") == pytest.approx(2 * width(tmp_path / "a.png"), abs=2)


def test_cli_plot_pdf_is_a_pdf(tmp_path):
    path = tmp_path / "fig.pdf"  # before issue 12 this file held PNG bytes
    ok(invoke("run", "--width", "20", "--steps", "10", "--plot", str(path), "--dpi", "40"))
    assert path.read_bytes().startswith(b"%PDF")


def test_unknown_plot_extension_is_one_line(tmp_path):
    assert_user_error(invoke("run", *SMALL, "--plot", str(tmp_path / "x.jpg")), "unknown plot format", ".png")
    assert not (tmp_path / "x.jpg").exists()


# ------------------------------------------------------------------ E: results that leave the tool

def test_run_out_loads_again_as_data_and_shows_again(tmp_path):
    out = tmp_path / "run.npz"
    table = ok(invoke("run", *SMALL, "--out", str(out))).stdout
    js = strict_json(ok(invoke("run", *SMALL, "--json")).stdout)
    again = strict_json(ok(invoke("constants", str(out), "--json")).stdout)
    for key in ("eta_max", "L0", "alpha1", "alpha2", "rhobar0"):
        assert again[key] == pytest.approx(js["constants"][0][key], rel=1e-12), key
    shown = ok(invoke("show", str(out), "--plot", str(tmp_path / "again.pdf"))).stdout
    rows = [ln for ln in table.splitlines() if "wall time" not in ln]
    assert all(ln in shown.splitlines() for ln in rows), "show re-renders the run's table"
    assert (tmp_path / "again.pdf").read_bytes().startswith(b"%PDF")
    with np.load(out, allow_pickle=False) as f:
        meta = json.loads(str(f["metadata"]))
        np.testing.assert_array_equal(f["W1"], f["W1_0"])
    prov = meta["config"]["provenance"]
    assert prov["command"].startswith("convtool run") and "--out" in prov["command"]
    assert prov["seed"] == 0 and prov["versions"]["numpy"] == np.__version__


def test_every_json_carries_provenance(tmp_path):
    import scipy
    import sympy

    import convtool

    dln = _small_dln(tmp_path)
    for args in (("constants", "--width", "20"), ("run", "--width", "20", "--steps", "5"),
                 ("schedule", "--width", "20", "--steps", "3"),
                 ("compare", "--width", "20", "--steps", "5", "--schedules", "adaptive"),
                 ("constants", "--model", "deep-linear", "--widths", "30", dln),
                 ("widths", dln, "--widths", "6"), ("explain", "eta_max")):
        prov = strict_json(ok(invoke(*args, "--json")).stdout)["provenance"]
        assert prov["command"].split()[:2] == ["convtool", args[0]]
        assert prov["versions"] == {"convtool": convtool.__version__, "numpy": np.__version__,
                                    "scipy": scipy.__version__, "sympy": sympy.__version__,
                                    "python": prov["versions"]["python"]}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", prov["timestamp"])
        assert "seed" in prov and "init" in prov


def test_compare_and_schedule_out(tmp_path):
    c, s = tmp_path / "c.npz", tmp_path / "s"
    js = strict_json(ok(invoke("compare", "--width", "20", "--steps", "20", "--schedules", "adaptive,local",
                               "--out", str(c), "--json")).stdout)
    with np.load(c, allow_pickle=False) as f:
        assert {"adaptive__loss", "local__loss", "adaptive__eta", "reference_loss", "X", "Y", "W1", "W2"} <= set(f.files)
        assert json.loads(str(f["metadata"]))["rows"] == js["rows"]
    ok(invoke("constants", str(c)))  # one seed: the file is its instance
    shown = ok(invoke("show", str(c))).stdout
    assert "adaptive" in shown and "Verdicts" in shown
    sj = strict_json(ok(invoke("schedule", "--width", "20", "--steps", "4", "--out", str(s), "--json")).stdout)
    with np.load(str(s) + ".npz", allow_pickle=False) as f:
        np.testing.assert_allclose(f["eta"], [r["eta"] for r in sj["steps"]], rtol=0)


def test_show_refuses_other_files_in_one_line(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, X=np.eye(2), Y=np.eye(2))
    assert_user_error(invoke("show", str(p)), "no 'metadata'")
    assert_user_error(invoke("show", str(tmp_path / "missing.npz")), "file not found")


def test_data_file_with_bool_arrays_is_refused_unless_convtool_wrote_it(tmp_path):
    from convtool.errors import InputError
    from convtool.numeric.data import load_arrays

    p = tmp_path / "b.npz"
    np.savez(p, X=np.eye(2), flag=np.ones(2, dtype=bool))
    with pytest.raises(InputError, match="non-numeric dtype bool"):
        load_arrays(p)
    np.savez(p, X=np.eye(2), flag=np.array([True, False]), metadata=np.array(json.dumps({"a": 1})))
    assert load_arrays(p)["flag"].tolist() == [1.0, 0.0]


# ------------------------------------------------------------------ F: options

def test_short_help_and_quiet(tmp_path):
    assert "Usage:" in ok(invoke("run", "-h")).stdout
    assert "Usage:" in ok(invoke("-h")).stdout
    loud = ok(invoke("run", *SMALL, "--out", str(tmp_path / "a.npz")))
    quiet = ok(invoke("--quiet", "run", *SMALL, "--out", str(tmp_path / "b.npz")))
    assert "saved run arrays" in loud.stderr and "saved" not in quiet.stderr
    assert quiet.stdout.strip()


def test_schedule_label_does_not_clash_with_the_width():
    text = " ".join(ok(invoke("run", *SMALL)).stdout.split())
    assert "h = rho" not in text and "eq. (19) with rate function rho" in text


def _weights_file(tmp_path, name="w.npz", h=12, seed=5):
    from convtool.numeric.init import init_weights

    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((15, 4)), rng.standard_normal((15, 3))
    W1, W2 = init_weights(4, 3, h, "gaussian", seed=seed)
    p = tmp_path / name
    np.savez(p, X=X, Y=Y, W1=W1, W2=W2)
    return p, X, Y


def test_weights_in_data_refuse_generation_options_unless_reinit(tmp_path):
    p, X, Y = _weights_file(tmp_path)
    for opt in (("--seed", "3"), ("--init", "xavier"), ("--std", "0.1"), ("--p", "0.5")):
        assert_user_error(invoke("constants", str(p), *opt), "holds W1, W2", opt[0], "--reinit")
    # --reinit: the same instance as generating from X, Y alone at the file's width with that seed
    bare = tmp_path / "bare.npz"
    np.savez(bare, X=X, Y=Y)
    a = strict_json(ok(invoke("constants", str(p), "--reinit", "--seed", "3", "--json")).stdout)
    b = strict_json(ok(invoke("constants", str(bare), "--width", "12", "--seed", "3", "--json")).stdout)
    assert a["h"] == 12 and a["L0"] == b["L0"] and a["eta_max"] == b["eta_max"]
    c = strict_json(ok(invoke("constants", str(p), "--json")).stdout)
    assert c["L0"] != a["L0"]  # without --reinit the file's own weights
    assert_user_error(invoke("constants", "--reinit"), "--reinit needs a DATA file")


def test_deep_linear_layers_in_data_refuse_init_and_seed_unless_reinit(tmp_path):
    rng = np.random.default_rng(0)
    p = tmp_path / "dln.npz"
    np.savez(p, X=rng.standard_normal((20, 5)), Y=rng.standard_normal((20, 2)), W1=rng.standard_normal((7, 5)),
             W2=rng.standard_normal((7, 7)), W3=rng.standard_normal((2, 7)))
    assert_user_error(invoke("constants", "--model", "deep-linear", str(p), "--seed", "2"), "holds W1, W2, W3",
                      "--reinit")
    js = strict_json(ok(invoke("constants", "--model", "deep-linear", str(p), "--seed", "2", "--reinit",
                               "--json")).stdout)
    assert js["widths"][1:-1] == [7, 7] and js["init"] == "gaussian"


def test_loss_inferred_from_the_arrays(tmp_path):
    rng = np.random.default_rng(0)
    sens, both, only_y = tmp_path / "s.npz", tmp_path / "b.npz", tmp_path / "y.npz"
    A, y = rng.standard_normal((30, 4, 3)), rng.standard_normal(30)
    np.savez(sens, A=A, y=y)
    np.savez(both, A=A, y=y, X=rng.standard_normal((9, 4)), Y=rng.standard_normal((9, 3)))
    np.savez(only_y, Y=rng.standard_normal((4, 3)))
    assert strict_json(ok(invoke("constants", str(sens), "--width", "8", "--json")).stdout)["loss"] == "sensing"
    assert_user_error(invoke("constants", str(both), "--width", "8"), "--loss squared or --loss sensing")
    assert_user_error(invoke("constants", str(only_y), "--width", "8"), "--loss factorization")
    js = strict_json(ok(invoke("constants", str(only_y), "--width", "8", "--loss", "factorization", "--json")).stdout)
    assert js["loss"] == "factorization"


def test_values_outside_theorem_e1_are_not_applicable_with_the_reason():
    js = strict_json(ok(invoke("constants", "--width", "20", "--eta0", "0.01", "--json")).stdout)
    assert js["eta0"] > js["eta_max"]
    assert {"mubar", "rhobar0", "Kbar0", "Delta"} <= set(js["out_of_range"])
    text = ok(invoke("constants", "--width", "20", "--eta0", "0.01", "--digits", "17")).stdout
    rows = {ln.split("│")[1].strip(): ln.split("│")[2].strip() for ln in text.splitlines() if ln.count("│") >= 4}
    for key in ("mubar", "rhobar0", "Kbar0"):
        assert rows[key].startswith("n/a ["), (key, rows[key])
        assert f"{js[key]:.17g}" not in text  # the formula's meaningless number is not printed as a value
    assert "Theorem E.1 needs eta0 at most eta_max" in " ".join(text.split())
    assert rows["mu_0"] != "" and not rows["mu_0"].startswith("n/a")  # eq. (11) still means something


def test_roundoff_zeros_shown_as_zero_with_the_tolerance():
    js = strict_json(ok(invoke("constants", "--width", "20", "--json")).stdout)
    eps = np.finfo(float).eps
    assert 0 < abs(js["rate_nonoverparam"]) <= 64 * eps  # Fig. 1's X is orthogonal: mu = K exactly
    text = " ".join(ok(invoke("constants", "--width", "20")).stdout.split())
    assert re.search(r"rate_nonoverparam │ 0 \[r\d\]", text)
    assert f"|1 - mu/K| <= 64 eps = {64 * eps:.3g}" in text


# ------------------------------------------------------------------ D: the library

def test_import_convtool_is_light_and_lists_its_api():
    import subprocess
    import sys

    code = ("import sys, convtool; heavy = [m for m in ('numpy', 'scipy', 'sympy', 'rich', 'pandas', 'matplotlib') "
            "if m in sys.modules]; print(heavy); print(sorted(set(convtool.__all__) - set(dir(convtool))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(__import__("pathlib").Path(__file__).parents[1])).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "[]"
    import convtool

    for name in ("run_gd", "compute_constants", "init_weights", "compare_schedules", "run_verdict", "to_frame",
                 "compute_deep_linear_constants", "load_instance"):
        assert name in convtool.__all__ and callable(getattr(convtool, name)), name


def test_library_round_trip_repr_html_and_frames():
    import convtool

    W1, W2 = convtool.init_weights(4, 3, 10, "gaussian", seed=0)
    rng = np.random.default_rng(0)
    loss = convtool.SquaredLoss(rng.standard_normal((12, 4)), rng.standard_normal((12, 3)))
    res = convtool.compute_constants(loss, W1, W2)
    r = repr(res)
    assert r.startswith("ConstantsResult(") and len(r) < 300 and f"{res.eta_max:.6g}" in r
    html = res._repr_html_()
    assert html.count("<tr>") == len(res.quantities) + 1 and "<script" not in html
    df = res.to_frame()
    assert list(df.columns) == ["value", "not_applicable", "reference"]
    assert df.loc["eta_max", "value"] == res.eta_max
    # a rank-deficient instance: not-applicable values are NaN with their reason next to them
    Xd = rng.standard_normal((12, 4))
    Xd[:, 3] = Xd[:, 2]
    bad = convtool.compute_constants(convtool.SquaredLoss(Xd, rng.standard_normal((12, 3))), W1, W2)
    na = bad.not_applicable
    assert na
    dfb = bad.to_frame()
    for k, reason in na.items():
        assert math.isnan(dfb.loc[k, "value"]) and dfb.loc[k, "not_applicable"] == reason
    assert dfb["not_applicable"].isna().sum() == len(bad.quantities) - len(na)
    run = convtool.run_gd(loss, W1[None], W2[None], schedule="adaptive", steps=20)
    frame = convtool.to_frame(run)
    assert frame.shape[0] == run.arrays["loss"].shape[1]
    np.testing.assert_array_equal(frame["loss"].to_numpy(), run.arrays["loss"][0])
    cmp = convtool.compare_schedules(convtool.default_batch(h=20), ["adaptive", "local"], steps=10)
    assert list(cmp.to_frame().index) == [row.name for row in cmp.rows]
    assert repr(cmp).startswith("CompareResult(schedules=['adaptive', 'local'")


def test_loss_arrays_table_matches_the_library():
    from convtool.cli.options import LOSS_ARRAYS_CLI
    from convtool.numeric.losses import LOSS_ARRAYS

    assert {k: tuple(v) for k, v in LOSS_ARRAYS.items()} == LOSS_ARRAYS_CLI


def test_deep_linear_run_has_a_verdict_matching_its_counts(tmp_path):
    dln = _small_dln(tmp_path)
    args = ("run", "--model", "deep-linear", dln, "--widths", "30", "--steps", "15")
    viol = strict_json(ok(invoke(*args, "--json")).stdout)["summary"]["violations"]
    text = " ".join(ok(invoke(*args)).stdout.split())
    assert "Verdict" in text
    for key in ("cvx_q", "lemma5", "thm2", "thm1"):
        n = viol[f"{key}_steps_applicable"]
        if n:
            assert f"{key}: held on {n - viol[key]} of {n} steps where it applies" in text
        else:
            assert f"{key}: applies at no step" in text
    if not viol["thm1_steps_applicable"]:
        assert "Guarantee: none (Theorem 1 does not apply" in text


def test_a_saved_run_of_several_seeds_says_why_it_has_no_single_weights(tmp_path):
    out = tmp_path / "r2.npz"
    ok(invoke("run", "--width", "20", "--steps", "5", "--seeds", "2", "--out", str(out)))
    assert_user_error(invoke("constants", str(out)), "saved run of 2 seeds", "--width")
    ok(invoke("constants", str(out), "--width", "20"))  # its data with newly drawn weights
