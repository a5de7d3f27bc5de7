"""``--model mlp``: Du, Hu & Lee's homogeneous feed-forward net (CLI plugin, :mod:`convtool.cli.plugins`).

DATA holds ``X`` (M x d), ``Y`` (M x k), samples as rows, and optionally the layers ``W1 .. WN`` (W_j of shape
(n_j, n_{j-1})); without layers they are generated with ``--depth``, ``--widths`` and ``--layer-std`` (i.i.d.
Gaussian, per-layer standard deviations). Without DATA: Zhao & Xu's Appendix G data (d = 128, M = 1000, k = 10).
"""

from __future__ import annotations

import click

KEY = "mlp"
HELP = "W_N phi(... phi(W_1 x)), phi relu|leaky-relu|linear, loss 1/2||F - Y||^2 (Du, Hu & Lee)"

OPTIONS = [
    click.option("--slope", type=float, default=None, help="mlp: leaky-relu slope a of max(z, a z) [0.01]."),
    click.option("--layer-std", "layer_std", default=None, metavar="s1,...,sN",
                 help="mlp: standard deviations of the generated layers' i.i.d. Gaussian entries, one per layer or "
                      "one for all [1/sqrt(n_(j-1))]."),
    click.option("--record", "record", type=click.Choice(("neurons",)), default=None,
                 help="two-layer, mlp: also record the per-neuron balancedness vector b (Du, Hu & Lee Thm 2.1; "
                      "on by default for mlp and deep-linear, an O(h) cost per step for two-layer)."),
    click.option("--c-step", "c_step", type=float, default=None,
                 help="two-layer --loss factorization, --schedule rank1: the constant step c_step / sigma_1 "
                      "(Du, Hu & Lee Theorem 3.2) [0.1]."),
]

ACCEPTS = ("slope", "layer_std", "record", "activation", "depth", "widths", "eta", "seed")
#: options this plugin adds to the built-in models (Du, Hu & Lee's matrix factorization on two-layer)
ALSO_FOR = {"two-layer": ("record", "c_step", "eps", "delta")}


def _layers(data, opts, seeds: int = 1):
    """``(X, Y, layers, source)`` of an mlp command."""
    import numpy as np

    from convtool.cli.errors import ConvtoolInputError
    from convtool.cli.options import _parse_widths, row_sample_data
    from convtool.numeric.mlp import init_mlp_layers

    arrays, X, Y, source = row_sample_data(data, "the mlp model")
    keys = sorted((k for k in arrays if k.startswith("W") and k[1:].isdigit()), key=lambda k: int(k[1:]))
    if keys:
        for k in ("depth", "widths", "layer_std"):
            if opts.get(k) is not None:
                raise ConvtoolInputError(f"{source} holds layers {', '.join(keys)}; --{k.replace('_', '-')} applies "
                                         f"only to generated layers")
        if keys != [f"W{j}" for j in range(1, len(keys) + 1)]:
            raise ConvtoolInputError(f"{source}: layers must be W1 .. WN without gaps, found {', '.join(keys)}")
        if seeds > 1:
            raise ConvtoolInputError("--seeds > 1 needs generated layers: the layers come from the data file")
        layers = [np.asarray(arrays[k], dtype=np.float64) for k in keys]
        return X, Y, layers, source, None
    N = 3 if opts.get("depth") is None else int(opts["depth"])
    hidden = _parse_widths("100" if opts.get("widths") is None else opts["widths"], N)
    dims = [X.shape[1], *hidden, Y.shape[1]]
    from convtool.limits import check_bytes

    check_bytes(8 * (sum(a * b for a, b in zip(dims[1:], dims[:-1])) * 6 + X.shape[0] * sum(dims) * 4) * seeds,
                f"mlp layers of widths {dims} on {X.shape[0]} samples", "lower --widths or --seeds")
    std = None
    if opts.get("layer_std") is not None:
        try:
            std = [float(s) for s in str(opts["layer_std"]).split(",")]
        except ValueError:
            raise ConvtoolInputError(f"--layer-std {opts['layer_std']!r}: give comma-separated positive numbers") \
                from None
    seed = int(opts.get("seed") or 0)
    layers = init_mlp_layers(dims, std, seed=seed, R=seeds)
    std_txt = "1/sqrt(n_(j-1))" if std is None else ",".join(f"{s:g}" for s in std)
    return X, Y, layers, f"{source}; Gaussian layers {dims}, std {std_txt}, seed {seed}" + \
        (f" ({seeds} inits)" if seeds > 1 else ""), std


def _activation(opts):
    from convtool.cli.errors import ConvtoolInputError
    from convtool.numeric.mlp import MLP_ACTIVATIONS

    act = opts.get("activation") or "relu"
    if act not in MLP_ACTIVATIONS:
        raise ConvtoolInputError(f"--activation {act!r} is not an mlp activation; choose from "
                                 f"{', '.join(MLP_ACTIVATIONS)} (Du, Hu & Lee's homogeneous ones)")
    slope = opts.get("slope")
    if slope is not None and act != "leaky-relu":
        raise ConvtoolInputError("--slope applies to --activation leaky-relu only")
    if slope is not None and not (slope == slope and 0 <= slope < 1):
        raise ConvtoolInputError(f"--slope must lie in [0, 1) (leaky ReLU max(z, a z)), got {slope!r}")
    return act, 0.01 if slope is None else float(slope)


def constants(data, opts, as_json):
    """``constants --model mlp``: the initial invariants (all conserved by gradient flow)."""
    import numpy as np

    from convtool.numeric.mlp import expected_sq_norms, make_mlp
    from convtool.numeric.theories.balanced import pair_invariants

    act, slope = _activation(opts)
    X, Y, layers, source, std = _layers(data, opts)
    net = make_mlp(X, layers, act, slope)
    Ws = [W[0] for W in net.W_0]
    inv = pair_invariants([W[None] for W in Ws])
    linear = net.act.linear
    info = {"activation": net.act.to_dict(), "widths": list(net.widths),
            "sq_norms": [float(np.sum(W * W)) for W in Ws],
            "expected_sq_norms": expected_sq_norms(net.widths, std if std is not None else
                                                   [1 / np.sqrt(n) for n in net.widths[:-1]])
            if "Gaussian" in source else None,
            "B": [float(b[0]) for b in inv["B"]],
            "b_maxabs": [float(np.max(np.abs(b[0]))) for b in inv["b"]],
            "D_fro": [float(np.linalg.norm(D[0])) if linear else None for D in inv["D"]],
            "D_reason": None if linear else f"not applicable: activation {net.act.name} is not linear (Theorem 2.2)"}
    if as_json:
        from convtool.cli.plugins import emit_json
        from convtool.results import jsonable

        emit_json(jsonable({"source": source, **info}), opts)
        return
    from convtool.cli.render_balanced import render_mlp_constants

    from convtool.cli.plugins import emit_table


    emit_table(lambda: render_mlp_constants(info, source=source), opts)


def run(data, opts, *, schedule, steps, seeds, tol, out, as_json, plot):
    """``run --model mlp``: GD with the balancedness theory; the run summary and the Balancedness table."""
    from convtool.cli.cmd_run import progress_bar
    from convtool.cli.console import report_warnings, stderr_console
    from convtool.cli.errors import ConvtoolInputError
    from convtool.cli.options import schedule_options_from
    from convtool.numeric.mlp import MLP_SCHEDULES, run_mlp

    act, slope = _activation(opts)
    schedule = schedule or ("constant" if opts.get("eta") is not None else "backtracking")
    if schedule not in MLP_SCHEDULES:
        raise ConvtoolInputError(f"--schedule {schedule} does not apply to --model mlp; choose from "
                                 f"{', '.join(MLP_SCHEDULES)}")
    sched_opts = schedule_options_from(schedule, opts)
    err = stderr_console()
    with report_warnings(err):
        X, Y, layers, source, _ = _layers(data, opts, seeds)
        with progress_bar(err, not as_json) as update:
            result = run_mlp(X, Y, layers, activation=act, slope=slope, schedule=schedule, eta=opts.get("eta"),
                             steps=steps, tol=tol, record_neurons=True, schedule_options=sched_opts or None,
                             progress=lambda t, T: update(schedule, t, T), phase=update)
    from convtool.cli.plots import plot_mlp_run
    from convtool.cli.plugins import finish_run
    from convtool.cli.render_balanced import render_mlp_run

    if out:
        result.extra["data_arrays"] = {"X": X, "Y": Y}
    finish_run(result, opts, key=KEY, source=source, out=out, plot=plot, as_json=as_json,
               init="file" if "Gaussian" not in source else "gaussian", plot_fn=plot_mlp_run,
               title=f"convtool run --model mlp: {schedule}", render=render_mlp_run)
