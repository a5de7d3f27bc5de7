"""``convtool run``: GD with one schedule, the theory recorded next to what happened."""

from __future__ import annotations

import contextlib

import click

from convtool.cli.errors import handle_user_errors
from convtool.cli.formats import format_options
from convtool.cli.options import (ScheduleName, batch_from_options, check_model_options, model_options, batch_options, check_output_paths, data_argument,
                                  dpi_option, instance_options, plot_option, schedule_option_flags,
                                  schedule_options_from,
                                  theory_from_options, theory_options)

__all__ = ["run", "progress_bar", "npz_path", "show_notes"]


@contextlib.contextmanager
def progress_bar(console, enabled: bool, eta: bool = False):
    """``update(name, t, T)`` drawing one transient rich bar per name on ``console`` (stderr), with the time
    remaining when ``eta`` (``convtool sweep``'s bar over runs).

    Disabled (a no-op) unless ``enabled`` and the console is a terminal.
    """
    from convtool.cli.console import is_quiet

    if not (enabled and console.is_terminal) or is_quiet():
        yield lambda name, t, T: None
        return
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    tasks: dict = {}
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    if eta:
        columns += [TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=True) as prog:
        def update(name, t, T):
            if name not in tasks:
                tasks[name] = prog.add_task(str(name), total=T)
            prog.update(tasks[name], completed=t)

        yield update


def npz_path(path: str) -> str:
    """The file ``np.savez`` writes for ``path`` (it appends ``.npz`` when missing)."""
    from convtool.cli.options import output_target

    return output_target("out", path)


def show_notes(console, messages) -> None:
    """Each distinct message once, as ``Warning: ...`` on ``console`` (the library's recorded warnings)."""
    from rich.text import Text

    seen: list[str] = []
    for msg in messages:
        msg = " ".join(str(msg).split())
        if msg and msg not in seen:
            seen.append(msg)
            console.print(Text("Warning: " + msg), soft_wrap=True)


@click.command("run", short_help="Run GD with one step-size schedule, theory next to observation.")
@data_argument
@click.option("--schedule", type=ScheduleName(), default=None,
              help="Step-size schedule (the rules: convtool.numeric.schedules) [two-layer: adaptive; deep-linear: "
                   "thm1, also cor3, constant --eta, backtracking, adgd].")
@batch_options
@instance_options
@theory_options
@model_options
@click.option("--spectrum-every", "spectrum_every", type=click.IntRange(min=1), default=10, show_default=True,
              help="deep-linear: record P(t)'s spectrum every k steps when n_N r > 500 (every step below).")
@schedule_option_flags
@click.option("--out", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Save every recorded array, W1_0, W2_0, W1_T, W2_T, the data arrays and a JSON "
                   "'metadata' string to this .npz file.")
@click.option("--json", "as_json", is_flag=True, help="Write one strict JSON object to stdout instead of the table.")
@plot_option("Draw L(t) against the bound that covers each step (log scale), and eta_t with 1/K_t; the "
             "format follows the extension (.png, .pdf, .svg).")
@dpi_option
@format_options
@handle_user_errors
def run(data, schedule, steps, seeds, tol, no_reduce, out, as_json, plot, dpi, fmt, digits, **opts):
    """Run GD on DATA (default: the Fig. 1 setting) with one step-size schedule.

    Every step records the observed excess loss next to Theorem 3.1's rho(eta_t, t)
    and Theorem 3.2's rhobar, and counts the steps where a theorem applied but
    its bound failed. Without DATA the Fig. 1 instance is used (n = 10, sigma = 1,
    h = --width or 500, seed --seed); --seeds R runs R initializations as one batch.

    \b
    Examples:
      $ convtool run --width 100 --steps 2000 --seeds 5 --plot run.png
      $ convtool run --schedule backtracking --tau 0.5 --json | python -m json.tool
    """
    from convtool.cli.console import report_warnings, stderr_console, stdout_console

    check_model_options(opts)
    from convtool.cli.plugins import PLUGIN_MODULES, plugin

    if opts.get("model") in PLUGIN_MODULES:
        check_output_paths((data,), out=out, plot=plot)
        return plugin(opts["model"]).run(data, {**opts, "fmt": fmt, "digits": digits, "dpi": dpi}, schedule=schedule, steps=steps, seeds=seeds, tol=tol,
                                         out=out, as_json=as_json, plot=plot)
    dln = opts.get("model") == "deep-linear"
    schedule = schedule or ("thm1" if dln else "adaptive")
    sched_opts = schedule_options_from(schedule, opts)
    check_output_paths((data,), out=out, plot=plot)
    if dln:
        return _run_deep_linear(data, schedule, steps, seeds, tol, out, as_json, sched_opts, plot=plot, dpi=dpi,
                                fmt=fmt, digits=digits, **opts)
    if schedule in ("thm1", "cor3"):
        from convtool.cli.errors import ConvtoolInputError

        raise ConvtoolInputError(f"--schedule {schedule} is Zhao & Xu's step for --model deep-linear")
    opts.pop("spectrum_every", None)
    sched_opts, balanced = _du_hu_lee_options(schedule, sched_opts, opts)
    err = stderr_console()
    with report_warnings(err):
        from convtool.numeric.factorization import run_two_layer

        with progress_bar(err, not as_json) as update:
            batch = batch_from_options(data, seeds, progress=update, **opts)
            loss = batch.losses[0] if all(L is batch.losses[0] for L in batch.losses) else batch.losses
            result = run_two_layer(loss, batch.W1, batch.W2, schedule=schedule, steps=steps, tol=tol,
                                   reduce=False if no_reduce else "auto", schedule_options=sched_opts or None,
                                   data_arrays=batch.data_arrays, progress=lambda t, T: update(schedule, t, T),
                                   phase=update, balanced=balanced, **theory_from_options(**opts))
    show_notes(err, result.extra.get("constant_warnings", []))
    from convtool.cli.console import info
    from convtool.cli.options import provenance_of
    from convtool.numeric.verdict import run_verdict

    prov = provenance_of(opts, init=_init_of(data, opts))
    verdict = run_verdict(result)
    if out:
        save_run(result, out, prov, batch=batch, verdict=verdict)
        info(err, f"saved run arrays to {npz_path(out)}")
    if plot:
        from convtool.cli.plots import plot_run

        plot_run(result, plot, title=f"convtool run: {schedule} on {batch.source}", dpi=dpi)
        info(err, f"saved plot to {plot}")
    if as_json:
        import json

        click.echo(json.dumps({"source": batch.source, **result.to_dict(), "verdict": verdict, "provenance": prov},
                              allow_nan=False, indent=2))
        return
    from rich.console import Group

    from convtool.cli.formats import digits as digits_ctx, emit
    from convtool.cli.render import render_run
    from convtool.cli.render_balanced import du_hu_lee_tables

    fails = result.extra.get("backtracking_failures")
    notes = [f"backtracking hit max_backtracks on {sum(fails)} step(s)"] if fails and sum(fails) else []
    summary = result.summary()
    with digits_ctx(digits, fmt):  # numbers are formatted when the tables are built: inside the context
        parts = [render_run(summary, source=batch.source, schedule=result.schedule, config=result.config,
                            warnings=notes, verdict=verdict), *du_hu_lee_tables(summary)]
        emit(Group(*parts), fmt, stdout_console())


def _du_hu_lee_options(schedule: str, sched_opts: dict, opts: dict):
    """``(schedule options, Balanced options)`` of a two-layer run: --eps, --delta (schedule duhulee, Theorem 3.1;
    --eps also for Lemma 3.1's checks under another schedule), --c-step (schedule rank1), --record neurons."""
    from convtool.cli.errors import ConvtoolInputError

    loss = opts.get("loss") or "squared"
    mf = [f"--{k.replace('_', '-')}" for k in ("eps", "delta", "c_step") if opts.get(k) is not None]
    if mf and loss != "factorization":
        raise ConvtoolInputError(f"{', '.join(mf)} apply to the two-layer model with --loss factorization "
                                 f"(Du, Hu & Lee's matrix factorization)")
    if schedule in ("duhulee", "rank1") and loss != "factorization":
        raise ConvtoolInputError(f"--schedule {schedule} is Du, Hu & Lee's step for --loss factorization")
    out = dict(sched_opts)
    if opts.get("delta") is not None and schedule != "duhulee":
        raise ConvtoolInputError("--delta applies to --schedule duhulee (footnote 11's step family)")
    if opts.get("c_step") is not None and schedule != "rank1":
        raise ConvtoolInputError("--c-step applies to --schedule rank1 (Theorem 3.2)")
    if schedule == "duhulee":
        if opts.get("eps") is None:
            raise ConvtoolInputError("--schedule duhulee needs --eps (Theorem 3.1's accuracy, 0 < eps < ||M*||_F)")
        out["eps"] = float(opts["eps"])
        if opts.get("delta") is not None:
            out["delta"] = float(opts["delta"])
    if schedule == "rank1" and opts.get("c_step") is not None:
        out["c_step"] = float(opts["c_step"])
    balanced = {"record_neurons": True if opts.get("record") == "neurons" else None}
    if opts.get("eps") is not None:
        balanced["eps"] = float(opts["eps"])
    return out, balanced


def _init_of(data, opts: dict) -> str:
    """The init scheme of a run's weights: ``file`` (W1, W2 read from DATA), the built-in generator's, or --init."""
    if data is None:
        return f"{opts.get('instance') or 'fig1'} generator"
    import numpy as np

    with np.load(data, allow_pickle=False) as f:
        return "file" if {"W1", "W2"} <= set(f.files) else str(opts.get("init"))


def save_run(result, out, prov: dict, batch=None, verdict=None, source: str | None = None,
             model: str | None = None) -> None:
    """``result.save(out)`` with the provenance (and the verdict) in the metadata's config, and, for one seed,
    the initial weights as ``W1``, ``W2`` next to the data arrays: the file then loads again as DATA
    (``convtool constants run.npz`` is the run's instance; ``convtool show run.npz`` re-renders it).

    ``config["saved"]`` holds what ``show`` needs besides the summary: the source line, the verdict, the
    ``--model`` key and the names of the recorded arrays (``records``; with one seed the file drops their seed
    axis, which ``show`` puts back)."""
    data_arrays = result.extra.get("data_arrays")
    added = False
    if result.R == 1 and result.W1_0 is not None and isinstance(data_arrays, dict) \
            and not {"W1", "W2"} & set(data_arrays):
        data_arrays["W1"], data_arrays["W2"] = result.W1_0[0], result.W2_0[0]
        added = True
    result.config["provenance"] = prov
    result.config["saved"] = {"source": getattr(batch, "source", None) or source, "verdict": verdict or None,
                              "model": model or "two-layer", "records": sorted(result.arrays)}
    try:
        result.save(out)
    finally:
        result.config.pop("provenance", None)
        result.config.pop("saved", None)
        if added:
            del data_arrays["W1"], data_arrays["W2"]


def _run_deep_linear(data, schedule, steps, seeds, tol, out, as_json, sched_opts, plot=None, dpi=None, fmt="table",
                     digits=None, **opts) -> None:
    """``run --model deep-linear``: the engine on the deep linear model with Zhao & Xu's theory."""
    from rich.text import Text

    from convtool.cli.console import report_warnings, stderr_console, stdout_console
    from convtool.cli.errors import ConvtoolInputError
    from convtool.cli.options import deep_linear_from_options, deep_linear_settings
    from convtool.numeric.dln_experiments import run_deep_linear

    err = stderr_console()
    if seeds > 1 and data is not None:
        from convtool.numeric.data import load_arrays

        if any(k.startswith("W") and k[1:].isdigit() for k in load_arrays(data)):
            raise ConvtoolInputError("--seeds > 1 needs generated layers: the layers come from the data file")
    with report_warnings(err):
        X, Y, layers, init, source = deep_linear_from_options(data, **opts)
        if seeds > 1:
            from convtool.numeric.deep_linear import init_layers

            layers = init_layers((X.shape[1], *[W.shape[0] for W in layers]), init, seed=int(opts.get("seed") or 0),
                                 R=seeds)
            source += f" ({seeds} inits, seeds {int(opts.get('seed') or 0)}..)"
        with progress_bar(err, not as_json) as update:
            from convtool.numeric.theories.balanced import DENSE_MAX, Balanced

            # wide layers: the balancedness records every spectrum_every steps (a pass over the weights costs
            # about as much as the deep linear step itself; bench/bench_balanced.py)
            wide = max(W.shape[-2] for W in layers) > DENSE_MAX
            every = (opts.get("spectrum_every") or 10) if wide else 1
            result = run_deep_linear(X, Y, layers, schedule=schedule, steps=steps, tol=tol, init=init,
                                     extra_theories=(Balanced(every=every),),
                                     spectrum_every=opts.get("spectrum_every") or 10,
                                     schedule_options=sched_opts or None, progress=lambda t, T: update(schedule, t, T),
                                     phase=update, **deep_linear_settings(opts))
    for w in result.extra["zhao_xu_constants"].get("warnings", []):
        err.print(Text("Warning: " + w), soft_wrap=True)
    from convtool.cli.console import info
    from convtool.cli.options import provenance_of

    prov = provenance_of(opts, init=init)
    if out:
        result.extra["data_arrays"] = {"X": X, "Y": Y}
        save_run(result, out, prov, source=source, model="deep-linear")
        info(err, f"saved run arrays to {npz_path(out)}")
    if plot:
        from convtool.cli.plots import plot_deep_linear_run

        plot_deep_linear_run(result, plot, title=f"convtool run --model deep-linear: {schedule}", dpi=dpi)
        info(err, f"saved plot to {plot}")
    if as_json:
        import json

        click.echo(json.dumps({"source": source, **result.to_dict(),
                               "zhao_xu_constants": result.extra["zhao_xu_constants"], "provenance": prov},
                              allow_nan=False, indent=2))
        return
    from rich.console import Group

    from convtool.cli.formats import digits as digits_ctx, emit
    from convtool.cli.render import render_deep_linear_run
    from convtool.cli.render_balanced import du_hu_lee_tables

    with digits_ctx(digits, fmt):
        emit(Group(render_deep_linear_run(result, source=source), *du_hu_lee_tables(result.summary())),
             fmt, stdout_console())
