"""Paper namespaces in the registry, the Zhao & Xu registry's consistency, and ``convtool explain`` per paper."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest
import sympy as sp
from clihelpers import assert_user_error, ok, strict_json

from convtool.analysis import PAPERS, REGISTRIES, REGISTRY, AmbiguousNameError, get, names, papers, papers_defining
from convtool.analysis import registry as reg
from convtool.analysis.evaluate import compiled, evaluate, polynomial, residual, source, warm_up
from convtool.analysis.graph import _order, dependency_graph, evaluation_order, explain, primitives_of

ZX = "zhao-xu"
ZX_NAMES = names(paper=ZX)

#: the primitives the numeric layer supplies (the brief's names, exactly)
ZX_PRIMITIVES = {"N", "n_N", "n_0", "n_min", "n_max", "N_distinct", "Delta_1", "rank_X", "lambda_max",
                 "lambda_min_pos", "loss_scale", "lstar", "E0", "dist0_X_sq", "Wstar_X_sq", "c1_hat", "c2_hat",
                 "M_hat", "delta", "c", "C", "eta", "theta", "eps", "tau", "t", "p_lo", "p_hi"}
ZX_REQUIRED = ["alpha", "beta", "kappa", "B_delta", "C0", "eta_thm1", "eta_cor3", "eta1", "eta0_c", "eta_star", "q",
               "width_C1", "width_C2", "width_C3", "width_C4", "width_C5", "width_C6", "width_thm1_gaussian",
               "width_thm1_orthogonal", "width_thm2_balanced", "width_thm4", "width_thm5", "width_thm5_equal",
               "width_thm6", "rate_thm1", "rate_thm4_printed", "rate_thm4_proof", "rate_cvx_3", "rate_cvx_4",
               "D_printed", "D_R", "bound_12b", "bound_12c", "lemma5_rate", "eps1", "xi", "drift_radius_R",
               "rho_L3", "width_lemma3_derived", "c1", "c2", "tau_formula", "rho_first_order"]


# ------------------------------------------------------------------ namespaces

def test_papers_table_cites_by_title_authors_venue_id():
    zx = PAPERS[ZX]
    assert zx.title.startswith("Convergence Analysis and Trajectory Comparison of Gradient Descent")
    assert "Zhao" in zx.authors and "Xu" in zx.authors and "TMLR" in zx.venue
    assert zx.openreview == "jG7ndW7UHp" and "OpenReview jG7ndW7UHp" in zx.citation()
    assert PAPERS["local-pl"].title.startswith("A Local Polyak")
    assert papers()[:2] == ["local-pl", ZX] and {"song-et-al", "zou-long-gu", "du-hu-lee"} <= set(papers())
    for key, p in PAPERS.items():
        assert p.key == key and p.citation().startswith(p.authors)


def test_cli_paper_choices_match_the_papers_table():
    from convtool.cli.cmd_explain import PAPER_CHOICES

    assert PAPER_CHOICES == tuple(PAPERS)


def test_plain_local_pl_names_unchanged():
    assert names() == list(REGISTRY) == names(paper="local-pl")
    assert REGISTRY is REGISTRIES["local-pl"]
    assert get("alpha1") is REGISTRY["alpha1"] and get("local-pl:alpha1") is REGISTRY["alpha1"]
    assert all(get(n).paper == "local-pl" for n in names())
    assert str(get("alpha1").symbol) == "alpha1"


def test_shared_names_have_distinct_symbols():
    shared = set(names()) & set(ZX_NAMES)
    assert {"kappa", "eta", "t", "c", "lstar"} <= shared
    for n in shared:
        a, b = get(n, paper="local-pl"), get(n, paper=ZX)
        assert a is not b and a.symbol != b.symbol and a.paper != b.paper
        assert str(b.symbol) == f"zhao_xu__{n}"
    # printing shows the plain paper symbol
    assert get("zhao-xu:kappa").formula_latex() == r"\kappa = \frac{\beta}{\alpha}"
    assert "zhao_xu" not in get("zhao-xu:kappa").formula_pretty()


def test_get_resolution_rules():
    assert get("kappa").paper == "local-pl"  # local-PL first
    assert get("alpha").paper == ZX  # only one paper has it
    assert get("kappa", paper=ZX).key == "zhao-xu:kappa" == get("zhao-xu:kappa").key
    with pytest.raises(AmbiguousNameError, match="several papers: local-pl, zhao-xu"):
        get("kappa", strict=True)
    assert get("alpha", strict=True).paper == ZX
    with pytest.raises(KeyError, match="unknown paper 'nope'; papers: local-pl, zhao-xu"):
        get("alpha", paper="nope")
    with pytest.raises(KeyError, match="names paper 'zhao-xu' but paper='local-pl'"):
        get("zhao-xu:alpha", paper="local-pl")
    with pytest.raises(KeyError, match="unknown quantity 'alpha1' in paper 'zhao-xu'; did you mean alpha"):
        get("alpha1", paper=ZX)
    assert papers_defining("kappa") == ["local-pl", ZX, "zou-long-gu"] and papers_defining("nonsense") == []


@pytest.mark.parametrize("name,fragment", [
    ("ETA_MAX", "did you mean eta_max"),       # case-insensitive (difflib alone finds nothing)
    ("etamax", "did you mean eta_max"),
    ("Kappa", "did you mean kappa"),
    ("alpha_1", "did you mean alpha1"),
    ("ETA_STAR", "did you mean eta_star"),   # another paper's, unambiguous: plain
    ("zhao-xu:Width_C1", "did you mean width_C1"),
], ids=["upper", "no-underscore", "capital", "underscore", "other-paper", "qualified"])
def test_unknown_names_suggest_case_insensitively(name, fragment):
    with pytest.raises(KeyError, match=fragment):
        get(name)


def test_suggestions_qualify_ambiguous_names():
    with pytest.raises(KeyError) as exc:
        get("KAPPA_")
    msg = exc.value.args[0]
    assert "kappa" in msg and "zhao-xu:kappa" in msg


@pytest.fixture
def third_paper():
    """A throw-away third paper 'other-paper' defining 'alpha' (restores the registry afterwards)."""
    saved = {name: dict(getattr(reg, name)) for name in ("PAPERS", "SYMBOLS", "SYMBOLS_LATEX", "_OWNER", "_DISPLAY")}
    reg.PAPERS["other-paper"] = reg.Paper(key="other-paper", title="T", authors="A", venue="V",
                                          module="convtool.analysis.registry")
    reg.REGISTRIES["other-paper"] = {}
    reg.register("alpha", kind="primitive", reference="Section 1", description="A clash.", paper="other-paper")
    yield
    del reg.REGISTRIES["other-paper"]
    for name, d in saved.items():
        getattr(reg, name).clear()
        getattr(reg, name).update(d)


def test_name_in_two_other_papers_is_ambiguous(third_paper):
    with pytest.raises(AmbiguousNameError, match="several papers: zhao-xu, other-paper"):
        get("alpha")
    assert get("alpha", paper="other-paper").paper == "other-paper"
    assert str(get("other-paper:alpha").symbol) == "other_paper__alpha"
    assert get("eta_star").paper == ZX


def test_register_refuses_cross_paper_and_bad_records():
    ka = get("kappa").symbol  # a local-PL symbol
    with pytest.raises(ValueError, match="of paper 'local-pl'"):
        reg.register("bad", kind="expression", expr=2 * ka, reference="x", description="x", paper=ZX)
    with pytest.raises(ValueError, match="registered twice in paper 'zhao-xu'"):
        reg.register("alpha", kind="primitive", reference="x", description="x", paper=ZX)
    with pytest.raises(ValueError, match="must say 'derived'"):
        reg.register("bad2", kind="primitive", reference="x", description="x", paper=ZX, derived=True)
    with pytest.raises(ValueError, match="identifier"):
        reg.register("zhao-xu:bad", kind="primitive", reference="x", description="x", paper=ZX)
    assert "bad" not in REGISTRIES[ZX] and "bad2" not in REGISTRIES[ZX]


def test_names_of_every_paper_are_qualified():
    every = names(paper=None)
    assert every[:len(names())] == [f"local-pl:{n}" for n in names()]
    zx = len(names()) + len(ZX_NAMES)
    assert every[len(names()):zx] == [f"zhao-xu:{n}" for n in ZX_NAMES]
    assert all(k.split(":")[0] not in ("local-pl", ZX) for k in every[zx:])  # later papers follow
    assert all(get(k).key == k for k in every)
    assert names(kind="primitive", paper=ZX) == [n for n in ZX_NAMES if get(n, ZX).kind == "primitive"]


# ------------------------------------------------------------------ consistency of the zhao-xu records

def test_zhao_xu_inputs_registered_and_graph_acyclic():
    g = dependency_graph(ZX)
    assert nx.is_directed_acyclic_graph(g)
    assert set(g.nodes) == set(ZX_NAMES)
    for q in REGISTRIES[ZX].values():
        assert q.paper == ZX
        for i in q.inputs:
            assert i in REGISTRIES[ZX], f"{q.name} uses unregistered {i}"
        if q.expr is not None:
            assert {reg._OWNER[str(s)] for s in q.expr.free_symbols} == {(ZX, i) for i in q.inputs}


def test_zhao_xu_primitives_and_required_quantities():
    assert set(names(kind="primitive", paper=ZX)) == ZX_PRIMITIVES
    for n in ZX_REQUIRED:
        assert n in REGISTRIES[ZX], n
    assert get("c1", ZX).kind == get("c2", ZX).kind == "expression"


@pytest.mark.parametrize("name", ZX_NAMES)
def test_zhao_xu_record_is_complete_and_prints(name):
    q = get(name, paper=ZX)
    assert q.reference and q.description and q.latex
    assert q.kind in ("primitive", "expression")
    assert "notes" not in q.reference.lower()  # users cite the paper, not our notes
    if q.derived:
        assert "derived" in (q.reference + q.description).lower()
    latex = q.formula_latex()
    assert isinstance(latex, str) and latex and "zhao" not in latex
    pretty = q.formula_pretty()
    assert pretty and "zhao" not in pretty
    if q.expr is not None:
        assert "zhao" not in str(q.display_expr)


@pytest.mark.parametrize("name", names(kind="expression", paper=ZX))
def test_zhao_xu_expressions_compile_with_plain_argument_names(name):
    f = compiled(name, paper=ZX)
    assert f is compiled(f"{ZX}:{name}")
    assert f.argnames == get(name, ZX).inputs
    assert "zhao_xu" not in source(name, paper=ZX)


def test_derived_flag():
    assert get("D_R", ZX).derived and get("width_lemma3_derived", ZX).derived
    assert not get("D_printed", ZX).derived and not get("q", ZX).derived
    assert not any(get(n).derived for n in names())


def full_values():
    """A consistent set of zhao-xu primitives: every expression evaluates."""
    return dict(N=4.0, n_N=5.0, n_0=8.0, n_min=400.0, n_max=600.0, N_distinct=2.0, Delta_1=3 / 400, rank_X=8.0,
                lambda_max=9.0, lambda_min_pos=1.5, loss_scale=1.0, lstar=2.0, E0=40.0, dist0_X_sq=12.0,
                Wstar_X_sq=6.0, c1_hat=0.01, c2_hat=0.02, M_hat=2.0, delta=0.1, c=0.1, C=1.0, eta=0.05, theta=0.5,
                eps=0.3, tau=0.01, t=5.0, p_lo=0.95, p_hi=1.05)


def test_evaluate_per_paper_plain_keys_and_all_finite():
    vals = full_values()
    out = evaluate(vals, paper=ZX)
    assert vals == full_values()  # not modified
    assert set(out) == set(ZX_NAMES)
    for n, v in out.items():
        assert np.isfinite(v), (n, v)
    # qualified targets select the paper; a mixed request is refused
    assert evaluate(vals, targets=["zhao-xu:kappa"])["kappa"] == 6.0
    assert evaluate({"K": 6.0, "mu": 1.5}, targets=["kappa"])["kappa"] == 4.0
    with pytest.raises(KeyError, match="several papers"):
        evaluate(vals, targets=["zhao-xu:kappa", "local-pl:kappa"])


def test_evaluate_vectorizes_over_a_batch():
    vals = full_values()
    vals["eta"] = np.array([0.01, 0.05, 0.2])
    out = evaluate(vals, targets=["q", "width_C4"], paper=ZX)
    assert out["q"].shape == (3,)
    es = 4 * vals["eta"] / 5
    assert np.allclose(out["q"], np.maximum((1 - 1.5 * es) ** 2, (1 - 9 * es) ** 2))


def test_evaluation_order_is_cached_per_paper_and_targets():
    _order.cache_clear()
    o1 = evaluation_order(["q"], paper=ZX)
    o1.append("tampered")  # callers get a copy
    o2 = evaluation_order(["q"], paper=ZX)
    assert "tampered" not in o2 and o2.index("alpha") < o2.index("q")
    info = _order.cache_info()
    assert info.hits == 1 and info.misses == 1
    for _ in range(3):
        evaluate(full_values(), targets=["q", "kappa"], paper=ZX)
        evaluate(full_values(), targets=["kappa", "q"], paper=ZX)  # same set, same entry
    assert _order.cache_info().misses == 2
    assert evaluation_order(paper=ZX)[-1] in ZX_NAMES
    assert evaluation_order(["zhao-xu:q"]) == o2


def test_explain_tree_per_paper():
    tree = explain("width_lemma3_derived", paper=ZX)
    assert tree.paper == ZX and tree.derived
    leaves = set()

    def walk(node):
        assert node.paper == ZX
        if not node.children and not node.repeated:
            leaves.add(node.name)
        for ch in node.children:
            walk(ch)

    walk(tree)
    assert all(get(leaf, ZX).kind == "primitive" for leaf in leaves)
    assert set(primitives_of("zhao-xu:width_lemma3_derived")) >= {"c", "eps", "M_hat", "E0", "theta", "N"}
    d = explain("kappa", values={"kappa": 6.0, "beta": 9.0}, paper=ZX).to_dict()
    assert d["paper"] == ZX and d["value"] == 6.0 and {c["name"] for c in d["inputs"]} == {"alpha", "beta"}
    assert explain("kappa").paper == "local-pl"


def test_local_pl_equations_still_work_by_plain_and_qualified_name():
    f, args = residual("eta0_1")
    assert residual("local-pl:eta0_1") == (f, args)
    assert polynomial("eta_hat") == polynomial("eta_hat", paper="local-pl")


def test_warm_up_every_paper():
    warm_up(None)  # compiles everything of both papers without error


def test_q_piecewise_matches_its_max_form_symbolically_on_each_branch():
    q = get("q", ZX)
    a, b, es = (get(n, ZX).symbol for n in ("alpha", "beta", "eta_star"))
    mx = sp.Max((1 - a * es) ** 2, (1 - b * es) ** 2)
    f_pw = sp.lambdify([a, b, es], q.expr, "numpy")
    f_mx = sp.lambdify([a, b, es], mx, "numpy")
    rng = np.random.default_rng(0)
    al = 10 ** rng.uniform(-2, 1, 200)
    be = al * 10 ** rng.uniform(0, 2, 200)
    e = rng.uniform(0, 1, 200) * 2 / be
    assert np.allclose(f_pw(al, be, e), f_mx(al, be, e), rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------ convtool explain

def test_explain_list_groups_by_paper(invoke):
    out = ok(invoke("explain", "--list")).stdout
    lp = out.index("local-pl: ")
    zx = out.index("zhao-xu: Hongru Zhao and Jinchao Xu")
    assert lp < zx
    assert "OpenReview jG7ndW7UHp" in " ".join(out.split())  # the heading may wrap
    for n in names():
        assert f"│ {n} " in out[:zx]
    for n in ZX_NAMES:
        assert f"│ {n} " in out[zx:]
    assert "expression (derived)" in out[zx:] and "(derived)" not in out[:zx]


def test_explain_list_one_paper(invoke):
    out = ok(invoke("explain", "--list", "--paper", ZX)).stdout
    assert out.startswith("zhao-xu: ") and "local-pl: " not in out
    assert "│ width_thm5 " in out and "│ alpha1 " not in out


def test_explain_list_json_per_paper(invoke):
    j = strict_json(ok(invoke("explain", "--list", "--json", "--paper", ZX)).stdout)
    assert [r["name"] for r in j] == ZX_NAMES and {r["paper"] for r in j} == {ZX}
    assert next(r for r in j if r["name"] == "D_R")["derived"] is True
    default = strict_json(ok(invoke("explain", "--list", "--json")).stdout)
    assert [r["name"] for r in default] == names()  # the default paper, as before
    every = strict_json(ok(invoke("explain", "--list", "--json", "--paper", "all")).stdout)
    assert [(r["paper"], r["name"]) for r in every] == [tuple(k.split(":")) for k in names(paper=None)]


def test_explain_plain_local_pl_name_keeps_working(invoke):
    # issue 7: the local-PL paper's plain names keep working; the other paper's is named on stderr
    r = ok(invoke("explain", "kappa"))
    assert "K/mu" in r.stdout.replace(" ", "") or "local-pl" in r.stdout
    assert "zhao-xu" in r.stderr and "--paper" in r.stderr
    assert "zhao-xu" not in ok(invoke("explain", "alpha1")).stderr


@pytest.mark.parametrize("args", [("kappa", "--paper", ZX), ("zhao-xu:kappa",)], ids=["option", "qualified"])
def test_explain_selects_paper(invoke, args):
    out = ok(invoke("explain", *args)).stdout
    assert out.startswith("kappa (expression) - Section 2.1")
    assert "κ = ─" in out  # sympy's pretty fraction beta/alpha
    assert r"LaTeX: \kappa = \frac{\beta}{\alpha}" in out
    assert "paper: zhao-xu - Hongru Zhao and Jinchao Xu" in out
    assert "├── alpha" in out and "lambda_min_pos" in out and "(derived)" not in out


def test_explain_local_pl_kappa_with_paper(invoke):
    out = ok(invoke("explain", "kappa", "--paper", "local-pl")).stdout
    assert out.startswith("kappa (expression) - Section 2.1") and "├── K" in out and "paper: local-pl" in out


def test_explain_unique_other_paper_name_needs_no_paper(invoke):
    out = ok(invoke("explain", "eta_star")).stdout
    assert out.startswith("eta_star (expression) - Theorem 2") and "paper: zhao-xu" in out


def test_explain_derived_quantity(invoke):
    out = ok(invoke("explain", "D_R")).stdout
    assert out.startswith("D_R (expression) - Lemma 6 proof (derived)")
    assert "(derived) not printed in the paper" in out
    j = strict_json(ok(invoke("explain", "D_R", "--json")).stdout)
    assert j["derived"] is True and j["paper"] == ZX and "jG7ndW7UHp" in j["citation"]
    assert j["tree"]["derived"] is True and j["tree"]["paper"] == ZX
    assert not strict_json(ok(invoke("explain", "q", "--json")).stdout)["derived"]


def test_explain_source_other_paper(invoke):
    out = ok(invoke("explain", "zhao-xu:q", "--source")).stdout
    assert "def _lambdifygenerated(alpha, beta, eta_star):" in out and "zhao_xu" not in out


@pytest.mark.parametrize("args,fragments", [
    (("ETA_MAX",), ("unknown quantity 'ETA_MAX'", "did you mean eta_max", "explain --list")),
    # values of a zhao-xu quantity come from the deep-linear model (tests/test_explain_deep_linear.py)
    (("kappa", "--paper", ZX, "--default", "--model", "two-layer"), ("--model two-layer", "--model deep-linear")),
    (("zhao-xu:kappa", "--paper", "local-pl"), ("names paper 'zhao-xu' but paper='local-pl'",)),
    (("alpha1", "--paper", ZX), ("unknown quantity 'alpha1' in paper 'zhao-xu'",)),
    (("alpha1", "--paper", "all"), ("--paper all only goes with --list",)),
], ids=["case-insensitive", "values-other-paper", "qualified-mismatch", "not-in-paper", "paper-all-with-name"])
def test_explain_paper_errors_are_one_line(invoke, args, fragments):
    assert_user_error(invoke("explain", *args), *fragments)


def test_explain_unknown_paper_is_a_usage_error(invoke):
    r = invoke("explain", "kappa", "--paper", "nope")
    assert r.exit_code == 2 and isinstance(r.exception, SystemExit)
    assert "Traceback" not in r.stderr and "nope" in r.stderr


def test_explain_json_local_pl_carries_paper(invoke):
    j = json.loads(ok(invoke("explain", "alpha1", "--json")).stdout)
    assert j["paper"] == "local-pl" and j["derived"] is False and j["name"] == "alpha1"
    assert j["citation"] == PAPERS["local-pl"].citation()
