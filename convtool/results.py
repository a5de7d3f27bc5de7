"""Shared pieces of result objects: the *not applicable* value and strict-JSON conversion.

A constant that a theorem does not define on the given data (``mu = 0``,
``alpha1 = 0``...) is a :class:`NotApplicable` value carrying its reason, never
``None`` or NaN. :func:`jsonable` turns results into plain data for
``json.dumps(..., allow_nan=False)``: non-finite floats and ``NotApplicable``
become ``null``.

Examples
--------
>>> na = NotApplicable("mu = 0: X is rank deficient")
>>> bool(na), str(na)
(False, 'not applicable (mu = 0: X is rank deficient)')
>>> jsonable({"a": float("inf"), "b": na, "c": [1.5]})
{'a': None, 'b': None, 'c': [1.5]}
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = ["NotApplicable", "jsonable", "is_value"]


@dataclasses.dataclass(frozen=True)
class NotApplicable:
    """A quantity that is not defined here, with the reason in words."""

    reason: str

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return f"not applicable ({self.reason})"

    def __float__(self) -> float:
        raise TypeError(f"quantity is {self}")


def is_value(x) -> bool:
    """True for a number (possibly inf), False for :class:`NotApplicable`."""
    return not isinstance(x, NotApplicable)


def jsonable(obj):
    """Plain, strict-JSON-safe data: inf/nan and NotApplicable to None, arrays to lists."""
    t = type(obj)  # the exact plain types first (most of a result; issue 13: 100 seeds' constants at a run's end)
    if t is float:
        return obj if math.isfinite(obj) else None
    if t is str or t is int or t is bool or obj is None:
        return obj
    if t is dict:
        out = {}
        for k, v in obj.items():  # the plain values inline (most entries): a call per entry was half the cost
            tv = type(v)
            if tv is float:
                v = v if math.isfinite(v) else None
            elif not (tv is str or tv is int or tv is bool or v is None):
                v = jsonable(v)
            out[k if type(k) is str else str(k)] = v
        return out
    if t is list or t is tuple:
        return [jsonable(v) for v in obj]
    if isinstance(obj, NotApplicable):
        return None
    if hasattr(obj, "to_dict") and not isinstance(obj, type):
        return jsonable(obj.to_dict())
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def provenance(command=None, *, seed=None, init=None, **more) -> dict:
    """Where a result came from: convtool, numpy, scipy, sympy versions, the command line, seed, init scheme
    and a UTC timestamp (ISO 8601). Saved files and every ``--json`` carry it.

    >>> p = provenance(["convtool", "run"], seed=3, init="gaussian")
    >>> p["command"], p["seed"], p["init"], sorted(p["versions"])
    ('convtool run', 3, 'gaussian', ['convtool', 'numpy', 'python', 'scipy', 'sympy'])
    """
    import datetime
    import platform
    import shlex
    from importlib import metadata

    import convtool

    def version(pkg):
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:  # pragma: no cover - not installed
            return None

    if isinstance(command, (list, tuple)):
        command = " ".join(shlex.quote(str(a)) for a in command)
    out = {"command": command, "seed": seed, "init": init,
           "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "versions": {"convtool": convtool.__version__, "numpy": np.__version__, "scipy": version("scipy"),
                        "sympy": version("sympy"), "python": platform.python_version()}}
    out.update(more)
    return jsonable(out)


__all__ += ["provenance"]
