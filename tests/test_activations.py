"""Symbolic activations (convtool.analysis.activations) and their numbers (convtool.numeric.hermite).

Oracles: finite differences of phi, dense grids, scipy quadrature (an independent integrator), the closed
forms of the GeLU Hermite coefficients (Stein's lemma: c_i = E[phi^(i)(g)]), and the analytic r1, r2 of
tanh. The parser's refusal of code-execution payloads is checked in a temporary working directory where no
file may appear.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import ndtr

from convtool.analysis.activations import BUILTINS, builtin, parse_activation
from convtool.errors import InputError
from convtool.numeric.hermite import derivative_sup, hermite_coefficients, scaling_exponents

SMOOTH = ["gelu", "softplus", "softplus0", "tanh", "sigmoid", "sigmoid0", "silu"]

PAYLOADS = [
    "sin.eval.__globals__['__builtins__']['__import__']('pathlib').Path('X').touch()",
    "__import__('os').system('touch X')",
    "__import__('pathlib').Path('X').touch()",
    "(lambda: __import__('os').system('touch X'))()",
    "x.__class__.__mro__[1].__subclasses__()",
    "exp.__call__(x)",
    "x[0]",
    "open('X', 'w')",
    "eval('1')",
    "exp(x=1)",
    "exp(*[x])",
    "x if x else x",
    "x < 1",
    "'X'",
    "x**(10**10**10)",
    "2**2**2**2**2**2",
    "(" * 150 + "x" + ")" * 150,
    "sin(" * 30 + "x" + ")" * 30,
    "+".join(["x"] * 60),
    "1e400*x",
    "y + x",
    "pi*x",
    "1/0",
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_payloads_are_refused_and_create_nothing(payload, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    import time

    t0 = time.perf_counter()
    with pytest.raises(InputError, match="^--activation: "):
        parse_activation(payload)
    assert time.perf_counter() - t0 < 1.0  # refused at once, never computed
    assert os.listdir(tmp_path) == []


def test_whitelisted_expressions_build_the_right_sympy_tree():
    a = parse_activation("x + 0.1*sin(x)")
    z = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(a.phi(z), z + 0.1 * np.sin(z), rtol=1e-15)
    np.testing.assert_allclose(a.dphi(z), 1 + 0.1 * np.cos(z), rtol=1e-15)
    np.testing.assert_allclose(a.d2phi(z), -0.1 * np.sin(z), atol=1e-16)
    b = parse_activation("-x**3/6 + relu(x)**3 - 2*softplus(-x) + Phi(x)*tanh(x)/sqrt(2)")
    ref = -z ** 3 / 6 + np.maximum(z, 0) ** 3 - 2 * np.log1p(np.exp(-z)) + ndtr(z) * np.tanh(z) / np.sqrt(2)
    np.testing.assert_allclose(b.phi(z), ref, rtol=1e-13)
    assert b.smooth  # relu(x)^3 is C^2


@pytest.mark.parametrize("name", SMOOTH)
def test_builtin_derivatives_match_finite_differences_and_the_sympy_forms(name):
    a = builtin(name)
    z = np.linspace(-8, 8, 161)
    h = 1e-5
    np.testing.assert_allclose(a.dphi(z), (a.phi(z + h) - a.phi(z - h)) / (2 * h), atol=2e-9)
    np.testing.assert_allclose(a.d2phi(z), (a.dphi(z + h) - a.dphi(z - h)) / (2 * h), atol=2e-9)
    np.testing.assert_allclose(a.d3phi(z), (a.d2phi(z + h) - a.d2phi(z - h)) / (2 * h), atol=2e-9)
    # the overflow-free numpy forms agree with the lambdified sympy expressions on a moderate range
    import sympy as sp

    from convtool.analysis.activations import x

    for expr, f in ((a.expr, a.phi), (a.d1, a.dphi), (a.d2, a.d2phi)):
        g = sp.lambdify(x, expr, ["scipy", "numpy"])
        np.testing.assert_allclose(f(z), g(z), rtol=1e-12, atol=1e-15)
    big = np.array([-800.0, 800.0])
    assert np.isfinite(a.phi(big)).all() and np.isfinite(a.dphi(big)).all()


@pytest.mark.parametrize("name", SMOOTH)
def test_sups_against_a_dense_grid_of_finite_differences(name):
    a = builtin(name)
    z = np.linspace(-50, 50, 500_001)
    h = 1e-4
    d1 = np.abs((a.phi(z + h) - a.phi(z - h)) / (2 * h))
    d2 = np.abs((a.phi(z + h) - 2 * a.phi(z) + a.phi(z - h)) / h ** 2)
    s1, s2 = derivative_sup(a, 1, symbolic=False), derivative_sup(a, 2, symbolic=False)
    assert s1.verified and s2.verified
    assert d1.max() <= s1.value * (1 + 1e-7) and d1.max() >= s1.value * (1 - 1e-6)
    assert d2.max() <= s2.value * (1 + 1e-4) + 1e-6 and d2.max() >= s2.value * (1 - 1e-4) - 1e-6


def test_closed_form_sups():
    g = derivative_sup(builtin("gelu"), 1, symbolic=False)  # GeLU: phi'' = (2 - x^2) pdf: max of phi' at sqrt 2
    r2 = math.sqrt(2)
    assert g.argmax == pytest.approx(r2, abs=1e-12)
    assert g.value == pytest.approx(ndtr(r2) + r2 * math.exp(-1) / math.sqrt(2 * math.pi), rel=1e-14)
    assert derivative_sup(builtin("gelu"), 2, symbolic=False).value == pytest.approx(2 / math.sqrt(2 * math.pi),
                                                                                      rel=1e-14)
    assert derivative_sup(builtin("tanh"), 2, symbolic=False).value == pytest.approx(4 / (3 * math.sqrt(3)), rel=1e-13)
    assert derivative_sup(builtin("sigmoid0"), 2, symbolic=False).value == pytest.approx(math.sqrt(3) / 18, rel=1e-12)
    s = derivative_sup(builtin("softplus0"), 1, symbolic=False)
    assert s.value == 1.0 and s.argmax == "+inf"  # a supremum approached in the tail, not attained
    gs = derivative_sup(builtin("gelu"), 1, symbolic=True)  # sympy's critical points +- sqrt(2)
    assert gs.method.startswith("sympy") and any(abs(c - r2) < 1e-12 for c in gs.critical_points)


def _quad_coeff(phi, i):
    from numpy.polynomial.hermite_e import hermeval

    c = np.zeros(i + 1)
    c[i] = 1
    f = lambda u: float(phi(np.array([u]))[0]) * float(hermeval(u, c)) * math.exp(-u * u / 2) / math.sqrt(2 * math.pi)
    return quad(f, -np.inf, 0, limit=200, epsabs=1e-13)[0] + quad(f, 0, np.inf, limit=200, epsabs=1e-13)[0]


@pytest.mark.parametrize("name", list(BUILTINS))
def test_hermite_coefficients_against_scipy_quad(name):
    a = builtin(name)
    h = hermite_coefficients(a, 6, exact=False)
    for i in range(7):
        assert h.quadrature[i] == pytest.approx(_quad_coeff(a.phi, i), abs=1e-9), i
    e2 = quad(lambda u: float(a.phi(np.array([u]))[0]) ** 2 * math.exp(-u * u / 2) / math.sqrt(2 * math.pi),
              -np.inf, np.inf, points=None, limit=200)[0]
    assert h.c_inf_sq == pytest.approx(e2 - h.quadrature[0] ** 2 - h.quadrature[1] ** 2, abs=1e-9)
    # Parseval: c_inf^2 = sum_{i >= 2} c_i^2 / i! (truncated: a lower bound that nearly closes)
    part = sum(c * c / math.factorial(i) for i, c in enumerate(h.tail) if i >= 2)
    assert part <= h.c_inf_sq * (1 + 1e-9) + 1e-12 and part >= 0.97 * h.c_inf_sq


def test_gelu_closed_forms_and_the_exact_sympy_route(monkeypatch):
    from convtool.numeric import hermite

    monkeypatch.setattr(hermite, "SYMPY_TIMEOUT", 60.0)  # a loaded machine must not turn this into a time-out
    monkeypatch.setattr(hermite, "SOLVE_TIMEOUT", 30.0)
    hermite._cached_constants.cache_clear()
    sq = math.sqrt(math.pi)
    closed = [1 / (2 * sq), 0.5, 3 / (4 * sq), 0.0, -5 / (8 * sq), 0.0]
    from convtool.numeric.hermite import activation_constants

    h = activation_constants(builtin("gelu"))["hermite"]  # exact=None: sympy attempted for GeLU (cached for later)
    np.testing.assert_allclose(h.quadrature[:6], closed, atol=1e-13)
    assert h.exact is not None
    np.testing.assert_allclose([float(e) for e in h.exact[:6]], closed, atol=1e-15)
    assert h.to_dict()["exact"][0] == "1/(2*sqrt(pi))"
    assert h.norm_diverges and "diverges" in h.norm_reason  # Def. 4's norm: c_i^2 grows
    assert h.parity == "linear + even"


def test_parity_flags_and_vanishing_coefficients():
    for name in ("tanh", "sigmoid0"):
        h = hermite_coefficients(builtin(name), 6, exact=False)
        assert h.parity == "odd" and max(abs(h.quadrature[i]) for i in (0, 2, 4, 6)) < 1e-15
    h = hermite_coefficients(builtin("silu"), 6, exact=False)
    assert h.parity == "linear + even" and max(abs(h.quadrature[i]) for i in (3, 5)) < 1e-13
    poly = hermite_coefficients(parse_activation("x + x**3/10"), 6, exact=False)
    assert not poly.norm_diverges  # a polynomial has finitely many nonzero c_i


def test_scaling_exponents():
    t = scaling_exponents(builtin("tanh"))  # tau |tanh a| <= |tanh(tau a)| <= |tanh a|: r1 = 1, r2 = 0
    assert t.r1 == pytest.approx(1.0, abs=1e-6) and t.r2 == pytest.approx(0.0, abs=1e-6)
    g = scaling_exponents(builtin("gelu"))
    assert g.r2 is None and "no finite r2" in g.r2_reason
    assert g.r1 == pytest.approx(1.2945, abs=2e-3)  # the reading notes' value (mpmath, fine grid)
    # the defining inequalities hold on random points
    rng = np.random.default_rng(0)
    a, tau = rng.uniform(-8, 8, 2000), rng.uniform(1e-3, 0.999, 2000)
    p = builtin("softplus0")
    s = scaling_exponents(p)
    lhs, mid, rhs = tau ** s.r1 * np.abs(p.phi(a)), np.abs(p.phi(tau * a)), tau ** s.r2 * np.abs(p.phi(a))
    assert (lhs <= mid * (1 + 1e-9)).all() and (mid <= rhs * (1 + 1e-9)).all()


def test_smoothness_and_phi0_checks():
    assert "Remark 2 excludes ReLU" in builtin("relu").smooth_reason
    assert "phi'' jumps at x = 0" in builtin("elu").smooth_reason
    assert builtin("sigmoid").phi0 == 0.5 and not builtin("sigmoid").phi0_is_zero
    assert builtin("softplus").phi0 == pytest.approx(math.log(2)) and builtin("softplus0").phi0_is_zero
    assert all(builtin(n).smooth for n in SMOOTH)
    assert "not finite" in parse_activation("log(x)").smooth_reason
