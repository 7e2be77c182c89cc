"""Graph facts shared by validation and compilation: order, reachability, cycles."""

from __future__ import annotations

from collections import defaultdict

from .spec import Network


def adjacency(net: Network) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(predecessors, successors) by node id, in edge order; edges to unknown ids are ignored."""
    ids = {n.id for n in net.nodes}
    preds: dict[str, list[str]] = defaultdict(list)
    succs: dict[str, list[str]] = defaultdict(list)
    for a, b in net.edges:
        if a in ids and b in ids and a != b and b not in succs[a]:
            preds[b].append(a)
            succs[a].append(b)
    return preds, succs


def topological_order(net: Network) -> tuple[list[str], list[str]]:
    """(order, left over). Left-over nodes sit on or behind a cycle. Ties keep file order."""
    preds, succs = adjacency(net)
    indegree = {n.id: len(preds[n.id]) for n in net.nodes}
    ready = [n.id for n in net.nodes if indegree[n.id] == 0]
    order: list[str] = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for s in succs[node]:
            indegree[s] -= 1
            if indegree[s] == 0:
                ready.append(s)
    placed = set(order)
    return order, [n.id for n in net.nodes if n.id not in placed]


def find_cycle(net: Network, candidates: list[str]) -> list[str]:
    """One cycle among `candidates`, as a list of ids that starts and ends at the same node."""
    _, succs = adjacency(net)
    inside = set(candidates)
    done: set[str] = set()
    for start in candidates:
        if start in done:
            continue
        # Iterative depth-first search; a successor already on the path closes a cycle.
        path, on_path = [start], {start}
        stack = [iter([s for s in succs[start] if s in inside])]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                done.add(path[-1])
                on_path.discard(path.pop())
            elif nxt in on_path:
                return path[path.index(nxt) :] + [nxt]
            elif nxt not in done:
                path.append(nxt)
                on_path.add(nxt)
                stack.append(iter([s for s in succs[nxt] if s in inside]))
    return []


def reachable(start: list[str], links: dict[str, list[str]]) -> set[str]:
    seen = set(start)
    todo = list(start)
    while todo:
        for nxt in links[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
