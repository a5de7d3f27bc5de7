"""examples/deep_linear_width_sweep.py: Zhao & Xu's Theorem 2 as a width sweep (issue 7 evidence).

A tiny sweep (two widths, two seeds, the reduced App. G-like instance) through ``main``; the assertions
read the returned rows, so they follow whatever the engine computes rather than numbers copied from a run.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "examples" / "deep_linear_width_sweep.py"


def _load():
    spec = importlib.util.spec_from_file_location("_example_deep_linear_width_sweep", _PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def sweep():
    mod = _load()
    rows = mod.main(["--widths", "80,320", "--seeds", "2"])
    return mod, rows


def test_rows_cover_the_sweep(sweep):
    _, rows = sweep
    assert [(r["init"], r["width"]) for r in rows] == [
        ("gaussian", 80), ("gaussian", 320), ("orthogonal", 80), ("orthogonal", 320)]
    for r in rows:
        assert r["diverged"] == 0
        assert len(r["dist_ratio_seeds"]) == 2
        assert math.isfinite(r["dist_ratio"]) and r["dist_ratio"] > 0
        # Theorem 1's step: eta = n_N / (N beta), so eta_* = N eta / n_N = 1 / beta
        assert r["eta"] == pytest.approx(5 / (3 * r["beta"]), rel=1e-12)


def test_distance_shrinks_with_width_for_both_inits(sweep):
    _, rows = sweep
    for init in ("gaussian", "orthogonal"):
        sel = sorted((r for r in rows if r["init"] == init), key=lambda r: r["width"])
        assert len(sel) == 2
        assert sel[1]["dist_ratio"] < sel[0]["dist_ratio"], init
        assert sel[1]["exponent"] < 0 and sel[1]["slope"] == pytest.approx(sel[1]["exponent"])


def test_observed_below_theorem2_bound_where_not_vacuous(sweep):
    _, rows = sweep
    for r in rows:
        assert r["vacuous"] == (r["q_plus_7tau"] >= 1)
        if not r["vacuous"]:
            assert r["dist_ratio"] <= r["thm2_bound"], (r["init"], r["width"])
    # the comparison is not empty: the wider orthogonal run has q + 7 max tau_hat < 1 on this instance
    assert any(not r["vacuous"] for r in rows)


def test_no_check_violated(sweep):
    _, rows = sweep
    for r in rows:
        assert all(v == 0 for v in r["violations"].values()), (r["init"], r["width"], r["violations"])
    assert sum(r["applicable"]["cvx_q"] for r in rows) > 0


def test_conclusion_is_read_off_the_rows(sweep):
    mod, rows = sweep
    text = mod.conclusion(rows)
    for init in ("gaussian", "orthogonal"):
        r = next(r for r in rows if r["init"] == init)
        assert f"n^{r['exponent']:.2f}" in text
    total = sum(sum(r["violations"].values()) for r in rows)
    assert f"report {total} violation(s)" in text


def test_rejects_widths_below_the_input_dimension():
    mod = _load()
    with pytest.raises(SystemExit):
        mod.main(["--widths", "8,80", "--quiet"])
