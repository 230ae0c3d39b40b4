"""Losses, written from autograph ops so that their graphs can be drawn and stepped like any
other."""
import numpy as np

import autograph as ag
from autograph.errors import ShapeError


def cross_entropy(logits, targets, ignore_index=None):
    """Mean negative log-likelihood of integer class ``targets`` under ``softmax(logits)``.

    Shapes as in PyTorch: logits (N, C) with targets (N,), (N, C, d1, ...) with targets
    (N, d1, ...), or (C,) with a scalar target. A sequence model's (T, B, C) output is passed as
    ``logits.reshape(-1, C)`` with ``targets.reshape(-1)``. Targets equal to ``ignore_index``
    contribute nothing and are not counted in the mean; if every target is ignored the mean is
    0/0 = nan, as in PyTorch.
    """
    logits = ag.as_tensor(logits)
    t = np.asarray(targets.data if isinstance(targets, ag.Tensor) else targets)
    if logits.ndim == 0 or t.dtype.kind not in "iu":
        raise ShapeError("cross_entropy: expected float logits with a class axis and integer "
                         "targets, got logits %s and targets of dtype %s"
                         % (logits.shape, t.dtype))
    class_axis = 0 if logits.ndim == 1 else 1
    n_classes = logits.shape[class_axis]
    expected = logits.shape[:class_axis] + logits.shape[class_axis + 1:]
    if t.shape != expected:
        raise ShapeError("cross_entropy: logits %s (class axis %d of length %d) need targets of "
                         "shape %s, got %s" % (logits.shape, class_axis, n_classes, expected,
                                               t.shape))
    keep = np.ones(t.shape, bool) if ignore_index is None else t != ignore_index
    bad = keep & ((t < 0) | (t >= n_classes))
    if bad.any():
        raise ShapeError("cross_entropy: targets must be class indices in [0, %d)%s; got %d"
                         % (n_classes, "" if ignore_index is None
                            else " or ignore_index=%d" % ignore_index, t[bad].flat[0]))
    logp = ag.log_softmax(logits, axis=class_axis)
    if class_axis:
        # move the class axis last and flatten the rest, so one integer index picks every target
        if logits.ndim > 2:
            logp = logp.transpose((0,) + tuple(range(2, logits.ndim)) + (1,))
        logp = logp.reshape(-1, n_classes)
    else:
        logp = logp.reshape(1, n_classes)
    rows = np.flatnonzero(keep)
    picked = logp[rows, t.reshape(-1)[rows]]
    inverse_count = np.asarray(1.0 / rows.size if rows.size else np.nan, logits.dtype)
    return -picked.sum() * inverse_count


def mse_loss(pred, target):
    """Mean of the squared differences; ``pred`` and ``target`` must have the same shape."""
    pred, target = ag.as_tensor(pred), ag.as_tensor(target)
    if pred.shape != target.shape:
        raise ShapeError("mse_loss: prediction %s and target %s must have the same shape"
                         % (pred.shape, target.shape))
    diff = pred - target
    return (diff * diff).mean()
