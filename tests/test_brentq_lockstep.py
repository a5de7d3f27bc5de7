"""The lock-step Brent of a batch is scipy's ``brentq`` seed by seed, bit for bit (issue 13).

:func:`convtool.numeric._brentq.brentq_lockstep` transcribes scipy 1.17's ``brentq.c`` onto arrays of seeds.
Oracle: ``scipy.optimize.brentq(..., full_output=True, disp=False)`` itself (the compiled C code, imported
through ``scipy.optimize``, not convtool's loader), one call per seed on the scalar function. Compared: the
root's bits, ``iterations``, ``function_calls``, the flag, and the errors (type, message, ``_x``,
``_function_calls``). Cases: random smooth lambdified functions with their array twins; the registry residuals
of eqs. (87), (88) at random inputs (shifts 0 and 1); products ``fpre*fcur`` that underflow (opposite and equal
signs); exact zeros at an end; maxiter hit (CONVERR); sign errors; NaN inside and at the ends; the ``fix`` hook.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import brentq as scipy_brentq
from sympy.codegen.cfunctions import expm1, log1p

from convtool.analysis.evaluate import _array_twin, residual
from convtool.numeric._brentq import _ECONVERGED, _ECONVERR, brentq_lockstep

EPS = np.finfo(float).eps
FLAGS = {"converged": _ECONVERGED, "convergence error": _ECONVERR}


def _scipy(f, a, b, xtol, rtol, maxiter):
    """scipy's outcome: ("ok", root bits, iterations, calls, flag) or ("err", type, message, _x, calls)."""
    try:
        x, r = scipy_brentq(f, a, b, xtol=xtol, rtol=rtol, maxiter=maxiter, full_output=True, disp=False)
    except ValueError as exc:
        return ("err", type(exc), str(exc), getattr(exc, "_x", None), getattr(exc, "_function_calls", None))
    return ("ok", np.float64(x).view(np.int64).item(), r.iterations, r.function_calls, FLAGS[r.flag])


def _ours(L, i, zero_end=False):
    e = L.errors[i]
    if e is not None:
        return ("err", type(e), str(e), getattr(e, "_x", None), getattr(e, "_function_calls", None))
    it = None if zero_end else int(L.iterations[i])
    return ("ok", np.float64(L.root[i]).view(np.int64).item(), it, int(L.function_calls[i]), int(L.flag[i]))


def _check(scalar, array, a, b, args, xtol=2e-12, rtol=4 * EPS, maxiter=100, shift=0.0, with_ends=False):
    """Every seed's lock-step outcome against scipy's on ``scalar(x, *args_i) - shift``; returns the outcomes."""
    R = len(a)
    kw = {}
    if with_ends:
        kw = {"fa": [float(scalar(float(a[i]), *[float(c[i]) for c in args])) - shift for i in range(R)],
              "fb": [float(scalar(float(b[i]), *[float(c[i]) for c in args])) - shift for i in range(R)]}
    L = brentq_lockstep(array, a, b, args, shift=shift, xtol=xtol, rtol=rtol, maxiter=maxiter, **kw)
    out = []
    for i in range(R):
        ai = [float(c[i]) for c in args]
        want = _scipy(lambda x: scalar(x, *ai) - shift, float(a[i]), float(b[i]), xtol, rtol, maxiter)
        zero_end = want[0] == "ok" and want[3] == 2 and want[4] == _ECONVERGED  # iterations uninitialized in C
        got = _ours(L, i, zero_end)
        if zero_end:
            want = want[:2] + (None,) + want[3:]
        assert got == want, (i, got, want, [a[i], b[i], *ai])
        out.append(want)
    return out


x, p, q, r, s = sp.symbols("x p q r s")
#: smooth test functions, lambdified as convtool lambdifies (numpy, cse); each has a root in (0, 1) for r in (0, 1)
EXPRS = [
    (x - r) * (1 + p * x ** 2) + q * (x - r) ** 3,
    sp.exp(p * x) - sp.exp(p * r) + q * (x - r) ** 2 * (x - r),
    (x - r) * sp.exp(-q * x ** 2) * (1 + s * x ** 0.5),
    expm1(p * (x - r)) + q * (x ** 3 - r ** 3),
    x ** p - r ** p,
    log1p(p * x) - log1p(p * r) + s * (x - r) ** 5,
    sp.sqrt(x + q ** 2) - sp.sqrt(r + q ** 2),
]


@pytest.mark.parametrize("k", range(len(EXPRS)))
def test_random_smooth_functions(k):
    f = sp.lambdify([x, p, q, r, s], EXPRS[k], modules="numpy", cse=True)
    F = _array_twin(f)
    rng = np.random.default_rng(100 + k)
    R = 60
    args = (rng.uniform(0.2, 3.0, R), rng.uniform(-1.5, 1.5, R), rng.uniform(0.05, 0.95, R), rng.uniform(0, 2, R))
    a = rng.uniform(0.0, 0.04, R)
    b = rng.uniform(0.97, 1.0, R)
    b[:5] = a[:5] + 0.01  # no sign change on [a, b]: sign errors
    outs = []
    for xtol, rtol, maxiter in ((2e-12, 4 * EPS, 100), (1e-300, 4 * EPS, 100), (1e-300, 1e-12, 4), (1e-3, 1e-10, 100)):
        outs += _check(f, F, a, b, args, xtol, rtol, maxiter)
    _check(f, F, a, b, args, with_ends=True)  # ends given: the same outcome
    kinds = {o[0] if o[0] == "err" else o[4] for o in outs}
    assert {"err", _ECONVERGED, _ECONVERR} <= kinds  # every branch of the outcome met


def _eta0_inputs(rng, R):
    return {"K": 10 ** rng.uniform(-1, 2, R), "L0": 10 ** rng.uniform(-6, 1, R), "alpha1": 10 ** rng.uniform(-3, 0, R),
            "alpha2": 10 ** rng.uniform(-1, 1, R), "beta2": 10 ** rng.uniform(-2, 1, R),
            "c": rng.uniform(0.1, 0.9, R), "d": rng.uniform(1.1, 3.0, R), "mu": 10 ** rng.uniform(-3, 0, R)}


def test_eq87_residual_random_inputs_shifts_0_and_1():
    f, names = residual("eta0_1")
    F = _array_twin(f)
    rng = np.random.default_rng(87)
    R = 150
    vals = _eta0_inputs(rng, R)
    args = tuple(vals[n] for n in names)
    lower = np.maximum(vals["K"] * vals["alpha2"], np.sqrt(2 * vals["K"] * vals["L0"]))
    a = np.zeros(R)
    _check(f, F, a, 1.0 / lower, args, 1e-300, 4 * EPS, 200, with_ends=True)
    _check(f, F, a, 2.0 / lower, args, 1e-300, 4 * EPS, 100, shift=1.0, with_ends=True)
    _check(f, F, a, 2.0 / lower, args, 1e-300, 4 * EPS, 3, shift=1.0)  # CONVERR


def test_eq88_residual_random_inputs_on_scan_brackets():
    f, names = residual("eta0_2")
    F = _array_twin(f)
    rng = np.random.default_rng(88)
    R = 150
    vals = _eta0_inputs(rng, R)
    args = tuple(vals[n] for n in names)
    a, b = np.empty(R), np.empty(R)
    for i in range(R):  # the first sign change of F on a log grid, else a bracket without one (a sign error)
        grid = np.logspace(-8, 1, 60)
        with np.errstate(all="ignore"):
            v = np.array([f(float(g), *[float(c[i]) for c in args]) for g in grid])
        j = np.flatnonzero((v[:-1] > 0) & (v[1:] <= 0))
        a[i], b[i] = (grid[j[0]], grid[j[0] + 1]) if j.size else (grid[0], grid[1])
    with np.errstate(all="ignore"):
        outs = _check(f, F, a, b, args, 1e-300, 4 * EPS, 200)
    assert sum(o[0] == "ok" for o in outs) > R // 2


def test_underflowing_products_zero_ends_maxiter_and_nan():
    """``fpre*fcur`` underflowing to -0 (opposite signs) and +0 (equal signs): scipy 1.17 tests signbits, so the
    first converges to the root and the second is a sign error (a product test would return 0.0 for both); an exact
    zero at either end; maxiter 0..3; NaN at an end and inside (the ValueError of scipy's NaN guard, with x and the
    call count)."""

    def lin(x, sc, r0):
        return sc * (x - r0)

    def nan_inside(x, lo, hi):  # x - 0.25, NaN on (lo, hi)
        if np.ndim(x):
            return np.where((lo < x) & (x < hi), np.nan, x - 0.25)
        return math.nan if lo < x < hi else x - 0.25

    sc = np.array([1e-200, -1e-200, 1e-170, 1e-200, 1.0, 1.0, 1.0, 1e-170, 1.0, 1.0])
    r0 = np.array([0.3, 0.7, 0.5, -1.0, 0.0, 1.0, 0.4, 2.0, 0.6, 0.1])
    a, b = np.zeros(10), np.ones(10)
    for maxiter in (0, 1, 2, 3, 100):
        outs = _check(lin, lin, a, b, (sc, r0), 1e-300, 4 * EPS, maxiter)
        if maxiter == 100:  # the -0 products: the roots; the +0 products: sign errors
            assert [outs[i][0] for i in (0, 1, 2, 3, 7)] == ["ok", "ok", "ok", "err", "err"]
            assert [outs[i][1] for i in (0, 1, 2)] == [np.float64(v).view(np.int64) for v in (0.3, 0.7, 0.5)]
    lo, hi = np.array([0.0, 0.0, -1.0, 0.0]), np.array([0.5, 0.0, 0.5, 2.0])
    outs = _check(nan_inside, nan_inside, a[:4], b[:4], (lo, hi), 1e-300, 4 * EPS, 100)
    assert [o[0] for o in outs] == ["err", "ok", "err", "err"] and [o[4] for o in outs[2:]] == [1, 2]
    assert outs[0][4] > 2 and "is NaN" in outs[0][2]


def test_fix_replaces_non_finite_array_values_and_its_errors_stop_only_that_seed():
    """Where the array function is not finite, ``fix(i, x)`` (the scalar path) decides; a seed whose fix raises
    stops with that error, the others go on."""

    def f(x, r0):
        return x - r0

    def broken(x, r0):  # inf wherever x > 0.5: fix must repair it
        return np.where(x > 0.5, np.inf, x - r0)

    r0 = np.array([0.2, 0.6, 0.8, 0.3])
    seen = []

    def fix(i, xx):
        seen.append(i)
        if i == 2:
            raise OverflowError("seed 2")
        return xx - float(r0[i])

    L = brentq_lockstep(broken, np.zeros(4), np.ones(4), (r0,), xtol=1e-300, fix=fix)
    want = [scipy_brentq(f, 0.0, 1.0, args=(float(r0[i]),), xtol=1e-300, full_output=True) for i in range(4)]
    assert isinstance(L.errors[2], OverflowError) and seen
    for i in (0, 1, 3):
        assert L.errors[i] is None
        assert (L.root[i], L.iterations[i], L.function_calls[i]) == \
            (want[i][0], want[i][1].iterations, want[i][1].function_calls)
