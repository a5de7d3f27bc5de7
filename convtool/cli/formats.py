"""How results leave the CLI: tables that fit the terminal, and the same values as markdown, CSV or LaTeX.

Every command renders a rich ``Group`` of ``Text`` and ``Table`` objects (:mod:`convtool.cli.render`); this
module prints it in the form ``--format`` asks for:

* ``table`` (default): each table wrapped in :class:`Fit`, which renders the table at the console's width
  and checks that every cell's every number came out whole (no ellipsis, no number folded across lines);
  where one would not, the table is printed stacked instead (one block per row, ``column: value`` lines),
  so nothing is ever cut;
* ``markdown`` (pipe tables), ``csv`` (one block per table: a title line, the header, the rows; blocks
  separated by an empty line), ``latex`` (``tabular`` environments): the cells' exact text.

``--digits N`` sets the significant digits of every number (:func:`digits`, read by
:func:`convtool.cli.render.fmt`).

Examples
--------
>>> from rich.table import Table
>>> t = Table(title="T"); t.add_column("a"); t.add_column("b"); t.add_row("x|y", "1.5")
>>> print(to_markdown(t))
**T**
<BLANKLINE>
| a | b |
|---|---|
| x\\|y | 1.5 |
>>> print(to_csv(t))
T
a,b
x|y,1.5
"""

from __future__ import annotations

import contextlib
import contextvars
import re

import click

__all__ = ["FORMATS", "digits", "current_digits", "Fit", "fit_all", "table_rows", "to_markdown", "to_csv",
           "to_latex", "emit", "format_options", "NUMBER_RE"]

FORMATS = ("table", "markdown", "csv", "latex")
#: significant digits of :func:`convtool.cli.render.fmt` (None: each renderer's own default)
_DIGITS: contextvars.ContextVar = contextvars.ContextVar("convtool_digits", default=None)
#: a number as the CLI prints it (ints, decimals, exponents, inf)
NUMBER_RE = re.compile(r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|\.\d+(?:e[-+]?\d+)?|inf)")


#: True while building a CSV: a value near 1 is written with 17 digits (a number a spreadsheet reads), not "1 - gap"
_PLAIN: contextvars.ContextVar = contextvars.ContextVar("convtool_plain", default=False)


@contextlib.contextmanager
def digits(n: int | None, fmt: str = "table"):
    """Within the block every :func:`~convtool.cli.render.fmt` number has ``n`` significant digits; for
    ``fmt == "csv"`` values within 1e-3 of 1 are written in full (17 digits) instead of as ``1 - gap``."""
    tok, tok2 = _DIGITS.set(n), _PLAIN.set(fmt == "csv")
    try:
        yield
    finally:
        _DIGITS.reset(tok)
        _PLAIN.reset(tok2)


def plain_numbers() -> bool:
    return bool(_PLAIN.get())


def current_digits(default: int) -> int:
    """The ``--digits`` in effect, else ``default``."""
    v = _DIGITS.get()
    return default if v is None else int(v)


def format_options(func):
    """``--format table|markdown|csv|latex`` and ``--digits N`` (shared by every command that prints a table)."""
    func = click.option("--digits", type=click.IntRange(min=1, max=17), default=None,
                        help="Significant digits of every number in the tables [6; compare: 3].")(func)
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                        help="table: fitted to the terminal, never cut; markdown, csv, latex: the same values "
                             "for a paper or a spreadsheet.")(func)


# ------------------------------------------------------------------ plain cells

def _plain(cell) -> str:
    """The text of a table cell (Text, str, check mark)."""
    if cell is None:
        return ""
    if hasattr(cell, "plain"):
        return cell.plain
    if hasattr(cell, "ok"):  # render.Mark
        return "ok" if cell.ok else "NO"
    return str(cell)


def table_rows(table) -> tuple[str, list[str], list[list[str]]]:
    """``(title, headers, rows)`` of a rich ``Table`` as plain strings (multi-line headers joined by spaces)."""
    headers = [" ".join(str(c.header).split()) for c in table.columns]
    cols = [list(c._cells) for c in table.columns]
    n = max((len(c) for c in cols), default=0)
    rows = [[_plain(c[i]) if i < len(c) else "" for c in cols] for i in range(n)]
    return (str(table.title) if table.title else ""), headers, rows


def _walk(renderable):
    """The tables and texts of a renderable, in order (Groups are flattened)."""
    from rich.console import Group
    from rich.table import Table

    if isinstance(renderable, Table):
        yield renderable
    elif isinstance(renderable, Group):
        for r in renderable.renderables:
            yield from _walk(r)
    elif isinstance(renderable, Fit):
        yield renderable.table
    elif isinstance(renderable, (list, tuple)):
        for r in renderable:
            yield from _walk(r)
    else:
        yield renderable


def _is_table(r) -> bool:
    from rich.table import Table

    return isinstance(r, Table)


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", "<br>")


def to_markdown(renderable) -> str:
    """Pipe tables (GitHub markdown) with the titles in bold; the texts as paragraphs."""
    out = []
    for r in _walk(renderable):
        if _is_table(r):
            title, headers, rows = table_rows(r)
            block = ([f"**{title}**", ""] if title else [])
            block.append("| " + " | ".join(_md_cell(h) or " " for h in headers) + " |")
            block.append("|" + "|".join("---" for _ in headers) + "|")
            block += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            out.append("\n".join(block))
        else:
            text = _plain(r).strip()
            if text:
                out.append(text)
    return "\n\n".join(out)


def to_csv(renderable) -> str:
    """One block per table: a line with its title, the header row, the rows; blocks separated by an empty line.
    Texts (source, notes) are left out: CSV carries the tables' values."""
    import csv
    import io

    blocks = []
    for r in _walk(renderable):
        if not _is_table(r):
            continue
        title, headers, rows = table_rows(r)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        if title:
            w.writerow([title])
        w.writerow(headers)
        w.writerows([["" if c == "-" else c for c in row] for row in rows])
        blocks.append(buf.getvalue().rstrip("\n"))
    return "\n\n".join(blocks)


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _tex(s: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in s).replace("\n", " ")


def to_latex(renderable) -> str:
    """A ``tabular`` per table (booktabs rules), the title as a comment line; cells escaped for LaTeX."""
    out = []
    for r in _walk(renderable):
        if not _is_table(r):
            continue
        title, headers, rows = table_rows(r)
        spec = "".join("r" if c.justify == "right" else "l" for c in r.columns)
        lines = ([f"% {title}"] if title else []) + [rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
                                                     " & ".join(_tex(h) for h in headers) + r" \\", r"\midrule"]
        lines += [" & ".join(_tex(c) for c in row) + r" \\" for row in rows]
        lines += [r"\bottomrule", r"\end{tabular}"]
        out.append("\n".join(lines))
    return "\n\n".join(out)


# ------------------------------------------------------------------ fitting a table to the width

def _numbers(text: str) -> list[str]:
    return NUMBER_RE.findall(text)


#: words up to this length must come out whole in a fitted table (longer ones may be folded)
WHOLE_WORD = 24


class Fit:
    """A table rendered whole at the console's width, or stacked where it would not fit.

    "Whole" means: no ellipsis and every number of every cell appears unbroken in the rendered lines
    (rich's ``fold`` would split ``1.23457e-15`` across two lines). The stacked form prints each row as
    a block: the first cell, then ``column: value`` for the others, wrapped at spaces only.
    """

    def __init__(self, table, narrower=()) -> None:
        self.table = table
        #: other layouts of the same cells, tried in order before stacking (e.g. one table split in two)
        self.narrower = tuple(narrower)

    def _fits(self, console, options, table=None) -> tuple[bool, list]:
        table = self.table if table is None else table
        lines = console.render_lines(table, options, pad=False)
        text = "\n".join("".join(seg.text for seg in line) for line in lines)
        if "…" in text:
            return False, lines
        rendered = set(_numbers(text))
        # the cells' own text (a check mark renders as a glyph, not as its plain "ok": left out)
        rows = [[_plain(c) for c in col._cells if not hasattr(c, "ok")]
                for t in _walk(table) if _is_table(t) for col in t.columns]
        need = {tok for row in rows for cell in row for tok in _numbers(cell)}
        if not need <= rendered:
            return False, lines
        # and no word is split (rich folds a word longer than its column: "max_st" / "eps")
        words = {w for row in rows for cell in row for w in cell.split() if len(w) <= WHOLE_WORD}
        return all(w in text for w in words), lines

    def stacked(self):
        from rich.console import Group
        from rich.text import Text

        title, headers, rows = table_rows(self.table)
        parts = [Text(title, style="bold")] if title else []
        for row in rows:
            head = Text(row[0] if row else "", style="bold")
            parts.append(head)
            for h, c in zip(headers[1:], row[1:]):
                if not c:
                    continue
                parts.append(Text(f"  {h + ': ' if h else ''}{c}", overflow="fold"))
        return Group(*parts)

    def __rich_console__(self, console, options):
        from rich.segment import Segment

        ok, lines = self._fits(console, options)
        for alt in self.narrower if not ok else ():
            ok, lines = self._fits(console, options, alt)
            if ok:
                break
        if not ok:
            yield self.stacked()
            return
        new_line = Segment.line()
        for line in lines:
            yield from line
            yield new_line

    def __rich_measure__(self, console, options):
        from rich.measure import Measurement

        return Measurement.get(console, options, self.table)


def fit_all(renderable):
    """``renderable`` with every table (inside Groups too) wrapped in :class:`Fit`."""
    from rich.console import Group
    from rich.table import Table

    if isinstance(renderable, Table):
        return Fit(renderable, getattr(renderable, "convtool_narrower", ()))
    if isinstance(renderable, Group):
        return Group(*(fit_all(r) for r in renderable.renderables))
    return renderable


def emit(renderable, fmt: str = "table", console=None) -> None:
    """Print ``renderable`` on ``console`` (stdout) in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "table":
        if console is None:
            from convtool.cli.console import stdout_console

            console = stdout_console()
        console.print(fit_all(renderable))
        return
    text = {"markdown": to_markdown, "csv": to_csv, "latex": to_latex}[fmt](renderable)
    click.echo(text)
