"""The quantity registry: every paper quantity, registered once, in its paper's namespace.

A :class:`Quantity` is a named sympy expression (or a *defining equation*
``residual(unknown; inputs) = 0`` that the numeric layer solves with a
bracketed method) together with its LaTeX name, a description and the paper
reference it comes from. Primitive quantities (spectra, norms, L(0)) are plain
``Symbol``\\ s whose values come from :mod:`convtool.numeric`.

Papers and namespaces
---------------------
Each paper of :data:`PAPERS` has its own namespace: a quantity is identified by
``(paper, name)``, written ``"paper:name"`` when qualified (``"zhao-xu:alpha"``).
Names may repeat across papers (``kappa`` is K/mu in the local-PL paper and
beta/alpha in Zhao & Xu) and their sympy symbols are distinct objects: the
local-PL symbols keep their plain names (``alpha1``), the others carry a prefix
(``zhao_xu__alpha``) while LaTeX and pretty printing show the paper's symbol.
Expressions only use quantities of their own paper.

:func:`get` resolves a name: a qualified name or ``paper=`` selects the paper;
otherwise a local-PL name wins (the historical behaviour), else the one paper
that defines the name; a name defined by several other papers is a ``KeyError``
naming them; an unknown name is a ``KeyError`` with the close matches (compared
case-insensitively too). Nothing here parses a user string: names are looked up,
never sympified.

:data:`REGISTRY` is the local-PL namespace (a name-keyed dict, as before);
:data:`REGISTRIES` maps every paper key to its namespace.

Examples
--------
>>> from convtool.analysis import get
>>> q = get("alpha2")
>>> q.reference
'Table 2'
>>> sorted(q.inputs)
['beta2', 'lambda_minus', 'lambda_plus']
>>> get("zhao-xu:kappa").paper, get("kappa", paper="zhao-xu").key
('zhao-xu', 'zhao-xu:kappa')
>>> get("kappa").paper  # local-PL first
'local-pl'
>>> get("kappa").symbol == get("zhao-xu:kappa").symbol
False
"""

from __future__ import annotations

import difflib
import importlib
import sys
import threading
from dataclasses import dataclass

from convtool._lazy import sympy as sp

__all__ = ["Quantity", "Paper", "PAPERS", "DEFAULT_PAPER", "REGISTRY", "REGISTRIES", "SYMBOLS", "AmbiguousNameError",
           "display", "get", "load_all", "register", "symbol", "names", "papers", "papers_defining", "split_name"]

#: The paper whose plain names need no qualification (backward compatible).
DEFAULT_PAPER = "local-pl"


@dataclass(frozen=True)
class Paper:
    """Bibliographic record of one paper, and where its quantities are registered.

    Users do not have the paper texts, so documentation and ``explain --list``
    cite by :meth:`citation`: authors, title, venue and the arXiv / OpenReview id
    where the paper text states one.
    """

    key: str
    title: str
    authors: str
    venue: str
    module: str
    arxiv: str | None = None
    openreview: str | None = None

    @property
    def symbol_prefix(self) -> str:
        """Prefix of the internal sympy symbol names (empty for the default paper)."""
        return "" if self.key == DEFAULT_PAPER else self.key.replace("-", "_") + "__"

    def citation(self) -> str:
        """One line: ``authors, "title", venue (arXiv ..., OpenReview ...)``."""
        ids = [f"arXiv:{self.arxiv}"] if self.arxiv else []
        ids += [f"OpenReview {self.openreview}"] if self.openreview else []
        tail = f" ({', '.join(ids)})" if ids else ""
        return f'{self.authors}, "{self.title}", {self.venue}{tail}'


#: Every paper with a namespace, by key. Ids are the ones printed in the paper texts.
PAPERS: dict[str, Paper] = {
    "local-pl": Paper(
        key="local-pl",
        title="A Local Polyak-Łojasiewicz and Descent Lemma of Gradient Descent For Overparametrized "
              "Linear Models",
        authors="Ziqing Xu, Hancheng Min, Salma Tarmoun, Enrique Mallada, Rene Vidal",
        # convtool follows a double-blind review copy of this paper; its title and abstract are word for word
        # those of arXiv:2505.11664 v1 (checked 2026-12-02); equation numbers cited are the review copy's
        venue="arXiv preprint, 2025",
        module="convtool.analysis.local_pl",
        arxiv="2505.11664",
    ),
    "zhao-xu": Paper(
        key="zhao-xu",
        title="Convergence Analysis and Trajectory Comparison of Gradient Descent for Overparameterized "
              "Deep Linear Networks",
        authors="Hongru Zhao and Jinchao Xu",
        venue="Transactions on Machine Learning Research (TMLR), 07/2024",
        module="convtool.analysis.zhao_xu",
        openreview="jG7ndW7UHp",
    ),
    "zou-long-gu": Paper(
        key="zou-long-gu",
        title="On the Global Convergence of Training Deep Linear ResNets",
        authors="Difan Zou, Philip M. Long and Quanquan Gu",
        venue="International Conference on Learning Representations (ICLR), 2020",
        module="convtool.analysis.zou_long_gu",
        arxiv="2003.01094",
    ),
    "du-hu-lee": Paper(
        key="du-hu-lee",
        title="Algorithmic Regularization in Learning Deep Homogeneous Models: Layers are Automatically Balanced",
        authors="Simon S. Du, Wei Hu and Jason D. Lee",
        venue="32nd Conference on Neural Information Processing Systems (NeurIPS 2018)",
        module="convtool.analysis.du_hu_lee",
        arxiv="1806.00900",
    ),
    "song-et-al": Paper(
        key="song-et-al",
        title="Subquadratic Overparameterization for Shallow Neural Networks",
        authors="Chaehwan Song, Ali Ramezani-Kebrya, Thomas Pethick, Armin Eftekhari and Volkan Cevher",
        venue="Advances in Neural Information Processing Systems (NeurIPS) 2021",
        module="convtool.analysis.song_et_al",
        arxiv="2111.01875",
    ),
}

_LOCK = threading.RLock()
_EMPTY, _INDEX, _LOADING, _FULL = "empty", "index", "loading", "full"


class _Namespace(dict):
    """One paper's quantities by plain name, in registration order, filled on first use.

    A paper's module (``PAPERS[paper].module``) registers its quantities when imported; that takes
    sympy and builds every expression. Most commands only need the names, kinds, inputs and
    references, so the first read of a namespace loads the paper's *start-up index* from the user
    cache (:func:`convtool.analysis.formcache.load_index`: those fields for every quantity, verified
    by a key of convtool.analysis's source and sympy's version) and makes :class:`Quantity` objects
    without sympy; the module is imported only when a sympy attribute (``expr``, ``symbol``,
    ``unknown``) is first read, and fills in those same objects. Without a valid index (cold cache,
    cache off, stale or corrupted file) the first read imports the module, which writes the index.
    """

    def __init__(self, paper: str):
        super().__init__()
        self.paper = paper
        self._state = _EMPTY
        self._order: list[str] = []  # names in the order the module registered them
        self._from_index = False

    # every read makes sure the namespace is filled; writes (register) go straight to the dict
    def _ensure(self):
        if self._state != _FULL and self._state != _INDEX:
            self._slow_ensure()
        return self

    def _slow_ensure(self) -> None:
        with _LOCK:
            if self._state == _EMPTY:
                records = _load_index(self.paper)
                if records is None:
                    self._load_module()
                    return
                for rec in records:
                    dict.__setitem__(self, rec["name"], Quantity._from_record(self.paper, rec))
                self._from_index = True
                self._state = _INDEX
            elif self._state == _LOADING and not getattr(self, "_importing", False) and self._module_complete():
                self._finish()  # the paper module was imported directly (``import convtool.analysis.x``)

    def _module_complete(self) -> bool:
        mod = sys.modules.get(PAPERS[self.paper].module) if self.paper in PAPERS else None
        spec = getattr(mod, "__spec__", None)
        return mod is not None and spec is not None and getattr(spec, "_initializing", True) is False

    def _load_module(self) -> None:
        """Import the paper's module (sympy, every expression), filling the quantities in place."""
        if self._state == _FULL:
            return
        with _LOCK:
            if self._state == _FULL or getattr(self, "_importing", False):
                return
            if self.paper not in PAPERS:
                self._state = _FULL
                return
            if self._state != _LOADING:
                self._state = _LOADING
            self._importing = True
            try:
                importlib.import_module(PAPERS[self.paper].module)
            except BaseException:
                self._state = _INDEX if self._from_index else _EMPTY
                raise
            finally:
                self._importing = False
            if self._module_complete():
                self._finish()

    def _finish(self) -> None:
        """The module has registered everything: drop what a stale index held, keep the module's order,
        and write the start-up index where it did not come from a valid one."""
        stale = [n for n, q in dict.items(self) if not q._filled]
        for n in stale:
            dict.__delitem__(self, n)
        if list(dict.keys(self)) != self._order and sorted(self._order) == sorted(dict.keys(self)):
            items = [(n, dict.__getitem__(self, n)) for n in self._order]
            dict.clear(self)
            dict.update(self, items)
        self._state = _FULL
        if stale or not self._from_index:
            _store_index(self.paper, [q._record() for q in dict.values(self)])

    def __getitem__(self, key):
        return dict.__getitem__(self._ensure(), key)

    def __contains__(self, key):
        return dict.__contains__(self._ensure(), key)

    def __iter__(self):
        return dict.__iter__(self._ensure())

    def __len__(self):
        return dict.__len__(self._ensure())

    def __eq__(self, other):
        return dict.__eq__(self._ensure(), other)

    def __ne__(self, other):
        return dict.__ne__(self._ensure(), other)

    __hash__ = None

    def __repr__(self):
        return dict.__repr__(self._ensure())

    def get(self, key, default=None):
        return dict.get(self._ensure(), key, default)

    def keys(self):
        return dict.keys(self._ensure())

    def values(self):
        return dict.values(self._ensure())

    def items(self):
        return dict.items(self._ensure())

    def copy(self):
        return dict(self.items())


def _load_index(paper: str):
    from convtool.analysis import formcache

    return formcache.load_index(paper)


def _store_index(paper: str, records: list) -> None:
    from convtool.analysis import formcache

    formcache.store_index(paper, records)


#: Every quantity of every paper: paper key -> name -> Quantity, in registration order
#: (each namespace is filled on first use, see :class:`_Namespace`).
REGISTRIES: dict[str, dict[str, "Quantity"]] = {key: _Namespace(key) for key in PAPERS}
#: The local-PL namespace (every quantity by plain name, in registration order).
REGISTRY: dict[str, "Quantity"] = REGISTRIES[DEFAULT_PAPER]
#: Every symbol the registry knows, by internal symbol name (local-PL: the plain name); a paper's symbols
#: are here once its module is imported (:func:`load_all` imports every paper's).
SYMBOLS: dict[str, sp.Symbol] = {}
#: LaTeX of each symbol, typed once, by internal symbol name.
SYMBOLS_LATEX: dict[str, str] = {}
#: internal symbol name -> (paper, plain name)
_OWNER: dict[str, tuple[str, str]] = {}
#: internal symbol -> plain-named symbol used for printing and for lambdify's argument names
_DISPLAY: dict[sp.Symbol, sp.Symbol] = {}

KINDS = ("primitive", "expression", "equation")


class AmbiguousNameError(KeyError):
    """A plain name defined by several papers, looked up without saying which."""


class Quantity:
    """One paper quantity.

    Attributes
    ----------
    name : str
        ASCII name following the paper (``alpha1``, ``eta_max``, ``K_t``), unique in its paper.
    symbol : sympy.Symbol
        The symbol other expressions of the same paper use for this quantity.
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
        One sentence on what the quantity is (and, where it can fail to apply, the condition).
    reference : str
        Paper and equation/table, e.g. ``"eq. (87)"`` or ``"Table 2"``.
    unknown : sympy.Symbol or None
        For an equation, the symbol solved for.
    paper : str
        Key of the paper in :data:`PAPERS` (``"local-pl"``, ``"zhao-xu"``).
    inputs : tuple of str
        Plain names (in the same paper) of the quantities ``expr`` uses, sorted.
    stable_in : str or None
        Compile the expression expanded down to this variable with exact cancellation
        of 1's (see :func:`convtool.analysis.evaluate.expanded`); for formulas such as
        ``1/(1 - Delta)`` whose value is lost when ``1 - Delta`` is formed from a rounded Delta.
    derived : bool
        True for a constant that the paper does not print (worked out from its proofs,
        or beyond the paper); its reference or description then says "derived".

    Read-only. A quantity read from the start-up index (:func:`convtool.analysis.formcache.load_index`)
    has every attribute but ``symbol``, ``expr`` and ``unknown`` at once; reading one of those imports
    sympy and the paper's module, which fills them in on this same object.
    """

    __slots__ = ("name", "kind", "latex", "description", "reference", "paper", "inputs", "stable_in", "derived",
                 "unknown_name", "_symbol", "_expr", "_unknown", "_filled")

    #: the metadata kept in the start-up index, in its record order
    META = ("name", "kind", "latex", "description", "reference", "inputs", "stable_in", "derived", "unknown_name")

    def __init__(self, name: str, symbol, kind: str, expr, latex: str, description: str, reference: str,
                 unknown=None, paper: str = DEFAULT_PAPER, inputs: tuple[str, ...] = (), stable_in: str | None = None,
                 derived: bool = False):
        self._set(name=name, kind=kind, latex=latex, description=description, reference=reference, paper=paper,
                  inputs=tuple(inputs), stable_in=stable_in, derived=bool(derived),
                  unknown_name=None if unknown is None else _OWNER.get(str(unknown), (None, str(unknown)))[1])
        self._fill(symbol, expr, unknown)

    def _set(self, **attrs) -> None:
        for k, v in attrs.items():
            object.__setattr__(self, k, v)

    def _fill(self, symbol, expr, unknown) -> None:
        self._set(_symbol=symbol, _expr=expr, _unknown=unknown, _filled=True)

    @classmethod
    def _from_record(cls, paper: str, record: dict) -> "Quantity":
        """A quantity of the start-up index: metadata now, its sympy objects when first read."""
        q = cls.__new__(cls)
        q._set(paper=paper, **{k: record[k] for k in cls.META})
        q._set(inputs=tuple(q.inputs), derived=bool(q.derived), _symbol=None, _expr=None, _unknown=None,
               _filled=False)
        return q

    def _record(self) -> dict:
        return {k: (list(self.inputs) if k == "inputs" else getattr(self, k)) for k in self.META}

    def _sympy(self, attr: str):
        if not self._filled:
            ns = REGISTRIES.get(self.paper)
            if isinstance(ns, _Namespace):
                ns._load_module()
            if not self._filled:
                raise RuntimeError(f"{self.key}: no longer registered by {PAPERS[self.paper].module} "
                                   "(a stale start-up index; it has been rewritten)")
        return getattr(self, attr)

    symbol = property(lambda self: self._sympy("_symbol"), doc="The sympy symbol of this quantity.")
    expr = property(lambda self: self._sympy("_expr"), doc="The defining sympy expression (None for a primitive).")
    unknown = property(lambda self: self._sympy("_unknown"), doc="An equation's unknown (sympy symbol), else None.")

    def __setattr__(self, name, value):
        raise AttributeError(f"Quantity is read-only (cannot set {name!r})")

    def __eq__(self, other):
        if not isinstance(other, Quantity):
            return NotImplemented
        return self is other or (self.paper == other.paper and self._record() == other._record())

    def __hash__(self):
        return hash((self.paper, self.name))

    def __reduce__(self):  # pickle / copy: the registered quantity of that name (one object per quantity)
        return get, (self.key,)

    def __repr__(self) -> str:
        return (f"Quantity(name={self.name!r}, paper={self.paper!r}, kind={self.kind!r}, "
                f"reference={self.reference!r})")

    @property
    def key(self) -> str:
        """The qualified name ``"paper:name"`` (accepted by :func:`get`)."""
        return f"{self.paper}:{self.name}"

    @property
    def display_expr(self):
        """``expr`` over plain-named symbols (what the paper writes), for printing."""
        return None if self.expr is None else display(self.expr)

    def formula_latex(self) -> str:
        """The defining formula in LaTeX (``symbol = expr`` or ``expr = 0``)."""
        if self.kind == "primitive":
            return self.latex
        names = {s: SYMBOLS_LATEX[str(s)] for s in self.expr.free_symbols}
        body = sp.latex(self.expr, symbol_names=names)
        if self.kind == "equation":
            return f"{body} = 0"
        return f"{self.latex} = {body}"

    def formula_pretty(self) -> str:
        """The defining formula as sympy's unicode pretty print (plain paper symbols)."""
        if self.kind == "primitive":
            return self.name
        if self.kind == "equation":
            return sp.pretty(sp.Eq(self.display_expr, 0), use_unicode=True)
        return sp.pretty(sp.Eq(display(self.symbol), self.display_expr, evaluate=False), use_unicode=True)


def display(expr):
    """``expr`` with every registry symbol replaced by its plain-named twin (printing only)."""
    return expr.xreplace({s: _DISPLAY[s] for s in expr.free_symbols if s in _DISPLAY})


def _check_paper(paper: str) -> dict[str, Quantity]:
    if paper not in PAPERS:
        raise KeyError(f"unknown paper {paper!r}; papers: {', '.join(PAPERS)}")
    return REGISTRIES[paper]


def symbol(name: str, latex: str | None = None, paper: str = DEFAULT_PAPER, **assumptions) -> sp.Symbol:
    """Create (or return) the registry symbol of ``name`` in ``paper`` with its LaTeX name."""
    _check_paper(paper)
    internal = PAPERS[paper].symbol_prefix + name
    if internal in SYMBOLS:
        return SYMBOLS[internal]
    s = sp.Symbol(internal, real=True, **assumptions)
    SYMBOLS[internal] = s
    SYMBOLS_LATEX[internal] = latex if latex is not None else name
    _OWNER[internal] = (paper, name)
    _DISPLAY[s] = s if internal == name else sp.Symbol(name, real=True, **assumptions)
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
    paper: str = DEFAULT_PAPER,
    stable_in: str | None = None,
    derived: bool = False,
    **assumptions,
) -> sp.Symbol:
    """Register quantity ``name`` of ``paper`` and return its symbol.

    Raises ``ValueError`` when the name is taken in that paper or is not an
    identifier, the kind is unknown, a derived quantity does not say "derived" in
    its reference or description, or the expression uses a symbol that is not a
    registered quantity of the same paper (so every input of every formula is
    itself a registered quantity of its paper, or the equation's unknown).
    """
    reg = _check_paper(paper)
    lazy = isinstance(reg, _Namespace)
    if lazy and reg._state in (_EMPTY, _INDEX):  # the paper's module is being imported (directly, or by _load_module)
        reg._state = _LOADING
    if not name.isidentifier():
        raise ValueError(f"quantity name {name!r} must be an identifier (no ':' or '-')")
    stub = dict.get(reg, name)
    if stub is not None and (stub._filled or not lazy):
        raise ValueError(f"quantity {name!r} is registered twice in paper {paper!r}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if (expr is None) != (kind == "primitive"):
        raise ValueError(f"{name}: a primitive has no expression; every other kind needs one")
    if (unknown is None) == (kind == "equation"):
        raise ValueError(f"{name}: an equation needs its unknown, other kinds have none")
    if derived and "derived" not in (reference + " " + description).lower():
        raise ValueError(f"{name}: a derived quantity must say 'derived' in its reference or description")
    sym = symbol(name, latex, paper, **assumptions)
    inputs: tuple[str, ...] = ()
    if expr is not None:
        used: list[str] = []
        for s in expr.free_symbols:
            owner = _OWNER.get(str(s))
            if owner is None or owner[0] != paper:
                where = f" (a symbol of paper {owner[0]!r})" if owner is not None else ""
                raise ValueError(f"{name}: input {str(s)!r}{where} is not a registered quantity of {paper!r}")
            plain = owner[1]
            if not dict.__contains__(reg, plain) and not (unknown is not None and s == unknown):
                raise ValueError(f"{name}: input {plain!r} is not a registered quantity of {paper!r}")
            if unknown is None or s != unknown:
                used.append(plain)
        inputs = tuple(sorted(used))
    q = Quantity(name=name, symbol=sym, kind=kind, expr=expr, latex=SYMBOLS_LATEX[str(sym)],
                 description=description, reference=reference, unknown=unknown, paper=paper, inputs=inputs,
                 stable_in=stable_in, derived=derived)
    if stub is not None:  # the start-up index's object: filled in place, so every holder of it sees the formula
        stub._set(**{k: getattr(q, k) for k in Quantity.META})
        stub._fill(sym, expr, unknown)
    else:
        dict.__setitem__(reg, name, q)
    if lazy:
        reg._order.append(name)
    return sym


def split_name(name: str, paper: str | None = None) -> tuple[str | None, str]:
    """``"zhao-xu:alpha"`` -> ``("zhao-xu", "alpha")``; a plain name keeps ``paper``.

    Raises ``KeyError`` when a qualified name and ``paper`` disagree, or the paper is unknown.
    """
    if ":" in name:
        qp, plain = name.split(":", 1)
        if paper is not None and paper != qp:
            raise KeyError(f"{name!r} names paper {qp!r} but paper={paper!r} was given")
        paper = qp
    else:
        plain = name
    if paper is not None:
        _check_paper(paper)
    return paper, plain


def papers_defining(name: str) -> list[str]:
    """The papers (keys, in :data:`PAPERS` order) that register the plain ``name``."""
    _ensure_loaded()
    return [p for p, reg in REGISTRIES.items() if name in reg]


def get(name: str, paper: str | None = None, *, strict: bool = False) -> Quantity:
    """Look up a registered quantity.

    Parameters
    ----------
    name : str
        A plain name (``"alpha1"``) or a qualified one (``"zhao-xu:alpha"``).
    paper : str, optional
        The paper to look in. Without it (and without a qualified name): the
        local-PL quantity of that name if there is one, else the one paper that
        defines it.
    strict : bool
        With no paper given, refuse a plain name that several papers define even
        when local-PL is one of them (front ends use this so that a user never gets
        one paper's quantity while meaning another's).

    Raises
    ------
    KeyError
        Unknown paper; unknown name (the message lists close matches, compared
        case-insensitively as well); :class:`AmbiguousNameError` for a plain name
        that several papers define, naming them.
    """
    paper, plain = split_name(name, paper)  # only the namespaces the name needs are filled
    if paper is not None:
        reg = REGISTRIES[paper]
        if plain in reg:
            return reg[plain]
        raise KeyError(f"unknown quantity {plain!r} in paper {paper!r}{_hint(plain, paper)}")
    if not strict and plain in REGISTRIES[DEFAULT_PAPER]:  # local-PL first: no other paper needs loading
        return REGISTRIES[DEFAULT_PAPER][plain]
    owners = papers_defining(plain)
    if len(owners) > 1 and (strict or DEFAULT_PAPER not in owners):
        choices = ", ".join(owners)
        raise AmbiguousNameError(
            f"quantity {plain!r} is defined by several papers: {choices}; choose one "
            f"(paper=..., --paper, or a qualified name such as '{owners[0]}:{plain}')")
    if owners:
        return REGISTRIES[DEFAULT_PAPER if DEFAULT_PAPER in owners else owners[0]][plain]
    raise KeyError(f"unknown quantity {plain!r}{_hint(plain, None)}")


def _lookup_key(q: Quantity) -> str:
    """The shortest string :func:`get` resolves to ``q`` (plain where unambiguous)."""
    owners = papers_defining(q.name)
    if q.paper == DEFAULT_PAPER or owners == [q.paper]:
        return q.name
    return q.key


def _hint(name: str, paper: str | None) -> str:
    """``"; did you mean a, b?"`` from the closest names, compared case-insensitively too."""
    pool = [q for p, reg in REGISTRIES.items() if paper in (None, p) for q in reg.values()]
    by_lower: dict[str, list[Quantity]] = {}
    for q in pool:
        by_lower.setdefault(q.name.lower(), []).append(q)
    low = name.lower()
    matches = list(by_lower.get(low, []))  # the same name in another case: best first
    for cand in difflib.get_close_matches(low, list(by_lower), n=3, cutoff=0.6):
        matches += [q for q in by_lower[cand] if q not in matches]
    shown: list[str] = []
    for q in matches:
        k = q.name if paper is not None else _lookup_key(q)
        if k not in shown:
            shown.append(k)
    return f"; did you mean {', '.join(shown[:3])}?" if shown else ""


def names(kind: str | None = None, paper: str | None = DEFAULT_PAPER) -> list[str]:
    """Names of the registered quantities of ``paper``, in registration order, optionally by kind.

    ``paper=None`` lists every paper's quantities as qualified names (``"zhao-xu:alpha"``,
    ``"local-pl:alpha1"``), in :data:`PAPERS` order; a paper's plain names are only
    unique within that paper.
    """
    if paper is None:
        _ensure_loaded()
        return [q.key for p in PAPERS for q in REGISTRIES[p].values() if kind is None or q.kind == kind]
    reg = _check_paper(paper)
    return [q.name for q in reg.values() if kind is None or q.kind == kind]


def papers() -> list[str]:
    """Keys of the papers that have registered quantities, in :data:`PAPERS` order."""
    _ensure_loaded()
    return [p for p in PAPERS if REGISTRIES[p]]


def _ensure_loaded() -> None:
    # every paper's namespace filled (from its start-up index, or by importing its module); cheap once done
    for reg in REGISTRIES.values():
        if isinstance(reg, _Namespace):
            reg._ensure()


def load_all() -> None:
    """Import every paper's module now (sympy and every expression; the start-up index alone has no formulas)."""
    for reg in REGISTRIES.values():
        if isinstance(reg, _Namespace):
            reg._load_module()
