"""Dependency graphs of the registered quantities (networkx, imported when a graph is asked for), one per paper.

Edges run from an input to the quantity that uses it, so a topological order
is an evaluation order and the ancestors of a node are everything its value
rests on. Nodes are the plain names of the paper's namespace. :func:`explain`
returns the tree used by ``convtool explain``.

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
>>> zx = evaluation_order(["kappa"], paper="zhao-xu")
>>> zx.index("beta") < zx.index("kappa")
True
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from functools import lru_cache

from convtool._lazy import networkx as nx
from convtool.analysis.registry import _OWNER, DEFAULT_PAPER, REGISTRIES, _check_paper, get, names, split_name

__all__ = ["dependency_graph", "evaluation_order", "explain", "ExplainNode", "primitives_of", "resolve_targets"]


@lru_cache(maxsize=None)
def _graph(paper: str = DEFAULT_PAPER) -> nx.DiGraph:
    names(paper=paper)  # make sure every paper module is registered (and the paper exists)
    g = nx.DiGraph()
    for q in REGISTRIES[paper].values():
        g.add_node(q.name, kind=q.kind)
        for inp in q.inputs:
            g.add_edge(inp, q.name)
    if not nx.is_directed_acyclic_graph(g):  # pragma: no cover - guarded by tests
        raise RuntimeError(f"dependency cycle in {paper}: {nx.find_cycle(g)}")
    return g


def dependency_graph(paper: str = DEFAULT_PAPER) -> nx.DiGraph:
    """A copy of the dependency DAG (input -> quantity) of ``paper``'s quantities."""
    return _graph(paper).copy()


def resolve_targets(targets, paper: str | None = None) -> tuple[str, tuple[str, ...] | None]:
    """``(paper, plain target names)`` from targets that may be qualified (``"zhao-xu:q"``).

    Without ``paper`` the paper is the one the qualified targets name (default
    local-PL); targets naming two papers, or a paper other than ``paper``, raise ``KeyError``.
    """
    if paper is not None:
        _check_paper(paper)  # an unknown paper is a KeyError
    if targets is None:
        return (DEFAULT_PAPER if paper is None else paper), None
    if isinstance(targets, str):
        targets = [targets]
    split = [split_name(t) for t in targets]
    named = {p for p, _ in split if p is not None}
    if paper is not None:
        named.add(paper)
    if len(named) > 1:
        raise KeyError(f"targets from several papers ({', '.join(sorted(named))}); evaluate one paper at a time")
    p = named.pop() if named else DEFAULT_PAPER
    return p, tuple(n for _, n in split)


def evaluation_order(targets=None, paper: str | None = None) -> list[str]:
    """Quantities needed for ``targets`` (default: all of the paper), inputs first.

    The order is a deterministic topological sort (ties broken by registration
    order), computed once per ``(paper, set of targets)`` and cached.
    """
    paper, plain = resolve_targets(targets, paper)
    return list(_order(paper, None if plain is None else frozenset(plain)))


@lru_cache(maxsize=4096)
def _order(paper: str, targets: frozenset | None) -> tuple[str, ...]:
    # networkx's lexicographical_topological_sort of the dependency DAG keyed by registration rank, written
    # out (Kahn's algorithm, smallest rank first) on the namespace's inputs: evaluation plans need neither
    # networkx nor sympy (tests/test_startup.py checks it gives networkx's order)
    reg = _check_paper(paper)
    if targets is None:
        needed = set(reg)
    else:
        needed = set()
        stack = []
        for tname in sorted(targets):
            get(tname, paper)
            stack.append(tname)
        while stack:
            n = stack.pop()
            if n not in needed:
                needed.add(n)
                stack.extend(reg[n].inputs)
    rank = {n: i for i, n in enumerate(reg)}
    indegree = {n: 0 for n in needed}
    users: dict[str, list[str]] = {n: [] for n in needed}
    for n in needed:
        for i in set(reg[n].inputs):
            indegree[n] += 1
            users[i].append(n)
    ready = [(rank[n], n) for n, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    out = []
    while ready:
        _, n = heapq.heappop(ready)
        out.append(n)
        for u in users[n]:
            indegree[u] -= 1
            if indegree[u] == 0:
                heapq.heappush(ready, (rank[u], u))
    if len(out) != len(needed):  # pragma: no cover - register() only accepts registered inputs, tests check acyclicity
        raise RuntimeError(f"dependency cycle in {paper}")
    return tuple(out)


def primitives_of(name: str, paper: str | None = None) -> list[str]:
    """The primitive quantities that ``name`` ultimately depends on (plain names of its paper)."""
    q = get(name, paper)
    reg = REGISTRIES[q.paper]
    return [n for n in evaluation_order([q.name], q.paper) if reg[n].kind == "primitive" and n != q.name]


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
    #: the paper of the quantity (every node of a tree has its root's paper)
    paper: str = DEFAULT_PAPER
    #: not printed in the paper (see :attr:`convtool.analysis.registry.Quantity.derived`)
    derived: bool = False

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "paper": self.paper,
            "kind": self.kind,
            "derived": self.derived,
            "reference": self.reference,
            "description": self.description,
            "value": self.value,
            "repeated": self.repeated,
            "varies_with": self.varies_with,
            "inputs": [c.to_dict() for c in self.children],
        }


def explain(name: str, values: dict | None = None, max_depth: int = 50, paper: str | None = None) -> ExplainNode:
    """The dependency tree of ``name`` down to primitives, with values where given.

    ``name`` is looked up as :func:`convtool.analysis.registry.get` does (``paper=`` or a
    qualified name selects the paper); ``values`` are keyed by the paper's plain names.

    A quantity already expanded higher in the tree is shown once more with
    ``repeated=True`` and no children, so the tree stays readable. Below an
    equation (eq. 87, 88...) the nodes that depend on its unknown carry
    ``varies_with`` and no value: there they are functions of the unknown, not
    numbers at the chosen point.
    """
    root = get(name, paper)
    reg = REGISTRIES[root.paper]
    seen: set[str] = set()
    g = _graph(root.paper)

    def build(n: str, depth: int, unknowns: frozenset) -> ExplainNode:
        q = reg[n]
        varies = next((u for u in sorted(unknowns) if n == u or u in nx.ancestors(g, n)), None)
        node = ExplainNode(n, q.kind, q.reference, q.description,
                           None if values is None or varies else values.get(n), varies_with=varies,
                           paper=q.paper, derived=q.derived)
        if n in seen or depth >= max_depth:
            node.repeated = n in seen
            return node
        seen.add(n)
        inner = unknowns | {_OWNER[str(q.unknown)][1]} if q.kind == "equation" else unknowns
        node.children = [build(i, depth + 1, inner) for i in q.inputs]
        return node

    return build(root.name, 0, frozenset())

