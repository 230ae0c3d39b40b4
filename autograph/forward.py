"""Forward mode: push tangents through a recorded graph with the primitives' ``jvp`` rules.

The graph between the primals and the outputs is walked in creation order (every input was made
before its consumers), so no recursion is needed. Tangents are Tensors and the rules run as graph
ops, so a tangent can itself be differentiated (forward-over-reverse Hessians, jvp of grad).
A linear op takes all its inputs' tangents in one application of itself (a concatenation of T
steps costs one concatenation, not T).
"""
from .graph import walk
from .ops import broadcast_to, zeros
from .tensor import Tensor, apply


def push_tangents(outputs, primals, tangents):
    """d output = J · tangent for each output, given a tangent per primal."""
    tan = {p._id: t for p, t in zip(primals, tangents)}
    for node in walk(outputs, floor=min(tan) if tan else 0, what="jvp"):
        if node._op is None or node._id in tan:
            continue
        op, ins = node._op, node._inputs
        params = node._params or {}
        ds = [tan.get(x._id) for x in ins]
        if not any(d is not None for d in ds):
            continue
        if op.kind == "linear":
            total = apply(op, tuple(zeros(x.shape, dtype=x.dtype) if d is None else d
                                    for d, x in zip(ds, ins)), node._params)
        else:
            total = None
            for i, d in enumerate(ds):
                if d is not None:
                    c = op.jvp[i](d, node, *ins, **params)
                    total = c if total is None else total + c
        if total.shape != node.shape:
            total = broadcast_to(total, node.shape)
        tan[node._id] = total
    out = []
    for o in outputs:
        t = tan.get(o._id)
        out.append(t if isinstance(t, Tensor) else zeros(o.shape, dtype=o.dtype))
    return out
