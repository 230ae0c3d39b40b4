"""The Tensor and the per-op dispatch that records the graph.

A Tensor is a variable node of the graph. When it was computed from tensors that require grad it
also holds the record of the op that made it: the primitive (``_op``), its input tensors in order
(``_inputs``), the op's non-tensor arguments (``_params``), the scope path and a creation counter
(``_id``) that is its stable id. Inputs never point back at their outputs, so a graph holds no
reference cycle and is freed the moment it is dropped.
"""
import itertools
import sys

import numpy as np

from . import modes
from .errors import AutogradError, ShapeError
from .release import EVERY as RELEASE_EVERY, MIN_BYTES as RELEASE_BYTES, is_released, recent, sweep

_ids = itertools.count()
_default_dtype = np.dtype(np.float32)
_ndarray = np.ndarray


def set_default_dtype(dtype):
    """The dtype given to Python numbers and lists (float32 unless set)."""
    global _default_dtype
    _default_dtype = np.dtype(dtype)


def get_default_dtype():
    return _default_dtype


def as_array(data, dtype=None):
    """numpy arrays keep their dtype; Python numbers and lists get the default dtype."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is None and not isinstance(data, (np.ndarray, np.generic)):
        arr = np.asarray(data)
        if arr.dtype.kind in "biuf":
            return arr.astype(_default_dtype)
        return arr
    return np.asarray(data, dtype=dtype)


class Tensor:
    """A numpy array that remembers how it was computed."""

    __slots__ = ("data", "grad", "requires_grad", "name", "_id", "_op", "_inputs", "_params",
                 "_scope", "_hooks", "_retain", "_origin", "__weakref__")
    __array_ufunc__ = None      # ndarray <op> Tensor defers to Tensor's reflected operator
    __hash__ = object.__hash__  # == is elementwise, identity stays the hash

    def __init__(self, data, dtype=None, requires_grad=False, name=None):
        self.data = as_array(data, dtype)
        if requires_grad and self.data.dtype.kind not in "fc":
            raise AutogradError("tensor: only floating tensors can require grad, got dtype %s; "
                                "pass dtype=np.float32 or np.float64" % self.data.dtype)
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self._id = next(_ids)
        self._op = self._inputs = self._params = self._hooks = self._origin = None
        self._scope = modes.scope_path
        self._retain = False

    # -- facts -----------------------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)
    released = property(is_released, doc="True when release_unneeded() freed the value (no "
                         "derivative reads it); shape and dtype remain.")
    is_leaf = property(lambda self: self._op is None,
                       doc="True unless the tensor was computed by a recorded op.")
    op_name = property(lambda self: self._op.name if self._op is not None else None)
    scope = property(lambda self: self._scope)
    id = property(lambda self: self._id, doc="Stable id: the creation counter.")

    def numpy(self):
        return self.data

    def item(self):
        return self.data.item()

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __len__(self):
        if not self.data.ndim:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    def __bool__(self):
        return bool(self.data)

    def __repr__(self):
        if self.released:
            body = "<released: no derivative reads it>, shape=%s" % (self.data.shape,)
        else:
            body = np.array2string(self.data, precision=4, separator=", ", threshold=20,
                                   prefix="tensor(")
        extra = ""
        if self.data.dtype != _default_dtype:
            extra += ", dtype=%s" % self.data.dtype
        if self._op is not None:
            extra += ", op=%s" % self._op.name
        elif self.requires_grad:
            extra += ", requires_grad=True"
        if self.name:
            extra += ", name=%r" % self.name
        return "tensor(%s%s)" % (body, extra)

    # -- gradient bookkeeping --------------------------------------------------------------
    def backward(self, gradient=None, *, retain_graph=False, create_graph=False):
        """Accumulate d self / d leaf into every leaf's ``.grad`` (and retained non-leaves')."""
        from .backward import backward
        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    def detach(self):
        """The same values, cut from the graph."""
        return Tensor(self.data, name=self.name)

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf after backward."""
        self._retain = True
        return self

    def register_hook(self, fn):
        """``fn(grad) -> Tensor | None`` runs when this tensor's gradient is complete; a
        returned tensor replaces the gradient. Returns a handle with ``remove()``."""
        if not self.requires_grad:
            raise AutogradError("register_hook: the tensor does not require grad, so no "
                                "gradient will reach it; create it with requires_grad=True")
        if self._hooks is None:
            self._hooks = {}
        handle = _HookHandle(self._hooks)
        self._hooks[handle.key] = fn
        return handle

    def zero_grad(self):
        self.grad = None

    def requires_grad_(self, flag=True):
        if not self.is_leaf:
            raise AutogradError("requires_grad_: only leaves can change requires_grad; "
                                "use detach() first")
        self.requires_grad = bool(flag)
        return self


class _HookHandle:
    _keys = itertools.count()

    def __init__(self, hooks):
        self.hooks, self.key = hooks, next(self._keys)

    def remove(self):
        self.hooks.pop(self.key, None)


# -- the per-op dispatch -------------------------------------------------------------------
_new = object.__new__


def constant(data):
    """A leaf that never requires grad (used for literals inside expressions)."""
    t = _new(Tensor)
    t.data = data if type(data) is _ndarray else np.asarray(data)
    t.grad = t._op = t._inputs = t._params = t._hooks = t._origin = t.name = None
    t.requires_grad = t._retain = False
    t._id = next(_ids)
    t._scope = modes.scope_path
    return t


def lift(x, like):
    """``x`` as a Tensor; a Python number takes the dtype of the tensor it is combined with."""
    if isinstance(x, Tensor):
        return x
    dtype = like.data.dtype
    if (type(x) is float or isinstance(x, (int, float)) and not isinstance(x, bool)) \
            and dtype.kind == "f":
        return constant(np.asarray(x, dtype))
    return constant(as_array(x))


def apply(op, inputs, params=None):
    """Run ``op.forward`` on the inputs' arrays and record the node when gradients flow."""
    try:
        if params:
            data = op.forward(inputs[0].data, **params) if len(inputs) == 1 else op.forward(
                *[t.data for t in inputs], **params)
        elif len(inputs) == 2:
            data = op.forward(inputs[0].data, inputs[1].data)
        elif len(inputs) == 1:
            data = op.forward(inputs[0].data)
        elif len(inputs) == 3:
            data = op.forward(inputs[0].data, inputs[1].data, inputs[2].data)
        else:
            data = op.forward(*[t.data for t in inputs])
    except (ValueError, IndexError) as err:
        raise ShapeError(describe(op, inputs, params, err)) from None
    t = _new(Tensor)
    t.data = data if type(data) is _ndarray else np.asarray(data)
    t.grad = t._hooks = t._origin = t.name = None
    t._retain = False
    t._id = next(_ids)
    t._scope = modes.scope_path
    if modes.grad_enabled and (inputs[0].requires_grad or len(inputs) > 1 and any(
            [x.requires_grad for x in inputs])):
        t.requires_grad = True
        t._op, t._inputs, t._params = op, inputs, params
        if modes.release and t.data.nbytes >= RELEASE_BYTES:
            recent.append(t)
            if len(recent) >= RELEASE_EVERY:
                sweep()
    else:
        t.requires_grad = False
        t._op = t._inputs = t._params = None
    if modes.anomaly:
        from .anomaly import check_forward
        check_forward(t, op, inputs, params)
    return t


def describe(op, inputs, params, err=None):
    """An error message naming the op, the scope and the shapes, and what to do."""
    shapes = [tuple(t.shape) for t in inputs]
    if op.symbol and len(shapes) == 2:
        what = "%s %s %s" % (shapes[0], op.symbol, shapes[1])
    else:
        what = ", ".join(str(s) for s in shapes)
    where = " in scope '%s'" % modes.scope_path if modes.scope_path else ""
    extra = ""
    if params:
        shown = {k: v for k, v in params.items() if not isinstance(v, np.ndarray)}
        if shown:
            extra = " with %s" % ", ".join("%s=%r" % kv for kv in shown.items())
    msg = "%s: %s%s%s" % (op.name, what, extra, where)
    if op.hint is not None:
        return msg + ": " + op.hint(*[t.data for t in inputs])
    return msg + ": %s" % err


def shape_error(opname, message):
    where = " in scope '%s'" % modes.scope_path if modes.scope_path else ""
    return ShapeError("%s%s: %s" % (opname, where, message))


def user_frame():
    """file:line of the innermost frame outside the engine (used by anomaly messages)."""
    here = __file__.rsplit("/", 1)[0]
    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename.startswith(here):
        f = f.f_back
    return "%s:%d" % (f.f_code.co_filename, f.f_lineno) if f is not None else "?"
