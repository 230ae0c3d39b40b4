"""The backward pass one node at a time: steps, breakpoints, the stepper.

The stepper is the engine's own backward loop (``backward.run(..., trace=True)``), so gradients
accumulate in the same order as ``backward()`` and the final ``.grad`` values are identical bit
for bit. Nothing here runs unless you call it: the ordinary backward pays nothing for it.
"""
import fnmatch
import re
from collections.abc import Mapping

import numpy as np

from ..backward import run, seed
from ..tensor import Tensor, mark_done
from .text import describe, norm, op_text


# -- steps -----------------------------------------------------------------------------------
class Step:
    """One node of the backward pass.

    ``node`` is the tensor (``op``, ``id``, ``scope``, ``shape`` and ``name`` are shortcuts to
    it), ``grad_out`` its complete gradient d loss / d node, ``inputs`` its input tensors and
    ``grad_inputs[i]`` the contribution it sent to input i (None where no gradient flows),
    ``accumulated`` the completed gradients so far ({node id: array}, this node included) and
    ``index`` its position in the backward order (0 is the loss).
    """

    __slots__ = ("index", "node", "inputs", "grad_out", "grad_inputs", "accumulated")

    def __init__(self, index, node, inputs, grad_out, grad_inputs, accumulated):
        self.index, self.node, self.inputs = index, node, inputs
        self.grad_out, self.grad_inputs, self.accumulated = grad_out, grad_inputs, accumulated

    op = property(lambda self: op_text(self.node))
    id = property(lambda self: self.node._id)
    scope = property(lambda self: self.node._scope)
    shape = property(lambda self: self.node.shape)
    name = property(lambda self: self.node.name)

    @property
    def norm(self):
        """‖grad_out‖ (float64; NaN or Inf when the gradient has one)."""
        return norm(self.grad_out)

    def __repr__(self):
        return "<Step %d: %s>" % (self.index, describe(self.node, self.grad_out))


class Accumulated(Mapping):
    """{node id: gradient} of the nodes completed up to one step: a view, not a copy, so that
    keeping every step of a long backward pass costs O(1) per step."""

    __slots__ = ("_order", "_grads", "_upto")

    def __init__(self, order, grads, upto):
        self._order, self._grads, self._upto = order, grads, upto

    def __getitem__(self, key):
        if key in self._grads and self._grads[key][0] < self._upto:
            return self._grads[key][1]
        raise KeyError(key)

    def __iter__(self):
        return iter(self._order[:self._upto])

    def __len__(self):
        return self._upto


# -- breakpoints -----------------------------------------------------------------------------
_NORM = re.compile(r"^norm\s*(>=|<=|>|<)\s*([-+0-9.eE]+|inf)$")
_COMPARE = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal}
KINDS = ('"nan", "inf", "norm>1e3" (also >=, <, <=), "scope:<glob>", "name:<glob>", "op:<name>" '
         'or a callable taking a Step')


def glob(pattern):
    """An fnmatch pattern in which only ``*`` and ``?`` are wildcards: ``lstm[t=3]*`` matches
    the scope ``lstm[t=3]/forget_gate`` literally instead of reading ``[t=3]`` as a set."""
    escaped = re.sub(r"[\[\]]", lambda m: "[%s]" % m.group(0), pattern)
    return lambda text: text is not None and fnmatch.fnmatchcase(str(text), escaped)


def _nonfinite(test):
    def check(step):
        if step.grad_out is not None and test(step.grad_out).any():
            return True
        return any(g is not None and test(g).any() for g in step.grad_inputs)
    return check


def breakpoint_test(spec):
    """A predicate on Steps for a breakpoint spec (see ``KINDS``)."""
    if callable(spec):
        return spec
    if not isinstance(spec, str):
        raise TypeError("breakpoint: expected a string or a callable, got %s; use one of %s"
                        % (type(spec).__name__, KINDS))
    text = spec.strip()
    if text == "nan":
        return _nonfinite(np.isnan)
    if text == "inf":
        return _nonfinite(np.isinf)
    m = _NORM.match(text)
    if m:
        compare, limit = _COMPARE[m.group(1)], float(m.group(2))
        return lambda step: bool(compare(step.norm, limit))
    kind, _, pattern = text.partition(":")
    if pattern and kind == "scope":
        match = glob(pattern)
        return lambda step: match(step.scope)
    if pattern and kind == "name":
        match = glob(pattern)
        return lambda step: match(step.name)
    if pattern and kind == "op":
        return lambda step: step.op == pattern
    raise ValueError("breakpoint: cannot read %r; use one of %s" % (spec, KINDS))


class Breakpoints:
    """The breakpoints of a stepper: ``add(spec)`` returns its number, ``remove(number)``."""

    def __init__(self):
        self._items = {}
        self._next = 1

    def add(self, spec):
        test = breakpoint_test(spec)
        n, self._next = self._next, self._next + 1
        self._items[n] = (spec if isinstance(spec, str) else getattr(spec, "__name__", repr(spec)), test)
        return n

    def remove(self, number):
        if self._items.pop(number, None) is None:
            raise KeyError("no breakpoint %s; the breakpoints are %s" % (number, sorted(self._items)))

    def clear(self):
        self._items.clear()

    def __len__(self):
        return len(self._items)

    def __iter__(self):
        return ((n, spec) for n, (spec, _) in self._items.items())

    def first_hit(self, step):
        """(number, spec) of the first breakpoint that ``step`` hits, or None."""
        for n, (spec, test) in self._items.items():
            if test(step):
                return n, spec
        return None


# -- the stepper -----------------------------------------------------------------------------
class Stepper:
    """The backward pass of ``loss`` as an iterator of ``Step`` events (see ``step_backward``).

    The graph is kept while stepping (so a paused pass can still be inspected) and marked done
    at the end unless ``retain_graph``, as ``backward()`` marks it (a second backward raises). ``steps`` holds every step so far;
    ``hit`` says which breakpoint stopped the last ``run``.

    On a graph that a backward pass already went through, the pass is stepped again without
    touching any ``.grad`` (``backward()`` deposited them already): ``again`` is True.
    """

    def __init__(self, loss, gradient=None, retain_graph=False, deposit=True):
        if not isinstance(loss, Tensor):
            raise TypeError("step_backward: expected an autograph Tensor, got %s" % type(loss).__name__)
        self.loss = loss
        self.retain_graph = retain_graph
        self.breakpoints = Breakpoints()
        self.steps = []
        self.hit = None
        self._order = []           # node ids in backward order
        self._grads = {}           # node id -> (step index, gradient)
        g = seed(loss, gradient, False)
        self.again = loss._op is not None and loss._epoch < 0
        # deposit=False: no .grad is touched (the HTML player), same loop and same order
        extra = {} if deposit and not self.again else {"inputs": (), "found": {}}
        self._events = run(loss, g, retain_graph=True, create_graph=False, trace=True,
                           again=self.again, **extra)
        self.done = False

    def __iter__(self):
        return self

    def __next__(self):
        if self.done:
            raise StopIteration
        try:
            ev = next(self._events)
        except StopIteration:
            self._end()
            raise
        node, index = ev.node, len(self.steps)
        inputs = node._inputs or ()
        sent = [None] * len(inputs)
        for i, gi in ev.contributions:
            sent[i] = gi
        self._order.append(node._id)
        self._grads[node._id] = (index, ev.grad_out)
        step = Step(index, node, inputs, ev.grad_out, sent,
                    Accumulated(self._order, self._grads, index + 1))
        self.steps.append(step)
        return step

    @property
    def current(self):
        """The last step taken, or None before the first."""
        return self.steps[-1] if self.steps else None

    def grad(self, node_or_id):
        """The completed gradient of a node, or None if backward has not reached it yet."""
        key = node_or_id._id if isinstance(node_or_id, Tensor) else node_or_id
        got = self._grads.get(key)
        return None if got is None else got[1]

    def run(self, until=None):
        """Step until ``until`` (a callable or a breakpoint spec) or a breakpoint hits; return
        that step, or None when the pass ends first."""
        once = None if until is None else breakpoint_test(until)
        for step in self:
            self.hit = self.breakpoints.first_hit(step) if len(self.breakpoints) else None
            if self.hit is None and once is not None and once(step):
                self.hit = (0, until if isinstance(until, str) else "until")
            if self.hit is not None:
                return step
        self.hit = None
        return None

    def finish(self):
        """Run the remaining steps, ignoring breakpoints; return every step taken."""
        for _ in self:
            pass
        return self.steps

    def _end(self):
        self.done = True
        if not self.retain_graph and not self.again:
            for step in self.steps:
                if step.node._op is not None:
                    mark_done(step.node)


def step_backward(loss, gradient=None, retain_graph=False):
    """The backward pass of ``loss`` as an iterator of ``Step`` events, one per node in the
    order ``backward()`` visits them. Nothing runs until you step."""
    return Stepper(loss, gradient, retain_graph)
