"""Public functions and Tensor methods: thin wrappers over the primitives, and composites.

Composites (mean, min, softmax, stack, split, ...) are ordinary Python over primitives; only where
composing is numerically unsafe is a function a primitive of its own (see primitives.py).
"""
import numpy as np

from . import primitives as P
from .errors import ShapeError
from .tensor import Tensor, apply, as_array, constant, get_default_dtype, lift, shape_error

_rng = np.random.default_rng()


# -- creating tensors -----------------------------------------------------------------------
def tensor(data, *, dtype=None, requires_grad=False, name=None):
    """A leaf tensor. numpy arrays keep their dtype; Python numbers and lists get float32."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, name=name)


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _leaf(array, dtype, requires_grad, name):
    array = array.astype(dtype or get_default_dtype(), copy=False)
    if requires_grad:
        return Tensor(array, requires_grad=True, name=name)     # checks the dtype
    t = constant(array)
    t.name = name
    return t


def zeros(*shape, dtype=None, requires_grad=False, name=None):
    return _leaf(np.zeros(_shape(shape), dtype), dtype, requires_grad, name)


def ones(*shape, dtype=None, requires_grad=False, name=None):
    return _leaf(np.ones(_shape(shape), dtype), dtype, requires_grad, name)


def full(shape, value, *, dtype=None, requires_grad=False, name=None):
    return _leaf(np.full(_shape((shape,)), value), dtype, requires_grad, name)


def zeros_like(t, **kw):
    return zeros(t.shape, dtype=kw.pop("dtype", t.dtype), **kw)


def ones_like(t, **kw):
    return ones(t.shape, dtype=kw.pop("dtype", t.dtype), **kw)


def arange(*args, dtype=None, requires_grad=False, name=None):
    """numpy's arange; integer arguments give an integer tensor, float ones the default dtype."""
    a = np.arange(*args)
    if dtype is None and a.dtype.kind == "f":
        dtype = get_default_dtype()
    return Tensor(a if dtype is None else a.astype(dtype), requires_grad=requires_grad, name=name)


def manual_seed(seed):
    """Seed the default random Generator used when ``rng`` is None."""
    global _rng
    _rng = np.random.default_rng(seed)


def _generator(rng):
    if rng is None:
        return _rng
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def randn(*shape, rng=None, dtype=None, requires_grad=False, name=None):
    return _leaf(_generator(rng).standard_normal(_shape(shape)), dtype, requires_grad, name)


def rand(*shape, rng=None, dtype=None, requires_grad=False, name=None):
    return _leaf(_generator(rng).random(_shape(shape)), dtype, requires_grad, name)


def as_tensor(x):
    return x if isinstance(x, Tensor) else constant(as_array(x))


# -- elementwise ----------------------------------------------------------------------------
def _unary(op):
    def f(x):
        return apply(op, (as_tensor(x),))
    f.__name__ = op.name
    f.__doc__ = "Elementwise %s (primitive)." % op.name
    return f


exp, log, sqrt, abs, tanh, sigmoid, relu, softplus, negative = map(
    _unary, (P.exp, P.log, P.sqrt, P.absolute, P.tanh, P.sigmoid, P.relu, P.softplus, P.neg))


def binary(op, a, b):
    """Apply a two-input primitive; a Python number takes the other operand's dtype."""
    if type(a) is Tensor and type(b) is Tensor:
        return apply(op, (a, b))
    return apply(op, _operands(a, b))


def _operands(a, b):
    """Both as Tensors; a Python number takes the other operand's dtype."""
    if type(a) is not Tensor:
        a = lift(a, b) if type(b) is Tensor else as_tensor(a)
    if type(b) is not Tensor:
        b = lift(b, a)
    return a, b


def add(a, b):
    return binary(P.add, a, b)


def subtract(a, b):
    return binary(P.sub, a, b)


def multiply(a, b):
    return binary(P.mul, a, b)


def divide(a, b):
    return binary(P.div, a, b)


def power(a, b):
    return binary(P.power, a, b)


def matmul(a, b):
    return binary(P.matmul, a, b)


def addmm(c, a, b):
    """``c + a @ b`` in one node (``torch.addmm``): the bias or projected input of a layer
    added to a product without a separate temporary."""
    a, b = as_tensor(a), as_tensor(b)
    return apply(P.addmm, (lift(c, a) if type(c) is not Tensor else c, a, b))


def addcmul(c, a, b):
    """``c + a * b`` elementwise in one node (``torch.addcmul``): an LSTM's cell state
    ``f * c + i * g`` is ``addcmul(f * c, i, g)``."""
    a, b = _operands(a, b)
    return apply(P.addcmul, (lift(c, a) if type(c) is not Tensor else c, a, b))


def maximum(a, b):
    """Elementwise max; at ties each side gets half the gradient."""
    return binary(P.maximum, a, b)


def minimum(a, b):
    """Elementwise min; at ties each side gets half the gradient."""
    return -binary(P.maximum, -as_tensor(a), -as_tensor(b))


def where(cond, a, b):
    """``a`` where ``cond`` holds, else ``b``. ``cond`` carries no gradient."""
    cond = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
    if type(a) is not Tensor:
        a = lift(a, b) if type(b) is Tensor else as_tensor(a)
    return apply(P.where, (a, lift(b, a)), {"cond": cond})


def clip(x, lo=None, hi=None):
    """Clamp to [lo, hi]; the gradient passes where lo <= x <= hi."""
    x = as_tensor(x)
    lo = -np.inf if lo is None else lo
    hi = np.inf if hi is None else hi
    return apply(P.clip, (x,), {"lo": lo, "hi": hi})


def astype(x, dtype):
    x = as_tensor(x)
    if x.dtype == np.dtype(dtype):
        return x
    return apply(P.cast, (x,), {"dtype": np.dtype(dtype)})


# -- reductions -----------------------------------------------------------------------------
def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def sum(x, axis=None, keepdims=False):
    return apply(P.total, (as_tensor(x),), {"axis": _axis(axis), "keepdims": keepdims})


def mean(x, axis=None, keepdims=False):
    x = as_tensor(x)
    s = sum(x, axis, keepdims)
    return s * (s.size / x.size if x.size else np.nan)


def max(x, axis=None, keepdims=False):
    """Largest entry; tied maxima share the gradient evenly."""
    return apply(P.amax, (as_tensor(x),), {"axis": _axis(axis), "keepdims": keepdims})


def min(x, axis=None, keepdims=False):
    """Smallest entry; tied minima share the gradient evenly."""
    return -max(-as_tensor(x), axis, keepdims)


def logsumexp(x, axis=None, keepdims=False):
    return apply(P.logsumexp, (as_tensor(x),), {"axis": _axis(axis), "keepdims": keepdims})


def log_softmax(x, axis=-1):
    return apply(P.log_softmax, (as_tensor(x),), {"axis": axis})


def softmax(x, axis=-1):
    return exp(log_softmax(x, axis))


# -- shapes ---------------------------------------------------------------------------------
def reshape(x, *shape):
    x = as_tensor(x)
    shape = _shape(shape)
    if -1 in shape:
        known = int(np.prod([n for n in shape if n != -1], dtype=np.int64))
        shape = tuple(x.size // known if known and n == -1 else n for n in shape)
    if shape == x.shape:
        return x
    return apply(P.reshape, (x,), {"shape": shape})


def transpose(x, *axes):
    x = as_tensor(x)
    axes = _shape(axes) or tuple(range(x.ndim - 1, -1, -1))
    return apply(P.transpose, (x,), {"axes": tuple(a % x.ndim for a in axes)})


def swapaxes(x, a, b):
    x = as_tensor(x)
    perm = list(range(x.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, tuple(perm))


def broadcast_to(x, shape):
    x = as_tensor(x)
    shape = tuple(shape)
    return x if x.shape == shape else apply(P.broadcast_to, (x,), {"shape": shape})


def expand_dims(x, axis):
    x = as_tensor(x)
    shape = list(x.shape)
    shape.insert(axis % (x.ndim + 1), 1)
    return reshape(x, tuple(shape))


unsqueeze = expand_dims


def squeeze(x, axis=None):
    x = as_tensor(x)
    if axis is None:
        axes = {i for i, n in enumerate(x.shape) if n == 1}
    else:
        axes = {a % x.ndim for a in (axis if isinstance(axis, (tuple, list)) else (axis,))}
        if any(x.shape[a] != 1 for a in axes):
            raise shape_error("squeeze", "axis %s of shape %s is not of length 1" % (axis, x.shape))
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def flip(x, axis=None):
    x = as_tensor(x)
    axes = range(x.ndim) if axis is None else (axis if isinstance(axis, (tuple, list)) else (axis,))
    index = [slice(None)] * x.ndim
    for a in axes:
        index[a] = slice(None, None, -1)
    return getitem(x, tuple(index))


def getitem(x, index):
    """``x[index]`` for basic and integer-array indices; the gradient is a scatter-add."""
    if isinstance(index, Tensor):
        index = index.data
    elif type(index) is tuple and Tensor in map(type, index):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, list):
        index = np.asarray(index)
    return apply(P.getitem, (x,), {"index": index})


def concat(tensors, axis=0):
    tensors = tuple(as_tensor(t) for t in tensors)
    if not tensors:
        raise ShapeError("concat: needs at least one tensor")
    if len(tensors) == 1 and -tensors[0].ndim <= axis < tensors[0].ndim:
        return tensors[0]           # nothing to join (values never change: as reshape's no-op)
    return apply(P.concat, tensors, {"axis": axis})


def stack(tensors, axis=0):
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ShapeError("stack: needs at least one tensor")
    if len({t.shape for t in tensors}) > 1:
        raise shape_error("stack", "all tensors need the same shape, got %s"
                          % ", ".join(str(t.shape) for t in tensors))
    return concat([expand_dims(t, axis) for t in tensors], axis)


def split(x, sections_or_indices, axis=0):
    """numpy's split: an int gives that many equal parts, a list gives the cut points.

    The parts are recorded by one call, as ``torch.chunk``'s: each is a slice of ``x``, and the
    backward pass joins their gradients with one concatenate."""
    x = as_tensor(x)
    n = x.shape[axis]
    if isinstance(sections_or_indices, int):
        if sections_or_indices <= 0 or n % sections_or_indices:
            raise shape_error("split", "axis %d of shape %s (length %d) does not divide into %d "
                              "equal parts; pass a list of cut points instead"
                              % (axis, x.shape, n, sections_or_indices))
        step = n // sections_or_indices
        cuts = tuple(range(step, n, step))
    else:
        cuts = tuple(int(c) for c in sections_or_indices)
    parts = P.parts(cuts, n, axis % x.ndim)
    # the outputs get consecutive ids: from one, the backward loop finds the others
    return [apply(P.split, (x,), params) for params in parts.params]


# -- Tensor methods and operators ---------------------------------------------------------------
def _reflected(op):
    return lambda a, b: binary(op, b, a)


def _compare(fn):
    def compare(a, b):
        return constant(fn(a.data, b.data if isinstance(b, Tensor) else b))
    return compare


Tensor.__add__ = add
Tensor.__radd__ = _reflected(P.add)
Tensor.__sub__ = subtract
Tensor.__rsub__ = _reflected(P.sub)
Tensor.__mul__ = multiply
Tensor.__rmul__ = _reflected(P.mul)
Tensor.__truediv__ = divide
Tensor.__rtruediv__ = _reflected(P.div)
Tensor.__pow__ = power
Tensor.__rpow__ = _reflected(P.power)
Tensor.__matmul__ = matmul
Tensor.__rmatmul__ = _reflected(P.matmul)
Tensor.__neg__ = negative
Tensor.__pos__ = lambda self: self
Tensor.__abs__ = abs
Tensor.__getitem__ = getitem
Tensor.__lt__ = _compare(np.less)
Tensor.__le__ = _compare(np.less_equal)
Tensor.__gt__ = _compare(np.greater)
Tensor.__ge__ = _compare(np.greater_equal)
Tensor.__eq__ = _compare(np.equal)
Tensor.__ne__ = _compare(np.not_equal)
Tensor.__and__ = _compare(np.logical_and)
Tensor.__or__ = _compare(np.logical_or)
Tensor.__invert__ = lambda self: constant(np.logical_not(self.data))

for _name in ("exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "softplus", "sum", "mean",
              "max", "min", "logsumexp", "log_softmax", "softmax", "reshape", "transpose",
              "swapaxes", "squeeze", "unsqueeze", "expand_dims", "flip", "clip", "astype",
              "broadcast_to"):
    setattr(Tensor, _name, globals()[_name])
Tensor.T = property(lambda self: transpose(self))
del _name
