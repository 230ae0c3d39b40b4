"""The numbers a picture writes on the graph: gradients, tangents, local derivatives, path sums.

Everything is computed from the recorded graph with the engine's own rules (the primitives'
``vjp`` for local derivatives and path products, ``node_grads`` for reverse mode,
``push_tangents`` for forward mode), so a picture shows what the engine computes.
"""
import numpy as np

from autograph import modes
from autograph.backward import node_grads
from autograph.errors import AutogradError
from autograph.forward import push_tangents
from autograph.primitives import dense as _dense, sum_to
from autograph.tensor import constant

EXACT_JACOBIAN = 64     # outputs up to this size get their local Jacobian norm exactly
PROBES = 8              # larger ones: estimated from this many fixed random probes
MAX_LISTED_PATHS = 24   # more paths than this are counted and summed, not listed


def reverse_grads(graph):
    """{k: d output / d node k} for every node that requires grad (seed ones for a non-scalar
    output, i.e. the gradient of its sum)."""
    out = graph.output
    if not out.requires_grad:
        return {}
    seed = None if out.data.size == 1 else np.ones_like(out.data)
    index = graph.index
    return {index[i]: np.asarray(g) for i, g in node_grads(out, seed).items() if i in index}


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


def dense(g):
    return np.asarray(_dense(g))


def pull(graph, k, p, g):
    """g · ∂node_k/∂input_p: one backward step along one edge, with the engine's rule."""
    t = graph.nodes[k]
    x = t._inputs[p]
    args = [i.data for i in t._inputs]
    gi = t._op.vjp[p](g, t.data, *args, **t._params) if t._params else t._op.vjp[p](g, t.data, *args)
    gi = dense(gi)
    return sum_to(gi, x.data.shape) if gi.shape != x.data.shape else gi


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
    """Every path from ``src`` to ``dst`` through the graph, counted by dynamic programming.

    ``edges`` holds the (node, position) edges that lie on some path. When there are at most
    MAX_LISTED_PATHS paths, ``listed`` holds each path (a list of edges from src towards dst)
    with its product (the backward pass restricted to that path), and ``total`` is their sum;
    otherwise ``total`` is the backward pass restricted to the edges on paths, which is the same
    sum. ``grad`` is d dst / d src from the engine's ordinary backward, for comparison.
    """

    def __init__(self, graph, src, dst):
        s, d = graph.number(src), graph.number(dst)
        inputs, consumers = graph.inputs, graph.consumers
        count = {s: 1}                          # paths from src to each node
        for k in range(s + 1, d + 1):
            n = sum(count.get(i, 0) for i in inputs[k])
            if n:
                count[k] = n
        reaches = {d} if d in count else set()  # nodes from which dst is reachable on paths
        for k in range(d, s - 1, -1):
            if k in reaches:
                continue
            if k in count and any(c in reaches for c, _ in consumers[k]):
                reaches.add(k)
        self.src, self.dst = s, d
        self.count = count.get(d, 0) if d in reaches else 0
        self.nodes = [k for k in range(s, d + 1) if k in reaches]
        self.edges = [(k, p) for k in self.nodes for p, i in enumerate(inputs[k]) if i in reaches]
        self.listed = self._enumerate(graph, reaches) if 0 < self.count <= MAX_LISTED_PATHS else None
        seed = np.ones_like(graph.nodes[d].data)
        if not self.count:                      # the sum over no path: dst does not depend on src
            self.total = np.zeros_like(graph.nodes[s].data)
        elif self.listed is not None:
            self.total = sum(prod for _, prod in self.listed)
        else:
            self.total = self._restricted_backward(graph, seed)
        self.grad = None
        if self.count and dst.requires_grad and src.requires_grad:
            with modes.no_grad():
                self.grad = np.asarray(node_grads(dst, seed if seed.size > 1 else None).get(src._id))

    def _enumerate(self, graph, reaches):
        consumers, s, d = graph.consumers, self.src, self.dst
        seed = np.ones_like(graph.nodes[d].data)
        done, stack = [], [(s, [])]
        while stack:
            k, path = stack.pop()
            if k == d:
                g = seed
                for c, p in reversed(path):
                    g = pull(graph, c, p, g)
                done.append((path, g))
                continue
            for c, p in reversed(consumers[k]):
                if c in reaches:
                    stack.append((c, path + [(c, p)]))
        return done

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


# -- text -------------------------------------------------------------------------------------
_DTYPES = {"float32": "f32", "float64": "f64", "float16": "f16", "int64": "i64", "int32": "i32",
           "bool": "bool", "uint8": "u8", "int8": "i8", "complex128": "c128", "complex64": "c64"}


def dtype_text(dtype):
    return _DTYPES.get(dtype.name, dtype.name)


def shape_text(shape):
    return "[%s]" % ",".join(str(n) for n in shape)


def type_text(a):
    """``f32[32,128]``"""
    return dtype_text(a.dtype) + shape_text(a.shape)


def fmt(x, digits=4):
    """A number in at most ``digits`` significant digits; NaN and Inf spelt out."""
    x = float(x)
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "Inf" if x > 0 else "-Inf"
    if x == 0:
        return "0"
    return "%.*g" % (digits, x)


def values_text(a, limit=6, digits=4):
    """A small array's values (``[1, 2.5]``), or None when it has more than ``limit`` entries."""
    a = np.asarray(a)
    if a.size > limit:
        return None
    if a.ndim == 0:
        return fmt(a, digits)
    return "[%s]" % ", ".join(fmt(v, digits) for v in a.reshape(-1))


def norm(a):
    """Frobenius norm in float64 (NaN or Inf if any entry is)."""
    a = np.asarray(a, dtype=np.float64)
    return float(np.sqrt(np.vdot(a, a).real)) if a.size else 0.0
