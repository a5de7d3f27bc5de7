"""Symbolic activations for the shallow networks of Song et al.: a safe parser and the built-in ones.

An activation is a sympy expression in the one real symbol :data:`x`. From it convtool derives phi',
phi'' symbolically (and compiled, vectorized versions for the engine), the smoothness of Assumption 2
(phi twice differentiable: checked at the break points of every ``Piecewise``), ``phi(0) = 0`` and the
parity. The numbers (sup |phi'|, sup |phi''|, Hermite coefficients, r1, r2) are in
:mod:`convtool.numeric.hermite`.

Parsing an untrusted string
---------------------------
``sympify``, ``eval`` and even ``parse_expr`` with a restricted namespace *execute* the string: a payload
such as ``sin.eval.__globals__['__builtins__']['__import__']('os').system(...)`` runs through ``parse_expr``.
:func:`parse_activation` therefore never hands the string to sympy: Python's :mod:`ast` parses it (parsing
executes nothing), the tree is checked against a whitelist -- numbers, the name ``x``, ``+ - * / **``,
unary ``+ -``, calls of the functions in :data:`FUNCTIONS` with exactly one positional argument -- and
the sympy expression is built from the checked tree by hand. Attributes, subscripts, other names (dunders
included), keywords, starred arguments, lambdas, comparisons, strings are refused; so are strings over
:data:`MAX_CHARS` characters, trees deeper than :data:`MAX_DEPTH` or larger than :data:`MAX_NODES`, numbers
larger than :data:`MAX_NUMBER` in magnitude and constant exponents larger than :data:`MAX_EXPONENT` (so
``x**(10**10**10)`` is refused at once instead of computing a huge integer).

Examples
--------
>>> act = parse_activation("x + 0.1*sin(x)")
>>> act.expr
x + 0.1*sin(x)
>>> act.d1
0.1*cos(x) + 1
>>> builtin("gelu").phi0_is_zero, builtin("sigmoid").phi0_is_zero
(True, False)
>>> parse_activation("__import__('os')")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
convtool.errors.InputError: --activation: function '__import__' is not allowed (allowed: sin, cos, ...)
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from convtool.errors import InputError

__all__ = ["x", "FUNCTIONS", "BUILTINS", "SymbolicActivation", "parse_activation", "builtin", "activation_from",
           "MAX_CHARS", "MAX_DEPTH", "MAX_NODES", "MAX_NUMBER", "MAX_EXPONENT"]

#: the variable of every activation
x = sp.Symbol("x", real=True)

MAX_CHARS = 200
MAX_DEPTH = 24
MAX_NODES = 80
MAX_NUMBER = 1e12
MAX_EXPONENT = 64


def _sigmoid(u):
    return 1 / (1 + sp.exp(-u))


def _softplus(u):
    return sp.log(1 + sp.exp(u))


def _Phi(u):
    return (1 + sp.erf(u / sp.sqrt(2))) / 2


def _relu(u):
    return sp.Piecewise((u, u > 0), (0, True))


#: the functions a typed activation may call (one positional argument each)
FUNCTIONS = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt,
    "tanh": sp.tanh, "sinh": sp.sinh, "cosh": sp.cosh, "atan": sp.atan, "erf": sp.erf,
    "sigmoid": _sigmoid, "softplus": _softplus, "Phi": _Phi, "relu": _relu,
}

_FUNC_LIST = ", ".join(FUNCTIONS)
_BINOPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b}


def _err(msg: str) -> InputError:
    return InputError(f"--activation: {msg}")


def _depth(node, d=0) -> int:
    kids = list(ast.iter_child_nodes(node))
    return d if not kids else max(_depth(k, d + 1) for k in kids)


def _number(node) -> sp.Expr:
    v = node.value
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _err(f"constant {v!r} is not a real number")
    if not np.isfinite(v) or abs(v) > MAX_NUMBER:
        raise _err(f"number {v!r} is out of range (|value| <= {MAX_NUMBER:g})")
    return sp.Integer(v) if isinstance(v, int) else sp.Float(v)


def _const_value(node) -> float | None:
    """The float value of a constant subtree (numbers and + - * / ** of numbers), or None; bounded."""
    if isinstance(node, ast.Constant):
        return float(_number(node))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _const_value(node.operand)
        return None if v is None else (-v if isinstance(node.op, ast.USub) else v)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        a, b = _const_value(node.left), _const_value(node.right)
        if a is None or b is None:
            return None
        if isinstance(node.op, ast.Pow):
            if abs(b) > MAX_EXPONENT or abs(a) > MAX_NUMBER:
                raise _err(f"constant power {a:g}**{b:g} is out of range (|exponent| <= {MAX_EXPONENT})")
        if isinstance(node.op, ast.Div) and b == 0:
            raise _err("division by zero")
        with np.errstate(all="ignore"):
            try:
                v = float(_BINOPS[type(node.op)](a, b))
            except (OverflowError, ZeroDivisionError, ValueError):
                raise _err("constant subexpression is out of range") from None
        if isinstance(v, complex) or not np.isfinite(v) or abs(v) > MAX_NUMBER ** 2:
            raise _err("constant subexpression is out of range")
        return v
    return None


def _build(node) -> sp.Expr:
    if isinstance(node, ast.Expression):
        return _build(node.body)
    if isinstance(node, ast.Constant):
        return _number(node)
    if isinstance(node, ast.Name):
        if node.id == "x":
            return x
        raise _err(f"name {node.id!r} is not allowed (only x and the functions: {_FUNC_LIST})")
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.USub):
            return -_build(node.operand)
        if isinstance(node.op, ast.UAdd):
            return _build(node.operand)
        raise _err(f"operator {type(node.op).__name__} is not allowed")
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            raise _err(f"operator {type(node.op).__name__} is not allowed (only + - * / **)")
        if isinstance(node.op, ast.Pow):
            e = _const_value(node.right)
            if e is not None and abs(e) > MAX_EXPONENT:
                raise _err(f"exponent {e:g} is out of range (|exponent| <= {MAX_EXPONENT})")
            _const_value(node.left)  # a constant base is range-checked too
        _const_value(node)  # every constant subtree is evaluated within bounds first
        return _BINOPS[type(node.op)](_build(node.left), _build(node.right))
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise _err("only plain function calls are allowed (no attributes, subscripts or calls of calls)")
        name = node.func.id
        if name not in FUNCTIONS:
            raise _err(f"function {name!r} is not allowed (allowed: {_FUNC_LIST})")
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise _err(f"{name}() takes exactly one positional argument")
        return FUNCTIONS[name](_build(node.args[0]))
    what = {ast.Attribute: "attribute access", ast.Subscript: "subscripts", ast.Lambda: "lambda",
            ast.Compare: "comparisons", ast.BoolOp: "boolean operators"}.get(type(node), type(node).__name__)
    raise _err(f"{what} is not allowed in an activation expression")


def _break_points(expr: sp.Expr) -> tuple[list, str | None]:
    """Real points where a ``Piecewise`` of ``expr`` switches branch, or a reason why they are unknown."""
    pts = []
    for pw in expr.atoms(sp.Piecewise):
        for _, cond in pw.args:
            if cond in (sp.true, sp.false):
                continue
            if not isinstance(cond, sp.core.relational.Relational):
                return [], f"cannot locate the break points of {pw}"
            g = sp.expand(cond.lhs - cond.rhs)
            if not g.is_polynomial(x) or sp.degree(g, x) > 2:
                return [], f"cannot locate the break points of {pw} (non-polynomial switch)"
            for r in sp.Poly(g, x).real_roots():
                pts.append(float(r))
    return sorted(set(pts)), None


@dataclass(eq=False)
class SymbolicActivation:
    """An activation phi(x) as a sympy expression, with its derivatives, compiled versions and checks.

    Attributes: ``name``, ``text`` (what was typed or the built-in name), ``expr``, ``d1``, ``d2``,
    ``d3`` (sympy), ``phi``/``dphi``/``d2phi``/``d3phi`` (vectorized numpy), ``smooth_reason`` (why phi is
    not twice differentiable, or None: Assumption 2, Remark 2), ``phi0`` (phi(0)), ``builtin``.
    """

    name: str
    text: str
    expr: sp.Expr
    builtin: bool = False
    numeric: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        bad = [a for a in (sp.zoo, sp.nan, sp.oo, -sp.oo) if self.expr.has(a)]
        if bad or self.expr.has(sp.I):
            raise _err(f"{self.text!r} is not a finite real expression")
        free = self.expr.free_symbols - {x}
        if free:
            raise _err(f"{self.text!r} has free symbols other than x: {', '.join(sorted(map(str, free)))}")
        self.d1 = sp.diff(self.expr, x)
        self.d2 = sp.diff(self.d1, x)
        self.d3 = sp.diff(self.d2, x)
        mods = ["scipy", "numpy"]
        self.phi = self.numeric.get("phi") or _vec(sp.lambdify(x, self.expr, mods))
        self.dphi = self.numeric.get("dphi") or _vec(sp.lambdify(x, self.d1, mods))
        self.d2phi = self.numeric.get("d2phi") or _vec(sp.lambdify(x, self.d2, mods))
        self.d3phi = self.numeric.get("d3phi") or _vec(sp.lambdify(x, self.d3, mods))
        v0 = self.expr.subs(x, 0)
        self.phi0 = float(v0) if v0.is_finite else float(self.phi(np.array([0.0]))[0])
        self.smooth_reason = self._smoothness()

    @property
    def phi0_is_zero(self) -> bool:
        return self.phi0 == 0.0

    @property
    def smooth(self) -> bool:
        return self.smooth_reason is None

    def _smoothness(self) -> str | None:
        """Why phi is not C^2 on R (Assumption 2; Remark 2 excludes ReLU), or None."""
        if self.expr.has(sp.Abs, sp.sign, sp.Heaviside, sp.DiracDelta, sp.Max, sp.Min):
            return "phi uses a non-smooth function"
        pts, why = _break_points(self.expr)
        if why:
            return why
        for p in pts:  # one-sided values 1e-9 away (sympy's limit of a Piecewise is unreliable)
            h = 1e-9 * max(1.0, abs(p))
            for k, f in enumerate((self.phi, self.dphi, self.d2phi)):
                lo, hi = (float(f(np.array([p + s * h]))[0]) for s in (-1, 1))
                if not (np.isfinite(lo) and np.isfinite(hi)) or abs(lo - hi) > 1e-6 * (1 + abs(lo)):
                    what = ("phi", "phi'", "phi''")[k]
                    return (f"{what} jumps at x = {p:g} ({lo:.6g} from the left, {hi:.6g} from the right): "
                            f"phi is not twice differentiable (Assumption 2; Remark 2 excludes ReLU)")
        grid = np.linspace(-20, 20, 4001)
        with np.errstate(all="ignore"):
            vals = [f(grid) for f in (self.phi, self.dphi, self.d2phi)]
        if not all(np.isfinite(v).all() for v in vals):
            return "phi, phi' or phi'' is not finite (or not real) somewhere on [-20, 20]"
        return None

    def activation(self):
        """The engine's :class:`~convtool.numeric.feedforward.Activation` (phi, phi', phi'' compiled)."""
        from convtool.numeric.feedforward import Activation

        return Activation(self.name, self.phi, self.dphi, self.d2phi)

    def to_dict(self) -> dict:
        return {"name": self.name, "expression": str(self.expr), "phi_prime": str(self.d1),
                "phi_second": str(self.d2), "builtin": self.builtin, "phi0": self.phi0,
                "phi0_is_zero": self.phi0_is_zero, "twice_differentiable": self.smooth,
                **({"not_twice_differentiable_reason": self.smooth_reason} if self.smooth_reason else {})}


def _vec(f):
    """A lambdified function made elementwise on arrays (a constant expression returns a scalar)."""
    def g(z):
        z = np.asarray(z, dtype=np.float64)
        with np.errstate(all="ignore"):
            out = f(z)
        return np.broadcast_to(np.asarray(out, dtype=np.float64), z.shape).copy() if np.ndim(out) == 0 \
            else np.asarray(out, dtype=np.float64)
    return g


def parse_activation(text: str, name: str | None = None) -> SymbolicActivation:
    """Parse an activation typed by a user (module docstring: never executed, whitelisted tree).

    Raises :class:`~convtool.errors.InputError` (one line) for anything outside the whitelist.
    """
    if not isinstance(text, str) or not text.strip():
        raise _err("give an expression in x, e.g. \"x + 0.1*sin(x)\", or a built-in name")
    if len(text) > MAX_CHARS:
        raise _err(f"expression longer than {MAX_CHARS} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        raise _err(f"cannot parse {text!r} as an expression in x") from None
    nodes = sum(1 for _ in ast.walk(tree))
    if nodes > MAX_NODES:
        raise _err(f"expression has {nodes} syntax nodes (at most {MAX_NODES})")
    if _depth(tree) > MAX_DEPTH:
        raise _err(f"expression nested deeper than {MAX_DEPTH}")
    try:
        expr = _build(tree)
    except InputError:
        raise
    except (RecursionError, OverflowError, MemoryError, TypeError, ValueError, ZeroDivisionError):
        raise _err(f"cannot build {text!r} as an expression in x") from None
    if not isinstance(expr, sp.Expr):
        raise _err(f"{text!r} is not an expression in x")
    return SymbolicActivation(name or text.strip(), text, expr)


# ------------------------------------------------------------------ built-ins
def _expit(z):
    from scipy.special import expit

    return expit(z)


def _numeric_builtins() -> dict:
    """Overflow-free numpy forms of the built-ins (checked against the lambdified sympy forms by tests)."""
    from scipy.special import ndtr

    def npdf(z):
        return np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)

    def sp_(z):
        return np.logaddexp(0.0, z)

    def s(z):
        return _expit(z)

    return {
        "gelu": {"phi": lambda z: z * ndtr(z), "dphi": lambda z: ndtr(z) + z * npdf(z),
                 "d2phi": lambda z: (2 - z * z) * npdf(z), "d3phi": lambda z: (z ** 3 - 4 * z) * npdf(z)},
        "softplus": {"phi": sp_, "dphi": s, "d2phi": lambda z: s(z) * s(-z),
                     "d3phi": lambda z: s(z) * s(-z) * (s(-z) - s(z))},
        "softplus0": {"phi": lambda z: sp_(z) - np.log(2.0), "dphi": s, "d2phi": lambda z: s(z) * s(-z),
                      "d3phi": lambda z: s(z) * s(-z) * (s(-z) - s(z))},
        "sigmoid": {"phi": s, "dphi": lambda z: s(z) * s(-z), "d2phi": lambda z: s(z) * s(-z) * (s(-z) - s(z)),
                    "d3phi": lambda z: s(z) * s(-z) * (1 - 6 * s(z) * s(-z))},
        "sigmoid0": {"phi": lambda z: s(z) - 0.5, "dphi": lambda z: s(z) * s(-z),
                     "d2phi": lambda z: s(z) * s(-z) * (s(-z) - s(z)),
                     "d3phi": lambda z: s(z) * s(-z) * (1 - 6 * s(z) * s(-z))},
        "silu": {"phi": lambda z: z * s(z), "dphi": lambda z: s(z) * (1 + z * s(-z)),
                 "d2phi": lambda z: s(z) * s(-z) * (2 + z * (s(-z) - s(z))),
                 "d3phi": lambda z: s(z) * s(-z) * (3 * (s(-z) - s(z)) + z * (1 - 6 * s(z) * s(-z)))},
    }


#: built-in name -> (sympy expression, description)
BUILTINS = {
    "gelu": (x * _Phi(x), "GeLU x Phi(x), Phi the standard normal cdf (exact, not the tanh approximation)"),
    "softplus": (_softplus(x), "softplus log(1 + e^x) (phi(0) = log 2 != 0: Assumption 2 fails)"),
    "softplus0": (_softplus(x) - sp.log(2), "shifted softplus log(1 + e^x) - log 2 (phi(0) = 0)"),
    "tanh": (sp.tanh(x), "tanh"),
    "sigmoid": (_sigmoid(x), "logistic sigmoid 1/(1 + e^-x) (phi(0) = 1/2 != 0: Assumption 2 fails)"),
    "sigmoid0": (_sigmoid(x) - sp.Rational(1, 2), "shifted sigmoid 1/(1 + e^-x) - 1/2 (phi(0) = 0)"),
    "silu": (x * _sigmoid(x), "SiLU / swish x sigmoid(x)"),
    "elu": (sp.Piecewise((x, x > 0), (sp.exp(x) - 1, True)),
            "ELU (alpha = 1): x for x > 0, e^x - 1 otherwise (phi'' jumps at 0)"),
    "relu": (_relu(x), "ReLU max(0, x) (not differentiable at 0: Remark 2 excludes it)"),
}


@functools.lru_cache(maxsize=None)
def builtin(name: str) -> SymbolicActivation:
    """A built-in activation of :data:`BUILTINS` (cached)."""
    if name not in BUILTINS:
        raise _err(f"unknown built-in {name!r}; choose from {', '.join(BUILTINS)}")
    return SymbolicActivation(name, name, BUILTINS[name][0], builtin=True,
                              numeric=_numeric_builtins().get(name, {}))


@functools.lru_cache(maxsize=64)
def activation_from(text: str | None, default: str = "gelu") -> SymbolicActivation:
    """A built-in name or a typed expression (``None``: ``default``)."""
    text = default if text is None else str(text).strip()
    if text in BUILTINS:
        return builtin(text)
    return parse_activation(text)
