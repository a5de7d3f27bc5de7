"""``convtool show FILE.npz``: a saved run's (or compare's) summary and plot again, without rerunning.

``run --out`` writes every recorded array and a JSON ``metadata`` string (summary, config, schedule,
constants, and since issue 12 the provenance, the source and the verdict); ``compare --out`` writes each
schedule's ``NAME__loss`` / ``NAME__eta`` and its rows. ``show`` reads those back (``allow_pickle=False``)
and hands them to the same renderers and plot functions as the commands that wrote them.
"""

from __future__ import annotations

import click

from convtool.cli.errors import handle_user_errors
from convtool.cli.formats import format_options
from convtool.cli.options import dpi_option, plot_option

__all__ = ["show", "load_saved"]


def load_saved(path: str) -> tuple[dict, dict]:
    """``(metadata, arrays)`` of a file convtool saved; one-line errors for anything else."""
    import json
    import zipfile

    import numpy as np

    from convtool.cli.errors import ConvtoolInputError
    from convtool.numeric.data import load_arrays

    load_arrays(path)  # every check of a data file (exists, regular, .npz, no pickles) with its one-line errors
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:  # pragma: no cover - load_arrays read it
        raise ConvtoolInputError(f"{path}: cannot read ({exc})") from None
    if "metadata" not in arrays:
        raise ConvtoolInputError(f"{path}: no 'metadata' member; show reads the files of run --out and "
                                 f"compare --out")
    try:
        meta = json.loads(str(arrays.pop("metadata")[()]))
    except ValueError as exc:
        raise ConvtoolInputError(f"{path}: its metadata is not JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise ConvtoolInputError(f"{path}: its metadata is not a JSON object")
    return meta, arrays


class _Saved:
    """The parts of a RunResult the renderers and plots read, from a saved file."""

    def __init__(self, meta: dict, arrays: dict) -> None:
        import numpy as np

        self.arrays = arrays
        self.schedule = meta.get("schedule") or {}
        self.config = meta.get("config") or {}
        self._summary = meta.get("summary") or {}
        self.steps = np.atleast_1d(arrays.get("steps", np.array(self._summary.get("steps", [0]))))
        self.status = list(np.atleast_1d(arrays.get("status", np.array(["?"]))))

    @property
    def R(self) -> int:
        return len(self.status)

    def summary(self) -> dict:
        return self._summary


def _show_run(path, meta, arrays, plot, dpi, fmt, digits) -> None:
    from convtool.cli.console import stdout_console
    from convtool.cli.formats import digits as digits_ctx, emit
    from convtool.cli.render import render_run

    res = _Saved(meta, arrays)
    saved = res.config.get("saved") or {}
    prov = res.config.get("provenance") or {}
    source = saved.get("source") or "?"
    if plot:
        from convtool.cli.plots import plot_run

        plot_run(res, plot, title=f"convtool run: {res.schedule.get('name')} on {source} (from {path})", dpi=dpi)
    with digits_ctx(digits, fmt):
        from rich.console import Group
        from rich.text import Text

        head = Text(f"saved by: {prov.get('command') or '?'} ({prov.get('timestamp') or 'no timestamp'}, "
                    f"convtool {(prov.get('versions') or {}).get('convtool', '?')})")
        summary = res.summary()
        parts = [head, render_run(summary, source=source, schedule=res.schedule, config=res.config,
                                  verdict=saved.get("verdict"))]
        if "balancedness" in summary:  # the tables convtool run prints after the summary (Du, Hu & Lee)
            from convtool.cli.render_balanced import balancedness_table, factorization_table, rank1_table

            parts.append(balancedness_table(summary["balancedness"]))
            if "factorization" in summary:
                parts.append(factorization_table(summary["factorization"]))
                if "rank1" in summary["factorization"]:
                    parts.append(rank1_table(summary["factorization"]["rank1"]))
        emit(Group(*parts), fmt, stdout_console())


def _show_compare(path, meta, arrays, plot, dpi, fmt, digits) -> None:
    import numpy as np

    from convtool.cli.console import stdout_console
    from convtool.cli.formats import digits as digits_ctx, emit
    from convtool.cli.render import render_compare
    from convtool.numeric.experiments import CompareResult, CompareRow

    runs, rows = {}, []
    for d in meta["rows"]:
        name = d["name"]
        loss = arrays.get(f"{name}__loss")
        if loss is not None:
            a = {"loss": loss, "eta": arrays[f"{name}__eta"]}
            if "reference_loss" in arrays:
                a["reference_loss"] = arrays["reference_loss"]
            runs[name] = _Saved({"summary": {}}, {**a, "steps": arrays.get(f"{name}__steps", np.array([0]))})
        rows.append(CompareRow(name=name, status=d.get("status") or {}, steps_to_tol=d.get("steps_to_tol"),
                               wall_time=d.get("wall_time") or 0.0, final_loss=d.get("final_loss"),
                               mean_eta=d.get("mean_eta"), observed_rate=d.get("observed_rate"),
                               violations=d.get("violations") or {}, loss_mean=np.array([]), loss_std=np.array([])))
    cmp = CompareResult(rows=rows, source=meta.get("source", "?"), steps=meta.get("steps"), tol=meta.get("tol"),
                        seeds=meta.get("seeds", 1), runs=runs)
    if plot:
        from convtool.cli.plots import plot_compare

        plot_compare(cmp, plot, title=f"convtool compare on {cmp.source} (from {path})", dpi=dpi)
    verdicts = {d["name"]: d["verdict"] for d in meta["rows"] if d.get("verdict")}
    with digits_ctx(digits, fmt):
        emit(render_compare(cmp, verdicts=verdicts), fmt, stdout_console())


@click.command("show", short_help="A saved run's or compare's summary (and plot) again, without rerunning.")
@click.argument("file", metavar="FILE.npz", type=click.Path(path_type=str))
@plot_option("Draw the saved run's (or compare's) figure again; the format follows the extension.")
@dpi_option
@format_options
@click.option("--json", "as_json", is_flag=True, help="Write the saved metadata (strict JSON) to stdout.")
@handle_user_errors
def show(file, plot, dpi, fmt, digits, as_json):
    """Re-render FILE, written by `convtool run --out` or `convtool compare --out`, without rerunning.

    \b
    Example:
      $ convtool run --width 100 --steps 500 --out run.npz && convtool show run.npz --plot run.pdf
    """
    from convtool.cli.errors import ConvtoolInputError
    from convtool.cli.options import check_output_paths

    check_output_paths((file,), plot=plot)
    meta, arrays = load_saved(file)
    if as_json:
        import json

        click.echo(json.dumps(meta, allow_nan=False, indent=2))
        return
    if "rows" in meta:
        return _show_compare(file, meta, arrays, plot, dpi, fmt, digits)
    if "summary" not in meta:
        raise ConvtoolInputError(f"{file}: not a run or compare file (its metadata has neither 'summary' nor "
                                 f"'rows'); show --json prints it")
    if "zhao_xu" in (meta.get("summary") or {}):
        raise ConvtoolInputError(f"{file}: a deep-linear run; show re-renders two-layer runs (show --json "
                                 f"prints its metadata)")
    return _show_run(file, meta, arrays, plot, dpi, fmt, digits)
