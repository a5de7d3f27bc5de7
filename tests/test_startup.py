"""Start-up structure (issue 12): with the user cache warm, ``convtool constants`` imports neither sympy, networkx,
the scipy.optimize package nor the other commands' modules, and prints what the cold (sympy) path prints; a
tampered start-up index is detected and rewritten; the evaluation order written out without networkx is
networkx's; :mod:`convtool.numeric._brentq` gives scipy.optimize.brentq's results bit for bit.

Structural checks on ``sys.modules`` in fresh interpreters, not timings (those are in bench/bench_startup.py).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys

import numpy as np
import pytest

HEAVY = ("sympy", "networkx", "scipy.optimize", "convtool.cli.cmd_compare", "convtool.cli.cmd_run",
         "convtool.analysis.local_pl")

# runs ``convtool ARGS`` in this interpreter, then reports on stderr which heavy modules it imported
CLI = ("import json, sys\n"
       "from convtool.cli.main import cli\n"
       "try:\n"
       "    cli(sys.argv[1:], prog_name='convtool')\n"
       "except SystemExit as exc:\n"
       "    assert not exc.code, exc.code\n"
       f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr)\n")


def _cli(cache, *args):
    env = {**os.environ, "CONVTOOL_CACHE_DIR": str(cache), "COLUMNS": "120", "NO_COLOR": "1"}
    p = subprocess.run([sys.executable, "-c", CLI, *args], env=env, capture_output=True, text=True, check=True)
    return p.stdout, json.loads(p.stderr.strip().splitlines()[-1])


def _numbers(out: str) -> dict:
    d = json.loads(out)
    d.pop("provenance")  # its timestamp differs between runs
    return d


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    """A cache folder filled by one cold ``convtool constants``: (folder, its table, the modules it imported)."""
    folder = tmp_path_factory.mktemp("startup-cache")
    table, mods = _cli(folder, "constants")
    _cli(folder, "schedule", "--steps", "5")  # adds the per-step polynomials, residuals of every equation
    return folder, table, mods


def test_warm_constants_imports_no_sympy_and_prints_the_cold_output(warm_cache, tmp_path, monkeypatch):
    folder, cold, cold_mods = warm_cache
    assert "sympy" in cold_mods and "convtool.analysis.local_pl" in cold_mods  # the cold path builds the registry
    warm, warm_mods = _cli(folder, "constants")
    assert warm_mods == [] and warm == cold
    warm_json, mods = _cli(folder, "constants", "--json")
    assert mods == []
    _, mods = _cli(folder, "schedule", "--steps", "5")  # a GD run: polynomial step equations from the cache too
    assert mods == ["convtool.cli.cmd_run"]  # schedule shares run's progress bar

    # a tampered start-up index (its checksum no longer matches) is ignored, the module imported, the index rewritten
    shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    path = tmp_path / next(f for f in os.listdir(tmp_path) if f.startswith("forms-local-pl-"))
    data = json.loads(path.read_text())
    data["index"]["records"] = data["index"]["records"].replace("Table 2", "Table 9", 1)
    path.write_text(json.dumps(data))
    again, mods = _cli(tmp_path, "constants", "--json")
    assert "convtool.analysis.local_pl" in mods and _numbers(again) == _numbers(warm_json)
    from convtool.analysis import formcache

    monkeypatch.setenv("CONVTOOL_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(formcache, "_MEMO", {})
    fixed = formcache.load_index("local-pl")  # verified again (key and checksum), with the module's references
    assert fixed is not None and "Table 2" in {r["reference"] for r in fixed}
    assert not any("Table 9" in r["reference"] for r in fixed)


LAZY = ("import json, sys\n"
        "from convtool.analysis import REGISTRY, get\n"
        "q = get('mubar')\n"
        "out = {'before': 'sympy' in sys.modules, 'reference': q.reference, 'inputs': list(q.inputs)}\n"
        "e = q.expr\n"
        "out.update(after='sympy' in sys.modules, expr=str(e), same=q is REGISTRY['mubar'] is get('mubar'),\n"
        "           reference_after=q.reference,\n"
        "           inputs_after=sorted(str(s) for s in e.free_symbols))\n"
        "print(json.dumps(out))\n")


def test_index_quantities_fill_in_place_when_a_formula_is_read(warm_cache):
    env = {**os.environ, "CONVTOOL_CACHE_DIR": str(warm_cache[0])}
    warm = json.loads(subprocess.run([sys.executable, "-c", LAZY], env=env, capture_output=True, text=True,
                                     check=True).stdout)
    assert not warm["before"] and warm["after"]  # sympy only once the formula is read
    assert warm["reference"] == warm["reference_after"]  # the index's metadata is the module's
    assert warm["expr"] == "mu*(alpha1 + 2*alpha2*(1 - exp(eta0**c)))"  # the module docstring's example
    assert warm["same"] and warm["inputs"] == warm["inputs_after"] == ["alpha1", "alpha2", "c", "eta0", "mu"]


@pytest.mark.parametrize("paper", ["local-pl", "zhao-xu", "zou-long-gu", "du-hu-lee", "song-et-al"])
def test_evaluation_order_is_networkx_lexicographical_topological_sort(paper):
    import networkx as nx

    from convtool.analysis import REGISTRIES
    from convtool.analysis.graph import _order, dependency_graph

    g = dependency_graph(paper)
    rank = {n: i for i, n in enumerate(REGISTRIES[paper])}

    def oracle(targets):
        needed = set(g) if targets is None else set().union(*({t} | nx.ancestors(g, t) for t in targets))
        return tuple(nx.lexicographical_topological_sort(g.subgraph(needed), key=lambda n: rank[n]))

    assert _order(paper, None) == oracle(None)
    rng = random.Random(0)
    names = list(rank)
    for t in names + [tuple(rng.sample(names, k)) for k in (2, 3, 5) for _ in range(10)]:
        targets = (t,) if isinstance(t, str) else t
        assert _order(paper, frozenset(targets)) == oracle(targets), targets


def _brentq_cases():
    nan_at = lambda x: np.nan if x > 0.7 else x - 0.9  # noqa: E731
    return [
        (lambda x: x * x - 2.0, 0.0, 2.0, {}),
        (lambda x: np.cos(x) - x, 0.0, 1.0, {"xtol": 1e-15}),
        (lambda x: np.expm1(x) - 1e-300, -1.0, 1.0, {"rtol": 1e-12}),
        (lambda x, a: x ** 3 - a, 0.0, 3.0, {"args": (2.0,)}),
        (lambda x: np.tanh(50 * (x - 0.3)), -1.0, 1.0, {"maxiter": 3, "disp": False}),  # not converged
        (lambda x: x - 0.25, 0.0, 1.0, {"maxiter": 3}),  # disp=True: RuntimeError
        (lambda x: x * x + 1.0, -1.0, 1.0, {}),  # no sign change: ValueError
        (nan_at, 0.0, 1.0, {}),  # NaN: ValueError
        (lambda x: x, -1.0, 1.0, {"xtol": 0.0}),  # ValueError
        (lambda x: x, -1.0, 1.0, {"rtol": 1e-17}),  # ValueError
    ]


def _outcome(fn, f, a, b, kw):
    try:
        x, r = fn(f, a, b, full_output=True, **kw)
    except (ValueError, RuntimeError) as exc:
        return type(exc).__name__, str(exc)
    return x.hex(), r.iterations, r.function_calls, r.converged, r.flag, r.method


def test_brentq_is_scipys_bit_for_bit():
    from scipy.optimize import brentq as scipy_brentq

    from convtool.numeric import _brentq

    assert _brentq.SOURCE == "scipy.optimize._zeros"  # the light path is the one in use here
    for f, a, b, kw in _brentq_cases():
        ours, theirs = _outcome(_brentq.brentq, f, a, b, kw), _outcome(scipy_brentq, f, a, b, kw)
        assert ours == theirs, (kw, ours, theirs)
    assert _brentq.brentq(lambda x: x - 0.5, 0.0, 1.0) == scipy_brentq(lambda x: x - 0.5, 0.0, 1.0)


def test_brentq_falls_back_to_scipy_optimize():
    code = ("import sys; from convtool.numeric import _brentq as b; "
            "print(b.SOURCE, b.brentq(lambda x: x * x - 2, 0, 2), 'scipy.optimize' in sys.modules)")
    env = {**os.environ, "CONVTOOL_SCIPY_BRENTQ": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    from scipy.optimize import brentq as scipy_brentq

    assert out.split() == ["scipy.optimize", repr(scipy_brentq(lambda x: x * x - 2, 0, 2)), "True"]


def test_cached_polynomial_coefficients_are_the_sympy_ones():
    from convtool.analysis import evaluate as ev
    from convtool.analysis import formcache
    from convtool.analysis.evaluate import polynomial

    if formcache.cache_dir() is None:  # pragma: no cover - the test session always has a cache folder
        pytest.fail("no cache folder")
    rng = np.random.default_rng(1)
    for name in ("eta_local", "eta_hat"):
        polynomial(name)  # fills the cache (or reads it)
        ev._polynomial.cache_clear()
        argnames, funcs = polynomial(name)  # from the cache now
        fresh_args, fresh = ev._poly_fresh("local-pl", name)
        assert argnames == fresh_args and len(funcs) == len(fresh)
        assert any("<convtool formcache" in f.__code__.co_filename for f in funcs)
        args = rng.uniform(0.1, 3.0, size=len(argnames))
        assert [f(*args) for f in funcs] == [g(*args) for g in fresh]
    assert ev._poly_shape("local-pl", "eta0_1")["argnames"] is None  # eq. (87) is not polynomial in eta0
