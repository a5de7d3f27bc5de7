"""Modules imported on first attribute access: ``from convtool._lazy import sympy as sp``.

``sp`` is a stand-in whose first attribute look-up (``sp.Symbol``) imports the real module, so a
module that needs sympy, networkx or scipy only inside some functions keeps its usual ``sp.name``
spelling and still costs nothing at import. Unlike :class:`importlib.util.LazyLoader` nothing is put
in ``sys.modules`` until the real import runs, so ``"sympy" in sys.modules`` keeps meaning that sympy
was imported (the start-up tests check it).
"""

from __future__ import annotations

import importlib

__all__ = ["LazyModule", "sympy", "networkx"]


class LazyModule:
    """The module ``name``, imported when an attribute is first read."""

    __slots__ = ("_name",)

    def __init__(self, name: str):
        object.__setattr__(self, "_name", name)

    def __getattr__(self, attr):
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


#: the stand-ins convtool uses (``from convtool._lazy import sympy as sp``)
sympy = LazyModule("sympy")
networkx = LazyModule("networkx")
