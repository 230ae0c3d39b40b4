"""Walking a recorded graph: the one walk and the one path counter.

Every walk is iterative (graphs of unrolled networks are hundreds of thousands of nodes deep)
and returns nodes in creation order, which is a topological order: every input was created
before the nodes that read it.
"""
from .errors import AutogradError
from .tensor import Tensor, where

__all__ = ["walk", "Paths"]


def compiled_call(node, what):
    """The error for a walk that meets a call of a compiled function (ag.compile)."""
    return AutogradError(
        "%s: the graph goes through a call of '%s'%s, whose ops are replayed as one planned "
        "program: pictures, the debugger and forward mode do not look inside it. Call the "
        "function uncompiled (its .fn) to inspect it" % (what, node._op.name, where(node)))


def walk(outputs, floor=0, constants=False, what="backward"):
    """Every tensor that requires grad and that an output depends on, with id >= floor, in
    creation order; with ``constants=True`` also the inputs that do not require grad."""
    seen, stack = {}, [o for o in outputs if o.requires_grad or constants]
    while stack:
        t = stack.pop()
        if t._id in seen or t._id < floor:
            continue
        seen[t._id] = t
        if t._op is not None:
            if t._op.joint:
                raise compiled_call(t, what)
            stack.extend(x for x in t._inputs if x.requires_grad or constants)
    return [seen[k] for k in sorted(seen)]


class Paths:
    """The part of a graph on paths from ``src`` to ``dst``: ``nodes`` in creation order,
    ``edges[id]`` the (input position, input id) pairs of a node on paths, ``count`` the number
    of paths (by dynamic programming, so counting never enumerates them)."""

    def __init__(self, src, dst, what="paths"):
        if not isinstance(src, Tensor) or not isinstance(dst, Tensor):
            raise TypeError("%s: expected two autograph Tensors" % what)
        everything = walk([dst], floor=src._id, constants=True, what=what) \
            if src._id <= dst._id else []
        count = {src._id: 1}                     # paths from src to each node
        for t in everything:
            if t._op is not None and t._id != src._id:
                n = sum(count.get(x._id, 0) for x in t._inputs)
                if n:
                    count[t._id] = n
        reaches = {dst._id} if dst._id in count else set()     # nodes that reach dst
        for t in reversed(everything):
            if t._id in reaches and t._op is not None and t._id != src._id:
                reaches.update(x._id for x in t._inputs if x._id in count)
        self.src, self.dst = src, dst
        self.nodes = [t for t in everything if t._id in reaches]
        self.edges = {t._id: [(p, x._id) for p, x in enumerate(t._inputs) if x._id in reaches]
                      for t in self.nodes if t._id != src._id}
        self.count = count.get(dst._id, 0)
        self.by_id = {t._id: t for t in self.nodes}

    def enumerate(self):
        """Each path as a list of (node, input position) edges from src up to dst."""
        consumers = {}
        for k, edges in self.edges.items():
            for p, i in edges:
                consumers.setdefault(i, []).append((k, p))
        done, stack = [], [(self.src._id, [])] if self.count else []
        while stack:
            k, path = stack.pop()
            if k == self.dst._id:
                done.append(path)
                continue
            for c, p in reversed(consumers.get(k, ())):
                stack.append((c, path + [(self.by_id[c], p)]))
        return done
