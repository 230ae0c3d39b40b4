"""The Tensor and the per-op dispatch that records the graph.

A Tensor is a variable node of the graph. It holds its array (``_data``; user code sees it as
``t.data``) and, when it was computed from tensors that require grad, the record of the op that
made it: the primitive (``_op``), its input tensors in order (``_inputs``), the op's non-tensor
arguments (``_params``), the scope path and a creation counter (``_id``) that is its stable id.
Inputs never point back at their outputs, so a graph holds no reference cycle and is freed the
moment it is dropped.

In-place changes are counted, as PyTorch's version counters do: every write into a tensor's
array through ``t.data``, an in-place operator or an optimizer stamps the tensor with a tick of
one process-wide clock (``_version``), and a recorded node remembers the clock when it was made
(``_epoch``). A backward rule that needs a value changed after its node was recorded raises
instead of computing with the new value (``check_saved``).
"""
import itertools
import sys

import numpy as np

from .errors import AutogradError, ShapeError
from .modes import _lookup, current

_ids = itertools.count()
_default_dtype = np.dtype(np.float32)
_ndarray = np.ndarray


class Clock:
    """Ticks once per in-place change anywhere in the process (see ``changed``)."""

    __slots__ = ("now",)

    def __init__(self):
        self.now = 0


clock = Clock()


def dtype_of(dtype, what):
    """``dtype`` as a numpy dtype, from any spelling of one: ``ag.long``, ``np.float32``,
    ``"float32"``, or Python's ``float``/``int``/``bool`` (float64, int64, bool, as numpy and
    PyTorch read them). None stays None; anything else is an error naming ``what``."""
    if dtype is None or type(dtype) is np.dtype:
        return dtype
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError("%s: %r is not a dtype; pass one such as ag.float32, ag.long, np.float64, "
                        "'float32', float, int or bool" % (what, dtype)) from None


def set_default_dtype(dtype):
    """The dtype given to Python floats and lists of them (float32 unless set)."""
    global _default_dtype
    dtype = dtype_of(dtype, "set_default_dtype")
    if dtype.kind != "f":
        raise AutogradError("set_default_dtype: expected a floating dtype, got %s" % dtype)
    _default_dtype = dtype


def get_default_dtype():
    return _default_dtype


def as_array(data, dtype=None, what="tensor"):
    """An array for ``data`` without copying an array: numpy arrays keep their dtype; Python
    floats (and lists of them) get the default float dtype, ints int64, bools bool, as PyTorch.
    ``dtype`` may be given in any spelling ``dtype_of`` reads."""
    if isinstance(data, Tensor):
        watched(data, "a copy (ag.tensor(t))")
        data = data._data
    if dtype is not None:
        return np.asarray(data, dtype=dtype_of(dtype, what))
    if isinstance(data, (np.ndarray, np.generic)):
        return np.asarray(data)
    arr = np.asarray(data)
    kind = arr.dtype.kind
    if kind == "f":
        return arr.astype(_default_dtype, copy=False)
    if kind in "iu":
        return arr.astype(np.int64, copy=False)
    if kind == "c":
        return arr.astype(np.complex128 if _default_dtype == np.float64 else np.complex64,
                          copy=False)
    return arr


def changed(t):
    """Count an in-place change of ``t``'s array (see the module's docstring)."""
    tr = (_lookup(None) or current()).trace
    if tr is not None:
        tr.changed(t)
    clock.now += 1
    t._version = clock.now


class Data(np.ndarray):
    """A tensor's array as user code sees it (``t.data``): it reads as an ndarray, and a write
    through it (``t.data[...] = v``, ``t.data -= x``, ``np.add(a, b, out=t.data)``) goes into the
    tensor's array and counts as an in-place change, so that a backward pass needing the old value
    raises instead of using the new one. Writers that bypass Python (``np.copyto``) meet a
    read-only array. Arithmetic on it gives plain ndarrays."""

    def __array_finalize__(self, obj):
        self._tensor = getattr(obj, "_tensor", None)

    def _writable(self):
        t = self._tensor
        if t is not None:
            check_writable(t, "a write into .data")
            changed(t)
        w = self.view(np.ndarray)
        w.flags.writeable = True
        return w

    def __setitem__(self, index, value):
        if isinstance(value, Tensor):
            watched(value, "a write of its values into .data")
            value = value._data
        self._writable()[index] = value

    def fill(self, value):
        self._writable().fill(value)

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        inputs = tuple(x.view(np.ndarray) if isinstance(x, Data) else x for x in inputs)
        if out is None:
            return getattr(ufunc, method)(*inputs, **kwargs)
        kwargs["out"] = tuple(o._writable() if isinstance(o, Data) else o for o in out)
        getattr(ufunc, method)(*inputs, **kwargs)
        return out[0] if len(out) == 1 else out

    def __repr__(self):
        return repr(self.view(np.ndarray))

    def __reduce__(self):       # pickles and deep copies as the plain array it shows
        return self.view(np.ndarray).__reduce__()


def watched(t, what):
    """Tell a trace in progress (ag.compile) that ``what`` reads ``t``'s values in Python: it
    raises if they change from call to call, since a replay would not see them."""
    tr = (_lookup(None) or current()).trace
    if tr is not None:
        tr.read(t, what)


def check_writable(t, what):
    """Refuse an in-place change that would go unnoticed: of a released value, of a read-only
    array, or of a view that an op made of another tensor's memory."""
    data = t._data
    if is_released(data):
        raise AutogradError("%s: the value of %s was released by release_unneeded() (no "
                            "derivative reads it), so there is nothing to change"
                            % (what, label(t)))
    op = t._op
    if op is not None and op.view and np.may_share_memory(data, t._inputs[0]._data):
        raise AutogradError("%s: %s is a view of another tensor's memory (made by %s); change "
                            "that tensor instead, or make a copy first (ag.tensor(t))"
                            % (what, label(t), op.name))
    if not data.flags.writeable:
        raise AutogradError("%s: the array of %s is read-only (a broadcast, or an array shared "
                            "read-only); make a copy first (ag.tensor(t))" % (what, label(t)))


class Released(np.ndarray):
    """The shape-only stand-in (no memory) for a value that release_unneeded() freed."""


_NANS = {}


def stand_in(shape, dtype):
    """A value of this shape and dtype that holds no memory (a read-only view of one NaN), for
    code that reads only the shape and dtype. One per shape and dtype, made once: it is read
    only and nothing tells values apart by identity (``is_released`` tests the type)."""
    key = (shape, dtype)
    made = _STAND_INS.get(key)
    if made is None:
        dtype = np.dtype(dtype)
        nan = _NANS.get(dtype)
        if nan is None:
            nan = _NANS[dtype] = np.full((), np.nan if dtype.kind in "fc" else 0, dtype)
            nan.flags.writeable = False
        if len(_STAND_INS) >= 4096:         # many shapes (varying lengths): start over
            _STAND_INS.clear()
        made = _STAND_INS[key] = Released(shape, dtype, buffer=nan, strides=(0,) * len(shape))
    return made


_STAND_INS = {}


def is_released(data):
    return type(data) is Released


def label(t):
    """A tensor as messages name it: its name, else its op and id."""
    if t.name is not None:
        return repr(str(t.name))
    return "%s#%d" % (t._op.name if t._op is not None else ("input" if t.requires_grad else
                                                              "const"), t._id)


class Tensor:
    """A numpy array that remembers how it was computed."""

    __slots__ = ("_data", "grad", "requires_grad", "name", "_id", "_op", "_inputs", "_params",
                 "_scope", "_hooks", "_retain", "_origin", "_epoch", "_version", "__weakref__")
    __array_ufunc__ = None      # ndarray <op> Tensor defers to Tensor's reflected operator
    __hash__ = object.__hash__  # == is elementwise, identity stays the hash

    def __init__(self, data, dtype=None, requires_grad=False, name=None):
        """A leaf holding a copy of ``data`` (as ``torch.tensor``); ``ag.from_numpy`` shares."""
        data = as_array(data, dtype)
        self._data = np.array(data, copy=True)
        if requires_grad and self._data.dtype.kind not in "fc":
            raise AutogradError("tensor: only floating tensors can require grad, got dtype %s; "
                                "pass floating values or dtype=ag.float32"
                                % self._data.dtype)
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self._id = next(_ids)
        self._op = self._inputs = self._params = self._hooks = self._origin = None
        self._scope = current().scope
        self._retain = False
        self._version = 0

    # -- facts -----------------------------------------------------------------------------
    @property
    def data(self):
        """The values, as a view whose writes are counted as in-place changes."""
        watched(self, ".data")
        if type(self._data) is Released:
            return self._data       # read-only, and says what it is
        v = self._data.view(Data)
        v._tensor = self
        v.flags.writeable = False
        return v

    @data.setter
    def data(self, value):
        data = self._data
        if isinstance(value, Data) and value._tensor is self and value.shape == data.shape \
                and value.strides == data.strides and value.dtype == data.dtype \
                and value.ctypes.data == data.ctypes.data:
            return                  # t.data -= x: written (and counted) in place already
        if isinstance(value, Tensor):
            watched(value, "an assignment to .data")
            value = value._data
        # another tensor's values are copied: two tensors never share a counted array
        self._data = np.array(value) if isinstance(value, Data) else np.asarray(value)
        changed(self)

    shape = property(lambda self: self._data.shape)
    ndim = property(lambda self: self._data.ndim)
    dtype = property(lambda self: self._data.dtype)
    released = property(lambda self: is_released(self._data),
                        doc="True when release_unneeded() freed the value (no derivative "
                            "reads it); shape and dtype remain.")
    is_leaf = property(lambda self: self._op is None,
                       doc="True unless the tensor was computed by a recorded op.")
    op_name = property(lambda self: self._op.name if self._op is not None else None)
    scope = property(lambda self: self._scope)
    id = property(lambda self: self._id, doc="Stable id: the creation counter.")

    def size(self, dim=None):
        """The shape, or the length of axis ``dim`` (PyTorch's method; numpy's attribute
        ``size``, the number of entries, is ``numel()``)."""
        if dim is None:
            return self._data.shape
        n = self._data.ndim
        if not isinstance(dim, (int, np.integer)) or not -n <= dim < n:
            raise ShapeError("size: dim %r is out of range for a tensor of shape %s (valid: "
                             "%d to %d)" % (dim, self._data.shape, -n, n - 1))
        return self._data.shape[dim]

    def dim(self):
        """The number of axes (``ndim``)."""
        return self._data.ndim

    def numel(self):
        """The number of entries (numpy's ``size``)."""
        return self._data.size

    def numpy(self):
        """The values (shares memory; writes are counted, as through ``.data``)."""
        return self.data

    def item(self):
        watched(self, ".item()")
        return self._data.item()

    def __array__(self, dtype=None, copy=None):
        if copy:
            watched(self, "np.array(t)")
            return np.array(self._data, dtype=dtype, copy=True)
        return self.data if dtype is None or dtype == self._data.dtype else \
            self._data.astype(dtype)

    def __len__(self):
        if not self._data.ndim:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __float__(self):
        watched(self, "float(t)")
        return float(self._data)

    def __int__(self):
        watched(self, "int(t)")
        return int(self._data)

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.ndim:
            raise TypeError("only 0-d integer tensors can be used as an index")
        watched(self, "an index")
        return int(self._data)

    def __bool__(self):
        watched(self, "bool(t) (an if or while on a tensor)")
        return bool(self._data)

    def __repr__(self):
        if self.released:
            body = "<released: no derivative reads it>, shape=%s" % (self._data.shape,)
        else:
            body = np.array2string(self._data, precision=4, separator=", ", threshold=20,
                                   prefix="tensor(")
        extra = ""
        if self._data.dtype != _default_dtype:
            extra += ", dtype=%s" % self._data.dtype
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
        """The same values (sharing memory), cut from the graph."""
        t = constant(self._data)
        t.name = self.name
        tr = (_lookup(None) or current()).trace
        if tr is not None:
            tr.detached(self, t)
        return t

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf after backward."""
        watched(self, "retain_grad()")
        self._retain = True
        return self

    def register_hook(self, fn):
        """``fn(grad) -> Tensor | None`` runs when this tensor's gradient is complete; a
        returned tensor replaces the gradient. Returns a handle with ``remove()``."""
        if not self.requires_grad:
            raise AutogradError("register_hook: the tensor does not require grad, so no "
                                "gradient will reach it; create it with requires_grad=True")
        watched(self, "register_hook()")
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
        if flag and self._data.dtype.kind not in "fc":
            raise AutogradError("requires_grad_: only floating tensors can require grad, got "
                                "dtype %s" % self._data.dtype)
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
    """A leaf that never requires grad, holding ``data`` without a copy (literals inside
    expressions, arrays shared with numpy)."""
    t = _new(Tensor)
    t._data = data if type(data) is _ndarray else np.asarray(data)
    t.grad = t._op = t._inputs = t._params = t._hooks = t._origin = t.name = None
    t.requires_grad = t._retain = False
    t._id = next(_ids)
    t._version = 0
    t._scope = (_lookup(None) or current()).scope
    return t


def lift(x, like):
    """``x`` as a Tensor; a Python number takes the dtype of the tensor it is combined with."""
    if isinstance(x, Tensor):
        return x
    dtype = like._data.dtype
    if (type(x) is float or isinstance(x, (int, float)) and not isinstance(x, bool)) \
            and dtype.kind in "fc":
        return constant(np.asarray(x, dtype))
    return constant(as_array(x))


def apply(op, inputs, params=None):
    """Run ``op.forward`` on the inputs' arrays and record the node when gradients flow."""
    try:
        if params:
            data = op.forward(inputs[0]._data, **params) if len(inputs) == 1 else op.forward(
                *[t._data for t in inputs], **params)
        elif len(inputs) == 2:
            data = op.forward(inputs[0]._data, inputs[1]._data)
        elif len(inputs) == 1:
            data = op.forward(inputs[0]._data)
        elif len(inputs) == 3:
            data = op.forward(inputs[0]._data, inputs[1]._data, inputs[2]._data)
        else:
            data = op.forward(*[t._data for t in inputs])
    except (ValueError, IndexError, TypeError) as err:
        raise ShapeError(describe(op, inputs, params, err)) from None
    t = _new(Tensor)
    t._data = data if type(data) is _ndarray else np.asarray(data)
    t.grad = t._hooks = t._origin = t.name = None
    t._retain = False
    t._version = 0
    t._id = next(_ids)
    st = _lookup(None) or current()
    t._scope = st.scope
    if st.grad and (inputs[0].requires_grad or len(inputs) > 1 and any(
            [x.requires_grad for x in inputs])):
        t.requires_grad = True
        t._op, t._inputs, t._params = op, inputs, params
        t._epoch = clock.now
        rel = st.release
        if rel is not None and t._data.nbytes >= rel.min_bytes:
            recent = rel.recent
            recent.append(t)
            if len(recent) >= rel.every:
                rel.sweep()
    else:
        t.requires_grad = False
        t._op = t._inputs = t._params = None
    if st.trace is not None:
        st.trace.recorded(t, op, inputs, params)
    if st.anomaly:
        from .anomaly import check_forward
        check_forward(t, op, inputs, params)
    return t


def freed(node, what="backward"):
    """The error for a graph that an earlier backward() went through without retain_graph."""
    return AutogradError(
        "%s: the graph through '%s'%s was already freed by an earlier backward(); pass "
        "retain_graph=True to the first backward() to run backward through it again"
        % (what, node._op.name, where(node)))


def mark_done(node):
    """Backward went through ``node`` without retain_graph: it stays in the graph, for pictures
    and the debugger, but no second backward may run through it. The mark is a negative
    ``_epoch`` (the recording time is kept: ``-1 - _epoch``)."""
    node._epoch = -1 - node._epoch


def check_saved(node, again=False):
    """Raise if a value ``node``'s rules read was changed in place after the node was recorded
    (through a view, too: a transpose of a weight reads the weight's memory), or if a backward
    pass already went through it. Called by the backward loop when the clock moved since the
    node was made (a node marked done counts as that). ``again``: the pass only reads the graph
    (pictures, the debugger after backward), so a node that backward went through may be read,
    but not one whose saved value was released since."""
    op, epoch = node._op, node._epoch
    if epoch < 0:
        if not again:
            raise freed(node)
        epoch = -1 - epoch
    saves = op.saves
    if node._version > epoch and (saves is None or "y" in saves):
        raise _changed_error(node, node, "its output")
    for i, x in enumerate(node._inputs):
        if saves is not None and i not in saves:
            continue
        if again and type(x._data) is Released:
            raise AutogradError(
                "%s%s: the value of its input %d (%s) was released after an earlier backward() "
                "to free memory, so its gradient cannot be computed again; draw or step before "
                "backward(), or call backward(retain_graph=True)"
                % (op.name, where(node), i, label(x)))
        seen = x
        while True:                     # down a chain of views to the memory's owner
            if seen._version > epoch:
                raise _changed_error(node, seen, "its input %d" % i)
            if seen._op is None or not seen._op.view:
                break
            seen = seen._inputs[0]


def _changed_error(node, t, what):
    return AutogradError(
        "backward: %s%s needs the value of %s (%s, shape %s) as it was when %s was recorded, "
        "but %s was changed in place since (by an optimizer step, a write into .data or an "
        "in-place operator); compute the graph again after changing it, or change a copy"
        % (node._op.name, where(node), what, label(t), t.shape, node._op.name, label(t)))


def where(t):
    """`` in scope '...'`` for a tensor recorded inside a scope."""
    return " in scope '%s'" % t._scope if t._scope else ""


def describe(op, inputs, params, err=None):
    """An error message naming the op, the scope and the shapes, and what to do."""
    shapes = [tuple(t.shape) for t in inputs]
    if op.symbol and len(shapes) == 2:
        what = "%s %s %s" % (shapes[0], op.symbol, shapes[1])
    else:
        what = ", ".join(str(s) for s in shapes)
    scope = current().scope
    at = " in scope '%s'" % scope if scope else ""
    extra = ""
    if params:
        shown = {k: v for k, v in params.items() if not isinstance(v, np.ndarray)}
        if shown:
            extra = " with %s" % ", ".join("%s=%r" % kv for kv in shown.items())
    msg = "%s: %s%s%s" % (op.name, what, extra, at)
    if op.hint is not None:
        return msg + ": " + op.hint(*[t._data for t in inputs])
    return msg + ": %s" % err


def shape_error(opname, message):
    scope = current().scope
    return ShapeError("%s%s: %s" % (opname, " in scope '%s'" % scope if scope else "", message))


def user_frame():
    """file:line of the innermost frame outside the engine (used by anomaly messages)."""
    here = __file__.rsplit("/", 1)[0]
    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename.startswith(here):
        f = f.f_back
    return "%s:%d" % (f.f_code.co_filename, f.f_lineno) if f is not None else "?"
