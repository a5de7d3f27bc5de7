"""Symbolic layer: paper quantities as sympy expressions, their dependency graph, their evaluation.

No I/O and no printing happens here; :mod:`convtool.numeric` supplies the
primitive values and solves the defining equations, :mod:`convtool.cli` renders.
"""

from convtool.analysis.registry import REGISTRY, SYMBOLS, Quantity, get, names
from convtool.analysis import local_pl  # noqa: F401  (registers the local-PL quantities)

__all__ = ["REGISTRY", "SYMBOLS", "Quantity", "get", "names"]
