"""``convtool sweep SPEC.toml``: a grid of ``convtool run`` on local processes or a Dask cluster (convtool.sweeps)."""

from __future__ import annotations

import click

from convtool.cli.errors import handle_user_errors

__all__ = ["sweep"]

#: columns of the terminal summary (the full table is the CSV)
SHOWN = ("status", "steps", "final_loss", "observed_rate", "tightness")


@click.command("sweep", short_help="Run a grid of `convtool run` (a TOML spec); one tidy table, cached.")
@click.argument("spec", metavar="SPEC.toml", type=click.Path(path_type=str))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Output folder (table.csv, table.parquet, manifest.json, cache/) [SPEC's name + '-sweep'].")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Local worker processes (or LocalCluster workers) [the core count].")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT|auto",
              help="Run on an existing Dask cluster, or 'auto' for a local one (pip install 'convtool[dask]').")
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="Dask: reruns of a run whose worker died or that raised.")
@click.option("--force", is_flag=True, help="Ignore the cache: rerun every point.")
@click.option("--quick", is_flag=True, help="Apply the spec's [quick] overrides (the small version of an experiment).")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Draw the spec's [plot] (x, y, hue, predicted, logx, logy) to this PNG file.")
@click.option("--json", "as_json", is_flag=True, help="Write the table as one strict JSON object to stdout.")
@handle_user_errors
def sweep(spec, out_dir, jobs, scheduler, retries, force, quick, plot, as_json):
    """Run every point of SPEC.toml (see convtool.sweeps.spec) and write one table.

    A run that fails is a row with its error and the sweep goes on; the exit
    status is 0 when every run succeeded and 100 + the number of failed runs
    (at most 255) otherwise. Re-running a spec runs only new or changed points.

    \b
    Example spec:
      [options]
      steps = 500
      [grid]
      width = [50, 100, 200]
      schedule = ["adaptive", "local"]
    """
    import os
    import sys

    from rich.text import Text

    from convtool.cli.console import report_warnings, stderr_console, stdout_console
    from convtool.cli.options import check_output_paths
    from convtool.sweeps import FAILED_EXIT_BASE, load_spec, run_sweep

    err = stderr_console()
    spec_obj = load_spec(spec, quick=quick)
    if plot:
        from convtool.cli.plots import require_matplotlib

        require_matplotlib()
        if not spec_obj.plot.get("x") or not spec_obj.plot.get("y"):
            from convtool.cli.errors import ConvtoolInputError

            raise ConvtoolInputError(f"--plot needs a [plot] table with x and y in {spec}")
    out_dir = out_dir or os.path.splitext(spec)[0] + "-sweep"
    inputs = [spec] + ([spec_obj.data] if spec_obj.data else [])
    check_output_paths(inputs, plot=plot)
    from convtool.files import same_file

    outputs = [os.path.join(out_dir, f) for f in ("table.csv", "table.parquet", "manifest.json")]
    for p in inputs:  # the same test as check_output_paths (symlinks, hard links), for the folder's files
        if any(same_file(p, o) for o in outputs):
            from convtool.cli.errors import ConvtoolInputError

            raise ConvtoolInputError(f"--out {out_dir} would overwrite the input {p}")
    jobs = jobs or os.cpu_count() or 1
    from convtool.cli.cmd_run import progress_bar

    with report_warnings(err), progress_bar(err, not as_json, eta=True) as update:
        res = run_sweep(spec_obj, out_dir, jobs=jobs, scheduler=scheduler, retries=retries, force=force,
                        progress=lambda done, total: update("runs", done, total),
                        command=["convtool", "sweep", *sys.argv[2:]] if sys.argv else None)
    if plot:
        from convtool.cli.plot_sweep import plot_sweep

        plot_sweep(res.rows, spec_obj.plot, plot, title=spec_obj.name)
        err.print(Text(f"saved plot to {plot}"), soft_wrap=True)
    if as_json:
        import json

        click.echo(json.dumps(res.to_dict(), allow_nan=False, indent=2, default=str))
    else:
        stdout_console().print(_table(res, spec_obj.axis_keys))
    err.print(Text(f"{len(res.rows)} runs ({res.ran} ran, {res.cached} from the cache, {res.failed} failed"
                   + (f", {res.corrupted} corrupted cache entries recomputed" if res.corrupted else "")
                   + f"); table: {os.path.join(out_dir, 'table.csv')}"), soft_wrap=True)
    if res.failed:
        sys.exit(FAILED_EXIT_BASE + min(res.failed, 155))


def _table(res, axis_keys):
    from rich.table import Table

    from convtool.sweeps.figure import format_value

    t = Table(title="convtool sweep", show_lines=False)
    cols = ["point", *axis_keys, "status", *[c for c in SHOWN[1:] if c in res.columns]]
    for c in cols:
        t.add_column(c, overflow="fold", no_wrap=False)
    for r in res.rows:
        cells = [format_value(r.get(c), "-") for c in cols]
        if r.get("run_status") != "ok":
            cells[cols.index("status")] = f"failed: {r.get('error')}"
        t.add_row(*cells)
    return t
