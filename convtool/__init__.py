"""convtool: convergence constants of gradient descent on overparameterized models.

The library is importable without the CLI::

    from convtool import compute_constants, SquaredLoss
    res = compute_constants(SquaredLoss(X, Y), W1, W2, c=0.5, d=2.0)
    res.eta_max, res.alpha1, res.to_dict()

Heavy modules (sympy, scipy) load on first use of a name below.
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "compute_constants": "convtool.numeric.constants",
    "ConstantsResult": "convtool.numeric.constants",
    "SquaredLoss": "convtool.numeric.losses",
    "FactorizationLoss": "convtool.numeric.losses",
    "SensingLoss": "convtool.numeric.losses",
    "Loss": "convtool.numeric.losses",
    "NotApplicable": "convtool.results",
    "InputError": "convtool.errors",
    "ConvtoolWarning": "convtool.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'convtool' has no attribute {name!r}")
