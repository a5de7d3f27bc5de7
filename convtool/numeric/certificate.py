"""Float sign certificates: an enclosure of an expression's exact value in double precision (issue 13).

:func:`interval_function` compiles a sympy expression into Python code that evaluates it in
interval arithmetic on floats: every intermediate is a pair ``lo <= exact <= hi`` for the exact
real value of the expression at the given (exactly binary) float inputs. Where the final interval
excludes a threshold, the sign of ``f - threshold`` is *proven*, and the 50-digit mpmath evaluation
that :mod:`convtool.numeric.roots` uses to verify a root's side (issue 14) is not needed; where the
interval contains it (near a root, within a few ulps of its rounding band) the certificate says
"inconclusive" and mpmath decides. So the certificate never changes an answer, only its cost.

Rounding. ``+ - * /`` and ``sqrt`` are correctly rounded in IEEE 754, so rounding the float result one
ulp outward (``math.nextafter``) encloses the exact one. ``exp``, ``expm1``, ``log``, ``log1p`` and
``pow`` come from the platform's libm, which is not correctly rounded: glibc documents at most 1-2 ulps
for these on x86_64 (its ``libm-test-ulps`` tables); their results are widened by
:data:`LIBM_ULPS` = 4 ulps each way (and one more ``nextafter``). Overflow gives an infinite end, a NaN
anywhere gives the whole line (inconclusive). Where an operation is outside its real domain for part of
an interval (a denominator interval holding 0, ``x^c`` with ``x <= 0`` possible), the result is the
whole line too. ``sqrt`` of an interval reaching below 0 uses ``sqrt(max(lo, 0))`` (the mpmath twin
would be complex there; the expressions verified take ``sqrt`` of products of non-negative inputs).

:func:`vector_interval_function` is the same enclosure in long double (x87 80-bit where the platform has it)
over numpy arrays: at a float within an ulp of a root, where a double enclosure is always inconclusive,
its 64-bit significand nearly always decides, and one pass serves every seed of a batch
(:func:`convtool.numeric.roots.drive_batch`).

Examples
--------
>>> f = interval_function("x*exp(x**c) - 1", ["x", "c"])
>>> lo, hi = f(0.5, 0.5)
>>> import mpmath
>>> exact = mpmath.mpf(0.5) * mpmath.exp(mpmath.sqrt(mpmath.mpf(0.5))) - 1
>>> bool(lo <= exact <= hi), hi - lo < 1e-14, interval_sign((lo, hi))
(True, True, 1)
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["interval_function", "interval_from_lambdified", "interval_sign", "lambdified_def",
           "vector_interval_function", "vector_from_lambdified", "vector_sign", "LD_EXTENDED", "LIBM_ULPS", "Unsupported"]

#: ulps by which a libm result (exp, expm1, log, log1p, pow) is widened each way
LIBM_ULPS = 4

_INF = math.inf
_MAX = 1.7976931348623157e308
_dn = math.nextafter
_ulp = math.ulp


class Unsupported(ValueError):
    """The expression holds a function the interval evaluator does not know (no certificate then)."""


def _int_literal(e):
    """The value of an integer literal node (``3``, ``-2``) of an expression's ``ast``, or None."""
    import ast

    if isinstance(e, ast.Constant) and isinstance(e.value, int) and not isinstance(e.value, bool):
        return e.value
    if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub):
        v = _int_literal(e.operand)
        return None if v is None else -v
    return None


def _down(v: float) -> float:
    return _dn(v, -_INF)


def _up(v: float) -> float:
    return _dn(v, _INF)


def _ldn(v: float) -> float:
    """A lower bound of the exact value of a libm result ``v`` (LIBM_ULPS + 1 ulps below)."""
    if v != v:
        return -_INF
    if v == _INF:
        return _MAX
    if v == -_INF:
        return -_INF
    return _down(v - LIBM_ULPS * _ulp(v))


def _lup(v: float) -> float:
    if v != v:
        return _INF
    if v == -_INF:
        return -_MAX
    if v == _INF:
        return _INF
    return _up(v + LIBM_ULPS * _ulp(v))


def _add(a, b, c, d):
    lo, hi = a + c, b + d
    if lo != lo or hi != hi:
        return -_INF, _INF
    return _down(lo), _up(hi)


def _neg(a, b):
    return -b, -a


def _mul(a, b, c, d):
    p = (a * c, a * d, b * c, b * d)
    if p[0] != p[0] or p[1] != p[1] or p[2] != p[2] or p[3] != p[3]:
        return -_INF, _INF
    return _down(min(p)), _up(max(p))


def _sq(a, b):
    if a >= 0:
        return _down(a * a), _up(b * b)
    if b <= 0:
        return _down(b * b), _up(a * a)
    m = max(-a, b)
    return 0.0, _up(m * m)


def _div(a, b, c, d):
    if not (c > 0 or d < 0):  # the denominator may be 0 (or NaN)
        return -_INF, _INF
    p = (a / c, a / d, b / c, b / d)
    if p[0] != p[0] or p[1] != p[1] or p[2] != p[2] or p[3] != p[3]:
        return -_INF, _INF
    return _down(min(p)), _up(max(p))


def _sqrt(a, b):
    if not b >= 0:
        return -_INF, _INF
    return (_down(math.sqrt(a)) if a > 0 else 0.0), _up(math.sqrt(b))


def _mono(fn, a, b):
    """Enclosure of an increasing libm function on [a, b]."""
    try:
        lo = _ldn(fn(a))
    except OverflowError:
        lo = _MAX
    except ValueError:
        return -_INF, _INF
    try:
        hi = _lup(fn(b))
    except OverflowError:
        hi = _INF
    except ValueError:
        return -_INF, _INF
    return lo, hi


def _exp(a, b):
    lo, hi = _mono(math.exp, a, b)
    return max(lo, 0.0), hi


def _expm1(a, b):
    lo, hi = _mono(math.expm1, a, b)
    return max(lo, -1.0), hi


def _log(a, b):
    if not a > 0:
        return -_INF, _INF
    return _mono(math.log, a, b)


def _log1p(a, b):
    if not a > -1:
        return -_INF, _INF
    return _mono(math.log1p, a, b)


def _pow1(x, y):
    try:
        return math.pow(x, y)
    except OverflowError:
        return _INF
    except ValueError:
        return math.nan


def _pow(a, b, c, d):
    """``x^y`` for x in [a, b] with a > 0: monotone in each argument, so extreme at the corners."""
    if not a > 0:
        return -_INF, _INF
    p = (_pow1(a, c), _pow1(a, d), _pow1(b, c), _pow1(b, d))
    if p[0] != p[0] or p[1] != p[1] or p[2] != p[2] or p[3] != p[3]:
        return -_INF, _INF
    return max(_ldn(min(p)), 0.0), _lup(max(p))


def _ipow(a, b, n):
    """``x^n`` for an integer n >= 3 (n = 2 is :func:`_sq`): odd powers are increasing, even ones
    increasing in |x|."""
    if n % 2 == 1 or a >= 0:
        lo, hi = _pow1(a, n), _pow1(b, n)
    elif b <= 0:
        lo, hi = _pow1(b, n), _pow1(a, n)
    else:
        return 0.0, _lup(_pow1(max(-a, b), n))
    if lo != lo or hi != hi:
        return -_INF, _INF
    return _ldn(lo), _lup(hi)


_ENV = {"_add": _add, "_neg": _neg, "_mul": _mul, "_sq": _sq, "_div": _div, "_sqrt": _sqrt, "_exp": _exp,
        "_expm1": _expm1, "_log": _log, "_log1p": _log1p, "_pow": _pow, "_ipow": _ipow, "_dn": _dn,
        "INF": _INF, "NINF": -_INF, "WHOLE": (-_INF, _INF)}


def _const(v) -> tuple[float, float]:
    """An enclosure of a numeric literal of the source (an int, or a float taken as its decimal value)."""
    if isinstance(v, bool):
        raise Unsupported(f"boolean literal {v!r}")
    if isinstance(v, int) and abs(v) <= 2 ** 53:
        f = float(v)
        return f, f
    if isinstance(v, (int, float)):
        f = float(v)
        return _down(f), _up(f)
    raise Unsupported(f"literal {v!r}")


_FUNCS = {"exp": "_exp", "expm1": "_expm1", "log": "_log", "log1p": "_log1p", "sqrt": "_sqrt"}


def interval_function(expression: str, argnames):
    """Compile the Python/mpmath expression ``expression`` of ``argnames`` to ``f(*floats) -> (lo, hi)``.

    ``expression`` is the text a lambdified mpmath function returns (``+ - * / **``, unary minus,
    ``exp``, ``expm1``, ``log``, ``log1p``, ``sqrt``, ``mpf(<int>)``, numeric literals). The result
    satisfies ``lo <= expression(*inputs) <= hi`` for the exact real value at the exact binary values
    of the float inputs (rounding model: module docstring). Identical subexpressions are evaluated
    once; additions, negations and products are written inline (the rest call the helpers above).
    Raises :class:`Unsupported` for anything else.
    """
    import ast

    names = {a: f"v{i}" for i, a in enumerate(argnames)}
    lines: list[str] = []
    memo: dict = {}

    def fresh() -> tuple[str, str]:
        k = len(memo) + len(lines)
        return f"l{k}", f"h{k}"

    def emit(code: str) -> tuple[str, str]:
        lo, hi = fresh()
        lines.append(f"{lo}, {hi} = {code}")
        return lo, hi

    int_literal = _int_literal

    def add(x, y):
        lo, hi = fresh()
        lines.extend([f"{lo} = {x[0]} + {y[0]}", f"{hi} = {x[1]} + {y[1]}",
                  f"if {lo} != {lo} or {hi} != {hi}: return WHOLE",
                  f"{lo} = _dn({lo}, NINF)", f"{hi} = _dn({hi}, INF)"])
        return lo, hi

    def mul(x, y):
        lo, hi = fresh()
        if x[0] == x[1] and x[0].startswith("v") and y[0] == y[1] and y[0].startswith("v"):
            lines.extend([f"{lo} = {x[0]} * {y[0]}", f"if {lo} != {lo}: return WHOLE",
                      f"{hi} = _dn({lo}, INF)", f"{lo} = _dn({lo}, NINF)"])
            return lo, hi
        if x[0] == x[1] or y[0] == y[1]:  # a point (an input or a literal) times an interval: two products
            pt, iv = (x[0], y) if x[0] == x[1] else (y[0], x)
            lines.extend([f"p = {pt} * {iv[0]}", f"q = {pt} * {iv[1]}", "if p != p or q != q: return WHOLE",
                          f"{lo} = _dn(p if p < q else q, NINF)", f"{hi} = _dn(q if p < q else p, INF)"])
            return lo, hi
        lines.extend([f"p = ({x[0]} * {y[0]}, {x[0]} * {y[1]}, {x[1]} * {y[0]}, {x[1]} * {y[1]})",
                  "if p[0] != p[0] or p[1] != p[1] or p[2] != p[2] or p[3] != p[3]: return WHOLE",
                  f"{lo} = _dn(min(p), NINF)", f"{hi} = _dn(max(p), INF)"])
        return lo, hi

    def node(e) -> tuple[str, str]:
        key = ast.dump(e)
        if key in memo:
            return memo[key]
        if isinstance(e, ast.Name):
            if e.id not in names:
                raise Unsupported(f"unknown name {e.id!r}")
            out = (names[e.id], names[e.id])
        elif isinstance(e, ast.Constant):
            out = tuple(repr(v) for v in _const(e.value))
        elif isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub):
            x = node(e.operand)
            out = (f"(-{x[1]})", f"(-{x[0]})")
        elif isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.UAdd):
            out = node(e.operand)
        elif isinstance(e, ast.BinOp) and isinstance(e.op, ast.Add):
            out = add(node(e.left), node(e.right))
        elif isinstance(e, ast.BinOp) and isinstance(e.op, ast.Sub):
            y = node(e.right)
            out = add(node(e.left), (f"(-{y[1]})", f"(-{y[0]})"))
        elif isinstance(e, ast.BinOp) and isinstance(e.op, ast.Mult):
            out = mul(node(e.left), node(e.right))
        elif isinstance(e, ast.BinOp) and isinstance(e.op, ast.Div):
            x, y = node(e.left), node(e.right)
            out = emit(f"_div({x[0]}, {x[1]}, {y[0]}, {y[1]})")
        elif isinstance(e, ast.BinOp) and isinstance(e.op, ast.Pow):
            b, n = node(e.left), int_literal(e.right)
            if n is None:
                y = node(e.right)
                out = emit(f"_pow({b[0]}, {b[1]}, {y[0]}, {y[1]})")
            elif n == 0:
                out = ("1.0", "1.0")
            else:
                p = b if abs(n) == 1 else emit(f"_sq({b[0]}, {b[1]})" if abs(n) == 2
                                               else f"_ipow({b[0]}, {b[1]}, {abs(n)})")
                out = emit(f"_div(1.0, 1.0, {p[0]}, {p[1]})") if n < 0 else p
        elif isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and len(e.args) == 1 and not e.keywords:
            fn = e.func.id
            if fn == "mpf":
                a = e.args[0]
                if not isinstance(a, ast.Constant):
                    raise Unsupported("mpf of a non-literal")
                out = tuple(repr(v) for v in _const(a.value))
            elif fn in _FUNCS:
                x = node(e.args[0])
                out = emit(f"{_FUNCS[fn]}({x[0]}, {x[1]})")
            else:
                raise Unsupported(f"no interval rule for {fn}()")
        else:
            raise Unsupported(f"no interval rule for {ast.dump(e)[:60]}")
        memo[key] = out
        return out

    tree = ast.parse(expression.strip(), mode="eval")
    res = node(tree.body)
    body = "\n".join("    " + ln for ln in lines)
    src = f"def _interval({', '.join(names.values())}):\n{body}\n    return {res[0]}, {res[1]}\n"
    env = dict(_ENV)
    exec(compile(src, "<convtool interval>", "exec"), env)  # noqa: S102 - our own generated source
    fn = env["_interval"]
    fn.source = src
    return fn


def interval_from_lambdified(source: str):
    """:func:`interval_function` of a lambdified one-line function's source: ``(f, argnames)``.

    The source must be ``def name(args): return <expression>`` (what ``sympy.lambdify`` writes for
    mpmath without ``cse``); anything else raises :class:`Unsupported`.
    """
    import ast

    fd, argnames = lambdified_def(source, one_line=True)
    return interval_function(ast.unparse(fd.body[0].value), argnames), tuple(argnames)


def lambdified_def(source: str, one_line: bool = False):
    """``(def node, argument names)`` of the one function a lambdified source holds (its syntax tree), for the
    evaluators built from such sources (here, :mod:`convtool.numeric.float_enclosure`,
    :mod:`convtool.numeric.stacked_eval`); ``one_line``: its body must be one ``return``. Raises
    :class:`Unsupported` for anything else, or for a signature with defaults, ``*args`` or keywords."""
    import ast
    import textwrap

    mod = ast.parse(textwrap.dedent(source))
    fdefs = [n for n in mod.body if isinstance(n, ast.FunctionDef)]
    if len(fdefs) != 1:
        raise Unsupported("not one function")
    fd = fdefs[0]
    if one_line and (len(fd.body) != 1 or not isinstance(fd.body[0], ast.Return)):
        raise Unsupported("not a one-line lambdified function")
    a = fd.args
    if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs or a.defaults:
        raise Unsupported("unexpected signature")
    return fd, [x.arg for x in a.args]


def interval_sign(enclosure: tuple[float, float], threshold: float = 0.0) -> int:
    """``+1`` / ``-1`` where the enclosure proves ``f > threshold`` / ``f < threshold``; ``0`` inconclusive."""
    lo, hi = enclosure
    if lo > threshold:
        return 1
    if hi < threshold:
        return -1
    return 0


# ---------------------------------------------------------------- long double, vectorized (issue 13)

#: the extended type of the vectorized enclosures: x87 80-bit long double where the platform has it (64-bit
#: significand, 2048 times finer than a double: enough to decide the signs at a root +- an ulp of a double);
#: where ``numpy.longdouble`` is a plain double the enclosures stay valid but seldom decide there
LD = np.longdouble
LD_EXTENDED = bool(np.finfo(LD).nmant > np.finfo(np.float64).nmant)
_LNINF, _LINF = LD(-np.inf), LD(np.inf)


def _vdn(x):
    return np.nextafter(x, _LNINF)


def _vup(x):
    return np.nextafter(x, _LINF)


def _vwl(v):
    """Lower bound of the exact value of a libm (long double) result ``v``: LIBM_ULPS + 1 ulps below."""
    w = _vdn(v - LIBM_ULPS * np.abs(np.spacing(v)))
    return np.where(v == _LINF, LD(np.finfo(LD).max), w)


def _vwu(v):
    w = _vup(v + LIBM_ULPS * np.abs(np.spacing(v)))
    return np.where(v == _LNINF, -LD(np.finfo(LD).max), w)


def _vmin4(p1, p2, p3, p4):
    return np.minimum(np.minimum(p1, p2), np.minimum(p3, p4))


def _vmax4(p1, p2, p3, p4):
    return np.maximum(np.maximum(p1, p2), np.maximum(p3, p4))


def _vadd(a, b, c, d):
    return _vdn(a + c), _vup(b + d)


def _vmul(a, b, c, d, nonneg=None):
    """``[a, b] * [c, d]``; ``nonneg``: whether both lower ends are known to be >= 0 everywhere (no NaN), checked
    here where not given. Then the ends multiply; else :func:`_vmul4`."""
    if nonneg is None:
        nonneg = bool((a >= 0).all() and (c >= 0).all())
    if nonneg:
        return _vdn(a * c), _vup(b * d)
    return _vmul4(a, b, c, d)


def _vmul4(a, b, c, d):
    """The general product rule: the extremes of the four corner products (a NaN stays NaN)."""
    p = (a * c, a * d, b * c, b * d)
    return _vdn(_vmin4(*p)), _vup(_vmax4(*p))


def _vsq(a, b):
    lo = np.where(a >= 0, a * a, np.where(b <= 0, b * b, LD(0)))
    return _vdn(lo), _vup(np.maximum(a * a, b * b))


def _vdiv(a, b, c, d):
    ok = (c > 0) | (d < 0)
    p = (a / c, a / d, b / c, b / d)
    return np.where(ok, _vdn(_vmin4(*p)), _LNINF), np.where(ok, _vup(_vmax4(*p)), _LINF)


def _vsqrt(a, b):
    lo = np.where(a > 0, _vdn(np.sqrt(np.maximum(a, LD(0)))), LD(0))
    return np.where(b >= 0, lo, _LNINF), np.where(b >= 0, _vup(np.sqrt(b)), _LINF)


def _vexp(a, b):
    return np.maximum(_vwl(np.exp(a)), LD(0)), _vwu(np.exp(b))


def _vexpm1(a, b):
    return np.maximum(_vwl(np.expm1(a)), LD(-1)), _vwu(np.expm1(b))


def _vlog(a, b):
    ok = a > 0
    return np.where(ok, _vwl(np.log(a)), _LNINF), np.where(ok, _vwu(np.log(b)), _LINF)


def _vlog1p(a, b):
    ok = a > -1
    return np.where(ok, _vwl(np.log1p(a)), _LNINF), np.where(ok, _vwu(np.log1p(b)), _LINF)


def _vpow(a, b, c, d):
    p = (np.power(a, c), np.power(a, d), np.power(b, c), np.power(b, d))
    ok = a > 0
    return (np.where(ok, np.maximum(_vwl(_vmin4(*p)), LD(0)), _LNINF),
            np.where(ok, _vwu(_vmax4(*p)), _LINF))


def _vpow_pp(a, c):
    """:func:`_vpow` of two exact points (its four corner powers are one)."""
    p = np.power(a, c)
    ok = a > 0
    return np.where(ok, np.maximum(_vwl(p), LD(0)), _LNINF), np.where(ok, _vwu(p), _LINF)


def _vipow(x, n):
    """``x^n`` for an integer n >= 1 by repeated squaring of intervals (an enclosure, maybe a little wide)."""
    result, base = None, x
    while n:
        if n & 1:
            result = base if result is None else _vmul(*result, *base)
        n >>= 1
        if n:
            base = _vsq(*base)
    return result


_VFUNCS = {"exp": _vexp, "expm1": _vexpm1, "log": _vlog, "log1p": _vlog1p, "sqrt": _vsqrt}


def vector_interval_function(expression: str, argnames):
    """:func:`interval_function` in long double over numpy arrays: ``f(*arrays) -> (lo, hi)``.

    The same rounding model (module docstring) with long double arithmetic (``numpy.nextafter`` outward,
    libm results widened by :data:`LIBM_ULPS` of the long double); a NaN anywhere leaves that element
    inconclusive (NaN ends compare false). One call answers many points and instances at once (the seeds of a
    batch: :func:`convtool.numeric.roots.drive_batch`).
    """
    import ast

    tree = ast.parse(expression.strip(), mode="eval").body
    index = {a: i for i, a in enumerate(argnames)}

    int_literal = _int_literal

    def const(v):
        lo, hi = _const(v)
        if lo == hi:
            return LD(lo), LD(lo)
        return _vdn(LD(lo)), _vup(LD(hi))

    def check(e):  # refuse, at build time, what the evaluator cannot enclose
        for n in ast.walk(e):
            if isinstance(n, ast.Name) and n.id not in index and n.id not in _VFUNCS and n.id != "mpf":
                raise Unsupported(f"unknown name {n.id!r}")
            if isinstance(n, ast.Call) and not (isinstance(n.func, ast.Name) and len(n.args) == 1 and not n.keywords
                                                and (n.func.id in _VFUNCS or n.func.id == "mpf")):
                raise Unsupported("unsupported call")
            if isinstance(n, ast.BinOp) and not isinstance(n.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)):
                raise Unsupported("unsupported operator")
            if isinstance(n, ast.UnaryOp) and not isinstance(n.op, (ast.USub, ast.UAdd)):
                raise Unsupported("unsupported operator")
            if isinstance(n, ast.Constant):
                _const(n.value)

    check(tree)
    # a tape: each distinct subexpression once, operands before their uses (built once, evaluated per call)
    tape: list = []
    slot: dict = {}

    def compile_(e) -> int:
        key = ast.dump(e)
        if key in slot:
            return slot[key]
        if isinstance(e, ast.Name):
            ins = ("arg", index[e.id])
        elif isinstance(e, ast.Constant):
            ins = ("const", const(e.value))
        elif isinstance(e, ast.Call) and e.func.id == "mpf":
            ins = ("const", const(e.args[0].value))
        elif isinstance(e, ast.UnaryOp):
            ins = ("neg" if isinstance(e.op, ast.USub) else "pos", compile_(e.operand))
        elif isinstance(e, ast.BinOp) and isinstance(e.op, ast.Pow) and int_literal(e.right) is not None:
            ins = ("ipow", compile_(e.left), int_literal(e.right))
        elif isinstance(e, ast.BinOp):
            op = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}[type(e.op)]
            ins = (op, compile_(e.left), compile_(e.right))
        else:
            ins = ("fn", _VFUNCS[e.func.id], compile_(e.args[0]))
        tape.append(ins)
        slot[key] = len(tape) - 1
        return slot[key]

    compile_(tree)
    tape = _specialize(tape)

    def f(*arrays):
        env = [np.asarray(a, dtype=LD) for a in arrays]
        val: list = []
        nn: dict = {}  # slot -> its lower end is >= 0 everywhere (no NaN), checked once per call

        def nonneg(k):
            v = nn.get(k)
            if v is None:
                v = nn[k] = bool((val[k][0] >= 0).all())
            return v

        with np.errstate(all="ignore"):
            for ins in tape:
                op = ins[0]
                if op == "arg":
                    v = env[ins[1]]
                    out = (v, v)
                elif op == "const":
                    out = ins[1]
                elif op == "neg":
                    x = val[ins[1]]
                    out = (-x[1], -x[0])
                elif op == "pos":
                    out = val[ins[1]]
                elif op == "mul_pp":  # two exact points: one product, rounded outward
                    p = val[ins[1]][0] * val[ins[2]][0]
                    out = (_vdn(p), _vup(p))
                elif op == "mul_pi":  # an exact point times an interval: two products
                    x, y = val[ins[1]][0], val[ins[2]]
                    p, q = x * y[0], x * y[1]
                    if nonneg(ins[1]):  # (no NaN in x) the order is kept
                        out = (_vdn(p), _vup(q))
                    else:
                        out = (_vdn(np.minimum(p, q)), _vup(np.maximum(p, q)))
                elif op == "mul_ci":  # a positive literal times an interval: order kept
                    x, y = ins[1], val[ins[2]]
                    out = (_vdn(x * y[0]), _vup(x * y[1]))
                elif op == "add_pp":
                    p = val[ins[1]][0] + val[ins[2]][0]
                    out = (_vdn(p), _vup(p))
                elif op == "add":
                    out = _vadd(*val[ins[1]], *val[ins[2]])
                elif op == "sub":  # [a - d, b - c]: the same floats as a + (-d), b + (-c)
                    x, y = val[ins[1]], val[ins[2]]
                    out = (_vdn(x[0] - y[1]), _vup(x[1] - y[0]))
                elif op == "mul":
                    out = _vmul(*val[ins[1]], *val[ins[2]], nonneg=nonneg(ins[1]) and nonneg(ins[2]))
                elif op == "div":
                    out = _vdiv(*val[ins[1]], *val[ins[2]])
                elif op == "pow":
                    out = _vpow(*val[ins[1]], *val[ins[2]])
                elif op == "pow_pp":
                    out = _vpow_pp(val[ins[1]][0], val[ins[2]][0])
                elif op == "ipow":
                    x, n = val[ins[1]], ins[2]
                    if n == 0:
                        out = (LD(1), LD(1))
                    else:
                        p = x if abs(n) == 1 else (_vsq(*x) if abs(n) == 2 else _vipow(x, abs(n)))
                        out = _vdiv(LD(1), LD(1), *p) if n < 0 else p
                else:
                    out = ins[1](*val[ins[2]])
                val.append(out)
            lo, hi = val[-1]
            return np.broadcast_arrays(lo, hi, *env)[:2]

    f.tape = tape
    return f


def _specialize(tape: list) -> list:
    """The tape with cheaper, equally valid rules where an operand is an exact point (an input, or a literal
    exactly representable, or the negation of one): a product or sum of two points is one rounded operation
    widened by a long double ulp each way (what the general rules give for degenerate intervals, with 1 of
    their 4 products), a point times an interval takes 2 products, a positive literal keeps the order. The
    general rules handle NaN and infinities the same way (a NaN stays NaN, so the element stays inconclusive).
    A power of two points is one ``pow`` (the general rule's four corners coincide), the square of a point one
    product."""
    point: list = []
    out: list = []
    for ins in tape:
        op = ins[0]
        is_point = False
        if op == "arg":
            is_point = True
        elif op == "const":
            is_point = bool(ins[1][0] == ins[1][1])
        elif op in ("neg", "pos"):
            is_point = point[ins[1]]
        elif op == "mul":
            a, b = ins[1], ins[2]
            if point[a] and point[b]:
                ins = ("mul_pp", a, b)
            elif point[a] or point[b]:
                pt, iv = (a, b) if point[a] else (b, a)
                c = tape[pt]
                if c[0] == "const" and c[1][0] > 0:
                    ins = ("mul_ci", c[1][0], iv)
                else:
                    ins = ("mul_pi", pt, iv)
        elif op == "add" and point[ins[1]] and point[ins[2]]:
            ins = ("add_pp", ins[1], ins[2])
        elif op == "pow" and point[ins[1]] and point[ins[2]]:  # the four corners coincide: one pow
            ins = ("pow_pp", ins[1], ins[2])
        elif op == "ipow" and ins[2] == 2 and point[ins[1]]:  # the square of a point: one product
            ins = ("mul_pp", ins[1], ins[1])
        point.append(is_point)
        out.append(ins)
    return out


def vector_from_lambdified(source: str):
    """:func:`vector_interval_function` of a lambdified one-line function's source: ``(f, argnames)``."""
    import ast

    fd, argnames = lambdified_def(source, one_line=True)
    return vector_interval_function(ast.unparse(fd.body[0].value), argnames), tuple(argnames)


def vector_sign(lo, hi, threshold) -> np.ndarray:
    """Elementwise :func:`interval_sign` of long double enclosures: +1, -1, or 0 (inconclusive, NaN included)."""
    t = np.asarray(threshold, dtype=LD)
    return np.where(lo > t, 1, np.where(hi < t, -1, 0))
