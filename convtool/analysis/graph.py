"""Dependency graph of the registered quantities (networkx).

Edges run from an input to the quantity that uses it, so a topological order
is an evaluation order and the ancestors of a node are everything its value
rests on. :func:`explain` returns the tree used by ``convtool explain``.

Examples
--------
>>> from convtool.analysis.graph import dependency_graph, evaluation_order
>>> g = dependency_graph()
>>> import networkx as nx
>>> nx.is_directed_acyclic_graph(g)
True
>>> order = evaluation_order(["alpha1"])
>>> order.index("beta1") < order.index("alpha1")
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import networkx as nx

from convtool.analysis.registry import REGISTRY, get, names

__all__ = ["dependency_graph", "evaluation_order", "explain", "ExplainNode", "primitives_of"]


@lru_cache(maxsize=1)
def _graph() -> nx.DiGraph:
    names()  # make sure every paper module is registered
    g = nx.DiGraph()
    for q in REGISTRY.values():
        g.add_node(q.name, kind=q.kind)
        for inp in q.inputs:
            g.add_edge(inp, q.name)
    if not nx.is_directed_acyclic_graph(g):  # pragma: no cover - guarded by tests
        raise RuntimeError(f"dependency cycle: {nx.find_cycle(g)}")
    return g


def dependency_graph() -> nx.DiGraph:
    """A copy of the dependency DAG (input -> quantity)."""
    return _graph().copy()


def evaluation_order(targets=None) -> list[str]:
    """Quantities needed for ``targets`` (default: all), inputs first.

    The order is a deterministic topological sort (ties broken by registration order).
    """
    g = _graph()
    if targets is None:
        needed = set(g.nodes)
    else:
        needed = set()
        for tname in targets:
            get(tname)
            needed |= nx.ancestors(g, tname) | {tname}
    rank = {n: i for i, n in enumerate(REGISTRY)}
    sub = g.subgraph(needed)
    return list(nx.lexicographical_topological_sort(sub, key=lambda n: rank[n]))


def primitives_of(name: str) -> list[str]:
    """The primitive quantities that ``name`` ultimately depends on."""
    return [n for n in evaluation_order([name]) if REGISTRY[n].kind == "primitive" and n != name]


@dataclass
class ExplainNode:
    """One node of an explanation tree: a quantity, its value if known, its inputs."""

    name: str
    kind: str
    reference: str
    description: str
    value: object = None
    children: list["ExplainNode"] = field(default_factory=list)
    repeated: bool = False
    #: inside an equation's subtree: the unknown this node varies with (its value is then not shown)
    varies_with: str | None = None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "reference": self.reference,
            "description": self.description,
            "value": self.value,
            "repeated": self.repeated,
            "varies_with": self.varies_with,
            "inputs": [c.to_dict() for c in self.children],
        }


def explain(name: str, values: dict | None = None, max_depth: int = 50) -> ExplainNode:
    """The dependency tree of ``name`` down to primitives, with values where given.

    A quantity already expanded higher in the tree is shown once more with
    ``repeated=True`` and no children, so the tree stays readable. Below an
    equation (eq. 87, 88...) the nodes that depend on its unknown carry
    ``varies_with`` and no value: there they are functions of the unknown, not
    numbers at the chosen point.
    """
    seen: set[str] = set()
    g = _graph()

    def build(n: str, depth: int, unknowns: frozenset) -> ExplainNode:
        q = get(n)
        varies = next((u for u in sorted(unknowns) if n == u or u in nx.ancestors(g, n)), None)
        node = ExplainNode(n, q.kind, q.reference, q.description,
                           None if values is None or varies else values.get(n), varies_with=varies)
        if n in seen or depth >= max_depth:
            node.repeated = n in seen
            return node
        seen.add(n)
        inner = unknowns | {str(q.unknown)} if q.kind == "equation" else unknowns
        node.children = [build(i, depth + 1, inner) for i in q.inputs]
        return node

    return build(name, 0, frozenset())
