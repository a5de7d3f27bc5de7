"""``convtool schedule``: eta_max with its parts and the first steps of the adaptive schedule."""

from __future__ import annotations

import click

from convtool.cli.errors import handle_user_errors
from convtool.cli.options import (batch_from_options, data_argument, instance_options, theory_from_options,
                                  theory_options)

__all__ = ["schedule"]


@click.command("schedule", short_help="eta_max, its parts and the adaptive schedule's first steps.")
@data_argument
@click.option("--schedule", "name", type=click.Choice(("adaptive", "adaptive-bar")), default="adaptive",
              show_default=True, help="adaptive (eq. 19 with 1/K_t) or adaptive-bar (with 1/Kbar_t).")
@click.option("--steps", type=click.IntRange(min=1), default=20, show_default=True,
              help="Number N of steps to list.")
@click.option("--horizon", type=click.IntRange(min=1), default=10 ** 6, show_default=True,
              help="Search adaptive-bar's 1/Kbar_t takeover up to this step (explicit formulas).")
@instance_options
@theory_options
@click.option("--json", "as_json", is_flag=True, help="Write one strict JSON object to stdout instead of tables.")
@handle_user_errors
def schedule(data, name, steps, horizon, as_json, **opts):
    """eta_max = min(eta0^(1), eta0^(2), third term) and the first N steps of the adaptive schedule.

    Shows each part of eta_max with its solver bracket and residual, the chosen
    eta0, then per step the growth cap (1 + eta0^d)^(t/2) eta0, 1/K_t, 1/Kbar_t,
    eta_t and which branch binds; the step where the 1/K_t branch takes over (as
    observed) and where 1/Kbar_t takes over in adaptive-bar (from Theorem E.1's
    explicit formulas). DATA as for `convtool run` (default: the Fig. 1 setting).

    \b
    Example:
      $ convtool schedule --width 100 --steps 10 --eta0 0.002
    """
    from convtool.cli.cmd_run import show_notes
    from convtool.cli.console import report_warnings, stderr_console, stdout_console

    err = stderr_console()
    with report_warnings(err):
        from convtool.numeric.experiments import schedule_preview

        batch = batch_from_options(data, 1, **opts)
        preview = schedule_preview(batch.losses[0], batch.W1[0], batch.W2[0], schedule=name, steps=steps,
                                   horizon=horizon, **theory_from_options(**opts))
    show_notes(err, preview.constants.get("warnings") or [])
    if as_json:
        import json

        click.echo(json.dumps({"source": batch.source, **preview.to_dict()}, allow_nan=False, indent=2))
        return
    from convtool.cli.render import render_schedule

    stdout_console().print(render_schedule(preview, source=batch.source))
