"""Bracketed solvers for the defining equations of the step sizes.

Every scalar equation of the local-PL paper is solved on a *proven* bracket:

* eq. (87), ``eta0 Kbar_0(eta0) = 1`` (:func:`solve_eta0_1`): the left side is 0
  at 0 and increasing, and ``Kbar_0 >= max(K alpha2, sqrt(2 K L0))``, so
  ``[0, 1/max(K alpha2, sqrt(2 K L0))]`` brackets the unique positive root.
* eq. (88) (:func:`solve_eta0_2`): the smallest positive root of
  ``F(eta0) = (1 - exp(-eta0^c))(1 - Delta) - 4 K L(0) eta0^2``, found as the first
  sign change of F on a dense logarithmic grid ending at a point x* where ``F(x*) < 0``
  is proven (:func:`eq88_sign_change_point`), refined by Brent's method; the grid,
  its range and the result of the scan are reported.
* per-step cubics (``eta K_t(eta) = 1``, the ``local`` and ``xu2023`` steps):
  polynomials ``p(x) = sum_{k>=1} a_k x^k - a_0`` with ``a_k >= 0``, ``a_0 > 0``, which
  are increasing and convex on x > 0. ``x_hi = min_k (a_0 / a_k)^(1/k)`` has
  ``p(x_hi) >= 0``, so ``[0, x_hi]`` is a bracket, and Newton's method started at
  ``x_hi`` decreases monotonically to the root (:func:`convex_poly_root`, vectorized).

Each returned root is moved to the float on the side where its defining inequality holds, decided in
:data:`MP_DPS`-digit mpmath on the exact float inputs (issue 14; :func:`certified_sign`). The mpmath twins
evaluate each repeated subexpression once (:func:`_reuse_subexpressions`, the same bits in about half the
time for eq. 88's F and 1 - Delta), and a sign away from a root (F at the scan's end x*) is first tried with
a float interval enclosure (:mod:`convtool.numeric.certificate`); at a root +- an ulp, where the other
verifications happen, double precision cannot decide. The searches are generators of
:class:`SignQuery`: one seed answers them one by one (:func:`_drive`), a batch in lock-step with one long
double enclosure per round and function over all seeds, which also decides the points each search will likely ask
next (``SignQuery.spec``, kept per seed and answered without another round; :func:`drive_batch`), mpmath only where
that is inconclusive; the answers, hence the results, are the same (issue 13). The constants' generator also asks
for values (:class:`ValueQuery`: mubar and eq. 103's bound at eta0, the float nearest the exact value,
:func:`certified_value`) and for evaluations (:class:`EvalQuery`), which a batch answers for all seeds at once
(one long double pass; :func:`convtool.analysis.evaluate.evaluate_many`), with the floats one seed gets alone, and
for its Brent solves (:class:`BrentQuery`: one seed, scipy's compiled brentq as before; a batch, one lock-step Brent
over the seeds per residual and shift, :func:`convtool.numeric._brentq.brentq_lockstep`, the same floats).

Results are :class:`RootResult` objects in the style of
``scipy.optimize.RootResults`` and ``find_root``: they report non-convergence
instead of raising. The termination test of the Brent solves is
``|x - x*| <= xtol + rtol |x*|`` with ``xtol = 1e-300`` and ``rtol = 4 eps``.

References
----------
.. [Brent1973] R. P. Brent, Algorithms for Minimization Without Derivatives, 1973.
.. [LocalPL] Local-PL paper, Theorem E.1, eqs. (87)-(88); shared/papers/local-pl-two-layer-linear.txt.

Examples
--------
>>> import numpy as np
>>> r = convex_poly_root(np.array([[1.0, 0.0, 1.0, -2.0]]))  # x^3 + x - 2 = 0
>>> float(np.round(r.root[0], 12))
1.0
"""

from __future__ import annotations

import contextlib
import math
import struct
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import NamedTuple

import mpmath
import numpy as np

from convtool._lazy import sympy as sp
from convtool.analysis.evaluate import evaluate, expanded, polynomial, residual, stable_form
from convtool.analysis.registry import REGISTRIES, display, get
from convtool.numeric.certificate import (LD_EXTENDED, Unsupported, interval_from_lambdified, interval_sign,
                                          vector_from_lambdified, vector_sign)
from convtool.numeric._brentq import RootResults, brentq, brentq_lockstep  # scipy's brentq, no scipy.optimize import
from convtool.results import jsonable

__all__ = ["RootResult", "STATUS_FLAGS", "bracketed_root", "solve", "solve_eta0_1", "solve_eta0_2",
           "eq88_sign_change_point", "positive_root", "STEP_EQUATIONS",
           "convex_poly_root", "PolyRoots", "EQ88_GRID_PER_DECADE", "EQ88_FLOOR", "FLOAT_FLOOR", "MP_DPS",
           "mp_value", "admissible_side", "solve_eta0_3", "certified_sign", "certified_value", "SIGN_COUNTS",
           "SignQuery", "ValueQuery", "EvalQuery", "BrentQuery", "ask_value", "ask_evaluate", "drive_batch"]

EPS = np.finfo(np.float64).eps
XTOL = 1e-300
RTOL = 4 * EPS

#: status code -> flag (one table, as scipy's ``flag_map``)
STATUS_FLAGS = {
    0: "converged",
    1: "no positive root",
    -1: "sign error",
    -2: "convergence error",
    -3: "value error",
    -5: "not applicable",
}

#: eq. (88) scan: points per decade and the bottom of its double-precision part (lowered for a tiny
#: admissible range); below it the scan goes on, evaluated with mpmath, down to FLOAT_FLOOR
EQ88_GRID_PER_DECADE = 24
EQ88_FLOOR = 1e-100
#: smallest positive normal double: the bottom of the eq. (88) scan ("below the float range" means below it)
FLOAT_FLOOR = float(np.finfo(np.float64).tiny)
#: digits of the mpmath evaluations that verify a returned root's side of its defining inequality
MP_DPS = 50


@dataclass
class RootResult:
    """Outcome of one root solve.

    Attributes
    ----------
    name : str
        Quantity solved for (``eta0_1``...).
    root : float
        The root; ``inf`` with status 1 when there is no positive root; ``nan``
        only together with ``converged=False`` and a message.
    converged : bool
    status : int
        0 converged, 1 no positive root (root = inf), -1 invalid bracket,
        -2 maxiter reached, -3 non-finite function value, -5 not applicable.
    flag : str
        ``STATUS_FLAGS[status]``.
    method : str
    iterations, function_calls : int
    bracket, f_bracket : tuple of float
        Final bracket and the function values at its ends.
    residual : float
        f(root) (0.0 for an infinite root).
    message : str
        Human-readable account, including why a bracket is valid.
    scan : dict
        eq. (88) only: the scan grid (and its extension below ``EQ88_FLOOR``).
    verified : str
        The returned float's side of its defining inequality (eq. 87: ``eta0 Kbar_0 <= 1``;
        eq. 88: ``F >= 0``, eq. 94), checked in :data:`MP_DPS` digits, and any step down to it.
    """

    name: str
    root: float
    converged: bool
    status: int
    method: str
    iterations: int = 0
    function_calls: int = 0
    bracket: tuple = (np.nan, np.nan)
    f_bracket: tuple = (np.nan, np.nan)
    residual: float = np.nan
    message: str = ""
    scan: dict = field(default_factory=dict)
    #: how the root's side of its defining inequality was verified (and any step down to it)
    verified: str = ""

    @property
    def flag(self) -> str:
        return STATUS_FLAGS[self.status]

    def to_dict(self) -> dict:
        """Plain dict; non-finite floats become None (strict JSON). (The fields are plain data, so the field
        values themselves, rebuilt by :func:`convtool.results.jsonable`, give what ``dataclasses.asdict`` gave, at
        a fraction of its deep copy's cost.)"""
        d = {n: getattr(self, n) for n in _root_fields()}
        d["flag"] = self.flag
        return jsonable(d)


@lru_cache(maxsize=None)
def _root_fields() -> tuple:
    """:class:`RootResult`'s field names, in order (``dataclasses.fields`` once, not per ``to_dict``)."""
    return tuple(f.name for f in fields(RootResult))


class _Counted:
    """``f`` counted, NaN raising; called inside :func:`bracketed_root`'s one ``errstate`` (not one per call)."""

    def __init__(self, f, name):
        self.f, self.calls, self.name = f, 0, name

    def __call__(self, x):
        self.calls += 1
        v = float(self.f(x))
        if v != v:
            raise FloatingPointError(f"{self.name}: the function value at x={x!r} is NaN; "
                                     f"solver cannot continue (call {self.calls})")
        return v


# ---------------------------------------------------------------- verified sides (issue 14)


@lru_cache(maxsize=None)
def _mp_function(name: str, var: str):
    """mpmath twin of registered ``name`` (an expression, or an equation's residual) as a function of ``var``.

    The expression is expanded in ``var`` and put in the stable form used by the float
    code (1's of ``1 - Delta`` cancelled symbolically, ``expm1``/``log1p``), then
    lambdified for mpmath; returns ``(f, argnames)`` with ``f(x, *args)``.
    """
    from convtool.analysis.evaluate import cached_compile

    q = get(name)
    reg = REGISTRIES[q.paper]

    def build():
        v = reg[var].symbol
        expr = stable_form(expanded(q.expr, var, stable=True, paper=q.paper), v)
        syms = sorted((display(s) for s in expr.free_symbols if s != v), key=str)
        f = sp.lambdify([display(v), *syms], display(expr), modules="mpmath")
        return f, tuple(str(s) for s in syms)

    return cached_compile(q.paper, f"mp:{q.name}:{var}", build, modules="mpmath")


def _reuse_subexpressions(f):
    """``f`` (a one-line lambdified mpmath function) rewritten to evaluate each repeated subexpression once.

    The rewrite is on the source's syntax tree: an identical subtree (the same ``ast.dump``, so the
    same operands in the same order and association) is computed once, in its place in the
    evaluation order, and reused. Each mpmath operation is a deterministic function of its operands
    at the working precision, so the result is bit-for-bit the original's (issue 13: ``exp(eta0**c)``,
    ``sqrt(K*L0)`` and ``sqrt(2)`` occur 8-10 times each in eq. 88's F, which takes half the time then).
    Returns ``f`` itself where the source is not one ``return`` line.
    """
    import ast
    import inspect
    import textwrap
    from collections import Counter

    try:
        mod = ast.parse(textwrap.dedent(inspect.getsource(f)))
    except (OSError, TypeError, SyntaxError):  # pragma: no cover - lambdified sources are kept
        return f
    fd = mod.body[0] if len(mod.body) == 1 else None
    if not (isinstance(fd, ast.FunctionDef) and len(fd.body) == 1 and isinstance(fd.body[0], ast.Return)):
        return f  # pragma: no cover
    seen: Counter = Counter()

    def count(e):
        if isinstance(e, (ast.Name, ast.Constant)):
            return
        k = ast.dump(e)
        seen[k] += 1
        if seen[k] == 1:
            for ch in ast.iter_child_nodes(e):
                if isinstance(ch, ast.expr):
                    count(ch)

    count(fd.body[0].value)
    assigns, names = [], {}

    def rewrite(e):
        if isinstance(e, (ast.Name, ast.Constant)) or not isinstance(e, ast.expr):
            return e
        k = ast.dump(e)
        if k in names:
            return ast.Name(names[k], ast.Load())
        for fname, val in ast.iter_fields(e):
            if isinstance(val, ast.expr):
                setattr(e, fname, rewrite(val))
            elif isinstance(val, list):
                setattr(e, fname, [rewrite(v) if isinstance(v, ast.expr) else v for v in val])
        if seen[k] > 1:
            names[k] = f"_s{len(names)}"
            assigns.append(ast.Assign([ast.Name(names[k], ast.Store())], e))
            return ast.Name(names[k], ast.Load())
        return e

    ret = rewrite(fd.body[0].value)
    if not assigns:
        return f
    fd.body = [*assigns, ast.Return(ret)]
    ast.fix_missing_locations(mod)
    env = dict(f.__globals__)
    exec(compile(mod, f"<convtool shared subexpressions of {f.__name__}>", "exec"), env)  # noqa: S102
    return env[fd.name]


@lru_cache(maxsize=None)
def _mp_fast(name: str, var: str):
    """:func:`_mp_function` with its repeated subexpressions evaluated once (:func:`_reuse_subexpressions`)."""
    f, others = _mp_function(name, var)
    return _reuse_subexpressions(f), others


@lru_cache(maxsize=None)
def _eq88_scaled():
    """``G = F / (eta0 (1 - exp(-eta0^c)))`` of eq. (88), lambdified for numpy; ``(f, argnames)``.

    ``G = (1 - Delta) / eta0 - 4 K L0 eta0 / (1 - exp(-eta0^c))`` has the sign of F for
    eta0 > 0, and its terms are O(mubar), ``eta0^(d-1)``, ``eta0^(1-c)``: nothing underflows
    for eta0 down to the smallest normal double, where F itself (O(eta0^(1+c))) does.
    """
    from convtool.analysis.evaluate import cached_compile

    reg = REGISTRIES["local-pl"]

    def build():
        v = reg["eta0"].symbol
        omD = expanded(reg["one_minus_Delta"].expr, "eta0", stable=True)
        K, L0, c = reg["K"].symbol, reg["L0"].symbol, reg["c"].symbol
        G = stable_form(sp.expand(omD / v) - 4 * K * L0 * v / (1 - sp.exp(-v ** c)), None)
        syms = sorted((display(s) for s in G.free_symbols if s != v), key=str)
        f = sp.lambdify([display(v), *syms], display(G), modules="numpy")
        return f, tuple(str(s) for s in syms)

    return cached_compile("local-pl", "eq88_scaled", build)


@lru_cache(maxsize=None)
def _interval_twin(name: str, var: str):
    """The float interval evaluator of :func:`_mp_function`'s source (:mod:`convtool.numeric.certificate`),
    or None where it has none (then every sign goes to mpmath)."""
    import inspect

    f, others = _mp_function(name, var)
    try:
        iv, argnames = interval_from_lambdified(inspect.getsource(f))
    except (Unsupported, OSError, TypeError, SyntaxError):  # pragma: no cover - every twin used has one
        return None
    if argnames[1:] != tuple(others):  # pragma: no cover - the lambdified signature is (var, *others)
        return None
    return iv


#: how many signs :func:`certified_sign` settled by the float certificate and how many by mpmath, how many
#: :func:`drive_batch` settled by its long double enclosure, and how many values :func:`certified_value` took from
#: a long double enclosure (``value_ld``) and from mpmath
SIGN_COUNTS = {"float": 0, "mpmath": 0, "vector": 0, "value_ld": 0, "value_mpmath": 0}


def certified_sign(name: str, x: float, values: dict, var: str = "eta0", threshold: float = 0.0, *,
                   near_root: bool = False) -> int:
    """The sign (-1, 0, 1) of ``name(x) - threshold``, all inputs the exact binary values of their floats.

    First a float interval enclosure of the exact value (:func:`convtool.numeric.certificate.interval_function`
    of the mpmath twin's own source); where it excludes ``threshold`` the sign is proven. Otherwise (near a
    root, within the enclosure's width) the :data:`MP_DPS`-digit value decides, as before issue 13: the
    answer is the same either way, the certificate only saves the mpmath evaluation.

    ``near_root=True`` skips the certificate: at a float within a few ulps of a root, ``|f|`` is about
    ``eps |x f'(x)|``, below any double-precision enclosure of f's terms, so it cannot decide there
    (measured on 20 Fig. 1 seeds: none of the 217 root-side checks of eqs. 87/88 and mubar >= 0); it
    decides the signs away from the roots (F at the scan's end x*, every one of them there).
    """
    iv = None if near_root else _interval_twin(name, var)
    if iv is not None:
        _, others = _mp_function(name, var)
        s = interval_sign(iv(float(x), *[float(values[a]) for a in others]), threshold)
        if s:
            SIGN_COUNTS["float"] += 1
            return s
    SIGN_COUNTS["mpmath"] += 1
    v = mp_value(name, x, values, var)
    return int(v > threshold) - int(v < threshold)


def mp_value(name: str, x: float, values: dict, var: str = "eta0", dps: int = MP_DPS):
    """``name`` at ``var = x`` with every input taken as the exact binary value of its float, in ``dps`` digits.

    Returns an ``mpmath.mpf``. Used to *verify* on which side of its defining inequality a
    returned float lies: the float inputs are exact, so at 50 digits the sign is not rounding.
    """
    f, others = _mp_fast(name, var)
    with mpmath.workdps(dps):
        return +f(mpmath.mpf(float(x)), *[mpmath.mpf(float(values[a])) for a in others])


def certified_value(name: str, x: float, values: dict, var: str = "eta0") -> float:
    """``name`` at ``var = x`` as the float nearest its exact value, all inputs the exact binary values of their
    floats: :func:`_ld_rounded` of the long double enclosure where it decides, else ``float(mp_value(...))``.

    The enclosure decides where it (widened by one long double ulp each way) rounds to one double: the exact
    value then rounds to that double, and so does the :data:`MP_DPS`-digit value (its error, at most the
    condition number times 1e-50, is far below a long double ulp wherever the enclosure, whose width is about the
    condition number times a long double ulp, is that narrow), so the float is the one ``mp_value`` gave before
    issue 13. One seed and a batch (:func:`drive_batch`) take the same elementwise pass, hence the same float.
    """
    if var == "eta0" and LD_EXTENDED:
        v = _vector_values(name, [x], [values])
        if v is not None and v[0] is not None:
            SIGN_COUNTS["value_ld"] += 1
            return v[0]
    SIGN_COUNTS["value_mpmath"] += 1
    return float(mp_value(name, x, values, var))


def _ld_rounded(lo, hi):
    """The doubles that long double enclosures ``[lo, hi]`` (arrays) round to, NaN where they do not decide.

    Decided: ``lo`` one long double ulp lower and ``hi`` one higher round to the same finite normal double
    (so no rounding boundary lies within a long double ulp of the enclosure; zero and subnormals are left to
    mpmath, whose conversion of those is not a plain rounding)."""
    from convtool.numeric.certificate import LD

    with np.errstate(all="ignore"):
        a = np.nextafter(np.asarray(lo, dtype=LD), LD(-np.inf)).astype(np.float64)
        b = np.nextafter(np.asarray(hi, dtype=LD), LD(np.inf)).astype(np.float64)
        ok = (a == b) & np.isfinite(a) & (np.abs(a) >= FLOAT_FLOOR)
    return np.where(ok, a, np.nan)


def _vector_values(name: str, xs: list, values_list: list):
    """:func:`certified_value`'s long double pass for one kind: a float or None per point; None (all) where the
    quantity has no vectorized enclosure or an input is missing (the per-point path then says why)."""
    iv = _vector_twin(name, "eta0")
    if iv is None:  # pragma: no cover - every quantity asked for has one
        return None
    _, others = _mp_function(name, "eta0")
    try:
        cols = [np.array(xs, dtype=float)] + [np.array([float(v[a]) for v in values_list], dtype=float)
                                              for a in others]
    except (KeyError, TypeError, ValueError):
        return None
    f = _ld_rounded(*iv(*cols))
    return [None if fv != fv else float(fv) for fv in f.tolist()]


class SignQuery(NamedTuple):
    """A sign the root-side searches need: that of ``name(x) - threshold`` (see :func:`certified_sign`).

    The searches below are generators that yield these and resume with the sign (issue 13): one seed is
    driven by :func:`_drive`, which answers each with :func:`certified_sign`; a batch of seeds is driven in
    lock-step by :func:`drive_batch`, which answers the queries of all seeds at once. Either way the answer is
    the sign of the exact value, so the search, and every result, is the same.

    ``spec``: points the search will likely ask next (same name, inputs and threshold), in order of likelihood.
    :func:`_drive` ignores them; :func:`drive_batch` puts them into the same long double pass and keeps each sign
    that pass decides, so that those next queries are answered without another round (never by mpmath)."""

    name: str
    x: float
    values: dict
    threshold: float
    near_root: bool
    spec: tuple = ()


class ValueQuery(NamedTuple):
    """A value the searches need: registered ``name`` at ``eta0 = x``, as the float nearest its exact value at the
    float inputs (:func:`certified_value`); a batch answers those of one kind with one long double pass."""

    name: str
    x: float
    values: dict


class EvalQuery(NamedTuple):
    """An :func:`~convtool.analysis.evaluate.evaluate` of ``values`` (``targets``) that the constants need; a batch
    answers the pending ones together (:func:`~convtool.analysis.evaluate.evaluate_many`, the same floats)."""

    values: dict
    targets: tuple | None


class ScanQuery(NamedTuple):
    """A scan the searches need: residual ``name``'s numpy function ``f`` at the points ``grid`` (increasing,
    positive), ``f(grid, *args)`` under ``np.errstate(all="ignore")``. One seed (:func:`_drive`) gets exactly that
    array. A batch (:func:`drive_batch`, :func:`_answer_scans`) gets an array whose every element has the sign and
    finiteness of that one's, with ``f``'s own value where it was evaluated and 1.0 where a float-path enclosure
    (:mod:`convtool.numeric.float_enclosure`) proved ``0 < f < inf`` for a block of points without evaluating them:
    the scans' only use of the values is their signs and finiteness (the first sign change, the first non-finite
    point), so every decision, and every result, is the same."""

    name: str
    grid: np.ndarray
    args: tuple
    f: object


class BrentQuery(NamedTuple):
    """A Brent solve the searches need: scipy's ``brentq`` (``xtol``, ``rtol``, ``maxiter``, ``full_output=True,
    disp=False``) of ``g(x) - shift`` on ``[a, b]``, ``g`` the seed's memoized residual of registered equation
    ``name`` at its fixed inputs ``args`` (:func:`_args`), ``fa``, ``fb`` its values at the ends (computed by the
    search). The answer is ``(root, RootResults)``, or the error brentq raises, thrown into the search. One seed
    (:func:`_drive`) calls the compiled brentq on ``g`` itself, as before; a batch (:func:`drive_batch`) solves the
    pending queries of one residual and shift in lock-step over the seeds (:func:`~convtool.numeric._brentq.
    brentq_lockstep`, the residual's :func:`~convtool.analysis.evaluate._array_twin` on all active seeds per
    iteration), the same floats, iterations and calls; ``g``'s memo learns the points either way. ``quiet``: under
    ``np.errstate(all="ignore")``."""

    name: str
    args: tuple
    a: float
    b: float
    fa: float
    fb: float
    xtol: float
    rtol: float
    maxiter: int
    shift: float
    g: object
    quiet: bool = True


def _ask_brent(g, a, b, fa, fb, *, shift: float = 0.0, maxiter: int = 100, quiet: bool = True):
    """``yield from`` in a search: :class:`BrentQuery` on ``g`` (an :func:`_args` residual); ``(root, RootResults)``."""
    name, args = g.residual
    return (yield BrentQuery(name, args, float(a), float(b), float(fa), float(fb), XTOL, RTOL, int(maxiter),
                             float(shift), g, quiet))


def _brent_one(q: BrentQuery):
    """:class:`BrentQuery` ``q`` answered for its seed alone: scipy's compiled brentq on the seed's residual."""
    g, shift = q.g, q.shift
    h = g if shift == 0.0 else (lambda x: g(x) - shift)
    with np.errstate(all="ignore") if q.quiet else contextlib.nullcontext():
        return brentq(h, q.a, q.b, xtol=q.xtol, rtol=q.rtol, maxiter=q.maxiter, full_output=True, disp=False)


def _ask(name: str, x: float, values: dict, threshold: float = 0.0, near_root: bool = True, spec: tuple = ()):
    return (yield SignQuery(name, float(x), values, float(threshold), near_root, spec))


def ask_value(name: str, x: float, values: dict):
    """``yield from`` in a search: :class:`ValueQuery` ``name`` at ``x``; the float (:func:`certified_value`)."""
    return (yield ValueQuery(name, float(x), values))


def ask_evaluate(values: dict, targets=None):
    """``yield from`` in a search: :func:`~convtool.analysis.evaluate.evaluate` of ``values`` (``targets``)."""
    return (yield EvalQuery(values, None if targets is None else tuple(targets)))


def _sign_test(name: str, values: dict, pred, threshold: float = 0.0, near_root: bool = True):
    """``ok(x, spec)`` for :func:`_admissible_side_gen`: a generator returning ``pred(sign(name(x) - threshold))``;
    ``spec``, the points the search may ask next (:class:`SignQuery`)."""
    def ok(x, spec=()):
        return pred((yield from _ask(name, x, values, threshold, near_root, spec)))
    ok.spec_window = SPEC_WINDOW_OF.get(name, SPEC_WINDOW)
    return ok


def _now(value):
    """A generator that asks nothing and returns ``value`` (a plain predicate inside the generator searches)."""
    return value
    yield  # pragma: no cover - makes this a generator


def _scan_direct(q: ScanQuery, points=None) -> np.ndarray:
    """:class:`ScanQuery` ``q``'s ``f`` evaluated at its grid (or at the given points of it), as the scan always did."""
    with np.errstate(all="ignore"):
        return np.asarray(q.f(q.grid if points is None else points, *q.args), dtype=float)


def _answer(q):
    if type(q) is ScanQuery:
        return _scan_direct(q)
    if isinstance(q, EvalQuery):
        return evaluate(q.values, None if q.targets is None else list(q.targets))
    if isinstance(q, ValueQuery):
        return certified_value(q.name, q.x, q.values)
    return certified_sign(q.name, q.x, q.values, threshold=q.threshold, near_root=q.near_root)


def _drive(gen):
    """Run one generator search to its end, answering its queries one by one (a :class:`BrentQuery`'s error is
    thrown into the search, where brentq raised it before); returns its value."""
    try:
        q = next(gen)
        while True:
            if type(q) is BrentQuery:
                try:
                    a = _brent_one(q)
                except Exception as exc:  # noqa: BLE001 - the search meets it where it called brentq
                    q = gen.throw(exc)
                    continue
                q = gen.send(a)
            else:
                q = gen.send(_answer(q))
    except StopIteration as stop:
        return stop.value


@lru_cache(maxsize=None)
def _vector_twin(name: str, var: str):
    """The long double, vectorized enclosure of :func:`_mp_function`'s source, or None."""
    import inspect

    f, others = _mp_function(name, var)
    try:
        iv, argnames = vector_from_lambdified(inspect.getsource(f))
    except (Unsupported, OSError, TypeError, SyntaxError):  # pragma: no cover - every twin used has one
        return None
    return iv if argnames[1:] == tuple(others) else None


#: fewest pending queries of one function that :func:`drive_batch` decides with one vectorized enclosure; below this
#: they go to :func:`certified_sign` one by one. Break-even measured interleaved (medians of 40, one pass of n points
#: against n mpmath signs at the roots of 8 Fig. 1 seeds, 2-core machine under load, issue 13): eq. (88)'s F
#: 0.75-1.0 ms a pass of 1-4 points against 0.32-0.44 ms a point, eq. (87) 0.2-0.5 ms against 0.08-0.17 ms,
#: mubar 0.09-0.16 ms against 0.07-0.11 ms: the pass wins from 3 points (2 for mubar), and it also decides the
#: queries' speculative points
VECTOR_MIN = 3


def _vector_answers(queries: list) -> list:
    """Signs for ``queries`` (one per seed), those of a kind in one long double enclosure where at least
    :data:`VECTOR_MIN` are pending; None where undecided (or left to :func:`certified_sign`). A :class:`ValueQuery`
    gets ``("value", float)`` where :func:`certified_value`'s pass decides it, for its whole group at once
    (``("value", None)`` where that pass ran and did not decide). The :class:`SignQuery` of one function share one
    pass whatever their thresholds (each point compared with its own), and their ``spec`` points go into it too: a
    query with any gets ``("spec", sign or None, (name, threshold), inputs, {x: sign})`` (``inputs`` as
    :func:`_memo_args`; sign 0 where the pass did not decide: those spec points are never sent to mpmath)."""
    out: list = [None] * len(queries)
    if not LD_EXTENDED:
        return out
    groups: dict = {}
    for i, q in enumerate(queries):
        if isinstance(q, ValueQuery):
            groups.setdefault((q.name, True), []).append(i)
        elif isinstance(q, SignQuery):
            groups.setdefault((q.name, False), []).append(i)
    for (name, is_value), idx in groups.items():
        if len(idx) < VECTOR_MIN:
            continue
        if is_value:  # values: certified_value's pass, for the whole group at once
            vals = _vector_values(name, [queries[i].x for i in idx], [queries[i].values for i in idx])
            for i, v in zip(idx, vals or []):
                out[i] = ("value", v)  # None: undecided by this pass (mpmath's value then)
            continue
        iv = _vector_twin(name, "eta0")
        if iv is None:  # pragma: no cover
            continue
        _, others = _mp_function(name, "eta0")
        xs: list = []
        ths: list = []
        rows: list = []
        counts: list = []
        mains: list = []  # (query index, position of its point, its inputs)
        for i in idx:
            q = queries[i]
            try:
                args = [float(q.values[a]) for a in others]
            except (KeyError, TypeError, ValueError):  # the per-seed path raises it, as before
                continue
            mains.append((i, len(xs), args))
            xs.append(q.x)
            if q.spec:
                xs.extend(q.spec)
            counts.append(1 + len(q.spec))
            ths.append(q.threshold)
            rows.append(args)
        if not xs:
            continue
        if len(xs) == len(rows):
            cols = [np.array(xs, dtype=float), *np.array(rows, dtype=float).reshape(len(xs), len(others)).T]
            th = np.array(ths, dtype=float)
        else:  # each query's inputs and threshold repeated for its spec points
            cols = [np.array(xs, dtype=float),
                    *np.repeat(np.array(rows, dtype=float).reshape(len(rows), len(others)), counts, axis=0).T]
            th = np.repeat(np.array(ths, dtype=float), counts)
        signs = vector_sign(*iv(*cols), th).tolist()
        for i, j, args in mains:
            sg = signs[j]
            q = queries[i]
            if not q.spec:
                if sg:
                    out[i] = int(sg)
                continue
            out[i] = ("spec", int(sg) if sg else None, (name, q.threshold), tuple(args),
                      dict(zip(q.spec, signs[j + 1: j + 1 + len(q.spec)])))
    return out


def _memo_args(q, others: dict):
    """The inputs of :class:`SignQuery` ``q``'s function as a tuple of floats (a memo key part, with
    ``(name, threshold, x)``: equal floats are equal reals, so the exact sign is the same); None where one is
    missing or not a number (that query then goes the usual way, which reports it). ``others`` caches each
    function's input names."""
    names = others.get(q.name)
    if names is None:
        names = others[q.name] = _mp_function(q.name, "eta0")[1]
    try:
        return tuple([float(q.values[a]) for a in names])
    except (KeyError, TypeError, ValueError):
        return None


def drive_batch(gens: list, caught: list | None = None, done=None) -> list:
    """Run the generator searches of a batch (one per seed) in lock-step; returns their values, in order.

    At each round every unfinished search has one :class:`SignQuery` pending; the queries of one function are
    decided together by a long double enclosure (:func:`convtool.numeric.certificate.vector_interval_function`, one
    numpy pass for all seeds and thresholds), the few it leaves undecided (a float within ~1e-3 ulps of a root) by
    :func:`certified_sign` one by one. The points a search says it will likely ask next (:class:`SignQuery`
    ``spec``) go into the same pass; each sign it decides is kept in that seed's memo (keyed by the function,
    threshold, x and the inputs: equal floats, equal reals, the same exact sign), and a search whose next query is
    in its memo is answered from it at once, in the same round (counted as ``vector`` in :data:`SIGN_COUNTS`); spec
    points it leaves undecided are dropped, never sent to mpmath. Each search gets the exact sign either way, so it
    takes the same steps and returns what :func:`_drive` returns for it alone. Values (:class:`ValueQuery`) are
    answered the same way (:func:`certified_value`'s long double pass over the group); evaluations
    (:class:`EvalQuery`) wait until every unfinished search waits on one, then go in one
    :func:`~convtool.analysis.evaluate.evaluate_many` per target set (the floats
    :func:`~convtool.analysis.evaluate.evaluate` gives each seed); Brent solves (:class:`BrentQuery`) wait the same
    way and go first, in one lock-step Brent per residual and shift where at least :data:`BRENT_MIN` are pending
    (:func:`_answer_brents`; scipy's result for each seed, its error thrown into that seed's search). An exception
    is raised as a loop over the seeds would raise it: the lowest seed's, once the seeds before it have finished
    (the seeds after it are dropped). ``caught``, the list of a ``warnings.catch_warnings(record=True)`` around the
    call, is reordered seed by seed (as the loop emits them). ``done(k)``, if given, is called each time a search
    finishes, with the number finished so far (1 .. R): a progress bar over the seeds."""
    R = len(gens)
    out: list = [None] * R
    errors: dict = {}
    pending: dict = {}
    per_seed: list = [[] for _ in range(R)]
    memos: list = [{} for _ in range(R)]  # per seed: (name, threshold) -> (inputs, {x: sign, 0 undecided})
    others: dict = {}
    finished = [0]

    def advance(r, answer, first=False, throw=None):
        n0 = len(caught) if caught is not None else 0
        try:
            if first:
                pending[r] = next(gens[r])
            elif throw is not None:
                pending[r] = gens[r].throw(throw)
            else:
                pending[r] = gens[r].send(answer)
        except StopIteration as stop:
            out[r] = stop.value
            finished[0] += 1
            if done is not None:
                done(finished[0])
        except Exception as exc:  # noqa: BLE001 - re-raised below, in loop order
            errors[r] = exc
        if caught is not None:
            per_seed[r].extend(caught[n0:])
            del caught[n0:]

    for r in range(R):
        advance(r, None, first=True)
        if errors and min(errors) < r:
            break
    while pending:
        for k in [k for k in pending if errors and k > min(errors)]:
            del pending[k]
        # evaluations and Brent solves wait until every search waits on one, then go together (one array pass per
        # quantity, one lock-step Brent per residual and shift)
        live = sorted(k for k in pending if type(pending[k]) not in _DEFERRED)
        if not live:
            kinds = {type(q) for q in pending.values()}
            if BrentQuery in kinds:
                _answer_brents(pending, advance, caught, per_seed)
            elif ScanQuery in kinds:
                _answer_scans(pending, advance)
            else:
                _answer_evaluations(pending, advance, errors)
            continue
        ROUNDS[0] += 1
        queries = [pending.pop(k) for k in live]
        answers = _vector_answers(queries)
        for k, q, a in zip(live, queries, answers):
            if type(a) is tuple and a[0] == "spec":
                memo = memos[k]
                old = memo.get(a[2])
                if old is not None and old[0] == a[3]:
                    old[1].update(a[4])
                else:
                    memo[a[2]] = (a[3], a[4])
                a = a[1]
            elif type(a) is tuple and a[1] is None:
                # a value the group's pass did not decide: certified_value's own one-point pass would not either
                # (the same elementwise enclosure), so straight to its mpmath value
                try:
                    a = float(mp_value(q.name, q.x, q.values))
                except Exception as exc:  # noqa: BLE001 - as _drive would have raised it
                    errors[k] = exc
                    continue
                SIGN_COUNTS["value_mpmath"] += 1
                advance(k, a)
                continue
            if a is None:
                try:
                    a = _answer(q)
                except Exception as exc:  # noqa: BLE001 - as _drive would have raised it
                    errors[k] = exc
                    continue
            elif type(a) is tuple:  # a value from the long double pass
                SIGN_COUNTS["value_ld"] += 1
                a = a[1]
            else:
                SIGN_COUNTS["vector"] += 1
            advance(k, a)
            memo = memos[k]
            while memo:  # the next signs this search asks, where the pass decided them already
                nq = pending.get(k)
                if type(nq) is not SignQuery:
                    break
                sub = memo.get((nq.name, nq.threshold))
                sg = sub[1].get(nq.x) if sub is not None else None
                if sg and sub[0] != _memo_args(nq, others):  # (the same search asks with the same inputs)
                    sg = None
                if not sg:  # the search went past what was speculated (or a new one began): start afresh
                    memo.clear()
                    break
                del pending[k]
                SIGN_COUNTS["vector"] += 1
                advance(k, sg)
    if caught is not None:
        for lst in per_seed:
            caught.extend(lst)
    if errors:
        raise errors[min(errors)]
    return out


#: lock-step rounds of :func:`drive_batch` with sign or value queries (one :func:`_vector_answers` call each)
ROUNDS = [0]


#: fewest pending :class:`BrentQuery` of one residual and shift that :func:`drive_batch` solves in lock-step; fewer go
#: to scipy's brentq one by one. Measured on the queries of 100 Fig. 1 seeds (issue 13, 2-core machine under load,
#: minima of 15): a lock-step solve costs about 1 ms (eq. 87) and 1.5 ms (eq. 88) whatever the number of seeds up to 20,
#: 1.3-1.6 ms and 3.1 ms for 100; scipy's brentq about 35 us a seed (eq. 87) and 50-70 us (eq. 88): the lock-step wins
#: from about 30 seeds
BRENT_MIN = 32


def _answer_brents(pending: dict, advance, caught, per_seed: list) -> None:
    """Answer every pending :class:`BrentQuery` (taken out of ``pending``): those of one residual and shift with one
    :func:`~convtool.numeric._brentq.brentq_lockstep` over the seeds, each seed's result (or error, thrown into its
    search) what scipy's brentq gives it alone; each seed's memo learns the points evaluated for it. Where the
    array value is not finite the seed's own scalar residual is asked instead (the scalar path's value, or its
    error; its warnings go to that seed)."""
    from convtool.analysis.evaluate import _array_twin, residual

    groups: dict = {}
    for k in sorted(pending):
        q = pending[k]
        if type(q) is BrentQuery:
            groups.setdefault((q.name, q.shift, q.quiet, len(q.args)), []).append(k)
    for (name, shift, quiet, _), ks in groups.items():
        qs = [pending.pop(k) for k in ks]
        if len(ks) < BRENT_MIN:
            for k, q in zip(ks, qs):
                try:
                    a = _brent_one(q)
                except Exception as exc:  # noqa: BLE001 - thrown into the search, as _drive does
                    advance(k, None, throw=exc)
                    continue
                advance(k, a)
            continue

        def fix(i, x, qs=qs, ks=ks):
            n0 = len(caught) if caught is not None else 0
            try:
                with np.errstate(all="ignore") if quiet else contextlib.nullcontext():
                    return qs[i].g(x)
            finally:
                if caught is not None:
                    per_seed[ks[i]].extend(caught[n0:])
                    del caught[n0:]

        F = _array_twin(residual(name)[0])
        cols = np.array([q.args for q in qs], dtype=np.float64).reshape(len(qs), -1).T
        lk = brentq_lockstep(F, [q.a for q in qs], [q.b for q in qs], tuple(cols), fa=[q.fa for q in qs],
                             fb=[q.fb for q in qs], shift=shift, xtol=[q.xtol for q in qs],
                             rtol=[q.rtol for q in qs], maxiter=[q.maxiter for q in qs], fix=fix)
        memos = [q.g.memo for q in qs]
        for idx, xs, vs in lk.points:  # keys as in _args' memo (zeros by their bits); 1700 points for 100 seeds
            for i, x, v in zip(idx.tolist(), xs.tolist(), vs.tolist()):
                d = memos[i]
                if x:
                    if x not in d:
                        d[x] = v
                else:
                    d.setdefault(("zero", _bits(x)), v)
        roots_, calls, iters, flags = lk.root.tolist(), lk.function_calls.tolist(), lk.iterations.tolist(), \
            lk.flag.tolist()
        for i, k in enumerate(ks):
            if lk.errors[i] is not None:
                advance(k, None, throw=lk.errors[i])
                continue
            advance(k, (roots_[i], RootResults(root=roots_[i], iterations=iters[i], function_calls=calls[i],
                                               flag=flags[i], method="brentq")))


#: fewest pending :class:`ScanQuery` of one residual that :func:`_answer_scans` answers with enclosures and one
#: stacked pass; fewer are evaluated one by one
SCAN_MIN = 4
#: the top points of a scan (nearest its upper end, where the sign changes) always evaluated; below them the
#: blocks of points an enclosure may certify grow geometrically (ratio :data:`SCAN_BLOCK_RATIO`) downwards: an
#: enclosure over a block loses what the terms of F cancel, and F's terms drift apart as eta0 falls
SCAN_TOP = 12
SCAN_BLOCK_RATIO = 1.3
#: the parts a block the first enclosure pass leaves uncertified is split into for a second pass
SCAN_SPLIT = 4
#: most points left to evaluate of a seed that joins the stacked pass (the others are evaluated alone)
SCAN_STACK_MAX = 256


@lru_cache(maxsize=64)
def _scan_tools(f):
    """``(enclosure, stacked)`` of the numpy function ``f`` (:mod:`convtool.numeric.float_enclosure`,
    :mod:`convtool.numeric.stacked_eval`), each None where its builder cannot follow the source."""
    from convtool.numeric.float_enclosure import float_path_enclosure
    from convtool.numeric.stacked_eval import stacked_function

    out = []
    for build in (float_path_enclosure, stacked_function):
        try:
            out.append(build(f))
        except (Unsupported, OSError, TypeError, SyntaxError):  # no source, or one the builder does not follow
            out.append(None)
    return tuple(out)


@lru_cache(maxsize=64)
def _scan_edges(n: int) -> tuple:
    """Block edges of a scan of ``n`` points, as distances from its top point: ``(d_0 = SCAN_TOP, d_1, ...)``,
    the block k covering distances ``[d_k, d_(k+1))`` (indices ``n - d_(k+1) .. n - 1 - d_k``), the last one
    reaching index 0."""
    edges = [SCAN_TOP]
    while edges[-1] < n:
        edges.append(min(max(edges[-1] + 1, int(math.ceil(edges[-1] * SCAN_BLOCK_RATIO))), n))
    return tuple(edges) if len(edges) > 1 else ()


def _certified_blocks(enclosure, qs: list) -> list:
    """Per scan of ``qs`` (:class:`ScanQuery`), the indices of its points outside every block ``enclosure``
    certified, increasing. The blocks of :func:`_scan_edges` go in one pass; those it leaves uncertified, split in
    :data:`SCAN_SPLIT` parts, in a second."""
    starts, ends, owner = [], [], []
    todo = [None] * len(qs)
    for i, q in enumerate(qs):
        n = q.grid.size
        e = _scan_edges(n)
        if e and q.grid[0] > 0:
            e = np.asarray(e)
            ends.append(n - 1 - e[:-1])  # a block's top index
            starts.append(n - e[1:])  # its bottom index
            owner.append(np.full(e.size - 1, i))
        else:
            todo[i] = np.arange(n)
    if owner:
        sizes = np.array([q.grid.size for q in qs])
        offs = np.concatenate([[0], np.cumsum(sizes)])
        flat = np.concatenate([q.grid for q in qs])
        starts, ends, owner = np.concatenate(starts), np.concatenate(ends), np.concatenate(owner)
        args = np.array([q.args for q in qs], dtype=np.float64)
        left = []  # per pass: the blocks left uncertified, (start, end, owner)
        for split in (True, False):
            Flo, Fhi = enclosure(flat[offs[owner] + starts], flat[offs[owner] + ends], *args[owner].T)
            bad = ~((Flo > 0) & (Fhi < np.inf))
            splittable = bad & (ends - starts + 1 >= 2 * SCAN_SPLIT)
            if not split or not splittable.any():
                left.append((starts[bad], ends[bad], owner[bad]))
                break
            keep = bad & ~splittable
            left.append((starts[keep], ends[keep], owner[keep]))
            # each other failed block in SCAN_SPLIT parts of about equal length, for the second pass
            s0, e0, o0 = starts[splittable], ends[splittable], owner[splittable]
            cuts = s0[:, None] + ((e0 - s0 + 1)[:, None] * np.arange(SCAN_SPLIT + 1)[None, :]) // SCAN_SPLIT
            starts, ends = cuts[:, :-1].ravel(), cuts[:, 1:].ravel() - 1
            owner = np.repeat(o0, SCAN_SPLIT)
        extra: dict = {}
        for a, b, o in left:
            for i, a_, b_ in zip(o.tolist(), a.tolist(), b.tolist()):
                extra.setdefault(i, []).append(np.arange(a_, b_ + 1))
        for i, q in enumerate(qs):
            if todo[i] is None:
                top = np.arange(q.grid.size - SCAN_TOP, q.grid.size)
                todo[i] = np.unique(np.concatenate(extra[i] + [top])) if i in extra else top
    return todo


def _answer_scans(pending: dict, advance) -> None:
    """Answer every pending :class:`ScanQuery` (taken out of ``pending``). Where at least :data:`SCAN_MIN` of one
    residual are pending: one float-path enclosure pass over the blocks of all their grids (:func:`_scan_edges`)
    certifies ``0 < f < inf`` at every point of a block whose enclosure is positive and finite; the other points
    are evaluated in one stacked pass (:func:`~convtool.numeric.stacked_eval.stacked_function`, each seed's own
    floats), or seed by seed where that pass declines. Each seed gets :class:`ScanQuery`'s array; an error of its
    own evaluation is thrown into its search, where ``f`` raised it before."""
    groups: dict = {}
    for k in sorted(pending):
        if type(pending[k]) is ScanQuery:
            groups.setdefault((pending[k].f, len(pending[k].args)), []).append(k)
    for (f, _), ks in groups.items():
        qs = [pending.pop(k) for k in ks]
        enclosure, stacked = _scan_tools(f) if len(ks) >= SCAN_MIN else (None, None)
        outs = [np.ones(q.grid.size) for q in qs]
        # per seed, the indices to evaluate
        todo = _certified_blocks(enclosure, qs) if enclosure is not None else [np.arange(q.grid.size) for q in qs]
        # the stacked pass takes the seeds with few points left (a row is as long as the longest)
        vals: dict = {}
        if stacked is not None:
            few = [i for i, t in enumerate(todo) if 0 < t.size <= SCAN_STACK_MAX]
            if len(few) >= SCAN_MIN:
                X = np.empty((len(few), max(todo[i].size for i in few)))
                for j, i in enumerate(few):
                    t = todo[i]
                    X[j, : t.size] = qs[i].grid[t]
                    X[j, t.size:] = qs[i].grid[t[-1]]  # padding: one of the row's own points
                with np.errstate(all="ignore"):
                    V = stacked(X, [qs[i].args for i in few])
                if V is not None:
                    vals = {i: V[j, : todo[i].size] for j, i in enumerate(few)}
        for i, (k, q, t) in enumerate(zip(ks, qs, todo)):
            if i in vals:
                outs[i][t] = vals[i]
            else:
                try:
                    v = _scan_direct(q, q.grid[t])
                except Exception as exc:  # noqa: BLE001 - thrown into the search, where f raised it before
                    advance(k, None, throw=exc)
                    continue
                outs[i][t] = v
            advance(k, outs[i])


_DEFERRED = (EvalQuery, BrentQuery, ScanQuery)


def _answer_evaluations(pending: dict, advance, errors: dict) -> None:
    """Answer every pending :class:`EvalQuery` (all of ``pending``), those with the same targets together
    (:func:`~convtool.analysis.evaluate.evaluate_many`); an error is recorded per seed, as :func:`_drive` meets it."""
    from convtool.analysis.evaluate import evaluate_many

    groups: dict = {}
    for k in sorted(pending):
        groups.setdefault(pending[k].targets, []).append(k)
    queries = dict(pending)
    pending.clear()
    for targets, ks in groups.items():
        tg = None if targets is None else list(targets)
        try:
            results = evaluate_many([queries[k].values for k in ks], tg)
        except Exception:  # noqa: BLE001 - seed by seed below, so each seed meets its own error
            results = None
        for i, k in enumerate(ks):
            if results is None:
                try:
                    a = _answer(queries[k])
                except Exception as exc:  # noqa: BLE001 - as _drive would have raised it
                    errors[k] = exc
                    continue
            else:
                a = results[i]
            advance(k, a)


_PACK_D, _PACK_Q = struct.Struct("<d"), struct.Struct("<q")


def _bits(x: float) -> int:
    """The IEEE 754 bits of the double ``x`` as a signed 64-bit integer (``np.float64(x).view(np.int64)``)."""
    return _PACK_Q.unpack(_PACK_D.pack(x))[0]


def _from_bits(i: int) -> float:
    """The double whose bits are the signed 64-bit integer ``i`` (``np.int64(i).view(np.float64)``)."""
    return _PACK_D.unpack(_PACK_Q.pack(i))[0]


_MAX_BITS = _bits(float(np.finfo(np.float64).max))


def _ulp_shift(x: float, k: int) -> float:
    """The float ``k`` representable positive doubles above (k > 0) or below ``x >= 0``; clamped to [0, max]."""
    i = _bits(x) + k
    i = min(max(i, 0), _MAX_BITS)
    return _from_bits(i)


def admissible_side(ok, x: float, *, lo: float = 0.0, hi: float | None = None) -> tuple[float, float | None, int]:
    """Adjacent floats ``a < b`` around ``x`` with ``ok(a)`` true and ``ok(b)`` false: see
    :func:`_admissible_side_gen` (``ok`` a plain predicate here)."""
    return _drive(_admissible_side_gen(lambda c, spec=(): _now(ok(c)), x, lo=lo, hi=hi))


#: how many floats on each side of its first point :func:`_admissible_side_gen` offers a batch to decide in the same
#: pass (:class:`SignQuery` ``spec``; 0: no speculation), by function (:data:`SPEC_WINDOW_OF`, else this).
#: Measured on the 400 searches of 100 Fig. 1 seeds (issue 13): 93% of them ask only floats within 2 ulps of their
#: first point, all of them within 4; an extra point costs about 1 us in the long double pass of mubar or eq. 87,
#: 6-8 us in that of eq. 88's F (against 0.06-0.2 ms, resp. about 1 ms, for a pass of its own), hence the
#: narrower window there. 100 such seeds: 14 rounds of signs without speculation, 7 with.
SPEC_WINDOW = 4
SPEC_WINDOW_OF = {"eta0_2": 2}


def _first_spec(ix: int, lo: float, hi: float | None, W: int) -> tuple:
    """The points :func:`_admissible_side_gen` asks after its first (bits ``ix``), nearest first: up to ``W``
    floats below (above ``lo``) and, where it can gallop up (``hi`` given), above."""
    if W <= 0:
        return ()
    if hi is None:
        if ix <= W:
            return tuple(c for c in (_from_bits(max(ix - k, 0)) for k in range(1, W + 1)) if c > lo)
        down = _SPEC_D[W].unpack(_SPEC_Q[W].pack(*range(ix - 1, ix - W - 1, -1)))
        return down if down[-1] > lo else tuple(c for c in down if c > lo)
    if ix <= W or ix + W > _MAX_BITS:
        out = []
        for k in range(1, W + 1):
            c = _from_bits(max(ix - k, 0))
            if c > lo:
                out.append(c)
            out.append(min(_from_bits(min(ix + k, _MAX_BITS)), hi))
        return tuple(out)
    both = _SPEC_D[2 * W].unpack(_SPEC_Q[2 * W].pack(*[i for k in range(1, W + 1) for i in (ix - k, ix + k)]))
    if both[-2] > lo and both[-1] <= hi:
        return both
    return tuple(min(c, hi) if j % 2 else c for j, c in enumerate(both) if j % 2 or c > lo)


class _Structs(dict):
    """``n -> struct.Struct("<n" + code)``, made on first use."""

    def __init__(self, code: str):
        super().__init__()
        self.code = code

    def __missing__(self, n: int) -> struct.Struct:
        st = self[n] = struct.Struct(f"<{n}{self.code}")
        return st


_SPEC_D, _SPEC_Q = _Structs("d"), _Structs("q")


def _gallop_spec(i_prev: int, cand: float, nxt: float | None) -> tuple:
    """While galloping at ``cand`` (from the float with bits ``i_prev``): the next gallop point ``nxt`` (if any) and
    the first bisection point between the two, the points asked next either way."""
    ic = _bits(cand)
    out = () if nxt is None else (nxt,)
    if abs(ic - i_prev) > 1:
        out += (_from_bits((min(ic, i_prev) + max(ic, i_prev)) // 2),)
    return out


def _bisect_spec(ia: int, im: int, ib: int) -> tuple:
    """While bisecting at ``im`` in ``(ia, ib)``: the midpoints of both halves, the point asked next either way."""
    out = ()
    if im - ia > 1:
        out += (_from_bits((ia + im) // 2),)
    if ib - im > 1:
        out += (_from_bits((im + ib) // 2),)
    return out


def _admissible_side_gen(ok, x: float, *, lo: float = 0.0, hi: float | None = None):
    """Adjacent floats ``a < b`` around ``x`` with ``ok(a)`` true and ``ok(b)`` false (``ok`` monotone there).

    ``ok`` is the defining inequality, true below the boundary. If ``ok(x)`` holds, ``a = x``
    and ``b`` is found by galloping up (never past ``hi``; ``b = None`` when ``hi`` is reached
    or ``hi`` is None and the search is not wanted); otherwise the search gallops down
    (1, 2, 4, ... ulps, never below ``lo``, where ok is assumed) and bisects the integer
    representation to adjacent floats. Returns ``(a, b, evaluations)``. ``ok(c, spec)`` is a generator returning a
    bool (:func:`_sign_test`), so the search can wait for batched answers; ``spec`` are the points it may ask next
    (:func:`_first_spec`, :func:`_gallop_spec`, :func:`_bisect_spec`), which only a batch uses; the evaluations
    counted are those the search consumes.
    """
    calls = 1
    ix = _bits(x)
    if (yield from ok(x, _first_spec(ix, lo, hi, getattr(ok, "spec_window", 0)))):
        if hi is None:
            return x, None, calls
        a, k = x, 1
        while True:
            cand = min(_ulp_shift(x, k), hi)
            calls += 1
            if not (yield from ok(cand, _gallop_spec(_bits(a), cand, min(_ulp_shift(x, 2 * k), hi)))):
                b = cand
                break
            a = cand
            if cand >= hi or k > 2 ** 64:
                return a, None, calls
            k *= 2
    else:
        b, k = x, 1
        while True:
            cand = max(_ulp_shift(x, -k), lo)
            calls += 1
            if cand <= lo:
                a = cand
                break
            nxt = max(_ulp_shift(x, -2 * k), lo)
            if (yield from ok(cand, _gallop_spec(_bits(b), cand, nxt if nxt > lo else None))):
                a = cand
                break
            b = cand
            k *= 2
    ia, ib = _bits(a), _bits(b)
    while ib - ia > 1:
        im = (ia + ib) // 2
        calls += 1
        if (yield from ok(_from_bits(im), _bisect_spec(ia, im, ib))):
            ia = im
        else:
            ib = im
    return _from_bits(ia), _from_bits(ib), calls


def solve_eta0_3(values: dict) -> tuple[float, float, str]:
    """:func:`_solve_eta0_3_gen`, run to its end."""
    return _drive(_solve_eta0_3_gen(values))


def _solve_eta0_3_gen(values: dict):
    """The third term of eta_max on its admissible side: ``(eta0_3, above, note)``.

    The closed form ``log1p(alpha1 / (2 alpha2))^(1/c)`` amplifies the rounding of ``log1p``
    by ``1/c``; its defining inequality is ``mubar(eta0) >= 0``, i.e.
    ``alpha1 - 2 alpha2 expm1(eta0^c) >= 0``. ``eta0_3`` is the largest float at or below the
    closed form where that holds, verified in :data:`MP_DPS`-digit arithmetic on the float
    inputs; ``above`` is the next float, where ``mubar < 0`` is verified (the eq. 88 scan ends
    there, see :func:`eq88_sign_change_point`). A closed form of 0 or inf is returned as is.
    """
    x0 = values["eta0_3"] if "eta0_3" in values else evaluate(values, targets=["eta0_3"])["eta0_3"]
    x0 = float(x0)
    if not (np.isfinite(x0) and x0 > 0):
        return x0, x0, ""

    a, b, _ = yield from _admissible_side_gen(_sign_test("mubar", values, lambda s: s >= 0), x0, hi=np.inf)
    if b is None:  # pragma: no cover - mubar -> -inf as eta0 grows
        b = _ulp_shift(a, 1)
    note = "" if a == x0 else f"; moved {x0:.17g} -> {a:.17g}, the largest float with mubar(eta0_3) >= 0 (50 digits)"
    return a, b, note


def bracketed_root(f, a: float, b: float, *, name: str, why: str = "", maxiter: int = 200) -> RootResult:
    """Brent's method on ``[a, b]`` with the checks done first, never raising on failure.

    ``f(a)`` and ``f(b)`` must have different signs (or one be zero); otherwise the
    result has status -1 and a message giving both values (toms748 style).
    """
    return _drive(_bracketed_root_gen(f, a, b, name=name, why=why, maxiter=maxiter))


def _bracketed_root_gen(f, a: float, b: float, *, name: str, why: str = "", maxiter: int = 200):
    """:func:`bracketed_root` as a search; where ``f`` is an :func:`_args` residual (it has ``f.residual``) Brent's
    method is a :class:`BrentQuery` (a batch solves those of all seeds in lock-step), the same result."""
    fc = _Counted(f, name)
    with np.errstate(all="ignore"):
        try:
            fa, fb = fc(a), fc(b)
        except FloatingPointError as exc:
            return RootResult(name, np.nan, False, -3, "brentq", 0, fc.calls, (a, b), (np.nan, np.nan),
                              message=str(exc))
    if not (np.isfinite(fa) and np.isfinite(fb)):
        return RootResult(name, np.nan, False, -3, "brentq", 0, fc.calls, (a, b), (fa, fb),
                          message=f"non-finite value at the bracket: f({a!r})={fa!r}, f({b!r})={fb!r}")
    if fa == 0.0 or fb == 0.0:
        x = a if fa == 0.0 else b
        return RootResult(name, x, True, 0, "brentq", 0, fc.calls, (a, b), (fa, fb), 0.0,
                          message=f"exact zero at a bracket end. {why}".strip())
    if np.sign(fa) == np.sign(fb):
        return RootResult(name, np.nan, False, -1, "brentq", 0, fc.calls, (a, b), (fa, fb),
                          message=f"f(a) and f(b) must have different signs, but f(a)={fa!r}, f(b)={fb!r}")
    if getattr(f, "residual", None) is None:
        try:
            with np.errstate(all="ignore"):
                x, rr = brentq(fc, a, b, xtol=XTOL, rtol=RTOL, maxiter=maxiter, full_output=True, disp=False)
        except FloatingPointError as exc:
            return RootResult(name, np.nan, False, -3, "brentq", 0, fc.calls, (a, b), (fa, fb), message=str(exc))
    else:
        try:
            x, rr = yield from _ask_brent(f, a, b, fa, fb, maxiter=maxiter)
        except ValueError as exc:  # a NaN: the error _Counted raised when it called f inside brentq
            if not hasattr(exc, "_x"):
                raise
            fc.calls += exc._function_calls
            return RootResult(name, np.nan, False, -3, "brentq", 0, fc.calls, (a, b), (fa, fb),
                              message=(f"{name}: the function value at x={exc._x!r} is NaN; solver cannot continue "
                                       f"(call {fc.calls})"))
        fc.calls += rr.function_calls
    with np.errstate(all="ignore"):
        res = fc(x)
    status = 0 if rr.converged else -2
    msg = why if rr.converged else f"Failed to converge after {rr.iterations} iterations, bracket is [{a}, {b}]"
    return RootResult(name, float(x), bool(rr.converged), status, "brentq", int(rr.iterations), fc.calls,
                      (a, b), (fa, fb), res, msg)


def _args(name: str, values: dict):
    f, argnames = residual(name)
    missing = [a for a in argnames if a not in values]
    if missing:
        raise KeyError(f"{name} needs {', '.join(missing)}")
    args = [float(values[a]) for a in argnames]
    memo: dict = {}

    def g(x):
        """``f(x, *args)`` at a scalar ``x``, each point once (by its value; zeros by their bits, so 0.0 and -0.0
        stay apart): the bracket checks, Brent's method and the side verification evaluate the same ends again, and
        the residual is a deterministic function."""
        k = x if x else ("zero", _bits(x))
        v = memo.get(k)
        if v is None:
            v = memo[k] = f(x, *args)
        return v

    g.memo, g.residual = memo, (name, tuple(args))
    return g, f, args


def solve_eta0_1(values: dict) -> RootResult:
    """:func:`_solve_eta0_1_gen`, run to its end."""
    return _drive(_solve_eta0_1_gen(values))


def _solve_eta0_1_gen(values: dict):
    """eta0^(1): the unique positive root of eq. (87), ``eta0 Kbar_0(eta0) = 1``.

    Bracket ``[0, b]``, ``b = 1 / max(K alpha2, sqrt(2 K L(0)))``: since
    ``Kbar_0(eta0) >= K exp(eta0^c) alpha2 >= K alpha2`` and ``Kbar_0 >= sqrt(2 K L0)``,
    the residual is -1 at 0 and >= 0 at b.
    """
    K, alpha2, L0 = values["K"], values["alpha2"], values["L0"]
    lower = max(K * alpha2, np.sqrt(2 * K * max(L0, 0.0)))
    if not lower > 0:
        return RootResult("eta0_1", np.nan, False, -5, "brentq",
                          message="not applicable: K alpha2 = 0 and L(0) = 0 (zero weights at the optimum)")
    g, _, _ = _args("eta0_1", values)
    b = 1.0 / lower
    why = (f"bracket [0, 1/max(K alpha2, sqrt(2 K L0))] = [0, {b:.6g}]: the left side of eq. 87 is 0 at 0, "
           "increasing, and >= 1 at the right end")
    a, b, note = _finite_right_end(g, 0.0, b)
    r = yield from _bracketed_root_gen(g, a, b, name="eta0_1", why=why + note)
    if r.converged and r.root > 0:
        yield from _verify_side_gen(r, _sign_test("eta0_1", values, lambda s: s <= 0), g, "eta0 Kbar_0(eta0) <= 1")
    return r


def _verify_side_gen(r: RootResult, ok, g, inequality: str):
    """Move ``r.root`` to the float on the admissible side of its defining inequality, verified.

    Brent's method returns a float within ``4 eps`` of the root, on either side; the theorem
    needs ``inequality`` to hold *at* the returned eta0. ``ok`` evaluates it in
    :data:`MP_DPS`-digit arithmetic on the float inputs; the root steps down (ulp by ulp,
    galloping, then bisection to adjacent floats) until it holds.
    """
    x = r.root
    # the verifying evaluations are not counted in function_calls (those stay the solver's own)
    a, _, calls = yield from _admissible_side_gen(ok, x, lo=float(r.bracket[0]) if np.isfinite(r.bracket[0]) else 0.0)
    if a != x:
        r.root = a
        with np.errstate(all="ignore"):
            r.residual = float(g(a))
        r.verified = (f"stepped down from {x:.17g} to {a:.17g}, where {inequality} holds "
                      f"(verified, {MP_DPS} digits)")
    else:
        r.verified = f"{inequality} holds at the root (verified, {MP_DPS} digits)"


def _finite_right_end(g, a: float, b: float, maxiter: int = 2000) -> tuple[float, float, str]:
    """Shrink ``[a, b]`` while ``g(b)`` overflows (``exp(b^c)`` for a huge proven bracket end).

    ``g`` is increasing with ``g(a) < 0`` and (mathematically) ``g(b) >= 0``, so an
    overflowing ``g(m) = +inf`` is still >= 0 and ``[a, m]`` keeps the root; a finite
    negative ``g(m)`` moves ``a`` up. Bisection (geometric once ``a > 0``) stops at the
    first finite ``g(b) >= 0``.
    """
    with np.errstate(all="ignore"):
        gb = float(g(b))
    if np.isfinite(gb):
        return a, b, ""
    for _ in range(maxiter):
        m = np.sqrt(a * b) if a > 0 else b / 2
        with np.errstate(all="ignore"):
            gm = float(g(m))
        if not np.isfinite(gm) or gm >= 0:
            b = m
            if np.isfinite(gm):
                return a, b, f"; the left side overflows at the end, bracket shrunk to [{a:.6g}, {b:.6g}]"
        else:
            a = m
    return a, b, ""


def eq88_sign_change_point(values: dict, eta0_3_above: float | None = None) -> float:
    """:func:`_eq88_sign_change_point_gen`, run to its end."""
    return _drive(_eq88_sign_change_point_gen(values, eta0_3_above))


def _eq88_sign_change_point_gen(values: dict, eta0_3_above: float | None = None):
    """``x* = min(third term, eta_K)`` with ``eta_K Kbar_0(eta_K) = 2``: there ``F(x*) < 0``.

    Each of the two is taken as the float just above its boundary (where ``mubar < 0``,
    resp. ``eta_K Kbar_0(eta_K) >= 2``, is verified in :data:`MP_DPS` digits).

    At x* one factor of ``1 - rhobar0 = mubar eta0 (2 - Kbar_0 eta0)`` vanishes, so
    ``1 - Delta = (1 + x*^d)(1 - rhobar0) - x*^d = -x*^d`` and
    ``F(x*) = -(1 - exp(-x*^c)) x*^d - 4 K L0 x*^2 < 0``. Hence eq. (88) always has a
    positive root below x* when F > 0 near 0: a scan of (0, x*] cannot miss the existence
    of the smallest root (only, at worst, a narrower earlier window between grid points).

    ``eta0_3_above``: the second value of :func:`solve_eta0_3` for these values, where the caller
    has it (:func:`~convtool.numeric.constants.compute_constants` does): the search is not repeated.
    """
    g, _, _ = _args("eta0_1", values)
    lower = max(values["K"] * values["alpha2"], np.sqrt(2 * values["K"] * max(values["L0"], 0.0)))
    a, b, _ = _finite_right_end(lambda x: g(x) - 1.0, 0.0, 2.0 / lower)
    with np.errstate(all="ignore"):
        fa, fb = g(a) - 1.0, g(b) - 1.0
    eta_K = (yield from _eta_K_gen(g, a, b, fa, fb)) if fa < 0 < fb else b
    # the floats just *above* the two boundaries, where mubar < 0 and eta_K Kbar_0(eta_K) >= 2 are
    # verified in 50 digits (a float just below would leave F(x*) > 0 possible)
    _, eta_K_hi, _ = yield from _admissible_side_gen(_sign_test("eta0_1", values, lambda s: s < 0, threshold=1.0),
                                                     float(eta_K), hi=np.inf)
    if eta0_3_above is None:
        eta0_3_hi = (yield from _solve_eta0_3_gen(values))[1]
    else:
        eta0_3_hi = float(eta0_3_above)
    return float(min(eta0_3_hi, eta_K if eta_K_hi is None else eta_K_hi))


def _eta_K_gen(g, a: float, b: float, fa: float, fb: float):
    """``brentq(lambda x: g(x) - 1.0, a, b, xtol=XTOL, rtol=RTOL)`` (eq. 87's residual ``g``, ``fa < 0 < fb``) as
    a :class:`BrentQuery`: the root, or scipy's errors (a NaN's ValueError; RuntimeError after 100 iterations)."""
    x, rr = yield from _ask_brent(g, a, b, fa, fb, shift=1.0, maxiter=100, quiet=False)
    if not rr.converged:
        raise RuntimeError(f"Failed to converge after {rr.iterations} iterations.")
    return x


def solve_eta0_2(values: dict, upper: float | None = None, *, eta0_3_above: float | None = None) -> RootResult:
    """:func:`_solve_eta0_2_gen`, run to its end."""
    return _drive(_solve_eta0_2_gen(values, upper, eta0_3_above=eta0_3_above))


def _solve_eta0_2_gen(values: dict, upper: float | None = None, *, eta0_3_above: float | None = None):
    """eta0^(2): the smallest positive root of eq. (88), on the side where eq. (94) holds.

    ``F(eta0) = (1 - exp(-eta0^c))(1 - Delta(eta0)) - 4 K L(0) eta0^2`` (evaluated in the
    cancellation-free form of :func:`convtool.analysis.evaluate.stable_form`) is
    scanned on a logarithmic grid of ``EQ88_GRID_PER_DECADE`` points per decade from
    ``min(EQ88_FLOOR, upper / 1e6)`` to ``upper``, by default
    ``x* = eq88_sign_change_point(values)``, where ``F(x*) < 0`` is proven; x* is itself
    the last grid point. The first sign change from positive to non-positive is refined
    by Brent's method, and the root then steps down to the float where ``F >= 0``
    (eq. 94) is verified in :data:`MP_DPS` digits. So when mubar(0) = mu alpha1 > 0 and
    F > 0 near 0, a root is always found and footnote 4's ``eta0^(2) = inf`` does not
    occur; status 1 (inf) is kept for an explicit ``upper`` below x* with F > 0 throughout.
    ``eta0_3_above`` is passed on to :func:`eq88_sign_change_point`.

    If ``F <= 0`` already at the bottom of that grid, the scan goes on below it, with the
    same density and F evaluated in :data:`MP_DPS`-digit mpmath (double precision
    underflows there), down to :data:`FLOAT_FLOOR`; a sign change found there is refined
    by bisection to adjacent floats. Only when ``F <= 0`` at ``FLOAT_FLOOR`` too does the
    smallest root lie below the float range (status -5, not applicable). The extension
    is reported as ``scan["extension"]``.
    """
    g, f, args = _args("eta0_2", values)
    proven_end = upper is None
    if upper is None:
        upper = yield from _eq88_sign_change_point_gen(values, eta0_3_above)
    if not (np.isfinite(upper) and upper > 0):
        return RootResult("eta0_2", np.nan, False, -5, "scan+brentq",
                          message=f"not applicable: the scan needs a positive finite upper end, got {upper!r}")
    if upper <= FLOAT_FLOOR:
        return RootResult("eta0_2", np.nan, False, -5, "scan+brentq",
                          message=(f"not applicable: the admissible range ends at {upper:.3g}, below the float "
                                   f"range (smallest normal double {FLOAT_FLOOR:.3g})"))

    def Fmp(x):
        return mp_value("eta0_2", x, values)

    lo = max(min(EQ88_FLOOR, upper / 1e6), FLOAT_FLOOR)
    grid = _log_grid(lo, upper)
    if lo >= EQ88_FLOOR:  # double precision is exact enough here (README: 1e-12 down to 1e-30)
        F = yield ScanQuery("eta0_2", grid, tuple(args), f)  # f(grid, *args), its signs (ScanQuery)
        evaluated = "float64"
    else:
        F = _scaled_F(grid, values)
        evaluated = SCALED
    if proven_end and evaluated == "float64":  # F(x*) < 0 is proven; double precision may not see it there
        F[-1] = min(F[-1], float((yield from _ask("eta0_2", upper, values, near_root=False))))
    finite = np.isfinite(F)
    if not finite.all():
        last = int(np.argmin(finite))  # first non-finite
        grid, F = grid[:last], F[:last]
    scan = {"lower": float(grid[0]) if grid.size else None, "upper": float(grid[-1]) if grid.size else None,
            "points": int(grid.size), "per_decade": EQ88_GRID_PER_DECADE}
    if proven_end and evaluated != "float64":
        F[-1] = min(F[-1], float((yield from _ask("eta0_2", upper, values, near_root=False))))
    if evaluated != "float64":
        scan["evaluated"] = evaluated
    if grid.size == 0:
        return RootResult("eta0_2", np.nan, False, -5, "scan+brentq", 0, 0, scan=scan,
                          message="not applicable: F is not finite on the scan")
    if not F[0] > 0:
        return (yield from _eq88_below_scan_gen(values, float(grid[0]), float(F[0]), scan, Fmp))
    nonpos = np.flatnonzero(F <= 0)
    if nonpos.size == 0:
        return RootResult("eta0_2", np.inf, True, 1, "scan+brentq", 0, int(grid.size), (grid[0], grid[-1]),
                          (F[0], F[-1]), 0.0, scan=scan,
                          message=(f"F > 0 at all {grid.size} scan points on [{grid[0]:.3g}, {grid[-1]:.3g}]; "
                                   f"no root below {grid[-1]:.3g}"))
    j = int(nonpos[0])
    why = (f"first sign change of F on the scan ({grid.size} log-spaced points from {grid[0]:.3g} to "
           f"x* = {upper:.3g}, where F < 0 is proven), F({grid[j - 1]:.6g}) > 0 >= F({grid[j]:.6g})")
    r = yield from _refine88_gen(values, g, float(grid[j - 1]), float(grid[j]), why, Fmp, scaled=evaluated != "float64")
    r.method = "scan+brentq"
    r.function_calls += int(grid.size)
    r.scan = scan
    if r.converged and 0 < r.root < np.inf:
        yield from _verify_side_gen(r, _sign_test("eta0_2", values, lambda s: s >= 0), g, "eq. 94, F(eta0) >= 0,")
    return r


def _log_grid(lo: float, hi: float) -> np.ndarray:
    """``EQ88_GRID_PER_DECADE`` log-spaced points per decade on ``[lo, hi]``, both ends exact."""
    ndec = np.log10(hi) - np.log10(lo)
    grid = np.logspace(np.log10(lo), np.log10(hi), max(int(np.ceil(ndec * EQ88_GRID_PER_DECADE)), 1) + 1)
    grid[0], grid[-1] = lo, hi
    return grid


SCALED = "float64, as F / (eta0 (1 - exp(-eta0^c)))"


def _scaled_F(x, values: dict) -> np.ndarray:
    """Sign-carrying ``G = F / (eta0 (1 - exp(-eta0^c)))`` (see :func:`_eq88_scaled`) at the points ``x``."""
    fG, names = _eq88_scaled()
    with np.errstate(all="ignore"):
        return np.asarray(fG(np.asarray(x, dtype=float), *[np.float64(values[a]) for a in names]), dtype=float)


def _refine88_gen(values, g, a: float, b: float, why: str, Fmp, scaled: bool):
    """Refine eq. (88)'s sign change on ``[a, b]``: Brent on F (or on the scaled G), else mpmath bisection."""
    if scaled:
        fG = lambda x: float(_scaled_F(x, values))  # noqa: E731
    else:
        fG = g
    with np.errstate(all="ignore"):
        ok = fG(a) > 0 >= fG(b)
    if ok:
        r = yield from _bracketed_root_gen(fG, a, b, name="eta0_2", why=why)
        if r.converged:
            if scaled:  # G resolves the root to ~eps / (d - 1) only: polish it to adjacent floats in mpmath
                x = r.root
                lo, hi, calls = yield from _admissible_side_gen(_sign_test("eta0_2", values, lambda s: s >= 0), x,
                                                                lo=a, hi=b)
                r.root = lo
                r.function_calls += calls
                with np.errstate(all="ignore"):
                    r.residual = float(g(r.root))
                r.message += ("; refined on G = F / (eta0 (1 - exp(-eta0^c))), which has F's sign, then to "
                              f"adjacent floats [{lo:.17g}, {hi if hi is None else format(hi, '.17g')}] "
                              f"in {MP_DPS}-digit mpmath")
            return r
    # the sign change is only visible in mpmath (F cancels in double precision, e.g. at x*)
    return (yield from _mp_bisect_gen(values, Fmp, g, a, b, why))


def _mp_bisect_gen(values, Fmp, g, a: float, b: float, why: str):
    """Bisection of ``F`` (mpmath) on the integer representation of ``[a, b]`` to adjacent floats.

    ``F(a) > 0 >= F(b)``; returns the lower float (``F > 0`` there), with the final bracket.
    """
    lo, hi, calls = yield from _admissible_side_gen(_sign_test("eta0_2", values, lambda s: s > 0), b, lo=a)
    with np.errstate(all="ignore"):
        res = float(g(lo))
    return RootResult("eta0_2", lo, True, 0, "scan+bisection", calls, calls, (a, b),
                      (float(Fmp(a)), float(Fmp(b))), res,
                      why + f"; bisected to adjacent floats [{lo:.17g}, {hi:.17g}] with F in {MP_DPS}-digit mpmath")


def _eq88_below_scan_gen(values: dict, bottom: float, f_bottom: float, scan: dict, Fmp):
    """F <= 0 at the bottom of the scan: continue it below, in mpmath, down to FLOAT_FLOOR."""
    g, _, _ = _args("eta0_2", values)
    ext = {"lower": FLOAT_FLOOR, "upper": bottom, "points": 0, "per_decade": EQ88_GRID_PER_DECADE,
           "evaluated": SCALED + f"; the bottom point in {MP_DPS}-digit mpmath"}
    scan["extension"] = ext
    if bottom <= FLOAT_FLOOR:
        ext["points"] = 1
        F = np.array([f_bottom])
        grid = np.array([bottom])
    else:
        grid = _log_grid(FLOAT_FLOOR, bottom)
        ext["points"] = int(grid.size)
        F = _scaled_F(grid, values)
        # the verdict "below the float range" rests on the exact sign (50 digits where enclosures do not decide)
        F[0] = float((yield from _ask("eta0_2", grid[0], values, near_root=False)))
        F[-1] = min(F[-1], f_bottom)
    if not F[0] > 0:
        return RootResult("eta0_2", np.nan, False, -5, "scan+brentq", 0, int(scan["points"] + ext["points"]),
                          scan=scan,
                          message=(f"not applicable: F(eta0) = {f_bottom:.3g} <= 0 already at eta0 = {bottom:g}, and "
                                   f"F <= 0 at the bottom of the float range too (eta0 = {FLOAT_FLOOR:.3g}, "
                                   f"{MP_DPS}-digit mpmath): the smallest positive root of eq. 88 lies below the float "
                                   "range (with d close to 1, eta0^d outweighs 2 mubar eta0 unless "
                                   "eta0 < (2 mu alpha1)^(1/(d-1)))"))
    j = int(np.flatnonzero(F <= 0)[0])  # F[-1] <= 0 (the bottom of the float64 scan)
    why = (f"F({bottom:g}) = {f_bottom:.3g} <= 0, so the scan went on below, as G = F / (eta0 (1 - exp(-eta0^c))) "
           f"({grid.size} log-spaced points from {FLOAT_FLOOR:.3g}); first sign change "
           f"F({grid[j - 1]:.6g}) > 0 >= F({grid[j]:.6g})")
    r = yield from _refine88_gen(values, g, float(grid[j - 1]), float(grid[j]), why, Fmp, scaled=True)
    r.method = "scan+brentq"
    r.function_calls += int(scan["points"] + ext["points"])
    r.scan = scan
    yield from _verify_side_gen(r, _sign_test("eta0_2", values, lambda s: s >= 0), g, "eq. 94, F(eta0) >= 0,")
    return r


@dataclass
class PolyRoots:
    """Vectorized roots of convex increasing polynomials (see :func:`convex_poly_root`)."""

    root: np.ndarray
    bracket_hi: np.ndarray
    iterations: int
    converged: np.ndarray
    coeffs: np.ndarray

    @property
    def residual(self) -> np.ndarray:
        """p(root), 0 for an infinite root."""
        x = self.root
        fin = np.isfinite(x)
        return np.where(fin, _polyval(self.coeffs, np.where(fin, x, 0.0)), 0.0)


def convex_poly_root(coeffs: np.ndarray, maxiter: int = 100, hint: np.ndarray | None = None) -> PolyRoots:
    """Positive roots of ``p(x) = a_k x^k + ... + a_1 x + a_0`` with ``a_j >= 0`` (j >= 1), ``a_0 < 0``.

    ``coeffs`` has shape (..., k + 1), highest degree first (``numpy.polyval`` order).
    Such p is increasing and convex on x > 0 with a unique positive root; Newton's
    method from any ``x0`` with ``p(x0) >= 0`` decreases monotonically to the root.
    ``x0`` is ``x_hi = min_j (|a_0| / a_j)^(1/j)`` (where ``p(x_hi) >= a_j x_hi^j + a_0 = 0``),
    or ``hint`` where given, smaller and with ``p(hint) >= 0`` (a warm start: the previous
    step's root, slightly enlarged). Stops when a step changes x by at most ``4 eps x``.
    Rows with ``a_0 >= 0`` get root 0; rows with all ``a_j = 0`` (j >= 1) get ``inf``.
    """
    C = np.asarray(coeffs, dtype=float)
    deg = C.shape[-1] - 1
    a0 = -C[..., -1]
    with np.errstate(all="ignore"):  # rows with root inf evaluate p(inf); their step is set to 0
        a = C[..., -2::-1]  # a_1 .. a_deg
        cands = np.where(a > 0, (a0[..., None] / a) ** (1.0 / np.arange(1, deg + 1)), np.inf)
        hi = np.where(a0 > 0, cands.min(axis=-1), 0.0)
        x = hi
        if hint is not None:
            h = np.asarray(hint, dtype=float)
            use = np.isfinite(h) & (h > 0) & (h < hi) & (_polyval(C, np.where(np.isfinite(h), h, 0.0)) >= 0)
            x = np.where(use, h, hi)
        dC = C[..., :-1] * np.arange(deg, 0, -1)
        conv = ~np.isfinite(x) | (x == 0)
        x, conv, it = _newton(C, dC, x, conv, maxiter)
    return PolyRoots(root=x, bracket_hi=hi, iterations=it, converged=conv, coeffs=C)


def _newton(C, dC, x, conv, maxiter):
    it = 0
    for it in range(1, maxiter + 1):
        p = _polyval(C, x)
        dp = _polyval(dC, x)
        step = np.where(conv | (dp <= 0), 0.0, p / dp)
        step = np.maximum(step, 0.0)  # monotone from the right; round-off can make p slightly < 0
        x = x - step
        conv = conv | (step <= 4 * EPS * np.abs(x))
        if conv.all():
            break
    return x, conv, it


def _polyval(C, x):
    out = C[..., 0] + 0.0 * x
    for k in range(1, C.shape[-1]):
        out = out * x + C[..., k]
    return out


#: per-step defining equations: polynomials in the step, convex increasing up to sign
STEP_EQUATIONS = ("eta_hat", "eta_local", "eta_xu_star", "eta_48")


def positive_root(name: str, env: dict, hint: np.ndarray | None = None) -> np.ndarray:
    """Unique positive root, per seed, of the registered polynomial equation ``name``.

    The equation's polynomial has, up to an overall sign, non-negative coefficients
    except a negative constant (true of :data:`STEP_EQUATIONS`), so
    :func:`convex_poly_root` applies with its proven bracket; ``hint`` is an optional warm
    start (used only where the polynomial is >= 0 there, which keeps the bracket proven).
    ``env`` maps the equation's inputs to arrays of one shape (R,) or scalars.
    """
    return convex_poly_root(_step_coeffs(name, env), hint=hint).root


def _step_coeffs(name: str, env: dict) -> np.ndarray:
    """Coefficients (R, deg + 1) of step equation ``name`` at ``env``, signed so the constant is < 0."""
    argnames, funcs = polynomial(name)
    missing = [a for a in argnames if a not in env]
    if missing:
        raise KeyError(f"{name} needs {', '.join(missing)}")
    R = max([np.size(env[a]) for a in argnames] + [1])
    args = [env[a] for a in argnames]
    C = np.empty((R, len(funcs)))
    for j, f in enumerate(funcs):
        C[:, j] = f(*args)
    return np.where(C[..., -1:] > 0, -C, C)


def solve(name: str, values: dict, **options) -> RootResult:
    """One front door to every registered defining equation; reports failure, never raises.

    ``eta0_1`` (eq. 87) and ``eta0_2`` (eq. 88, option ``upper``) go to their bracketed
    solvers; the per-step equations of :data:`STEP_EQUATIONS` (``values`` holding one
    iterate's primitives) to :func:`convex_poly_root`, whose bracket ``[0, x_hi]`` is reported.

    Examples
    --------
    >>> r = solve("eta_hat", {"K": 1.0, "L_t": 0.0, "sigma_max_T_sq": 2.0, "sigma_max_W": 1.0})
    >>> r.root, r.flag  # K sigma_max^2(T) eta = 1 when L = 0
    (0.5, 'converged')
    """
    if name == "eta0_1":
        return solve_eta0_1(values)
    if name == "eta0_2":
        return solve_eta0_2(values, options.get("upper"))
    if name not in STEP_EQUATIONS:
        raise KeyError(f"no solver for {name!r}; solvable: eta0_1, eta0_2, {', '.join(STEP_EQUATIONS)}")
    C = _step_coeffs(name, values)
    if not np.isfinite(C).all():
        return RootResult(name, np.nan, False, -3, "newton (convex, from the right)",
                          message=f"non-finite coefficients {C[0].tolist()}")
    pr = convex_poly_root(C)
    x, hi = float(pr.root[0]), float(pr.bracket_hi[0])
    ok = bool(pr.converged[0])
    status = (1 if np.isinf(x) else 0) if ok else -2
    return RootResult(name, x, ok, status, "newton (convex, from the right)", int(pr.iterations), 2 * pr.iterations,
                      (0.0, hi), (float(C[0, -1]), float(_polyval(C[0], np.float64(hi))) if np.isfinite(hi) else np.inf),
                      float(pr.residual[0]),
                      message="bracket [0, min_j (|a0|/a_j)^(1/j)]: p(0) < 0 <= p(x_hi), p convex increasing")
