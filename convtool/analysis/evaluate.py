"""Evaluation of registered quantities through cached ``lambdify``.

Each quantity is compiled once (``lambdify(..., "numpy", cse=True)``) and
cached; calls then cost about a microsecond and accept numpy arrays, so the
same compiled formula serves a single instance and a batch of seeds.

Every function works in one paper's namespace (default: local-PL): names and
value keys are that paper's plain names; ``paper=`` or a qualified name
(``"zhao-xu:beta"``) selects another paper.

Examples
--------
>>> from convtool.analysis.evaluate import evaluate
>>> v = evaluate({"K": 4.0, "mu": 1.0})
>>> v["kappa"], v["rate_nonoverparam"]
(4.0, 0.75)
>>> w = evaluate({"loss_scale": 1.0, "lambda_max": 4.0, "lambda_min_pos": 1.0}, ["kappa"], paper="zhao-xu")
>>> w["alpha"], w["beta"], w["kappa"]
(1.0, 4.0, 4.0)
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from convtool._lazy import sympy as sp
from convtool.analysis.graph import evaluation_order, resolve_targets
from convtool.analysis.registry import _OWNER, DEFAULT_PAPER, REGISTRIES, display, get

__all__ = ["cached_compile", "compiled", "evaluate", "evaluate_many", "expanded", "polynomial", "residual", "source",
           "warm_up"]


def stable_form(expr: sp.Expr, var: sp.Symbol | None = None) -> sp.Expr:
    """An algebraically identical form of ``expr`` that evaluates without cancellation.

    * ``exp(x) - 1`` becomes ``expm1(x)`` (sympy's ``expm1_opt`` rewrite);
    * ``log(1 + u)`` becomes ``log1p(u)``;
    * a sum containing the constant 1 that depends on ``var`` is expanded, so that
      ``1 - Delta`` with ``Delta = (1 + eta0^d)(1 - 2 mubar eta0 + ...)`` loses its
      1's symbolically instead of in floating point (see :func:`expanded`).
    """
    from sympy.codegen.cfunctions import log1p
    from sympy.codegen.rewriting import expm1_opt, optimize

    if var is not None:
        expr = _cancel_ones(expr, var)
    expr = expr.replace(_is_root_difference, _rationalize)
    expr = optimize(expr, [expm1_opt])
    expr = expr.replace(lambda e: isinstance(e, sp.log) and e.args[0].is_Add and sp.S.One in e.args[0].args,
                        lambda e: log1p(e.args[0] - 1))
    return expr


def _is_root_difference(e) -> bool:
    """``sqrt(X) - D`` with D a sum/product of non-negative registry quantities (two terms)."""
    if not (e.is_Add and len(e.args) == 2):
        return False
    roots = [a for a in e.args if a.is_Pow and a.exp == sp.S.Half]
    return len(roots) == 1 and (-(e - roots[0])).could_extract_minus_sign() is False


def _rationalize(e):
    """``sqrt(X) - D = (X - D^2) / (sqrt(X) + D)``, with ``X - D^2`` expanded so it cancels exactly.

    Used where ``sqrt(X) ~ D`` (alpha1's halves): the difference is then exactly 0
    when it should be, instead of +-1e-16. Both sides are 0 when ``X = D = 0``.
    """
    root = next(a for a in e.args if a.is_Pow and a.exp == sp.S.Half)
    D = root - e
    num = sp.expand(root.base - D ** 2)
    den = root + D
    return sp.Piecewise((0, sp.Eq(den, 0)), (num / den, True))


def compiled(name: str, paper: str | None = None):
    """The lambdified expression of quantity ``name``, compiled once in a stable form.

    Its arguments are ``f.argnames``, plain names of the quantity's paper (normally
    ``get(name).inputs``; for a quantity registered with ``stable_in`` the inputs of
    its expansion in that variable). ``name`` may be qualified (``"zhao-xu:q"``).
    """
    q = get(name, paper)
    return _compiled(q.paper, q.name)


def cached_compile(paper: str, label: str, build, modules: str = "numpy"):
    """``build() -> (f, argnames)`` (a lambdified function of ``paper``'s formulas), through the user-level
    cache of :mod:`convtool.analysis.formcache`, keyed by ``label`` and :func:`~convtool.analysis.formcache.code_key`
    (convtool.analysis's sources, the file of ``build``, sympy's and numpy's versions): the stable-form
    derivation runs once per machine, and a warm start neither imports sympy nor builds the registry."""
    from convtool.analysis import formcache

    entry = f"{modules}:{label}"
    code = formcache.code_key(build.__code__.co_filename) if formcache.cache_dir() else None
    key = formcache.entry_key(code, f"{paper}:{entry}") if code else None
    hit = formcache.load(paper, entry, key) if key else None
    if hit is not None:
        try:
            f = formcache.function_from_source(hit[0], f"<convtool formcache {paper}:{entry}>", hit[2], modules)
            return f, hit[1]
        except (SyntaxError, ValueError, NameError, ImportError, AttributeError, TypeError):
            pass  # rebuilt below, and the entry rewritten
    f, argnames = build()
    imports = formcache.imports_of(f, modules) if key else None
    if key and imports is not None:
        import inspect

        formcache.store(paper, entry, key, inspect.getsource(f), argnames, imports)
    return f, tuple(argnames)


@lru_cache(maxsize=None)
def _compiled(paper: str, name: str):
    reg = REGISTRIES[paper]
    if reg[name].kind != "expression":
        raise ValueError(f"{name} is a {reg[name].kind}, not an expression")

    def build():
        f = _compile_fresh(paper, name)
        return f, f.argnames

    f, argnames = cached_compile(paper, name, build)
    f.argnames = tuple(argnames)
    return f


def _compile_fresh(paper: str, name: str):
    """Derive the stable form of ``name`` and lambdify it (what :mod:`convtool.analysis.formcache` caches)."""
    reg = REGISTRIES[paper]
    q = reg[name]
    expr, var = q.expr, None
    if q.stable_in is not None:
        var = reg[q.stable_in].symbol
        expr = expanded(expr, q.stable_in, stable=True, paper=paper)
    argnames = tuple(q.inputs) if var is None else tuple(sorted(_OWNER[str(s)][1] for s in expr.free_symbols))
    f = _lambdify([reg[i].symbol for i in argnames], stable_form(expr, var))
    f.argnames = argnames
    return f


def _lambdify(args, expr):
    """``lambdify`` over the plain-named twins of the symbols (readable argument names in ``source``)."""
    return sp.lambdify([display(a) for a in args], display(expr), modules="numpy", cse=True)


def source(name: str, paper: str | None = None) -> str:
    """Python source generated by lambdify for ``name`` (what ``explain`` shows)."""
    import inspect

    return inspect.getsource(compiled(name, paper))


def _depends_on(name: str, var: str, paper: str = DEFAULT_PAPER) -> bool:
    return var in _closure(paper, name)


@lru_cache(maxsize=None)
def _closure(paper: str, name: str) -> frozenset:
    q = REGISTRIES[paper][name]
    out = set(q.inputs)
    for i in q.inputs:
        out |= _closure(paper, i)
    return frozenset(out)


def _paper_of(expr, paper: str | None) -> str:
    """The paper whose symbols ``expr`` uses (``paper`` if given; default local-PL)."""
    if paper is not None:
        return paper
    for s in getattr(expr, "free_symbols", ()):
        if str(s) in _OWNER:
            return _OWNER[str(s)][0]
    return DEFAULT_PAPER


def _cancel_ones(expr: sp.Expr, var: sp.Symbol) -> sp.Expr:
    """Expand every sum holding the constant 1 that depends on ``var`` (cancels 1's exactly)."""
    return expr.replace(lambda e: e.is_Add and sp.S.One in e.args and e.has(var), lambda e: sp.expand(e))


def expanded(expr: sp.Expr, var: str, stable: bool = False, paper: str | None = None) -> sp.Expr:
    """Substitute, recursively, every registered expression in ``expr`` that depends on ``var``.

    The result depends on ``var`` explicitly; quantities independent of ``var``
    stay as symbols (so they are evaluated once, not re-derived per call).
    With ``stable=True`` each substitution layer is followed by
    :func:`_cancel_ones`, while the next layer's quantities are still atoms: so
    ``1 - Delta`` becomes ``mubar eta0 (2 - Kbar0 eta0)(1 + eta0^d) - eta0^d`` in
    expanded form, with no ``1 - (1 - small)`` left for floating point.
    ``var`` is a plain name of the paper of ``expr``'s symbols (or of ``paper``).
    """
    paper = _paper_of(expr, paper)
    reg = REGISTRIES[paper]
    v = reg[var].symbol
    for _ in range(len(reg)):
        if stable:
            expr = _cancel_ones(expr, v)
        subs = {}
        for s in expr.free_symbols:
            owner = _OWNER.get(str(s))
            if owner is None or owner[0] != paper or owner[1] == var:
                continue
            n = owner[1]
            q = reg[n]
            if q.kind == "expression" and _depends_on(n, var, paper):
                subs[s] = q.expr
        if not subs:
            return expr
        expr = expr.subs(subs)
    raise RuntimeError("expansion did not terminate")  # pragma: no cover


def residual(name: str, paper: str | None = None):
    """The defining equation of ``name`` as ``(f, argnames)`` with ``f(x, *args)``.

    ``x`` is the unknown; ``argnames`` are the quantities held fixed (those that do
    not depend on the unknown; plain names of the paper), in the order ``f`` takes them.
    """
    q = get(name, paper)
    return _residual(q.paper, q.name)


@lru_cache(maxsize=None)
def _residual(paper: str, name: str):
    reg = REGISTRIES[paper]
    q = reg[name]
    if q.kind != "equation":
        raise ValueError(f"{name} is a {q.kind}, not an equation")

    def build():
        var = _OWNER[str(q.unknown)][1]
        expr = expanded(q.expr, var, stable=True, paper=paper)
        argnames = tuple(sorted(_OWNER[str(s)][1] for s in expr.free_symbols if s != q.unknown))
        return _lambdify([q.unknown, *[reg[a].symbol for a in argnames]], stable_form(expr, q.unknown)), argnames

    return cached_compile(paper, f"residual:{name}", build)


def polynomial(name: str, paper: str | None = None) -> tuple[tuple[str, ...], tuple]:
    """For an equation polynomial in its unknown: coefficient functions, highest degree first.

    Returns ``(argnames, coeff_funcs)``; each ``coeff_funcs[k](*args)`` is a lambdified
    coefficient. Used for vectorized root finding over batches.
    """
    q = get(name, paper)
    return _polynomial(q.paper, q.name)


@lru_cache(maxsize=None)
def _polynomial(paper: str, name: str) -> tuple[tuple[str, ...], tuple]:
    shape = _poly_shape(paper, name)
    if shape["argnames"] is None:  # not polynomial in its unknown: sympy's PolynomialError, as it says
        return _poly_fresh(paper, name)
    funcs = []
    for k in range(shape["n"]):
        def build(k=k):
            argnames, fs = _poly_fresh(paper, name)
            return fs[k], argnames

        funcs.append(cached_compile(paper, f"poly:{name}:{k}", build)[0])
    return tuple(shape["argnames"]), tuple(funcs)


def _poly_shape(paper: str, name: str) -> dict:
    """``{"argnames": [...], "n": number of coefficients}`` of equation ``name``'s polynomial in its unknown
    (``argnames`` None when it is not one), through the user cache (no sympy when warm)."""
    from convtool.analysis import formcache

    code = formcache.code_key() if formcache.cache_dir() else None
    key = formcache.entry_key(code, f"{paper}:polyshape:{name}") if code else None
    v = formcache.load_value(paper, f"polyshape:{name}", key) if key else None
    if not (isinstance(v, dict) and isinstance(v.get("n"), int)
            and (v.get("argnames") is None or isinstance(v.get("argnames"), list))):
        try:
            argnames, funcs = _poly_fresh(paper, name)
            v = {"argnames": list(argnames), "n": len(funcs)}
        except sp.PolynomialError:
            v = {"argnames": None, "n": 0}
        if key:
            formcache.store_value(paper, f"polyshape:{name}", key, v)
    return v


@lru_cache(maxsize=None)
def _poly_fresh(paper: str, name: str) -> tuple[tuple[str, ...], tuple]:
    """The coefficients of ``name``'s polynomial derived with sympy (what the user cache stores)."""
    reg = REGISTRIES[paper]
    q = reg[name]
    var = q.unknown
    expr = sp.expand(expanded(q.expr, _OWNER[str(var)][1], paper=paper))
    poly = sp.Poly(expr, var)
    argnames = tuple(sorted(_OWNER[str(s)][1] for s in expr.free_symbols if s != var))
    args = [display(reg[a].symbol) for a in argnames]
    funcs = tuple(sp.lambdify(args, display(co), modules="numpy") for co in poly.all_coeffs())
    return argnames, funcs


def evaluate(values: dict, targets=None, paper: str | None = None) -> dict:
    """Evaluate every expression quantity whose inputs are known.

    Parameters
    ----------
    values : dict
        Known values by plain name of the paper (primitives, and the roots of
        equations once solved). Not modified.
    targets : iterable of str, optional
        Restrict to what these need; default all quantities of the paper. Plain
        names of the paper, or qualified ones (``"zhao-xu:q"``), which also select it.
    paper : str, optional
        The paper (default: the one qualified targets name, else local-PL).

    Returns
    -------
    dict
        ``values`` extended with every quantity that could be evaluated, by plain name.
    """
    paper, plain_targets = resolve_targets(targets, paper)
    out = dict(values)
    for n, inputs, f in _plan(paper, None if plain_targets is None else frozenset(plain_targets)):
        if n in out:
            continue
        if all(i in out for i in inputs):
            # numpy scalars: overflow gives inf (Python floats would raise OverflowError)
            args = [np.float64(out[i]) if isinstance(out[i], (int, float)) else out[i] for i in f.argnames]
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                v = f(*args)
            out[n] = float(v) if np.ndim(v) == 0 else v
    return out


def evaluate_many(values_list: list, targets=None, paper: str | None = None) -> list:
    """``[evaluate(v, targets, paper) for v in values_list]``, bit for bit, in one array pass per quantity (issue 13).

    The seeds of a batch evaluate the same plan on different numbers: where every dict has the same keys and
    only real numbers, each quantity is evaluated once on arrays over the dicts (its :func:`_array_twin`, whose
    powers are the scalar path's libm ``pow`` element by element; every other operation numpy uses is the same
    for a scalar and an array element: ``+ - * /`` and ``sqrt`` are correctly rounded, and a numpy scalar's
    ``exp``, ``expm1``, ``log``, ``log1p`` run the array loop on one element). Otherwise (other keys, a value
    that is not a number, fewer than two dicts) the dicts are evaluated one by one. Each returned dict is a new
    one, ``values`` extended by plain Python floats, in :func:`evaluate`'s key order.
    """
    values_list = list(values_list)
    R = len(values_list)
    keys = list(values_list[0]) if R else []
    real = (int, float, np.floating, np.integer)
    k0 = values_list[0].keys() if R else None
    if R < 2 or any(v.keys() != k0 for v in values_list[1:]) or \
            not all(t is float or issubclass(t, real) for t in {type(x) for v in values_list for x in v.values()}):
        return [evaluate(v, targets, paper) for v in values_list]
    paper, plain_targets = resolve_targets(targets, paper)
    arrays = {k: np.array([v[k] for v in values_list], dtype=np.float64) for k in keys}
    new: list[str] = []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for n, inputs, f in _plan(paper, None if plain_targets is None else frozenset(plain_targets)):
            if n in arrays:
                continue
            if all(i in arrays for i in inputs):
                v = _array_twin(f)(*[arrays[i] for i in f.argnames])
                arrays[n] = np.broadcast_to(np.asarray(v, dtype=np.float64), (R,))
                new.append(n)
    cols = [(n, arrays[n].tolist()) for n in new]  # Python floats, the arrays' values
    out = []
    for r, v in enumerate(values_list):
        d = dict(v)
        for n, col in cols:
            d[n] = col[r]
        out.append(d)
    return out


def _libm_pow(a, b):
    """``a ** b`` as the scalar path computes it (a numpy float64 scalar's ``**``: libm ``pow``), elementwise on
    arrays (numpy's array ``power`` may use another implementation, SVML on AVX-512, which differs by an ulp)."""
    if np.ndim(a) == 0 and np.ndim(b) == 0:
        return a ** b
    A, B = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    if A.size:
        try:  # math.pow returns the C library's pow, or raises where that sets errno (overflow, a domain error)
            return np.fromiter(map(math.pow, A.ravel().tolist(), B.ravel().tolist()), dtype=np.float64,
                               count=A.size).reshape(A.shape)
        except (OverflowError, ValueError):
            pass
    out = np.empty(A.shape)
    with np.errstate(all="ignore"):
        for i, (x, y) in enumerate(zip(A.ravel().tolist(), B.ravel().tolist())):
            out.flat[i] = np.float64(x) ** np.float64(y)
    return out


_ARRAY_TWINS: dict = {}


def _array_twin(f):
    """``f`` (a lambdified numpy function) with every ``a ** b`` computed by :func:`_libm_pow` (AST rewrite of
    its source, cached per function): the scalar path's values, element by element, on arrays."""
    g = _ARRAY_TWINS.get(f)
    if g is not None:
        return g
    import ast
    import inspect
    import textwrap

    try:
        mod = ast.parse(textwrap.dedent(inspect.getsource(f)))
    except (OSError, TypeError, SyntaxError):  # pragma: no cover - lambdified sources are kept
        mod = None

    class _Pow(ast.NodeTransformer):
        def visit_BinOp(self, node):
            self.generic_visit(node)
            if isinstance(node.op, ast.Pow):
                return ast.Call(ast.Name("_convtool_libm_pow", ast.Load()), [node.left, node.right], [])
            return node

    g = f
    if mod is not None and len(mod.body) == 1 and isinstance(mod.body[0], ast.FunctionDef):
        mod = ast.fix_missing_locations(_Pow().visit(mod))
        env = dict(f.__globals__)
        env["_convtool_libm_pow"] = _libm_pow
        exec(compile(mod, f"<convtool array twin of {f.__name__}>", "exec"), env)  # noqa: S102 - our own rewrite
        g = env[mod.body[0].name]
        g.argnames = getattr(f, "argnames", None)
    _ARRAY_TWINS[f] = g
    return g


@lru_cache(maxsize=4096)
def _plan(paper: str, targets: frozenset | None) -> tuple:
    """``(name, inputs, compiled)`` of every expression quantity ``targets`` need, in evaluation order:
    the topological sort and the compiled evaluators, looked up once per registry and target set (issue 13)."""
    reg = REGISTRIES[paper]
    order = evaluation_order(None if targets is None else sorted(targets), paper)
    return tuple((n, tuple(reg[n].inputs), _compiled(paper, n)) for n in order if reg[n].kind == "expression")


def warm_up(paper: str | None = DEFAULT_PAPER) -> None:
    """Compile every formula of ``paper`` now (``None``: of every paper; about 1 s once per process).

    Timed code calls this first so that measured wall times exclude sympy's one-time work.
    """
    from convtool.analysis.registry import names, papers

    for p in (papers() if paper is None else [paper]):
        for n in names(kind="expression", paper=p):
            _compiled(p, n)
        for n in names(kind="equation", paper=p):
            _residual(p, n)
            _polynomial_or_none(p, n)


@lru_cache(maxsize=None)
def _polynomial_or_none(paper: str, name: str):
    """:func:`_polynomial`, or None for an equation that is not polynomial in its unknown (eqs. 87, 88).

    Which it is comes from :func:`_poly_shape` (the user cache when warm), and the answer is kept per process:
    sympy's failed attempt costs ~9 ms, which every run (each :meth:`LocalPL.warm_up`) paid again before
    issue 13."""
    if _poly_shape(paper, name)["argnames"] is None:
        return None
    return _polynomial(paper, name)
