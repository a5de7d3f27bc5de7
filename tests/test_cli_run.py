"""``convtool run``, ``convtool schedule`` and ``convtool compare``.

Every invocation goes through the ``invoke`` fixture (``tests/conftest.py``):
in-process ``CliRunner`` with ``COLUMNS=120`` and ``NO_COLOR=1``. Small widths
(``--width 40``: n = m = 10, so the run is reduced to r = 20) and few steps keep
the file fast. Each test asserts the exit code and ``result.exception``.
"""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

from clihelpers import assert_user_error, ok, strict_json  # tests/clihelpers.py

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SMALL = ("--width", "40")
SUMMARY_KEYS = {"schedule", "seeds", "status", "steps", "final_loss", "final_loss_max", "observed_rate", "rhobar0",
                "local_rate", "local_rate_limit", "rate_nonoverparam", "eta_max", "mean_eta", "violations",
                "tightness", "clipped", "wall_time", "reduced", "width", "rank"}


def row(out: str, name: str) -> str:
    """The table line whose first cell is ``name``."""
    hits = [ln for ln in out.splitlines() if ln.lstrip("│ ").startswith(name + " ")]
    assert hits, f"no row {name!r} in\n{out}"
    return hits[0]


# ------------------------------------------------------------------ run

def test_run_default_summary(invoke):
    r = ok(invoke("run", *SMALL, "--steps", "120"))
    out = r.stdout
    assert r.stderr == ""  # no progress bar when stderr is not a terminal
    assert out.startswith("source: built-in default (Fig. 1, n=10, h=40")
    assert "schedule: adaptive" in out and "seeds: 1" in out
    assert "max_steps" in row(out, "status")
    assert row(out, "steps").split("│")[2].strip() == "120"
    for name in ("final L", "observed rate", "rhobar0", "local-rate limit", "1 - mu/K", "eta_max", "tightness",
                 "wall time"):
        row(out, name)
    # the adaptive schedule from eta_max is inside both theorems: no violations, every step applicable
    assert "0 of 120 steps" in row(out, "Theorem 3.1 violations")
    assert "0 of 120 steps" in row(out, "Theorem 3.2 violations")
    assert "r = 20 of h = 40" in row(out, "width")


def test_run_json_strict_with_summary_keys(invoke):
    r = ok(invoke("run", *SMALL, "--steps", "60", "--json"))
    d = strict_json(r.stdout)
    assert {"source", "summary", "config", "schedule", "constants"} <= set(d)
    s = d["summary"]
    assert SUMMARY_KEYS <= set(s)
    assert s["schedule"] == "adaptive" and s["seeds"] == 1 and s["steps"] == [60]
    assert set(s["violations"]) >= {"thm31", "thm31_first", "thm32", "thm32_first", "thm31_steps_applicable",
                                    "thm32_steps_in_range"}
    assert s["width"] == 40 and s["reduced"] is True and s["rank"] == [20]
    assert d["config"]["steps"] == 60 and d["schedule"]["name"] == "adaptive"


def test_run_out_file_contents(invoke, tmp_path):
    from convtool.numeric.experiments import default_batch

    T = 25
    path = tmp_path / "run.npz"
    r = ok(invoke("run", *SMALL, "--steps", T, "--tol", "1e-300", "--out", path))
    assert f"saved run arrays to {path}" in r.stderr
    batch = default_batch(seeds=1, seed=0, h=40)
    with np.load(path, allow_pickle=False) as z:
        assert z["eta"].shape == (T,)
        assert z["loss"].shape == (T + 1,)
        assert np.all(np.isfinite(z["eta"])) and np.all(np.isfinite(z["loss"]))
        for key in ("W1_0", "W2_0", "W1_T", "W2_T"):
            assert z[key].shape == (10, 40), key
        np.testing.assert_array_equal(z["W1_0"], batch.W1[0])  # the generated init, bit for bit
        np.testing.assert_array_equal(z["W2_0"], batch.W2[0])
        np.testing.assert_array_equal(z["X"], batch.data_arrays["X"])
        np.testing.assert_array_equal(z["Y"], batch.data_arrays["Y"])
        assert not np.array_equal(z["W1_T"], z["W1_0"])
        meta = strict_json(str(z["metadata"]))
    assert meta["summary"]["steps"] == [T]
    assert meta["summary"]["status"] == {"max_steps": 1}
    assert meta["config"]["tol"] == 1e-300


def test_run_three_seeds(invoke):
    r = ok(invoke("run", *SMALL, "--steps", "40", "--seeds", "3"))
    out = r.stdout
    assert "seeds 0..2" in out.splitlines()[0]
    assert "seeds: 3" in out
    assert "3 seeds:" in out  # the note on medians / means
    assert "0 of 120 steps" in row(out, "Theorem 3.1 violations")  # 3 seeds x 40 steps
    d = strict_json(ok(invoke("run", *SMALL, "--steps", "40", "--seeds", "3", "--json")).stdout)
    assert d["summary"]["seeds"] == 3 and len(d["summary"]["steps"]) == 3


def test_run_plot_writes_png(invoke, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "run.png"
    r = ok(invoke("run", *SMALL, "--steps", "30", "--seeds", "2", "--plot", path))
    assert f"saved plot to {path}" in r.stderr
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_plot_without_matplotlib_is_one_line(invoke, tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    path = tmp_path / "x.png"
    assert_user_error(invoke("run", *SMALL, "--steps", "5", "--plot", path), "pip install convtool[plot]")
    assert_user_error(invoke("compare", *SMALL, "--steps", "5", "--plot", path), "pip install convtool[plot]")
    assert not path.exists()


def test_run_data_file(invoke, tmp_path):
    data = tmp_path / "f.npz"
    ok(invoke("generate", "fig1", "--h", "30", "-o", data))
    r = ok(invoke("run", data, "--steps", "50"))
    assert r.stdout.startswith(f"source: {data}")
    assert "h = 30" in row(r.stdout, "width") or "of h = 30" in row(r.stdout, "width")
    # weights from the file cannot be redrawn for more seeds
    assert_user_error(invoke("run", data, "--steps", "5", "--seeds", "2"), "--seeds > 1")


def test_run_divergence_is_a_status_not_a_crash(invoke):
    r = ok(invoke("run", "--width", "20", "--steps", "50", "--schedule", "constant", "--eta0", "10"))
    status = row(r.stdout, "status")
    assert "diverged" in status or "non_finite" in status
    assert "Warning: eta0 = 10 is above eta_max" in r.stderr
    d = strict_json(ok(invoke("run", "--width", "20", "--steps", "50", "--schedule", "constant", "--eta0", "10",
                              "--json")).stdout)
    assert set(d["summary"]["status"]) <= {"diverged", "non_finite"}


def test_run_backtracking_options_reach_the_schedule(invoke):
    d = strict_json(ok(invoke("run", *SMALL, "--steps", "5", "--schedule", "backtracking", "--tau", "0.5",
                              "--gamma", "0.3", "--json")).stdout)
    assert d["schedule"]["name"] == "backtracking"
    assert d["schedule"]["tau"] == 0.5 and d["schedule"]["gamma"] == 0.3 and d["schedule"]["eta_bt"] == 1.0


@pytest.mark.parametrize("args, fragments", [
    (("run", "--schedule", "nope"), ("'nope'", "--schedule", "adaptive")),
    (("run", "--schedule", "adptive"), ("did you mean 'adaptive'",)),
    (("run", "--tau", "0.5"), ("--tau", "--schedule adaptive", "backtracking")),
    (("run", "--schedule", "local", "--eta-bt", "1", "--gamma", "0.5"), ("--eta-bt, --gamma", "--schedule local")),
    (("run", "--schedule", "backtracking", "--lam0", "1"), ("--lam0", "adgd")),
    (("run", "--schedule", "backtracking", "--tau", "2", "--steps", "1", *SMALL), ("tau must lie in (0, 1)",)),
    (("run", "--init", "he"), ("--init", "DATA")),
    (("run", "--out", "/nonexistent-dir/x.npz"), ("--out", "does not exist")),
    (("compare", "--schedules", "adaptive,nope"), ("'nope'", "--schedules")),
    (("compare", "--schedules", "adaptive,adaptive"), ("listed twice",)),
    (("compare", "--schedules", "adaptive,,local"), ("empty entry",)),
    (("compare", "--schedules", ""), ("empty",)),
], ids=["run-unknown", "run-close-match", "bt-option-adaptive", "bt-options-local", "adgd-option-bt",
        "bt-bad-tau", "init-without-data", "out-folder-missing", "compare-unknown", "compare-twice",
        "compare-empty-entry", "compare-empty"])
def test_user_errors_one_line_exit_2(invoke, args, fragments):
    assert_user_error(invoke(*args), *fragments)


def test_click_usage_errors_exit_2(invoke):
    for args in (("run", "--seeds", "0"), ("schedule", "--schedule", "local"), ("run", "--steps", "-1")):
        r = invoke(*args)
        assert r.exit_code == 2 and isinstance(r.exception, SystemExit), args
        assert "Traceback" not in r.stderr


def test_progress_bar_on_a_terminal(invoke):
    """With a terminal on stderr the rich bar is drawn there; stdout still holds only the summary."""
    r = ok(invoke("run", *SMALL, "--steps", "20", env={"FORCE_COLOR": "1", "TERM": "xterm"}))
    assert r.stdout.startswith("source:")
    assert "━" not in r.stdout.split("Run summary")[0]
    d = strict_json(ok(invoke("run", *SMALL, "--steps", "20", "--json",
                              env={"FORCE_COLOR": "1", "TERM": "xterm"})).stdout)
    assert d["summary"]["steps"] == [20]


def test_progress_bar_helper():
    from rich.console import Console

    from convtool.cli.cmd_run import progress_bar

    buf = io.StringIO()
    con = Console(file=buf, force_terminal=True, width=80, color_system=None, _environ={})
    with progress_bar(con, True) as update:
        for t in range(1, 6):
            update("adaptive", t, 5)
        update("local", 1, 5)
    quiet = Console(file=io.StringIO(), force_terminal=False, width=80, _environ={})
    with progress_bar(quiet, True) as update:
        update("adaptive", 1, 5)
    assert quiet.file.getvalue() == ""


# ------------------------------------------------------------------ schedule

def test_schedule_parts_and_table(invoke):
    N = 6
    r = ok(invoke("schedule", *SMALL, "--steps", N))
    out = r.stdout
    for part in ("eta0^(1)", "eta0^(2)", "third term", "eta_max"):
        row(out, part)
    assert "eq. (87)" in out and "eq. (88)" in out
    assert "<- min" in out
    assert "Solver (eqs. 87, 88)" in out and "brentq" in out
    assert "(eta_max, the default)" in out
    assert f"takeover of the 1/K_t branch in adaptive, observed: not within {N} steps" in out
    assert "takeover of the 1/Kbar_t branch in adaptive-bar" in out
    assert f"First {N} steps of adaptive" in out
    for col in ("cap", "1/K_t", "1/Kbar_t", "eta_t", "binding"):
        assert col in out
    steps = [ln for ln in out.splitlines() if ln.startswith("│") and ln.split("│")[-2].strip() in ("cap", "1/K_t")]
    assert len(steps) == N


def test_schedule_json(invoke):
    d = strict_json(ok(invoke("schedule", *SMALL, "--steps", "4", "--schedule", "adaptive-bar", "--json")).stdout)
    assert {"source", "schedule", "eta0", "eta_max", "eta0_1", "eta0_2", "eta0_3", "roots", "takeover_observed",
            "takeover_bar", "bar_horizon", "steps"} <= set(d)
    assert d["schedule"] == "adaptive-bar"
    assert d["eta_max"] == min(d["eta0_1"], d["eta0_2"], d["eta0_3"])
    assert d["eta0"] == d["eta_max"]
    assert len(d["steps"]) == 4
    assert set(d["steps"][0]) == {"t", "cap", "eta_hat", "inv_Kbar", "eta", "branch"}
    assert {"bracket", "residual", "flag", "method"} <= set(d["roots"]["eta0_1"])


def test_schedule_user_eta0_and_takeover(invoke):
    r = ok(invoke("schedule", *SMALL, "--steps", "3", "--schedule", "adaptive-bar", "--eta0", "0.004"))
    assert "eta0 = 0.004 (--eta0)" in r.stdout
    # eta0 above eta_max: 1/Kbar_t < eta0, so the lower clip max(eta0, .) of eq. (15) binds, not 1/Kbar_t
    assert "adaptive-bar, observed: not within 3 steps" in r.stdout
    assert "eta0 floor" in r.stdout
    assert "Warning: eta0 = 0.004 is above eta_max" in r.stderr


# ------------------------------------------------------------------ compare

def test_compare_table_lists_every_schedule_and_the_reference(invoke):
    from convtool.cli.options import COMPARE_DEFAULT
    from convtool.cli.render import REFERENCE_LABEL

    r = ok(invoke("compare", *SMALL, "--steps", "40"))
    out = r.stdout
    for name in COMPARE_DEFAULT:
        row(out, name)
    assert "converged" in row(out, REFERENCE_LABEL)
    for col in ("status", "final L", "Thm 3.1", "Thm 3.2"):
        assert col in out
    assert "0/40" in row(out, "adaptive")


def test_compare_json_and_no_reference(invoke):
    d = strict_json(ok(invoke("compare", *SMALL, "--steps", "30", "--schedules", "local,adgd", "--seeds", "2",
                              "--json")).stdout)
    assert [x["name"] for x in d["rows"]] == ["local", "adgd", "problem-1 (eta = 1/K)"]
    assert d["seeds"] == 2 and d["steps"] == 30
    assert {"status", "steps_to_tol", "wall_time", "final_loss", "mean_eta", "observed_rate",
            "violations"} <= set(d["rows"][0])
    r = ok(invoke("compare", *SMALL, "--steps", "10", "--schedules", "local", "--no-reference"))
    assert "problem-1" not in r.stdout


def test_compare_plot_writes_png(invoke, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "cmp.png"
    r = ok(invoke("compare", *SMALL, "--steps", "30", "--schedules", "adaptive,adgd", "--seeds", "2",
                  "--plot", path))
    assert f"saved plot to {path}" in r.stderr
    assert path.read_bytes()[:8] == PNG_MAGIC


# ------------------------------------------------------------------ tables and types

def test_schedule_choices_match_library():
    from convtool.cli.options import COMPARE_DEFAULT, SCHEDULE_CHOICES, SCHEDULE_OPTION_FLAGS
    from convtool.numeric.schedules import SCHEDULES

    assert sorted(SCHEDULE_CHOICES) == sorted(SCHEDULES)
    assert set(COMPARE_DEFAULT) <= set(SCHEDULES)
    for name, flags in SCHEDULE_OPTION_FLAGS.items():
        assert set(flags) <= set(SCHEDULES[name].options), name


def test_schedule_list_type():
    from convtool.cli.errors import ConvtoolInputError
    from convtool.cli.options import ScheduleList

    t = ScheduleList()
    assert t.convert(" adaptive , local", None, None) == ["adaptive", "local"]
    assert t.convert(["adgd"], None, None) == ["adgd"]
    with pytest.raises(ConvtoolInputError, match="unknown schedule 'nope'"):
        t.convert("adaptive,nope", None, None)


# ------------------------------------------------------------------ --instance (the paper's generators, no DATA)

def test_instance_fig4_batch_of_seeds(invoke):
    d = strict_json(ok(invoke("run", "--instance", "fig4", "--width", "30", "--seeds", "3", "--steps", "20",
                              "--json")).stdout)
    assert d["source"].startswith("built-in instance (Fig. 4, h=30, n=5")
    assert d["summary"]["seeds"] == 3 and d["config"]["n"] == 5 and d["config"]["h"] == 30


def test_instance_fig3_constants_match_library(invoke):
    from convtool.numeric.constants import compute_constants
    from convtool.numeric.data import build_instance
    from convtool.numeric.generators import fig3

    j = strict_json(ok(invoke("constants", "--instance", "fig3", "--p", "0.3", "--width", "60", "--seed", "2",
                              "--json")).stdout)
    inst = build_instance(fig3(p=0.3, h=60, seed=2))
    want = compute_constants(inst.loss, inst.W1, inst.W2)
    assert j["h"] == 60 and j["alpha1"] == pytest.approx(want.alpha1, rel=1e-12)


def test_instance_option_errors(invoke, tmp_path):
    path = str(tmp_path / "f.npz")
    ok(invoke("generate", "fig1", "--h", "30", "-o", path))
    assert_user_error(invoke("run", path, "--instance", "fig4", "--steps", "3"), "--instance fig4")
    assert_user_error(invoke("run", "--instance", "fig4", "--p", "0.3", "--steps", "3"), "--p")


@pytest.mark.parametrize("cols", ["60", "80"])
@pytest.mark.parametrize("command", ["compare", "schedule"])
def test_tables_fold_instead_of_cutting(invoke, command, cols):
    """No ellipsis at narrow widths: cells fold (compare's status and violation cells, schedule's solver table)."""
    r = ok(invoke(command, *SMALL, "--steps", "30", env={"COLUMNS": cols}))
    assert "…" not in r.stdout
