"""``convtool schedule``: eta_max with its parts and the first steps of the adaptive schedule."""

from __future__ import annotations

import click

from convtool.cli.errors import handle_user_errors
from convtool.cli.formats import format_options
from convtool.cli.options import (batch_from_options, check_model_options, data_argument, instance_options,
                                  model_options, theory_from_options, theory_options)

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
@model_options
@click.option("--json", "as_json", is_flag=True, help="Write one strict JSON object to stdout instead of tables.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Save the listed steps (t, cap, eta_hat, inv_Kbar, eta), the data arrays, W1, W2 and a JSON "
                   "'metadata' string (eta_max's parts, takeovers, provenance) to this .npz file.")
@format_options
@handle_user_errors
def schedule(data, name, steps, horizon, as_json, out, fmt, digits, **opts):
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

    from convtool.cli.options import check_output_paths, provenance_of, with_provenance

    check_model_options(opts)
    check_output_paths((data,), out=out)
    if opts.get("model") == "deep-linear":
        return _deep_linear_steps(data, as_json, out=out, fmt=fmt, digits=digits, **opts)
    err = stderr_console()
    with report_warnings(err):
        from convtool.numeric.experiments import schedule_preview

        batch = batch_from_options(data, 1, **opts)
        preview = schedule_preview(batch.losses[0], batch.W1[0], batch.W2[0], schedule=name, steps=steps,
                                   horizon=horizon, **theory_from_options(**opts))
    show_notes(err, preview.constants.get("warnings") or [])
    from convtool.cli.cmd_run import _init_of

    payload = with_provenance({"source": batch.source, **preview.to_dict()}, opts, _init_of(data, opts))
    if out:
        import numpy as np

        arrays = {k: np.array([float("nan") if r.get(k) is None else float(r[k]) for r in preview.steps])
                  for k in ("t", "cap", "eta_hat", "inv_Kbar", "eta")}
        arrays.update(batch.data_arrays)
        arrays["W1"], arrays["W2"] = batch.W1[0], batch.W2[0]
        _save_npz(out, arrays, payload)
        from convtool.cli.console import info

        info(err, f"saved schedule to {_npz(out)}")
    if as_json:
        import json

        click.echo(json.dumps(payload, allow_nan=False, indent=2))
        return
    from convtool.cli.formats import digits as digits_ctx, emit
    from convtool.cli.render import render_schedule

    with digits_ctx(digits, fmt):
        emit(render_schedule(preview, source=batch.source), fmt, stdout_console())


def _npz(path: str) -> str:
    from convtool.cli.options import output_target

    return output_target("out", path)


def _save_npz(path: str, arrays: dict, payload: dict) -> None:
    """Arrays and the JSON ``metadata`` string to ``path`` (``.npz`` appended when missing), atomically."""
    import json

    import numpy as np

    from convtool.errors import InputError
    from convtool.files import atomic_write

    arrays = {**arrays, "metadata": np.array(json.dumps(payload, allow_nan=False))}
    try:
        atomic_write(_npz(path), lambda fh: np.savez(fh, **arrays))
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


#: Zhao & Xu's step sizes, each with the quantities that hold at that step (all from the registry)
DLN_STEPS = (("eta_thm1", "Theorem 1 (schedule thm1): eta_* = 1/beta"),
             ("eta_cor3", "Corollary 3 (schedule cor3): eta_* = 2/(alpha + beta)"),
             ("eta0_c", "eq. (22): Theorems 4-6 need eta < eta0(c)"),
             ("eta1", "Theorem 2: every eta < eta1 (eta_* < 2/beta)"))


def _deep_linear_steps(data, as_json: bool, out=None, fmt="table", digits=None, **opts) -> None:
    """``schedule --model deep-linear``: Zhao & Xu's steps are constant; each with its eta_*, q, eta/eta0(c)."""
    from convtool.cli.console import report_warnings, stderr_console, stdout_console
    from convtool.cli.options import deep_linear_from_options, deep_linear_settings
    from convtool.numeric.dln_constants import compute_deep_linear_constants
    from convtool.results import NotApplicable

    err = stderr_console()
    with report_warnings(err):
        X, Y, layers, init, source = deep_linear_from_options(data, **opts)
        settings = deep_linear_settings(opts)
        base = compute_deep_linear_constants(X, Y, layers, init=init, **{**settings, "eta": None})
        rows = []
        for key, what in DLN_STEPS:
            eta = base.quantities[key]
            at = compute_deep_linear_constants(X, Y, layers, init=init, **{**settings, "eta": eta}) \
                if key != "eta_thm1" else base
            q = at.quantities
            cell = lambda v: None if isinstance(v, NotApplicable) else v  # noqa: E731
            rows.append({"step": key, "eta": eta, "what": what, "eta_star": cell(q["eta_star"]), "q": cell(q["q"]),
                         "eta_ratio": cell(q["eta_ratio"]),
                         "q_not_applicable": q["q"].reason if isinstance(q["q"], NotApplicable) else None})
    payload = {"source": source, "model": "deep-linear", "widths": list(base.widths),
           "note": "Zhao & Xu's steps are constant over t; run them with convtool run --model deep-linear",
           "steps": rows}
    from convtool.cli.options import with_provenance
    from convtool.results import jsonable

    payload = jsonable(with_provenance(payload, opts, init))
    if out:
        import numpy as np

        arrays = {"eta": np.array([float(r["eta"]) for r in rows]), "X": X, "Y": Y}
        _save_npz(out, arrays, payload)
        from convtool.cli.console import info

        info(err, f"saved schedule to {_npz(out)}")
    if as_json:
        import json

        click.echo(json.dumps(payload, allow_nan=False, indent=2))
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Zhao & Xu's step sizes (constant in t)", title_justify="left")
    for col in ("step", "eta", "eta_*", "q (eq. 10)", "eta/eta0(c)", "what"):
        table.add_column(col, no_wrap=col != "what", overflow="fold")
    from convtool.cli.formats import digits as digits_ctx
    from convtool.cli.render import full

    def num(v):
        with digits_ctx(digits, fmt):
            return "-" if v is None else full(v)

    for r in rows:
        table.add_row(r["step"], num(r["eta"]), num(r["eta_star"]),
                      num(r["q"]) if r["q"] is not None else "n/a", num(r["eta_ratio"]), r["what"])
    from rich.console import Group

    from convtool.cli.formats import emit

    with digits_ctx(digits, fmt):
        emit(Group(Text(f"source: {source}"), table), fmt, stdout_console())
