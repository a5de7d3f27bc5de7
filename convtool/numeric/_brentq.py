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
from typing import NamedTuple

import numpy as np

__all__ = ["brentq", "RootResults", "SOURCE", "brentq_lockstep", "LockstepResult"]

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


class LockstepResult(NamedTuple):
    """What :func:`brentq_lockstep` gives each seed (arrays of shape (R,), ``errors`` a list).

    ``root``, ``function_calls``, ``iterations``, ``flag`` (the codes of ``flag_map``): the ``(x, funcalls,
    iterations, flag)`` of ``_zeros._brentq(..., full_output=True, disp=False)``; ``errors[i]``: the exception
    scipy's ``brentq`` raises for seed i (NaN value, sign error, or one the ``fix`` hook raised), else None;
    ``points``: ``(seeds, x, f(x) + shift)`` of every array evaluation (the residual's own values, for a memo)."""

    root: np.ndarray
    function_calls: np.ndarray
    iterations: np.ndarray
    flag: np.ndarray
    errors: list
    points: list


def _nan_error(x: float, calls: int) -> ValueError:
    """The error of :func:`_wrap_nan_raise` at ``x``, its ``calls``-th call."""
    err = ValueError(f"The function value at x={x} is NaN; solver cannot continue.")
    err._x = x
    err._function_calls = calls
    return err


def brentq_lockstep(f, a, b, args=(), *, fa=None, fb=None, shift=0.0, xtol=_xtol, rtol=_rtol, maxiter=_iter,
                    fix=None) -> LockstepResult:
    """scipy 1.17's ``brentq`` (``scipy/optimize/Zeros/brentq.c``) on R brackets at once, bit for bit.

    Seed i solves ``f(x, *args_i) - shift = 0`` on ``[a_i, b_i]``; ``f`` takes arrays (the active seeds'
    points and arguments, one element each) and must give, element by element, the floats its scalar calls give
    (:func:`convtool.analysis.evaluate._array_twin` of a lambdified function does). Each seed's state takes exactly
    the IEEE operations of the C code, its branches as masks, and stops at its own iteration: an exact zero at
    ``a``, then at ``b``, is the root; then ``signbit(fpre) == signbit(fcur)`` is a sign error (``SIGNERR``); the
    loop's bracket update tests ``fpre != 0 && fcur != 0 && signbit(fpre) != signbit(fcur)`` (what the installed
    scipy 1.17 does, checked in tests/test_brentq_lockstep.py on products that underflow: older versions of
    ``brentq.c`` tested ``fpre*fcur > 0`` and ``fpre*fcur < 0``, which underflow to zero), the stopping test
    ``fcur == 0 || |sbis| < delta`` with ``delta = (xtol + rtol |xcur|) / 2``, then inverse quadratic
    extrapolation or secant interpolation (``xpre == xblk``) where ``|spre| > delta`` and ``|fcur| < |fpre|``,
    kept if ``2 |stry| < min(|spre|, 3 |sbis| - delta)``, else bisection; a step of at most ``delta`` becomes
    ``+-delta``. After ``maxiter`` iterations: ``CONVERR`` at the last point. ``fa``, ``fb``: the (shifted) values
    at the ends where the caller has them (scipy evaluates them again, counted); ``fix(i, x)``: the value (the
    residual's own, unshifted) to use where the array value is not finite, e.g. the scalar path's (which may raise:
    seed i then stops with that error). A NaN stops its seed with :func:`_wrap_nan_raise`'s error.

    With an exact zero at an end the C code returns ``solver_stats->iterations`` uninitialized (scipy 1.17 reports
    1); here it is 0.
    """
    a = np.array(a, dtype=np.float64).ravel()
    R = a.size
    b = np.broadcast_to(np.asarray(b, dtype=np.float64), (R,)).copy()
    cols = [np.broadcast_to(np.asarray(v, dtype=np.float64), (R,)) for v in args]
    xtol_a = np.broadcast_to(np.asarray(xtol, dtype=np.float64), (R,))
    rtol_a = np.broadcast_to(np.asarray(rtol, dtype=np.float64), (R,))
    maxit = np.broadcast_to(np.asarray(maxiter, dtype=np.int64), (R,))
    root = np.zeros(R)
    calls = np.full(R, 2, dtype=np.int64)
    iters = np.zeros(R, dtype=np.int64)
    flag = np.full(R, _EINPROGRESS, dtype=np.int64)
    errors: list = [None] * R
    points: list = []
    shift = float(shift)

    def evaluate(idx, x, ncall):
        """Shifted values at ``x`` for seeds ``idx`` (their ``ncall``-th call); the seeds that fail, a mask."""
        v = np.array(np.broadcast_to(f(x, *[c[idx] for c in cols]), x.shape), dtype=np.float64)
        if np.isfinite(v).all():  # the usual case: nothing to fix, no NaN
            points.append((idx, x, v))
            return (v - shift if shift else v), None
        failed = np.zeros(x.shape, dtype=bool)
        if fix is not None:
            for j in np.flatnonzero(~np.isfinite(v)).tolist():
                try:
                    v[j] = fix(int(idx[j]), float(x[j]))
                except Exception as exc:  # noqa: BLE001 - that seed's error, as its scalar call raises it
                    errors[idx[j]] = exc
                    calls[idx[j]], flag[idx[j]] = ncall, _EVALUEERR
                    failed[j] = True
        ok = ~failed
        points.append((idx[ok], x[ok], v[ok]))
        if shift:
            v = v - shift
        nan = ok & (v != v)
        for j in np.flatnonzero(nan).tolist():
            errors[idx[j]] = _nan_error(float(x[j]), ncall)
            calls[idx[j]], flag[idx[j]] = ncall, _EVALUEERR
        return v, failed | nan

    idx = np.arange(R)
    with np.errstate(all="ignore"):
        if fa is None:
            xpre, xcur = a, b
            fpre, bad = evaluate(idx, a, 1)
            if bad is not None:
                keep = ~bad
                idx, xpre, xcur, fpre = idx[keep], a[keep], b[keep], fpre[keep]
            fcur, bad = evaluate(idx, xcur, 2)
            if bad is not None:
                keep = ~bad
                idx, xpre, xcur, fpre, fcur = idx[keep], xpre[keep], xcur[keep], fpre[keep], fcur[keep]
        else:
            xpre, xcur = a, b
            fpre = np.broadcast_to(np.asarray(fa, dtype=np.float64), (R,)).copy()
            fcur = np.broadcast_to(np.asarray(fb, dtype=np.float64), (R,)).copy()
        z0 = fpre == 0
        z1 = ~z0 & (fcur == 0)
        sign = ~z0 & ~z1 & (np.signbit(fpre) == np.signbit(fcur))
        for i in idx[sign].tolist():
            errors[i] = ValueError("f(a) and f(b) must have different signs")
            flag[i] = _ESIGNERR
        root[idx[z0]], root[idx[z1]] = xpre[z0], xcur[z1]
        flag[idx[z0 | z1]] = _ECONVERGED
        keep = ~(sign | z0 | z1)
        idx, xpre, xcur, fpre, fcur = idx[keep], xpre[keep], xcur[keep], fpre[keep], fcur[keep]
        xt, rt, mi = xtol_a[idx], rtol_a[idx], maxit[idx]
        xblk = np.zeros(idx.size)
        fblk = np.zeros(idx.size)
        spre = np.zeros(idx.size)
        scur = np.zeros(idx.size)
        it = 0
        while idx.size:
            over = mi < it + 1  # the loop of these seeds has run its maxiter iterations
            if over.any():
                root[idx[over]], iters[idx[over]], flag[idx[over]] = xcur[over], it, _ECONVERR
                k = ~over
                idx, xpre, xcur, xblk, fpre, fcur, fblk, spre, scur, xt, rt, mi = (
                    v[k] for v in (idx, xpre, xcur, xblk, fpre, fcur, fblk, spre, scur, xt, rt, mi))
                if not idx.size:
                    break
            it += 1
            m = (fpre != 0) & (fcur != 0) & (np.signbit(fpre) != np.signbit(fcur))
            xblk = np.where(m, xpre, xblk)
            fblk = np.where(m, fpre, fblk)
            s = xcur - xpre
            spre = np.where(m, s, spre)
            scur = np.where(m, s, scur)
            m = np.fabs(fblk) < np.fabs(fcur)
            xpre, xcur, xblk = np.where(m, xcur, xpre), np.where(m, xblk, xcur), np.where(m, xcur, xblk)
            fpre, fcur, fblk = np.where(m, fcur, fpre), np.where(m, fblk, fcur), np.where(m, fcur, fblk)
            delta = (xt + rt * np.fabs(xcur)) / 2
            sbis = (xblk - xcur) / 2
            done = (fcur == 0) | (np.fabs(sbis) < delta)
            if done.any():
                root[idx[done]], iters[idx[done]], flag[idx[done]] = xcur[done], it, _ECONVERGED
                calls[idx[done]] = 2 + it - 1
                k = ~done
                idx, xpre, xcur, xblk, fpre, fcur, fblk, spre, scur, xt, rt, mi, delta, sbis = (
                    v[k] for v in (idx, xpre, xcur, xblk, fpre, fcur, fblk, spre, scur, xt, rt, mi, delta, sbis))
                if not idx.size:
                    break
            try_step = (np.fabs(spre) > delta) & (np.fabs(fcur) < np.fabs(fpre))
            stry = np.where(xpre == xblk,
                            -fcur * (xcur - xpre) / (fcur - fpre),  # interpolate
                            0.0)
            ext = try_step & (xpre != xblk)
            if ext.any():  # extrapolate
                dpre = (fpre - fcur) / (xpre - xcur)
                dblk = (fblk - fcur) / (xblk - xcur)
                stry = np.where(ext, -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre)), stry)
            lim_a, lim_b = np.fabs(spre), 3 * np.fabs(sbis) - delta
            good = try_step & (2 * np.fabs(stry) < np.where(lim_a < lim_b, lim_a, lim_b))
            spre = np.where(good, scur, sbis)
            scur = np.where(good, stry, sbis)
            xpre, fpre = xcur, fcur
            xcur = np.where(np.fabs(scur) > delta, xcur + scur, xcur + np.where(sbis > 0, delta, -delta))
            fcur, bad = evaluate(idx, xcur, 2 + it)
            if bad is not None and bad.any():
                k = ~bad
                idx, xpre, xcur, xblk, fpre, fcur, fblk, spre, scur, xt, rt, mi = (
                    v[k] for v in (idx, xpre, xcur, xblk, fpre, fcur, fblk, spre, scur, xt, rt, mi))
            calls[idx] = 2 + it
    return LockstepResult(root, calls, iters, flag, errors, points)
