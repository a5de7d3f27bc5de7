"""Enclosures of a lambdified numpy function's own float64 result over an interval of its variable (issue 13).

:mod:`convtool.numeric.certificate` encloses an expression's *exact* value. This module encloses what the
float code itself returns: for ``f`` a lambdified numpy function (sympy's ``cse`` lines, then ``return``),
:func:`float_path_enclosure` builds ``F(lo, hi, *args) -> (Flo, Fhi)`` over arrays such that for every float
``x`` in ``[lo, hi]``, ``Flo <= f(x, *args) <= Fhi`` where the ends are finite, whatever ``f``'s rounding did.
Where ``Flo > 0`` and ``Fhi`` is finite, every float of ``[lo, hi]`` gives ``f > 0`` (finite), without
evaluating ``f`` there: the eq. (88) scan of a batch (:func:`convtool.numeric.roots.drive_batch`) skips the
points such a block covers, and takes the same sign decisions as the scan that evaluates them all.

How. The enclosure runs ``f``'s own source, statement by statement and operation by operation in Python's
evaluation order (its syntax tree), on intervals: every intermediate of ``f`` at any ``x`` of the block lies
in the interval computed for it.

- An *exact point* is a value the float code computes identically at every ``x``: an input other than the
  variable, a literal, or ``+ - * /`` and ``sqrt`` of exact points (correctly rounded in IEEE 754, so the same
  operation on the same floats gives the same float, in a Python float or a numpy array element alike).
- ``+ - * /`` and ``sqrt`` with an interval operand: the extremes of the round-to-nearest results at the
  ends (the four corners of a product or quotient, two where the signs are known). No outward rounding is
  needed: the float code's operands lie in the intervals, its exact result between the corners', and
  round-to-nearest is monotone, so its rounded result lies between the corners' rounded results.
- ``**``, ``exp``, ``expm1``, ``log``, ``log1p``: the float code may use another implementation than this
  module (numpy's SVML loops, the C library's ``pow`` for Python floats, numpy's fast paths for ``x**2`` and
  ``x**0.5``). Each is taken to be within :data:`FLOAT_PATH_ULPS` / 2 ulps of the exact function (glibc
  documents at most 1-2 ulps for these, Intel's SVML "ha" variants under 1); the result computed here is
  widened by ``FLOAT_PATH_ULPS + 1`` ulps each way, plus as many subnormal ulps (results that underflow). The
  functions are monotone, so the ends of the interval bound them over it; a power needs a base interval with
  ``lo >= 0`` and an exponent that is an exact point (else the element is NaN: no enclosure).
- A NaN anywhere stays NaN (``numpy.minimum`` and ``maximum`` propagate it), and an infinite end is not
  finite: either way the element certifies nothing.

What the source may hold: assignments to plain names and one ``return``; ``+ - * / **``, unary minus;
``exp``, ``expm1``, ``log``, ``log1p``, ``sqrt`` of one argument; int and float literals. Anything else raises
:class:`~convtool.numeric.certificate.Unsupported` when the enclosure is built (then nothing is skipped).
"""

from __future__ import annotations

import ast
import inspect

import numpy as np

from convtool.numeric.certificate import Unsupported, lambdified_def

__all__ = ["float_path_enclosure", "FLOAT_PATH_ULPS"]

#: ulps (and subnormal ulps) by which a library function's result is widened each way: room for this module's
#: own result and the float code's, each up to half of it from the exact function value
FLOAT_PATH_ULPS = 16

_WU = (FLOAT_PATH_ULPS + 1) * 2.0 ** -52  # |v| 2^-52 >= ulp(v) for a normal v (one more for this rounding)
_WETA = (FLOAT_PATH_ULPS + 1) * 2.0 ** -1074  # subnormal ulps


def _wlo(v):
    """A lower bound of the float code's value of a library function whose value here is ``v`` (both within
    ``FLOAT_PATH_ULPS / 2`` ulps of the exact one): ``v`` less ``FLOAT_PATH_ULPS + 1`` ulps (``|v| 2^-52`` is at
    least an ulp of a normal ``v``; the one more covers this subtraction's own rounding) and as many subnormal
    ulps (an underflowing result). NaN and infinities give NaN or an infinite end (no certificate)."""
    return v - np.abs(v) * _WU - _WETA


def _whi(v):
    return v + np.abs(v) * _WU + _WETA


def _mul4(a, b, c, d):
    p, q, r, s = a * c, a * d, b * c, b * d
    return np.minimum(np.minimum(p, q), np.minimum(r, s)), np.maximum(np.maximum(p, q), np.maximum(r, s))


def _div4(a, b, c, d):
    ok = (c > 0) | (d < 0)  # a denominator interval holding 0 (or NaN): no enclosure
    p, q, r, s = a / c, a / d, b / c, b / d
    lo = np.minimum(np.minimum(p, q), np.minimum(r, s))
    hi = np.maximum(np.maximum(p, q), np.maximum(r, s))
    return np.where(ok, lo, np.nan), np.where(ok, hi, np.nan)


def _pow_i(a, b, p, p_nonneg):
    """``[a, b] ** p``, ``p`` an exact point (array or literal; ``p_nonneg``: all >= 0): monotone in the base for
    ``a >= 0`` (else NaN: no enclosure)."""
    pa, pb = np.power(a, p), np.power(b, p)
    if p_nonneg:
        lo, hi = pa, pb
    else:
        inc = p >= 0
        lo, hi = np.where(inc, pa, pb), np.where(inc, pb, pa)
    lo = np.maximum(_wlo(lo), 0.0)
    if not (a >= 0).all():
        bad = ~(a >= 0)
        lo, hi = np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)
    return lo, _whi(hi)


def _pow_p(a, p):
    v = np.power(a, p)
    return np.maximum(_wlo(v), 0.0) if _nonneg(a) else _wlo(v), _whi(v)


def _exp(a, b):
    return np.maximum(_wlo(np.exp(a)), 0.0), _whi(np.exp(b))


def _expm1(a, b):
    return np.maximum(_wlo(np.expm1(a)), -1.0), _whi(np.expm1(b))


def _log(a, b):
    ok = a > 0
    return np.where(ok, _wlo(np.log(a)), np.nan), np.where(ok, _whi(np.log(b)), np.nan)


def _log1p(a, b):
    ok = a > -1
    return np.where(ok, _wlo(np.log1p(a)), np.nan), np.where(ok, _whi(np.log1p(b)), np.nan)


def _sqrt(a, b):
    ok = a >= 0
    return np.where(ok, np.sqrt(np.maximum(a, 0.0)), np.nan), np.where(ok, np.sqrt(b), np.nan)


def _nonneg(a) -> bool:
    """Every element of ``a`` is >= 0 (NaN is not)."""
    return bool((np.asarray(a) >= 0).all())


_FUNCS = {"exp": "_exp", "expm1": "_expm1", "log": "_log", "log1p": "_log1p", "sqrt": "_sqrt"}
_ENV = {"np": np, "_mul4": _mul4, "_div4": _div4, "_pow_i": _pow_i, "_pow_p": _pow_p,
        "_exp": _exp, "_expm1": _expm1, "_log": _log, "_log1p": _log1p, "_sqrt": _sqrt, "_wlo": _wlo, "_whi": _whi,
        "_nonneg": _nonneg}


class _Val:
    """A value of the generated code: an exact point (``lo is hi``, one name) or an interval; ``nn``: the code of
    a Python bool, true where its lower end is >= 0 wherever it is not NaN (inputs are tested once per call)."""

    __slots__ = ("lo", "hi", "point", "nn")

    def __init__(self, lo, hi, point, nn="False"):
        self.lo, self.hi, self.point, self.nn = lo, hi, point, nn


def _literal(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise Unsupported(f"literal {v!r}")
    if isinstance(v, int) and abs(v) > 2 ** 53:
        raise Unsupported(f"integer literal {v} is not a float")
    return float(v)


def _and(x: str, y: str) -> str:
    if x == "False" or y == "False":
        return "False"
    if x == "True":
        return y
    if y == "True":
        return x
    return f"({x} and {y})"


def float_path_enclosure(f, var: str | None = None):
    """The enclosure of ``f``'s float result (module docstring): ``F(lo, hi, *args) -> (Flo, Fhi)``.

    ``f`` is a lambdified numpy function (or its source) of ``(var, *args)``, ``var`` its first argument by
    default; ``lo <= hi`` are arrays of the variable's block ends (``lo >= 0``: the rules take the variable as
    non-negative; an element with ``lo < 0`` gets NaN, no enclosure), ``args`` arrays (or floats) of the other
    inputs, broadcast together. Raises
    :class:`~convtool.numeric.certificate.Unsupported` for a source it cannot follow."""
    src = f if isinstance(f, str) else inspect.getsource(f)
    fd, argnames = lambdified_def(src)
    var = argnames[0] if var is None else var
    if var not in argnames:
        raise Unsupported(f"{var!r} is not an argument")
    lines: list[str] = []
    counter = [0]

    def fresh():
        counter[0] += 1
        return f"t{counter[0]}"

    def assign(code):
        t = fresh()
        lines.append(f"{t} = {code}")
        return t

    def assign2(code):
        lo, hi = fresh(), fresh()
        lines.append(f"{lo}, {hi} = {code}")
        return lo, hi

    names: dict = {}
    params = ["_lo", "_hi"]
    for i, n in enumerate(argnames):
        if n == var:
            names[n] = _Val("_lo", "_hi", False, "True")  # the caller's blocks have lo >= 0
        else:
            names[n] = _Val(f"_a{i}", f"_a{i}", True, f"_nn{i}")
            params.append(f"_a{i}")
            lines.append(f"_nn{i} = _nonneg(_a{i})")

    def nn_name(code: str) -> str:
        if code in ("True", "False") or code.startswith("_nn"):
            return code
        t = fresh()
        lines.append(f"{t} = {code}")
        return t

    def add(x: _Val, y: _Val) -> _Val:
        if x.point and y.point:
            t = assign(f"{x.lo} + {y.lo}")
            return _Val(t, t, True, nn_name(_and(x.nn, y.nn)))
        lo = assign(f"{x.lo} + {y.lo}")
        hi = assign(f"{x.hi} + {y.hi}")
        return _Val(lo, hi, False, nn_name(_and(x.nn, y.nn)))

    def neg(x: _Val) -> _Val:
        if x.point:
            t = assign(f"-{x.lo}")
            return _Val(t, t, True)
        return _Val(f"(-{x.hi})", f"(-{x.lo})", False)

    def sub(x: _Val, y: _Val) -> _Val:
        if x.point and y.point:
            t = assign(f"{x.lo} - {y.lo}")
            return _Val(t, t, True)
        lo = assign(f"{x.lo} - {y.hi}")
        hi = assign(f"{x.hi} - {y.lo}")
        return _Val(lo, hi, False)

    def mul(x: _Val, y: _Val) -> _Val:
        nn = nn_name(_and(x.nn, y.nn))
        if x.point and y.point:
            t = assign(f"{x.lo} * {y.lo}")
            return _Val(t, t, True, nn)
        lo, hi = fresh(), fresh()
        if x.point or y.point:
            pt, iv = (x, y) if x.point else (y, x)
            neg_literal = pt.nn == "False" and pt.lo.startswith("(-") and pt.lo[2:-1].replace(".", "").isdigit()
            if neg_literal:  # a negative literal: the ends swap
                lines.extend([f"{lo} = {pt.lo} * {iv.hi}", f"{hi} = {pt.lo} * {iv.lo}"])
                return _Val(lo, hi, False, "False")
            fast = [f"    {lo} = {pt.lo} * {iv.lo}", f"    {hi} = {pt.lo} * {iv.hi}"]  # x -> p x is increasing
            general = [f"    _p = {pt.lo} * {iv.lo}", f"    _q = {pt.lo} * {iv.hi}",
                       f"    {lo} = np.minimum(_p, _q)", f"    {hi} = np.maximum(_p, _q)"]
            cond = pt.nn
        else:
            fast = [f"    {lo} = {x.lo} * {y.lo}", f"    {hi} = {x.hi} * {y.hi}"]
            general = [f"    {lo}, {hi} = _mul4({x.lo}, {x.hi}, {y.lo}, {y.hi})"]
            cond = nn
        if cond == "True":
            lines.extend(ln[4:] for ln in fast)
        elif cond == "False":
            lines.extend(ln[4:] for ln in general)
        else:
            lines.append(f"if {cond}:")
            lines.extend(fast)
            lines.append("else:")
            lines.extend(general)
        return _Val(lo, hi, False, nn)

    def div(x: _Val, y: _Val) -> _Val:
        if x.point and y.point:
            t = assign(f"{x.lo} / {y.lo}")
            return _Val(t, t, True)
        lo, hi = assign2(f"_div4({x.lo}, {x.hi}, {y.lo}, {y.hi})")
        return _Val(lo, hi, False)

    def power(x: _Val, y: _Val) -> _Val:
        if not y.point:
            raise Unsupported("a power whose exponent depends on the variable")
        if x.point:
            lo, hi = assign2(f"_pow_p({x.lo}, {y.lo})")
            return _Val(lo, hi, False, x.nn)  # (a NaN where the base is negative and the exponent not an integer)
        lo, hi = assign2(f"_pow_i({x.lo}, {x.hi}, {y.lo}, {y.nn})")
        return _Val(lo, hi, False, "True")

    def call(fn: str, x: _Val) -> _Val:
        if fn == "sqrt" and x.point:  # correctly rounded: an exact point stays one
            t = assign(f"np.sqrt({x.lo})")
            return _Val(t, t, True, "True")
        if x.point:
            lo, hi = assign2(f"{_FUNCS[fn]}({x.lo}, {x.lo})")
        else:
            lo, hi = assign2(f"{_FUNCS[fn]}({x.lo}, {x.hi})")
        return _Val(lo, hi, False, "True" if fn in ("exp", "sqrt") else x.nn if fn == "expm1" else "False")

    def node(e) -> _Val:
        if isinstance(e, ast.Name):
            if e.id not in names:
                raise Unsupported(f"unknown name {e.id!r}")
            return names[e.id]
        if isinstance(e, ast.Constant):
            v = _literal(e.value)
            return _Val(repr(v), repr(v), True, str(v >= 0))
        if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub):
            if isinstance(e.operand, ast.Constant):  # a negative literal
                v = -_literal(e.operand.value)
                return _Val(f"({v!r})", f"({v!r})", True, str(v >= 0))
            return neg(node(e.operand))
        if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.UAdd):
            return node(e.operand)
        if isinstance(e, ast.BinOp):
            x, y = node(e.left), node(e.right)
            op = type(e.op)
            if op is ast.Add:
                return add(x, y)
            if op is ast.Sub:
                return sub(x, y)
            if op is ast.Mult:
                return mul(x, y)
            if op is ast.Div:
                return div(x, y)
            if op is ast.Pow:
                return power(x, y)
            raise Unsupported(f"operator {op.__name__}")
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and len(e.args) == 1 and not e.keywords:
            if e.func.id not in _FUNCS:
                raise Unsupported(f"function {e.func.id}()")
            return call(e.func.id, node(e.args[0]))
        raise Unsupported(f"no rule for {ast.dump(e)[:60]}")

    result = None
    for st in fd.body:
        if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name):
            names[st.targets[0].id] = node(st.value)
        elif isinstance(st, ast.Return) and st.value is not None and st is fd.body[-1]:
            result = node(st.value)
        else:
            raise Unsupported(f"statement {type(st).__name__}")
    if result is None:
        raise Unsupported("no return")
    body = "\n".join("        " + ln for ln in lines)
    # the rules above take the variable's lower end as >= 0: elsewhere (or NaN) the element gets no enclosure
    code = (f"def _enclosure({', '.join(params)}):\n"
            f"    with np.errstate(all='ignore'):\n{body if body else '        pass'}\n"
            f"        _r = np.broadcast_arrays({result.lo}, {result.hi}, _lo, _hi)[:2]\n"
            f"        if not (np.asarray(_lo) >= 0).all():\n"
            f"            _bad = ~(np.asarray(_lo) >= 0)\n"
            f"            _r = [np.where(_bad, np.nan, _r[0]), np.where(_bad, np.nan, _r[1])]\n"
            f"        return _r[0], _r[1]\n")
    env = dict(_ENV)
    exec(compile(code, f"<convtool float enclosure of {fd.name}>", "exec"), env)  # noqa: S102 - our own code
    out = env["_enclosure"]
    out.source = code
    out.argnames = tuple(n for n in argnames if n != var)
    return out
