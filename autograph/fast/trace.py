"""Recording a function's ops for ag.compile: the trace.

While a function runs under ``tracing()``, the dispatch hands every op it runs to the thread's
``Tracer`` (``modes.State.trace``), also the ops on tensors that do not require grad. The tracer
numbers the values the function computes and keeps, for each op, its primitive, its inputs'
numbers and its parameters: a program in SSA form, with no tensor of the call kept alive.

A value is one of

- ``ARG``: a tensor passed as an argument (given anew on every call);
- ``EXT``: a tensor made before the trace that the function reads (a module's parameter through
  a closure): read afresh on every call, so an optimizer's changes are seen;
- ``CONST``: a tensor made during the trace from no argument (zeros, a Python number), or an op
  of constants only (folded: its traced value is the constant);
- ``OP``: the output of a recorded op.

Python control flow is recorded as it ran. A Python decision taken on a value that changes from
call to call (``if loss > 0``, ``t.item()``, ``t.data``, a comparison) would be frozen at the
traced value, so the tracer refuses it with an error saying so, and likewise an in-place change,
a backward pass or random draws inside the function.
"""
from ..errors import AutogradError
from ..modes import current
from ..tensor import _ids, label

ARG, EXT, CONST, OP = "arg", "ext", "const", "op"
SMALL = 64          # constants up to this many bytes are shared by value (a Python 0.5 per step)


class Node:
    """One recorded op: ``out = op(*ins, **params)``, numbers of values."""

    __slots__ = ("op", "ins", "params", "out", "scope")

    def __init__(self, op, ins, params, out, scope):
        self.op, self.ins, self.params, self.out, self.scope = op, ins, params, out, scope


class Detach:
    """``t.detach()`` on a value that changes from call to call: the same array, no gradient."""

    name = "detach"
    saves = frozenset()
    view = True

    @staticmethod
    def forward(x):
        return x


DETACH = Detach()


class Tracer:
    """The program being recorded (see the module's docstring)."""

    def __init__(self, what):
        self.what = what                # the function's name, for messages
        self.start = next(_ids)         # tensors with smaller ids were made before the trace
        self.index = {}                 # tensor id -> value number
        self.kind, self.shape, self.dtype, self.grad = [], [], [], []
        self.data = []                  # per value: the constant's array, the arg position or
        #                                 the external's position; None for OP
        self.name = []                  # per value: the tensor's name where it had one
        self.nodes = []
        self.externals = []             # tensors made before the trace, in the order first read
        self.interned = {}              # small constants by value

    # -- values ----------------------------------------------------------------------------
    def _new(self, t, kind, data):
        v = len(self.kind)
        d = t._data
        self.kind.append(kind)
        self.shape.append(d.shape)
        self.dtype.append(d.dtype)
        self.grad.append(t.requires_grad)
        self.data.append(data)
        self.name.append(t.name)
        self.index[t._id] = v
        return v

    def argument(self, t, position):
        v = self.index.get(t._id)
        return self._new(t, ARG, position) if v is None else v

    def value(self, t):
        """The number of tensor ``t``, registering it as an external or a constant if new."""
        v = self.index.get(t._id)
        if v is not None:
            return v
        if t._id < self.start:
            self.externals.append(t)
            return self._new(t, EXT, len(self.externals) - 1)
        if t.requires_grad:
            self.refuse("makes a tensor that requires grad (%s) inside itself; make it outside "
                        "(a parameter the function reads) so that its gradient has a home"
                        % label(t))
        return self._constant(t, t._data)

    def _constant(self, t, data):
        if data.nbytes <= SMALL:
            key = (data.dtype.str, data.shape, data.tobytes())
            v = self.interned.get(key)
            if v is None:
                v = self.interned[key] = self._new(t, CONST, data)
            self.index[t._id] = v
            return v
        return self._new(t, CONST, data)

    def live(self, t):
        """True when ``t``'s values may change from call to call."""
        if t._id < self.start:
            return True
        v = self.index.get(t._id)
        return v is not None and self.kind[v] is not CONST

    # -- what the engine reports -----------------------------------------------------------
    def recorded(self, t, op, inputs, params):
        """The dispatch ran ``op``: record it, or fold it when all its inputs are constants."""
        index = self.index
        ins = []
        folded = True
        for x in inputs:
            v = index.get(x._id)
            if v is None:
                v = self.value(x)
            ins.append(v)
            if self.kind[v] is not CONST:
                folded = False
        if folded and not t.requires_grad:
            self._constant(t, t._data)
            return
        self.nodes.append(Node(op, tuple(ins), params, self._new(t, OP, None), t._scope))

    def detached(self, source, t):
        v = self.value(source)
        if self.kind[v] is CONST:
            self.index[t._id] = v
        else:
            self.nodes.append(Node(DETACH, (v,), None, self._new(t, OP, None), t._scope))

    def read(self, t, what):
        if self.live(t):
            self.refuse("reads the values of %s through %s, and they change from call to call: "
                        "a compiled function replays the ops it recorded, not the Python "
                        "decisions taken on values. Compute it with autograph ops (ag.where, "
                        "ag.maximum, ...), pass such values in as Python numbers or numpy "
                        "arrays (each distinct one is traced once), or call the function "
                        "uncompiled" % (_tensor(t), what))

    def changed(self, t):
        if self.live(t) or t._id in self.index:
            self.refuse("changes %s in place, which a replay would not repeat; change it "
                        "outside the function (an optimizer step after backward), or call the "
                        "function uncompiled" % _tensor(t))

    def refuse(self, what):
        raise AutogradError("ag.compile: while tracing %s: the function %s" % (self.what, what))


def _tensor(t):
    return "%s (shape %s)" % (label(t), t.shape)


class tracing:
    """Record the ops this thread runs inside into ``tracer``."""

    __slots__ = ("tracer", "state")

    def __init__(self, tracer):
        self.tracer = tracer

    def __enter__(self):
        self.state = current()
        self.state.trace = self.tracer
        return self.tracer

    def __exit__(self, *exc):
        self.state.trace = None

