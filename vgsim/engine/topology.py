"""Graph facts shared by validation and compilation: order, reachability, cycles, widths."""

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


def infer_widths(
    net: Network, order: list[str], data_shape: int | tuple[int, ...]
) -> tuple[dict[str, int], dict[str, int], list[tuple[str, str, int, str, int]]]:
    """(input width, output width) per node along `order` (a width is all values of a
    sample: height × width × channels for an image), and the sums whose inputs differ, as
    (node, first pred, its width, other pred, its width). `data_shape`: the number of input
    features, or the shape the data gives (see shapes.input_shape_of)."""
    from .shapes import infer_shapes, input_shape_of, size_of

    shapes = infer_shapes(net, order, input_shape_of(net, data_shape))
    width_in = {node: size_of(s) for node, s in shapes.shape_in.items()}
    width_out = {node: size_of(s) for node, s in shapes.shape_out.items()}
    preds, _ = adjacency(net)
    mismatches = []
    for node in order:
        incoming = [p for p in preds[node] if p in shapes.shape_out]
        for other in incoming[1:]:
            if shapes.shape_out[other] != shapes.shape_out[incoming[0]]:
                first = incoming[0]
                mismatches.append((node, first, width_out[first], other, width_out[other]))
    return width_in, width_out, mismatches
