"""The recorded graph as the pictures see it: nodes numbered from 0 in creation order.

Every picture, listing and plot starts here. A node's number (``%k``) is its position among the
tensors the output depends on, so the same program gives the same numbers in every process, and
no ``id()`` or set order leaks into what a user sees. All walks are iterative: graphs of recurrent
networks are hundreds of thousands of nodes deep.
"""
from autograph.errors import AutogradError
from autograph.graph import walk
from autograph.modes import Scope, parse_scope
from autograph.tensor import Tensor

__all__ = ["Graph", "Scope"]


class Graph:
    """``nodes[k]`` is the tensor numbered k; ``inputs[k]`` its inputs' numbers in argument order
    (empty for leaves); ``consumers[k]`` the (number, argument position) pairs that read it."""

    __slots__ = ("output", "nodes", "index", "inputs", "consumers")

    def __init__(self, output):
        if not isinstance(output, Tensor):
            raise TypeError("viz: expected an autograph Tensor, got %s" % type(output).__name__)
        self.output = output
        self.nodes = walk([output], constants=True, what="viz")
        self.index = {t._id: k for k, t in enumerate(self.nodes)}
        index = self.index
        self.inputs = [tuple(index[x._id] for x in t._inputs) if t._op is not None else ()
                       for t in self.nodes]
        self.consumers = [[] for _ in self.nodes]
        for k, ins in enumerate(self.inputs):
            for p, i in enumerate(ins):
                self.consumers[i].append((k, p))

    def __len__(self):
        return len(self.nodes)

    def scope(self, k):
        """The parsed scope of node k (shared between the nodes of one scope)."""
        return parse_scope(self.nodes[k]._scope)

    def positions(self, ks):
        """Each node's position within its time step, the same in every step of a track:
        (scope inside the step, op, occurrence)."""
        seen, keys = {}, []
        for k in ks:
            s = self.scope(k)
            base = (s.inner if s.track is not None else "^" + s.path, self.nodes[k].op_name)
            seen[base] = seen.get(base, -1) + 1
            keys.append(base + (seen[base],))
        return keys

    def number(self, t):
        """The ``%k`` number of a tensor of this graph."""
        k = self.index.get(t._id) if isinstance(t, Tensor) else None
        if k is None:
            raise AutogradError("viz: the tensor %s is not part of the graph of this output"
                                % (t.name or "of shape %s" % (getattr(t, "shape", "?"),)))
        return k
