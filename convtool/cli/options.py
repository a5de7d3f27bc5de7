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


def instance_options(func):
    """``--loss --width --init --std --p --seed``: how DATA becomes a loss and initial weights."""
    return _apply(func, [
        click.option("--loss", type=click.Choice(LOSS_CHOICES), default=INSTANCE_DEFAULTS["loss"],
                     show_default=True,
                     help="Loss l(W): squared 1/2||Y - XW||^2 (arrays X, Y), factorization 1/2||Y - W||^2 (Y), "
                          "sensing 1/2 sum_i (<A_i, W> - y_i)^2 (A, y)."),
        click.option("--width", type=click.IntRange(min=1), default=None,
                     help="Hidden width h of generated weights; needed when DATA has no W1, W2."),
        click.option("--init", type=click.Choice(INIT_CHOICES), default=INSTANCE_DEFAULTS["init"],
                     show_default=True, help="Initialization scheme of generated weights."),
        click.option("--std", type=float, default=None,
                     help="Entry standard deviation of generated weights (default: the scheme's own)."),
        click.option("--p", "p", type=float, default=None,
                     help="Scale exponent of generated weights, std = h^(-p) (alternative to --std)."),
        click.option("--seed", type=int, default=INSTANCE_DEFAULTS["seed"], show_default=True,
                     help="Seed of generated weights."),
    ])


def theory_options(func):
    """``--c --d --eta0``: Theorem E.1's exponents and the initial step size."""
    return _apply(func, [
        click.option("--c", "c", type=float, default=THEORY_DEFAULTS["c"], show_default=True,
                     help="Exponent c of Theorem E.1, 0 < c < 1 (Theorem 3.2: 1/2)."),
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
    return [k for k, v in opts.items() if k in defaults and v != defaults[k]]


def theory_from_options(*, c: float = 0.5, d: float = 2.0, eta0: float | None = None, **_other) -> dict:
    """The keyword arguments of ``compute_constants`` among a command's options."""
    return {"c": c, "d": d, "eta0": eta0}


def instance_from_options(data: str | None, *, loss: str = "squared", width: int | None = None,
                          init: str = "gaussian", std: float | None = None, p: float | None = None,
                          seed: int | None = 0, save_init: str | None = None, **other):
    """Build the :class:`~convtool.numeric.data.Instance` a command works on.

    Parameters
    ----------
    data : str or None
        Path of an ``.npz`` data file; None means the built-in instance
        (``default_instance()``), which then admits no instance option other
        than its defaults.
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
    from convtool.cli.errors import ConvtoolInputError
    from convtool.numeric import data as data_mod

    given = {"loss": loss, "width": width, "init": init, "std": std, "p": p, "seed": seed}
    if data is None:
        changed = changed_options(given)
        if changed:
            opts = ", ".join(f"--{k}" for k in changed)
            raise ConvtoolInputError(f"{opts} need(s) a DATA file; without DATA the built-in instance is used "
                                     "(write another one with `convtool generate`)")
        inst = data_mod.default_instance()
    else:
        inst = data_mod.load_instance(data, **given)
    if save_init is not None:
        data_mod.save_arrays(save_init, instance_arrays(inst))
    return inst


def instance_arrays(inst) -> dict:
    """The arrays that reproduce ``inst`` when loaded back: the loss's data arrays and W1, W2."""
    from convtool.numeric.losses import LOSS_ARRAYS

    out = {k: getattr(inst.loss, k) for k in LOSS_ARRAYS[inst.loss.name]}
    out["W1"], out["W2"] = inst.W1, inst.W2
    return out
