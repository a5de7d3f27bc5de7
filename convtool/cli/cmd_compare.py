"""``convtool compare``: several schedules side by side on the same instance and inits (Fig. 2)."""

from __future__ import annotations

import click

from convtool.cli.errors import handle_user_errors
from convtool.cli.formats import format_options
from convtool.cli.options import (COMPARE_DEFAULT, SCHEDULE_CHOICES, ScheduleList, batch_from_options, batch_options,
                                  check_model_options, model_options,
                                  check_output_paths, data_argument, dpi_option, instance_options, plot_option,
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
@click.option("--out", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Save each schedule's recorded L(t) and eta_t (SCHEDULE__loss, SCHEDULE__eta), the reference, "
                   "the data arrays and a JSON 'metadata' string (rows, verdicts, provenance) to this .npz file.")
@plot_option("Draw L(t) per schedule (median and each seed, log scale) and a step-size panel; the format "
             "follows the extension (.png, .pdf, .svg).")
@dpi_option
@format_options
@handle_user_errors
def compare(data, schedules, steps, seeds, tol, no_reduce, no_reference, as_json, plot, out, dpi, fmt, digits,
            **opts):
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
    check_output_paths((data,), plot=plot, out=out)
    from convtool.cli.plugins import PLUGIN_MODULES, plugin

    if opts.get("model") in PLUGIN_MODULES:
        mod = plugin(opts["model"])
        if not hasattr(mod, "compare"):
            from convtool.cli.errors import ConvtoolInputError

            raise ConvtoolInputError(f"compare does not take --model {opts['model']}; use convtool run")
        return mod.compare(data, {**opts, "fmt": fmt, "digits": digits, "dpi": dpi}, schedules=schedules, steps=steps, seeds=seeds, tol=tol, as_json=as_json,
                           plot=plot)
    if opts.get("model") == "deep-linear":
        return _compare_widths(data, schedules, steps, seeds, tol, as_json, plot, dpi=dpi, fmt=fmt, digits=digits,
                               out=out, **opts)
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
    from convtool.cli.cmd_run import _init_of
    from convtool.cli.console import info
    from convtool.cli.options import provenance_of
    from convtool.numeric.verdict import run_verdict

    prov = provenance_of(opts, init=_init_of(data, opts))
    verdicts = {name: run_verdict(res) for name, res in cmp.runs.items()}
    payload = compare_payload(cmp, verdicts, prov)
    if out:
        save_compare(cmp, batch, out, payload)
        info(err, f"saved compare arrays to {npz_path(out)}")
    if plot:
        from convtool.cli.plots import plot_compare

        plot_compare(cmp, plot, title=f"convtool compare on {batch.source}", dpi=dpi)
        info(err, f"saved plot to {plot}")
    if as_json:
        import json

        click.echo(json.dumps(payload, allow_nan=False, indent=2))
        return
    from rich.console import Group

    from convtool.cli.formats import digits as digits_ctx, emit
    from convtool.cli.render import render_compare

    with digits_ctx(digits, fmt):
        shown = render_compare(cmp, verdicts=verdicts)
        if fmt != "table":  # a paper's or a spreadsheet's table carries every seed
            shown = Group(shown, per_seed_table(payload["per_seed"]))
        emit(shown, fmt, stdout_console())


def compare_payload(cmp, verdicts: dict, prov: dict) -> dict:
    """``compare --json`` (and ``--out``'s metadata): the rows with each schedule's verdict, one row per seed
    and schedule (``per_seed``), and the provenance."""
    from convtool.numeric.verdict import per_seed_rows, reference_seed_rows

    d = cmp.to_dict()
    for row in d["rows"]:
        if row["name"] in verdicts:
            row["verdict"] = verdicts[row["name"]]
    seeds = [r for name, res in cmp.runs.items() for r in per_seed_rows(name, res)]
    if any(r.name.startswith("problem-1") for r in cmp.rows) and cmp.runs:
        first = next(iter(cmp.runs.values()))
        seeds += reference_seed_rows(first.arrays["reference_loss"], cmp.tol)
    d["per_seed"] = seeds
    d["provenance"] = prov
    return d


def per_seed_table(rows: list):
    """The per-seed rows as a table (the csv, markdown and latex forms of compare)."""
    from rich.table import Table
    from rich.text import Text

    from convtool.cli.render import fmt

    cols = list(dict.fromkeys(k for r in rows for k in r))
    table = Table(title="Per seed")
    for c in cols:
        table.add_column(c)
    for r in rows:
        table.add_row(*(Text(fmt(r.get(c)) if not isinstance(r.get(c), str) else r[c]) for c in cols))
    return table


def npz_path(path: str) -> str:
    from convtool.cli.cmd_run import npz_path as p

    return p(path)


def save_compare(cmp, batch, path: str, payload: dict) -> None:
    """``compare --out``: per schedule ``NAME__loss`` (R, T+1) and ``NAME__eta`` (R, T), ``reference_loss``,
    the batch's data arrays (and W1, W2 for one seed, so the file loads again as DATA) and ``metadata``."""
    import json

    import numpy as np

    from convtool.errors import InputError
    from convtool.files import atomic_write

    arrays = {}
    for name, res in cmp.runs.items():
        arrays[f"{name}__loss"] = res.arrays["loss"]
        arrays[f"{name}__eta"] = res.arrays["eta"]
        arrays[f"{name}__steps"] = np.asarray(res.steps)
        if "reference_loss" in res.arrays and "reference_loss" not in arrays:
            arrays["reference_loss"] = res.arrays["reference_loss"]
    arrays.update(batch.data_arrays)
    if batch.R == 1 and not {"W1", "W2"} & set(arrays):
        arrays["W1"], arrays["W2"] = batch.W1[0], batch.W2[0]
    arrays["metadata"] = np.array(json.dumps(payload, allow_nan=False))
    target = npz_path(path)
    try:
        atomic_write(target, lambda fh: np.savez(fh, **arrays))
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


#: the records of each width that ``compare --model deep-linear --out`` saves (what its figure draws)
WIDTH_RECORDS = ("loss", "E_cvx", "dist_X_sq", "dln_X_sq", "thm2_bound", "thm2_applies", "eta", "eta_star")


def save_width_compare(cmp, path: str, prov: dict, X, Y) -> None:
    """``compare --model deep-linear --out``: per width ``w{n}__{record}`` (R, ...) for :data:`WIDTH_RECORDS` and
    ``w{n}__steps``, the data X, Y, and ``metadata``: the rows (as ``--json``), each width's Zhao & Xu summary
    and violations (what the figure's legend reads), the provenance. ``convtool show`` re-renders it."""
    import json

    import numpy as np

    from convtool.errors import InputError
    from convtool.files import atomic_write
    from convtool.results import jsonable

    arrays, runs = {"X": np.asarray(X), "Y": np.asarray(Y)}, {}
    for w, res in cmp.runs.items():
        for key in WIDTH_RECORDS:
            arrays[f"w{w}__{key}"] = res.arrays[key]
        arrays[f"w{w}__steps"] = np.asarray(res.steps)
        s = res.summary()
        runs[str(w)] = {"zhao_xu": s.get("zhao_xu"), "violations": s.get("violations"), "steps": s.get("steps"),
                        "schedule": res.schedule}
    meta = {**cmp.to_dict(), "width_runs": jsonable(runs), "provenance": prov}
    arrays["metadata"] = np.array(json.dumps(meta, allow_nan=False))
    try:
        atomic_write(npz_path(path), lambda fh: np.savez(fh, **arrays))
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _compare_widths(data, schedules, steps, seeds, tol, as_json, plot, dpi=None, fmt="table", digits=None,
                    out=None, **opts) -> None:
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
    if out:
        from convtool.cli.console import info
        from convtool.cli.options import provenance_of

        save_width_compare(cmp, out, provenance_of(opts, init), X, Y)
        info(err, f"saved compare arrays to {npz_path(out)}")
    if plot:
        from convtool.cli.plots import plot_width_compare

        plot_width_compare(cmp, plot, title=f"DLN vs convex GD by width ({init} init, {schedules[0]})", dpi=dpi)
        from convtool.cli.console import info

        info(err, f"saved plot to {plot}")
    if as_json:
        import json

        from convtool.cli.options import with_provenance

        click.echo(json.dumps(with_provenance(cmp.to_dict(), opts, init), allow_nan=False, indent=2))
        return
    from convtool.cli.formats import digits as digits_ctx, emit
    from convtool.cli.render import render_width_compare

    with digits_ctx(digits, fmt):
        emit(render_width_compare(cmp), fmt, stdout_console())
