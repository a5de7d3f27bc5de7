"""Options shared by the commands that work on one instance.

Every command that builds an instance takes the same options, defined once
here (pyhf copies ``--backend`` into each command; we do not):

* :func:`data_argument` -- the optional ``DATA`` (``.npz``) argument;
* :func:`instance_options` -- ``--loss --width --init --std --p --seed``;
* :func:`theory_options` -- ``--c --d --eta0`` (Theorem E.1's exponents, the step size);
* :func:`save_init_option` -- ``--save-init PATH``.

A command body then calls :func:`instance_from_options` and
:func:`theory_from_options`::

    @cli.command()
    @data_argument
    @instance_options
    @theory_options
    @handle_user_errors
    def mycommand(data, **opts):
        inst = instance_from_options(data, **opts)
        res = compute_constants(inst.loss, inst.W1, inst.W2, **theory_from_options(**opts))

Nothing heavy is imported here; the choices are plain tuples, checked against
the library's tables by the tests.
"""

from __future__ import annotations

import click

__all__ = ["LOSS_CHOICES", "INIT_CHOICES", "INSTANCE_DEFAULTS", "THEORY_DEFAULTS", "data_argument",
           "instance_options", "theory_options", "save_init_option", "instance_from_options",
           "theory_from_options", "instance_arrays", "changed_options"]

#: same keys as ``convtool.numeric.losses.LOSSES`` (checked by tests/test_cli.py)
LOSS_CHOICES = ("squared", "factorization", "sensing")
#: same as ``convtool.numeric.init.INIT_SCHEMES`` (checked by tests/test_cli.py)
INIT_CHOICES = ("gaussian", "xavier", "he")
#: what --init accepts: the two-layer schemes and the deep-linear ones (checked per model)
INIT_OPTION_CHOICES = ("gaussian", "xavier", "he", "orthogonal", "balanced", "lecun")

#: defaults of the instance options (those of ``convtool.numeric.data.load_instance``)
INSTANCE_DEFAULTS = {"loss": "squared", "width": None, "init": "gaussian", "std": None, "p": None, "seed": 0}
#: defaults of the theory options (those of ``compute_constants``; eta0 None means eta_max)
THEORY_DEFAULTS = {"c": 0.5, "d": 2.0, "eta0": None}


def _apply(func, decorators):
    for dec in reversed(decorators):
        func = dec(func)
    return func


def data_argument(func):
    """Optional ``DATA`` argument: an ``.npz`` file; without it the built-in instance is used.

    The path is not checked by click: the library reads it and reports any
    problem as one line (exit status 2).
    """
    return click.argument("data", required=False, metavar="[DATA.npz]", type=click.Path(path_type=str))(func)


#: the paper's generators (kept in step with convtool.numeric.generators.GENERATORS by a test)
GENERATOR_CHOICES = ("fig1", "fig3", "fig4")


def instance_options(func):
    """``--loss --width --init --std --p --seed``: how DATA becomes a loss and initial weights."""
    return _apply(func, [
        click.option("--loss", type=click.Choice(LOSS_CHOICES), default=None,
                     help="Loss l(W): squared 1/2||Y - XW||^2 (arrays X, Y), factorization 1/2||Y - W||^2 (Y), "
                          "sensing 1/2 sum_i (<A_i, W> - y_i)^2 (A, y) [inferred from DATA's arrays]."),
        click.option("--reinit", is_flag=True,
                     help="DATA holds W1, W2 (or W1 .. WN): replace them by generated weights (--init, --std / "
                          "--p, --seed; the width is theirs unless --width). Without it those options are refused "
                          "with such a file."),
        click.option("--width", type=click.IntRange(min=1), default=None,
                     help="Hidden width h of generated weights; needed when DATA has no W1, W2 (shallow: d1 [400])."),
        click.option("--init", type=click.Choice(INIT_OPTION_CHOICES), default=INSTANCE_DEFAULTS["init"],
                     show_default=True, help="Initialization scheme of generated weights (two-layer: gaussian, "
                                             "xavier, he; deep-linear: gaussian, orthogonal, balanced; shallow: lecun, he)."),
        click.option("--std", type=float, default=None,
                     help="Entry standard deviation of generated weights (default: the scheme's own)."),
        click.option("--p", "p", type=float, default=None,
                     help="Scale exponent of generated weights, std = h^(-p) (alternative to --std)."),
        click.option("--seed", type=int, default=INSTANCE_DEFAULTS["seed"], show_default=True,
                     help="Seed of generated weights."),
        click.option("--instance", type=click.Choice(GENERATOR_CHOICES), default="fig1", show_default=True,
                     help="Built-in instance used without DATA: the paper's Fig. 1, Fig. 3 or Fig. 4 setting "
                          "(--width sets h, --seed the seed, --p the init exponent of fig3)."),
    ])


def theory_options(func):
    """``--c --d --eta0``: Theorem E.1's exponents and the initial step size."""
    return _apply(func, [
        click.option("--c", "c", type=float, default=None,
                     help="Exponent c: of Theorem E.1, 0 < c < 1 (two-layer; default 1/2 as in Theorem 3.2), or "
                          "of eta0(c) = 2 n_N/(e^(2c) N beta), eq. (22) (deep-linear; default 0.1)."),
        click.option("--d", "d", type=float, default=THEORY_DEFAULTS["d"], show_default=True,
                     help="Exponent d of Theorem E.1, d > 1 (Theorem 3.2: 2)."),
        click.option("--eta0", type=float, default=None,
                     help="Initial step size eta0 [default: eta_max]; above eta_max a warning is shown."),
    ])


def save_init_option(func):
    """``--save-init PATH``: write the instance (data arrays, W1, W2) to an ``.npz`` file."""
    return click.option("--save-init", "save_init", type=click.Path(dir_okay=False, path_type=str), default=None,
                        help="Save the data arrays and the initial W1, W2 to this .npz file "
                             "(loading it back gives the same instance).")(func)


def changed_options(opts: dict) -> list[str]:
    """Names of the instance and theory options in ``opts`` that differ from their defaults."""
    defaults = {**INSTANCE_DEFAULTS, **THEORY_DEFAULTS}
    # --c and --loss have no click default (--c's depends on --model, --loss is inferred from DATA): unset
    # (None) is not a change
    return [k for k, v in opts.items() if k in defaults and v != defaults[k] and not (k in ("c", "loss") and v is None)]


#: arrays each loss reads (``convtool.numeric.losses.LOSS_ARRAYS``, checked by tests/test_issue12_output.py)
LOSS_ARRAYS_CLI = {"squared": ("X", "Y"), "factorization": ("Y",), "sensing": ("A", "y")}


def infer_loss(arrays: dict, source: str) -> str:
    """The loss DATA's arrays call for: A, y means sensing; X, Y squared; Y alone factorization.

    One line naming the arrays found and the ``--loss`` to pass when none or several fit.
    """
    from convtool.cli.errors import ConvtoolInputError

    fits = [name for name, keys in LOSS_ARRAYS_CLI.items() if all(k in arrays for k in keys)]
    if "squared" in fits:
        fits.remove("factorization")  # X, Y: Y alone is part of the squared loss's data
    found = ", ".join(sorted(k for k in arrays if k != "metadata")) or "none"
    if fits == ["factorization"]:  # Y without X: a factorization, or a regression whose X is missing
        raise ConvtoolInputError(f"{source}: holds Y but not X: the squared loss needs array(s) X; for the "
                                 f"factorization loss 1/2||Y - W||^2 pass --loss factorization")
    if len(fits) == 1:
        return fits[0]
    if not fits:
        raise ConvtoolInputError(f"{source}: cannot tell the loss from the arrays ({found}); the squared loss needs "
                                 f"X, Y, factorization Y, sensing A, y")
    raise ConvtoolInputError(f"{source}: the arrays ({found}) fit several losses; pass --loss "
                             f"{' or --loss '.join(fits)}")


def _explicit(name: str) -> bool:
    """True when option ``name`` was given on the command line (not its default)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return False
    try:
        src = ctx.get_parameter_source(name)
    except (KeyError, TypeError):  # pragma: no cover - not an option of this command
        return False
    return src is not None and src.name in ("COMMANDLINE", "ENVIRONMENT")


def check_weight_options(arrays: dict, source: str, weights: list, reinit: bool, allowed=("init", "std", "p", "seed")):
    """With weights in DATA, the options that only shape generated weights are refused (one line naming the
    arrays), unless ``--reinit`` replaces them. Returns the arrays to build from (the weights dropped on --reinit)."""
    from convtool.cli.errors import ConvtoolInputError

    if reinit:
        if not weights:
            raise ConvtoolInputError(f"--reinit: {source} holds no weights to replace; the weights are generated "
                                     f"anyway")
        return {k: v for k, v in arrays.items() if k not in weights}
    given = [k for k in allowed if _explicit(k)]
    if weights and given:
        flags = ", ".join("--" + k for k in given)
        one = len(given) == 1
        raise ConvtoolInputError(f"{source} holds {', '.join(weights)}; {flags} appl{'ies' if one else 'y'} only to "
                                 f"generated weights: drop {'it' if one else 'them'}, or pass --reinit to replace "
                                 f"{', '.join(weights)} by generated ones")
    return arrays


def theory_from_options(*, c: float | None = None, d: float = 2.0, eta0: float | None = None, **_other) -> dict:
    """The keyword arguments of ``compute_constants`` among a command's options (c defaults to 1/2)."""
    return {"c": THEORY_DEFAULTS["c"] if c is None else c, "d": d, "eta0": eta0}


# ------------------------------------------------------------------ models (issue 7)

#: ``--model`` values; deep-linear is Zhao & Xu's network a_N W_N ... W_1
MODEL_CHOICES = ("two-layer", "deep-linear")


def model_choices() -> tuple:
    """The built-in models and the plugins' (:mod:`convtool.cli.plugins`)."""
    from convtool.cli.plugins import plugin_keys

    return MODEL_CHOICES + plugin_keys()
#: initializations of the deep-linear model (same as ``convtool.numeric.deep_linear.INIT_SCHEMES``)
DLN_INIT_CHOICES = ("gaussian", "orthogonal", "balanced")
#: defaults of the deep-linear options (App. G: N = 3, hidden widths 2000)
DLN_DEFAULTS = {"depth": 3, "widths": "2000", "loss_scale": "sum", "delta": 0.1, "c": 0.1, "C": 1.0,
                "theta": 0.5}

__all__ += ["MODEL_CHOICES", "DLN_INIT_CHOICES", "model_options", "deep_linear_from_options", "deep_linear_settings",
            "row_sample_data", "deep_linear_constants_from_options",
            "check_model_options", "DLN_ONLY"]


def model_options(func):
    """``--model``, the deep-linear options ``--depth --widths --loss-scale --delta --C --eta --theta --eps``
    (shared with the plugin models that take them) and every plugin's options (:mod:`convtool.cli.plugins`)."""
    from convtool.cli.plugins import plugin, plugin_keys, plugin_options

    more = "".join(f"; {k}: {plugin(k).HELP}" for k in plugin_keys())
    func = plugin_options(func)
    return _apply(func, [
        click.option("--model", type=click.Choice(model_choices()), default="two-layer", show_default=True,
                     help="two-layer: l(W1 W2^T) (local-PL paper); deep-linear: a_N W_N ... W_1 (Zhao & Xu)"
                          + more + "."),
        click.option("--depth", type=click.IntRange(min=2), default=None,
                     help="deep-linear: depth N of generated layers [3]; resnet: depth L [10]."),
        click.option("--widths", default=None, metavar="n1,...,n_{N-1}",
                     help="deep-linear: hidden widths of generated layers, one for all or N - 1 of them [2000]."),
        click.option("--loss-scale", "loss_scale", type=click.Choice(("sum", "mean")), default=None,
                     help="deep-linear: sum = App. G's 1/2||.||^2 [default]; mean = Example 1's (1/M)||.||^2."),
        click.option("--delta", type=float, default=None,
                     help="deep-linear, resnet: failure probability delta [0.1]; shallow: delta1 = delta2 of (78) [0.5]."),
        click.option("--C", "C", type=float, default=None,
                     help="deep-linear: the theorems' unspecified absolute constant C, reported with it [1]."),
        click.option("--eta", type=float, default=None,
                     help="deep-linear: step size [Theorem 1's n_N/(beta N)]; resnet: the constant schedule's step; "
                          "shallow: constant GD step [eta_explicit]."),
        click.option("--theta", type=float, default=None, help="deep-linear: exponent theta of eq. (14) [0.5]."),
        click.option("--eps", type=float, default=None,
                     help="deep-linear: slack eps of Lemma 3 / Theorem 1 [the proof's eps at Theorem 1's step]; resnet: "
                          "target accuracy L* + eps [1e-6 Delta0]."),
    ])


def _parse_widths(text: str, depth: int) -> list[int]:
    from convtool.cli.errors import ConvtoolInputError

    try:
        vals = [int(v) for v in str(text).split(",")]
    except ValueError:
        raise ConvtoolInputError(f"--widths {text!r}: give comma-separated positive integers") from None
    if any(v < 1 for v in vals):
        raise ConvtoolInputError(f"--widths {text!r}: widths must be positive")
    if len(vals) == 1:
        vals = vals * (depth - 1)
    if len(vals) != depth - 1:
        raise ConvtoolInputError(f"--widths {text!r} gives {len(vals)} hidden widths; depth {depth} needs "
                                 f"{depth - 1} (or one for all)")
    return vals


def matrix_array(arrays: dict, key: str, source: str):
    """``arrays[key]`` as a float64 matrix; one line naming ``source`` and the array when it is not a non-empty
    2-D array of finite entries (row_sample_data's X, Y; a ResNet file's A, B)."""
    import numpy as np

    from convtool.cli.errors import ConvtoolInputError

    a = np.asarray(arrays[key], dtype=np.float64)
    if a.ndim != 2 or a.size == 0:
        raise ConvtoolInputError(f"{source}: array {key} must be a non-empty 2-D array, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ConvtoolInputError(f"{source}: array {key} has non-finite entries")
    return a


def row_sample_data(data: str | None, who: str):
    """``(arrays, X, Y, source)``: DATA's arrays and its validated ``X`` (M x d), ``Y`` (M x k), samples as rows;
    without DATA, Zhao & Xu's Appendix G data. One-line errors name ``who`` needs the arrays."""
    import numpy as np

    from convtool.cli.errors import ConvtoolInputError
    from convtool.numeric import data as data_mod

    if data is None:
        from convtool.numeric.generators import zhao_xu

        arrays, source = zhao_xu(), "built-in Zhao & Xu Appendix G data (d=128, M=1000, k=10, seed 0)"
    else:
        arrays, source = data_mod.load_arrays(data), str(data)
    missing = [k for k in ("X", "Y") if k not in arrays]
    if missing:
        raise ConvtoolInputError(f"{source}: {who} needs array(s) {', '.join(missing)} "
                                 f"(X: M x d, Y: M x k, samples as rows)")
    X, Y = (matrix_array(arrays, k, source) for k in ("X", "Y"))
    if X.shape[0] != Y.shape[0]:
        raise ConvtoolInputError(f"{source}: X has {X.shape[0]} rows (samples) but Y has {Y.shape[0]}")
    return arrays, X, Y, source


def deep_linear_constants_from_options(data: str | None, err, **opts):
    """``(result, source)``: :func:`deep_linear_from_options` then ``compute_deep_linear_constants``, the
    library's warnings shown on ``err`` (``constants`` and ``explain`` of a Zhao & Xu quantity)."""
    from rich.text import Text

    from convtool.cli.console import report_warnings
    from convtool.numeric.dln_constants import compute_deep_linear_constants

    with report_warnings(err):
        X, Y, layers, init, source = deep_linear_from_options(data, **opts)
        res = compute_deep_linear_constants(X, Y, layers, init=init, **deep_linear_settings(opts))
    for w in res.warnings:
        err.print(Text("Warning: " + w), soft_wrap=True)
    return res, source


def deep_linear_from_options(data: str | None, *, init: str = "gaussian", seed: int | None = 0,
                             depth: int | None = None, widths: str | None = None, reinit: bool = False, **_other):
    """``(X, Y, layers, init, source)`` of a deep-linear command.

    DATA holds ``X`` (M x d), ``Y`` (M x k), samples as rows, and optionally the layers ``W1 .. WN``
    (W_j of shape (n_j, n_{j-1})); without layers they are generated (``--depth``, ``--widths``,
    ``--init gaussian|orthogonal|balanced``, ``--seed``). Without DATA: Zhao & Xu's Appendix G data
    (``generate zhao-xu``, seed 0).
    """
    import numpy as np

    from convtool.cli.errors import ConvtoolInputError
    from convtool.numeric.deep_linear import init_layers

    arrays, X, Y, source = row_sample_data(data, "the deep-linear model")
    keys = sorted((k for k in arrays if k.startswith("W") and k[1:].isdigit()), key=lambda k: int(k[1:]))
    if data is not None and (keys or reinit):
        check_weight_options(arrays, source, keys, reinit, allowed=("init", "seed"))
    if reinit and keys:  # generate at the file's depth and widths unless given
        file_layers = [np.asarray(arrays[k]) for k in keys]
        depth = len(file_layers) if depth is None else depth
        widths = ",".join(str(W.shape[0]) for W in file_layers[:-1]) if widths is None else widths
        keys = []
    if keys:
        if depth is not None or widths is not None:
            raise ConvtoolInputError(f"{source} holds layers {', '.join(keys)}; --depth and --widths apply only "
                                     f"to generated layers")
        if keys != [f"W{j}" for j in range(1, len(keys) + 1)]:
            raise ConvtoolInputError(f"{source}: layers must be W1 .. WN without gaps, found {', '.join(keys)}")
        layers = [np.asarray(arrays[k], dtype=np.float64) for k in keys]
        if len(layers) < 2:
            raise ConvtoolInputError(f"{source}: depth 1 (only W1): Zhao & Xu's network needs N >= 2 layers")
        return X, Y, layers, "file", source
    if init not in DLN_INIT_CHOICES:
        raise ConvtoolInputError(f"--init {init} is not a deep-linear initialization; choose from "
                                 f"{', '.join(DLN_INIT_CHOICES)}")
    N = DLN_DEFAULTS["depth"] if depth is None else int(depth)
    hidden = _parse_widths(DLN_DEFAULTS["widths"] if widths is None else widths, N)
    from convtool.limits import check_bytes

    dims = [X.shape[1], *hidden, Y.shape[1]]
    check_bytes(8 * sum(a * b for a, b in zip(dims[1:], dims[:-1])) * 4, f"layers of widths {dims}",
                "lower --widths")
    layers = [W[0] for W in init_layers(tuple(dims), init, seed=int(seed or 0))]
    return X, Y, layers, init, f"{source}; {init} layers {dims}, seed {int(seed or 0)}"


def instance_from_options(data: str | None, *, loss: str | None = None, width: int | None = None,
                          init: str = "gaussian", std: float | None = None, p: float | None = None,
                          seed: int | None = 0, save_init: str | None = None, reinit: bool = False, **other):
    """Build the :class:`~convtool.numeric.data.Instance` a command works on.

    Parameters
    ----------
    data : str or None
        Path of an ``.npz`` data file; None means the built-in Fig. 1 instance
        (``default_instance()``), at another width / seed when ``--width`` / ``--seed``
        are given; other instance options then need a DATA file.
    loss, width, init, std, p, seed
        As :func:`convtool.numeric.data.load_instance`.
    save_init : str, optional
        Write the instance's arrays (data and W1, W2) there (:func:`instance_arrays`).
    **other
        The command's other options (``c``, ``d``, ``eta0``, ...), ignored.

    Raises
    ------
    ConvtoolInputError
        Instance options given without DATA. The library's ``InputError`` (bad
        file, shapes, missing --width...) is left to the command's
        :func:`~convtool.cli.errors.handle_user_errors`.
    """
    from convtool.numeric import data as data_mod

    given = {"loss": loss, "width": width, "init": init, "std": std, "p": p, "seed": seed}
    instance = other.get("instance") or "fig1"
    if data is None and reinit:
        from convtool.cli.errors import ConvtoolInputError

        raise ConvtoolInputError("--reinit needs a DATA file holding weights to replace")
    if data is None:
        given["loss"] = given["loss"] or "squared"
        if instance == "fig1" and width is None and (seed or 0) == 0 and not changed_options(given):
            inst = data_mod.default_instance()
        else:
            batch = builtin_batch(1, instance=instance, **given)
            inst = data_mod.Instance(batch.losses[0], batch.W1[0], batch.W2[0], batch.source,
                                     {"init": instance, "generator": instance})
    else:
        _no_instance_with_data(instance)
        arrays = data_mod.load_arrays(data)
        weights = [k for k in ("W1", "W2") if k in arrays]
        if reinit and width is None and "W1" in arrays and np_ndim(arrays["W1"]) == 2:
            given["width"] = int(arrays["W1"].shape[1])
        arrays = check_weight_options(arrays, str(data), weights, reinit)
        if not weights and width is None and "W1_0" in arrays and np_ndim(arrays["W1_0"]) == 3:
            from convtool.cli.errors import ConvtoolInputError

            R = int(arrays["W1_0"].shape[0])
            raise ConvtoolInputError(f"{data} is a saved run of {R} seeds: its initial weights W1_0, W2_0 hold all "
                                     f"{R} (R x n x h), so it has no single W1, W2; give --width to draw new ones "
                                     f"on its data, or save a one-seed run (--seeds 1) to reuse its weights")
        if given["loss"] is None:
            given["loss"] = infer_loss(arrays, str(data))
        inst = data_mod.build_instance(arrays, source=str(data), **given)
    if save_init is not None:
        data_mod.save_arrays(save_init, instance_arrays(inst))
    return inst


def np_ndim(a) -> int:
    import numpy as np

    return int(np.ndim(a))


def instance_arrays(inst) -> dict:
    """The arrays that reproduce ``inst`` when loaded back: the loss's data arrays and W1, W2."""
    from convtool.numeric.losses import LOSS_ARRAYS

    out = {k: getattr(inst.loss, k) for k in LOSS_ARRAYS[inst.loss.name]}
    out["W1"], out["W2"] = inst.W1, inst.W2
    return out


# ------------------------------------------------------------------ runs (run, compare, schedule)

#: same keys as ``convtool.numeric.schedules.SCHEDULES`` (checked by tests/test_cli_run.py); for --help only,
#: the names are validated against the library's table itself
SCHEDULE_CHOICES = ("constant", "adaptive", "adaptive-bar", "local", "xu2023", "backtracking", "adgd", "thm1", "cor3",
                    "thm31", "thm36", "thm38", "duhulee", "rank1")
#: schedules of ``convtool compare`` when --schedules is not given (Fig. 2's set and the baselines)
COMPARE_DEFAULT = ("adaptive", "local", "xu2023", "backtracking", "constant", "adgd")
#: schedule-specific options of ``convtool run``: schedule -> {option key: flag}
SCHEDULE_OPTION_FLAGS = {
    "backtracking": {"eta_bt": "--eta-bt", "tau": "--tau", "gamma": "--gamma"},
    "adgd": {"lam0": "--lam0"},
    "xu2023": {"c1": "--xu-c1", "c2": "--xu-c2"},
}
#: instance options that apply without DATA (the Fig. 1 default at that width and seed)
DEFAULT_BATCH_OPTIONS = ("width", "seed")

__all__ += ["SCHEDULE_CHOICES", "COMPARE_DEFAULT", "SCHEDULE_OPTION_FLAGS", "ScheduleName", "ScheduleList",
            "batch_options", "plot_option", "schedule_option_flags", "schedule_options_from",
            "batch_from_options", "check_output_paths"]


def _known_schedules() -> list[str]:
    from convtool.numeric.schedules import SCHEDULES

    return list(SCHEDULES)


def _unknown_schedule(name: str, option: str, known) -> "click.ClickException":
    import difflib

    from convtool.cli.errors import ConvtoolInputError

    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConvtoolInputError(f"unknown schedule {name!r} in {option}{hint}; choose from {', '.join(known)}")


class ScheduleName(click.ParamType):
    """One schedule name, checked against ``SCHEDULES`` (one-line error, exit 2, naming the bad name)."""

    name = "schedule"

    def __init__(self, allowed: tuple | None = None) -> None:
        self.allowed = allowed

    def get_metavar(self, param, ctx=None) -> str:
        return "[" + "|".join(self.allowed or SCHEDULE_CHOICES) + "]"

    def convert(self, value, param, ctx):
        known = list(self.allowed) if self.allowed else _known_schedules()
        name = str(value).strip()
        if name not in known:
            raise _unknown_schedule(name, f"--{param.name}" if param is not None else "schedule", known)
        return name


class ScheduleList(click.ParamType):
    """Comma-separated schedule names (``adaptive,local``), each checked against ``SCHEDULES``.

    Unknown names, repeated names and an empty list are one-line errors (exit
    status 2) that name the offending entry.
    """

    name = "schedules"

    def get_metavar(self, param, ctx=None) -> str:
        return "NAME[,NAME...]"

    def convert(self, value, param, ctx):
        from convtool.cli.errors import ConvtoolInputError

        if isinstance(value, (list, tuple)):
            return list(value)
        option = f"--{param.name}" if param is not None else "schedules"
        names = [s.strip() for s in str(value).split(",")]
        if not any(names):
            raise ConvtoolInputError(f"{option} is empty; give comma-separated names such as adaptive,local")
        known = _known_schedules()
        out: list[str] = []
        for name in names:
            if not name:
                raise ConvtoolInputError(f"{option} {value!r} has an empty entry")
            if name not in known:
                raise _unknown_schedule(name, option, known)
            if name in out:
                raise ConvtoolInputError(f"schedule {name!r} is listed twice in {option}")
            out.append(name)
        return out


def batch_options(func):
    """``--steps --seeds --tol --no-reduce``: how long to run, on how many initializations."""
    return _apply(func, [
        click.option("--steps", type=click.IntRange(min=0), default=1000, show_default=True,
                     help="Maximum number of GD steps T."),
        click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Number R of initializations (seeds --seed .. --seed + R - 1), run as one batch; "
                          "without DATA each seed also draws its own X and noise, as in the paper's repeats."),
        click.option("--tol", type=float, default=1e-14, show_default=True,
                     help="Stop a seed when L(t)/L(0) <= tol (L = excess loss l - l*)."),
        click.option("--no-reduce", "no_reduce", is_flag=True,
                     help="Run at the full width h (default: reduce to r = rank [W1; W2] when h > n + m; "
                          "exact, the iterates are the same)."),
    ])


def plot_option(help_text: str):
    """``--plot PATH``: a figure, .png, .pdf or .svg by the extension (needs the optional ``plot`` extra)."""
    return click.option("--plot", "plot", type=click.Path(dir_okay=False, path_type=str), default=None,
                        help=help_text + " Needs matplotlib (pip install convtool[plot]).")


def schedule_option_flags(func):
    """Schedule-specific options: ``--eta-bt --tau --gamma`` (backtracking), ``--lam0`` (adgd), ``--xu-c1 --xu-c2`` (xu2023)."""
    return _apply(func, [
        click.option("--eta-bt", "eta_bt", type=float, default=None,
                     help="backtracking: first trial step size [1]."),
        click.option("--tau", type=float, default=None, help="backtracking: reduction factor in (0, 1) [0.1]."),
        click.option("--gamma", type=float, default=None,
                     help="backtracking: Armijo constant in (0, 1) [0.9]."),
        click.option("--lam0", type=float, default=None, help="adgd: first step size [1e-6]."),
        click.option("--xu-c1", "c1", type=float, default=None,
                     help="xu2023: Xu et al.'s lower factor c1 in (0, 1) [0.5]; recorded, the published step does not use it."),
        click.option("--xu-c2", "c2", type=float, default=None,
                     help="xu2023: Xu et al.'s upper factor c2 > 1 [1.5]; recorded, the published step does not use it."),
    ])


def schedule_options_from(schedule: str, opts: dict) -> dict:
    """The ``schedule_options`` of ``run_gd`` among ``opts``; a one-line error for another schedule's options."""
    from convtool.cli.errors import ConvtoolInputError

    given = {key: flag for flags in SCHEDULE_OPTION_FLAGS.values() for key, flag in flags.items()
             if opts.get(key) is not None}
    own = SCHEDULE_OPTION_FLAGS.get(schedule, {})
    foreign = [flag for key, flag in given.items() if key not in own]
    if foreign:
        owners = ", ".join(f"{' '.join(flags.values())} ({name})" for name, flags in SCHEDULE_OPTION_FLAGS.items()
                           if any(f in foreign for f in flags.values()))
        verb = "does" if len(foreign) == 1 else "do"
        raise ConvtoolInputError(f"{', '.join(foreign)} {verb} not apply to --schedule {schedule}; "
                                 f"schedule options: {owners}")
    return {key: float(opts[key]) for key in own if opts.get(key) is not None}


def batch_from_options(data: str | None, seeds: int = 1, progress=None, **opts):
    """The :class:`~convtool.numeric.experiments.Batch` of ``run``, ``compare`` and ``schedule``.

    Without DATA: the Fig. 1 setting (``default_batch``: n = 10, sigma = 1,
    h = --width or 500, seeds --seed ..); of the instance options only --width and
    --seed apply there. With DATA: :func:`instance_from_options`, then R
    initializations drawn with seeds --seed .. (``batch_from_instance``).
    """
    from convtool.numeric import experiments

    seed = opts.get("seed", INSTANCE_DEFAULTS["seed"])
    if data is None:
        if opts.get("reinit"):
            from convtool.cli.errors import ConvtoolInputError

            raise ConvtoolInputError("--reinit needs a DATA file holding weights to replace")
        return builtin_batch(seeds, progress=progress, **opts)
    inst = instance_from_options(data, **opts)
    return experiments.batch_from_instance(inst, seeds=seeds, seed=seed, progress=progress)


def builtin_batch(seeds: int, instance: str | None = "fig1", progress=None, **opts):
    """The built-in instance (``--instance``, default Fig. 1) without DATA, one per seed.

    Only ``--width`` (h), ``--seed`` and, for fig3, ``--p`` apply; other instance options
    need a DATA file (one-line error).
    """
    from convtool.cli.errors import ConvtoolInputError
    from convtool.numeric import experiments

    instance = instance or "fig1"
    inst_opts = {k: opts.get(k, INSTANCE_DEFAULTS[k]) for k in INSTANCE_DEFAULTS}
    allowed = set(DEFAULT_BATCH_OPTIONS) | ({"p"} if instance == "fig3" else set())
    changed = [k for k in changed_options(inst_opts) if k not in allowed]
    if changed:
        flags = ", ".join(f"--{k}" for k in changed)
        raise ConvtoolInputError(f"{flags} need(s) a DATA file; without DATA the built-in {instance} instance is "
                                 f"used, where only {', '.join('--' + a for a in sorted(allowed))} apply")
    params = {}
    if opts.get("width") is not None:
        params["h"] = int(opts["width"])
    if instance == "fig3" and opts.get("p") is not None:
        params["p"] = float(opts["p"])
    if instance == "fig1" and "h" not in params:
        params["h"] = 500
    seed = opts.get("seed", INSTANCE_DEFAULTS["seed"])
    return experiments.generator_batch(instance, seeds=seeds, seed=int(seed or 0), progress=progress, **params)


def _no_instance_with_data(instance: str) -> None:
    from convtool.cli.errors import ConvtoolInputError

    if instance != "fig1":
        raise ConvtoolInputError(f"--instance {instance} applies only without DATA (the data file is the instance)")


#: output options whose file is the path with ``.npz`` appended when missing (``np.savez``'s rule)
NPZ_SUFFIXED = ("out",)


def output_target(option: str, path: str) -> str:
    """The file an output option writes: ``--out run`` writes ``run.npz``; the others their path as given."""
    return path if option not in NPZ_SUFFIXED or path.endswith(".npz") else path + ".npz"


def check_output_paths(inputs=(), **paths) -> None:
    """Refuse, before any work, every output that could lose data or fail late: ``check_output_paths((data,), out=p)``.

    One line (exit 2) when an output path is empty or a folder, when its folder does not exist or
    cannot take a new file (checked by creating and removing a temporary file there), when it names
    the same file as an input (after symlinks, hard links too) or as another output of the command.
    A ``plot`` path also needs matplotlib (the ``plot`` extra).
    """
    import os

    from convtool.cli.errors import ConvtoolInputError
    from convtool.files import probe_writable, same_file

    given = {opt: path for opt, path in paths.items() if path is not None}
    targets: dict[str, str] = {}
    for option, path in given.items():
        flag = "--" + option.replace("_", "-")
        if not str(path).strip():
            raise ConvtoolInputError(f"{flag} is empty; give a file name")
        target = output_target(option, path)
        if os.path.isdir(target):
            raise ConvtoolInputError(f"{flag} {path}: is a folder; give a file name")
        folder = os.path.dirname(os.path.abspath(target))
        if not os.path.isdir(folder):
            raise ConvtoolInputError(f"{flag} {path}: folder {folder} does not exist")
        try:
            probe_writable(folder)
        except OSError as exc:
            raise ConvtoolInputError(f"{flag} {path}: cannot write in folder {folder} "
                                     f"({exc.strerror or exc})") from None
        for src in inputs:
            if src is not None and os.path.exists(src) and same_file(target, src):
                raise ConvtoolInputError(f"{flag} {path} is the input file {src}; refusing to overwrite the input "
                                         f"(choose another output name)")
        for other, other_target in targets.items():
            if same_file(target, other_target) or os.path.abspath(target) == os.path.abspath(other_target):
                raise ConvtoolInputError(f"{flag} {path} and --{other.replace('_', '-')} name the same file "
                                         f"{target}; give each output its own name")
        targets[option] = target
    if given.get("plot") is not None:
        from convtool.cli.plots import plot_format, require_matplotlib

        plot_format(given["plot"])  # the format follows the extension: refuse an unknown one before any work
        require_matplotlib()


def deep_linear_settings(opts: dict) -> dict:
    """The keyword arguments of ``compute_deep_linear_constants`` / ``run_deep_linear`` among a command's options."""
    out = {k: (DLN_DEFAULTS[k] if opts.get(k) is None else opts[k]) for k in ("loss_scale", "delta", "c", "C", "theta")}
    out.update(eta=opts.get("eta"), eps=opts.get("eps"))
    return out


#: options that only the deep-linear model takes
DLN_ONLY = ("depth", "widths", "loss_scale", "delta", "C", "eta", "theta", "eps")


def check_model_options(opts: dict, two_layer_only=("d", "eta0", "save_init")) -> None:
    """One line when an option of the other model is given (``--depth`` on two-layer, ``--eta0`` on deep-linear)."""
    from convtool.cli.errors import ConvtoolInputError
    from convtool.cli.plugins import PLUGIN_MODULES, check_plugin_options, plugin

    model = opts.get("model") or "two-layer"
    check_plugin_options(opts, model)
    if model in PLUGIN_MODULES:
        accepts = set(plugin(model).ACCEPTS)
        defaults = {"d": 2.0, **INSTANCE_DEFAULTS}
        for k in (*DLN_ONLY, *two_layer_only, "width", "std", "p", "loss", "init", "c"):
            if k in accepts or opts.get(k) is None or opts.get(k) == defaults.get(k, None):
                continue
            raise ConvtoolInputError(f"--{k.replace('_', '-')} does not apply to --model {model}")
        return
    if model == "deep-linear":
        for k in two_layer_only:
            default = {"d": 2.0}.get(k)
            if opts.get(k) not in (None, default):
                raise ConvtoolInputError(f"--{k.replace('_', '-')} applies to the two-layer model only")
        return
    from convtool.cli.plugins import builtin_accepts

    also = builtin_accepts(model)  # e.g. --eps/--delta of Du, Hu & Lee's factorization schedules (model_mlp)
    given = [k for k in DLN_ONLY if opts.get(k) is not None and k not in also]
    if given:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise ConvtoolInputError(f"{flags} apply to --model deep-linear only")


# ------------------------------------------------------------------ provenance (issue 12)

__all__ += ["provenance_of", "with_provenance"]


def provenance_of(opts: dict | None = None, init: str | None = None, **more) -> dict:
    """:func:`convtool.results.provenance` of the running command: its command line, ``--seed`` and the init
    scheme (``init``: what the instance used, e.g. ``file`` for weights read from DATA; default ``--init``)."""
    from convtool.cli.main import OneLineGroup
    from convtool.results import provenance

    opts = opts or {}
    argv = getattr(OneLineGroup, "argv", None)
    return provenance(argv, seed=opts.get("seed"), init=init if init is not None else opts.get("init"), **more)


def with_provenance(out: dict, opts: dict | None = None, init: str | None = None) -> dict:
    """``out`` with a ``provenance`` entry added (the JSON of every command)."""
    return {**out, "provenance": provenance_of(opts, init)}


def dpi_option(func):
    """``--dpi N``: resolution of a raster plot (``.png``); vector formats (``.pdf``, ``.svg``) ignore it."""
    return click.option("--dpi", type=click.IntRange(min=10, max=2400), default=120, show_default=True,
                        help="Resolution of a .png plot (pdf and svg are vector formats).")(func)


__all__ += ["dpi_option"]
