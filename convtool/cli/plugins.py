"""Models added to the CLI as plugins: one module per model, no edit of the commands.

The two built-in models (``two-layer``, ``deep-linear``) are handled by the commands themselves. Every
further model is a module listed in :data:`PLUGIN_MODULES` that defines, at import time light (click
only; heavy imports inside the functions):

=================== =============================================================================
name                what
=================== =============================================================================
``KEY``             the ``--model`` value
``HELP``            one line for ``--model``'s help
``OPTIONS``         list of ``click.option`` decorators the plugin owns (names unique across plugins)
``ACCEPTS``         the option keys this model takes: its own and the shared ones it uses
                    (``depth``, ``eta``, ``eps``, ``delta``, ``seed``, ``width``, ``activation`` ...)
``constants``       ``constants(data, opts, as_json)``: ``convtool constants --model KEY``
``run``             ``run(data, opts, *, schedule, steps, seeds, tol, out, as_json, plot)``
``compare``         optional, ``compare(data, opts, *, schedules, steps, seeds, tol, as_json, plot)``
=================== =============================================================================

Commands apply :func:`plugin_options` (every plugin's options and the shared ``--activation``), and
:func:`check_plugin_options` refuses, in one line, an option of another model.
"""

from __future__ import annotations

import functools
import importlib

import click

__all__ = ["PLUGIN_MODULES", "plugin", "plugin_keys", "plugin_options", "check_plugin_options", "SHARED_OPTIONS"]

#: ``--model`` value -> module of the plugin (add a line here to add a model)
PLUGIN_MODULES: dict[str, str] = {
    "resnet": "convtool.cli.model_resnet",
    "mlp": "convtool.cli.model_mlp",
    "shallow": "convtool.cli.model_shallow",
}

#: options a plugin adds to a built-in model (``{"two-layer": ("record",)}``), from the plugins' ``ALSO_FOR``
def builtin_accepts(model: str) -> set:
    out = set()
    for key in PLUGIN_MODULES:
        out.update(getattr(plugin(key), "ALSO_FOR", {}).get(model, ()))
    return out


#: options shared by several plugins, defined once here (key -> decorator)
SHARED_OPTIONS = {
    "activation": click.option(
        "--activation", default=None, metavar="NAME|EXPR",
        help="Activation of a nonlinear model: mlp relu|leaky-relu|linear; shallow gelu|softplus|tanh|sigmoid|"
             "silu|elu|sigmoid0|softplus0 or an expression in x, e.g. \"x + 0.1*sin(x)\"."),
}


def emit_table(build, opts: dict) -> None:
    """Print what ``build()`` renders in ``--format`` (``opts["fmt"]``) with ``--digits`` (``opts["digits"]``),
    every table fitted to the terminal (:mod:`convtool.cli.formats`): the plugins' tables never cut a number."""
    from convtool.cli.console import stdout_console
    from convtool.cli.formats import digits as digits_ctx, emit

    fmt = opts.get("fmt") or "table"
    with digits_ctx(opts.get("digits"), fmt):  # numbers are formatted when the tables are built
        emit(build(), fmt, stdout_console())


def emit_json(payload: dict, opts: dict) -> None:
    """``--json``: ``payload`` with the provenance (:func:`convtool.cli.options.with_provenance`), strict JSON."""
    import json

    from convtool.cli.options import with_provenance

    click.echo(json.dumps(with_provenance(payload, opts), allow_nan=False, indent=2))


def finish_run(result, opts: dict, *, key: str, source: str, out, plot, as_json: bool, init: str, plot_fn,
               title: str, render) -> None:
    """What every plugin's ``run`` does after its run: ``--out`` (:func:`convtool.cli.cmd_run.save_run`, with the
    provenance), ``--plot`` (``plot_fn(result, path, title=..., dpi=...)``), then ``--json`` or the tables
    ``render(result, source=...)`` through :func:`emit_table`."""
    from rich.text import Text

    from convtool.cli.console import stderr_console

    err = stderr_console()
    if out:
        from convtool.cli.cmd_run import npz_path, save_run
        from convtool.cli.options import provenance_of

        save_run(result, out, provenance_of(opts, init=init), source=source, model=key)
        err.print(Text(f"saved run arrays to {npz_path(out)}"), soft_wrap=True)
    if plot:
        plot_fn(result, plot, title=title, dpi=opts.get("dpi"))
        err.print(Text(f"saved plot to {plot}"), soft_wrap=True)
    if as_json:
        emit_json({"source": source, **result.to_dict()}, opts)
        return
    emit_table(lambda: render(result, source=source), opts)


def plugin_keys() -> tuple:
    return tuple(PLUGIN_MODULES)


def plugin(key: str):
    """The plugin module of model ``key``."""
    return importlib.import_module(PLUGIN_MODULES[key])


def plugin_options(func):
    """Apply every plugin's ``OPTIONS`` and the shared options to a command."""
    decorators = list(SHARED_OPTIONS.values())
    for key in PLUGIN_MODULES:
        decorators.extend(plugin(key).OPTIONS)
    for dec in reversed(decorators):
        func = dec(func)
    return func


@functools.lru_cache(maxsize=1)
def _own_keys() -> dict:
    """option key -> the models (plugins) that accept it, over every plugin option and shared option."""
    out: dict[str, set] = {k: set() for k in SHARED_OPTIONS}
    for key in PLUGIN_MODULES:
        for dec in plugin(key).OPTIONS:
            name = _decorator_key(dec)
            if name:
                out.setdefault(name, set())
    # only plugin-owned and shared options are checked here: a built-in option a plugin reuses (--depth,
    # --seed ...) stays the built-in models' too (check_model_options handles those)
    for key in PLUGIN_MODULES:
        mod = plugin(key)
        for k in mod.ACCEPTS:
            if k in out:
                out[k].add(key)
        for model, keys in getattr(mod, "ALSO_FOR", {}).items():
            for k in keys:
                if k in out:
                    out[k].add(model)
    return out


def _decorator_key(dec) -> str | None:
    """The parameter name of a ``click.option`` decorator (applied to a dummy function)."""
    def dummy():
        pass

    dec(dummy)
    params = getattr(dummy, "__click_params__", [])
    return params[-1].name if params else None


def check_plugin_options(opts: dict, model: str, defaults: dict | None = None) -> None:
    """One line when a plugin-owned (or shared) option is given with a model that does not take it."""
    from convtool.cli.errors import ConvtoolInputError

    defaults = defaults or {}
    accepted = set(plugin(model).ACCEPTS) if model in PLUGIN_MODULES else builtin_accepts(model)
    # _own_keys holds only the plugins' own and the shared options: a built-in option a plugin reuses (--init,
    # --width, --eta ...) stays the built-in models' and is not checked here (check_model_options does)
    for k, models in _own_keys().items():
        v = opts.get(k)
        if v is None or v is False or v == () or v == defaults.get(k):
            continue
        if k not in accepted:
            where = ", ".join(sorted(models)) or "another model"
            raise ConvtoolInputError(f"--{k.replace('_', '-')} does not apply to --model {model} "
                                     f"(it applies to --model {where})")
