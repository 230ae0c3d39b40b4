"""Step-through debugging of gradients: the backward pass one node at a time.

    from autograph import debug
    s = debug.step_backward(loss)          # nothing runs until you step
    step = next(s)                         # the loss itself: grad_out is 1
    s.breakpoints.add("scope:lstm[t=3]*")
    hit = s.run()                          # the first node of time step 3 that backward reaches
    s.finish()                             # the rest: .grad exactly as loss.backward() leaves it
    print(debug.explain(e, b))             # the chain rule path by path
    debug.interact(loss)                   # the same as a pdb-like prompt

The stepper is the engine's own backward loop (``backward.run(..., trace=True)``), so gradients
accumulate in the same order as ``backward()`` and the final ``.grad`` values are identical bit
for bit. Nothing here runs unless you call it: the ordinary backward pays nothing for it.
"""
import cmd
import fnmatch
import re
import sys
from collections.abc import Mapping

import numpy as np

from .backward import grads_of, run, seed
from .errors import AutogradError
from .forward import graph_nodes
from .primitives import dense, sum_to
from .release import is_stand_in
from .tensor import Tensor

MAX_LISTED_PATHS = 32    # explain() lists each path up to this many, else sums them
MAX_LISTED_EDGES = 2000  # ... and when listing them writes at most about this many factors


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

    op = property(lambda self: self.node.op_name or ("input" if self.node.requires_grad else "const"))
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

    The graph is kept while stepping (so a paused pass can still be inspected) and freed at the
    end unless ``retain_graph``, as ``backward()`` frees it. ``steps`` holds every step so far;
    ``hit`` says which breakpoint stopped the last ``run``.
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
        # deposit=False: no .grad is touched (the HTML player), same loop and same order
        extra = {} if deposit else {"inputs": (), "found": {}}
        self._events = run(loss, g, retain_graph=True, create_graph=False, trace=True, **extra)
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
            sent[i] = dense(gi)
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
        if not self.retain_graph:
            for step in self.steps:
                step.node._inputs = step.node._params = None


def step_backward(loss, gradient=None, retain_graph=False):
    """The backward pass of ``loss`` as an iterator of ``Step`` events, one per node in the
    order ``backward()`` visits them. Nothing runs until you step."""
    return Stepper(loss, gradient, retain_graph)


# -- text helpers ----------------------------------------------------------------------------
def norm(a):
    """Frobenius norm in float64."""
    a = np.asarray(a, dtype=np.float64)
    return float(np.sqrt(np.vdot(a, a).real)) if a.size else 0.0


def num(x):
    x = float(x)
    return "%.4g" % x if np.isfinite(x) else ("NaN" if x != x else ("Inf" if x > 0 else "-Inf"))


def label(t):
    """A node as people read it: its name, else ``op#id`` (``input#id`` for leaves)."""
    if t.name is not None:
        return str(t.name)
    return "%s#%d" % (t.op_name or ("input" if t.requires_grad else "const"), t._id)


def shape_text(shape):
    return "[%s]" % ",".join(str(n) for n in shape)


def stats(a):
    """Small arrays in full, large ones as shape, min, mean, max and norm."""
    if is_stand_in(a):
        return "%s released (no derivative reads it; set keep_values on a layer to keep it)" \
            % shape_text(a.shape)
    a = np.asarray(a)
    if a.size <= 6:
        return "[%s]" % ", ".join(num(v) for v in a.reshape(-1)) if a.ndim else num(a)
    f = a.astype(np.float64)
    return "%s min %s mean %s max %s ‖·‖ %s%s" % (
        shape_text(a.shape), num(np.nanmin(f)), num(np.nanmean(f)), num(np.nanmax(f)), num(norm(f)),
        "  (%d NaN)" % np.isnan(f).sum() if np.isnan(f).any() else "")


def describe(t, g=None):
    """One line: label, op, scope, shape and, given a gradient, its norm."""
    text = "%s = %s%s %s" % (label(t), t.op_name or ("input" if t.requires_grad else "const"),
                             "  " + t._scope if t._scope else "", shape_text(t.shape))
    if g is not None:
        text += "  ‖grad‖ %s" % num(norm(g))
    return text


# -- explain ---------------------------------------------------------------------------------
def local(node, p):
    """d node / d input_p for scalars: the op's vjp rule applied to g = 1."""
    x = node._inputs[p]
    args = [i.data for i in node._inputs]
    g = np.ones_like(node.data)
    gi = node._op.vjp[p](g, node.data, *args, **node._params) if node._params else node._op.vjp[p](
        g, node.data, *args)
    gi = np.asarray(dense(gi))
    return float((sum_to(gi, x.shape) if gi.shape != x.shape else gi).reshape(()))


class PathGraph:
    """The part of a graph on paths from ``wrt`` to ``output``: ``nodes`` in creation order,
    ``edges[k]`` the (input position, input id) pairs of node k on paths, ``count`` the number
    of paths (by dynamic programming, so counting never enumerates)."""

    def __init__(self, output, wrt):
        if not isinstance(output, Tensor) or not isinstance(wrt, Tensor):
            raise TypeError("explain: expected two autograph Tensors (output, wrt)")
        if not wrt.requires_grad:
            raise AutogradError("explain: %s does not require grad, so no gradient flows to it; "
                                "create it with requires_grad=True" % label(wrt))
        everything = graph_nodes([output], floor=wrt._id)
        ids = {t._id for t in everything}
        if wrt._id not in ids:
            raise AutogradError("explain: %s does not depend on %s (no path in the graph)"
                                % (label(output), label(wrt)))
        paths = {wrt._id: 1}                     # paths from wrt to each node
        for t in everything:
            if t._op is not None and t._id != wrt._id:
                n = sum(paths.get(x._id, 0) for x in t._inputs)
                if n:
                    paths[t._id] = n
        reaches = {output._id}                   # nodes from which output is reachable
        for t in reversed(everything):
            if t._id in reaches and t._op is not None and t._id != wrt._id:
                reaches.update(x._id for x in t._inputs if x._id in paths)
        self.output, self.wrt = output, wrt
        self.nodes = [t for t in everything if t._id in reaches and t._id in paths]
        self.edges = {t._id: [(p, x._id) for p, x in enumerate(t._inputs) if x._id in reaches
                              and x._id in paths] for t in self.nodes if t._id != wrt._id}
        self.count = paths.get(output._id, 0)
        self.by_id = {t._id: t for t in self.nodes}

    def enumerate(self):
        """Each path as a list of (node, input position) edges from wrt up to output."""
        consumers = {}
        for k, edges in self.edges.items():
            for p, i in edges:
                consumers.setdefault(i, []).append((k, p))
        done, stack = [], [(self.wrt._id, [])]
        while stack:
            k, path = stack.pop()
            if k == self.output._id:
                done.append(path)
                continue
            for c, p in reversed(consumers.get(k, ())):
                stack.append((c, path + [(c, p)]))
        return done


def explain(output, wrt):
    """The chain rule from ``wrt`` to ``output`` as text.

    For a scalar graph: every path, the local derivative on each edge, each path's product and
    their sum, which equals d output / d wrt. For tensor graphs: the VJP applied at each node on
    the paths with shapes and norms, repeated time steps folded into one entry.
    """
    pg = PathGraph(output, wrt)
    if output._id == wrt._id:
        return "d%s/d%s = 1 (the same node)" % (label(output), label(wrt))
    if all(t.data.size == 1 for t in pg.nodes):
        return _explain_scalar(pg)
    return _explain_tensor(pg)


def _explain_scalar(pg):
    out, wrt = label(pg.output), label(pg.wrt)
    grad = float(grads_of(pg.output, [pg.wrt], retain_graph=True)[0].data.reshape(()))
    head = "d%s/d%s" % (out, wrt)
    if pg.count > MAX_LISTED_PATHS or pg.count * len(pg.nodes) > MAX_LISTED_EDGES:
        return ("%s: %d path%s from %s to %s through %d nodes, too many factors to list; their "
                "sum, the backward pass, is %s" % (head, pg.count, "" if pg.count == 1 else "s",
                                                   wrt, out, len(pg.nodes), num(grad)))
    names = {k: label(t) for k, t in pg.by_id.items()}
    symbols, factors, products, lines = [], [], [], []
    for path in pg.enumerate():
        hops, values, prod = [], [], 1.0
        for k, p in reversed(path):             # from output down, as the chain rule reads
            i = pg.by_id[k]._inputs[p]._id
            d = local(pg.by_id[k], p)
            hops.append("d%s/d%s" % (names[k], names[i]))
            values.append(num(d))
            prod *= d
        products.append(prod)
        symbols.append("·".join(hops))
        factors.append("·".join(values))
        route = " → ".join([wrt] + [names[k] for k, _ in path])
        lines.append("  %s : %s = %s = %s" % (route, symbols[-1], factors[-1], num(prod)))
    total = float(np.sum(products))
    text = ["%s = %s" % (head, " + ".join(symbols)),
            "%s = %s" % (" " * len(head), " + ".join(factors)),
            "%s = %s" % (" " * len(head), num(total))] if len(products) <= 4 else [
        "%s = the sum of %d path products = %s" % (head, len(products), num(total))]
    text += ["%d path%s from %s to %s, each the product of the local derivatives on its edges:"
            % (pg.count, "" if pg.count == 1 else "s", wrt, out)]
    text += lines
    text.append("sum of the path products = %s; backward gives %s = %s" % (num(total), head, num(grad)))
    return "\n".join(text)


def time_step(scope):
    """(track, t, scope without the time tag) of a scope path, or None outside a time step."""
    parts = scope.split("/") if scope else []
    for i, part in enumerate(parts):
        m = re.match(r"^(.*)\[(.*)\]$", part)
        if m:
            tags = m.group(2).split(",")
            t = [kv[2:] for kv in tags if kv.startswith("t=")]
            if t and t[0].lstrip("-").isdigit():
                rest = ",".join(kv for kv in tags if not kv.startswith("t="))
                track = "/".join(parts[:i] + [m.group(1) + ("[%s]" % rest if rest else "")])
                return track, int(t[0]), "/".join(parts[i + 1:])
    return None


def _explain_tensor(pg):
    """One line per node on the paths in backward order; runs of time steps doing the same ops
    are folded into one entry."""
    wanted = set(pg.by_id)
    rows = []                                   # (node, grad_out, [(position, contribution)])
    # a non-scalar output is explained as its sum (seeded with ones), as the pictures do
    g = seed(pg.output, None if pg.output.data.size == 1 else np.ones_like(pg.output.data), False)
    for ev in run(pg.output, g, retain_graph=True, create_graph=False, inputs=(), found={},
                  trace=True):
        if ev.node._id in wanted:
            on = {p for p, _ in pg.edges.get(ev.node._id, ())}
            # made dense now: a lazy contribution may become the input's running sum later
            rows.append((ev.node, ev.grad_out,
                         [(p, dense(gi)) for p, gi in ev.contributions if p in on]))
    out, wrt = label(pg.output), label(pg.wrt)
    if pg.output.data.size != 1:
        out = "sum(%s)" % out
    text = ["d%s/d%s through %d nodes and %s path(s) (tensor graph: each node applies its VJP, "
            "g ↦ g·∂node/∂input, to the gradient arriving from the output):"
            % (out, wrt, len(rows), pg.count if pg.count < 10 ** 6 else "%.3g" % pg.count)]
    steps, order = {}, []                       # track -> {t: rows}; what to print, in order
    for row in rows:
        ts = time_step(row[0]._scope)
        if ts is None:
            order.append(row)
            continue
        if ts[0] not in steps:
            steps[ts[0]] = {}
            order.append(ts[0])
        steps[ts[0]].setdefault(ts[1], []).append(row)
    for item in order:
        if not isinstance(item, str):
            text.append("  " + _vjp_line(*item))
            continue
        for ts in _runs(steps[item]):
            block = steps[item][ts[0]]
            if len(ts) == 1:
                text.append("  %s[t=%d]:" % (item, ts[0]))
            else:
                entering = [norm(steps[item][t][0][1]) for t in ts]
                text.append("  %s[t=%d..%d]: same %d ops ×%d (‖g‖ at each step's first node "
                            "from %s to %s); t=%d:" % (item, ts[-1], ts[0], len(block), len(ts),
                                                       num(min(entering)), num(max(entering)), ts[0]))
            text += ["    " + _vjp_line(*r) for r in block]
    grad = grads_of(pg.output, [pg.wrt], g, retain_graph=True)[0]
    text.append("d%s/d%s: %s" % (out, wrt, stats(grad.data)))
    return "\n".join(text)


def _runs(by_t):
    """Time steps, newest first, in runs of consecutive steps that apply the same ops."""
    def signature(t):
        return tuple((r[0].op_name, time_step(r[0]._scope)[2], r[0].shape) for r in by_t[t])
    runs = []
    for t in sorted(by_t, reverse=True):
        if runs and runs[-1][-1] == t + 1 and signature(runs[-1][0]) == signature(t):
            runs[-1].append(t)
        else:
            runs.append([t])
    return runs


def _vjp_line(node, g, sent):
    ins = node._inputs
    norms = [norm(dense(gi)) for _, gi in sent]
    parts = ["%s %s" % (label(ins[p]), num(n)) for (p, _), n in zip(sent, norms)]
    if len(parts) > 6:                           # e.g. a concat of every time step's output
        parts = ["%d inputs, ‖·‖ from %s to %s" % (len(parts), num(min(norms)), num(max(norms)))]
    return "%s %s%s: ‖g‖ %s → %s" % (
        label(node), shape_text(node.shape),
        "  " + node._scope if node._scope else "", num(norm(g)),
        ", ".join(parts) if parts else "(the paths end here)")


# -- the REPL --------------------------------------------------------------------------------
ALIASES = {"s": "step", "n": "next", "c": "continue", "cont": "continue", "b": "break",
           "p": "print", "w": "where", "bt": "where", "l": "list", "q": "quit", "exit": "quit",
           "EOF": "quit", "h": "help", "?": "help"}

class Debugger(cmd.Cmd):
    """A pdb-like prompt over a stepper. Type ``help`` for the commands."""

    prompt = "(agdb) "
    intro = ("Stepping through the backward pass of %s. Commands: step [n], next, continue, "
             "break SPEC, clear [N], print [node], where, list, explain, render FILE, quit "
             "(s n c b p w l q for short); help CMD for more.")

    def __init__(self, loss, stdin=None, stdout=None):
        super().__init__(stdin=stdin, stdout=stdout)
        if stdin is not None:
            self.use_rawinput = False
        self.loss = loss
        self.stepper = Stepper(loss, retain_graph=True)
        self._nodes = None
        self.intro = self.intro % describe(loss)

    # -- helpers
    def say(self, text):
        self.stdout.write(text + "\n")

    def nodes(self):
        """{id: tensor} of the whole graph (built on first use: only the prompt needs it)."""
        if self._nodes is None:
            self._nodes = {t._id: t for t in graph_nodes([self.loss], constants=True)}
        return self._nodes

    def show(self, step):
        self.say("[%d] %s" % (step.index, describe(step.node, step.grad_out)))

    def finished(self):
        leaves = sum(1 for s in self.stepper.steps if s.node._op is None)
        self.say("backward finished: %d steps, .grad set on %d leaves"
                 % (len(self.stepper.steps), leaves))

    def advance(self, test=None):
        """Step once, or until ``test`` or a breakpoint; print where it stopped."""
        s = self.stepper
        if s.done:
            self.finished()
            return
        step = s.run(until=test) if test is not None else next(s, None)
        if step is None:
            self.finished()
            return
        if s.hit is not None and s.hit[0]:
            self.say("breakpoint %d (%s) hit" % s.hit)
        self.show(step)

    def lookup(self, arg):
        """A node by id or by name (the current node when arg is empty)."""
        arg = arg.strip()
        if not arg:
            if self.stepper.current is None:
                self.say("no current node yet: type step")
            return self.stepper.current.node if self.stepper.current else None
        nodes = self.nodes()
        if arg.lstrip("#").isdigit() and int(arg.lstrip("#")) in nodes:
            return nodes[int(arg.lstrip("#"))]
        named = [t for t in nodes.values() if t.name == arg or label(t) == arg]
        if not named:
            self.say("no node %r in the graph; give an id (as in [3] mul#57) or a name" % arg)
            return None
        return named[0]

    # -- commands
    def do_step(self, arg):
        """step [n]: run n nodes of the backward pass (1 by default), stopping at breakpoints."""
        n = int(arg) if arg.strip().isdigit() else 1
        if n == 1:
            self.advance()
            return
        count = [0]

        def nth(step):
            count[0] += 1
            return count[0] >= n
        self.advance(nth)

    def do_next(self, arg):
        """next: run to the first node of the next time step (or the next scope)."""
        cur = self.stepper.current
        if cur is None:
            self.advance()
            return
        here = time_step(cur.scope)
        here = here[:2] if here else cur.scope
        self.advance(lambda st: (time_step(st.scope) or (None, None))[:2] != here
                     if isinstance(here, tuple) else st.scope != here)

    def do_continue(self, arg):
        """continue: run to the next breakpoint or the end."""
        s = self.stepper
        if s.done:
            self.finished()
            return
        step = s.run()
        if step is None:
            self.finished()
            return
        self.say("breakpoint %d (%s) hit" % s.hit)
        self.show(step)

    def do_break(self, arg):
        """break [SPEC]: add a breakpoint (nan, inf, norm>1e3, scope:lstm[t=3]*, name:h_5,
        op:tanh); without SPEC list them. clear N removes one."""
        arg = arg.strip()
        if not arg:
            listed = list(self.stepper.breakpoints)
            self.say("\n".join("%d: %s" % b for b in listed) if listed else "no breakpoints")
            return
        try:
            n = self.stepper.breakpoints.add(arg)
        except ValueError as err:
            self.say(str(err))
            return
        self.say("breakpoint %d: %s" % (n, arg))

    def do_clear(self, arg):
        """clear [N]: remove breakpoint N (all without N)."""
        if not arg.strip():
            self.stepper.breakpoints.clear()
            self.say("all breakpoints removed")
            return
        try:
            self.stepper.breakpoints.remove(int(arg))
            self.say("breakpoint %s removed" % arg.strip())
        except (KeyError, ValueError) as err:
            self.say(str(err).strip("'\""))

    def do_print(self, arg):
        """print [node]: value, gradient and their statistics (the current node by default;
        a node is an id or a name)."""
        t = self.lookup(arg)
        if t is None:
            return
        self.say(describe(t))
        self.say("  value: %s" % stats(t.data))
        g = self.stepper.grad(t)
        self.say("  grad:  %s" % (stats(g) if g is not None else
                                   "not complete yet (backward has not reached this node)"))

    def do_where(self, arg):
        """where: the path from the loss down to the current node."""
        t = self.lookup(arg)
        if t is None:
            return
        parent, queue = {self.loss._id: None}, [self.loss]
        for node in queue:                       # breadth first: the shortest path
            if node._id == t._id:
                break
            for x in node._inputs or ():
                if x._id not in parent:
                    parent[x._id] = node
                    queue.append(x)
        chain, k = [], t
        while k is not None:
            chain.append(k)
            k = parent.get(k._id)
        for depth, node in enumerate(reversed(chain)):
            self.say("%s%s" % ("  " * depth, describe(node, self.stepper.grad(node))))

    def do_list(self, arg):
        """list: the current node's inputs (with the gradient sent to each) and its consumers."""
        t = self.lookup(arg)
        if t is None:
            return
        self.say(describe(t, self.stepper.grad(t)))
        step = next((s for s in reversed(self.stepper.steps) if s.node is t), None)
        for i, x in enumerate(t._inputs or ()):
            sent = step.grad_inputs[i] if step is not None else None
            self.say("  input %d: %s%s" % (i, describe(x), "" if sent is None else
                                           "  ← sent ‖·‖ %s" % num(norm(sent))))
        users = [u for u in self.nodes().values() if any(x is t for x in u._inputs or ())]
        for u in users:
            self.say("  used by: %s" % describe(u, self.stepper.grad(u)))

    def do_explain(self, arg):
        """explain [node]: the chain rule from the node (the current one by default) to the loss."""
        t = self.lookup(arg)
        if t is not None:
            try:
                self.say(explain(self.loss, t))
            except AutogradError as err:
                self.say(str(err))

    def do_render(self, arg):
        """render FILE: an SVG of the graph, the current node highlighted and visited nodes
        coloured by their gradient."""
        path = arg.strip()
        if not path:
            self.say("render needs a file name, e.g. render graph.svg")
            return
        from viz.player import render_steps        # pictures are optional: imported on use
        try:
            render_steps(self.loss, self.stepper.steps, path)
        except AutogradError as err:
            self.say(str(err))
            return
        self.say("wrote %s" % path)

    def do_quit(self, arg):
        """quit: leave the debugger (the rest of the backward pass does not run)."""
        return True

    def precmd(self, line):
        word, _, rest = line.strip().partition(" ")
        word = ALIASES.get(word, word)
        return "%s %s" % (word, rest) if rest else word

    def default(self, line):
        self.say("unknown command %r; type help" % line)

    def emptyline(self):
        return None


def interact(loss, stdin=None, stdout=None):
    """A pdb-like prompt on the backward pass of ``loss`` (reads stdin unless given a file).
    Running it to the end leaves the ``.grad`` values of ``loss.backward()``; the graph is kept,
    so it can still be drawn or stepped again."""
    Debugger(loss, stdin, stdout if stdout is not None else sys.stdout).cmdloop()
