"""Gradient clipping, applied to ``.grad`` in place between ``backward()`` and ``step()``."""
import numpy as np


def _grads(params):
    return [p.grad.data for p in params if p.grad is not None]


def clip_grad_norm(params, max_norm, norm_type=2.0):
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    PyTorch's formula: the total norm is the norm of the per-parameter norms (the max for
    ``norm_type=inf``); the gradients are multiplied by ``max_norm / (total + 1e-6)`` when that
    is below 1. Returns the total norm before clipping, as a float. A non-finite total (a NaN
    or Inf gradient) leaves the gradients as they are, where PyTorch would multiply them by 0
    or NaN.
    """
    grads = _grads(params)
    if not grads:
        return 0.0
    norm_type = float(norm_type)
    if norm_type == np.inf:
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        norms = [np.linalg.norm(g.ravel(), norm_type) for g in grads]
        total = float(np.linalg.norm(np.asarray(norms, np.float64), norm_type))
    coef = max_norm / (total + 1e-6)
    if coef < 1.0 and np.isfinite(total):
        for g in grads:
            g *= g.dtype.type(coef)
    return total


def clip_grad_value(params, clip_value):
    """Clamp every gradient entry to [-clip_value, clip_value]."""
    for g in _grads(params):
        np.clip(g, -clip_value, clip_value, out=g)
