"""``convtool explain``: a registered quantity's formula, reference and dependency tree."""

from __future__ import annotations

import click

from convtool.cli.errors import ConvtoolInputError, handle_user_errors
from convtool.cli.options import (changed_options, data_argument, instance_from_options, instance_options,
                                  theory_from_options, theory_options)

__all__ = ["explain"]


@click.command("explain")
@click.argument("name", required=False)
@data_argument
@instance_options
@theory_options
@click.option("--default", "use_default", is_flag=True,
              help="Show values at the built-in instance (as if DATA were given).")
@click.option("--source", "show_source", is_flag=True, help="Show the numeric source lambdify generated.")
@click.option("--list", "list_all", is_flag=True, help="List every registered quantity with its reference.")
@click.option("--json", "as_json", is_flag=True, help="Write the explanation as one strict JSON object.")
@handle_user_errors
def explain(name, data, use_default, show_source, list_all, as_json, **opts):
    """Explain quantity NAME: description, paper reference, formula and what it depends on.

    With DATA (or --default) the values at that instance are shown along the
    dependency tree. NAME is looked up in the registry, never parsed.

    \b
    Examples:
      $ convtool explain --list
      $ convtool explain alpha1 --default
    """
    import json

    from convtool.analysis import get, names

    if list_all:
        if name is not None:
            raise click.UsageError("--list takes no NAME")
        qs = [get(n) for n in names()]
        if as_json:
            click.echo(json.dumps([{"name": q.name, "kind": q.kind, "reference": q.reference,
                                    "description": q.description} for q in qs], allow_nan=False, indent=2))
            return
        from convtool.cli.console import stdout_console
        from convtool.cli.render import quantity_list

        stdout_console().print(quantity_list(qs))
        return
    if name is None:
        raise click.UsageError("give a quantity NAME (or --list)")
    if use_default and data is not None:
        raise ConvtoolInputError("give either DATA or --default, not both")
    if data is None and not use_default and changed_options(opts):
        names_given = ", ".join(f"--{k}" for k in changed_options(opts))
        raise ConvtoolInputError(f"{names_given} only matter(s) with values: give DATA or --default")
    try:
        q = get(name)
    except KeyError as exc:
        raise ConvtoolInputError(f"{exc.args[0]} (`convtool explain --list` lists all quantities)") from None

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
    node = explain_graph(name, values)
    code = _generated_source(q) if show_source else None
    if as_json:
        from convtool.results import jsonable

        out = {"name": q.name, "kind": q.kind, "reference": q.reference, "description": q.description,
               "formula_latex": q.formula_latex(), "tree": jsonable(node.to_dict())}
        if inst is not None:
            out["source"] = inst.source
        if code is not None:
            out["generated_source"] = code
        click.echo(json.dumps(out, allow_nan=False, indent=2))
        return
    from convtool.cli.console import stdout_console
    from convtool.cli.render import EXPLAIN_PRINT_OPTIONS, constants_header, render_explain

    header = constants_header(res, inst.source) if res is not None else None
    stdout_console().print(render_explain(q, node, source_code=code, with_values=values is not None,
                                          header=header), **EXPLAIN_PRINT_OPTIONS)


def _generated_source(q) -> str:
    """lambdify's source for an expression, the residual's for an equation, a note for a primitive."""
    if q.kind == "expression":
        from convtool.analysis.evaluate import source

        return source(q.name)
    if q.kind == "equation":
        import inspect

        from convtool.analysis.evaluate import residual

        f, argnames = residual(q.name)
        return f"# residual f({q.unknown}, {', '.join(argnames)}) of the defining equation\n" + inspect.getsource(f)
    return "# primitive: measured by convtool.numeric (no generated source)"
