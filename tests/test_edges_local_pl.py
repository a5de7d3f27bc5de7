"""Issue 14, items 2-5: eta_max on its admissible side, eq. (88) below 1e-100, eq. (103) when eq. (88)
binds, and L(0)'s attainable precision.

Every reference is computed here with mpmath from the paper's formulas (Theorem E.1, eqs. 87-91, 103,
110), never from convtool's expressions: the inputs are the float values convtool measured (alpha1,
alpha2, beta2, mu, K, L0), taken as exact binary numbers, so the references are those of the float
instance the theorem is applied to. Where ``1 - Delta`` is tiny (1e-137 below 1) the direct formula
needs more than 60 digits; ``_dps`` gives it 60 digits beyond the cancellation.
"""

from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import pytest

from cases import _factorization, _squared, make_loss_from_raw
from convtool.analysis.evaluate import evaluate
from convtool.errors import ConvtoolWarning
from convtool.numeric.constants import compute_constants
from convtool.results import NotApplicable

MP = mpmath.mpf


def _dps(x) -> int:
    """60 digits beyond the ~-log10(x) lost in 1 - Delta at eta0 = x."""
    return 60 + int(max(0.0, -math.log10(float(x)))) * 2


def _in(v, *keys):
    return [MP(float(v[k])) for k in keys]


def mp_theory(x, v, c, d):
    """mubar, Kbar0, rhobar0, Delta, F (eq. 88) and eq. 103's bound at eta0 = x, straight from Theorem E.1."""
    mu, K, L0, a1, a2, b2 = _in(v, "mu", "K", "L0", "alpha1", "alpha2", "beta2")
    x, c, d = MP(float(x)), MP(float(c)), MP(float(d))
    E = mpmath.exp(x ** c)
    mubar = mu * (a1 + 2 * a2 * (1 - E))
    Kbar0 = mpmath.sqrt(2 * K * L0) + 6 * K ** 2 * b2 * L0 * x ** 2 + K * E * a2 * (1 + 3 * mpmath.sqrt(2 * K * L0) * x)
    rhobar0 = 1 - 2 * mubar * x + mubar * Kbar0 * x ** 2
    Delta = (1 + x ** d) * rhobar0
    F = (1 - mpmath.exp(-x ** c)) * (1 - Delta) - 4 * K * L0 * x ** 2
    drift = 2 * K * x ** 2 * a2 * E * L0 / (1 - Delta)
    return {"mubar": mubar, "Kbar0": Kbar0, "Delta": Delta, "one_minus_Delta": 1 - Delta, "F": F, "drift": drift, "g87": x * Kbar0 - 1,
            "eq110": a2 * (E - 1) / 2}


def theory(x, v, c, d):
    with mpmath.workdps(_dps(x)):
        return mp_theory(x, v, c, d)


def constants(raw, c, d):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvtoolWarning)
        return compute_constants(make_loss_from_raw(raw), raw["W1"], raw["W2"], c=c, d=d)


def old_drift_formula(res):
    """The float evaluation of eq. 103 that convtool printed before issue 14 (registry form, 1 - Delta expanded)."""
    v = dict(res.values)
    v.pop("drift_total_bound")
    return evaluate(v, targets=["drift_total_bound"])["drift_total_bound"]


# ---------------------------------------------------------------- item 2: c = 0.01


C001 = [("sq_n3_m2_h10", _squared(0, 3, 2, 10)), ("fig1_small", _squared(13, 4, 4, 60, noise=1.0))]


@pytest.mark.parametrize("name,make", C001, ids=[n for n, _ in C001])
def test_gh14_item2_eta_max_is_admissible_with_c_001(name, make):
    """c = 0.01: log1p(.)^(1/c) amplified rounding 100-fold and eta_max lay ~3e-14 above the exact eta0^(3)
    and eta0^(2), where mubar < 0 and F < 0 (sq_n3_m2_h10: mubar = -2.2e-19 at the old eta_max 2.0885035553131726e-84)."""
    c, d = 0.01, 2.0
    res = constants(make(), c, d)
    v = res.values
    with mpmath.workdps(60):
        a1, a2 = _in(v, "alpha1", "alpha2")
        exact3 = mpmath.log1p(a1 / (2 * a2)) ** (1 / MP(c))
    # eta0^(3): at or below the exact value, and the largest float with mubar >= 0
    assert MP(res.eta0_3) <= exact3
    assert theory(res.eta0_3, v, c, d)["mubar"] >= 0
    assert theory(np.nextafter(res.eta0_3, np.inf), v, c, d)["mubar"] < 0
    # eta_max: every defining inequality of Theorem E.1 holds at the returned float
    em = res.eta_max
    assert em == min(res.eta0_1, res.eta0_2, res.eta0_3)
    t = theory(em, v, c, d)
    assert t["mubar"] >= 0 and t["F"] >= 0 and t["g87"] <= 0 and 0 < t["Delta"] < 1
    # eta0^(2): on the admissible side of eq. 88, within 1e-12 of the root
    assert theory(res.eta0_2, v, c, d)["F"] >= 0
    assert theory(res.eta0_2 * (1 + 1e-12), v, c, d)["F"] < 0
    # mubar is not printed as 0.0 (or negative); drift_total_bound is a bound, never negative
    assert res.mubar > 0
    np.testing.assert_allclose(res.mubar, float(t["mubar"]), rtol=1e-9)
    assert res.drift_total_bound >= float(t["drift"]) * (1 - 1e-12) and res.drift_total_bound > 0
    # the float 1 / (1 - Delta) of before is meaningless here (it printed -1.9086 for sq_n3_m2_h10 at the old eta_max)
    assert abs(old_drift_formula(res) - res.drift_total_bound) > 0.5 * res.drift_total_bound


def test_gh14_item2_eta0_1_on_its_side():
    """eq. 87's Brent float can lie an ulp above the root (eta0 Kbar_0 > 1): the returned one may not."""
    for seed in range(6):
        r = _squared(seed, 3, 2, 10)()
        res = constants(r, 0.5, 2.0)
        assert theory(res.eta0_1, res.values, 0.5, 2.0)["g87"] <= 0
        assert theory(res.eta0_2, res.values, 0.5, 2.0)["F"] >= 0


# ---------------------------------------------------------------- item 3: eq. 88 below 1e-100


# found with tests/cases.py's generator: squared, n=3, m=2, h=20, init scale 0.03, Y random, d = 1.01;
# 50-digit mpmath places their roots of eq. 88 near 3.19e-136 and 1.67e-137 (F(1e-100) < 0 on both)
BELOW = [(3, 3.1861138461857e-136), (9, 1.6743923881233e-137)]


@pytest.mark.parametrize("seed,approx_root", BELOW)
def test_gh14_item3_eq88_root_below_1e_100(seed, approx_root):
    c, d = 0.5, 1.01
    res = constants(_squared(seed, 3, 2, 20, scale=0.03, target="random")(), c, d)
    v = res.values
    assert theory(1e-100, v, c, d)["F"] < 0  # the old scan floor
    rr = res.roots["eta0_2"]
    assert rr.status == 0 and rr.converged
    r = res.eta0_2
    assert r < 1e-100
    np.testing.assert_allclose(r, approx_root, rtol=1e-9)
    # the returned float is on the admissible side, the next one is not
    assert theory(r, v, c, d)["F"] >= 0
    assert theory(np.nextafter(r, np.inf), v, c, d)["F"] < 0
    # the smallest root: F > 0 on a scan below it, down to the float floor
    for x in np.geomspace(np.finfo(float).tiny, r * (1 - 1e-9), 60):
        assert theory(x, v, c, d)["F"] > 0, x
    assert rr.scan["extension"]["lower"] == np.finfo(float).tiny
    assert res.eta_max == r and res.theorem_applies
    t = theory(r, v, c, d)
    assert res.drift_total_bound >= float(t["drift"]) * (1 - 1e-12) >= 0


def test_gh14_item3_really_below_the_float_range():
    """tests/cases.py's eq88_below_floor: 2 mu alpha1 ~ 5e-7, the root is near (5e-7)^100: below 2.2e-308."""
    c, d = 0.5, 1.01
    res = constants(_squared(5, 3, 2, 20, scale=1e-4, target="random")(), c, d)
    assert isinstance(res.eta0_2, NotApplicable)
    assert "below the float range" in res.eta0_2.reason
    assert theory(np.finfo(float).tiny, res.values, c, d)["F"] < 0


# ---------------------------------------------------------------- item 4: eq. 103 when eq. 88 binds


NEAR_OPT = [0, 1, 2]  # factorization 2 x 2, h = 6, Y = W1 W2^T + 1e-12 N(0, 1): L0 ~ 1e-24


@pytest.mark.parametrize("seed", NEAR_OPT)
def test_gh14_item4_drift_bound_at_eta0_2_is_eq110(seed):
    c, d = 0.5, 2.0
    res = constants(_factorization(seed, 2, 2, 6, 1e-12)(), c, d)
    v = res.values
    assert res.eta_max == res.eta0_2 == res.eta0
    t = theory(res.eta0, v, c, d)
    # eq. 88 binds: 1 - Delta is ~1e-26 at the exact root and ~1e-17 at the float just below it, while its
    # expanded terms are ~1e-2 (double precision cannot resolve it)
    assert t["F"] >= 0 and 0 < t["one_minus_Delta"] < 1e-15
    got = res.drift_total_bound
    # eq. 110: alpha2 (exp(eta0^c) - 1) / 2, an upper bound on eq. 103 wherever F >= 0 (equal at the exact root)
    np.testing.assert_allclose(got, float(t["eq110"]), rtol=1e-12)
    assert got >= float(t["drift"]) * (1 - 1e-12)
    # the old float evaluation of 1 / (1 - Delta) was off by orders of magnitude (or negative)
    assert abs(old_drift_formula(res) - got) > 1e-3 * got


def test_gh14_item4_drift_bound_below_eta0_2_and_above_range():
    c, d = 0.5, 2.0
    raw = _factorization(0, 2, 2, 6, 1e-12)()
    res0 = constants(raw, c, d)
    eta0 = res0.eta0_2 * 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvtoolWarning)
        res = compute_constants(make_loss_from_raw(raw), raw["W1"], raw["W2"], c=c, d=d, eta0=eta0)
    t = theory(eta0, res.values, c, d)
    np.testing.assert_allclose(res.drift_total_bound, float(t["drift"]), rtol=1e-9)
    # far above eta_max Delta >= 1: the bound is not applicable, never a negative number
    big = res0.eta0_1 * 0.999
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvtoolWarning)
        res2 = compute_constants(make_loss_from_raw(raw), raw["W1"], raw["W2"], c=c, d=d, eta0=big)
    t2 = theory(big, res2.values, c, d)
    if t2["Delta"] >= 1:
        assert isinstance(res2.drift_total_bound, NotApplicable)
        assert "Delta" in res2.drift_total_bound.reason
    else:
        assert res2.drift_total_bound > 0


# ---------------------------------------------------------------- item 5: L(0)'s precision


def test_gh14_item5_L0_precision_reported_with_warning():
    raw = _factorization(0, 2, 2, 6, 1e-12)()
    loss = make_loss_from_raw(raw)
    with pytest.warns(ConvtoolWarning, match="L\\(0\\)"):
        res = compute_constants(loss, raw["W1"], raw["W2"])
    d = res.to_dict()
    eps = np.finfo(float).eps
    delta = 64 * eps * np.linalg.norm(raw["W1"]) * np.linalg.norm(raw["W2"])
    L0, K = res.L0, res.K
    band = math.sqrt(2 * K * L0) * delta + K * delta ** 2 / 2
    np.testing.assert_allclose(d["L0_band"], band, rtol=1e-12)
    np.testing.assert_allclose(d["L0_rel_precision"], band / L0, rtol=1e-12)
    assert d["L0_rel_precision"] > 1e-6
    assert any("eta0^(2)" in w and "drift_total_bound" in w for w in res.warnings)


def test_gh14_item5_no_warning_far_from_optimum():
    r = _squared(0, 3, 2, 10)()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvtoolWarning)
        res = compute_constants(make_loss_from_raw(r), r["W1"], r["W2"])
    assert res.to_dict()["L0_rel_precision"] < 1e-9
