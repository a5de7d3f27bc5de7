"""Symbolic layer: paper quantities as sympy expressions, their dependency graph, their evaluation.

Each paper of :data:`PAPERS` has its own namespace (``get("alpha", paper="zhao-xu")`` or
``get("zhao-xu:alpha")``); plain names resolve to the local-PL paper first.
No I/O and no printing happens here; :mod:`convtool.numeric` supplies the
primitive values and solves the defining equations, :mod:`convtool.cli` renders.
"""

from convtool.analysis.registry import (DEFAULT_PAPER, PAPERS, REGISTRIES, REGISTRY, SYMBOLS, AmbiguousNameError,
                                        Paper, Quantity, get, names, papers, papers_defining)
from convtool.analysis import local_pl  # noqa: F401  (registers the local-PL quantities)
from convtool.analysis import zhao_xu  # noqa: F401  (registers the Zhao & Xu quantities)
from convtool.analysis import du_hu_lee  # noqa: F401  (registers the Du, Hu & Lee quantities)

__all__ = ["DEFAULT_PAPER", "PAPERS", "REGISTRIES", "REGISTRY", "SYMBOLS", "AmbiguousNameError", "Paper", "Quantity",
           "get", "names", "papers", "papers_defining"]
