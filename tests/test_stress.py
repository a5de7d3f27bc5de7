"""Issue 14: ``convtool stress`` and :func:`convtool.numeric.stress.stress`.

The Theorem 3.2 counterexample of the issue (n = 1, m = 2, h = 3; Lemma E.3's lower bound fails for
n != m) is found by the search, replayed at 50 digits, shrunk, saved and reproduced by ``convtool run``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from convtool.errors import InputError
from convtool.numeric import stress as S

#: the issue's counterexample: X = 1, Y = [1, 0.3], W1 = [1, 0, 0], W2 = [[1, 0, 0], [0, 0, 0]]
PAPER = {"X": np.array([[1.0]]), "Y": np.array([[1.0, 0.3]]), "W1": np.array([[1.0, 0.0, 0.0]]),
         "W2": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])}
#: the draw that yields it: family axis, n != m, n, m <= 2, seed 27, trial 4, eta0 = eta_max / 10
FOUND = dict(families=["axis"], shapes="n!=m", max_dim=2, seed=27, trials=5, steps=5, schedules=["constant"])


@pytest.fixture(scope="module")
def found():
    return S.stress("two-layer", "thm32", as_stated=True, **FOUND)


def test_trial_draws_the_issue_counterexample():
    fam, arrays, meta, frac = S.draw_trial("two-layer", ["axis"], "n!=m", 2, 27, 4)
    assert frac == 0.1 and all(np.array_equal(arrays[k], PAPER[k]) for k in PAPER)


def test_issue_counterexample_found_and_replayed_at_high_precision(found):
    assert found.runs == 5 and found.violations >= 1 and found.artifacts == 0
    ce = next(c for c in found.counterexamples if c.trial == 4)
    assert all(np.array_equal(ce.arrays[k], PAPER[k]) for k in PAPER)
    assert ce.eta0_fraction == 0.1 and ce.steps[0] == 0
    f = ce.first
    assert f["confirmed"] and f["applies"] and f["digits"] == 50
    assert f["ratio"] == pytest.approx(0.98890076, abs=1e-8)            # L(1)/L(0)
    assert f["bound"] / f["L_t"] == pytest.approx(0.98817869, abs=1e-8)  # rhobar_0 at eta0 = eta_max/10
    # the replay itself, at 50 and 80 digits: the bound fails, not by round-off
    res = S._TwoLayerModel(0.5, 2.0).run(PAPER, "constant", ce.eta0, 1)
    for digits in (50, 80):
        rep = S.replay_two_layer(PAPER, res.arrays["eta"][0], ce.eta0, "thm32", [0], as_stated=True, digits=digits)
        assert rep[0]["confirmed"] and rep[0]["excess"] == pytest.approx(7.307e-4, rel=1e-3)


def test_guarded_check_does_not_count_the_n_ne_m_steps(found):
    guarded = S.stress("two-layer", "thm32", as_stated=False, **FOUND)
    assert guarded.violations == 0 and guarded.float_violations == 0 and guarded.steps_excluded is None
    assert found.steps_excluded > 0  # what convtool's Lemma E.3 guard removes
    res = S._TwoLayerModel(0.5, 2.0).run(PAPER, "constant", found.counterexamples[0].eta0, 1)
    rep = S.replay_two_layer(PAPER, res.arrays["eta"][0], found.counterexamples[0].eta0, "thm32", [0])
    assert not rep[0]["confirmed"] and "Lemma E.3" in rep[0]["reason"]


def test_shrinking_is_no_larger_and_still_violates(found):
    sm = found.smallest
    ce = next(c for c in found.counterexamples if c.trial == 4)
    assert sm.size() <= ce.size() and sm.shrunk_from is not None
    assert sm.dims["n"] + sm.dims["m"] + sm.dims["h"] <= 1 + 2 + 3
    res = S._TwoLayerModel(0.5, 2.0).run(sm.arrays, sm.schedule, sm.eta0, sm.steps[0] + 1)
    rep = S.replay_two_layer(sm.arrays, res.arrays["eta"][0], sm.eta0, "thm32", [sm.steps[0]], as_stated=True)
    assert rep[sm.steps[0]]["confirmed"]
    # shrinking the issue's instance directly
    small, used = S.shrink(ce, "thm32", as_stated=True, steps=5, budget=30)
    assert small.size() <= ce.size() and used <= 30 and small.first["confirmed"]


def test_check_that_holds_reports_no_violation_on_nonvacuous_steps():
    res = S.stress("two-layer", "thm31", trials=4, families=["well-conditioned"], shapes="n=m", steps=30, seed=1)
    assert res.violations == 0 and res.float_violations == 0 and res.artifacts == 0
    assert res.steps_checked > 0 and res.runs > 0 and res.smallest is None
    assert res.to_dict()["steps_checked"] == res.steps_checked


def test_every_registered_check_is_valid_and_bad_names_suggest_close_matches():
    from convtool.numeric.theories import THEORIES_FOR_MODEL, make_theory

    for model, keys in THEORIES_FOR_MODEL.items():
        expected = {c.key for k in keys for c in make_theory(k).checks}
        assert set(S.registered_checks(model)) == expected
    with pytest.raises(InputError, match=r"unknown check 'thm33'.*did you mean 'thm32'"):
        S.stress("two-layer", "thm33", trials=1)
    with pytest.raises(InputError, match="unknown family"):
        S.stress("two-layer", "thm31", trials=1, families=["gausian"])


def test_deep_linear_basic_family():
    res = S.stress("deep-linear", "cvx_q", trials=2, steps=5)
    assert res.runs == 4 and res.steps_checked > 0 and res.replay is None
    assert any("no high-precision replay" in n for n in res.notes)


def test_cli_bad_check_is_one_line_exit_2(invoke):
    r = invoke("stress", "--check", "thm3")
    assert r.exit_code == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: unknown check 'thm3'") and "'thm31'" in lines[0]


def test_cli_out_round_trip_through_convtool_run(invoke, tmp_path):
    out = tmp_path / "ce"
    args = ["stress", "--check", "thm32", "--as-stated", "--families", "axis", "--shapes", "n!=m", "--max-dim", "2",
            "--seed", "27", "--trials", "5", "--steps", "5", "--schedules", "constant", "--no-shrink", "--out", out]
    r = invoke(*args, "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["violations"] >= 1 and data["counterexamples"][0]["file"]
    path = data["counterexamples"][0]["file"]
    meta = json.loads(str(np.load(path)["metadata"]))
    t = meta["steps"][0]
    run = tmp_path / "run.npz"
    r2 = invoke("run", path, "--schedule", meta["schedule"], "--eta0", repr(meta["eta0"]), "--steps", t + 1,
                "--out", run, "--json")
    assert r2.exit_code == 0, r2.output
    a = np.load(run)
    ratio, rhobar = float(a["ratio"][t]), float(a["rhobar"][t])
    assert ratio == pytest.approx(meta["first"]["ratio"], rel=1e-12) and ratio > rhobar * (1 + 1e-6)
    # the table form
    r3 = invoke(*args)
    assert r3.exit_code == 0 and "violation(s) of thm32 confirmed at high precision" in r3.stdout
    assert "non-vacuous steps checked" in r3.stdout


def test_stress_tables_never_cut_a_number(invoke):
    # rich cuts cells with an ellipsis unless they fold; every table of the command must fold (issue 12's rule)
    for cols in ("60", "80"):
        r = invoke("stress", "--check", "thm32", "--trials", "6", "--shapes", "n!=m", "--as-stated", "--seed", "27",
                   env={"COLUMNS": cols})
        assert r.exit_code == 0, r.stderr
        assert "…" not in r.stdout
