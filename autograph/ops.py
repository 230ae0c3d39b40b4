"""Public functions and Tensor methods: thin wrappers over the primitives, and composites.

Composites (mean, softmax, stack, split, ...) are ordinary Python over primitives; only where
composing is numerically unsafe is a function a primitive of its own (see rules.py). Axes are
checked here, so that a wrong one names the op, the axis and the shape.
"""
import numpy as np

from . import rules as P
from .errors import AutogradError, ShapeError
from .modes import current
from .tensor import (Tensor, apply, as_array, changed, check_writable, constant,
                     get_default_dtype, label, lift, shape_error)

_rng = np.random.default_rng()


# -- creating tensors -----------------------------------------------------------------------
def tensor(data, *, dtype=None, requires_grad=False, name=None):
    """A leaf tensor holding a copy of ``data`` (as ``torch.tensor``, ``jnp.array``). numpy
    arrays keep their dtype; Python floats get the default float dtype, ints int64, bools bool."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, name=name)


def from_numpy(array):
    """A tensor sharing memory with the numpy array ``array`` (as ``torch.from_numpy``): a
    change of one is seen by the other. Writes through the array itself are not counted as
    in-place changes of the tensor (as in PyTorch); write through ``t.data`` for that."""
    if not isinstance(array, np.ndarray):
        raise TypeError("from_numpy: expected a numpy array, got %s; use ag.tensor() for other "
                        "data" % type(array).__name__)
    return constant(np.asarray(array))


def as_tensor(x, dtype=None):
    """``x`` as a tensor without a copy where one can be avoided (as ``torch.as_tensor``): a
    tensor is returned as it is, a numpy array of that dtype is shared."""
    if isinstance(x, Tensor):
        return x if dtype is None or x.dtype == np.dtype(dtype) else astype(x, dtype)
    return constant(as_array(x, dtype))


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _leaf(array, dtype, requires_grad, name):
    t = constant(array.astype(dtype or get_default_dtype(), copy=False))
    t.name = name
    if requires_grad:
        t.requires_grad_()                  # checks the dtype
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


def full_like(t, value, **kw):
    return full(t.shape, value, dtype=kw.pop("dtype", t.dtype), **kw)


def arange(*args, dtype=None, requires_grad=False, name=None):
    """numpy's arange; integer arguments give an int64 tensor, float ones the default dtype."""
    a = np.arange(*args)
    if dtype is None:
        dtype = get_default_dtype() if a.dtype.kind == "f" else np.int64
    return _leaf(a, dtype, requires_grad, name)


def linspace(start, stop, num=50, *, dtype=None, requires_grad=False, name=None):
    """``num`` evenly spaced values from start to stop, both included (numpy's and PyTorch's)."""
    return _leaf(np.linspace(start, stop, num), dtype, requires_grad, name)


def eye(n, m=None, *, dtype=None, requires_grad=False, name=None):
    return _leaf(np.eye(n, m), dtype, requires_grad, name)


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
    return binary(P.minimum, a, b)


def where(cond, a, b):
    """``a`` where ``cond`` holds, else ``b``. ``cond`` carries no gradient."""
    cond = cond._data if isinstance(cond, Tensor) else np.asarray(cond)
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
def _axes(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def sum(x, axis=None, keepdims=False):
    return apply(P.total, (as_tensor(x),), {"axis": _axes(axis), "keepdims": keepdims})


def mean(x, axis=None, keepdims=False):
    x = as_tensor(x)
    if x.dtype == np.float16:       # accumulated and divided in float32, as PyTorch
        return astype(mean(astype(x, np.float32), axis, keepdims), np.float16)
    s = sum(x, axis, keepdims)
    n = x._data.size
    return s * (s._data.size / n if n else np.nan)


def max(x, axis=None, keepdims=False):
    """Largest entry; tied maxima share the gradient evenly."""
    return apply(P.amax, (as_tensor(x),), {"axis": _axes(axis), "keepdims": keepdims})


def min(x, axis=None, keepdims=False):
    """Smallest entry; tied minima share the gradient evenly."""
    return -max(-as_tensor(x), axis, keepdims)


def logsumexp(x, axis=None, keepdims=False):
    return apply(P.logsumexp, (as_tensor(x),), {"axis": _axes(axis), "keepdims": keepdims})


def log_softmax(x, axis=-1):
    x = as_tensor(x)
    return apply(P.log_softmax, (x,), {"axis": _axis("log_softmax", axis, x)})


def softmax(x, axis=-1):
    return exp(log_softmax(x, axis))


# -- shapes ---------------------------------------------------------------------------------
def _axis(opname, axis, x, extra=0):
    """``axis`` of ``x`` (of ``x.ndim + extra`` axes) as a non-negative int, or a ShapeError
    naming the op, the axis and the shape."""
    n = x._data.ndim + extra
    if type(axis) is int and -n <= axis < n:        # the usual case first: this runs per op
        return axis % n
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise shape_error(opname, "axis must be an integer, got %r" % (axis,))
    if not -n <= axis < n:
        raise shape_error(opname, "axis %d is out of range for a tensor of shape %s (valid: %d "
                          "to %d)" % (axis, x.shape, -n, n - 1) if n else
                          "axis %d given for a 0-d tensor, which has no axes" % axis)
    return int(axis) % n


def reshape(x, *shape):
    x = as_tensor(x)
    shape = _shape(shape)
    if -1 in shape:
        known = int(np.prod([n for n in shape if n != -1], dtype=np.int64))
        shape = tuple(x._data.size // known if known and n == -1 else n for n in shape)
    if shape == x.shape:
        return x
    return apply(P.reshape, (x,), {"shape": shape})


def transpose(x, *axes):
    x = as_tensor(x)
    axes = _shape(axes) or tuple(range(x.ndim - 1, -1, -1))
    axes = tuple(_axis("transpose", a, x) for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise shape_error("transpose", "axes %s are not a permutation of the %d axes of shape %s"
                          % (axes, x.ndim, x.shape))
    return apply(P.transpose, (x,), {"axes": axes})


def swapaxes(x, a, b):
    x = as_tensor(x)
    perm = list(range(x.ndim))
    a, b = _axis("swapaxes", a, x), _axis("swapaxes", b, x)
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, tuple(perm))


def broadcast_to(x, shape):
    x = as_tensor(x)
    shape = tuple(shape)
    return x if x.shape == shape else apply(P.broadcast_to, (x,), {"shape": shape})


def expand_dims(x, axis):
    x = as_tensor(x)
    shape = list(x.shape)
    shape.insert(_axis("unsqueeze", axis, x, extra=1), 1)
    return reshape(x, tuple(shape))


unsqueeze = expand_dims


def squeeze(x, axis=None):
    """Drop axes of length 1 (all of them without ``axis``); a 0-d tensor is returned as it is."""
    x = as_tensor(x)
    if axis is None:
        axes = {i for i, n in enumerate(x.shape) if n == 1}
    else:
        axes = {_axis("squeeze", a, x) for a in (axis if isinstance(axis, (tuple, list))
                                                 else (axis,))}
        if any(x.shape[a] != 1 for a in axes):
            raise shape_error("squeeze", "axis %s of shape %s is not of length 1" % (axis, x.shape))
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def flip(x, axis=None):
    x = as_tensor(x)
    axes = range(x.ndim) if axis is None else (axis if isinstance(axis, (tuple, list)) else (axis,))
    index = [slice(None)] * x.ndim
    for a in axes:
        index[_axis("flip", a, x)] = slice(None, None, -1)
    return getitem(x, tuple(index))


def getitem(x, index):
    """``x[index]`` for basic and integer-array indices; the gradient is a scatter-add."""
    if isinstance(index, Tensor):
        index = index._data
    elif type(index) is tuple and Tensor in map(type, index):
        index = tuple(i._data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, list):
        index = np.asarray(index)
    return apply(P.getitem, (x,), {"index": index})


def concat(tensors, axis=0):
    tensors = tuple(as_tensor(t) for t in tensors)
    if not tensors:
        raise ShapeError("concat: needs at least one tensor")
    axis = _axis("concat", axis, tensors[0])
    if len(tensors) == 1:
        return tensors[0]           # nothing to join (values never change: as reshape's no-op)
    return apply(P.concat, tensors, {"axis": axis})


def stack(tensors, axis=0):
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ShapeError("stack: needs at least one tensor")
    if len({t.shape for t in tensors}) > 1:
        raise shape_error("stack", "all tensors need the same shape, got %s"
                          % ", ".join(str(t.shape) for t in tensors))
    axis = _axis("stack", axis, tensors[0], extra=1)
    return concat([expand_dims(t, axis) for t in tensors], axis)


def split(x, sections_or_indices, axis=0):
    """numpy's split: an int gives that many equal parts, a list gives the cut points.

    The parts are recorded by one call, as ``torch.chunk``'s: each is a slice of ``x``, and the
    backward pass joins their gradients with one concatenate."""
    x = as_tensor(x)
    axis = _axis("split", axis, x)
    n = x.shape[axis]
    if isinstance(sections_or_indices, (int, np.integer)):
        k = int(sections_or_indices)
        if k <= 0 or n % k:
            raise shape_error("split", "axis %d of shape %s (length %d) does not divide into %d "
                              "equal parts; pass a list of cut points instead"
                              % (axis, x.shape, n, k))
        step = n // k
        cuts = tuple(range(step, n, step)) if step else (0,) * (k - 1)
    else:
        cuts = tuple(int(c) for c in sections_or_indices)
    parts = P.parts(cuts, n, axis)
    # the outputs get consecutive ids: from one, the backward loop finds the others
    return [apply(P.split, (x,), params) for params in parts.params]


# -- in-place changes -------------------------------------------------------------------------------
def _in_place(self, other, ufunc, what):
    """Change ``self``'s values in place with ``ufunc(self, other)`` and count the change."""
    check_writable(self, what)
    try:
        ufunc(self._data, other._data if isinstance(other, Tensor) else other, out=self._data)
    except (TypeError, ValueError) as err:
        raise ShapeError("%s: cannot store the result in %s (shape %s, dtype %s): %s"
                         % (what, label(self), self.shape, self.dtype, err)) from None
    changed(self)
    return self


def _recording(self, other):
    return current().grad and (self.requires_grad or isinstance(other, Tensor)
                               and other.requires_grad)


def _refuse_leaf(self, what):
    if self._op is None and self.requires_grad and current().grad:
        raise AutogradError(
            "%s: %s is a leaf that requires grad; change it in place inside ag.no_grad() (as "
            "an optimizer does), or compute a new tensor" % (what, label(self)))


def _augmented(op, ufunc, symbol):
    """``a op= b``: in place when nothing is recorded (inside no_grad, or on tensors without
    gradients); otherwise a new recorded node that the name is rebound to, since an in-place
    change cannot be recorded in the graph (as ``x = x op y``)."""
    def augmented(self, other):
        what = "%s=" % symbol
        _refuse_leaf(self, what)
        if _recording(self, other):
            return binary(op, self, other)
        return _in_place(self, other, ufunc, what)
    return augmented


def _method(ufunc, name):
    """``t.add_(x)`` and its like: PyTorch's in-place methods, counted as changes."""
    def method(self, other):
        what = "%s_" % name
        _refuse_leaf(self, what)
        if _recording(self, other):
            raise AutogradError("%s: an in-place change cannot be recorded in the graph; use the "
                                "out-of-place form, or change it inside ag.no_grad()" % what)
        return _in_place(self, other, ufunc, what)
    method.__name__ = name + "_"
    return method


def _copy(dst, src):
    np.copyto(dst, src, casting="same_kind")


def _clamp(self, lo=None, hi=None):
    _refuse_leaf(self, "clamp_")
    return _in_place(self, None, lambda a, _, out: np.clip(a, lo, hi, out=out), "clamp_")


def setitem(self, index, value):
    """``t[index] = value``: in place, counted; not recordable in a graph (as ``t.add_``)."""
    what = "t[...] = v"
    _refuse_leaf(self, what)
    if _recording(self, value):
        raise AutogradError("%s: an assignment into %s cannot be recorded in the graph; build "
                            "the result with ag.where, ag.concat or ag.stack, or assign inside "
                            "ag.no_grad()" % (what, label(self)))
    if isinstance(index, Tensor):
        index = index._data
    return _in_place(self, value, lambda a, v, out: out.__setitem__(index, v), what)


# -- Tensor methods and operators ---------------------------------------------------------------
def _reflected(op):
    return lambda a, b: binary(op, b, a)


def _compare(fn):
    def compare(a, b):
        return constant(fn(a._data, b._data if isinstance(b, Tensor) else b))
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
Tensor.__iadd__ = _augmented(P.add, np.add, "+")
Tensor.__isub__ = _augmented(P.sub, np.subtract, "-")
Tensor.__imul__ = _augmented(P.mul, np.multiply, "*")
Tensor.__itruediv__ = _augmented(P.div, np.divide, "/")
Tensor.add_ = _method(np.add, "add")
Tensor.sub_ = _method(np.subtract, "sub")
Tensor.mul_ = _method(np.multiply, "mul")
Tensor.div_ = _method(np.divide, "div")
Tensor.copy_ = _method(lambda a, b, out: _copy(out, b), "copy")
Tensor.fill_ = _method(lambda a, v, out: out.fill(v), "fill")
Tensor.zero_ = lambda self: self.fill_(0)
Tensor.clamp_ = _clamp
Tensor.__setitem__ = setitem
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
Tensor.__invert__ = lambda self: constant(np.logical_not(self._data))

for _name in ("exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "softplus", "sum", "mean",
              "max", "min", "logsumexp", "log_softmax", "softmax", "reshape", "transpose",
              "swapaxes", "squeeze", "unsqueeze", "expand_dims", "flip", "clip", "astype",
              "broadcast_to"):
    setattr(Tensor, _name, globals()[_name])
Tensor.T = property(lambda self: transpose(self))
del _name
