"""``--model resnet``: Zou, Long & Gu's linear ResNet ``B (I + W_L) ... (I + W_1) A`` as a CLI plugin.

DATA holds ``X`` (n x d), ``Y`` (n x k), samples as rows, optionally the transforms ``A`` (m x d), ``B``
(k x m) (both or neither) and hidden weights ``W`` (L, m, m). Without A, B they are generated:
``--transform gaussian|identity|modified-identity`` (Section 4; ``--alpha``, ``--beta``: the Gaussian
standard deviations of Proposition 3.3; ``--alpha-mod``: the modified identity's scale), ``--hidden m``,
``--depth L``, ``--seed``. Without DATA: the Section 5 instance (``convtool generate zou-long-gu``).
``--no-skip`` is Section 5.2's baseline ``B W_L ... W_1 A`` with Gaussian hidden init (``--hidden-std``).
``--batch b`` runs Algorithm 1's minibatch SGD (``--sgd-seed``; ``--per-epoch`` shuffling is a labelled
alternative the proofs do not cover). Heavy imports live inside the functions.
"""

from __future__ import annotations

import click

KEY = "resnet"
HELP = "B (I+W_L)...(I+W_1) A, linear ResNet (Zou, Long & Gu)"

#: default depth (Section 5.1: L = 10) and width (Fig. 1(a): m = 40, at least d + k)
DEFAULT_DEPTH = 10
DEFAULT_HIDDEN = 40
TRANSFORM_CHOICES = ("gaussian", "identity", "modified-identity")

OPTIONS = [
    click.option("--transform", type=click.Choice(TRANSFORM_CHOICES), default=None,
                 help="resnet: input/output transforms A, B when DATA has none (Section 4) [gaussian]."),
    click.option("--alpha", type=float, default=None,
                 help="resnet: std of the Gaussian entries of A (Proposition 3.3) [1]."),
    click.option("--beta", type=float, default=None,
                 help="resnet: std of the Gaussian entries of B (Proposition 3.3) [1]."),
    click.option("--alpha-mod", "alpha_mod", type=float, default=None,
                 help="resnet: scale of the modified identity B (Section 4.2) [1]."),
    click.option("--hidden", type=click.IntRange(min=1), default=None,
                 help="resnet: hidden width m of generated transforms [max(40, d + k)]."),
    click.option("--no-skip", "no_skip", is_flag=True,
                 help="resnet: the standard deep linear net B W_L...W_1 A (Section 5.2 baseline), Gaussian hidden "
                      "init."),
    click.option("--hidden-std", "hidden_std", type=float, default=None,
                 help="resnet --no-skip: std of the Gaussian hidden init [1/sqrt(m)]."),
    click.option("--batch", type=click.IntRange(min=1), default=None,
                 help="resnet: minibatch size b: SGD as Algorithm 1 (fresh uniform b-subset each step, gradient "
                      "scaled n/b); --batch n equals GD."),
    click.option("--sgd-seed", "sgd_seed", type=int, default=None, help="resnet: seed of the minibatch draws [0]."),
    click.option("--per-epoch", "per_epoch", is_flag=True,
                 help="resnet: shuffle once per epoch instead (NOT covered by Theorems 3.6, 3.8)."),
    click.option("--depths", default=None, metavar="L,L,...",
                 help="resnet compare: depths to compare [2,5,10,20]."),
]

ACCEPTS = ("transform", "alpha", "beta", "alpha_mod", "hidden", "no_skip", "hidden_std", "batch", "sgd_seed",
           "per_epoch", "depths", "depth", "eta", "eps", "delta", "seed")

__all__ = ["KEY", "HELP", "OPTIONS", "ACCEPTS", "constants", "run", "compare", "instance_from_options"]


def _error(msg):
    from convtool.cli.errors import ConvtoolInputError

    return ConvtoolInputError(msg)


def _data(data):
    """``(arrays, X, Y, source)``; without DATA the Section 5 instance."""
    if data is None:
        import numpy as np

        from convtool.numeric.generators import zou_long_gu

        arrays = zou_long_gu()
        return arrays, np.asarray(arrays["X"]), np.asarray(arrays["Y"]), \
            "built-in Zou, Long & Gu Section 5 data (d = k = 10, n = 1000, Y = -X + 0.1 E, seed 0)"
    from convtool.cli.options import row_sample_data

    return row_sample_data(data, "the resnet model")


def instance_from_options(data, opts: dict, seeds: int = 1):
    """``(X, Y, A, B, W0, skip, transform, source)`` of a resnet command, with one-line errors.

    ``W0`` is (R, L, m, m): zeros (ResNet), Gaussian (``--no-skip``, seed + r), or DATA's W.
    """
    import numpy as np

    from convtool.errors import InputError

    arrays, X, Y, source = _data(data)
    n, d = X.shape
    k = Y.shape[1]
    skip = not opts.get("no_skip")
    has = [key for key in ("A", "B") if key in arrays]
    depth = opts.get("depth")
    gen_opts = [o for o in ("transform", "alpha", "beta", "alpha_mod", "hidden") if opts.get(o) is not None]
    if len(has) == 1:
        raise _error(f"{source} holds {has[0]} but not {'B' if has[0] == 'A' else 'A'}: give both transforms or "
                     f"neither (then --transform generates them)")
    if has:
        if gen_opts:
            raise _error(f"{source} holds A and B; --{gen_opts[0].replace('_', '-')} applies only to generated "
                         f"transforms")
        from convtool.cli.options import matrix_array

        A, B = (matrix_array(arrays, key, source) for key in ("A", "B"))
        if A.shape[1] != d:
            raise _error(f"{source}: A must be (m, d) with d = {d} (X's columns), got shape {A.shape}")
        if B.shape[0] != k:
            raise _error(f"{source}: B must be (k, m) with k = {k} (Y's columns), got shape {B.shape}")
        if B.shape[1] != A.shape[0]:
            raise _error(f"{source}: A is {A.shape} and B is {B.shape}: A's rows and B's columns must both be the "
                         f"hidden width m")
        transform = "file"
        m = A.shape[0]
    else:
        from convtool.numeric.resnet import make_transforms

        transform = opts.get("transform") or "gaussian"
        for o in ("alpha", "beta"):
            if opts.get(o) is not None and transform != "gaussian":
                raise _error(f"--{o} applies to --transform gaussian (Proposition 3.3), not {transform}")
        if opts.get("alpha_mod") is not None and transform != "modified-identity":
            raise _error(f"--alpha-mod applies to --transform modified-identity, not {transform}")
        m = opts.get("hidden") or max(DEFAULT_HIDDEN, d + k)
        try:
            A, B = make_transforms(transform, d=d, k=k, m=m, alpha=opts.get("alpha") or 1.0,
                                   beta=opts.get("beta") or 1.0, alpha_mod=opts.get("alpha_mod") or 1.0,
                                   seed=int(opts.get("seed") or 0))
        except InputError as exc:
            raise _error(str(exc)) from None
        source += f"; {transform} transforms, m = {m}, seed {int(opts.get('seed') or 0)}"
    if "W" in arrays:
        if depth is not None:
            raise _error(f"{source} holds hidden weights W; --depth applies only to generated ones")
        if opts.get("hidden_std") is not None:
            raise _error(f"{source} holds hidden weights W; --hidden-std applies only to generated ones")
        W = np.asarray(arrays["W"], dtype=np.float64)
        if W.ndim != 3 or W.shape[1:] != (m, m):
            raise _error(f"{source}: W must be (L, m, m) with m = {m}, got shape {W.shape}")
        if W.shape[0] < 1:
            raise _error(f"{source}: W holds L = 0 layers: the ResNet needs depth L >= 1")
        if not np.isfinite(W).all():
            raise _error(f"{source}: array W has non-finite entries")
        W0 = np.broadcast_to(W, (seeds,) + W.shape).copy()
    else:
        from convtool.numeric.resnet import hidden_init

        if opts.get("hidden_std") is not None and skip:
            raise _error("--hidden-std applies to --no-skip (the ResNet starts at W = 0, Algorithm 1)")
        L = DEFAULT_DEPTH if depth is None else int(depth)
        try:
            W0 = hidden_init(L, m, skip=skip, hidden_std=opts.get("hidden_std"), seed=int(opts.get("seed") or 0),
                             R=seeds)
        except InputError as exc:
            raise _error(str(exc)) from None
    if opts.get("batch") is not None and opts["batch"] > n:
        raise _error(f"--batch {opts['batch']} is larger than the number of samples n = {n}")
    return X, Y, A, B, W0, skip, transform, source


def constants(data, opts, as_json):
    """``convtool constants --model resnet``."""
    from convtool.cli.console import report_warnings, stderr_console
    from convtool.numeric.resnet_constants import compute_resnet_constants

    err = stderr_console()
    with report_warnings(err):
        X, Y, A, B, W0, skip, transform, source = instance_from_options(data, opts)
        res = compute_resnet_constants(X, Y, A, B, W0[0], skip=skip, eps=opts.get("eps"),
                                       delta=0.1 if opts.get("delta") is None else opts["delta"],
                                       batch=opts.get("batch"), steps=1000, transform=transform)
    if as_json:
        from convtool.cli.plugins import emit_json

        emit_json({"source": source, **res.to_dict()}, opts)
        return
    from convtool.cli.render_resnet import render_resnet_constants

    from convtool.cli.plugins import emit_table


    emit_table(lambda: render_resnet_constants(res, source=source), opts)


def run(data, opts, *, schedule, steps, seeds, tol, out, as_json, plot):
    """``convtool run --model resnet``: GD (thm31, constant --eta, backtracking, adgd) or SGD (--batch b)."""
    from convtool.cli.cmd_run import progress_bar
    from convtool.cli.console import report_warnings, stderr_console
    from convtool.numeric.resnet_experiments import run_resnet

    batch = opts.get("batch")
    if opts.get("per_epoch") and batch is None:
        raise _error("--per-epoch applies to SGD runs (--batch b)")
    if opts.get("sgd_seed") is not None and batch is None:
        raise _error("--sgd-seed applies to SGD runs (--batch b)")
    schedule = schedule or ("thm36" if batch is not None else "thm31")
    err = stderr_console()
    with report_warnings(err):
        sgd = batch is not None
        X, Y, A, B, W0, skip, transform, source = instance_from_options(data, opts, seeds=seeds)
        if seeds > 1 and not sgd and transform == "gaussian":
            import numpy as np

            from convtool.numeric.resnet import make_transforms

            pairs = [make_transforms("gaussian", d=X.shape[1], k=Y.shape[1], m=A.shape[0],
                                     alpha=opts.get("alpha") or 1.0, beta=opts.get("beta") or 1.0,
                                     seed=int(opts.get("seed") or 0) + r) for r in range(seeds)]
            A, B = np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
            source += f" ({seeds} draws of A, B: seeds {int(opts.get('seed') or 0)}..)"
        elif seeds > 1 and sgd:
            source += f" ({seeds} independent minibatch streams)"
        with progress_bar(err, not as_json) as update:
            res = run_resnet(X, Y, A, B, W0, skip=skip, schedule=schedule, eta=opts.get("eta"), steps=steps, tol=tol,
                             eps=opts.get("eps"), delta=0.1 if opts.get("delta") is None else opts["delta"],
                             batch=batch, sgd_seed=int(opts.get("sgd_seed") or 0),
                             per_epoch=bool(opts.get("per_epoch")), progress=lambda t, T: update(schedule, t, T))
    from convtool.cli.plots import plot_resnet_run
    from convtool.cli.plugins import finish_run
    from convtool.cli.render_resnet import render_resnet_run

    finish_run(res, opts, key=KEY, source=source, out=out, plot=plot, as_json=as_json, init=transform,
               plot_fn=plot_resnet_run, title=f"convtool run --model resnet: {schedule}", render=render_resnet_run)


def compare(data, opts, *, schedules, steps, seeds, tol, as_json, plot):
    """``convtool compare --model resnet --depths 2,5,10,20``: iterations to eps at Theorem 3.1's step by depth."""
    from convtool.cli.cmd_run import progress_bar
    from convtool.cli.console import report_warnings, stderr_console
    from convtool.numeric.resnet_experiments import compare_depths

    if schedules not in (None, ["thm31"]):
        raise _error("compare --model resnet compares depths at Theorem 3.1's step: --schedules thm31 (or none)")
    for o in ("batch", "per_epoch", "sgd_seed", "eta"):
        if opts.get(o) not in (None, False):
            raise _error(f"--{o.replace('_', '-')} does not apply to compare --model resnet (GD at eta_thm31)")
    if opts.get("depth") is not None:
        raise _error("compare --model resnet takes --depths L,L,... (not --depth)")
    if seeds != 1:
        raise _error("compare --model resnet runs one draw of A, B per depth (--seeds 1)")
    if tol != 1e-14:
        raise _error("compare --model resnet stops each run at L* + eps (--eps), not at --tol")
    if plot:
        raise _error("--plot is not available for compare --model resnet; use --json")
    text = opts.get("depths") or "2,5,10,20"
    try:
        depths = [int(x) for x in text.split(",")]
    except ValueError:
        raise _error(f"--depths {text!r}: give comma-separated positive integers") from None
    if not depths or min(depths) < 1:
        raise _error(f"--depths {text!r}: depths must be positive")
    arrays, X, Y, source = _data(data)
    if "A" in arrays or "B" in arrays or "W" in arrays:
        raise _error("compare --model resnet generates A, B and the hidden weights at each depth; DATA must hold "
                     "only X, Y")
    transform = opts.get("transform") or "gaussian"
    err = stderr_console()
    with report_warnings(err):
        with progress_bar(err, not as_json) as update:
            cmp = compare_depths(X, Y, depths, transform=transform, hidden=opts.get("hidden") or
                                 max(DEFAULT_HIDDEN, X.shape[1] + Y.shape[1]), alpha=opts.get("alpha") or 1.0,
                                 beta=opts.get("beta") or 1.0, alpha_mod=opts.get("alpha_mod") or 1.0,
                                 hidden_std=opts.get("hidden_std"), seed=int(opts.get("seed") or 0), steps=steps,
                                 eps=opts.get("eps"), baseline=True, progress=update)
    if as_json:
        from convtool.cli.plugins import emit_json

        emit_json({"source": source, **cmp.to_dict()}, opts)
        return
    from convtool.cli.render_resnet import render_depth_compare

    from convtool.cli.plugins import emit_table


    emit_table(lambda: render_depth_compare(cmp, source=source), opts)
