"""``convtool explain``: a registered quantity's formula, reference and dependency tree, per paper."""

from __future__ import annotations

import click

from convtool.cli.errors import ConvtoolInputError, handle_user_errors
from convtool.cli.options import (changed_options, data_argument, instance_from_options, instance_options,
                                  theory_from_options, theory_options)

__all__ = ["explain", "PAPER_CHOICES"]

#: keys of ``convtool.analysis.registry.PAPERS`` (a plain tuple: no sympy at import; a test keeps them in step)
PAPER_CHOICES = ("local-pl", "zhao-xu")
#: the paper whose quantities DATA / --default give values for (``convtool.numeric.constants``)
VALUES_PAPER = "local-pl"


@click.command("explain")
@click.argument("name", required=False)
@data_argument
@instance_options
@theory_options
@click.option("--paper", type=click.Choice(PAPER_CHOICES + ("all",)), default=None,
              help="The paper whose quantity NAME is (needed when several papers define NAME); with --list, "
                   "list only that paper ('all': every paper, also for --json).")
@click.option("--default", "use_default", is_flag=True,
              help="Show values at the built-in instance (as if DATA were given).")
@click.option("--source", "show_source", is_flag=True, help="Show the numeric source lambdify generated.")
@click.option("--list", "list_all", is_flag=True, help="List the registered quantities, grouped by paper.")
@click.option("--json", "as_json", is_flag=True, help="Write the explanation as one strict JSON object.")
@handle_user_errors
def explain(name, data, paper, use_default, show_source, list_all, as_json, **opts):
    """Explain quantity NAME: description, paper reference, formula and what it depends on.

    NAME is a plain name (alpha1) or one qualified by its paper (zhao-xu:alpha);
    a name that several papers define needs --paper. With DATA (or --default) the
    values at that instance are shown along the dependency tree (local-PL
    quantities). NAME is looked up in the registry, never parsed.

    \b
    Examples:
      $ convtool explain --list
      $ convtool explain alpha1 --default
      $ convtool explain kappa --paper zhao-xu
      $ convtool explain zhao-xu:width_lemma3_derived
    """
    if list_all:
        if name is not None:
            raise click.UsageError("--list takes no NAME")
        _list(paper, as_json)
        return
    if name is None:
        raise click.UsageError("give a quantity NAME (or --list)")
    if paper == "all":
        raise ConvtoolInputError("--paper all only goes with --list; give one paper for NAME")
    if use_default and data is not None:
        raise ConvtoolInputError("give either DATA or --default, not both")
    if data is None and not use_default and changed_options(opts):
        names_given = ", ".join(f"--{k}" for k in changed_options(opts))
        raise ConvtoolInputError(f"{names_given} only matter(s) with values: give DATA or --default")

    import json

    from convtool.analysis import PAPERS, get, papers_defining

    try:
        # plain names keep meaning the local-PL paper's quantity (issue 7); a name that two other papers
        # share is still an error naming them
        q = get(name, paper)
    except KeyError as exc:
        raise ConvtoolInputError(f"{exc.args[0]} (`convtool explain --list` lists all quantities)") from None
    others = [p for p in papers_defining(q.name) if p != q.paper] if paper is None and ":" not in name else []
    if others:
        from rich.text import Text

        from convtool.cli.console import stderr_console

        stderr_console().print(Text(f"Note: {q.name!r} is also defined by {', '.join(others)}; "
                                    f"this is {q.paper}'s (select another with --paper)"), soft_wrap=True)
    if (data is not None or use_default) and q.paper != VALUES_PAPER:
        raise ConvtoolInputError(f"DATA / --default give values for {VALUES_PAPER} quantities only; {q.key} is "
                                 f"shown without values (drop DATA / --default)")

    from convtool.analysis.graph import explain as explain_graph

    values = None
    res = inst = None
    if data is not None or use_default:
        from convtool.cli.console import report_warnings, stderr_console
        from convtool.numeric.constants import FIELDS, compute_constants
        from convtool.results import NotApplicable

        with report_warnings(stderr_console()):
            inst = instance_from_options(data, **opts)
            res = compute_constants(inst.loss, inst.W1, inst.W2, **theory_from_options(**opts))
        values = dict(res.values)
        for field, qname in FIELDS.items():
            v = res.quantities[field]
            if isinstance(v, NotApplicable) or qname not in values:
                values[qname] = v
    node = explain_graph(q.name, values, paper=q.paper)
    code = _generated_source(q) if show_source else None
    if as_json:
        from convtool.results import jsonable

        out = {"name": q.name, "paper": q.paper, "kind": q.kind, "derived": q.derived, "reference": q.reference,
               "description": q.description, "citation": PAPERS[q.paper].citation(),
               "formula_latex": q.formula_latex(), "tree": jsonable(node.to_dict())}
        if inst is not None:
            out["source"] = inst.source
        if code is not None:
            out["generated_source"] = code
        click.echo(json.dumps(out, allow_nan=False, indent=2))
        return
    from rich.text import Text

    from convtool.cli.console import stdout_console
    from convtool.cli.render import EXPLAIN_PRINT_OPTIONS, constants_header, render_explain

    lines = [_paper_line(q)]
    if res is not None:
        lines.append(constants_header(res, inst.source))
    header = Text("\n").join(lines)
    stdout_console().print(render_explain(q, node, source_code=code, with_values=values is not None,
                                          header=header), **EXPLAIN_PRINT_OPTIONS)


def _paper_line(q):
    """``paper: KEY - citation``, and ``(derived) ...`` for a constant the paper does not print."""
    from rich.text import Text

    from convtool.analysis import PAPERS

    line = Text(f"paper: {q.paper} - {PAPERS[q.paper].citation()}")
    if q.derived:
        line.append("\n(derived) not printed in the paper: worked out from its proofs (see the reference)")
    return line


def _list(paper: str | None, as_json: bool) -> None:
    """``--list``: a table per paper under its citation; ``--json``: one list of records."""
    import json

    from convtool.analysis import DEFAULT_PAPER, PAPERS, get, names, papers

    if as_json:
        # the default paper's list, as before (other papers with --paper P or --paper all)
        keys = [paper or DEFAULT_PAPER] if paper != "all" else papers()
        records = [{"name": q.name, "paper": q.paper, "kind": q.kind, "derived": q.derived,
                    "reference": q.reference, "description": q.description}
                   for k in keys for q in (get(n, k) for n in names(paper=k))]
        click.echo(json.dumps(records, allow_nan=False, indent=2))
        return
    from types import SimpleNamespace

    from rich.console import Group
    from rich.text import Text

    from convtool.cli.console import stdout_console
    from convtool.cli.render import quantity_list

    keys = papers() if paper in (None, "all") else [paper]
    parts = []
    for k in keys:
        shown = [SimpleNamespace(name=q.name, kind=f"{q.kind} (derived)" if q.derived else q.kind,
                                 reference=q.reference, description=q.description)
                 for q in (get(n, k) for n in names(paper=k))]
        if parts:
            parts.append(Text(""))
        parts += [Text(f"{k}: {PAPERS[k].citation()}", style="bold"), quantity_list(shown)]
    stdout_console().print(Group(*parts))


def _generated_source(q) -> str:
    """lambdify's source for an expression, the residual's for an equation, a note for a primitive."""
    if q.kind == "expression":
        from convtool.analysis.evaluate import source

        return source(q.name, q.paper)
    if q.kind == "equation":
        import inspect

        from convtool.analysis.evaluate import residual
        from convtool.analysis.registry import display

        f, argnames = residual(q.name, q.paper)
        head = f"# residual f({display(q.unknown)}, {', '.join(argnames)}) of the defining equation\n"
        return head + inspect.getsource(f)
    return "# primitive: measured by convtool.numeric (no generated source)"
