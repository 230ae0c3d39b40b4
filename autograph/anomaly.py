"""Anomaly detection: find the op that first made a NaN or Inf, forward or backward.

Only called when ``detect_anomaly()`` is on, so none of this runs on the ordinary hot path; the
backward pass then runs the reference engine, so every contribution checked is the table's own.
"""
import numpy as np

from .errors import AnomalyError
from .tensor import Tensor, user_frame


def _finite(a):
    a = np.asarray(a)
    return a.dtype.kind not in "fc" or bool(np.isfinite(a).all())


def _what(a):
    a = np.asarray(a)
    return "NaN" if np.isnan(a).any() else "Inf"


def _origin(node):
    return node._origin or "an unknown line (created outside detect_anomaly())"


def check_forward(t, op, inputs, params):
    """Called on each new tensor: remember where it was made; blame it if it is the producer."""
    t._origin = user_frame()
    if not _finite(t._data) and all(_finite(x._data) for x in inputs):
        raise AnomalyError(
            "%s produced %s in the forward pass%s from finite inputs of shapes %s -> output %s; "
            "created at %s. Its inputs were finite, so this op is where it started: check the "
            "values they take there (log or sqrt of a negative number, 0/0, exp overflowing)"
            % (op.name, _what(t._data), _scope(t), ", ".join(str(x.shape) for x in inputs),
               t.shape, t._origin))


def check_backward(node, i, g, gi):
    """Called on each gradient contribution: blame the op whose rule made it non-finite."""
    value = gi._data if isinstance(gi, Tensor) else gi
    upstream = g._data if isinstance(g, Tensor) else g
    if not _finite(value) and _finite(upstream):
        x = node._inputs[i]
        raise AnomalyError(
            "the backward of %s produced %s in the gradient of its input %d (%s, shape %s)%s "
            "from a finite upstream gradient of shape %s; the op was created at %s. Its "
            "derivative is infinite or undefined at the input's value (sqrt or log near 0, "
            "a division by a tiny number): keep the input away from it, e.g. sqrt(x + eps)"
            % (node._op.name, _what(value), i, x.op_name or (x.name or "a leaf"), x.shape,
               _scope(node), node.shape, _origin(node)))


def check_arrived(node, g, hooked, is_root):
    """Called on each node's complete gradient: every contribution was checked finite when it
    was made, so a non-finite total was made by adding them up, by a hook, or came as the seed."""
    value = g._data if isinstance(g, Tensor) else g
    if _finite(value):
        return
    what = "%s (%s, shape %s)%s" % (node.op_name or "a leaf", node.name or "unnamed", node.shape,
                                    _scope(node))
    if hooked:
        raise AnomalyError("a hook registered on %s returned a gradient with %s from a finite "
                           "one; fix the hook" % (what, _what(value)))
    if is_root:
        raise AnomalyError("the gradient passed to backward() for %s contains %s; pass a finite "
                           "gradient" % (what, _what(value)))
    raise AnomalyError(
        "the gradient of %s is %s although every contribution to it was finite: adding them up "
        "overflowed %s (largest finite value %.3g); made at %s. Scale the loss down or compute "
        "in float64" % (what, _what(value), np.asarray(value).dtype,
                        np.finfo(np.asarray(value).dtype).max, _origin(node)))


def _scope(t):
    return " in scope '%s'" % t._scope if t._scope else ""
