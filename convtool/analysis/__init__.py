"""Symbolic layer: paper quantities as sympy expressions, their dependency graph, their evaluation.

Each paper of :data:`PAPERS` has its own namespace (``get("alpha", paper="zhao-xu")`` or
``get("zhao-xu:alpha")``); plain names resolve to the local-PL paper first. A namespace is filled on
first use, from the start-up index in the user cache or else by importing the paper's module
(:class:`convtool.analysis.registry._Namespace`); sympy is imported only when a formula is read.
No I/O and no printing happens here; :mod:`convtool.numeric` supplies the
primitive values and solves the defining equations, :mod:`convtool.cli` renders.
"""

from convtool.analysis.registry import (DEFAULT_PAPER, PAPERS, REGISTRIES, REGISTRY, SYMBOLS, AmbiguousNameError,
                                        Paper, Quantity, get, names, papers, papers_defining)

__all__ = ["DEFAULT_PAPER", "PAPERS", "REGISTRIES", "REGISTRY", "SYMBOLS", "AmbiguousNameError", "Paper", "Quantity",
           "get", "names", "papers", "papers_defining"]
