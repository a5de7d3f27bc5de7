"""``convtool compare``: several schedules side by side on the same instance and inits (Fig. 2)."""

from __future__ import annotations

import click

from convtool.cli.errors import handle_user_errors
from convtool.cli.options import (COMPARE_DEFAULT, SCHEDULE_CHOICES, ScheduleList, batch_from_options, batch_options,
                                  check_model_options, model_options,
                                  check_output_paths, data_argument, instance_options, plot_option,
                                  theory_from_options, theory_options)

__all__ = ["compare"]


@click.command("compare", short_help="Compare step-size schedules side by side (Fig. 2).")
@data_argument
@click.option("--schedules", type=ScheduleList(), default=None,
              help=f"Comma-separated schedules, from {', '.join(SCHEDULE_CHOICES)} "
                   f"[two-layer: {','.join(COMPARE_DEFAULT)}; deep-linear: thm1].")
@batch_options
@instance_options
@theory_options
@model_options
@click.option("--compare-widths", "compare_widths", default=None, metavar="n,n,...",
              help="deep-linear: equal hidden widths to compare, one row each [100,200,400,800].")
@click.option("--no-reference", "no_reference", is_flag=True,
              help="Leave out the Problem-1 reference row (GD on W with eta = 1/K, Fig. 4).")
@click.option("--json", "as_json", is_flag=True, help="Write one strict JSON object to stdout instead of the table.")
@plot_option("Draw mean log10 L(t) per schedule (with +-1 std bands over seeds) to this PNG file.")
@handle_user_errors
def compare(data, schedules, steps, seeds, tol, no_reduce, no_reference, as_json, plot, **opts):
    """Run each schedule on DATA (default: the Fig. 1 setting) from the same initializations.

    One row per schedule (status, steps to tol, wall time, final L, mean eta,
    observed rate, Theorem 3.1 / 3.2 violations) and the Problem-1 reference row.
    --eta0, --c, --d apply to every schedule that uses them.

    \b
    Example:
      $ convtool compare --schedules adaptive,local,adgd --width 100 --seeds 5 --plot cmp.png
    """
    from convtool.cli.cmd_run import progress_bar, show_notes
    from convtool.cli.console import report_warnings, stderr_console, stdout_console

    check_model_options(opts)
    check_output_paths((data,), plot=plot)
    from convtool.cli.plugins import PLUGIN_MODULES, plugin

    if opts.get("model") in PLUGIN_MODULES:
        mod = plugin(opts["model"])
        if not hasattr(mod, "compare"):
            from convtool.cli.errors import ConvtoolInputError

            raise ConvtoolInputError(f"compare does not take --model {opts['model']}; use convtool run")
        return mod.compare(data, opts, schedules=schedules, steps=steps, seeds=seeds, tol=tol, as_json=as_json,
                           plot=plot)
    if opts.get("model") == "deep-linear":
        return _compare_widths(data, schedules, steps, seeds, tol, as_json, plot, **opts)
    if opts.get("compare_widths") is not None:
        from convtool.cli.errors import ConvtoolInputError

        raise ConvtoolInputError("--compare-widths applies to --model deep-linear only")
    schedules = schedules or list(COMPARE_DEFAULT)
    err = stderr_console()
    with report_warnings(err):
        from convtool.numeric.experiments import compare_schedules

        with progress_bar(err, not as_json) as update:
            batch = batch_from_options(data, seeds, progress=update, **opts)
            cmp = compare_schedules(batch, schedules, steps=steps, tol=tol, reference=not no_reference,
                                    progress=update, reduce=False if no_reduce else "auto",
                                    **theory_from_options(**opts))
    show_notes(err, [w for res in cmp.runs.values() for w in res.extra.get("constant_warnings", [])])
    if plot:
        from rich.text import Text

        from convtool.cli.plots import plot_compare

        plot_compare(cmp, plot, title=f"convtool compare on {batch.source}")
        err.print(Text(f"saved plot to {plot}"), soft_wrap=True)
    if as_json:
        import json

        click.echo(json.dumps(cmp.to_dict(), allow_nan=False, indent=2))
        return
    from convtool.cli.render import render_compare

    stdout_console().print(render_compare(cmp))


def _compare_widths(data, schedules, steps, seeds, tol, as_json, plot, **opts) -> None:
    """``compare --model deep-linear``: the DLN against convex GD at several hidden widths (Theorem 2)."""
    from convtool.cli.cmd_run import progress_bar
    from convtool.cli.console import report_warnings, stderr_console, stdout_console
    from convtool.cli.errors import ConvtoolInputError
    from convtool.cli.options import deep_linear_from_options, deep_linear_settings
    from convtool.numeric.dln_experiments import compare_widths

    if opts.get("widths") is not None:
        raise ConvtoolInputError("compare --model deep-linear takes --compare-widths n,n,... (equal hidden widths)")
    schedules = schedules or ["thm1"]
    if len(schedules) != 1:
        raise ConvtoolInputError("compare --model deep-linear compares widths at one schedule; give one in "
                                 "--schedules")
    text = opts.get("compare_widths") or "100,200,400,800"
    try:
        widths = [int(w) for w in text.split(",")]
    except ValueError:
        raise ConvtoolInputError(f"--compare-widths {text!r}: give comma-separated positive integers") from None
    if not widths or min(widths) < 1:
        raise ConvtoolInputError(f"--compare-widths {text!r}: widths must be positive")
    err = stderr_console()
    with report_warnings(err):
        X, Y, layers, init, source = deep_linear_from_options(data, **{**opts, "widths": str(widths[0])})
        if init == "file":
            raise ConvtoolInputError("compare --model deep-linear generates the layers at each width; the data "
                                     "file must not hold W1 .. WN")
        with progress_bar(err, not as_json) as update:
            cmp = compare_widths(X, Y, widths, depth=len(layers), init=init, seeds=seeds,
                                 seed=int(opts.get("seed") or 0), schedule=schedules[0], steps=steps, tol=tol,
                                 source=source.split(";")[0], progress=update, **deep_linear_settings(opts))
    if plot:
        from rich.text import Text

        from convtool.cli.plots import plot_width_compare

        plot_width_compare(cmp, plot, title=f"DLN vs convex GD by width ({init} init, {schedules[0]})")
        err.print(Text(f"saved plot to {plot}"), soft_wrap=True)
    if as_json:
        import json

        click.echo(json.dumps(cmp.to_dict(), allow_nan=False, indent=2))
        return
    from convtool.cli.render import render_width_compare

    stdout_console().print(render_width_compare(cmp))
