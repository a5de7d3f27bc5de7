"""Rendering of the linear-ResNet commands (``--model resnet``): constants, runs, the depth comparison.

Values are printed in full precision (``repr``) in columns that never wrap; descriptions fold (tables never
truncate a number). Not-applicable values show ``n/a`` with the reason as a footnote.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from convtool.results import NotApplicable

__all__ = ["render_resnet_constants", "render_resnet_run", "render_depth_compare", "plot_resnet_run"]

_PAPER = "zou-long-gu"


def _val(v, notes: list) -> Text:
    if isinstance(v, NotApplicable):
        if v.reason not in notes:
            notes.append(v.reason)
        return Text(f"n/a [{notes.index(v.reason) + 1}]")
    if v is None:
        return Text("-")
    if isinstance(v, float):
        return Text(repr(v))
    return Text(str(v))


def _notes(notes: list) -> Text:
    out = Text()
    for i, n in enumerate(notes, 1):
        out.append(f"[{i}] {n}\n")
    return out


def render_resnet_constants(res, source: str = "") -> Group:
    """``constants --model resnet``: every quantity with its reference (derived labelled), then the checks."""
    from convtool.analysis import get
    from convtool.numeric.resnet_constants import SHOWN

    notes: list = []
    table = Table(title="Zou, Long & Gu (ICLR 2020): linear ResNet B (I+W_L)...(I+W_1) A", title_justify="left")
    table.add_column("quantity", no_wrap=True)
    table.add_column("value", no_wrap=True, justify="right")
    table.add_column("reference", overflow="fold")
    for key, name in SHOWN:
        q = get(name, paper=_PAPER)
        ref = q.reference + (" (derived)" if q.derived and "derived" not in q.reference else "")
        table.add_row(Text(key), _val(res.quantities[key], notes), Text(ref, overflow="fold"))
    head = Text(f"source: {source}\nmodel: {'ResNet' if res.skip else 'no-skip baseline'} | transform: "
                f"{res.transform}", overflow="fold")
    from convtool.cli.render import checks_table

    checks = checks_table(res, references=True)
    parts = [head, Text(""), table]
    if notes:
        parts += [Text(""), _notes(notes)]
    parts += [checks, Text("\n".join(res.notes), overflow="fold")]
    return Group(*parts)


#: the checks in the order shown, with what each says
RESNET_CHECKS = (("thm31", "L(t) - L* <= (1 - rho)^t Delta0 (Theorem 3.1)"),
                 ("traj", "max_l ||W_l(t)||_F <= R_GD(t) (proof of Theorem 3.1)"),
                 ("region", "max_l ||W_l(t)||_F <= 0.5/L (proof of Theorem 3.1)"),
                 ("lemma_a1", "pl_lower <= ||grad_l||^2/gap <= pl_upper (Lemma A.1)"),
                 ("lemma_a2", "smoothness inequality between iterates (Lemma A.2)"),
                 ("thm38", "L(t) <= 2 L0 exp(-t rho) (Theorem 3.8, A.19)"),
                 ("thm36_iii", "L(t) <= 2 L0 before an eps'-optimal iterate (Theorem 3.6)"))


def _check_cell(viol: dict, key: str) -> str:
    n_app = viol.get(f"{key}_steps_applicable", 0)
    if not n_app:
        return f"n/a ({viol.get(f'{key}_not_applicable') or 'its hypotheses held at no step'})"
    first = viol.get(f"{key}_first")
    return f"{viol.get(key, 0)} violations in {n_app} steps" + (f" (first at t = {first})" if first is not None else "")


def render_resnet_run(result, source: str = "") -> Group:
    """``run --model resnet``: status, the theory's numbers and every check's violations."""
    s = result.summary()
    z = s.get("zou_long_gu", {})
    t = Table(title=f"run --model resnet: {s['schedule']}", title_justify="left")
    t.add_column("quantity", overflow="fold")
    t.add_column("value", overflow="fold")
    rows = [("status", str(s["status"])), ("steps", str(s["steps"])),
            ("final L - L*", ", ".join(repr(float(x)) for x in s["final_loss"])),
            ("mean eta", repr(s["mean_eta"])), ("observed rate", repr(s["observed_rate"])),
            ("thm31_margin", ", ".join(repr(x) for x in z.get("thm31_margin", []))),
            ("max_t max_l ||W_l||_F", ", ".join(repr(x) for x in z.get("w_max", []))),
            ("R_GD", ", ".join(repr(x) for x in z.get("R_GD", []))), ("0.5/L", repr(z.get("region", [None])[0])),
            ("min log10(pred / gap)", repr(z.get("thm31_min_log10_slack")))]
    if z.get("sgd"):
        sg = z["sgd"]
        rows.append(("SGD", f"{sg['algorithm']}; b = {sg['batch']} of n = {sg['n']}, sgd seed {sg['sgd_seed']}"))
        for key, what in (("reached_eps", "fraction of seeds reaching L* + eps (Thm 3.6: >= 1/2)"),
                          ("below_envelope_thm38", "fraction below 2 L0 exp(-t rho) (Thm 3.8)"),
                          ("max_loss_below_2L0", "fraction with max_t L(t) <= 2 L0")):
            v = z.get(key)
            txt = (f"{v['fraction']!r} +- {v['binomial_se']!r} ({v['seeds']} seeds)" if v else
                   f"n/a ({z.get(key + '_not_applicable') or 'not computed'})")
            rows.append((what, txt))
    for k, v in rows:
        t.add_row(Text(k), Text(v, overflow="fold"))
    c = Table(title="checks (violations where the hypotheses held)", title_justify="left")
    c.add_column("check", no_wrap=True)
    c.add_column("result", overflow="fold")
    c.add_column("what", overflow="fold")
    viol = s["violations"]
    for key, what in RESNET_CHECKS:
        c.add_row(Text(key), Text(_check_cell(viol, key), overflow="fold"), Text(what, overflow="fold"))
    from convtool.cli.render_balanced import du_hu_lee_tables

    # Du, Hu & Lee: the no-skip baseline's invariants, or why they do not apply
    return Group(Text(f"source: {source}", overflow="fold"), t, c, *du_hu_lee_tables(s))


def render_depth_compare(cmp, source: str = "") -> Group:
    """``compare --model resnet``: iterations to eps at eta_thm31 by depth, the no-skip baseline beside."""
    t = Table(title="iterations to L* + eps at Theorem 3.1's step, by depth", title_justify="left")
    for col in ("L", "eta_thm31", "ResNet", "T_eps (theory)", "no-skip baseline", "thm31_margin", "violations"):
        t.add_column(col, overflow="fold")
    for r in cmp.rows:
        res = str(r.resnet_steps) if r.resnet_steps is not None else r.resnet_status
        base = str(r.baseline_steps) if r.baseline_steps is not None else r.baseline_status
        t.add_row(str(r.depth), repr(r.eta), res, repr(r.T_eps), base, repr(r.thm31_margin), str(r.resnet_violations))
    st = cmp.settings
    foot = Text(f"source: {source}; transform {st['transform']}, m = {st['hidden']}; baseline: {st['baseline_init']} "
                f"at {st['baseline_step']}", overflow="fold")
    return Group(t, foot)


def plot_resnet_run(result, path: str, title: str = "", dpi: int | None = None):
    """``run --model resnet --plot``: :func:`convtool.cli.plots.plot_resnet_run` (the figure lives with the others)."""
    from convtool.cli.plots import plot_resnet_run as plot

    return plot(result, path, title=title, dpi=dpi)
