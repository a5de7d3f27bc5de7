"""Result objects to rich renderables (``Table``, ``Group``, ``Tree``, ``Text``).

Nothing here prints: each function builds a renderable from a result and the
command prints it on its console. User-supplied and library text always goes
into :class:`~rich.text.Text` (never console markup), so brackets in LaTeX or
in a reason cannot be read as markup.

Formatting rules, the same everywhere:

* numbers with :func:`fmt` (``{:.6g}``; ``inf``, ``-inf``, ``nan`` spelled out);
* a :class:`~convtool.results.NotApplicable` shows as ``n/a [k]``, with its
  reason as footnote ``[k]`` (:class:`Footnotes`), so a table stays narrow;
* ``✓`` / ``✗`` for checks.

Examples
--------
>>> fmt(1234567.0), fmt(float("inf")), fmt(3), fmt(None)
('1.23457e+06', 'inf', '3', '-')
>>> notes = Footnotes()
>>> from convtool.results import NotApplicable
>>> str(value_text(NotApplicable("mu = 0"), notes)), notes.reasons
('n/a [1]', ['mu = 0'])
"""

from __future__ import annotations

import math

from rich.console import Group
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from convtool.results import NotApplicable

__all__ = ["fmt", "Footnotes", "value_text", "latex_of", "constants_header", "group_table", "constants_tables",
           "roots_table", "checks_table", "footnotes_text", "render_constants", "quantity_list",
           "quantity_card", "explain_tree", "render_explain", "GROUP_TITLES", "DATA_ROWS", "OK", "FAIL",
           "EXPLAIN_PRINT_OPTIONS"]

OK, FAIL = "✓", "✗"

#: titles of the display groups of ``convtool constants`` (keys of ``constants.GROUPS``)
GROUP_TITLES = {
    "data": "Data (loss, dimensions)",
    "imbalance": "Imbalance (Table 2)",
    "margin": "Margin (Table 2)",
    "operator": "Operator T0 bounds (Table 2, Lemma E.3)",
    "step sizes": "Step sizes (Theorem 3.2 / E.1)",
    "theory at eta0": "Theory at eta0 (Theorem 3.2 / E.1)",
}

#: extra rows of the data group: dimension -> (description, reference)
DATA_ROWS = {
    "N": ("rows of the data (samples; measurements for sensing)", "Section 4"),
    "n": ("input dimension, W1 is n x h", "Problem 2"),
    "m": ("output dimension, W2 is m x h", "Problem 2"),
    "h": ("hidden width", "Problem 2"),
}


def fmt(x) -> str:
    """One number in the CLI's format: ``{:.6g}``, ints as ints, inf/nan spelled out, None as ``-``."""
    if x is None:
        return "-"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.6g}"


class Footnotes:
    """Numbered reasons of not-applicable values; the same reason gets the same number."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def mark(self, reason: str) -> int:
        if reason not in self.reasons:
            self.reasons.append(reason)
        return self.reasons.index(reason) + 1

    def __bool__(self) -> bool:
        return bool(self.reasons)


def value_text(value, notes: Footnotes | None = None) -> Text:
    """A value cell: the number, or ``n/a [k]`` with the reason sent to ``notes`` (inline without notes)."""
    if isinstance(value, NotApplicable):
        if notes is None:
            return Text(f"n/a ({value.reason})")
        return Text(f"n/a [{notes.mark(value.reason)}]")
    return Text(fmt(value))


def footnotes_text(notes: Footnotes, title: str = "n/a reasons") -> Text:
    """The footnotes as lines ``[k] reason``."""
    out = Text(f"{title}:\n")
    out.append("\n".join(f"  [{i}] {r}" for i, r in enumerate(notes.reasons, 1)))
    return out


def latex_of(field: str) -> str:
    """LaTeX of the formula behind a ``ConstantsResult`` field."""
    from convtool.analysis import get
    from convtool.numeric.constants import FIELDS

    return get(FIELDS[field]).formula_latex()


def constants_header(res, source: str = "") -> Text:
    """One line: source, loss, N, n, m, h and the rank of [W1; W2]."""
    src = source or "?"
    return Text(f"source: {src} | loss: {res.loss} | N={fmt(res.N)} n={res.n} m={res.m} h={res.h} | "
                f"rank [W1;W2]={res.rank} | c={fmt(res.c)} d={fmt(res.d)}")


def group_table(res, group: str, fields, notes: Footnotes, latex: bool = False) -> Table:
    """One display group: columns quantity, value, paper reference (and LaTeX formula)."""
    table = Table(title=GROUP_TITLES.get(group, group), title_justify="left", expand=False)
    table.add_column("quantity", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("reference", no_wrap=True)
    if latex:
        table.add_column("LaTeX", overflow="fold")
    if group == "data":
        for dim, (desc, ref) in DATA_ROWS.items():
            row = [Text(dim), Text(fmt(getattr(res, dim))), Text(ref)]
            if latex:
                row.append(Text(dim))
            table.add_row(*row)
    for f in fields:
        row = [Text(f), value_text(res.quantities[f], notes), Text(res.reference(f))]
        if latex:
            row.append(Text(latex_of(f)))
        table.add_row(*row)
    return table


def constants_tables(res, notes: Footnotes, latex: bool = False) -> list:
    """A table per display group, in ``GROUPS`` order."""
    from convtool.numeric.constants import GROUPS

    return [group_table(res, g, fields, notes, latex) for g, fields in GROUPS.items()]


def roots_table(res) -> Group:
    """The defining-equation solves (eta0_1: eq. 87, eta0_2: eq. 88): root, flag, bracket, residual, method.

    Each solver's message (why the bracket is valid, or why it failed) follows the table.
    """
    table = Table(title="Solver (eqs. 87, 88)", title_justify="left")
    table.add_column("root of", no_wrap=True)
    table.add_column("root", justify="right", no_wrap=True)
    table.add_column("flag", no_wrap=True)
    table.add_column("bracket", no_wrap=True)
    table.add_column("residual", justify="right", no_wrap=True)
    table.add_column("method", no_wrap=True)
    table.add_column("iterations", justify="right", no_wrap=True)
    notes = []
    for name, r in res.roots.items():
        a, b = r.bracket
        table.add_row(Text(name), Text(fmt(r.root)), Text(r.flag), Text(f"[{fmt(a)}, {fmt(b)}]"),
                      Text(fmt(r.residual)), Text(r.method), Text(str(r.iterations)))
        if r.message:
            notes.append(f"  {name}: {r.message}")
    return Group(table, Text("\n".join(notes))) if notes else Group(table)


def checks_table(res) -> Table:
    """The applicability checks: ✓/✗, name, detail."""
    table = Table(title="Applicability", title_justify="left")
    table.add_column("", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for ch in res.checks:
        mark = Text(OK, style="green") if ch.ok else Text(FAIL, style="bold red")
        table.add_row(mark, Text(ch.name), Text(ch.detail))
    return table


def render_constants(res, source: str = "", latex: bool = False) -> Group:
    """Everything ``convtool constants`` shows for one :class:`ConstantsResult`."""
    notes = Footnotes()
    parts = [constants_header(res, source)]
    for table in constants_tables(res, notes, latex):
        parts += [Text(""), table]
    if notes:
        parts += [Text(""), footnotes_text(notes)]
    if res.roots:
        parts += [Text(""), roots_table(res)]
    parts += [Text(""), checks_table(res)]
    return Group(*parts)


# ------------------------------------------------------------------ explain

def quantity_list(quantities) -> Table:
    """``explain --list``: name, kind, paper reference, description of each registered quantity."""
    table = Table(title="Registered quantities", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("reference", no_wrap=True)
    table.add_column("description", overflow="fold")
    for q in quantities:
        table.add_row(Text(q.name), Text(q.kind), Text(q.reference), Text(q.description))
    return table


def quantity_card(q, source_code: str | None = None) -> Group:
    """Name, description, reference, formula (pretty and LaTeX) and optionally the generated source."""
    parts = [
        Text(f"{q.name} ({q.kind}) - {q.reference}", style="bold"),
        Text(q.description),
        Text(""),
        Text("formula:", style="bold"),
        # sympy's 2-D layout must not be re-wrapped: no_wrap, and let wide formulas run past the edge
        Text(q.formula_pretty(), no_wrap=True, overflow="ignore"),
        Text(""),
        Text("LaTeX: ", style="bold") + Text(q.formula_latex(), no_wrap=True, overflow="ignore"),
    ]
    if q.kind == "equation":
        parts.append(Text(f"solved for {q.unknown} by convtool.numeric.roots (bracketed root; see the paper "
                          f"reference for which root)"))
    if source_code is not None:
        parts += [Text(""), Text("generated source:", style="bold"),
                  Text(source_code.rstrip("\n"), no_wrap=True, overflow="ignore")]
    return Group(*parts)


def _node_label(node, with_values: bool) -> Text:
    label = Text(node.name, style="bold")
    if with_values:
        v = node.value
        if isinstance(v, NotApplicable):
            label.append(f" = n/a ({v.reason})")
        elif v is None:
            label.append(" = - (not evaluated)")
        else:
            label.append(f" = {fmt(v)}")
    label.append(f"  [{node.kind}, {node.reference}]", style="dim")
    if node.repeated:
        label.append("  (expanded above)", style="dim")
    elif node.kind == "primitive" and not node.children:
        label.append(f"  {node.description}", style="dim")
    return label


def explain_tree(node, with_values: bool = False) -> Tree:
    """The dependency tree (:class:`convtool.analysis.graph.ExplainNode`) as a ``rich.tree.Tree``."""
    tree = Tree(_node_label(node, with_values), guide_style="dim")

    def add(parent: Tree, children) -> None:
        for c in children:
            branch = parent.add(_node_label(c, with_values))
            add(branch, c.children)

    add(tree, node.children)
    return tree


def render_explain(q, node, *, source_code: str | None = None, with_values: bool = False,
                   header: Text | None = None) -> Group:
    """Everything ``convtool explain NAME`` shows."""
    parts = [quantity_card(q, source_code), Text("")]
    if header is not None:
        parts.append(header)
    parts.append(Text("depends on:" if not with_values else "depends on (values at the instance):", style="bold"))
    parts.append(explain_tree(node, with_values))
    return Group(*parts)


#: print ``render_explain`` with ``crop=False``: the pretty formula and the source keep their long lines
EXPLAIN_PRINT_OPTIONS = {"crop": False}
