"""``brentq``: scipy's Brent root finder without the 0.8 s import of the ``scipy.optimize`` package.

``from scipy.optimize import brentq`` runs ``scipy/optimize/__init__.py``, which imports linprog,
scipy.linalg, scipy.fft, scipy.sparse and decorates some 300 functions' docstrings: about 0.8 s of CPU
(scipy 1.17), two thirds of a warm ``convtool constants``, for one function. That function is a thin
Python wrapper (argument checks, a NaN guard, :class:`RootResults`) around the compiled
``scipy.optimize._zeros._brentq``. This module loads that same extension file on its own (it depends on
nothing else of scipy) and repeats the wrapper of ``scipy/optimize/_zeros_py.py``, so the roots,
iteration and call counts are scipy's bit for bit (tests/test_startup.py compares them with
``scipy.optimize.brentq``, including the NaN and non-convergence cases).

Safety: the extension is located with ``importlib.util.find_spec("scipy")`` (scipy is not imported),
loaded under its own name ``scipy.optimize._zeros`` (so a later ``import scipy.optimize`` uses the same
module object), and checked on a known root; if the file is missing, cannot be loaded, or the check
fails (another scipy's calling convention), :func:`brentq` is ``scipy.optimize.brentq`` itself.
``CONVTOOL_SCIPY_BRENTQ=1`` forces that fallback.
"""

from __future__ import annotations

import operator
import os

import numpy as np

__all__ = ["brentq", "RootResults", "SOURCE"]

_iter = 100
_xtol = 2e-12
_rtol = 4 * np.finfo(float).eps
# the flags of scipy/optimize/_zeros_py.py (they must agree with zeros.h)
_ECONVERGED, _ESIGNERR, _ECONVERR, _EVALUEERR, _EINPROGRESS = 0, -1, -2, -3, 1
flag_map = {_ECONVERGED: "converged", _ESIGNERR: "sign error", _ECONVERR: "convergence error",
            _EVALUEERR: "value error", _EINPROGRESS: "No error"}


class RootResults:
    """The fields of ``scipy.optimize.RootResults`` (root, iterations, function_calls, converged, flag, method)."""

    def __init__(self, root, iterations, function_calls, flag, method):
        self.root = root
        self.iterations = iterations
        self.function_calls = function_calls
        self.converged = flag == _ECONVERGED
        self.flag = flag_map.get(flag, flag)
        self.method = method

    def __repr__(self) -> str:
        return (f"RootResults(root={self.root!r}, iterations={self.iterations}, function_calls="
                f"{self.function_calls}, converged={self.converged}, flag={self.flag!r}, method={self.method!r})")


def _wrap_nan_raise(f):
    def f_raise(x, *args):
        fx = f(x, *args)
        f_raise._function_calls += 1
        if np.isnan(fx):
            err = ValueError(f"The function value at x={x} is NaN; solver cannot continue.")
            err._x = x
            err._function_calls = f_raise._function_calls
            raise err
        return fx

    f_raise._function_calls = 0
    return f_raise


def _load_zeros():
    """scipy's compiled ``_zeros`` module, loaded from its file alone, or None."""
    if os.environ.get("CONVTOOL_SCIPY_BRENTQ"):
        return None
    import importlib.machinery
    import importlib.util
    import sys

    name = "scipy.optimize._zeros"
    if name in sys.modules:
        return sys.modules[name]
    try:
        spec = importlib.util.find_spec("scipy")
        folder = os.path.join(os.path.dirname(spec.origin), "optimize")
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "_zeros" + suffix)
            if os.path.isfile(path):
                break
        else:
            return None
        loader = importlib.machinery.ExtensionFileLoader(name, path)
        mod = importlib.util.module_from_spec(importlib.util.spec_from_file_location(name, path, loader=loader))
        loader.exec_module(mod)
        x, calls, iters, flag = mod._brentq(lambda t: t * t - 2.0, 0.0, 2.0, _xtol, _rtol, _iter, (), True, False)
        if flag != _ECONVERGED or abs(x - 2.0 ** 0.5) > 1e-11 or not (0 < iters <= calls <= _iter + 2):
            return None
        sys.modules.setdefault(name, mod)
        return mod
    except Exception:  # noqa: BLE001 - any failure means: use scipy.optimize's own import
        return None


_zeros = _load_zeros()

if _zeros is None:  # pragma: no cover - exercised with CONVTOOL_SCIPY_BRENTQ=1 in tests/test_startup.py
    from scipy.optimize import brentq

    SOURCE = "scipy.optimize"
else:
    SOURCE = "scipy.optimize._zeros"

    def brentq(f, a, b, args=(), xtol=_xtol, rtol=_rtol, maxiter=_iter, full_output=False, disp=True):
        """``scipy.optimize.brentq`` (same signature, results and errors; see the module docstring)."""
        if not isinstance(args, tuple):
            args = (args,)
        maxiter = operator.index(maxiter)
        if xtol <= 0:
            raise ValueError(f"xtol too small ({xtol:g} <= 0)")
        if rtol < _rtol:
            raise ValueError(f"rtol too small ({rtol:g} < {_rtol:g})")
        f = _wrap_nan_raise(f)
        r = _zeros._brentq(f, a, b, xtol, rtol, maxiter, args, full_output, disp)
        if full_output:
            x, funcalls, iterations, flag = r
            return x, RootResults(root=x, iterations=iterations, function_calls=funcalls, flag=flag,
                                  method="brentq")
        return r
