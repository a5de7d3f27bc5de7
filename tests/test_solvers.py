"""Tests of the bracketed solvers of :mod:`convtool.numeric.roots`.

* :func:`bracketed_root`: status codes (0 converged, -1 sign error, -3 non-finite values), never raising;
* :func:`convex_poly_root` against ``numpy.roots`` on random positive-coefficient cubics and quartics;
* :func:`solve_eta0_1`: the proven bracket [0, 1 / max(K alpha2, sqrt(2 K L0))] really brackets eq. (87),
  checked with an independent numpy Kbar_0 (eq. 91 with exp(eta0^c));
* :func:`solve_eta0_2`: the eq. (88) scan's flags (converged / no sign change / F <= 0 at the floor /
  bad upper end) and its reported grid.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from scipy.optimize import brentq
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convtool.numeric.roots import (EQ88_FLOOR, EQ88_GRID_PER_DECADE, STATUS_FLAGS, RootResult, eq88_sign_change_point,
                                    bracketed_root, convex_poly_root, solve_eta0_1, solve_eta0_2)

EPS = np.finfo(np.float64).eps

# ---------------------------------------------------------------- independent eq. 87 / 88 (numpy, from the paper)


def kbar0(eta, v):
    """Eq. (91), exp(eta0^c) for exp(sqrt(eta0)) (typo reading 3)."""
    K, L0, a2, b2, c = v["K"], v["L0"], v["alpha2"], v["beta2"], v["c"]
    s = np.sqrt(2 * K * L0)
    return s + 6 * K ** 2 * b2 * L0 * eta ** 2 + K * np.exp(eta ** c) * a2 * (1 + 3 * s * eta)


def g87(eta, v):
    return eta * kbar0(eta, v) - 1


def F88(eta, v):
    """(1 - exp(-eta^c))(1 - Delta) - 4 K L0 eta^2 with 1 - Delta = (1 + eta^d) mubar eta (2 - Kbar0 eta) - eta^d."""
    mu, K, L0, a1, a2, c, d = (v[k] for k in ("mu", "K", "L0", "alpha1", "alpha2", "c", "d"))
    ec = eta ** c
    mubar = mu * (a1 - 2 * a2 * np.expm1(ec))
    omD = (1 + eta ** d) * mubar * eta * (2 - kbar0(eta, v) * eta) - eta ** d
    return -np.expm1(-ec) * omD - 4 * K * L0 * eta ** 2


def values(**kw):
    v = {"mu": 1.0, "K": 1.0, "L0": 0.05, "alpha1": 8.0, "alpha2": 30.0, "beta2": 5.0, "c": 0.5, "d": 2.0}
    v.update(kw)
    return v


# ---------------------------------------------------------------- bracketed_root


def test_bracketed_root_converges():
    r = bracketed_root(lambda x: x ** 3 - 2.0, 0.0, 2.0, name="cbrt2", why="test bracket")
    assert r.converged and r.status == 0 and r.flag == "converged"
    np.testing.assert_allclose(r.root, 2.0 ** (1 / 3), rtol=8 * EPS)
    assert abs(r.residual) <= 16 * EPS
    assert r.bracket == (0.0, 2.0) and r.f_bracket == (-2.0, 6.0)
    assert r.function_calls >= r.iterations > 0
    assert r.message == "test bracket"


def test_bracketed_root_sign_error_reports_both_values():
    r = bracketed_root(lambda x: x + 10.0, 0.0, 1.0, name="nosign")
    assert not r.converged and r.status == -1 and r.flag == "sign error"
    assert math.isnan(r.root)
    assert r.f_bracket == (10.0, 11.0)
    assert "10.0" in r.message and "11.0" in r.message
    # negative on both ends, too
    r2 = bracketed_root(lambda x: -1.5 - x, 0.0, 1.0, name="neg")
    assert r2.status == -1 and "-1.5" in r2.message and "-2.5" in r2.message


def test_bracketed_root_exact_zero_at_end():
    r = bracketed_root(lambda x: x - 1.0, 0.0, 1.0, name="end")
    assert r.converged and r.status == 0 and r.root == 1.0 and r.residual == 0.0
    r = bracketed_root(lambda x: x, 0.0, 1.0, name="start")
    assert r.converged and r.root == 0.0


def test_bracketed_root_nan_function_status_minus_3():
    r = bracketed_root(lambda x: float("nan"), 0.0, 1.0, name="nanf")
    assert r.status == -3 and r.flag == "value error" and not r.converged and math.isnan(r.root)
    assert "NaN" in r.message


def test_bracketed_root_nan_inside_bracket_status_minus_3():
    # valid signs at the ends, NaN where Brent's first secant step lands (x = 0.5)
    f = lambda x: float("nan") if 0.2 < x < 0.8 else x - 0.5  # noqa: E731
    r = bracketed_root(f, 0.0, 1.0, name="nanmid")
    assert r.status == -3 and not r.converged and "NaN" in r.message


def test_bracketed_root_inf_at_end_status_minus_3():
    r = bracketed_root(lambda x: math.inf if x > 0.5 else -1.0, 0.0, 1.0, name="inf")
    assert r.status == -3 and not r.converged
    assert "non-finite" in r.message


def test_bracketed_root_maxiter_status_minus_2():
    r = bracketed_root(lambda x: x ** 3 - 2.0, 0.0, 2.0, name="slow", maxiter=2)
    assert r.status == -2 and not r.converged and r.flag == "convergence error"


def test_bracketed_root_never_raises_on_exceptions_of_type_value():
    """Sign errors and non-finite values are reported, not raised (scipy's brentq would raise ValueError)."""
    for f in (lambda x: 1.0, lambda x: float("nan"), lambda x: -math.inf):
        r = bracketed_root(f, 0.0, 1.0, name="x")
        assert isinstance(r, RootResult) and not r.converged and r.status in STATUS_FLAGS


def test_root_result_to_dict_strict_json():
    r = bracketed_root(lambda x: x + 10.0, 0.0, 1.0, name="nosign")
    d = r.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["root"] is None and d["flag"] == "sign error"


# ---------------------------------------------------------------- convex_poly_root vs numpy.roots


def _unique_positive_root(coeffs):
    rts = np.roots(coeffs)
    real = rts[np.abs(rts.imag) <= 1e-9 * np.maximum(1.0, np.abs(rts))].real
    pos = real[real > 0]
    assert pos.size == 1, rts  # Descartes: one sign change -> exactly one positive root
    return pos[0]


coef = st.floats(-3, 3).map(lambda e: 10.0 ** e)


@st.composite
def convex_polys(draw):
    deg = draw(st.sampled_from([3, 4]))
    a = [draw(coef) for _ in range(deg)]  # a_deg ... a_1 > 0
    zero_mask = draw(st.lists(st.booleans(), min_size=deg, max_size=deg))
    a = [0.0 if z and i > 0 else ai for i, (ai, z) in enumerate(zip(a, zero_mask))]  # leading stays > 0
    a0 = draw(coef)
    return np.array(a + [-a0])


@settings(max_examples=200, deadline=None)
@given(convex_polys())
def test_convex_poly_root_against_numpy_roots(C):
    res = convex_poly_root(C[None, :])
    x = res.root[0]
    assert res.converged[0]
    want = _unique_positive_root(C)
    # np.roots (companion eigenvalues) has relative accuracy ~ eps * cond; 1e-8 is ample for these
    np.testing.assert_allclose(x, want, rtol=1e-8)
    # residual relative to the size of the terms at the root
    terms = np.abs(C) * x ** np.arange(C.size - 1, -1, -1)
    assert abs(np.polyval(C, x)) <= 64 * EPS * terms.sum()
    assert abs(res.residual[0]) <= 64 * EPS * terms.sum()
    # x_hi = min_j (a0 / a_j)^(1/j) is a valid upper bracket: p(x_hi) >= 0 and x <= x_hi
    assert np.polyval(C, res.bracket_hi[0]) >= -64 * EPS * terms.sum()
    assert x <= res.bracket_hi[0] * (1 + 4 * EPS)


@settings(max_examples=50, deadline=None)
@given(st.lists(convex_polys().filter(lambda c: c.size == 4), min_size=1, max_size=6))
def test_convex_poly_root_vectorized_rows_independent(rows):
    C = np.stack(rows)
    batch = convex_poly_root(C)
    for i, row in enumerate(rows):
        single = convex_poly_root(row[None, :])
        np.testing.assert_allclose(batch.root[i], single.root[0], rtol=1e-14)


def test_convex_poly_root_special_rows():
    C = np.array([
        [1.0, 0.0, 1.0, -2.0],  # x^3 + x - 2: root 1
        [1.0, 2.0, 3.0, 0.0],  # constant term 0 (a_0 >= 0): root 0
        [1.0, 2.0, 3.0, 5.0],  # constant term +5 (a_0 >= 0): root 0
    ])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = convex_poly_root(C)
    np.testing.assert_allclose(r.root[0], 1.0, rtol=4 * EPS)
    assert r.root[1] == 0.0 and r.root[2] == 0.0
    assert r.converged.all()


def test_convex_poly_root_no_positive_coefficient_gives_inf():
    C = np.array([[0.0, 0.0, 0.0, -1.0], [1.0, 0.0, 1.0, -2.0]])  # all a_j = 0 (j >= 1): inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = convex_poly_root(C)
    assert r.root[0] == math.inf and r.converged[0]
    np.testing.assert_allclose(r.root[1], 1.0, rtol=4 * EPS)  # the other row is unaffected


def test_convex_poly_root_inf_row_is_silent():
    # regression: rows with all a_j = 0 evaluated p(inf) in the Newton loop and leaked a RuntimeWarning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        convex_poly_root(np.array([[0.0, 0.0, 0.0, -1.0]]))


# ---------------------------------------------------------------- solve_eta0_1


eq87_values = st.fixed_dictionaries({
    "K": coef, "L0": st.floats(-12, 3).map(lambda e: 10.0 ** e), "alpha2": coef, "beta2": coef,
    "c": st.floats(0.05, 0.95),
})


def _bracket_end(v):
    return 1 / max(v["K"] * v["alpha2"], math.sqrt(2 * v["K"] * v["L0"]))


@settings(max_examples=150, deadline=None)
@given(eq87_values)
def test_solve_eta0_1_bracket_claim(v):
    # domain: exp(b^c) finite at the bracket end b (the overflowing case is the xfail test below)
    assume(_bracket_end(v) ** v["c"] < 700)
    r = solve_eta0_1(v)
    assert r.converged and r.status == 0
    a, b = r.bracket
    assert a == 0.0
    # the docstring's proven bracket: 1 / max(K alpha2, sqrt(2 K L0))
    np.testing.assert_allclose(b, 1 / max(v["K"] * v["alpha2"], math.sqrt(2 * v["K"] * v["L0"])), rtol=1e-15)
    assert r.f_bracket[0] == -1.0
    assert r.f_bracket[1] >= 0
    assert g87(b, v) >= 0  # independent eq. 87
    assert 0 < r.root <= b
    assert abs(g87(r.root, v)) <= 1e-12
    assert g87(r.root * (1 - 1e-6), v) < 0 < g87(r.root * (1 + 1e-6), v)


def test_solve_eta0_1_bracket_overflow():
    # regression: exp(b^c) overflowed at the proven bracket end and gave status -3 for a finite root
    v = {"K": 0.01, "L0": 1e-06, "alpha2": 0.01, "beta2": 1.0, "c": 0.75}
    assert _bracket_end(v) ** v["c"] > 709  # exp overflows at the claimed bracket end
    want = brentq(lambda x: g87(x, v), 0.0, 100.0, xtol=1e-300, rtol=4 * EPS)
    r = solve_eta0_1(v)
    assert r.converged
    np.testing.assert_allclose(r.root, want, rtol=1e-12)


def test_solve_eta0_1_not_applicable_when_no_scale():
    r = solve_eta0_1({"K": 1.0, "L0": 0.0, "alpha2": 0.0, "beta2": 1.0, "c": 0.5})
    assert r.status == -5 and not r.converged and r.flag == "not applicable"


# ---------------------------------------------------------------- solve_eta0_2: the scan and its flags


def _grid(scan):
    return np.logspace(np.log10(scan["lower"]), np.log10(scan["upper"]), scan["points"])


def test_solve_eta0_2_converged_and_scan_report():
    v = values()
    r = solve_eta0_2(v)
    assert r.converged and r.status == 0 and r.method == "scan+brentq"
    sc = r.scan
    assert sc["lower"] == EQ88_FLOOR and sc["per_decade"] == EQ88_GRID_PER_DECADE
    # the grid ends at x* = min(third term, eta_K), where the independent F is negative (proven sign change)
    xstar = eq88_sign_change_point(v)
    np.testing.assert_allclose(sc["upper"], xstar, rtol=1e-12)
    assert F88(xstar, v) < 0
    ndec = math.log10(sc["upper"]) - math.log10(sc["lower"])
    assert sc["points"] >= ndec * EQ88_GRID_PER_DECADE
    # the result is the first sign change of the independent F on the reported grid, refined
    g = _grid(sc)
    F = F88(g, v)
    j = int(np.flatnonzero(F <= 0)[0])
    assert g[j - 1] <= r.root <= g[j]
    assert r.bracket == (pytest.approx(g[j - 1], rel=1e-12), pytest.approx(g[j], rel=1e-12))
    assert r.f_bracket[0] > 0 >= r.f_bracket[1]
    assert abs(F88(r.root, v)) <= 1e-12 * np.max(np.abs(F[: j + 1]))
    assert F88(r.root * (1 - 1e-6), v) > 0 > F88(r.root * (1 + 1e-6), v)
    assert r.function_calls >= sc["points"]


def test_solve_eta0_2_no_sign_change_flag():
    """F > 0 on the whole grid: status 1, root inf, converged, 'no positive root'."""
    v = values()
    r0 = solve_eta0_2(v)
    upper = r0.root / 2  # grid ends at half the true smallest root
    r = solve_eta0_2(v, upper)
    assert r.status == 1 and r.flag == "no positive root" and r.converged
    assert r.root == math.inf and r.residual == 0.0
    assert np.all(F88(_grid(r.scan), v) > 0)
    assert r.to_dict()["root"] is None


def test_solve_eta0_2_below_floor_flag():
    """d close to 1 and small mu alpha1: F(1e-100) <= 0, the smallest root is below the float range."""
    v = values(alpha1=1e-8, d=1.01)
    assert F88(EQ88_FLOOR, v) <= 0
    r = solve_eta0_2(v, 1e-3)
    assert r.status == -5 and not r.converged and r.flag == "not applicable"
    assert "1e-100" in r.message
    assert r.scan["lower"] == EQ88_FLOOR


@pytest.mark.parametrize("upper", [0.0, -1.0, math.inf, math.nan])
def test_solve_eta0_2_bad_upper_not_applicable(upper):
    r = solve_eta0_2(values(), upper)
    assert r.status == -5 and not r.converged


def test_solve_eta0_2_tiny_upper_does_not_raise():
    # regression: np.logspace got a negative point count when the range ended below EQ88_FLOOR
    r = solve_eta0_2(values(), 1e-105)
    assert not r.converged or r.root > 0


# ---------------------------------------------------------------- the front door


@pytest.mark.parametrize("name", ["eta_hat", "eta_local", "eta_xu_star", "eta_48"])
def test_solve_front_door_step_equations(name):
    """solve() on each per-step equation: a converged root inside its reported bracket, tiny residual,
    and (independently) a sign change of the polynomial across the root, from np.roots' own coefficients."""
    from convtool.analysis.evaluate import polynomial
    from convtool.numeric.roots import solve

    vals = {"K": 2.0, "L_t": 0.3, "sigma_max_T_sq": 3.0, "sigma_min_T_sq": 1.5, "sigma_max_W": 1.2,
            "grad_l_norm": 0.7, "W_fro": 1.9}
    r = solve(name, vals)
    assert r.converged and r.status == 0 and r.bracket[0] == 0.0 and 0 < r.root <= r.bracket[1]
    argnames, funcs = polynomial(name)
    co = np.array([float(f(*[vals[a] for a in argnames])) for f in funcs])
    real = [z.real for z in np.roots(co) if abs(z.imag) < 1e-12 and z.real > 0]
    assert len(real) == 1  # the unique positive root the bracket argument promises
    np.testing.assert_allclose(r.root, real[0], rtol=1e-12)
    assert abs(r.residual) <= 1e-13 * np.abs(co).sum()


def test_solve_front_door_dispatch_and_unknown():
    from convtool.numeric.roots import solve

    r = solve("eta0_1", values())
    assert r.converged and r.name == "eta0_1"
    with pytest.raises(KeyError, match="no solver for 'alpha1'"):
        solve("alpha1", {})
