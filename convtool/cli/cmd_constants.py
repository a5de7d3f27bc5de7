"""``convtool constants``: every constant of the local-PL paper for one instance."""

from __future__ import annotations

import click

from convtool.cli.errors import handle_user_errors
from convtool.cli.formats import format_options
from convtool.cli.options import (check_model_options, check_output_paths, data_argument, model_options, instance_from_options, instance_options, save_init_option,
                                  theory_from_options, theory_options)

__all__ = ["constants"]


@click.command("constants")
@data_argument
@instance_options
@save_init_option
@theory_options
@model_options
@click.option("--json", "as_json", is_flag=True, help="Write one strict JSON object to stdout instead of tables.")
@click.option("--latex", is_flag=True, help="Add each quantity's defining formula in LaTeX.")
@format_options
@handle_user_errors
def constants(data, as_json, latex, fmt, digits, **opts):
    """Constants of Table 2 and Theorems 3.1, 3.2 / E.1 for DATA (default: the built-in Fig. 1 instance).

    DATA is an .npz file with X, Y (squared loss; Y for factorization, A, y for
    sensing) and optionally W1 (n x h), W2 (m x h); without weights they are
    generated (--width, --init, --std / --p, --seed).

    \b
    Example:
      $ convtool constants --json | python -c "import json,sys; print(json.load(sys.stdin)['eta_max'])"
    """
    from convtool.cli.console import report_warnings, stderr_console, stdout_console
    from convtool.numeric.constants import compute_constants

    check_output_paths((data,), save_init=opts.get("save_init"))
    check_model_options(opts)
    from convtool.cli.plugins import PLUGIN_MODULES, plugin

    if opts.get("model") in PLUGIN_MODULES:
        return plugin(opts["model"]).constants(data, {**opts, "fmt": fmt, "digits": digits}, as_json)
    if opts.get("model") == "deep-linear":
        return _deep_linear(data, as_json, fmt=fmt, digits=digits, **opts)
    err = stderr_console()
    mf_flags = [f"--{k.replace('_', '-')}" for k in ("eps", "delta", "c_step") if opts.get(k) is not None]
    if mf_flags and opts.get("loss") != "factorization":
        from convtool.cli.errors import ConvtoolInputError

        raise ConvtoolInputError(f"{', '.join(mf_flags)} apply to the two-layer model with --loss factorization "
                                 f"(Du, Hu & Lee's matrix factorization)")
    with report_warnings(err):
        inst = instance_from_options(data, **opts)
        res = compute_constants(inst.loss, inst.W1, inst.W2, **theory_from_options(**opts))
    dhl = None
    if opts.get("loss") == "factorization":  # Du, Hu & Lee, Theorem 3.1's preconditions and schedule constants
        from convtool.numeric.factorization import factorization_constants

        dhl = factorization_constants(inst.loss.Wstar, inst.W1, inst.W2, eps=opts.get("eps"),
                                      delta=opts.get("delta"), c_step=opts.get("c_step"))
    if opts.get("save_init"):
        from convtool.cli.console import info

        info(err, f"saved data and initial weights to {opts['save_init']}")
    if as_json:
        import json

        from convtool.cli.options import with_provenance

        from convtool.cli.render import out_of_range

        out = {"source": inst.source}
        out.update(res.to_dict())
        if out_of_range(res):  # the values stay (they are what the formulas give); this says they are no bound
            out["out_of_range"] = out_of_range(res)
        if latex:
            from convtool.cli.render import latex_of

            out["latex"] = {f: latex_of(f) for f in res.quantities}
        if dhl is not None:
            from convtool.results import jsonable

            out["du_hu_lee"] = jsonable(dhl)
        click.echo(json.dumps(with_provenance(out, opts, inst.meta.get("init")), allow_nan=False, indent=2))
        return
    from convtool.cli.formats import digits as digits_ctx, emit
    from convtool.cli.render import render_constants

    from rich.console import Group

    with digits_ctx(digits, fmt):  # numbers are formatted when the tables are built: inside the context
        parts = [render_constants(res, source=inst.source, latex=latex)]
        if dhl is not None:
            from convtool.cli.render_balanced import factorization_constants_table

            parts.append(factorization_constants_table(dhl))
        emit(Group(*parts) if len(parts) > 1 else parts[0], fmt, stdout_console())


def _deep_linear(data, as_json: bool, fmt="table", digits=None, **opts) -> None:
    """``constants --model deep-linear``: Zhao & Xu's constants (convtool.numeric.dln_constants)."""
    from convtool.cli.console import stderr_console, stdout_console
    from convtool.cli.options import deep_linear_constants_from_options

    res, source = deep_linear_constants_from_options(data, stderr_console(), **opts)
    if as_json:
        import json

        from convtool.cli.options import with_provenance

        click.echo(json.dumps(with_provenance({"source": source, **res.to_dict()}, opts, res.init), allow_nan=False,
                              indent=2))
        return
    from convtool.cli.formats import digits as digits_ctx, emit
    from convtool.cli.render import render_deep_linear_constants

    with digits_ctx(digits, fmt):
        emit(render_deep_linear_constants(res, source=source), fmt, stdout_console())
