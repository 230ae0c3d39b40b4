"""torch.nn.functional's activations, losses and layers as functions, written from autograph ops
so that their graphs can be drawn and stepped like any other.

Signatures and meanings are PyTorch's: ``dim`` is the axis an operation works along, a loss's
input holds its classes on axis 1 ((N, C) or (N, C, d1, ...)) or is one (C,) row, and
``reduction`` is "mean", "sum" or "none".

    import nets.functional as F
    loss = F.cross_entropy(logits, targets, ignore_index=-100, label_smoothing=0.1)
"""
import numpy as np

import autograph as ag
from autograph.errors import ShapeError

REDUCTIONS = ("mean", "sum", "none")

relu, tanh, sigmoid = ag.relu, ag.tanh, ag.sigmoid


def softmax(input, dim):
    """exp(x) / sum(exp(x)) along ``dim``, computed as exp(log_softmax) so it never overflows."""
    return ag.softmax(input, axis=dim)


def log_softmax(input, dim):
    """x - logsumexp(x) along ``dim``, with a log-domain gradient (exact where softmax is 0)."""
    return ag.log_softmax(input, axis=dim)


# -- losses ---------------------------------------------------------------------------------
def cross_entropy(input, target, weight=None, *, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """The cross-entropy between ``softmax(input)`` over the classes and the targets.

    ``target`` holds integer class indices, of the input's shape without the class axis (a
    sequence model's (T, B, C) output is passed as ``input.reshape(-1, C)`` with
    ``target.reshape(-1)``), or float class probabilities of the input's own shape (as torch >=
    1.10). ``weight`` (C,) scales each class's term; the mean then divides by the total weight of
    the counted targets. Index targets equal to ``ignore_index`` contribute nothing and are not
    counted (None ignores none); if every one is ignored the mean is 0/0 = nan, as in PyTorch.
    ``label_smoothing`` mixes the targets with the uniform distribution over the classes.
    """
    input = _logits("cross_entropy", input, reduction)
    _check_label_smoothing("cross_entropy", label_smoothing)
    axis = _class_axis(input)
    logp = ag.log_softmax(input, axis=axis)
    if _dtype(target).kind == "f":
        if ignore_index not in (None, -100):
            raise ShapeError("cross_entropy: ignore_index=%r applies to class-index targets, but "
                             "these targets are float class probabilities; give the entries to "
                             "leave out zero probability, or pass integer class indices"
                             % (ignore_index,))
        return _probability_loss(logp, target, weight, reduction, label_smoothing)
    return _index_loss("cross_entropy", logp, target, weight, ignore_index, reduction,
                       label_smoothing)


def nll_loss(input, target, weight=None, *, ignore_index=-100, reduction="mean"):
    """The negative log-likelihood of integer class ``target`` under log-probabilities ``input``
    (what ``log_softmax`` gives): ``-input[n, target[n]]``, weighted, ignored and reduced as in
    ``cross_entropy``."""
    input = _logits("nll_loss", input, reduction)
    return _index_loss("nll_loss", input, target, weight, ignore_index, reduction)


def mse_loss(input, target, *, reduction="mean"):
    """The squared differences, reduced; ``input`` and ``target`` must have the same shape."""
    _check_reduction("mse_loss", reduction)
    input, target = ag.as_tensor(input), ag.as_tensor(target)
    if input.shape != target.shape:
        raise ShapeError("mse_loss: prediction %s and target %s must have the same shape"
                         % (input.shape, target.shape))
    diff = input - target
    return _reduce(diff * diff, reduction)


def _index_loss(who, logp, target, weight, ignore_index, reduction, label_smoothing=0.0):
    """-w[y] log p[y] at each integer target y, mixed with the uniform distribution's
    cross-entropy when smoothing; zero where ignored; reduced over the counted targets."""
    axis = _class_axis(logp)
    n_classes = logp.shape[axis]
    t, keep = _class_indices(who, logp.shape, target, ignore_index)
    picked = np.where(keep, t, 0)            # an ignored target picks class 0, masked out below
    # integer-array indexing that puts each target's class on the class axis: one lookup, the
    # result already in the targets' shape
    index = [np.arange(k).reshape((-1,) + (1,) * (t.ndim - 1 - i)) for i, k in enumerate(t.shape)]
    index.insert(axis, picked)
    loss = -logp[tuple(index)]
    w = None if weight is None else _tensor_like(who, "weight", weight, logp, (n_classes,))
    if w is not None:
        w_picked = w[picked]
        loss = loss * w_picked
    if label_smoothing:
        spread = logp if w is None else logp * _on_class_axis(w, logp)
        loss = (1 - label_smoothing) * loss - (label_smoothing / n_classes) * spread.sum(axis=axis)
    if not keep.all():
        loss = ag.where(keep, loss, 0.0)
    if reduction != "mean":
        return _reduce(loss, reduction)
    if w is None:
        count = keep.sum()
        return loss.sum() * np.asarray(1.0 / count if count else np.nan, logp.dtype)
    return loss.sum() / ag.where(keep, w_picked, 0.0).sum()


def _probability_loss(logp, target, weight, reduction, label_smoothing):
    """-sum over the classes of p log q, for target probabilities p of the input's shape."""
    axis = _class_axis(logp)
    n_classes = logp.shape[axis]
    if np.shape(target) != logp.shape:
        raise ShapeError("cross_entropy: float targets are class probabilities and need the "
                         "input's shape %s, got %s; class indices must be integer targets"
                         % (logp.shape, np.shape(target)))
    p = _tensor_like("cross_entropy", "target", target, logp, logp.shape)
    if label_smoothing:
        p = p * (1 - label_smoothing) + label_smoothing / n_classes
    terms = logp * p
    if weight is not None:
        w = _tensor_like("cross_entropy", "weight", weight, logp, (n_classes,))
        terms = terms * _on_class_axis(w, logp)
    return _reduce(-terms.sum(axis=axis), reduction)


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _check_reduction(who, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError("%s: reduction must be one of %s, got %r"
                         % (who, ", ".join(map(repr, REDUCTIONS)), reduction))


def _check_label_smoothing(who, label_smoothing):
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError("%s: label_smoothing must lie in [0, 1], got %r" % (who, label_smoothing))


def _logits(who, input, reduction):
    _check_reduction(who, reduction)
    input = ag.as_tensor(input)
    if input.ndim == 0 or input.dtype.kind not in "fc":
        raise ShapeError("%s: expected a float input with a class axis ((C,), (N, C) or (N, C, "
                         "d1, ...)), got shape %s of dtype %s" % (who, input.shape, input.dtype))
    return input


def _class_axis(input):
    return 0 if input.ndim == 1 else 1


def _dtype(x):
    return x.dtype if isinstance(x, ag.Tensor) else np.asarray(x).dtype


def _class_indices(who, shape, target, ignore_index):
    """The targets as an integer array checked against the input's ``shape``, and the mask of
    the ones that count."""
    t = np.asarray(target.data if isinstance(target, ag.Tensor) else target)
    axis = 0 if len(shape) == 1 else 1
    n_classes = shape[axis]
    expected = shape[:axis] + shape[axis + 1:]
    if t.dtype.kind not in "iu":
        raise ShapeError("%s: expected integer targets (class indices) of shape %s%s, got shape "
                         "%s of dtype %s" % (who, expected, " or float class probabilities of "
                                             "shape %s" % (shape,) if who == "cross_entropy"
                                             else "", t.shape, t.dtype))
    if t.shape != expected:
        raise ShapeError("%s: input %s (class axis %d of length %d) needs targets of shape %s, "
                         "got %s" % (who, shape, axis, n_classes, expected, t.shape))
    if ignore_index is not None and not isinstance(ignore_index, (int, np.integer)):
        raise ShapeError("%s: ignore_index must be an int or None, got %r" % (who, ignore_index))
    keep = np.ones(t.shape, bool) if ignore_index is None else t != ignore_index
    bad = keep & ((t < 0) | (t >= n_classes))
    if bad.any():
        raise ShapeError("%s: targets must be class indices in [0, %d)%s; got %d"
                         % (who, n_classes, "" if ignore_index is None
                            else " or ignore_index=%d" % ignore_index, t[bad].flat[0]))
    return t, keep


def _tensor_like(who, what, x, like, shape):
    """``x`` as a tensor of ``like``'s dtype and the given shape; a tensor stays in the graph, so
    class weights and soft targets get gradients too."""
    x = ag.astype(x, like.dtype) if isinstance(x, ag.Tensor) else ag.tensor(np.asarray(x, like.dtype))
    if x.shape != tuple(shape):
        raise ShapeError("%s: %s must have shape %s for input %s, got %s"
                         % (who, what, tuple(shape), like.shape, x.shape))
    return x


def _on_class_axis(w, like):
    """Class weights (C,) shaped to broadcast along ``like``'s class axis."""
    return w.reshape(w.shape + (1,) * (like.ndim - 1 - _class_axis(like)))


# -- layers ---------------------------------------------------------------------------------
def linear(input, weight, bias=None):
    """y = x Wᵀ + b with W of shape (out_features, in_features), on x's last axis."""
    return _affine("linear", input, weight, bias)


def _affine(who, input, weight, bias):
    x = ag.as_tensor(input)
    out_features, in_features = weight.shape
    if x.shape[-1:] != (in_features,):
        raise ShapeError("%s: input of shape %s does not fit weight %s (out_features, "
                         "in_features): its last axis must be %d"
                         % (who, x.shape, weight.shape, in_features))
    W = weight.T
    return x @ W if bias is None else ag.addmm(bias, x, W)


def embedding(input, weight):
    """Rows of ``weight`` (num_embeddings, embedding_dim) picked by integer indices of any shape:
    the result has the indices' shape plus (embedding_dim,). The gradient of a lookup is a
    scatter-add into the rows that were used."""
    return _lookup("embedding", input, weight)


def _lookup(who, indices, weight):
    if isinstance(indices, ag.Tensor):
        idx = indices.data
    else:
        idx = np.asarray(indices)
        if idx.size == 0 and not isinstance(indices, np.ndarray):
            idx = idx.astype(np.int64)           # [] is a list of no ints, not of floats
    if idx.dtype.kind not in "iu":
        raise ShapeError("%s: indices must be integers, got %s of dtype %s; pass integers: a "
                         "list of ints, an integer array, or x.astype(np.int64) of a float tensor"
                         % (who, "a tensor" if isinstance(indices, ag.Tensor) else "indices",
                            idx.dtype))
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ShapeError("%s: indices must lie in [0, %d), got min %d, max %d"
                         % (who, n, idx.min(), idx.max()))
    return weight[idx]


def dropout(input, p=0.5, training=True, *, rng=None):
    """Inverted dropout: in training, zero each entry with probability ``p`` and scale the rest
    by 1/(1-p), so that evaluation needs no rescaling; otherwise the identity. ``rng`` is a numpy
    Generator or seed (None: autograph's default generator)."""
    _check_probability("dropout", p)
    x = ag.as_tensor(input)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * np.zeros(x.shape, x.dtype)
    keep = ag.rand(*x.shape, rng=rng, dtype=np.float64).data >= p
    return x * (keep / (1.0 - p)).astype(x.dtype)


def _check_probability(who, p):
    if not 0.0 <= p <= 1.0:
        raise ValueError("%s: p must lie in [0, 1], got %r" % (who, p))
