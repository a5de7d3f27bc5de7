"""Consistency of the quantity registry and of its compiled forms (STYLE.md, section 7)."""

import mpmath
import networkx as nx
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from convtool.analysis import REGISTRY, get, names
from convtool.analysis.evaluate import compiled, evaluate, expanded, polynomial, residual
from convtool.analysis.graph import dependency_graph, evaluation_order, explain, primitives_of

ALL = names()


def test_every_input_is_registered_and_graph_is_acyclic():
    g = dependency_graph()
    assert nx.is_directed_acyclic_graph(g)
    for q in REGISTRY.values():
        for i in q.inputs:
            assert i in REGISTRY, f"{q.name} uses unregistered {i}"
        if q.expr is not None:
            used = {str(s) for s in q.expr.free_symbols}
            if q.unknown is not None:
                used.discard(str(q.unknown))
            assert used == set(q.inputs)


@pytest.mark.parametrize("name", ALL)
def test_record_is_complete_and_prints(name):
    q = get(name)
    assert q.reference and q.description and q.latex
    assert q.kind in ("primitive", "expression", "equation")
    latex = q.formula_latex()
    assert isinstance(latex, str) and latex
    assert q.formula_pretty()
    if q.kind == "equation":
        assert latex.endswith("= 0")


def test_table2_and_theorem_quantities_present():
    required = ["lambda_plus", "lambda_minus", "Delta_low", "Delta_plus", "Delta_minus", "beta1", "beta2",
                "alpha1", "alpha2", "mu_t", "K_t", "rho", "mubar", "Kbar0", "Kbar_t", "rhobar", "rhobar0",
                "Delta", "eta0_1", "eta0_2", "eta0_3", "eta_max", "growth_cap", "eta_hat", "local_rate",
                "local_rate_limit", "rate_nonoverparam", "drift_step_bound", "rho_xu", "xu_constraint"]
    for n in required:
        assert n in REGISTRY


def test_unknown_name_suggests():
    with pytest.raises(KeyError, match="did you mean alpha1"):
        get("alpha_1")


def test_evaluation_order_respects_dependencies():
    order = evaluation_order()
    pos = {n: i for i, n in enumerate(order)}
    for u, v in dependency_graph().edges:
        assert pos[u] < pos[v]


def test_explain_tree_reaches_primitives():
    tree = explain("eta_max")
    leaves = set()

    def walk(node):
        if not node.children and not node.repeated:
            leaves.add(node.name)
        for c in node.children:
            walk(c)

    walk(tree)
    assert all(REGISTRY[leaf].kind == "primitive" for leaf in leaves)
    assert set(primitives_of("alpha1")) >= {"mu", "K", "dist0", "sigma_min_Wstar", "lambda_n_D0"}


def test_kbar0_is_kbar_t_at_zero():
    # eq. (91) is eq. (114) at t = 0: one source, checked symbolically
    Kt = get("Kbar_t").expr.subs(get("t").symbol, 0)
    assert sp.simplify(Kt - get("Kbar0").expr) == 0


def test_typo_readings_in_formulas():
    # reading 2: growth cap uses t/2; reading 3: exp(eta0^c), not exp(sqrt(eta0))
    cap = get("growth_cap").expr
    e0, d, t = (get(n).symbol for n in ("eta0", "d", "t"))
    assert sp.simplify(cap - (1 + e0 ** d) ** (t / 2) * e0) == 0
    c = get("c").symbol
    assert get("Kbar_t").expr.has(sp.exp(e0 ** c))
    assert not get("Kbar_t").expr.has(sp.sqrt(e0))


_pos = st.floats(min_value=1e-2, max_value=1e2)


@settings(max_examples=40, deadline=None)
@given(K=_pos, L0=_pos, alpha1=_pos, alpha2=_pos, beta2=_pos, mu=_pos, eta=st.floats(1e-6, 1e-1),
       c=st.floats(0.1, 0.9), d=st.floats(1.01, 3.0))
def test_stable_residual_equals_plain_formula(K, L0, alpha1, alpha2, beta2, mu, eta, c, d):
    """The cancellation-free compiled form of eq. 88 is algebraically the registered one."""
    q = get("eta0_2")
    f, args = residual("eta0_2")
    vals = dict(K=K, L0=L0, alpha1=alpha1, alpha2=alpha2, beta2=beta2, mu=mu, c=c, d=d)
    plain = sp.lambdify([q.unknown] + [REGISTRY[a].symbol for a in args], expanded(q.expr, "eta0"), "mpmath")
    mpmath.mp.dps = 50
    ref = float(plain(mpmath.mpf(eta), *[mpmath.mpf(vals[a]) for a in args]))
    got = f(eta, *[vals[a] for a in args])
    scale = abs(4 * K * L0 * eta ** 2) + abs(ref)
    assert abs(got - ref) <= 1e-10 * scale


def test_eq88_residual_exact_at_tiny_eta():
    """At eta0 = 1e-30 the naive form cancels to garbage; the compiled form agrees with 50 digits."""
    q = get("eta0_2")
    f, args = residual("eta0_2")
    vals = dict(K=1.3, L0=50.0, alpha1=1e-3, alpha2=20.0, beta2=5.0, c=0.5, d=1.01, mu=0.7)
    plain = sp.lambdify([q.unknown] + [REGISTRY[a].symbol for a in args], expanded(q.expr, "eta0"), "mpmath")
    mpmath.mp.dps = 60
    for eta in (1e-30, 1e-20, 1e-12, 1e-6):
        ref = float(plain(mpmath.mpf(eta), *[mpmath.mpf(vals[a]) for a in args]))
        got = f(eta, *[vals[a] for a in args])
        assert got == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("name", ["eta_hat", "eta_local", "eta_xu_star", "eta_48"])
def test_step_equations_are_convex_increasing_polynomials(name):
    """Up to sign, every coefficient but the constant is >= 0 (the bracket proof in roots.py)."""
    argnames, funcs = polynomial(name)
    rng = np.random.default_rng(0)
    for _ in range(20):
        vals = {a: float(10 ** rng.uniform(-2, 2)) for a in argnames}
        co = np.array([float(f(*[vals[a] for a in argnames])) for f in funcs])
        if co[-1] > 0:
            co = -co
        assert co[-1] < 0
        assert np.all(co[:-1] >= 0)


def test_evaluate_does_not_modify_input_and_matches_formula():
    vals = {"K": 4.0, "mu": 2.0}
    out = evaluate(vals)
    assert vals == {"K": 4.0, "mu": 2.0}
    assert out["kappa"] == 2.0 and out["rate_nonoverparam"] == 0.5


def test_compiled_is_cached():
    assert compiled("alpha1") is compiled("alpha1")


def test_explain_marks_functions_of_an_equations_unknown():
    """Below eq. 87 (unknown eta0), Kbar0 and eta0 are functions of the unknown: no value is shown;
    inputs that do not depend on eta0 (K, alpha2) keep theirs."""
    values = {"eta0_1": 0.1, "Kbar0": 10.0, "eta0": 0.05, "K": 2.0, "alpha2": 3.0}
    tree = explain("eta0_1", values)
    kbar0 = tree.children[0]
    assert tree.value == 0.1 and tree.varies_with is None
    assert kbar0.name == "Kbar0" and kbar0.varies_with == "eta0" and kbar0.value is None
    by_name = {c.name: c for c in kbar0.children}
    assert by_name["eta0"].varies_with == "eta0" and by_name["eta0"].value is None
    assert by_name["K"].value == 2.0 and by_name["alpha2"].value == 3.0
