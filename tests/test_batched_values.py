"""The batched pieces of a run's per-seed constants give the per-seed floats bit for bit (issue 13).

* :func:`convtool.analysis.evaluate.evaluate_many` (one array pass per quantity over the seeds) equals
  :func:`evaluate` dict by dict, ``==`` on every float, on real batches and on random inputs whose powers
  differ between numpy's array ``power`` and the scalar path's libm ``pow``; it falls back to the loop where the
  dicts cannot be stacked; its elementwise power (:func:`_libm_pow`) is the scalar ``**``, edge cases included;
* :func:`convtool.numeric.roots.certified_value` is ``float(mp_value(...))`` (the 50-digit value, the oracle):
  mubar from tiny eta0 to the floats around its root eta0^(3) (cancellation: there the long double enclosure
  does not decide and mpmath does), and eq. (103)'s ``drift_total_bound`` against the 50-digit quotient of the
  hand-written numerator and ``1 - Delta`` that constants.py used before; both branches are exercised;
* :func:`_ld_rounded` decides only where the enclosure rounds to one double, never at a rounding boundary;
* the long double tape's point rules (products and sums of exact points) enclose the exact rational value.
"""

from __future__ import annotations

import math
from fractions import Fraction as Fr

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convtool.analysis import evaluate as ev
from convtool.numeric import roots
from convtool.numeric.certificate import LD, LD_EXTENDED, vector_interval_function
from convtool.numeric.constants import compute_constants
from convtool.numeric.experiments import default_batch, generator_batch

PRIMS = ("mu", "K", "lstar", "L0", "sigma_min_Wstar", "sigma_max_Wstar", "dist0", "lambda_max_D0",
         "lambda_max_negD0", "lambda_n_D0", "lambda_m_negD0", "s1_min_sq", "s1_max_sq", "s2_min_sq", "s2_max_sq",
         "sigma_max_W", "W_fro", "grad_l_norm", "c", "d", "t")
FIRST = ["alpha1", "alpha2", "alpha_ratio", "eta0_3", "kappa", "rate_nonoverparam", "local_rate_limit",
         "sigma_min_T_sq", "sigma_max_T_sq"]


def _bits_equal(a: dict, b: dict):
    assert list(a) == list(b)
    for k in a:
        x, y = a[k], b[k]
        assert type(x) is type(y), k
        assert x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y)), (k, x, y)


@pytest.fixture(scope="module")
def seed_values():
    out = []
    for b in (default_batch(seeds=12, seed=4, h=40), generator_batch("fig3", seeds=4, seed=2, h=60)):
        for r in range(b.R):
            out.append(compute_constants(b.losses[r], b.W1[r], b.W2[r]).values)
    return out


def test_evaluate_many_equals_evaluate_on_real_seeds(seed_values):
    prims = [{k: v[k] for k in PRIMS} for v in seed_values]
    keys = (*PRIMS, *FIRST, "eta0_1", "eta0_2", "eta0", "eta", "L_t", "mubar")
    later = [{k: v[k] for k in keys} for v in seed_values]
    for dicts, targets in ((prims, FIRST), (prims, None), (later, ["eta_max"]), (later, None)):
        many = ev.evaluate_many(dicts, targets)
        for d, got in zip(dicts, many):
            _bits_equal(got, ev.evaluate(d, targets))


def test_evaluate_many_random_powers():
    """Random exponents c, d and bases: numpy's array power differs from the scalar pow on some of them (SVML
    on AVX-512), evaluate_many's floats do not."""
    rng = np.random.default_rng(7)
    R = 200
    base = {k: np.exp(rng.uniform(-3, 3, R)) for k in PRIMS}
    base["c"], base["d"], base["t"] = rng.uniform(0.05, 0.95, R), rng.uniform(1.05, 4.0, R), np.zeros(R)
    dicts = [{k: float(v[r]) for k, v in base.items()} for r in range(R)]
    for d in dicts:
        d["eta0"] = d["eta"] = 1e-3 * d["c"]
        d["L_t"] = d["L0"]
    many = ev.evaluate_many(dicts)
    for d, got in zip(dicts, many):
        _bits_equal(got, ev.evaluate(d))
    x, y = np.exp(rng.uniform(-20, 5, 4000)), rng.uniform(0.1, 3, 4000)
    scalar = np.array([np.float64(a) ** np.float64(b) for a, b in zip(x, y)])
    assert np.array_equal(ev._libm_pow(x, y), scalar)


def test_libm_pow_edge_cases():
    a = np.array([0.0, -2.0, -2.0, 1e300, 2.0, np.inf, np.nan, 5e-324, 1.0, -0.0])
    b = np.array([-1.0, 3.0, 0.5, 10.0, -1080.0, 0.5, 0.0, 0.5, np.inf, 3.0])
    with np.errstate(all="ignore"):
        want = np.array([np.float64(x) ** np.float64(y) for x, y in zip(a, b)])
    got = ev._libm_pow(a, b)
    assert np.array_equal(got, want, equal_nan=True) and np.array_equal(np.signbit(got), np.signbit(want))
    assert np.array_equal(ev._libm_pow(np.array([2.0, 3.0]), 2), np.array([np.float64(2.0) ** 2, np.float64(3.0) ** 2]))
    assert ev._libm_pow(np.float64(2.0), 0.5) == np.float64(2.0) ** 0.5


def test_evaluate_many_falls_back_where_it_cannot_stack(seed_values):
    prims = [{k: v[k] for k in PRIMS} for v in seed_values[:3]]
    odd = [dict(prims[0]), {k: v for k, v in prims[1].items() if k != "dist0"}, dict(prims[2])]
    odd[2]["extra"] = "not a number"
    for dicts in (odd, prims[:1]):
        for d, got in zip(dicts, ev.evaluate_many(dicts, FIRST)):
            _bits_equal(got, ev.evaluate(d, FIRST))


def _old_drift_bound(vals, eta0):
    """constants.py's 50-digit eq. (103) before issue 13: a hand-written numerator over 1 - Delta (the oracle)."""
    omd = roots.mp_value("one_minus_Delta", eta0, vals)
    with mpmath.workdps(roots.MP_DPS):
        K, a2, L0, c = (mpmath.mpf(float(vals[k])) for k in ("K", "alpha2", "L0", "c"))
        e = mpmath.mpf(float(eta0))
        return float(2 * K * e ** 2 * a2 * mpmath.exp(e ** c) * L0 / omd)


def test_certified_value_is_the_50_digit_float(seed_values):
    before = dict(roots.SIGN_COUNTS)
    for vals in seed_values[:8]:
        e3 = vals["eta0_3"]
        points = [e3 * f for f in (1e-9, 1e-4, 0.1, 0.5, 0.9, 0.999)] + \
            [roots._ulp_shift(e3, k) for k in (-40, -3, -1, 0, 1, 3)]
        for x in points:
            assert roots.certified_value("mubar", x, vals) == float(roots.mp_value("mubar", x, vals)), x
        for x in (vals["eta_max"], vals["eta_max"] * 0.5, vals["eta_max"] * 1e-3):
            v = dict(vals, eta0=x)
            assert roots.certified_value("drift_total_bound", x, v) == _old_drift_bound(v, x), x
    if LD_EXTENDED:  # both branches ran: the enclosure decided most, mpmath the cancelled mubar at eta0^(3)
        assert roots.SIGN_COUNTS["value_ld"] > before["value_ld"] + 50
        assert roots.SIGN_COUNTS["value_mpmath"] > before["value_mpmath"]


def test_batched_values_equal_single(seed_values):
    """The batch's long double pass over many seeds gives what certified_value gives one point at a time."""
    vals = seed_values[: roots.VECTOR_MIN + 2]
    qs = [roots.ValueQuery("mubar", v["eta0_3"] * 0.5, v) for v in vals] + \
        [roots.ValueQuery("drift_total_bound", v["eta_max"] * 0.5, dict(v, eta0=v["eta_max"] * 0.5)) for v in vals]
    answers = roots._vector_answers(qs)
    for q, a in zip(qs, answers):
        if LD_EXTENDED:
            assert a is not None
        if a is not None:
            assert a[1] == roots.certified_value(q.name, q.x, q.values)


def test_ld_rounded_decides_only_inside_one_rounding_interval():
    f = 1.0 + 2 ** -52  # odd: the midpoint above rounds (to even) to the next double
    mid_up = LD(f) + LD(2.0 ** -53)  # halfway to the next double
    lo = np.array([LD(f), LD(f), mid_up, LD(f), LD(0.0), LD(1e-310), LD(-f)], dtype=LD)
    hi = np.array([LD(f), np.nextafter(mid_up, LD(0)), mid_up, LD(np.inf), LD(0.0), LD(1e-310), LD(-f)], dtype=LD)
    got = roots._ld_rounded(lo, hi)
    if LD_EXTENDED:
        assert got[0] == f and got[6] == -f
        assert np.isnan(got[1:6]).all()  # touches a midpoint (within an ulp), infinite, zero, subnormal


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), min_size=3, max_size=3))
def test_point_rules_enclose_the_exact_value(xyz):
    x, y, z = xyz
    exact = {"x*y": Fr(x) * Fr(y), "3*x*y": 3 * Fr(x) * Fr(y), "x + y": Fr(x) + Fr(y),
             "x*(y + z)": Fr(x) * (Fr(y) + Fr(z)), "(x*y)*(y*z) + x": Fr(x) * Fr(y) * Fr(y) * Fr(z) + Fr(x),
             "-x*(z*y)": -Fr(x) * Fr(z) * Fr(y), "x**2 - y": Fr(x) ** 2 - Fr(y),
             "x**2*(y + z)**2": Fr(x) ** 2 * (Fr(y) + Fr(z)) ** 2}
    for expr, val in exact.items():
        f = vector_interval_function(expr, ["x", "y", "z"])
        lo, hi = f(np.array([x]), np.array([y]), np.array([z]))
        assert Fr(*lo[0].as_integer_ratio()) <= val <= Fr(*hi[0].as_integer_ratio()), expr
    ops = {ins[0] for ins in vector_interval_function("3*x*y + x*(y + z)", ["x", "y", "z"]).tape}
    assert {"mul_pp", "mul_pi", "add_pp"} <= ops or "mul_ci" in ops


pos = st.floats(1e-3, 1e3)
inst = st.fixed_dictionaries({"K": pos, "L0": st.floats(0.0, 1e3), "mu": pos, "alpha1": st.floats(1e-4, 10.0),
                              "alpha2": st.floats(1e-2, 1e2), "beta2": st.floats(0.0, 10.0),
                              "c": st.floats(0.05, 0.95), "d": st.floats(1.05, 4.0)})


@settings(max_examples=15, deadline=None)
@given(inst, st.lists(st.floats(1e-8, 2.0), min_size=1, max_size=4))
def test_drift_bound_enclosure_and_value(vals, xs):
    """The long double enclosure of eq. (103)'s bound holds its 50-digit value; a decided value is that value's
    float."""
    iv = roots._vector_twin("drift_total_bound", "eta0")
    _, others = roots._mp_function("drift_total_bound", "eta0")
    lo, hi = iv(np.array(xs), *[np.full(len(xs), float(vals[a])) for a in others])
    got = roots._ld_rounded(lo, hi)
    for i, x in enumerate(xs):
        v = roots.mp_value("drift_total_bound", x, vals)
        if np.isfinite(lo[i]) and np.isfinite(hi[i]):
            assert Fr(*lo[i].as_integer_ratio()) <= _fr(v) <= Fr(*hi[i].as_integer_ratio()), x
        if not np.isnan(got[i]):
            assert got[i] == float(v)


def _fr(v):
    """The exact value of an mpf (its own mantissa and exponent, not re-rounded to the working precision)."""
    sign, man, exp, _ = v._mpf_
    return (-1) ** sign * Fr(int(man)) * (Fr(2) ** int(exp))


def test_drive_batch_defers_evaluations_and_keeps_loop_order(monkeypatch):
    """Evaluations wait until every search waits on one, then go in one evaluate_many per target set; a seed
    whose evaluation fails raises as the loop would (the lowest failing seed), the others are unaffected."""
    calls: list = []
    real = ev.evaluate_many

    def counting(dicts, targets=None, paper=None):
        calls.append((len(dicts), targets))
        return real(dicts, targets, paper)

    monkeypatch.setattr(ev, "evaluate_many", counting)

    def search(r, signs, bad=False):
        for _ in range(signs):  # a different number of sign rounds per seed before the evaluation
            yield roots.SignQuery("mubar", 0.5, {"alpha1": 1.0, "alpha2": 1.0, "c": 0.5, "mu": 1.0}, 0.0, True)
        vals = {"K": 4.0, "mu": 1.0 if not bad else None}
        out = yield roots.EvalQuery(vals, ("kappa",))
        return r, out["kappa"]

    assert roots.drive_batch([search(r, r % 3) for r in range(5)]) == [(r, 4.0) for r in range(5)]
    assert calls == [(5, ["kappa"])]
    with pytest.raises(TypeError):
        roots.drive_batch([search(0, 1), search(1, 0, bad=True), search(2, 2)])
