"""convtool: convergence constants of gradient descent on overparameterized models.

The library is importable without the CLI; every public name is here, at the top level::

    from convtool import compute_constants, init_weights, run_gd, SquaredLoss
    W1, W2 = init_weights(n, m, h, "gaussian", seed=0)
    res = compute_constants(SquaredLoss(X, Y), W1, W2, c=0.5, d=2.0)
    res.eta_max, res.alpha1, res.to_dict(), res.to_frame()
    run = run_gd(SquaredLoss(X, Y), W1, W2, schedule="adaptive", steps=500)
    run_verdict(run)["text"]

``import convtool`` stays light: each name below is imported on first use (module ``__getattr__``), so
numpy, scipy and sympy load only when a name that needs them is used. ``dir(convtool)`` lists them.
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    # two-layer model, local-PL paper
    "compute_constants": "convtool.numeric.constants",
    "ConstantsResult": "convtool.numeric.constants",
    "init_weights": "convtool.numeric.init",
    "init_std": "convtool.numeric.init",
    "run_gd": "convtool.numeric.engine",
    "RunResult": "convtool.numeric.engine",
    "run_batch": "convtool.numeric.experiments",
    "default_batch": "convtool.numeric.experiments",
    "generator_batch": "convtool.numeric.experiments",
    "batch_from_instance": "convtool.numeric.experiments",
    "compare_schedules": "convtool.numeric.experiments",
    "CompareResult": "convtool.numeric.experiments",
    "schedule_preview": "convtool.numeric.experiments",
    "run_verdict": "convtool.numeric.verdict",
    # data
    "load_arrays": "convtool.numeric.data",
    "load_instance": "convtool.numeric.data",
    "build_instance": "convtool.numeric.data",
    "save_arrays": "convtool.numeric.data",
    "Instance": "convtool.numeric.data",
    # losses
    "SquaredLoss": "convtool.numeric.losses",
    "FactorizationLoss": "convtool.numeric.losses",
    "SensingLoss": "convtool.numeric.losses",
    "Loss": "convtool.numeric.losses",
    # deep linear networks, Zhao & Xu
    "compute_deep_linear_constants": "convtool.numeric.dln_constants",
    "DeepLinearConstants": "convtool.numeric.dln_constants",
    "run_deep_linear": "convtool.numeric.dln_experiments",
    "compare_widths": "convtool.numeric.dln_experiments",
    # schedules, registry, results
    "SCHEDULES": "convtool.numeric.schedules",
    "make_schedule": "convtool.numeric.schedules",
    "get_quantity": ("convtool.analysis", "get"),
    "NotApplicable": "convtool.results",
    "jsonable": "convtool.results",
    "provenance": "convtool.results",
    "to_frame": "convtool.frames",
    "InputError": "convtool.errors",
    "ConvtoolWarning": "convtool.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        where = _LAZY[name]
        module, attr = where if isinstance(where, tuple) else (where, name)
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value  # later look-ups skip __getattr__
        return value
    raise AttributeError(f"module 'convtool' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
