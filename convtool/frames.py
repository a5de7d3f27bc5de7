"""Results in a notebook: short reprs, HTML tables, and ``pandas`` data frames (the optional ``frame`` extra).

``to_frame(result)`` works on every result convtool returns; the result classes that convtool owns here
(:class:`~convtool.numeric.constants.ConstantsResult`, :class:`~convtool.numeric.dln_constants.DeepLinearConstants`,
:class:`~convtool.numeric.experiments.CompareResult`) also have it as a method, with ``__repr__`` and
``_repr_html_``. A value a theorem does not define is NaN in the ``value`` column and its reason is in the
``not_applicable`` column (never a bare NaN without words).

Examples
--------
>>> from convtool.results import NotApplicable
>>> rows = quantity_rows({"mu": 1.0, "alpha1": NotApplicable("h < n + m")}, lambda k: "Table 2")
>>> [(r["quantity"], r["value"], r["not_applicable"]) for r in rows]
[('mu', 1.0, None), ('alpha1', nan, 'h < n + m')]
"""

from __future__ import annotations

import html
import math

from convtool.results import NotApplicable

__all__ = ["to_frame", "quantity_rows", "constants_frame", "compare_frame", "run_frame", "short_repr",
           "html_table", "require_pandas"]

INSTALL_HINT = "pip install convtool[frame]"


def require_pandas():
    """``pandas``, or an ImportError naming the extra that installs it."""
    try:
        import pandas
    except ImportError as exc:  # pragma: no cover - pandas is in the test extra
        raise ImportError(f"to_frame() needs pandas ({exc}); install it with `{INSTALL_HINT}`") from None
    return pandas


def _value(v) -> float:
    if isinstance(v, NotApplicable) or v is None:
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def quantity_rows(quantities: dict, reference) -> list[dict]:
    """One row per quantity: ``quantity``, ``value`` (NaN where not applicable), ``not_applicable`` (the
    reason or None), ``reference``."""
    return [{"quantity": k, "value": _value(v), "not_applicable": v.reason if isinstance(v, NotApplicable) else None,
             "reference": reference(k)} for k, v in quantities.items()]


def _reference_of(res):
    if hasattr(res, "reference"):
        def ref(k):
            try:
                return res.reference(k)
            except KeyError:
                return ""
        return ref
    from convtool.analysis import get

    def ref(k):
        try:
            return get(k, paper="zhao-xu").reference
        except KeyError:
            return ""
    return ref


def constants_frame(res):
    """A constants result as a DataFrame indexed by quantity (columns value, not_applicable, reference)."""
    pd = require_pandas()
    return pd.DataFrame(quantity_rows(res.quantities, _reference_of(res))).set_index("quantity")


def compare_frame(cmp):
    """A CompareResult as a DataFrame, one row per schedule (the reference row included)."""
    pd = require_pandas()
    rows = []
    for r in cmp.rows:
        v = r.violations or {}
        rows.append({"schedule": r.name, "status": ", ".join(f"{k} {n}" for k, n in r.status.items()),
                     "steps_to_tol": _value(r.steps_to_tol), "wall_time": r.wall_time,
                     "final_loss": _value(r.final_loss), "mean_eta": _value(r.mean_eta),
                     "observed_rate": _value(r.observed_rate),
                     "thm31_violations": _value(v.get("thm31")), "thm31_steps": _value(v.get("thm31_steps_applicable")),
                     "thm32_violations": _value(v.get("thm32")), "thm32_steps": _value(v.get("thm32_steps_in_range"))})
    return pd.DataFrame(rows).set_index("schedule")


def run_frame(result):
    """A RunResult's per-step records as a long DataFrame: one row per (seed, t), a column per record
    (state records at t, step records for the step t -> t+1; NaN where a seed had stopped)."""
    import numpy as np

    pd = require_pandas()
    a = result.arrays
    L = np.atleast_2d(a["loss"])
    R, T1 = L.shape
    cols = {"seed": np.repeat(np.arange(R), T1), "t": np.tile(np.arange(T1), R)}
    for k, v in a.items():
        v = np.asarray(v)
        if v.ndim != 2 or v.shape[0] != R or v.shape[1] not in (T1, T1 - 1):
            continue
        full = np.full((R, T1), np.nan)
        full[:, : v.shape[1]] = v.astype(float)
        cols[k] = full.ravel()
    return pd.DataFrame(cols).set_index(["seed", "t"])


def to_frame(result):
    """Any convtool result as a pandas DataFrame (:func:`constants_frame`, :func:`compare_frame`,
    :func:`run_frame`)."""
    if hasattr(result, "rows") and hasattr(result, "runs"):
        return compare_frame(result)
    if hasattr(result, "arrays") and hasattr(result, "steps"):
        return run_frame(result)
    if hasattr(result, "quantities"):
        return constants_frame(result)
    raise TypeError(f"to_frame does not know {type(result).__name__}")


def _fmt(v) -> str:
    if isinstance(v, NotApplicable):
        return "n/a"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def short_repr(name: str, items: dict, extra: str = "") -> str:
    """``Name(k=v, ...)`` over a few headline values (the full data: ``to_dict()`` / ``to_frame()``)."""
    body = ", ".join(f"{k}={_fmt(v)}" for k, v in items.items())
    return f"{name}({body}{', ' + extra if extra else ''})"


def html_table(title: str, rows: list[tuple], header=("quantity", "value", "reference")) -> str:
    """A small HTML table (notebook ``_repr_html_``); every cell escaped."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return (f"<div><strong>{html.escape(title)}</strong><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>")


def quantities_html(title: str, res) -> str:
    ref = _reference_of(res)
    rows = []
    for k, v in res.quantities.items():
        cell = f"n/a ({v.reason})" if isinstance(v, NotApplicable) else _fmt(v)
        rows.append((k, cell, ref(k)))
    return html_table(title, rows)
