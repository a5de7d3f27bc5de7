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
#: what a check mark prints on a console that cannot encode Unicode (``PYTHONIOENCODING=ascii``)
OK_ASCII, FAIL_ASCII = "ok", "NO"


class Mark:
    """A check's ✓ / ✗, printed as ``ok`` / ``NO`` where the console's encoding has no such glyphs."""

    def __init__(self, ok: bool) -> None:
        self.ok = bool(ok)

    def _text(self, options) -> Text:
        if options.ascii_only:
            return Text(OK_ASCII if self.ok else FAIL_ASCII, style="green" if self.ok else "bold red")
        return Text(OK if self.ok else FAIL, style="green" if self.ok else "bold red")

    def __rich_console__(self, console, options):
        yield self._text(options)

    def __rich_measure__(self, console, options):
        from rich.measure import Measurement

        w = len(self._text(options).plain)
        return Measurement(w, w)

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


def near_one(v: float, digits: int) -> str | None:
    """``1 - 4.75e-14`` for a value within 1e-3 of 1 (not 1 itself), so a rate never prints as ``1``; else None.

    ``1 - v`` is exact there (Sterbenz), so the shown gap is the value's own.

    >>> near_one(0.9999999999999525, 6), near_one(1.0000004, 3), near_one(0.5, 6)
    ('1 - 4.75175e-14', '1 + 4e-07', None)
    """
    if v == 1.0 or not abs(1.0 - v) < 1e-3:
        return None
    gap = 1.0 - v
    return f"1 - {gap:.{digits}g}" if gap > 0 else f"1 + {-gap:.{digits}g}"


def fmt(x, digits: int | None = None) -> str:
    """One number in the CLI's format: ``{:.6g}`` (``--digits``), ints as ints, inf/nan spelled out, None as
    ``-``, a value within 1e-3 of 1 as ``1 - gap`` (:func:`near_one`)."""
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
    from convtool.cli.formats import current_digits, plain_numbers

    d = current_digits(6) if digits is None else digits
    if plain_numbers():
        return f"{v:.17g}" if near_one(v, d) else f"{v:.{d}g}"
    return near_one(v, d) or f"{v:.{d}g}"


def full(x) -> str:
    """Full float precision (``repr``), or ``--digits`` significant digits when that option is given."""
    from convtool.cli.formats import _DIGITS

    return repr(float(x)) if _DIGITS.get() is None else fmt(x)


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


#: Theorem E.1's quantities at eta0: they mean nothing once eta0 > eta_max (mubar < 0, rhobar0 < 0 ...)
E1_AT_ETA0 = ("mubar", "Kbar0", "rhobar0", "Delta", "drift_total_bound", "local_rate")
#: quantities that are exactly 0 on an exact instance, and the scale their round-off is relative to
ROUNDOFF_ZERO = {"rate_nonoverparam": ("1 - mu/K", None), "lstar": ("lstar", "L0")}
#: round-off tolerance, in units of eps times the scale
ROUNDOFF_EPS = 64


def _num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(float(x))


def out_of_range(res) -> dict:
    """field -> reason for the values a theorem does not cover at this eta0: Theorem E.1's when
    eta0 > eta_max, rho_0 when eta0 K_0 >= 2 (Theorem 3.1 needs eta K_t < 2)."""
    q = res.quantities
    out = {}
    eta0, em = q.get("eta0"), q.get("eta_max")
    if _num(eta0) and _num(em) and float(eta0) > float(em):
        why = (f"eta0 = {fmt(eta0)} > eta_max = {fmt(em)}: Theorem E.1 needs eta0 at most eta_max, so the "
               f"formula's value here is no bound")
        out.update({f: why for f in E1_AT_ETA0 if f in q})
    K0 = q.get("K_0")
    if _num(eta0) and _num(K0) and float(eta0) * float(K0) >= 2 and "rho_0" in q:
        out["rho_0"] = f"eta0 K_0 = {fmt(float(eta0) * float(K0))} >= 2: Theorem 3.1 needs eta K_t < 2"
    return out


def roundoff_zeros(res) -> dict:
    """field -> (shown name, tolerance) for values within round-off of 0: ``|x| <= 64 eps scale``."""
    q = res.quantities
    out = {}
    eps = 2.220446049250313e-16
    for f, (name, scale_key) in ROUNDOFF_ZERO.items():
        v = q.get(f)
        if not _num(v):
            continue
        scale = 1.0
        if scale_key is not None:
            s = q.get(scale_key)
            if not _num(s):
                continue
            scale = abs(float(s)) + abs(float(v))
        tol = ROUNDOFF_EPS * eps * scale
        if 0 < abs(float(v)) <= tol:
            what = "" if scale_key is None else f" ({scale_key} + |{name}|)"
            out[f] = f"{name} = {float(v):.3g} is round-off: |{name}| <= {ROUNDOFF_EPS} eps{what} = {tol:.3g}"
    return out


def group_table(res, group: str, fields, notes: Footnotes, latex: bool = False, na: dict | None = None,
                zeros: dict | None = None, zero_notes: Footnotes | None = None) -> Table:
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
    na, zeros = na or {}, zeros or {}
    for f in fields:
        if f in na:
            cell = value_text(NotApplicable(na[f]), notes)
        elif f in zeros and zero_notes is not None:
            cell = Text(f"0 [r{zero_notes.mark(zeros[f])}]")
        else:
            cell = value_text(res.quantities[f], notes)
        row = [Text(f), cell, Text(res.reference(f))]
        if latex:
            row.append(Text(latex_of(f)))
        table.add_row(*row)
    return table


def constants_tables(res, notes: Footnotes, latex: bool = False, zero_notes: Footnotes | None = None) -> list:
    """A table per display group, in ``GROUPS`` order; values a theorem does not cover at this eta0 shown as
    n/a (:func:`out_of_range`), round-off zeros as ``0 [rk]`` (:func:`roundoff_zeros`) when ``zero_notes``."""
    from convtool.numeric.constants import GROUPS

    na, zeros = out_of_range(res), roundoff_zeros(res)
    return [group_table(res, g, fields, notes, latex, na=na, zeros=zeros, zero_notes=zero_notes)
            for g, fields in GROUPS.items()]


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


def checks_table(res, references: bool = False) -> Table:
    """The applicability checks: ✓/✗, name, detail (with ``references``, the check's reference after it).
    ``res`` is anything with ``checks`` (``constants.Check``: ok, name, detail, reference) -- every model's."""
    table = Table(title="Applicability", title_justify="left")
    table.add_column("", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for ch in res.checks:
        detail = f"{ch.detail} [{ch.reference}]" if references and getattr(ch, "reference", None) else ch.detail
        table.add_row(Mark(ch.ok), Text(ch.name), Text(detail))
    return table


def render_constants(res, source: str = "", latex: bool = False) -> Group:
    """Everything ``convtool constants`` shows for one :class:`ConstantsResult`."""
    notes, zero_notes = Footnotes(), Footnotes()
    parts = [constants_header(res, source)]
    for table in constants_tables(res, notes, latex, zero_notes=zero_notes):
        parts += [Text(""), table]
    if notes:
        parts += [Text(""), footnotes_text(notes)]
    if zero_notes:
        parts += [Text(""), Text("round-off zeros (shown as 0; --json has the computed value):\n"
                                 + "\n".join(f"  [r{i}] {r}" for i, r in enumerate(zero_notes.reasons, 1)))]
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
        if node.varies_with is not None:
            label.append(f" = a function of {node.varies_with}, the unknown solved for above")
        elif isinstance(v, NotApplicable):
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


# ------------------------------------------------------------------ run, compare, schedule

__all__ += ["status_text", "render_run", "compare_table", "render_compare", "ETA_MAX_PARTS",
            "eta_max_table", "eta_max_solver_table", "REFERENCE_LABEL", "preview_steps_table", "render_schedule"]


def status_text(status: dict, seeds: int | None = None) -> str:
    """Status counts: ``converged`` for one seed, ``converged 2, max_steps 1`` for several."""
    if not status:
        return "-"
    total = sum(status.values()) if seeds is None else seeds
    if len(status) == 1 and total == 1:
        return next(iter(status))
    return ", ".join(f"{k} {v}" for k, v in status.items())


def _ref(name: str) -> str:
    """The paper reference of a registered quantity (empty if unknown)."""
    from convtool.analysis import get

    try:
        return get(name).reference
    except KeyError:
        return ""


def _seconds(x) -> str:
    return "-" if x is None else f"{float(x):.3g} s"


def _violations_value(viol: dict, key: str, applied_key: str) -> str:
    """``0 of 300 steps (12 vacuous)``, with ``, first t=7`` when there was one.

    Vacuous steps (``{key}_steps_vacuous``: the accepted value was >= L(t), so any step that did not
    increase L passed) are counted in the steps and shown separately; the rest are the evidence.

    >>> _violations_value({"thm31": 0, "thm31_steps_applicable": 120, "thm31_steps_vacuous": 12},
    ...                   "thm31", "thm31_steps_applicable")
    '0 of 120 steps (12 vacuous)'
    """
    if viol.get(key) is None:
        return "-"
    text = f"{viol[key]} of {viol.get(applied_key, '?')} steps"
    if viol.get(f"{key}_steps_vacuous") is not None and viol.get(applied_key):
        text += f" ({viol[f'{key}_steps_vacuous']} vacuous)"
    if viol.get(f"{key}_first") is not None:
        text += f", first t={viol[f'{key}_first']}"
    return text


def _steps_text(steps: list) -> str:
    if len(steps) == 1:
        return str(steps[0])
    s = sorted(steps)
    med = s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2
    return f"median {fmt(med)} ({s[0]}..{s[-1]})"


#: schedule references as shown in tables: eq. (19)'s "h" is the paper's rate function, not the width h
SCHEDULE_REFERENCE_SHOWN = {"eq. (19), h = rho": "eq. (19) with rate function rho",
                            "eq. (19), h = rhobar": "eq. (19) with rate function rhobar"}


def verdict_text(verdict: dict | None) -> Text | None:
    """The PEPit-style verdict (:func:`convtool.numeric.verdict.run_verdict`) as a titled block of lines."""
    if not verdict or not verdict.get("text"):
        return None
    out = Text("Verdict\n", style="bold")
    out.append("\n".join(verdict["text"]))
    return out


def render_run(summary: dict, *, source: str = "", schedule: dict | None = None, config: dict | None = None,
               warnings: list | None = None, verdict: dict | None = None) -> Group:
    """Everything ``convtool run`` shows: the summary (``RunResult.summary()``) as one table.

    Observed numbers are medians (rates) or maxima (final loss) over the seeds;
    the predicted constants are means over the seeds' instances. Violation counts show the vacuous
    steps among the checked ones separately (the accepted value was >= L(t)).
    """
    from convtool.numeric.engine import STATUSES

    s, config = summary, config or {}
    R = s.get("seeds", 1)
    sched = schedule or {"name": s.get("schedule")}
    opts = ", ".join(f"{k}={fmt(v)}" for k, v in sched.items() if k not in ("name", "reference") and v is not None)
    header = Text(f"source: {source or '?'}\nschedule: {sched.get('name')}"
                  + (f" ({opts})" if opts else "")
                  + (f" - {SCHEDULE_REFERENCE_SHOWN.get(sched['reference'], sched['reference'])}"
                     if sched.get("reference") else "")
                  + f" | seeds: {R} | T = {fmt(config.get('steps'))} | tol = {fmt(config.get('tol'))}")
    table = Table(title="Run summary", title_justify="left")
    table.add_column("quantity", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("reference / meaning", overflow="fold")
    viol = s.get("violations") or {}
    status = s.get("status") or {}
    status_note = STATUSES.get(next(iter(status)), "") if len(status) == 1 else "counts over seeds"
    rank = s.get("rank") or []
    r_work = max(rank) if rank else None
    width = s.get("width")
    if s.get("reduced"):
        reduced, reduced_note = f"r = {r_work} of h = {width}", "exact reduction to r = rank [W1; W2]"
    else:
        reduced, reduced_note = f"h = {width} (rank r = {r_work})", "run at the full width h"
    eta0, em = config.get("eta0"), s.get("eta_max")
    beyond = _num(eta0) and _num(em) and float(eta0) > float(em)
    na_e1 = "n/a (eta0 > eta_max)" if beyond else None
    rate1 = s.get("rate_nonoverparam")
    tol1 = ROUNDOFF_EPS * 2.220446049250313e-16
    rate1_zero = _num(rate1) and 0 < abs(float(rate1)) <= tol1
    rate1_text = "0 (round-off)" if rate1_zero else fmt(rate1)
    rows = [
        ("status", status_text(status, R), status_note),
        ("steps", _steps_text(s.get("steps") or []), "GD steps taken"),
        ("final L", fmt(s.get("final_loss_max")), "excess loss l - l* at the end"),
        ("observed rate", fmt(s.get("observed_rate")), "10^slope of log10 L(t), last half of the run"),
        ("rhobar0", na_e1 or fmt(s.get("rhobar0")), f"L(t) <= L0 rhobar0^t, {_ref('rhobar0')}"),
        ("local rate", na_e1 or fmt(s.get("local_rate")), f"asymptotic rate, {_ref('local_rate')}"),
        ("local-rate limit", fmt(s.get("local_rate_limit")), "1 - (mu/K) alpha1/alpha2 (eta0 -> 0)"),
        ("1 - mu/K", rate1_text, f"GD on Problem 1, eta = 1/K, {_ref('rate_nonoverparam')}"),
        ("Problem-1 observed rate", fmt(s.get("reference_rate")), "GD on W itself from W(0), eta = 1/K (Fig. 4)"),
        ("eta_max", fmt(s.get("eta_max")), _ref("eta_max")),
        ("mean eta", fmt(s.get("mean_eta")), "over steps" + (" and seeds" if R > 1 else "")),
        ("median eta_t / eta_max", fmt(s.get("eta_over_eta_max")), "how far the steps stray from Theorem 3.2's"),
        ("Theorem 3.1 violations", _violations_value(viol, "thm31", "thm31_steps_applicable"),
         "L(t+1) > rho(eta_t, t) L(t), where eta_t K_t < 2"),
        ("Theorem 3.2 violations", _violations_value(viol, "thm32", "thm32_steps_in_range"),
         "L(t+1) > rhobar L(t) or L0 rhobar0^(t+1), where Lemma E.3 (T0), eq. 89 and Lemma E.4 held so far"),
        ("Lemma E.4 violations", _violations_value(viol, "lemmaE4", "lemmaE4_steps_applicable"),
         "sigma_min^2(T_t) < alpha1 - 4 ||D(t) - D(0)||_F or sigma_max^2(T_t) > alpha2 + 2 ||D(t) - D(0)||_F "
         "(Theorem 3.2's proof), where Lemma E.3 (T0) and eq. 89 held so far"),
        ("tightness", fmt(s.get("tightness")), "median (L(t+1)/L(t)) / rho; 1 = tight"),
        ("wall time", _seconds(s.get("wall_time")), "engine, theory bookkeeping included"),
        ("width", reduced, reduced_note),
    ]
    if s.get("clipped"):
        rows.append(("clipped", str(s["clipped"]), "steps whose excess loss was slightly negative (set to 0)"))
    for name, value, note in rows:
        table.add_row(Text(name), Text(value), Text(note))
    parts = [header, Text(""), table]
    if verdict_text(verdict) is not None:
        parts += [Text(""), verdict_text(verdict)]
    if R > 1:
        parts.append(Text(f"{R} seeds: rates and steps are medians, final L the max, violations summed; "
                          "predicted constants are means over the seeds' instances."))
    warnings = list(warnings or [])
    if rate1_zero:
        warnings.append(f"1 - mu/K = {fmt(rate1)} is shown as 0: round-off, |1 - mu/K| <= {ROUNDOFF_EPS} eps = "
                        f"{tol1:.3g} (mu = K: an exactly conditioned instance)")
    if beyond:
        warnings.append(f"rhobar0 and the local rate are n/a: eta0 = {fmt(eta0)} > eta_max = {fmt(em)}, where "
                        f"Theorem E.1 gives no bound (--json keeps the formulas' values)")
    if warnings:
        parts += [Text("")] + [Text(f"note: {w}") for w in warnings]
    return Group(*parts)


def _fmt3(x) -> str:
    """A number with 3 significant digits (the compare table's overview; JSON has them all)."""
    if x is None or isinstance(x, (bool, int)):
        return fmt(x)
    from convtool.cli.formats import current_digits

    return fmt(float(x), current_digits(3))


def _violations_cell(viol: dict, key: str, applied_key: str) -> str:
    """``violations/applicable``, the vacuous steps among them and the first violation: ``2/180 (12 vacuous, t=7)``.

    >>> _violations_cell({"thm32": 0, "thm32_steps_in_range": 120, "thm32_steps_vacuous": 12},
    ...                  "thm32", "thm32_steps_in_range")
    '0/120 (12 vacuous)'
    """
    if not viol or viol.get(key) is None:
        return "-"
    text = f"{viol[key]}/{viol.get(applied_key, '?')}"
    extra = []
    if viol.get(f"{key}_steps_vacuous") is not None and viol.get(applied_key):
        extra.append(f"{viol[f'{key}_steps_vacuous']} vacuous")
    if viol.get(f"{key}_first") is not None:
        extra.append(f"t={viol[f'{key}_first']}")
    return text + (f" ({', '.join(extra)})" if extra else "")


#: how ``convtool compare`` names the Problem-1 reference row (the library's row name is longer)
REFERENCE_LABEL = "problem-1 (1/K)"


_COMPARE_COLUMNS = (("schedule", "left"), ("status", "left"), ("steps\nto tol", "right"), ("wall\ns", "right"),
                    ("final L", "right"), ("mean\neta", "right"), ("obs.\nrate", "right"),
                    ("Thm 3.1\nviol.", "right"), ("Thm 3.2\nviol.", "right"))


def compare_table(cmp, columns=None, title: str = "Schedules on the same instance and initializations") -> Table:
    """Side-by-side schedules (:class:`~convtool.numeric.experiments.CompareResult`), the reference last.

    ``columns`` (indices into the full column set) gives a part of the table; the full table carries, as
    ``convtool_narrower``, the same cells split in two (results; theorem checks), which
    :class:`convtool.cli.formats.Fit` prints where the full one would not fit."""
    idx = list(range(len(_COMPARE_COLUMNS))) if columns is None else list(columns)
    table = Table(title=title, title_justify="left", show_edge=False)
    for i in idx:
        name, justify = _COMPARE_COLUMNS[i]
        # names and numbers stay whole (a layout that would cut one is not used: formats.Fit tries the
        # narrower layouts, then stacks); status and violation cells wrap at spaces
        table.add_column(name, justify=justify, overflow="fold", no_wrap=i not in (1, 7, 8))
    for row in cmp.rows:
        v = row.violations or {}
        name = REFERENCE_LABEL if row.name.startswith("problem-1") else row.name
        cells = [Text(name), Text(status_text(row.status, cmp.seeds)), Text(fmt(row.steps_to_tol)),
                 Text(f"{row.wall_time:.2f}"), Text(_fmt3(row.final_loss)), Text(_fmt3(row.mean_eta)),
                 Text(_fmt3(row.observed_rate)), Text(_violations_cell(v, "thm31", "thm31_steps_applicable")),
                 Text(_violations_cell(v, "thm32", "thm32_steps_in_range"))]
        table.add_row(*(cells[i] for i in idx))
    if columns is None:
        checks = "Theorem checks (violations/steps applied)"
        table.convtool_narrower = (
            Group(compare_table(cmp, range(7), title), compare_table(cmp, (0, 7, 8), checks)),
            Group(compare_table(cmp, range(5), title), compare_table(cmp, (0, 5, 6), "Step sizes and rates"),
                  compare_table(cmp, (0, 7, 8), checks)))
    return table


def render_compare(cmp, verdicts: dict | None = None) -> Group:
    """Everything ``convtool compare`` shows (with ``verdicts``, schedule -> ``run_verdict``, one verdict line
    per schedule under the table)."""
    from convtool.cli.formats import current_digits

    header = Text(f"source: {cmp.source}\nT = {cmp.steps} | tol = {fmt(cmp.tol)} | seeds: {cmp.seeds}")
    many = (f" Over {cmp.seeds} seeds: steps and rates are medians, final L the max, violations summed."
            if cmp.seeds > 1 else "")
    ref = any(r.name.startswith("problem-1") for r in cmp.rows)
    notes = Text("steps to tol: '-' unless every seed reached L(t)/L(0) <= tol. Violations: count/steps where "
                 "the theorem applied (first violating step)."
                 + (f" {REFERENCE_LABEL}: GD on W itself with eta = 1/K (Fig. 4's reference)." if ref else "")
                 + f" Numbers to {current_digits(3)} digits (--digits); --json has them all." + many)
    parts = [header, Text(""), compare_table(cmp), Text(""), notes]
    if verdicts:
        from convtool.numeric.verdict import short_verdict

        lines = Text("Verdicts\n", style="bold")
        lines.append("\n".join(f"{name}: {short_verdict(v)}" for name, v in verdicts.items() if v))
        parts += [Text(""), lines]
    return Group(*parts)


#: the parts of eta_max: label, ConstantsResult key, defining equation (Theorem E.1)
ETA_MAX_PARTS = (("eta0^(1)", "eta0_1", "eq. (87): eta0 Kbar_0(eta0) = 1"),
                 ("eta0^(2)", "eta0_2", "eq. (88): 4 K L0 eta0^2 = (1 - exp(-eta0^c))(1 - Delta)"),
                 ("third term", "eta0_3", "log(1 + alpha1/(2 alpha2))^(1/c), explicit"))


def eta_max_table(constants: dict) -> Table:
    """eta_max = min(eta0^(1), eta0^(2), third term): each part's value and definition, the binding one marked."""
    em = constants.get("eta_max")
    table = Table(title="eta_max = min of three parts (Theorem E.1)", title_justify="left")
    table.add_column("part", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("defined by", overflow="fold")
    table.add_column("", no_wrap=True)
    for label, key, ref in ETA_MAX_PARTS:
        v = constants.get(key)
        binding = (isinstance(v, (int, float)) and isinstance(em, (int, float)) and float(v) == float(em))
        table.add_row(Text(label), value_text(v), Text(ref), Text("<- min" if binding else ""))
    table.add_row(Text("eta_max"), value_text(em), Text("min of the three"), Text(""))
    return table


def eta_max_solver_table(constants: dict) -> Table:
    """The solves of eqs. (87), (88): method, flag, final bracket, residual, iterations."""
    table = Table(title="Solver (eqs. 87, 88)", title_justify="left")
    for name, justify in (("root of", "left"), ("method", "left"), ("flag", "left"), ("bracket", "left"),
                          ("residual", "right"), ("iterations", "right")):
        table.add_column(name, justify=justify, overflow="fold")  # fold, never crop a number
    for key, r in (constants.get("roots") or {}).items():
        a, b = (list(r.get("bracket") or []) + [None, None])[:2]
        table.add_row(Text(key), Text(str(r.get("method", "-"))), Text(str(r.get("flag", "-"))),
                      Text(f"[{fmt(a)}, {fmt(b)}]"), Text(fmt(r.get("residual"))),
                      Text(fmt(r.get("iterations"))))
    return table


def preview_steps_table(preview) -> Table:
    """The first steps of ``adaptive`` / ``adaptive-bar``: t, cap, 1/K_t, 1/Kbar_t, eta_t, binding branch."""
    table = Table(title=f"First {len(preview.steps)} steps of {preview.schedule} (eq. 19)", title_justify="left")
    for name in ("t", "cap (1+eta0^d)^(t/2) eta0", "1/K_t (eta_hat_t)", "1/Kbar_t", "eta_t", "binding"):
        table.add_column(name, justify="left" if name == "binding" else "right", overflow="fold")
    for r in preview.steps:
        table.add_row(Text(str(r["t"])), Text(fmt(r["cap"])), Text(fmt(r["eta_hat"])), Text(fmt(r["inv_Kbar"])),
                      Text(fmt(r["eta"])), Text(r["branch"]))
    return table


def render_schedule(preview, source: str = "") -> Group:
    """Everything ``convtool schedule`` shows for a :class:`~convtool.numeric.experiments.SchedulePreview`."""
    const = preview.constants
    src = {"eta_max": "eta_max, the default", "user": "--eta0"}.get(const.get("eta0_source"),
                                                                   str(const.get("eta0_source")))
    header = Text(f"source: {source or '?'}\nschedule: {preview.schedule} | c = {fmt(const.get('c'))} | "
                  f"d = {fmt(const.get('d'))}")
    branch = "1/K_t" if preview.schedule == "adaptive" else "1/Kbar_t"
    n = len(preview.steps)
    obs = (f"t = {preview.takeover_observed}" if preview.takeover_observed is not None
           else f"not within {n} steps")
    bar = (f"t = {preview.takeover_bar}" if preview.takeover_bar is not None
           else f"not within {preview.bar_horizon} steps")
    lines = Text("\n".join([
        f"eta0 = {fmt(preview.eta0)} ({src})",
        f"takeover of the {branch} branch in {preview.schedule}, observed: {obs}",
        f"takeover of the 1/Kbar_t branch in adaptive-bar, from Theorem E.1's explicit formulas: {bar}",
    ]))
    parts = [header, Text(""), eta_max_table(const)]
    if const.get("roots"):
        parts += [Text(""), eta_max_solver_table(const)]
    parts += [Text(""), lines, Text(""), preview_steps_table(preview)]
    return Group(*parts)


# ------------------------------------------------------------------ deep linear (Zhao & Xu)

def render_deep_linear_constants(res, source: str = "") -> Group:
    """``constants --model deep-linear``: every quantity with its reference, derived ones labelled, n/a reasons
    as footnotes, then the checks. Values in full float precision (``repr``), never cut: the value column
    does not wrap and the description column folds."""
    from convtool.analysis import get

    notes = Footnotes()
    table = Table(title="Zhao & Xu (TMLR 2024): deep linear network a_N W_N ... W_1", title_justify="left")
    table.add_column("quantity", no_wrap=True)
    table.add_column("value", no_wrap=True, justify="right")
    table.add_column("reference", overflow="fold")
    for name, v in res.quantities.items():
        q = get(name, paper="zhao-xu")
        ref = q.reference + (" (derived)" if name in res.derived and "derived" not in q.reference else "")
        cell = value_text(v, notes) if isinstance(v, NotApplicable) else Text(full(v))
        table.add_row(Text(name), cell, Text(ref))
    head = Text(f"source: {source}\nwidths: {', '.join(map(str, res.widths))} | init: {res.init} | "
                f"P(0) spectrum: {res.spectrum_method}")
    checks = checks_table(res, references=True)
    parts = [head, Text(""), table]
    if notes:
        parts += [Text(""), footnotes_text(notes)]
    parts += [Text(""), checks]
    return Group(*parts)


def _check_cell(viol: dict, key: str) -> str:
    n_app = viol.get(f"{key}_steps_applicable", 0)
    why = viol.get(f"{key}_not_applicable")
    if not n_app:
        return f"n/a ({why or _NO_STEP.get(key, 'applied at no step')})"
    first = viol.get(f"{key}_first")
    return f"{viol.get(key, 0)} of {n_app} steps" + (f" (first at t = {first})" if first is not None else "")


#: why a check applied at no step when the theory gives no reason of its own
_NO_STEP = {"lemma5": "q + 7 tau >= 1 at every step: the bound is vacuous",
            "thm2": "q + 7 tau >= 1 at every step: the bound is vacuous",
            "cvx_q": "eta_* >= 2/beta at every step"}

#: the Zhao & Xu checks in the order shown, with what each says
DLN_CHECKS = (("cvx_q", "convex GD contracts ||W - W*||_X^2 by q (eq. 10)"),
              ("lemma5", "||V(t) - W*||_X^2 <= (q + 7 tau)^t ||V(0) - W*||_X^2 (Lemma 5)"),
              ("thm2", "||V(t) - W(t)||_X^2 <= D_R(t) ||V(0) - W*||_X^2 (Theorem 2, proof constants)"),
              ("thm1", "E_DLN(t+1) <= (1 - (1 - eps)/kappa) E_DLN(t) (Theorem 1)"))


def render_deep_linear_run(result, source: str = "") -> Group:
    """``run --model deep-linear``: the DLN against convex GD from the same start, and Zhao & Xu's checks.

    Numbers in full precision (``repr``); the value column never wraps, the description folds."""
    import numpy as np

    s = result.summary()
    z = s.get("zhao_xu", {})
    a = result.arrays
    table = Table(title="Deep linear network against convex GD (Zhao & Xu)", title_justify="left")
    table.add_column("quantity", no_wrap=True)
    table.add_column("value", no_wrap=True, justify="right")
    table.add_column("what", overflow="fold")

    def num(x):
        return "-" if x is None else full(x)

    R = result.R
    E0 = a["loss"][:, 0]
    last = [int(t) for t in result.steps]
    rows = [
        ("status", status_text(s["status"], R), "per seed"),
        ("steps", _steps_text(s["steps"]), "GD steps taken"),
        ("E_DLN(T)/E_DLN(0)", num(np.median([a["loss"][r, last[r]] / E0[r] for r in range(R)])),
         "DLN gap ratio at the end (median over seeds)"),
        ("E_cvx(T)/E_cvx(0)", num(np.median([a["E_cvx"][r, last[r]] / a["E_cvx"][r, 0] for r in range(R)])),
         "convex GD from W(0) = a_N W_{N:1}(0), eta_* = N eta/n_N"),
        ("observed rate (DLN)", num(s.get("observed_rate")), "fitted per-step rate of E_DLN"),
        ("observed rate (convex)", num(z.get("cvx_observed_rate")), "fitted per-step rate of E_cvx"),
        ("q", num(z.get("q")), "eq. (10): convex contraction of ||W - W*||_X^2 per step"),
        ("Theorem 1 rate", num(z.get("rate_thm1")), "1 - (1 - eps)/kappa"),
        ("max tau_hat", num(z.get("tau_max")), "Lemma 4's residual ratio, largest over the run"),
        ("max ||V - W||_X^2", num(z.get("dist_X_sq_max")), "DLN-to-convex distance over the run"),
        ("||V(0) - W*||_X^2", num(float(np.median(a["dln_X_sq"][:, 0]))), "scale of Theorem 2's bounds"),
        ("mean eta", num(s.get("mean_eta")), "DLN step"),
        ("P(t) spectrum", str(z.get("spectrum_method")), "dense below n_N r = 500, Lanczos beyond"),
    ]
    for name, val, what in rows:
        table.add_row(Text(name), Text(val), Text(what))
    viol = s["violations"]
    checks = Table(title="Checks (violations where the check applied)", title_justify="left")
    checks.add_column("check", no_wrap=True)
    checks.add_column("violations", overflow="fold")
    checks.add_column("statement", overflow="fold")
    for key, what in DLN_CHECKS:
        checks.add_row(Text(key), Text(_check_cell(viol, key)), Text(what))
    head = Text(f"source: {source}\nmodel: deep-linear {result.config.get('widths')} | init: "
                f"{result.config.get('init')} | schedule: {s['schedule']} | seeds: {R}")
    return Group(head, Text(""), table, Text(""), checks, Text(""), deep_linear_verdict(s))


def deep_linear_verdict(s: dict) -> Text:
    """The PEPit-style verdict of a deep-linear run: Theorem 1's guarantee (its rate, where its width condition
    holds), the observed rate, and for each of Zhao & Xu's checks "held on N of M steps where it applies"."""
    z, viol = s.get("zhao_xu", {}), s.get("violations") or {}
    total = sum(s.get("steps") or [])
    n1 = viol.get("thm1_steps_applicable", 0)
    if n1:
        cover = "every step" if n1 == total else f"{n1} of {total} steps"
        head = (f"Guarantee: Theorem 1, E_DLN(t+1) <= (1 - (1 - eps)/kappa) E_DLN(t), rate {fmt(z.get('rate_thm1'))} "
                f"(covers {cover})")
    else:
        why = viol.get("thm1_not_applicable") or "its width condition fails at every step"
        head = f"Guarantee: none (Theorem 1 does not apply: {why})"
    lines = [head, f"Observed rate: {fmt(s.get('observed_rate'))} (DLN), {fmt(z.get('cvx_observed_rate'))} (convex GD)"]
    for key, what in DLN_CHECKS:
        n_app = viol.get(f"{key}_steps_applicable", 0)
        if n_app:
            held = n_app - int(viol.get(key, 0) or 0)
            lines.append(f"{key}: held on {held} of {n_app} steps where it applies")
        else:
            lines.append(f"{key}: applies at no step ({viol.get(f'{key}_not_applicable') or _NO_STEP.get(key, 'n/a')})")
    out = Text("Verdict\n", style="bold")
    out.append("\n".join(lines))
    return out


def render_width_compare(cmp) -> Group:
    """``compare --model deep-linear``: one row per hidden width, DLN against convex GD (Theorem 2)."""
    table = Table(title="DLN against convex GD from the same start, by hidden width (Zhao & Xu, Theorem 2)",
                  title_justify="left")
    for col in ("width", "status", "E_DLN(T)/E0", "E_cvx(T)/E0", "max dist/dist0", "Thm 2 bound", "max tau",
                "violations"):
        table.add_column(col, no_wrap=col not in ("status", "violations"), overflow="fold")

    def num(x):
        return "-" if x is None else fmt(x)

    for r in cmp.rows:
        v = r.violations
        viol = ", ".join(f"{k} {v.get(k, 0)}/{v.get(k + '_steps_applicable', 0)}" for k, _ in DLN_CHECKS)
        table.add_row(str(r.width), status_text(r.status), num(r.E_dln_ratio), num(r.E_cvx_ratio),
                      num(r.dist_ratio_max), "vacuous" if r.thm2_bound_final is None else num(r.thm2_bound_final),
                      num(r.tau_max), viol)
    notes = Text("max dist/dist0 = max_t ||V(t) - W(t)||_X^2 / ||V(0) - W*||_X^2; Thm 2 bound = D_R at the last "
                 "step (vacuous where q + 7 tau >= 1). Violations: count/steps where the check applied. 6 digits "
                 "here; --json has them all.")
    head = Text(f"source: {cmp.source}\ndepth N = {cmp.depth} | init: {cmp.init} | schedule: {cmp.schedule} | "
                f"T = {cmp.steps} | seeds: {cmp.seeds}")
    return Group(head, Text(""), table, notes)
