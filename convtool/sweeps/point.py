"""One point of a sweep: ``convtool run --json`` with the point's options, in this process, as a tidy row.

Running a point through ``run``'s own option handling is what makes every option of ``convtool run`` a
valid sweep axis (for every model, the plugins' included): the sweep adds no second parser. The run's
JSON is flattened into one row: the point's options, ``run_status`` (``ok`` or ``failed`` with the
``error`` line), the run summary (status, steps, final loss, observed rate, the theories' predicted
rates, violations, tightness), ``wall_time`` and the first seed's scalar constants as ``const.NAME``.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import time

__all__ = ["run_point", "flatten_run"]


def _scalar(v):
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return v if not (isinstance(v, float) and not math.isfinite(v)) else None
    return None


def _flat(prefix: str, obj, out: dict) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(obj, list):
        if len(obj) == 1 and not isinstance(obj[0], (dict, list)):
            out[prefix] = _scalar(obj[0])
        elif obj and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in obj):
            vals = sorted(obj)
            mid = len(vals) // 2
            out[prefix + ".median"] = vals[mid] if len(vals) % 2 else 0.5 * (vals[mid - 1] + vals[mid])
            out[prefix] = json.dumps(obj)
        elif obj and all(isinstance(x, str) for x in obj):
            out[prefix] = json.dumps(obj)
        elif obj and all(isinstance(x, dict) for x in obj):  # rows with their own key (a theory's table)
            for key_field in ("invariant", "key", "name"):
                keys = [x.get(key_field) for x in obj]
                if all(isinstance(k, str) for k in keys) and len(set(keys)) == len(keys):
                    for k, x in zip(keys, obj):
                        _flat(f"{prefix}.{k}", {a: b for a, b in x.items() if a != key_field}, out)
                    break
    else:
        out[prefix] = _scalar(obj)


def flatten_run(doc: dict) -> dict:
    """The row of a ``run --json`` document: its summary flattened (``a.b`` keys), the first seed's scalar
    constants as ``const.NAME``, and the source."""
    row: dict = {"source": doc.get("source")}
    summary = doc.get("summary", {})
    status = summary.get("status")
    if isinstance(status, dict):  # counts per status over the seeds
        row["status"] = next(iter(status)) if len(status) == 1 else json.dumps(status, sort_keys=True)
        summary = {k: v for k, v in summary.items() if k != "status"}
    _flat("", summary, row)
    consts = doc.get("constants")
    if isinstance(consts, list) and consts and isinstance(consts[0], dict):
        for k, v in consts[0].items():
            s = _scalar(v)
            if s is not None and not isinstance(s, str):
                row[f"const.{k}"] = s
    return row


def run_point(point: dict, data: str | None = None) -> dict:
    """Run one point (``{run option: value}``) and return its row; a failing run gives a row with
    ``run_status = "failed"`` and the one-line ``error``, never an exception."""
    import click

    from convtool.cli.cmd_run import run
    from convtool.sweeps.spec import point_argv

    argv = ([data] if data else []) + point_argv(point) + ["--json"]
    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    row = {"run_status": "ok", "error": None}
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            ctx = run.make_context("run", argv)
            with ctx:
                run.invoke(ctx)
        row.update(flatten_run(json.loads(out.getvalue())))
    except click.ClickException as exc:
        row.update(run_status="failed", error=" ".join(exc.format_message().split()))
    except SystemExit as exc:  # a command that exits itself
        lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
        row.update(run_status="failed", error=lines[-1] if lines else f"exit status {exc.code}")
    except Exception as exc:  # a bug in a run must not stop the sweep: record it
        row.update(run_status="failed", error=f"{type(exc).__name__}: {' '.join(str(exc).split())}")
    row["wall_time"] = time.perf_counter() - t0
    return row
