"""Machine-readable results of the bench scripts, gathered by ``bench/run.py``.

A bench script calls :func:`report` for each ratio it measures; when ``CONVTOOL_BENCH_RESULTS`` names a
file (``bench/run.py`` sets it), one JSON line per ratio is appended there. Run by hand, nothing is written.
"""

import json
import os

__all__ = ["report"]


def report(bench: str, name: str, ratio: float, *, target: float | None = None, op: str = "<=",
           note: str = "") -> None:
    """Record ``ratio`` (dimensionless) of ``bench``; ``met`` is ``ratio op target`` when a target is given."""
    path = os.environ.get("CONVTOOL_BENCH_RESULTS")
    if not path:
        return
    met = None
    if target is not None:
        met = bool(ratio <= target) if op == "<=" else bool(ratio >= target)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"bench": bench, "name": name, "ratio": float(ratio), "target": target, "op": op,
                             "met": met, "note": note}) + "\n")
