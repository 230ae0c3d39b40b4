"""The numbers a picture writes on the graph: gradients, tangents, local derivatives, path sums.

Everything is computed from the recorded graph with the engine's own rules (the primitives'
``vjp`` for local derivatives and path products, ``node_grads`` for reverse mode,
``push_tangents`` for forward mode), so a picture shows what the engine computes.
"""
import numpy as np

from autograph import modes
from autograph.backward import node_grads, pull as pull_edge
from autograph.debug.text import norm, num as fmt, shape_text, type_text, values_text
from autograph.errors import AutogradError
from autograph.forward import push_tangents
from autograph.graph import Paths as GraphPaths
from autograph.tensor import constant

__all__ = ["reverse_grads", "forward_tangents", "pull", "Local", "Paths", "fmt", "norm",
           "shape_text", "type_text", "values_text"]

EXACT_JACOBIAN = 64     # outputs up to this size get their local Jacobian norm exactly
PROBES = 8              # larger ones: estimated from this many fixed random probes
MAX_LISTED_PATHS = 24   # more paths than this are counted and summed, not listed


def reverse_grads(graph):
    """{k: d output / d node k} for every node that requires grad (seed ones for a non-scalar
    output, i.e. the gradient of its sum). After a backward pass that released values to free
    memory, or changed values in place since, the nodes' gradients cannot be had again: then
    {} (pictures show the leaves' ``.grad``, which that backward pass left)."""
    out = graph.output
    if not out.requires_grad:
        return {}
    seed = None if out._data.size == 1 else np.ones_like(out._data)
    index = graph.index
    try:
        grads = node_grads(out, seed)
    except AutogradError:
        if out._op is None or out._epoch >= 0:
            raise
        return {}
    return {index[i]: np.asarray(g) for i, g in grads.items() if i in index}


def forward_tangents(graph, wrt):
    """{k: d node k / d wrt} for every node, by pushing a tangent of ones from ``wrt``."""
    k0 = graph.number(wrt)
    if not wrt.requires_grad:
        raise AutogradError("viz.draw(mode='forward'): wrt does not require grad, so no node "
                            "depends on it through the graph; pass a tensor created with "
                            "requires_grad=True")
    nodes = graph.nodes
    with modes.no_grad():
        tangents = push_tangents(nodes[k0:], [wrt], [constant(np.ones_like(wrt.data))])
    return {k0 + j: np.asarray(t.data) for j, t in enumerate(tangents)}


def pull(graph, k, p, g):
    """g · ∂node_k/∂input_p: one backward step along one edge, with the engine's rule."""
    return np.asarray(pull_edge(graph.nodes[k], p, g))


class Local:
    """The local derivative on the edge input_p -> node k: a number for scalars, otherwise the
    Jacobian's shape and Frobenius norm (``exact`` False when estimated from random probes)."""

    __slots__ = ("value", "norm", "out_shape", "in_shape", "exact")

    def __init__(self, graph, k, p):
        t = graph.nodes[k]
        x = t._inputs[p]
        self.out_shape, self.in_shape = t.data.shape, x.data.shape
        self.value, self.exact = None, True
        y = t.data
        if y.size == 1 and x.data.size == 1:
            self.value = float(np.asarray(pull(graph, k, p, np.ones_like(y))).reshape(()))
            self.norm = abs(self.value)
            return
        if y.size <= EXACT_JACOBIAN:
            rows = []
            for j in range(y.size):
                e = np.zeros_like(y)
                e.flat[j] = 1
                rows.append(np.vdot(r := pull(graph, k, p, e), r))
            self.norm = float(np.sqrt(np.sum(rows)))
            return
        rng = np.random.default_rng(0)      # fixed: the same picture every time
        est = [pull(graph, k, p, rng.standard_normal(y.shape).astype(y.dtype)) for _ in range(PROBES)]
        self.norm = float(np.sqrt(np.mean([np.vdot(r, r) for r in est])))
        self.exact = False

    def label(self):
        if self.value is not None:
            return fmt(self.value)
        return "∂%s/∂%s\n‖J‖%s%s" % (shape_text(self.out_shape), shape_text(self.in_shape),
                                    "=" if self.exact else "≈", fmt(self.norm))


class Paths:
    """Every path from ``src`` to ``dst`` through the graph, counted by the engine's path
    counter (``autograph.graph.Paths``), in the picture's node numbers.

    ``edges`` holds the (node, position) edges that lie on some path. When there are at most
    MAX_LISTED_PATHS paths, ``listed`` holds each path (a list of edges from src towards dst)
    with its product (the backward pass restricted to that path), and ``total`` is their sum;
    otherwise ``total`` is the backward pass restricted to the edges on paths, which is the same
    sum. ``grad`` is d dst / d src from the engine's ordinary backward, for comparison. With no
    path, ``count`` is 0, ``total`` zero and ``grad`` None.
    """

    def __init__(self, graph, src, dst):
        s, d = graph.number(src), graph.number(dst)
        core = GraphPaths(src, dst, what="viz.draw(highlight=...)")
        index = graph.index
        self.src, self.dst, self.count = s, d, core.count
        self.nodes = [index[t._id] for t in core.nodes]
        self.edges = sorted((index[k], p) for k, es in core.edges.items() for p, _ in es)
        self.listed = self.grad = None
        if not self.count:                      # the sum over no path: dst does not depend on src
            self.total = np.zeros_like(src._data)
            return
        seed = np.ones_like(graph.nodes[d]._data)
        if self.count <= MAX_LISTED_PATHS:
            self.listed = []
            for path in core.enumerate():
                g = seed
                for node, p in reversed(path):
                    g = pull(graph, index[node._id], p, g)
                self.listed.append(([(index[node._id], p) for node, p in path], g))
            self.total = sum(prod for _, prod in self.listed)
        else:
            self.total = self._restricted_backward(graph, seed)
        if dst.requires_grad and src.requires_grad:
            with modes.no_grad():
                self.grad = np.asarray(node_grads(dst, seed if seed.size > 1 else None).get(src._id))

    def _restricted_backward(self, graph, seed):
        grads = {self.dst: seed}
        on = set(self.edges)
        for k in reversed(self.nodes):
            g = grads.get(k)
            if g is None or k == self.src:
                continue
            for p, i in enumerate(graph.inputs[k]):
                if (k, p) in on:
                    gi = pull(graph, k, p, g)
                    grads[i] = gi if i not in grads else grads[i] + gi
        return grads[self.src]
