"""Forward mode: push tangents through a recorded graph with the primitives' ``jvp`` rules.

The graph between the primals and the outputs is walked in creation order (every input was made
before its consumers), so no recursion is needed. Tangents are Tensors and the rules run as graph
ops, so a tangent can itself be differentiated (forward-over-reverse Hessians, jvp of grad).
"""
from .errors import AutogradError
from .ops import broadcast_to, zeros
from .tensor import Tensor


def graph_nodes(outputs, floor=0, constants=False):
    """Every tensor that requires grad and that an output depends on, with id >= floor, in
    creation order; with ``constants=True`` also the inputs that do not require grad."""
    seen, stack = {}, [o for o in outputs if o.requires_grad or constants]
    while stack:
        t = stack.pop()
        if t._id in seen or t._id < floor:
            continue
        seen[t._id] = t
        if t._op is not None:
            if t._inputs is None:
                raise AutogradError("the graph through '%s' was freed by backward(); pass "
                                    "retain_graph=True to keep it" % t._op.name)
            stack.extend(x for x in t._inputs if x.requires_grad or constants)
    return [seen[k] for k in sorted(seen)]


def push_tangents(outputs, primals, tangents):
    """d output = J · tangent for each output, given a tangent per primal."""
    tan = {p._id: t for p, t in zip(primals, tangents)}
    for node in graph_nodes(outputs, floor=min(tan) if tan else 0):
        if node._op is None or node._id in tan:
            continue
        params = node._params or {}
        total = None
        for i, x in enumerate(node._inputs):
            d = tan.get(x._id)
            if d is None:
                continue
            c = node._op.jvp[i](d, node, *node._inputs, **params)
            if c.shape != node.shape:
                c = broadcast_to(c, node.shape)
            total = c if total is None else total + c
        if total is not None:
            tan[node._id] = total
    out = []
    for o in outputs:
        t = tan.get(o._id)
        out.append(t if isinstance(t, Tensor) else zeros(o.shape, dtype=o.dtype))
    return out
