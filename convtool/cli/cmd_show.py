"""``convtool show FILE.npz``: a saved run's (or compare's) summary and plot again, without rerunning.

``run --out`` writes every recorded array and a JSON ``metadata`` string (summary, config, schedule,
constants, and since issue 12 the provenance, the source and the verdict); ``compare --out`` writes each
schedule's ``NAME__loss`` / ``NAME__eta`` and its rows. ``show`` reads those back (``allow_pickle=False``)
and hands them to the same renderers and plot functions as the commands that wrote them: two-layer runs and
compares, the runs of ``--model deep-linear``, ``resnet``, ``mlp`` and ``shallow`` (the model is
``config["saved"]["model"]``, see :func:`model_of`), and ``compare --model deep-linear --out``'s widths.
"""

from __future__ import annotations

import click

from convtool.cli.errors import handle_user_errors
from convtool.cli.formats import format_options
from convtool.cli.options import dpi_option, plot_option

__all__ = ["show", "load_saved", "model_of", "saved_width_compare"]


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


#: array names of a run file that are not per-step records (data, weights, the step index)
_NOT_RECORDS = {"X", "Y", "A", "B", "W", "V", "t", "steps", "status"}


def _is_weight(key: str) -> bool:
    import re

    return bool(re.fullmatch(r"W\d*(_0|_T)?", key))


class _Saved:
    """The parts of a RunResult the renderers and plots read, from a saved file.

    With one seed ``RunResult.save`` drops the records' seed axis; it is put back here (the records named in
    ``config["saved"]["records"]``; for files without that list, every array of T or T+1 entries that is not
    data or a weight), so the renderers see the (R, T+1) and (R, T) records the run had."""

    def __init__(self, meta: dict, arrays: dict) -> None:
        import numpy as np

        self.schedule = meta.get("schedule") or {}
        self.config = meta.get("config") or {}
        self._summary = meta.get("summary") or {}
        self.steps = np.atleast_1d(arrays.get("steps", np.array(self._summary.get("steps", [0]))))
        self.status = [str(x) for x in np.atleast_1d(arrays.get("status", np.array(["?"])))]
        arrays = dict(arrays)
        if len(self.status) == 1 and "loss" in arrays and np.ndim(arrays["loss"]) == 1:
            records = (self.config.get("saved") or {}).get("records")
            if records is None:
                n = np.shape(arrays["loss"])[0]
                records = [k for k, v in arrays.items() if k not in _NOT_RECORDS and not _is_weight(k)
                           and np.ndim(v) >= 1 and np.shape(v)[0] in (n, n - 1)]
            for k in records:
                if k in arrays:
                    arrays[k] = np.asarray(arrays[k])[None]
        self.arrays = arrays

    @property
    def R(self) -> int:
        return len(self.status)

    def summary(self) -> dict:
        return self._summary


def model_of(meta: dict) -> str:
    """The ``--model`` of a saved run: ``config["saved"]["model"]``, else read off the summary's theories
    (files written before the key existed)."""
    cfg = meta.get("config") or {}
    key = (cfg.get("saved") or {}).get("model")
    if key:
        return key
    summary = meta.get("summary") or {}
    if "zhao_xu" in summary:
        return "deep-linear"
    if "zou_long_gu" in summary:
        return "resnet"
    if cfg.get("model") in ("mlp", "shallow"):
        return cfg["model"]
    return "two-layer"


def _head(prov: dict):
    from rich.text import Text

    return Text(f"saved by: {prov.get('command') or '?'} ({prov.get('timestamp') or 'no timestamp'}, "
                f"convtool {(prov.get('versions') or {}).get('convtool', '?')})")


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

        summary = res.summary()
        from convtool.cli.render_balanced import du_hu_lee_tables

        parts = [_head(prov), render_run(summary, source=source, schedule=res.schedule, config=res.config,
                                         verdict=saved.get("verdict")), *du_hu_lee_tables(summary)]
        emit(Group(*parts), fmt, stdout_console())


def _model_tables(model: str, res, source: str):
    """The renderables ``convtool run --model MODEL`` prints, from a saved run (the same functions)."""
    if model == "deep-linear":
        from convtool.cli.render import render_deep_linear_run
        from convtool.cli.render_balanced import du_hu_lee_tables

        return [render_deep_linear_run(res, source=source), *du_hu_lee_tables(res.summary())]
    if model == "resnet":
        from convtool.cli.render_resnet import render_resnet_run

        return [render_resnet_run(res, source=source)]
    if model == "mlp":
        from convtool.cli.render_balanced import render_mlp_run

        return [render_mlp_run(res, source=source)]
    from convtool.cli.render_shallow import render_shallow_run

    return [render_shallow_run(res, source=source)]


#: the figure of each model's ``run --plot`` (function name in :mod:`convtool.cli.plots`)
_MODEL_PLOTS = {"deep-linear": "plot_deep_linear_run", "resnet": "plot_resnet_run", "mlp": "plot_mlp_run",
                "shallow": "plot_shallow_run"}


def _show_model_run(path, model, meta, arrays, plot, dpi, fmt, digits) -> None:
    """``show`` of a deep-linear or plugin-model run: its tables (and figure) from the saved summary and records."""
    from rich.console import Group

    from convtool.cli.errors import ConvtoolInputError
    from convtool.cli.plugins import emit_table

    res = _Saved(meta, arrays)
    saved = res.config.get("saved") or {}
    source = saved.get("source") or "?"
    try:
        if plot:
            from convtool.cli import plots

            getattr(plots, _MODEL_PLOTS[model])(res, plot, dpi=dpi, title=f"convtool run --model {model}: "
                                                f"{res.schedule.get('name')} (from {path})")
        emit_table(lambda: Group(_head(res.config.get("provenance") or {}), *_model_tables(model, res, source)),
                   {"fmt": fmt, "digits": digits})
    except (KeyError, IndexError) as exc:
        raise ConvtoolInputError(f"{path}: not a complete saved {model} run (missing or short: {exc}); "
                                 f"show --json prints its metadata") from None


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


def saved_width_compare(path, meta: dict, arrays: dict):
    """The :class:`~convtool.numeric.dln_experiments.WidthCompareResult` of a ``compare --model deep-linear --out``
    file (rows from the metadata, each width's records as a run for the figure); one-line error if incomplete."""
    from convtool.cli.errors import ConvtoolInputError
    from convtool.numeric.dln_experiments import WidthCompareResult, WidthCompareRow

    try:
        rows = [WidthCompareRow(**{k: d.get(k) for k in WidthCompareRow.__dataclass_fields__}) for d in meta["rows"]]
        runs = {}
        for r in rows:
            info = meta["width_runs"][str(r.width)]
            recs = {k.split("__", 1)[1]: v for k, v in arrays.items() if k.startswith(f"w{r.width}__")}
            if "loss" not in recs:
                raise KeyError(f"w{r.width}__loss")
            runs[r.width] = _Saved({"summary": info, "schedule": info.get("schedule")}, recs)
        return WidthCompareResult(rows=rows, source=meta.get("source", "?"), depth=meta["depth"], init=meta["init"],
                                  schedule=meta["schedule"], steps=meta["steps"], seeds=meta["seeds"], runs=runs)
    except (KeyError, IndexError, TypeError) as exc:
        raise ConvtoolInputError(f"{path}: not a complete saved deep-linear width comparison (missing or short: "
                                 f"{exc}); show --json prints its metadata") from None


def _show_width_compare(path, meta, arrays, plot, dpi, fmt, digits) -> None:
    """``show`` of ``compare --model deep-linear --out``: the width table (and Appendix G's figure) again."""
    from rich.console import Group

    from convtool.cli.console import stdout_console
    from convtool.cli.formats import digits as digits_ctx, emit
    from convtool.cli.render import render_width_compare

    cmp = saved_width_compare(path, meta, arrays)
    if plot:
        from convtool.cli.plots import plot_width_compare

        plot_width_compare(cmp, plot, dpi=dpi, title=f"DLN vs convex GD by width ({cmp.init} init, {cmp.schedule}; "
                                                     f"from {path})")
    with digits_ctx(digits, fmt):
        emit(Group(_head(meta.get("provenance") or {}), render_width_compare(cmp)), fmt, stdout_console())


@click.command("show", short_help="A saved run's or compare's summary (and plot) again, without rerunning.")
@click.argument("file", metavar="FILE.npz", type=click.Path(path_type=str))
@plot_option("Draw the saved run's (or compare's) figure again; the format follows the extension.")
@dpi_option
@format_options
@click.option("--json", "as_json", is_flag=True, help="Write the saved metadata (strict JSON) to stdout.")
@handle_user_errors
def show(file, plot, dpi, fmt, digits, as_json):
    """Re-render FILE, written by `convtool run --out` (any --model) or `convtool compare --out`, without
    rerunning: the same tables from the saved summary, and with --plot the run's figure from its records.

    \b
    Examples:
      $ convtool run --width 100 --steps 500 --out run.npz && convtool show run.npz --plot run.pdf
      $ convtool run --model resnet --steps 200 --out rn.npz && convtool show rn.npz --plot rn.svg
    """
    from convtool.cli.errors import ConvtoolInputError
    from convtool.cli.options import check_output_paths

    check_output_paths((file,), plot=plot)
    meta, arrays = load_saved(file)
    if as_json:
        import json

        click.echo(json.dumps(meta, allow_nan=False, indent=2))
        return
    if "rows" in meta and "width_runs" in meta:
        return _show_width_compare(file, meta, arrays, plot, dpi, fmt, digits)
    if "rows" in meta:
        return _show_compare(file, meta, arrays, plot, dpi, fmt, digits)
    if "summary" not in meta:
        raise ConvtoolInputError(f"{file}: not a run or compare file (its metadata has neither 'summary' nor "
                                 f"'rows'); show --json prints it")
    model = model_of(meta)
    if model == "two-layer":
        return _show_run(file, meta, arrays, plot, dpi, fmt, digits)
    if model not in _MODEL_PLOTS:
        raise ConvtoolInputError(f"{file}: a run of --model {model}, which show does not know (show --json "
                                 f"prints its metadata)")
    return _show_model_run(file, model, meta, arrays, plot, dpi, fmt, digits)
