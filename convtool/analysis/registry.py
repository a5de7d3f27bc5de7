"""The quantity registry: every paper quantity, registered once.

A :class:`Quantity` is a named sympy expression (or a *defining equation*
``residual(unknown; inputs) = 0`` that the numeric layer solves with a
bracketed method) together with its LaTeX name, a description and the paper
reference it comes from. Primitive quantities (spectra, norms, L(0)) are plain
``Symbol``\\ s whose values come from :mod:`convtool.numeric`.

The registry is a name-keyed dict, :data:`REGISTRY`; :func:`get` looks names
up and raises ``KeyError`` listing the close matches. Nothing here parses a
user string: names are looked up, never sympified.

Examples
--------
>>> from convtool.analysis import get
>>> q = get("alpha2")
>>> q.reference
'Table 2'
>>> sorted(q.inputs)
['beta2', 'lambda_minus', 'lambda_plus']
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import sympy as sp

__all__ = ["Quantity", "REGISTRY", "SYMBOLS", "get", "register", "symbol", "names"]

#: Every symbol the registry knows, by quantity name.
SYMBOLS: dict[str, sp.Symbol] = {}
#: Every quantity, by name, in registration order.
REGISTRY: dict[str, "Quantity"] = {}

KINDS = ("primitive", "expression", "equation")


@dataclass(frozen=True)
class Quantity:
    """One paper quantity.

    Attributes
    ----------
    name : str
        ASCII name following the paper (``alpha1``, ``eta_max``, ``K_t``).
    symbol : sympy.Symbol
        The symbol other expressions use for this quantity.
    kind : {"primitive", "expression", "equation"}
        A primitive is measured by :mod:`convtool.numeric`; an expression is
        evaluated from ``expr``; an equation's value is the root in ``unknown``
        of ``expr = 0`` chosen by the rule in ``description`` and solved by the
        numeric layer's bracketed solvers.
    expr : sympy.Expr or None
        The defining expression (the residual, for an equation).
    latex : str
        LaTeX for the symbol itself; formulas are printed by sympy from ``expr``.
    description : str
        One sentence on what the quantity is.
    reference : str
        Paper and equation/table, e.g. ``"eq. (87)"`` or ``"Table 2"``.
    unknown : sympy.Symbol or None
        For an equation, the symbol solved for.
    paper : str
        Short key of the paper (``"local-pl"``).
    stable_in : str or None
        Compile the expression expanded down to this variable with exact cancellation
        of 1's (see :func:`convtool.analysis.evaluate.expanded`); for formulas such as
        ``1/(1 - Delta)`` whose value is lost when ``1 - Delta`` is formed from a rounded Delta.
    """

    name: str
    symbol: sp.Symbol
    kind: str
    expr: sp.Expr | None
    latex: str
    description: str
    reference: str
    unknown: sp.Symbol | None = None
    paper: str = "local-pl"
    inputs: tuple[str, ...] = field(default=())
    stable_in: str | None = None

    def formula_latex(self) -> str:
        """The defining formula in LaTeX (``symbol = expr`` or ``expr = 0``)."""
        names = {s: SYMBOLS_LATEX[str(s)] for s in _all_symbols(self.expr)} if self.expr is not None else {}
        if self.kind == "primitive":
            return self.latex
        body = sp.latex(self.expr, symbol_names=names)
        if self.kind == "equation":
            return f"{body} = 0"
        return f"{self.latex} = {body}"

    def formula_pretty(self) -> str:
        """The defining formula as sympy's unicode pretty print."""
        if self.kind == "primitive":
            return self.name
        if self.kind == "equation":
            return sp.pretty(sp.Eq(self.expr, 0), use_unicode=True)
        return sp.pretty(sp.Eq(self.symbol, self.expr, evaluate=False), use_unicode=True)


#: LaTeX of each symbol, typed once, by symbol name.
SYMBOLS_LATEX: dict[str, str] = {}


def _all_symbols(expr) -> set:
    return set() if expr is None else set(expr.free_symbols)


def symbol(name: str, latex: str | None = None, **assumptions) -> sp.Symbol:
    """Create (or return) the registry symbol ``name`` with its LaTeX name."""
    if name in SYMBOLS:
        return SYMBOLS[name]
    s = sp.Symbol(name, real=True, **assumptions)
    SYMBOLS[name] = s
    SYMBOLS_LATEX[name] = latex if latex is not None else name
    return s


def register(
    name: str,
    *,
    kind: str,
    description: str,
    reference: str,
    expr: sp.Expr | None = None,
    latex: str | None = None,
    unknown: sp.Symbol | None = None,
    paper: str = "local-pl",
    stable_in: str | None = None,
    **assumptions,
) -> sp.Symbol:
    """Register quantity ``name`` and return its symbol.

    Raises ``ValueError`` when the name is taken, the kind is unknown, or the
    expression uses a symbol that is not registered (so every input of every
    formula is itself a registered quantity, or the equation's unknown).
    """
    if name in REGISTRY:
        raise ValueError(f"quantity {name!r} is registered twice")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if (expr is None) != (kind == "primitive"):
        raise ValueError(f"{name}: a primitive has no expression; every other kind needs one")
    if (unknown is None) == (kind == "equation"):
        raise ValueError(f"{name}: an equation needs its unknown, other kinds have none")
    sym = symbol(name, latex, **assumptions)
    inputs: tuple[str, ...] = ()
    if expr is not None:
        names_used = sorted(str(s) for s in expr.free_symbols)
        for used in names_used:
            if used not in REGISTRY and not (unknown is not None and used == str(unknown)):
                raise ValueError(f"{name}: input {used!r} is not a registered quantity")
        inputs = tuple(u for u in names_used if unknown is None or u != str(unknown))
    REGISTRY[name] = Quantity(
        name=name,
        symbol=sym,
        kind=kind,
        expr=expr,
        latex=SYMBOLS_LATEX[name],
        description=description,
        reference=reference,
        unknown=unknown,
        paper=paper,
        inputs=inputs,
        stable_in=stable_in,
    )
    return sym


def get(name: str) -> Quantity:
    """Look up a registered quantity by name.

    Raises ``KeyError`` with the closest registered names when ``name`` is unknown.
    """
    _ensure_loaded()
    try:
        return REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, REGISTRY, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown quantity {name!r}{hint}") from None


def names(kind: str | None = None, paper: str | None = None) -> list[str]:
    """Names of the registered quantities, in registration order, optionally filtered."""
    _ensure_loaded()
    return [
        q.name
        for q in REGISTRY.values()
        if (kind is None or q.kind == kind) and (paper is None or q.paper == paper)
    ]


def _ensure_loaded() -> None:
    # The paper modules register their quantities on import.
    from convtool.analysis import local_pl  # noqa: F401
