"""Tables of ``--model shallow`` (Song et al.): constants and runs. Numbers are never cut: values in full
precision (``repr``) in a column that does not wrap, descriptions and reasons fold."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from convtool.cli.render import Footnotes, checks_table, footnotes_text, value_text
from convtool.results import NotApplicable

__all__ = ["render_shallow_constants", "render_shallow_run", "render_shallow_widths"]

_TITLE = "Song et al. (NeurIPS 2021): shallow network V phi(W x)"


def _ref(name: str) -> str:
    from convtool.analysis.registry import REGISTRIES

    q = REGISTRIES["song-et-al"].get(name)
    if q is None:
        return ""
    return q.reference + (" (derived)" if q.derived and "derived" not in q.reference else "")


def _cell(v, notes) -> Text:
    if isinstance(v, NotApplicable):
        return value_text(v, notes)
    if isinstance(v, bool):
        return Text("yes" if v else "no")
    if isinstance(v, str):
        return Text(v)
    return Text(repr(float(v)))


def render_shallow_constants(res, source: str = "") -> Group:
    """``constants --model shallow``: every quantity with its reference (derived ones labelled), n/a reasons as
    footnotes, the notes (sources of chi, omega, t, E[M0]) and the checks."""
    notes = Footnotes()
    table = Table(title=_TITLE, title_justify="left")
    table.add_column("quantity", no_wrap=True)
    table.add_column("value", no_wrap=True, justify="right")
    table.add_column("reference", overflow="fold")
    for name, v in res.quantities.items():
        table.add_row(Text(name), _cell(v, notes), Text(_ref(name)))
    sh = res.shape
    act = res.activation
    head = Text(f"source: {source}\nn = {sh['n']}, d0 = {sh['d0']}, d1 = {sh['d1']}, d2 = {sh['d2']} | "
                f"activation: {act['name']} = {act['expression']}")
    info = Table(title="Notes", title_justify="left")
    info.add_column("item", no_wrap=True)
    info.add_column("note", overflow="fold")
    for k, v in res.notes.items():
        info.add_row(Text(k), Text(str(v)))
    h = res.hermite
    info.add_row(Text("hermite"), Text(f"quadrature: {h.get('quadrature_method')}; exact: "
                                       f"{h.get('exact') or h.get('exact_reason')}; parity: {h.get('parity')}"))
    info.add_row(Text("hermite_norm"), Text(str(h.get("hermite_norm_reason"))))
    checks = checks_table(res, references=True)
    parts = [head, Text(""), table]
    if notes:
        parts += [Text(""), footnotes_text(notes)]
    parts += [Text(""), info, Text(""), checks]
    return Group(*parts)


_CHECKS = (("thm2_rate", "h(t) <= (1 - eta mu^2/2)^t h0 (Theorem 2, C = 1/4 derived)"),
           ("ball", "||Theta_t - Theta_0|| <= rho_Phi"),
           ("path", "path length <= (33) with constants (derived)"),
           ("lemma1", "sigma_min(J) >= mu_Phi/2 in the ball (Lemma 1)"),
           ("chi", "max_k sigma_max(V_k) <= chi_max (Assumption 2)"))


def _fmt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt(x) for x in v)
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def render_shallow_run(result, source: str = "") -> Group:
    """``run --model shallow``: observed against guaranteed (per seed lists), and the checks."""
    s = result.summary()
    t = Table(title=_TITLE + ": GD run", title_justify="left")
    t.add_column("quantity", no_wrap=True)
    t.add_column("value", overflow="fold")
    for k in ("status", "steps", "final_loss", "eta", "eta_explicit", "observed_rate", "rate_guaranteed", "rate_ntk",
              "mu_Phi", "rho_Phi", "max_dist0", "path_length", "path_bound_gd", "chi_max", "chi_obs",
              "jac_sigma_min_0", "certificate_gd_holds", "theorem_not_applicable", "jacobian_method"):
        v = s.get(k)
        t.add_row(Text(k), Text(_fmt(v) if not isinstance(v, dict) else ", ".join(f"{a}: {b}" for a, b in v.items())))
    viol = s.get("violations", {})
    c = Table(title="Checks (violations where the check applied)", title_justify="left")
    c.add_column("check", no_wrap=True)
    c.add_column("result", overflow="fold")
    c.add_column("what", overflow="fold")
    for key, what in _CHECKS:
        n_app = viol.get(f"{key}_steps_applicable", 0)
        why = viol.get(f"{key}_not_applicable")
        if not n_app:
            cell = f"n/a ({why or 'applied at no step'})"
        else:
            first = viol.get(f"{key}_first")
            cell = f"{viol.get(key, 0)} of {n_app} steps" + (f" (first at t = {first})" if first is not None else "")
        c.add_row(Text(key), Text(cell), Text(what))
    head = Text(f"source: {source}\nactivation: {result.config.get('activation')} | d0 = {result.config.get('d0')}, "
                f"d1 = {result.config.get('d1')}, d2 = {result.config.get('d2')} | init: {result.config.get('init')}")
    return Group(head, Text(""), t, Text(""), c)


def render_shallow_widths(rows, table1) -> Group:
    """``widths``: the shallow rows ((79), (80), odd variant) beside the paper's Table 1."""
    notes = Footnotes()
    t = Table(title="Song et al.: width thresholds d1 for this data (up to logs and absolute constants)",
              title_justify="left")
    t.add_column("row", no_wrap=True)
    t.add_column("d1 >=", no_wrap=True, justify="right")
    t.add_column("formula / reference", overflow="fold")
    for r in rows:
        t.add_row(Text(r["name"]), _cell(r["value"], notes), Text(r["formula"]))
    t1 = Table(title="Table 1 of the paper (prior scaling laws, number of parameters)", title_justify="left")
    for col in ("depth", "algorithm", "setting", "activation", "scaling", "reference"):
        t1.add_column(col, overflow="fold")
    for r in table1:
        t1.add_row(*(Text(str(r[k])) for k in ("depth", "algorithm", "setting", "activation", "scaling", "reference")))
    parts = [t]
    if notes:
        parts += [Text(""), footnotes_text(notes)]
    return Group(*parts, Text(""), t1)
