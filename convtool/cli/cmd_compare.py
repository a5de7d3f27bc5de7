"""``convtool compare``: several schedules side by side on the same instance and inits (Fig. 2)."""

from __future__ import annotations

import click

from convtool.cli.errors import handle_user_errors
from convtool.cli.options import (COMPARE_DEFAULT, SCHEDULE_CHOICES, ScheduleList, batch_from_options, batch_options,
                                  check_output_paths, data_argument, instance_options, plot_option,
                                  theory_from_options, theory_options)

__all__ = ["compare"]


@click.command("compare", short_help="Compare step-size schedules side by side (Fig. 2).")
@data_argument
@click.option("--schedules", type=ScheduleList(), default=",".join(COMPARE_DEFAULT), show_default=True,
              help=f"Comma-separated schedules, from {', '.join(SCHEDULE_CHOICES)}.")
@batch_options
@instance_options
@theory_options
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

    check_output_paths((data,), plot=plot)
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
