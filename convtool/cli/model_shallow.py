"""``--model shallow``: Song et al.'s shallow network ``x -> V phi(W x)`` (NeurIPS 2021, arXiv:2111.01875).

DATA (``.npz``) holds ``X`` (n x d0), ``Y`` (n x d2), samples as rows, and optionally ``W`` (d1 x d0),
``V`` (d2 x d1). Without weights they are drawn from (17): ``--width`` d1 (default 400 on the built-in
instance), ``--omega1``/``--omega2`` or ``--init lecun|he`` (Section 6's family; default LeCun), ``--seed``.
Without DATA: ``generate song-et-al``'s instance (n = 50, d0 = 10, d2 = 1, seed 0).

\b
Examples:
  $ convtool constants --model shallow --json
  $ convtool run --model shallow --activation tanh --width 800 --steps 2000 --out run.npz
  $ convtool constants --model shallow --activation "x + 0.1*sin(x)" --omega1 1
"""

from __future__ import annotations

import click

KEY = "shallow"
HELP = "V phi(W x), both layers trained, ||.||_F^2 (Song et al.; --activation, --omega1/--omega2, --chi, --t)"

OPTIONS = [
    click.option("--omega1", type=float, default=None,
                 help="shallow: std of W0 entries (17) [from --init; with only --omega2: 1/(omega2 sqrt(d0 d1))]."),
    click.option("--omega2", type=float, default=None,
                 help="shallow: std of V0 entries (17) [from --init; with only --omega1: 1/(omega1 sqrt(d0 d1))]."),
    click.option("--chi", type=float, default=None,
                 help="shallow: chi_max = sup_k sigma_max(V_k) of Assumption 2 [derived a priori bound]."),
    click.option("--t", "t", type=click.IntRange(1, 6), default=None,
                 help="shallow: Theorem 3's order t [smallest t with sigma_min(X^(*t)) > 0 and c_t != 0]."),
    click.option("--jacobian", is_flag=True, default=False,
                 help="shallow: Jacobian spectrum at every step (run) / always (constants); step 0 always."),
]

ACCEPTS = ("omega1", "omega2", "chi", "t", "jacobian", "activation", "width", "init", "seed", "eta", "delta")

#: default hidden width of the built-in instance
DEFAULT_WIDTH = 400
DEFAULT_ACTIVATION = "gelu"


def _activation(opts):
    from convtool.analysis.activations import activation_from
    from convtool.cli.errors import ConvtoolInputError
    from convtool.errors import InputError

    try:
        return activation_from(opts.get("activation"), DEFAULT_ACTIVATION)
    except InputError as exc:
        raise ConvtoolInputError(str(exc)) from None


def instance(data, opts, seeds: int = 1):
    """``(X, Y, W, V, act, omega1, omega2, omega_source, source)`` with W (R, d1, d0), V (R, d2, d1)."""
    import numpy as np

    from convtool.cli.errors import ConvtoolInputError
    from convtool.errors import InputError
    from convtool.numeric.shallow import init_layers, init_scales
    from convtool.numeric.shallow_constants import check_shallow_data

    act = _activation(opts)
    if data is None:
        from convtool.numeric.generators import song_et_al

        arrays, source = song_et_al(), "built-in song-et-al instance (n=50, d0=10, d2=1, GeLU teacher, seed 0)"
    else:
        from convtool.cli.options import row_sample_data

        arrays, _, _, source = row_sample_data(data, "the shallow model")
    # a file's X, Y were checked by row_sample_data; the built-in instance is generated finite
    X = np.asarray(arrays["X"], dtype=np.float64)
    Y = np.asarray(arrays["Y"], dtype=np.float64)
    init = opts.get("init") or "gaussian"
    try:
        if "W" in arrays or "V" in arrays:
            if not ("W" in arrays and "V" in arrays):
                raise ConvtoolInputError(f"{source}: give both W (d1 x d0) and V (d2 x d1), or neither")
            given = [k for k in ("width", "omega1", "omega2") if opts.get(k) is not None]
            if given or init != "gaussian":
                flags = ", ".join("--" + k for k in given + (["init"] if init != "gaussian" else []))
                raise ConvtoolInputError(f"{source} holds W and V; {flags} apply only to generated weights")
            if seeds != 1:
                raise ConvtoolInputError(f"{source} holds W and V: --seeds applies only to generated weights")
            W, V = np.asarray(arrays["W"], dtype=np.float64), np.asarray(arrays["V"], dtype=np.float64)
            check_shallow_data(X, Y, W, V)
            return X, Y, W[None], V[None], act, None, None, "file", source
        check_shallow_data(X, Y)
        d1 = opts.get("width")
        if d1 is None:
            if data is not None:
                raise ConvtoolInputError(f"{source} has no W, V: give --width d1 to generate them")
            d1 = DEFAULT_WIDTH
        n, d0 = X.shape
        d2 = Y.shape[1]
        w1, w2, how = init_scales(init, d0, int(d1), opts.get("omega1"), opts.get("omega2"))
        W, V = init_layers(d0, int(d1), d2, w1, w2, seed=opts.get("seed") or 0, R=seeds)
        return X, Y, W, V, act, w1, w2, f"generated (17): {how}, seed {opts.get('seed') or 0}", source
    except InputError as exc:
        raise ConvtoolInputError(str(exc)) from None


def _deltas(opts):
    d = opts.get("delta")
    return None if d is None else {"delta1": float(d), "delta2": float(d)}


def constants(data, opts, as_json):
    """``convtool constants --model shallow``."""
    from convtool.cli.errors import ConvtoolInputError
    from convtool.errors import InputError
    from convtool.numeric.shallow_constants import compute_shallow_constants

    X, Y, W, V, act, w1, w2, how, source = instance(data, opts)
    try:
        res = compute_shallow_constants(X, Y, W[0], V[0], act, chi=opts.get("chi"), t=opts.get("t"), omega1=w1,
                                        omega2=w2, omega_source=how, deltas=_deltas(opts),
                                        jacobian=True if opts.get("jacobian") else None)
    except InputError as exc:
        raise ConvtoolInputError(str(exc)) from None
    if as_json:
        from convtool.cli.plugins import emit_json

        emit_json({"source": source, **res.to_dict()}, opts)
        return
    from convtool.cli.render_shallow import render_shallow_constants

    from convtool.cli.plugins import emit_table


    emit_table(lambda: render_shallow_constants(res, source=source), opts)


def run(data, opts, *, schedule, steps, seeds, tol, out, as_json, plot):
    """``convtool run --model shallow``: full-batch GD with a constant step (eta_explicit or --eta)."""
    from convtool.cli.cmd_run import progress_bar
    from convtool.cli.console import stderr_console
    from convtool.cli.errors import ConvtoolInputError
    from convtool.errors import InputError
    from convtool.numeric.shallow import run_shallow

    if schedule not in (None, "constant"):
        raise ConvtoolInputError(f"--schedule {schedule}: the shallow model runs Theorem 2's constant step "
                                 f"(eta_explicit or --eta)")
    X, Y, W, V, act, w1, w2, how, source = instance(data, opts, seeds)
    err = stderr_console()
    try:
        with progress_bar(err, not as_json) as update:
            res = run_shallow(X, Y, W, V, act, eta=opts.get("eta"), steps=steps, tol=tol, chi=opts.get("chi"),
                              jacobian=bool(opts.get("jacobian")), omega1=w1, omega2=w2, t=opts.get("t"),
                              progress=lambda t, T: update("shallow GD", t, T))
    except InputError as exc:
        raise ConvtoolInputError(str(exc)) from None
    res.extra["data_arrays"] = {"X": X, "Y": Y}
    res.config["init"] = how
    from convtool.cli.plots import plot_shallow_run
    from convtool.cli.plugins import finish_run
    from convtool.cli.render_shallow import render_shallow_run

    finish_run(res, opts, key=KEY, source=source, out=out, plot=plot, as_json=as_json, init=how,
               plot_fn=plot_shallow_run, title=f"convtool run --model shallow: {act.name}", render=render_shallow_run)
