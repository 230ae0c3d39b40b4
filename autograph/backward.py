"""Reverse mode: the backward loop.

Nodes are visited in decreasing creation id, taken from a heap. Every consumer of a tensor was
created after it, so when a tensor is popped all of its gradient has arrived. No recursion: the
heap is the only stack, and graphs of any depth run within any recursion limit.

The same loop serves ``Tensor.backward``, the functional transforms (gradients of chosen inputs,
``.grad`` untouched) and the debugger's stepper (``trace=True`` makes it yield one event per node),
so a stepped backward accumulates in exactly the order of an ordinary one.

Read with ``speed`` false, the loop is the reference: each node applies its rules from the table
(rules.py) and contributions are added as numpy adds them. With ``speed`` (the default, except
under ``create_graph``, anomaly detection or ``ag.reference()``) a few rules send lazy gradients
(fast/lazy.py), the outputs of a split are joined in one go, buffers the loop allocated are
added into in place, and 0-d values are computed as numpy scalars. Lazy gradients never leave the
loop: what it deposits, reports or hands to a hook is dense.
"""
from heapq import heappop, heappush
from sys import getrefcount

import numpy as np

from .anomaly import check_arrived, check_backward
from .errors import AutogradError
from .fast.lazy import JOIN, LAZY, Rows, accumulate, dense, takes_rows
from .modes import current, enable_grad
from .rules import split, sum_to
from .numerics import scatter_add
from .ops import astype
from .fast.release import MIN_BYTES
from .tensor import (Released, Tensor, as_array, check_saved, clock, constant, freed, mark_done,
                     stand_in, where)


class Event:
    """What one node of the backward pass did (the stepper's raw material): ``grad_out`` its
    complete gradient, ``contributions`` the (input position, array) it sent to its inputs."""

    __slots__ = ("node", "grad_out", "contributions")

    def __init__(self, node, grad_out, contributions):
        self.node, self.grad_out, self.contributions = node, grad_out, contributions


def seed(root, gradient, create_graph):
    """The starting gradient d root / d root, checked against the root's shape."""
    if not isinstance(root, Tensor):
        raise AutogradError("backward: expected an autograph Tensor, got %s"
                            % type(root).__name__)
    if not root.requires_grad:
        raise AutogradError(
            "backward: this tensor (shape %s) does not require grad and has no graph; create the "
            "inputs with requires_grad=True, and do not compute it inside no_grad()" % (root.shape,))
    if gradient is None:
        if root._data.size != 1:
            raise AutogradError(
                "backward: the output has shape %s, not a scalar; pass gradient= (an array of "
                "that shape) or reduce it first, e.g. out.sum().backward()" % (root.shape,))
        g = np.ones_like(root._data)
    else:
        g = as_array(gradient, root.dtype if not isinstance(gradient, (np.ndarray, Tensor))
                     else None)
        if g.shape != root.shape:
            raise AutogradError("backward: gradient has shape %s but the output has shape %s; "
                                "they must match" % (g.shape, root.shape))
    if create_graph:
        return gradient if isinstance(gradient, Tensor) else constant(g)
    return g


def backward(root, gradient=None, retain_graph=False, create_graph=False):
    """``Tensor.backward``: accumulate into the ``.grad`` of leaves and retained tensors."""
    g = seed(root, gradient, create_graph)
    for _ in run(root, g, retain_graph=retain_graph or create_graph, create_graph=create_graph):
        pass


def grads_of(root, inputs, gradient=None, retain_graph=False, create_graph=False, again=False):
    """d root / d input for each input, without touching any ``.grad`` (None where unreached).
    ``again``: read a graph that a backward pass already went through (see ``run``)."""
    g = seed(root, gradient, create_graph)
    found = {}
    for _ in run(root, g, retain_graph=retain_graph or create_graph, create_graph=create_graph,
                 inputs=inputs, found=found, again=again):
        pass
    return [found.get(t._id) for t in inputs]


def node_grads(root, gradient=None):
    """d root / d node for every node of the graph, as arrays keyed by node id. Touches no
    ``.grad`` and keeps the graph (for pictures and the debugger); also after a backward pass,
    while the values it needs are there."""
    g = seed(root, gradient, False)
    return {ev.node._id: ev.grad_out for ev in run(root, g, retain_graph=True, create_graph=False,
                                                      inputs=(), found={}, trace=True, again=True)}


def run(root, g, *, retain_graph, create_graph, inputs=None, found=None, trace=False,
        again=False):
    """The backward loop, as a generator that yields an ``Event`` per node when ``trace``.

    Without ``retain_graph`` each node is marked done as the loop leaves it (a second backward
    through it raises) but stays in the graph, so pictures and the debugger still see it; its
    value goes if it is large (release's size) and nothing but the graph holds it, as the
    value of a dropped tensor would. ``again``: a pass that only reads a graph a backward pass
    already went through (pictures, the debugger after backward)."""
    st = current()
    if st.trace is not None:
        st.trace.refuse("calls backward() (or a transform such as ag.grad); compile the "
                        "forward alone and call .backward() on what it returns")
    anomaly = st.anomaly
    speed = st.fast and not create_graph and not anomaly
    wanted = None if inputs is None else {t._id for t in inputs}
    floor = min(wanted) if wanted else 0          # nothing older than the oldest input matters
    joint = speed and not wanted                  # (a stepper without deposits: wanted is empty)
    now = clock.now                               # in-place changes so far
    free = not retain_graph
    uses = {}                                     # large node -> the graph's references to it
    if speed and type(g) is np.ndarray and not g.ndim:
        g = g[()]
    grads = {root._id: g}
    nodes = {root._id: root}                      # pending nodes by id; the heap holds their ids
    owned = set()                                 # buffers this loop allocated: safe to add into
    heap = [-root._id]
    pop, push, pending = heappop, heappush, grads.get      # locals: this loop runs per node
    with enable_grad() if create_graph else _nothing:
        while heap:
            key = -pop(heap)
            node = nodes.pop(key, None)
            if node is None:        # an output of a split, taken with its siblings
                continue
            g = grads.pop(key)
            if speed and type(g) in LAZY and not (type(g) is Rows and joint and takes_rows(node)):
                g = g.dense()
                owned.add(key)
            if node._hooks:
                if anomaly:
                    check_arrived(node, g, False, key == root._id)
                g = _run_hooks(node, g, create_graph)
                now = clock.now                   # a hook may change a value in place
            if anomaly:
                check_arrived(node, g, bool(node._hooks), key == root._id)
            op = node._op
            if op is None or node._retain or wanted is not None:
                if wanted is None:
                    _deposit(node, g, key in owned, create_graph)
                elif key in wanted:
                    found[key] = g if create_graph else constant(_own(g, key in owned, node))
                if op is None:
                    if trace:
                        yield Event(node, g, ())
                    continue
            ins = node._inputs
            if node._epoch < now:           # something changed in place since it was made
                check_saved(node, again)
            params = node._params
            if create_graph:
                y, args = node, ins
            elif not speed or node._data.ndim:
                y = node._data
                # spelt out for one and two inputs: a comprehension costs a call per node
                args = (ins[0]._data, ins[1]._data) if len(ins) == 2 else (
                    (ins[0]._data,) if len(ins) == 1 else [t._data for t in ins])
            else:
                # 0-d arrays as numpy scalars: arithmetic on them is ten times faster, and
                # mixing a scalar with a 0-d array is slower still
                y = node._data[()]
                args = (ins[0]._data[()], ins[1]._data[()]) if len(ins) == 2 else (
                    (ins[0]._data[()],) if len(ins) == 1 else [t._data[()] for t in ins])
            taken = None
            if joint and op is split:
                taken = [] if trace else None
                g = _siblings(node, key, g, nodes, grads, free, uses, again, taken)
                rules = JOIN
            elif op.joint:              # a compiled call: its planned backward, once
                if trace or create_graph:
                    raise _compiled(node, "stepped through" if trace else
                                    "differentiated again (create_graph=True)")
                g = _siblings(node, key, g, nodes, grads, free, uses, again)
                params = dict(params, retain_graph=retain_graph)
            else:
                rules = op.fast if speed else op.vjp
            every = op.vjp_all(g, y, *args, **params) if op.vjp_all is not None and \
                not taken else None
            sent = [] if trace else None
            for i, x in enumerate(ins):
                k = x._id
                if not x.requires_grad or k < floor:
                    continue
                if every is not None:
                    gi = every[i]
                    if gi is None:
                        continue
                else:
                    gi = rules[i](g, y, *args, **params) if params else rules[i](g, y, *args)
                xd = x._data
                if gi.shape != xd.shape:
                    gi = sum_to(gi, xd.shape)
                if anomaly:
                    check_backward(node, i, g, gi)
                if trace:
                    sent.append((i, dense(gi)))
                prev = pending(k)
                if prev is None:
                    grads[k] = gi
                    nodes[k] = x
                    push(heap, -k)
                    if free and xd.nbytes >= MIN_BYTES and x._op is not None \
                            and type(xd) is not Released:
                        uses[k] = 1         # a value backward may free: count the graph's refs
                    continue
                if k in uses:
                    uses[k] += 1
                if not speed or isinstance(prev, np.generic) and type(gi) not in LAZY:
                    grads[k] = prev + gi
                else:
                    grads[k] = accumulate(prev, gi, k, owned)
            if free:                        # done: kept for pictures, not for a second pass
                node._epoch = -1 - node._epoch      # (tensor.mark_done, spelt out: per node)
                if key in uses:
                    _release(node, uses)
            if trace:
                if taken is None:
                    yield Event(node, dense(g), sent)
                else:       # each output of the split as it would have been stepped alone
                    for s, j in taken:
                        piece = [(0, scatter_add(g[j], params["parts"].indices[j],
                                                 ins[0].shape))] if sent else []
                        yield Event(s, g[j], piece)


def _release(node, uses):
    """Release the value of a large node the loop has left if only the graph holds it (the
    references are this pass's consumers, the caller's local and the argument), unless it is a
    view of a leaf's memory (a weight's transpose), whose release would free nothing."""
    data = node._data
    if getrefcount(node) == _HELD + uses[node._id]:
        owner = node
        while owner._op is not None and owner._op.view:
            owner = owner._inputs[0]
        if owner._op is not None:
            node._data = stand_in(data.shape, data.dtype)


_HELD = 3


def _siblings(node, key, g, nodes, grads, free, uses, again, taken=None):
    """The gradients of all the outputs of the split that made ``node`` (None where none
    arrived), taken off the loop's pending nodes; ``taken`` (a list) gets (output, part) for
    each, in the order the loop would have popped them. The outputs' consumers were all
    recorded after the last of them, so every gradient has arrived once the first is popped."""
    part, parts = node._params["part"], node._params["parts"]
    x = node._inputs[0]
    gs = [None] * len(parts)
    gs[part] = g
    if taken is not None:
        taken.append((node, part))
    for j in range(len(parts) - 1, -1, -1):
        s = nodes.get(parts.sibling(key, part, j)) if j != part else None
        if s is None:
            continue                # no gradient reached it
        if s._epoch < 0 and not again:  # a gradient reached it; an earlier backward freed it
            raise freed(s)
        if s._op is not node._op or s._inputs[0] is not x or s._params["parts"] is not parts \
                or s._params["part"] != j:
            continue
        k = s._id
        del nodes[k]
        if s._epoch < clock.now:
            check_saved(s, again)
        gj = grads.pop(k)
        if type(gj) in LAZY:
            gj = gj.dense()
        if s._hooks:
            gj = _run_hooks(s, gj, False)
        if s._retain:
            _deposit(s, gj, False, False)
        gs[j] = gj
        if taken is not None:
            taken.append((s, j))
        if free:
            mark_done(s)
            if k in uses:
                _release(s, uses)
    return gs


def _compiled(node, what):
    return AutogradError(
        "backward: %s%s is the output of a call of a compiled function, whose backward is "
        "planned as a whole and cannot be %s; call the function uncompiled (its .fn) to do "
        "that" % (node._op.name, where(node), what))


def _own(g, owned, node):
    """A fresh array of the tensor's dtype (a gradient may be a view shared with another)."""
    if owned and type(g) is np.ndarray and g.dtype == node._data.dtype:
        return g
    return np.array(g, dtype=node._data.dtype)


def _deposit(t, g, owned, create_graph):
    """Add ``g`` into ``t.grad``, which keeps the dtype of ``t`` (numpy would promote a float32
    gradient that meets a float64 one)."""
    if create_graph:
        g = astype(g, t.dtype)
        t.grad = g if t.grad is None else t.grad + g
    elif t.grad is None:
        t.grad = constant(_own(g, owned, t))
    else:
        t.grad = constant(np.asarray(t.grad._data + g, dtype=t._data.dtype))


def _run_hooks(node, g, create_graph):
    for hook in list(node._hooks.values()):
        wrapped = g if isinstance(g, Tensor) else constant(np.asarray(g))
        out = hook(wrapped)
        if out is not None:
            out = out if isinstance(out, Tensor) else constant(as_array(out))
            if out.shape != node.shape:
                raise AutogradError("register_hook: the hook returned a gradient of shape %s "
                                    "for a tensor of shape %s%s" % (out.shape, node.shape,
                                                                    where(node)))
            g = out if create_graph else out._data
    return g


class _Nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


_nothing = _Nothing()


def pull(node, p, g):
    """g · ∂node/∂input_p: one step back along one edge, with the table's own rule (the
    reference: dense, whatever the speed layer would do). For the debugger and the pictures."""
    x = node._inputs[p]
    args = [i._data for i in node._inputs]
    op, params = node._op, node._params
    gi = op.vjp[p](g, node._data, *args, **params) if params else op.vjp[p](g, node._data, *args)
    return sum_to(gi, x._data.shape) if gi.shape != x._data.shape else gi
