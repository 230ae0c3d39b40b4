"""Gradient clipping, applied to ``.grad`` in place between ``backward()`` and ``step()``."""
import numpy as np

import autograph as ag


def _grads(params):
    return [p.grad.data for p in params if p.grad is not None]


def clip_grad_norm(params, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    PyTorch's formula: the total norm is the norm of the per-parameter norms (the max for
    ``norm_type=inf``); the gradients are multiplied by ``max_norm / (total + 1e-6)`` when that
    is below 1. Returns the total norm before clipping, as a float; as in PyTorch it is NaN if
    any gradient holds a NaN, and (for a positive ``norm_type`` or inf) Inf if one holds an Inf.

    A non-finite total leaves the gradients as they are, where PyTorch would multiply them by 0
    or NaN; with ``error_if_nonfinite=True`` it raises an error naming the parameters whose
    gradients are not finite.
    """
    params = list(params)
    grads = _grads(params)
    if not grads:
        return 0.0
    norm_type = float(norm_type)
    # np.linalg.norm propagates NaN for every order (Python's max() would skip it)
    norms = [np.linalg.norm(g.ravel(), norm_type) if g.size else 0.0 for g in grads]
    total = float(np.linalg.norm(np.asarray(norms, np.float64), norm_type))
    if not np.isfinite(total):
        if error_if_nonfinite:
            raise ag.AutogradError(_nonfinite_message(params, norm_type, total))
        return total
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= g.dtype.type(coef)
    return total


def _nonfinite_message(params, norm_type, total):
    bad = []
    for i, p in enumerate(params):
        g = None if p.grad is None else p.grad.data
        if g is not None and not np.isfinite(g).all():
            counts = ["%d %s" % (n, what) for n, what in
                      [(np.isnan(g).sum(), "NaN"), (np.isinf(g).sum(), "Inf")] if n]
            bad.append("parameter %d%s (shape %s) has %s" % (
                i, " %r" % p.name if p.name else "", g.shape, " and ".join(counts)))
    return ("clip_grad_norm: the total %g-norm of the gradients is %s, so they cannot be "
            "clipped: %s; the gradients were left as they are. Find where the first non-finite "
            "value arises with ag.detect_anomaly(), or pass error_if_nonfinite=False to go on"
            % (norm_type, total, "; ".join(bad)))


def clip_grad_value(params, clip_value):
    """Clamp every gradient entry to [-clip_value, clip_value]."""
    for g in _grads(params):
        np.clip(g, -clip_value, clip_value, out=g)
