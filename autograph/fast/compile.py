"""``ag.compile(fn)``: trace a function once per input signature, then replay it.

    step = ag.compile(lambda x: layer(x))
    out, (h, c) = step(x)           # the first call runs fn and records its ops
    out, (h, c) = step(x2)          # later calls replay them on the new values
    out.backward(G)                 # the backward planned once, into every .grad

What is traced. The signature of a call is the shapes and dtypes of its tensor arguments and
which of them require grad, every other argument by value (``==``), whether gradients are
recorded, and the default dtype; a new signature traces again. ``fn`` may read tensors made
before the call through closures (a module's parameters): they are read afresh on every call,
so an optimizer's changes are seen, and gradients reach them.

Python control flow is recorded as it ran, as ``jax.jit`` and ``torch.jit.trace`` record it: a
loop over a sequence's length is unrolled for that length, a branch on an argument's value is
fixed at the traced value. A decision taken in Python on values that change from call to call
(``if loss > 0``, ``t.item()``, ``t.data``, a comparison of tensors), an in-place change, a
backward pass and random draws (dropout in training mode) inside ``fn`` are refused with an
error while tracing: a replay would not repeat them. Python state ``fn`` reads other than
tensors (a module's ``training`` flag, a global) is frozen at the trace. ``cf.check(*args)``
runs one call both ways and compares values and gradients.

Under ``ag.detect_anomaly()``, ``ag.reference()`` or another function's trace, a compiled
function runs ``fn`` as it is.

How a replay runs. The trace (trace.py) becomes a program (program.py) whose repeated steps are
rolled into loops (loops.py); Python source for its forward and backward is written once
(emit.py) and compiled. A call's outputs are nodes of the ordinary graph whose op is the call
and whose inputs are the tensors gradients reach, so that ``backward()`` from anywhere below
runs the planned backward once, for all of the call's outputs together, and deposits into
``.grad`` as the eager engine does. Pictures and the debugger do not look inside a call: call
the function uncompiled (``cf.fn``) to inspect it.
"""
import builtins
import functools
import warnings

import numpy as np

from ..errors import AutogradError
from ..modes import current
from ..rules import PerInput, Primitive
from ..tensor import Tensor, clock, constant, get_default_dtype
from .emit import Emitter
from .program import Program
from .trace import ARG, CONST, EXT, Tracer, tracing

MAX_SIGNATURES = 8      # past this many traces a function warns: something varies per call


def compile(fn):
    """``fn`` traced once per input signature and replayed (see the module's docstring)."""
    if isinstance(fn, Compiled):
        return fn
    if not callable(fn):
        raise TypeError("ag.compile: expected a function, got %s" % type(fn).__name__)
    return Compiled(fn)


class Compiled:
    """A compiled function: call it as ``fn``; ``.fn`` is the function itself."""

    def __init__(self, fn):
        self.fn = fn
        self.plans = {}             # signature -> [Plan], one per set of externals' shapes
        self.warned = False
        functools.update_wrapper(self, fn, updated=())

    @property
    def name(self):
        return getattr(self.fn, "__qualname__", None) or type(self.fn).__name__

    def __repr__(self):
        return "<compiled %s: %d trace%s>" % (self.name, self.traces, "" if self.traces == 1
                                              else "s")

    @property
    def traces(self):
        return sum(len(p) for p in self.plans.values())

    def __call__(self, *args, **kwargs):
        st = current()
        if st.anomaly or not st.fast or st.trace is not None:
            return self.fn(*args, **kwargs)
        tensors, key = signature(args, kwargs, st.grad)
        for plan in self.plans.get(key, ()):
            if plan.fits():
                return plan.run(tensors, st.grad)
        return self._trace(args, kwargs, tensors, key)

    def _trace(self, args, kwargs, tensors, key):
        if self.traces >= MAX_SIGNATURES and not self.warned:
            self.warned = True
            warnings.warn("ag.compile: %s was traced %d times; an argument that is not a tensor "
                          "(compared by value) or a tensor's shape changes from call to call"
                          % (self.name, self.traces + 1), stacklevel=3)
        tracer = Tracer(self.name)
        for i, t in enumerate(tensors):
            tracer.argument(t, i)
        with tracing(tracer):
            out = self.fn(*args, **kwargs)
        leaves, tree = flatten(out)
        plan = Plan(self.name, tracer, leaves, tree, len(tensors))
        self.plans.setdefault(key, []).append(plan)
        return out

    def programs(self):
        """The plans traced so far, in the order traced."""
        return [plan for plans in self.plans.values() for plan in plans]

    def check(self, *args, rtol=None, gradient=None, **kwargs):
        """Run one call compiled and one eagerly on the same arguments, backward from the
        outputs (with ``gradient``, else a fixed random cotangent per output), and raise
        AutogradError naming the first output or gradient that differs by more than ``rtol``
        of its largest entry (by default 1e-10 in float64, 1e-4 in float32); returns True."""
        from .check import check
        return check(self, args, kwargs, rtol, gradient)


# -- signatures ------------------------------------------------------------------------------
def signature(args, kwargs, grad):
    """(the tensors among the arguments, in order; a hashable key of everything else)."""
    tensors, first, key = [], {}, [grad, get_default_dtype()]
    stack = [args, kwargs] if kwargs else [args]
    while stack:
        x = stack.pop()
        t = type(x)
        if t is Tensor:
            k = first.setdefault(id(x), len(tensors))
            if k == len(tensors):
                tensors.append(x)
            d = x._data
            key.append((d.shape, d.dtype, x.requires_grad, k))
        elif t is tuple or t is list:
            key.append((t, len(x)))
            stack.extend(reversed(x))
        elif t is dict:
            names = list(x)
            key.append((dict, tuple(names)))
            stack.extend(x[n] for n in reversed(names))
        elif t is np.ndarray:
            key.append((np.ndarray, x.shape, x.dtype, x.tobytes()))
        else:
            try:
                hash(x)
                key.append((t, x))
            except TypeError:
                raise TypeError("ag.compile: an argument of type %s is neither a tensor nor "
                                "hashable, so calls cannot be told apart by it; pass tensors, "
                                "numbers, tuples, lists, dicts or numpy arrays" % t.__name__)
    return tensors, tuple(key)


def flatten(out):
    """(the tensors in a function's result, in order; its shape as a nested list where each
    tensor is replaced by its position). Tuples, lists and dicts are walked."""
    leaves = []
    root = [None]
    stack = [(out, root, 0)]
    while stack:
        x, parent, i = stack.pop()
        t = type(x)
        if isinstance(x, Tensor):
            parent[i] = _Leaf(len(leaves))
            leaves.append(x)
        elif t is tuple or t is list or t is dict:
            keys = list(x) if t is dict else range(len(x))
            node = [t, list(keys), [None] * len(x)]
            parent[i] = node
            values = [x[k] for k in keys]
            for j in range(len(values) - 1, -1, -1):
                stack.append((values[j], node[2], j))
        else:
            parent[i] = _Literal(x)
    return leaves, root[0]


class _Leaf:
    __slots__ = ("position",)

    def __init__(self, position):
        self.position = position


class _Literal:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def rebuild(tree, leaves):
    """The function's result from ``flatten``'s tree with these tensors in place."""
    root = [None]
    stack = [(tree, root, 0)]
    built = []
    while stack:
        x, parent, i = stack.pop()
        if type(x) is _Leaf:
            parent[i] = leaves[x.position]
        elif type(x) is _Literal:
            parent[i] = x.value
        else:
            kind, keys, children = x
            items = [None] * len(children)
            parent[i] = (kind, keys, items)
            built.append((parent, i))
            for j in range(len(children) - 1, -1, -1):
                stack.append((children[j], items, j))
    for parent, i in reversed(built):      # innermost first
        kind, keys, items = parent[i]
        parent[i] = dict(zip(keys, items)) if kind is dict else kind(items)
    return root[0]


# -- a traced program, ready to run ----------------------------------------------------------
class Plan:
    """One trace of the function: its program, the generated forward and backward, and what a
    call returns."""

    def __init__(self, name, tracer, leaves, tree, n_args):
        self.name, self.tree, self.n_args = name, tree, n_args
        self.externals = tracer.externals
        self.ext_facts = [(t._data.shape, t._data.dtype, t.requires_grad)
                          for t in tracer.externals]
        # each output: ("op", k) the program's k-th output; ("arg", i), ("ext", i): that
        # tensor itself; ("const", array)
        values, self.results = [], []
        for t in leaves:
            v = tracer.index.get(t._id)
            if v is None:
                v = tracer.value(t)
            kind = tracer.kind[v]
            if kind is CONST:
                self.results.append(("const", tracer.data[v]))
            elif kind is ARG or kind is EXT:
                self.results.append((kind, tracer.data[v]))
            else:
                if v not in values:
                    values.append(v)
                self.results.append(("op", values.index(v)))
        self.program = p = Program(tracer, values)
        em = Emitter(p)
        self.backward_source = em.backward()
        self.forward_source = em.forward()
        ns = em.ns
        exec(builtins.compile(self.forward_source + self.backward_source,
                              "<compiled %s>" % name, "exec"), ns)
        self.forward, self.backward = ns["forward"], ns["backward"]
        self.emitter = em
        # the call's op: its inputs are the tensors it reads, and it saves those whose
        # values its backward reads (an in-place change of one then makes backward raise)
        self.inputs = [(p.kind[v], p.data[v]) for v in p.inputs]
        self.grad_outputs = [k for k, v in enumerate(p.outputs) if p.grad[v]]
        read = em.plan.saved_inputs()
        self.op = Primitive("compiled %s" % name, None, PerInput(_no_rule),
                            jvp=PerInput(_no_forward_mode), vjp_all=_call_backward,
                            saves=[i for i, v in enumerate(p.inputs) if v in read], joint=True)

    def fits(self):
        """The externals still have the shapes, dtypes and requires_grad they were traced with."""
        for t, (shape, dtype, grad) in zip(self.externals, self.ext_facts):
            d = t._data
            if d.shape != shape or d.dtype != dtype or t.requires_grad != grad:
                return False
        return True

    def run(self, tensors, grad):
        outs, tape = self.forward([t._data for t in tensors],
                                  [t._data for t in self.externals])
        made = [constant(a) for a in outs]
        if grad and self.grad_outputs:
            inputs = tuple(tensors[i] if kind is ARG else self.externals[i]
                           for kind, i in self.inputs)
            call = Call(self, tape, [made[k] for k in self.grad_outputs])
            epoch = clock.now
            for part, k in enumerate(self.grad_outputs):
                t = made[k]
                t.requires_grad = True
                t._op, t._inputs, t._params = self.op, inputs, call.params[part]
                t._epoch = epoch
        leaves = []
        for kind, what in self.results:
            if kind == "op":
                leaves.append(made[what])
            elif kind is ARG:
                leaves.append(tensors[what])
            elif kind is EXT:
                leaves.append(self.externals[what])
            else:
                leaves.append(constant(np.array(what)))
        return rebuild(self.tree, leaves)



def _call_backward(gs, y, *xs, part, parts, retain_graph):
    """The call's op's rule: the planned backward of the call (``parts``) the outputs share."""
    return parts.backward(gs, retain_graph)


def _no_rule(i, *args, **kwargs):
    raise AutogradError("a compiled call has no per-input rule")


def _no_forward_mode(i, *args, **kwargs):
    raise AutogradError("ag.jvp: forward mode does not go through a compiled function; call "
                        "the function uncompiled (its .fn)")


class Call:
    """One call of a plan, as its outputs' nodes see it: the tape its backward reads."""

    __slots__ = ("plan", "tape", "ids", "params")

    def __init__(self, plan, tape, outputs):
        self.plan, self.tape = plan, tape
        self.ids = [t._id for t in outputs]
        self.params = [{"part": k, "parts": self} for k in range(len(outputs))]

    def __len__(self):
        return len(self.ids)

    def sibling(self, key, part, j):
        return self.ids[j]

    def backward(self, gs, retain_graph):
        plan = self.plan
        if self.tape is None:
            raise AutogradError("backward: the graph through '%s' was already freed by an "
                                "earlier backward(); pass retain_graph=True to the first "
                                "backward() to keep it" % plan.op.name)
        p = plan.program
        G = [None] * len(p.outputs)
        for part, k in enumerate(plan.grad_outputs):
            g = gs[part]
            v = p.outputs[k]
            G[k] = np.zeros(p.shape[v], p.dtype[v]) if g is None else g
        tape = self.tape
        if not retain_graph:
            self.tape = None
        return plan.backward(G, tape)
