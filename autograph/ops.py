"""Public functions and Tensor methods: thin wrappers over the primitives, and composites.

Composites (mean, softmax, stack, split, ...) are ordinary Python over primitives; only where
composing is numerically unsafe is a function a primitive of its own (see rules.py). Axes are
checked here, so that a wrong one names the op, the axis and the shape.

Names and meanings are numpy's, and PyTorch's keyword names are accepted beside them
(``pytorch_names``: ``dim=`` for ``axis=``, ...). Where the two libraries give one name different
meanings (split, transpose, repeat, var's default, max with an axis), the docstring says which
holds; the Tensor methods PyTorch alone has (view, permute, chunk, expand, repeat, masked_fill,
gather, to, ...) have PyTorch's meaning.
"""
import builtins
import functools
import inspect

import numpy as np

from . import rules as P
from . import subscripts as S
from .errors import AutogradError, ShapeError
from .modes import current
from .tensor import (Tensor, apply, as_array, changed, check_writable, constant, dtype_of,
                     get_default_dtype, label, lift, shape_error, watched)

_rng = np.random.default_rng()


def pytorch_names(**given):
    """Accept PyTorch's keyword names beside numpy's: ``dim=`` for ``axis=`` and ``keepdim=``
    for ``keepdims=`` (those of them the function has), or the pairs ``names`` gives (PyTorch's
    name = numpy's). Giving both spellings of one argument is an error."""
    def decorate(fn):
        params = list(inspect.signature(fn).parameters)
        names = given or {t: n for t, n in (("dim", "axis"), ("keepdim", "keepdims"))
                          if n in params}
        where = {torch: (numpy, params.index(numpy)) for torch, numpy in names.items()}

        @functools.wraps(fn)
        def accepting(*args, **kw):
            if kw:
                for torch, (numpy, position) in where.items():
                    if torch in kw:
                        if numpy in kw or len(args) > position:
                            raise TypeError("%s: got both %s= and %s=, PyTorch's and numpy's "
                                            "names of one argument; pass one"
                                            % (fn.__name__, torch, numpy))
                        kw[numpy] = kw.pop(torch)
            return fn(*args, **kw)
        accepting.__doc__ = "%s\n\n    PyTorch's names are accepted: %s." % (
            (fn.__doc__ or fn.__name__).rstrip(),
            ", ".join("%s= for %s=" % kv for kv in names.items()))
        return accepting
    return decorate


# -- creating tensors -----------------------------------------------------------------------
def tensor(data, *, dtype=None, requires_grad=False, name=None):
    """A leaf tensor holding a copy of ``data`` (as ``torch.tensor``, ``jnp.array``). numpy
    arrays keep their dtype; Python floats get the default float dtype, ints int64, bools bool.
    ``dtype`` in any spelling: ``ag.long``, ``np.float32``, ``"float32"``, ``float``."""
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
        return x if dtype is None else astype(x, dtype)
    return constant(as_array(x, dtype, "as_tensor"))


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _dtype(what, dtype, default=None):
    """The dtype a creation function makes: ``dtype`` in any spelling, else ``default``, else
    the default float dtype."""
    dtype = dtype_of(dtype, what)
    if dtype is None:
        return get_default_dtype() if default is None else default
    return dtype


def _leaf(array, requires_grad, name):
    t = constant(array)
    t.name = name
    if requires_grad:
        t.requires_grad_()                  # checks the dtype
    return t


def zeros(*shape, dtype=None, requires_grad=False, name=None):
    return _leaf(np.zeros(_shape(shape), _dtype("zeros", dtype)), requires_grad, name)


def ones(*shape, dtype=None, requires_grad=False, name=None):
    return _leaf(np.ones(_shape(shape), _dtype("ones", dtype)), requires_grad, name)


def full(shape, value, *, dtype=None, requires_grad=False, name=None):
    """``shape`` filled with ``value``, of the dtype ``value`` has when none is given (as
    PyTorch: a Python int gives int64, a bool bool, a float the default float dtype)."""
    value = as_array(value)
    return _leaf(np.full(_shape((shape,)), value, _dtype("full", dtype, value.dtype)),
                 requires_grad, name)


def zeros_like(t, *, dtype=None, requires_grad=False, name=None):
    """Zeros of ``t``'s shape, and of its dtype unless ``dtype`` is given."""
    return zeros(t.shape, dtype=t.dtype if dtype is None else dtype,
                 requires_grad=requires_grad, name=name)


def ones_like(t, *, dtype=None, requires_grad=False, name=None):
    return ones(t.shape, dtype=t.dtype if dtype is None else dtype,
                requires_grad=requires_grad, name=name)


def full_like(t, value, *, dtype=None, requires_grad=False, name=None):
    return full(t.shape, value, dtype=t.dtype if dtype is None else dtype,
                requires_grad=requires_grad, name=name)


def arange(*args, dtype=None, requires_grad=False, name=None):
    """numpy's arange; integer arguments give an int64 tensor, float ones the default dtype."""
    a = np.arange(*args)
    default = get_default_dtype() if a.dtype.kind == "f" else np.dtype(np.int64)
    return _leaf(a.astype(_dtype("arange", dtype, default), copy=False), requires_grad, name)


def linspace(start, stop, num=50, *, dtype=None, requires_grad=False, name=None):
    """``num`` evenly spaced values from start to stop, both included (numpy's and PyTorch's)."""
    return _leaf(np.linspace(start, stop, num).astype(_dtype("linspace", dtype), copy=False),
                 requires_grad, name)


def eye(n, m=None, *, dtype=None, requires_grad=False, name=None):
    return _leaf(np.eye(n, m, dtype=_dtype("eye", dtype)), requires_grad, name)


def manual_seed(seed):
    """Seed the default random Generator used when ``rng`` is None."""
    global _rng
    _rng = np.random.default_rng(seed)


def _generator(rng):
    if rng is None:
        return _rng
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _random(what, draw, dtype, requires_grad, name):
    tr = current().trace
    if tr is not None:      # a replay would repeat the traced numbers
        tr.refuse("draws random numbers (ag.%s, as dropout does in training mode), which a "
                  "replay would repeat on every call; draw them outside the function and pass "
                  "them in, or call it uncompiled" % what)
    dtype = _dtype(what, dtype)
    if dtype.kind != "f":
        raise TypeError("%s: draws floating values, so dtype must be floating, got %s"
                        % (what, dtype))
    return _leaf(draw.astype(dtype, copy=False), requires_grad, name)


def randn(*shape, rng=None, dtype=None, requires_grad=False, name=None):
    return _random("randn", _generator(rng).standard_normal(_shape(shape)), dtype,
                   requires_grad, name)


def rand(*shape, rng=None, dtype=None, requires_grad=False, name=None):
    return _random("rand", _generator(rng).random(_shape(shape)), dtype, requires_grad, name)


# -- elementwise ----------------------------------------------------------------------------
def _unary(op):
    def f(x):
        return apply(op, (as_tensor(x),))
    f.__name__ = op.name
    f.__doc__ = "Elementwise %s (primitive)." % op.name
    return f


exp, log, sqrt, abs, tanh, sigmoid, relu, softplus, negative = map(
    _unary, (P.exp, P.log, P.sqrt, P.absolute, P.tanh, P.sigmoid, P.relu, P.softplus, P.neg))
sin, cos, tan, sinh, cosh, arcsin, arccos, arctan = map(
    _unary, (P.sin, P.cos, P.tan, P.sinh, P.cosh, P.arcsin, P.arccos, P.arctan))
log1p, expm1, log2, log10, square, reciprocal, rsqrt, sign = map(
    _unary, (P.log1p, P.expm1, P.log2, P.log10, P.square, P.reciprocal, P.rsqrt, P.sign))
asin, acos, atan = arcsin, arccos, arctan       # PyTorch's names


def binary(op, a, b):
    """Apply a two-input primitive; a Python number takes the other operand's dtype."""
    if type(a) is Tensor and type(b) is Tensor:
        return apply(op, (a, b))
    return apply(op, _operands(a, b))


def _operands(a, b):
    """Both as Tensors; a Python number takes the other operand's dtype, except that a Python
    float met with an integer or bool tensor makes both the default float dtype (as PyTorch:
    ``ag.tensor([1, 2]) + 0.5`` is float32, where numpy would widen to float64)."""
    if type(a) is not Tensor:
        if type(b) is Tensor:
            b = _float_with(a, b)
            a = lift(a, b)
        else:
            a = as_tensor(a)
    if type(b) is not Tensor:
        a = _float_with(b, a)
        b = lift(b, a)
    return a, b


def _float_with(number, t):
    """``t``, cast to the default float dtype when ``number`` is a Python float and ``t`` is not
    floating."""
    if isinstance(number, float) and type(t) is Tensor and t._data.dtype.kind in "biu":
        return astype(t, get_default_dtype())
    return t


def add(a, b):
    return binary(P.add, a, b)


def subtract(a, b):
    return binary(P.sub, a, b)


def multiply(a, b):
    return binary(P.mul, a, b)


def divide(a, b):
    """a / b. Integers (and bools) divide into the default float dtype, as PyTorch's do (numpy
    gives float64)."""
    if type(a) is not Tensor or type(b) is not Tensor:
        a, b = _operands(a, b)
    if a._data.dtype.kind in "biu" and b._data.dtype.kind in "biu":
        a, b = astype(a, get_default_dtype()), astype(b, get_default_dtype())
    return apply(P.div, (a, b))


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
    if isinstance(cond, Tensor):
        watched(cond, "the condition of ag.where")
        cond = cond._data
    else:
        cond = np.asarray(cond)
    if type(a) is not Tensor:
        a = lift(a, b) if type(b) is Tensor else as_tensor(a)
    return apply(P.where, (a, lift(b, a)), {"cond": cond})


@pytorch_names(min="lo", max="hi")
def clip(x, lo=None, hi=None):
    """Clamp to [lo, hi]; the gradient passes where lo <= x <= hi (``ag.clamp`` too)."""
    x = as_tensor(x)
    lo = -np.inf if lo is None else lo
    hi = np.inf if hi is None else hi
    return apply(P.clip, (x,), {"lo": lo, "hi": hi})


def astype(x, dtype):
    """``x`` as ``dtype`` (any spelling: ``ag.float64``, ``np.float32``, ``"float32"``,
    ``float``). Differentiable between floating (and complex) dtypes; a cast to an integer or
    bool dtype carries no gradient, as in PyTorch (the result is a constant)."""
    x = as_tensor(x)
    dtype = dtype_of(dtype, "astype")
    if x.dtype == dtype:
        return x
    if dtype.kind not in "fc":
        watched(x, "a cast to %s" % dtype)
        return constant(x._data.astype(dtype))
    return apply(P.cast, (x,), {"dtype": dtype})


_DEVICES = ("cpu", "cuda", "mps", "xpu", "meta")


def to(x, *args, dtype=None):
    """PyTorch's ``.to``: ``t.to(ag.float64)``, ``t.to(other)`` (other's dtype), ``t.to("cpu")``
    (the one device there is: no change). Casts as ``astype``."""
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, str) and a.partition(":")[0] in _DEVICES:
            if a.partition(":")[0] != "cpu":
                raise AutogradError("to: autograph computes with numpy on the CPU; there is no "
                                    "device %r (use 'cpu', or leave the device out)" % a)
        else:
            dtype = a
    return x if dtype is None else astype(x, dtype)


# -- reductions -----------------------------------------------------------------------------
def _axes(axis):
    return tuple(axis) if isinstance(axis, list) else axis


@pytorch_names()
def sum(x, axis=None, keepdims=False):
    return apply(P.total, (as_tensor(x),), {"axis": _axes(axis), "keepdims": keepdims})


@pytorch_names()
def mean(x, axis=None, keepdims=False):
    x = as_tensor(x)
    if x.dtype == np.float16:       # accumulated and divided in float32, as PyTorch
        return astype(mean(astype(x, np.float32), axis, keepdims), np.float16)
    s = sum(x, axis, keepdims)
    n = x._data.size
    return s * (s._data.size / n if n else np.nan)


@pytorch_names()
def max(x, axis=None, keepdims=False):
    """Largest entry; tied maxima share the gradient evenly. numpy's meaning (``ag.amax`` too):
    the values only, where PyTorch's ``max(x, dim)`` also gives their indices (``argmax``)."""
    return apply(P.amax, (as_tensor(x),), {"axis": _axes(axis), "keepdims": keepdims})


@pytorch_names()
def min(x, axis=None, keepdims=False):
    """Smallest entry; tied minima share the gradient evenly."""
    return -max(-as_tensor(x), axis, keepdims)


@pytorch_names()
def logsumexp(x, axis=None, keepdims=False):
    return apply(P.logsumexp, (as_tensor(x),), {"axis": _axes(axis), "keepdims": keepdims})


@pytorch_names()
def log_softmax(x, axis=-1):
    x = as_tensor(x)
    return apply(P.log_softmax, (x,), {"axis": _axis("log_softmax", axis, x)})


@pytorch_names()
def softmax(x, axis=-1):
    return exp(log_softmax(x, axis))


def _reduced(what, axis, x):
    """The axes a reduction over ``axis`` (None: all) takes, as sorted non-negative ints."""
    if axis is None:
        return tuple(range(x.ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    axes = sorted({_axis(what, a, x) for a in axes})
    if len(axes) != len(axis if isinstance(axis, (tuple, list)) else (axis,)):
        raise shape_error(what, "axis %s names an axis twice" % (axis,))
    return tuple(axes)


def _joined_last(x, axes):
    """``x`` with ``axes`` moved to the end and joined into one axis."""
    rest = [a for a in range(x.ndim) if a not in axes]
    n = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    if rest + list(axes) != list(range(x.ndim)):
        x = transpose(x, tuple(rest + list(axes)))
    return reshape(x, tuple(x.shape[:len(rest)]) + (n,))


@pytorch_names()
def prod(x, axis=None, keepdims=False):
    """Product of the entries over ``axis`` (all of them for None).

    Computed as a tree of pairwise products (log2 n levels of ×), so that its derivatives of
    every order are right where entries are 0, where a rule dividing the product by each entry
    would divide by zero."""
    x = as_tensor(x)
    axes = _reduced("prod", axis, x)
    flat = _joined_last(x, axes)
    if flat.shape[-1] == 0:
        flat = sum(flat, -1, keepdims=True) + 1         # the empty product, still of x's graph
    while flat.shape[-1] > 1:
        n = flat.shape[-1]
        parts = split(flat, [n // 2] if n % 2 == 0 else [n // 2, n - 1], axis=-1)
        flat = parts[0] * parts[1] if n % 2 == 0 else concat([parts[0] * parts[1], parts[2]], -1)
    out = reshape(flat, flat.shape[:-1])
    return reshape(out, P.kept_shape(x.shape, axes)) if keepdims else out


def _ddof(what, ddof, unbiased):
    if unbiased is not None:
        if ddof is not None:
            raise TypeError("%s: got both unbiased= and ddof= (or correction=); pass one" % what)
        return int(bool(unbiased))
    return 0 if ddof is None else int(ddof)        # a bool is PyTorch's positional unbiased


@pytorch_names(dim="axis", keepdim="keepdims", correction="ddof")
def var(x, axis=None, ddof=None, keepdims=False, *, unbiased=None):
    """Variance over ``axis``: Σ (x - mean)² / (n - ddof).

    numpy's meaning: ``ddof`` defaults to 0 (the population variance), where PyTorch's
    ``correction`` (the same number under its name) defaults to 1: ``torch.var(x)`` is
    ``ag.var(x, correction=1)``. ``unbiased=True``/``False`` is ddof 1/0, and so is PyTorch's
    positional ``var(x, dim, True)``."""
    x = as_tensor(x)
    ddof = _ddof("var", ddof, unbiased)
    axes = _reduced("var", axis, x)
    d = x - mean(x, axes, keepdims=True)
    n = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    return sum(d * d, axes, keepdims) / builtins.max(n - ddof, 0)


@pytorch_names(dim="axis", keepdim="keepdims", correction="ddof")
def std(x, axis=None, ddof=None, keepdims=False, *, unbiased=None):
    """Standard deviation: the square root of ``var``, with its arguments and its default
    ddof = 0 (numpy's; PyTorch's correction defaults to 1)."""
    return sqrt(var(x, axis, ddof, keepdims, unbiased=unbiased))


def _along(axis, index):
    """The index that applies ``index`` (a slice) to ``axis``."""
    return (slice(None),) * axis + (index,)


@pytorch_names()
def cumsum(x, axis=None):
    """Running sums along ``axis`` (numpy's: over the flattened entries for None)."""
    x = as_tensor(x)
    if axis is None:
        x, axis = reshape(x, -1), 0
    return apply(P.cumsum, (x,), {"axis": _axis("cumsum", axis, x)})


@pytorch_names()
def cumprod(x, axis=None):
    """Running products along ``axis`` (numpy's: over the flattened entries for None).

    A scan of pairwise products (Hillis and Steele's: log2 n levels, each entry times the one
    2^k before it), so that, as for ``prod``, its derivatives of every order are right where
    entries are 0."""
    x = as_tensor(x)
    if axis is None:
        x, axis = reshape(x, -1), 0
    axis = _axis("cumprod", axis, x)
    n, shift = x.shape[axis], 1
    while shift < n:
        x = concat([x[_along(axis, slice(0, shift))],
                    x[_along(axis, slice(shift, n))] * x[_along(axis, slice(0, n - shift))]],
                   axis)
        shift *= 2
    return x


@pytorch_names(shifts="shift", dims="axis")
def roll(x, shift, axis=None):
    """numpy's roll: entries moved ``shift`` places along ``axis`` (ints, or tuples of them),
    those pushed off the end coming back at the start; of the flattened entries for None."""
    x = as_tensor(x)
    shift = tuple(int(k) for k in shift) if isinstance(shift, (tuple, list)) else int(shift)
    if isinstance(axis, (tuple, list)):
        axis = tuple(_axis("roll", a, x) for a in axis)
    elif axis is not None:
        axis = _axis("roll", axis, x)
    return apply(P.roll, (x,), {"shift": shift, "axis": axis})


@pytorch_names()
def norm(x, p=2, axis=None, keepdims=False):
    """The vector p-norm of the entries over ``axis`` (all of them for None), as ``torch.norm``
    and ``torch.linalg.vector_norm``: p = 2 (the default; ``'fro'`` is the same), any finite
    p >= 1, ``inf`` (max |x|) or ``-inf`` (min |x|). It is not numpy's ``linalg.norm`` of a
    matrix with ord=2 (the largest singular value).

    Where the norm is 0 its gradient is 0 rather than 0/0: a subgradient, PyTorch's choice."""
    x = as_tensor(x)
    axes = None if axis is None else _reduced("norm", axis, x)
    if isinstance(p, str) and p == "fro":
        p = 2
    if not isinstance(p, str) and p in (np.inf, -np.inf):
        return (max if p > 0 else min)(abs(x), axes, keepdims)
    if isinstance(p, str) or not p >= 1:
        raise AutogradError("norm: p=%r is not provided; use 2 (or 'fro'), a finite p >= 1, "
                            "inf or -inf" % (p,))
    return apply(P.norm, (x,), {"p": p, "axis": axes, "keepdims": keepdims})


def _arg(what, pick, x, axis, keepdims):
    x = as_tensor(x)
    if axis is not None:
        axis = _axis(what, axis, x)
    if x._data.size == 0:
        raise shape_error(what, "the tensor (shape %s) is empty, so there is no entry to pick"
                          % (x.shape,))
    watched(x, what)
    return constant(np.asarray(pick(x._data, axis=axis, keepdims=keepdims), np.int64))


@pytorch_names()
def argmax(x, axis=None, keepdims=False):
    """Index of the largest entry along ``axis`` (of the flattened entries for None): int64,
    no gradient; the first of tied maxima, as numpy and PyTorch."""
    return _arg("argmax", np.argmax, x, axis, keepdims)


@pytorch_names()
def argmin(x, axis=None, keepdims=False):
    """Index of the smallest entry; as ``argmax``."""
    return _arg("argmin", np.argmin, x, axis, keepdims)


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
    """numpy's transpose: the axes in the order ``axes`` gives (reversed without it), as
    PyTorch's ``permute``. PyTorch's ``transpose(dim0, dim1)`` swaps two axes: that is
    ``swapaxes``. ``transpose(0, 1)`` of a matrix, which numpy reads as no change and PyTorch
    as a swap, is refused rather than read either way."""
    x = as_tensor(x)
    if len(axes) == 2 and x.ndim == 2 and tuple(axes) == (0, 1):
        raise shape_error("transpose", "transpose(0, 1) of a matrix changes nothing in numpy's "
                          "meaning and swaps the axes in PyTorch's; write swapaxes(0, 1) (or .T) "
                          "to swap them, or leave the call out")
    axes = _shape(axes) or tuple(range(x.ndim - 1, -1, -1))
    axes = tuple(_axis("transpose", a, x) for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise shape_error("transpose", "axes %s are not a permutation of the %d axes of shape %s "
                          "(this is numpy's transpose; PyTorch's transpose(dim0, dim1), which "
                          "swaps two axes, is swapaxes)" % (axes, x.ndim, x.shape))
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


@pytorch_names(dim="axis")
def expand_dims(x, axis):
    x = as_tensor(x)
    shape = list(x.shape)
    shape.insert(_axis("unsqueeze", axis, x, extra=1), 1)
    return reshape(x, tuple(shape))


unsqueeze = expand_dims


@pytorch_names(dim="axis")
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


@pytorch_names(dims="axis")
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
        watched(index, "an index")
        index = index._data
    elif type(index) is tuple and Tensor in map(type, index):
        for i in index:
            if isinstance(i, Tensor):
                watched(i, "an index")
        index = tuple(i._data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, list):
        index = np.asarray(index)
    return apply(P.getitem, (x,), {"index": index})


@pytorch_names(dim="axis")
def concat(tensors, axis=0):
    tensors = tuple(as_tensor(t) for t in tensors)
    if not tensors:
        raise ShapeError("concat: needs at least one tensor")
    axis = _axis("concat", axis, tensors[0])
    if len(tensors) == 1:
        return tensors[0]           # nothing to join (values never change: as reshape's no-op)
    return apply(P.concat, tensors, {"axis": axis})


@pytorch_names(dim="axis")
def stack(tensors, axis=0):
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ShapeError("stack: needs at least one tensor")
    if len({t.shape for t in tensors}) > 1:
        raise shape_error("stack", "all tensors need the same shape, got %s"
                          % ", ".join(str(t.shape) for t in tensors))
    axis = _axis("stack", axis, tensors[0], extra=1)
    return concat([expand_dims(t, axis) for t in tensors], axis)


@pytorch_names(dim="axis")
def split(x, sections_or_indices, axis=0):
    """numpy's split: an int gives that many equal parts, a list gives the cut points. (PyTorch's
    ``torch.split(x, n)`` makes parts of length n: that is ``ag.chunk(x, len // n)``, or cut
    points ``range(n, len, n)``.)

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


@pytorch_names(dim="axis")
def chunk(x, chunks, axis=0):
    """PyTorch's chunk: ``chunks`` parts of length ceil(n / chunks) along ``axis``, the last one
    shorter (and fewer parts when the length runs out first)."""
    x = as_tensor(x)
    axis = _axis("chunk", axis, x)
    if not isinstance(chunks, (int, np.integer)) or chunks < 1:
        raise shape_error("chunk", "chunks must be a positive integer, got %r" % (chunks,))
    n = x.shape[axis]
    size = builtins.max(-(-n // int(chunks)), 1)
    return split(x, list(range(size, n, size)), axis)


def permute(x, *dims):
    """PyTorch's permute: the axes in the order ``dims`` gives (numpy's transpose)."""
    return transpose(x, _shape(dims))


def flatten(x, start_dim=0, end_dim=-1):
    """PyTorch's flatten: axes ``start_dim`` to ``end_dim`` joined into one (all of them by
    default, which is numpy's ``flatten`` too; a 0-d tensor becomes shape (1,))."""
    x = as_tensor(x)
    if x.ndim == 0:
        return reshape(x, (1,))
    a, b = _axis("flatten", start_dim, x), _axis("flatten", end_dim, x)
    if a > b:
        raise shape_error("flatten", "start_dim %d comes after end_dim %d for shape %s"
                          % (start_dim, end_dim, x.shape))
    n = int(np.prod(x.shape[a:b + 1], dtype=np.int64))
    return reshape(x, x.shape[:a] + (n,) + x.shape[b + 1:])


def view(x, *shape):
    """PyTorch's view, which is ``reshape`` here (the result shares memory where numpy can make
    it a view, and is a copy otherwise; a view as another dtype is not provided)."""
    shape = _shape(shape)
    if not all(isinstance(n, (int, np.integer)) for n in shape):
        raise shape_error("view", "the new shape must be integers, got %r; to change the dtype "
                          "use .to(dtype)" % (shape,))
    return reshape(x, shape)


def expand(x, *sizes):
    """PyTorch's expand: ``x`` broadcast to ``sizes``, where -1 keeps an axis's length; new
    axes go in front. Shares memory, as ``broadcast_to``."""
    x = as_tensor(x)
    sizes = _shape(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0 or -1 in sizes[:lead]:
        raise shape_error("expand", "sizes %s for shape %s: give at least one size per axis, and "
                          "-1 only for an existing axis" % (sizes, x.shape))
    return broadcast_to(x, tuple(x.shape[i - lead] if n == -1 else n
                                 for i, n in enumerate(sizes)))


def tile(x, *reps):
    """numpy's and PyTorch's tile: ``x`` repeated ``reps[i]`` times along axis i (reps padded
    with 1s in front to x's axes, or x with axes of length 1 to reps'). A broadcast and two
    reshapes, so its gradient sums over the copies."""
    x = as_tensor(x)
    reps = tuple(int(r) for r in _shape(reps))
    reps = (1,) * (x.ndim - len(reps)) + reps
    shape = (1,) * (len(reps) - x.ndim) + x.shape
    spread = reshape(x, tuple(k for n in shape for k in (1, n)))
    spread = broadcast_to(spread, tuple(k for r, n in zip(reps, shape) for k in (r, n)))
    return reshape(spread, tuple(r * n for r, n in zip(reps, shape)))


def repeat(x, *sizes):
    """PyTorch's ``Tensor.repeat``: ``x`` tiled ``sizes[i]`` times along axis i (numpy's
    ``tile``; numpy's ``repeat``, which repeats each entry, is PyTorch's repeat_interleave)."""
    x = as_tensor(x)
    sizes = _shape(sizes)
    if len(sizes) < x.ndim:
        raise shape_error("repeat", "%d sizes for a tensor of shape %s: give one per axis at "
                          "least" % (len(sizes), x.shape))
    return tile(x, sizes)


@pytorch_names(dim1="axis1", dim2="axis2")
def diagonal(x, offset=0, axis1=0, axis2=1):
    """numpy's and PyTorch's diagonal: the entries x[..., i, i + offset] of the axes ``axis1``
    and ``axis2``, as the last axis of the result."""
    x = as_tensor(x)
    a, b = _axis("diagonal", axis1, x), _axis("diagonal", axis2, x)
    if a == b:
        raise shape_error("diagonal", "axis1 and axis2 are both axis %d; give two axes" % a)
    rest = [k for k in range(x.ndim) if k not in (a, b)]
    n1, n2 = x.shape[a], x.shape[b]
    k = builtins.max(0, builtins.min(n1, n2 - offset) if offset >= 0 else
                     builtins.min(n1 + offset, n2))
    i = np.arange(k)
    rows, cols = (i, i + offset) if offset >= 0 else (i - offset, i)
    return getitem(transpose(x, tuple(rest + [a, b])), (Ellipsis, rows, cols))


def trace(x, offset=0, axis1=0, axis2=1):
    """The sum of the diagonal (numpy's trace; PyTorch's takes a matrix and no offset)."""
    return sum(diagonal(x, offset, axis1, axis2), -1)


def gather(x, dim, index):
    """PyTorch's gather: out[i][j] = x[index[i][j]][j] for dim 0, x[i][index[i][j]] for dim 1,
    and so on (numpy's take_along_axis, with the arguments in PyTorch's order). ``index`` is an
    integer tensor with x's number of axes, no longer than x along the others."""
    x = as_tensor(x)
    dim = _axis("gather", dim, x)
    if isinstance(index, Tensor):
        watched(index, "gather's index")
    idx = index._data if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu" or idx.ndim != x.ndim or any(
            m > n for k, (m, n) in enumerate(zip(idx.shape, x.shape)) if k != dim):
        raise shape_error("gather", "index (shape %s, dtype %s) must be integers with the %d axes "
                          "of x (shape %s), no longer than x except along dim %d"
                          % (idx.shape, idx.dtype, x.ndim, x.shape, dim))
    if idx.size and (idx.min() < 0 or idx.max() >= x.shape[dim]):
        raise shape_error("gather", "index out of range: entries from %d to %d for axis %d of "
                          "length %d" % (idx.min(), idx.max(), dim, x.shape[dim]))
    grid = list(np.indices(idx.shape, sparse=True))
    grid[dim] = idx
    return getitem(x, tuple(grid))


def masked_fill(x, mask, value):
    """PyTorch's masked_fill: ``value`` where the bool ``mask`` (broadcast to x's shape) is
    True, x elsewhere. ``value`` may be a 0-d tensor, and then gets the gradient of the filled
    entries."""
    x = as_tensor(x)
    if isinstance(mask, Tensor):
        watched(mask, "masked_fill's mask")
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise shape_error("masked_fill", "mask must be bool, got dtype %s; compare to make one "
                          "(x > 0)" % m.dtype)
    try:
        fits = np.broadcast_shapes(m.shape, x.shape) == x.shape
    except ValueError:
        fits = False
    if not fits:
        raise shape_error("masked_fill", "mask of shape %s does not broadcast to x's shape %s"
                          % (m.shape, x.shape))
    return where(m, value, x)


# -- products ----------------------------------------------------------------------------------
def einsum(subscripts, *operands):
    """numpy's einsum, in any form numpy accepts: explicit (``"ij,jk->ik"``) or implicit
    (``"ij,jk"``) output, an ellipsis (``"...ij,...jk"``), the sublist form
    (``einsum(a, [0, 1], b, [1, 2])``), and PyTorch's list of operands. One node, whose
    gradient is another einsum, so it differentiates to any order."""
    if not isinstance(subscripts, str):
        subscripts, operands = S.from_sublists((subscripts,) + operands)
    elif len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    operands = tuple(as_tensor(t) for t in operands)
    subscripts = S.explicit(subscripts, tuple(t.shape for t in operands))
    return apply(P.einsum, operands, {"subscripts": subscripts})


@pytorch_names(dims="axes")
def tensordot(a, b, axes=2):
    """numpy's tensordot: the last ``axes`` axes of a summed against the first ``axes`` of b,
    or the axes the pair (a's, b's) lists; a's other axes, then b's, remain. One einsum."""
    a, b = _operands(a, b)
    if isinstance(axes, (int, np.integer)):
        pairs = (list(range(a.ndim - axes, a.ndim)), list(range(axes)))
    else:
        pairs = tuple([k] if isinstance(k, (int, np.integer)) else list(k) for k in axes)
    ia = [_axis("tensordot", k, a) for k in pairs[0]]
    ib = [_axis("tensordot", k, b) for k in pairs[1]]
    if len(ia) != len(ib) or any(a.shape[i] != b.shape[j] for i, j in zip(ia, ib)):
        raise shape_error("tensordot", "axes %s of shape %s do not match axes %s of shape %s "
                          "in number and lengths" % (ia, a.shape, ib, b.shape))
    if a.ndim + b.ndim - len(ia) > len(S.LETTERS):
        raise shape_error("tensordot", "more axes than einsum has letters")
    sa = S.LETTERS[:a.ndim]
    free = iter(S.LETTERS[a.ndim:])
    sb = "".join(sa[ia[ib.index(j)]] if j in ib else next(free) for j in range(b.ndim))
    out = "".join(c for i, c in enumerate(sa) if i not in ia) + "".join(
        c for j, c in enumerate(sb) if j not in ib)
    return einsum("%s,%s->%s" % (sa, sb, out), a, b)


def outer(a, b):
    """The outer product of the entries of a and b (numpy's flattens them; PyTorch's takes
    vectors)."""
    a, b = _operands(a, b)
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


def dot(a, b):
    """numpy's dot: the inner product of two vectors (``torch.dot``, which takes only those), the
    matrix product of matrices, a multiple by a scalar, and in general the sum over a's last axis
    and b's second-to-last."""
    a, b = _operands(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return tensordot(a, b, ([a.ndim - 1], [builtins.max(b.ndim - 2, 0)]))


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
        watched(index, "an index")
        index = index._data
    return _in_place(self, value, lambda a, v, out: out.__setitem__(index, v), what)


# -- Tensor methods and operators ---------------------------------------------------------------
def _reflected(op):
    return lambda a, b: binary(op, b, a)


def _compare(fn):
    def compare(a, b):
        watched(a, "a comparison")
        if isinstance(b, Tensor):
            watched(b, "a comparison")
            return constant(fn(a._data, b._data))
        return constant(fn(a._data, b))
    return compare


Tensor.__add__ = add
Tensor.__radd__ = _reflected(P.add)
Tensor.__sub__ = subtract
Tensor.__rsub__ = _reflected(P.sub)
Tensor.__mul__ = multiply
Tensor.__rmul__ = _reflected(P.mul)
Tensor.__truediv__ = divide
Tensor.__rtruediv__ = lambda a, b: divide(b, a)
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
Tensor.__invert__ = lambda self, _not=_compare(lambda a, _: np.logical_not(a)): _not(self, None)

for _name in ("exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "softplus", "sum", "mean",
              "max", "min", "logsumexp", "log_softmax", "softmax", "reshape", "transpose",
              "swapaxes", "squeeze", "unsqueeze", "expand_dims", "flip", "clip", "astype",
              "broadcast_to",
              # PyTorch's methods
              "sin", "cos", "tan", "sinh", "cosh", "arcsin", "arccos", "arctan", "asin", "acos",
              "atan", "log1p", "expm1", "log2", "log10", "square", "reciprocal", "rsqrt", "sign",
              "prod", "var", "std", "cumsum", "cumprod", "norm", "argmax", "argmin", "roll",
              "diagonal", "trace", "dot", "outer", "view", "permute", "flatten", "chunk",
              "expand", "tile", "repeat", "gather", "masked_fill", "to"):
    setattr(Tensor, _name, globals()[_name])
Tensor.clamp = clip
Tensor.amax, Tensor.amin = max, min
Tensor.T = property(lambda self: transpose(self))
def _tolist(self):
    watched(self, "tolist()")
    return self._data.tolist()


Tensor.tolist = _tolist
Tensor.contiguous = lambda self: self     # every array here is one numpy can compute with
for _name, _to in (("float", np.float32), ("double", np.float64), ("half", np.float16),
                   ("long", np.int64), ("int", np.int32), ("bool", np.bool_)):
    setattr(Tensor, _name, functools.partialmethod(astype, _to))
del _name, _to
