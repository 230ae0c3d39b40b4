"""Python source for a program's forward and backward, compiled once with ``compile()``.

The forward is ``forward(A, E) -> (outputs, tape)`` on the arguments' arrays ``A`` and the
externals' arrays ``E``; the backward is ``backward(G, tape) -> input gradients`` on the
outputs' gradients (zeros for an output no gradient reached). Both are straight-line code with a
Python ``for`` loop per loop of the program (loops.py), steps indexed by ``k``; what goes where
was decided by the plan (plan.py), and the common ops are written by templates (kernels.py),
the others call the table's own forward and rules.

Names in the generated code:

==================  ====================================================================
``v12``             value 12 outside loops (arguments, externals, constants, nodes)
``b2_5``            loop 2, body position 5: the current step's value
``S2_5``            the stack of every step's value of position 5 (``S2_5v[k]``: step k's
                    slot, in step order; for a carried value slot k is step k's input and
                    slot k + 1 its output)
``s2_5[k]``         position 5 of step k, kept in a list (where no stack holds it)
``c2_5``            the value of position 5 carried from the step before
``t2_5_1[k]``       input 1 of position 5 at step k, one value per step made before the loop
``i2_5_1``          input 1 of position 5, the same on every step
``T2_5``, ``W3``    position 5's buffer for all steps; a kernel's scratch buffer
``K7``, ``R7_1``    node 7's forward, the rule of its input 1 (the table's, node 7's params)
``g12``, ``gb2_5``  gradients of v12 and b2_5 (``gs2_5[k]``: what reaches step k of
                    position 5 from outside the loop; ``cg2_5``: from step k + 1, ``ng2_5``:
                    what step k sends to step k - 1; ``gt2_5_1[k]``: to a stream's value)
``GX9``, ``GS2_5``  the gradient of split input v9, assembled in place by its parts' rules;
                    the stack of position 5's gradients, for the weight's one product
==================  ====================================================================
"""
import functools

import numpy as np

from .. import rules as R
from ..tensor import stand_in
from . import kernels as KN
from .loops import Loop
from .plan import Plan, VIEWS
from .trace import DETACH


def fit(c, shape):
    """A contribution summed down to its input's shape (broadcasting undone)."""
    return c if c.shape == shape else R.sum_to(c, shape)


class Source:
    """Indented lines of Python."""

    def __init__(self):
        self.lines, self.depth = [], 1

    def add(self, line):
        self.lines.append("    " * self.depth + line)


class Emitter:
    def __init__(self, program):
        self.p = p = program
        self.plan = Plan(p)
        self.items = self.plan.items
        self.ns = {"np": np, "fit": fit}
        self.src = None
        self.names = 0
        self.consts = {}
        self.scratches = {}
        self.override_shape = None
        self.loop = None                # the loop being written, if any
        # loop positions kept in per-step lists: read after their loop, not in a stack
        plan = self.plan
        self.lists = {plan.loop_of[k][::2] for k in plan.stored if k in plan.foreign or
                      plan.storage.get(plan.root(k)[0]) not in ("stack", "rstack")}
        self.tape, self._tape = [], set()
        self.standins = {}
        kinds = {p.dtype[v] for v in range(len(p.kind)) if p.dtype[v].kind in "fc"}
        self.uniform = len(kinds) <= 1  # one float dtype everywhere: buffers may be reused
        self.groups = self._split_groups()

    # -- small helpers for templates ----------------------------------------------------------
    def add(self, line):
        self.src.add(line)

    def fresh(self):
        self.names += 1
        return "x%d" % self.names

    def const(self, value):
        """A name for a constant array (bound once in the namespace)."""
        key = (value.dtype.str, value.shape, value.tobytes())
        name = self.consts.get(key)
        if name is None:
            name = self.consts[key] = "C%d" % len(self.consts)
            self.ns[name] = value
        return name

    def one(self, v):
        return np.ones((), self.p.dtype[v])

    def index(self, index):
        name = "I%d" % len(self.ns)
        self.ns[name] = index
        return name

    def shape_of(self, expr, v):
        return self.override_shape or self.p.shape[v]

    def scratch(self, v, shape=None):
        """A buffer of v's shape (or ``shape``) and dtype for a kernel's intermediate, allocated
        once per call (before the loop being written)."""
        shape = shape or self.override_shape or self.p.shape[v]
        key = (self.loop_key(), shape, self.p.dtype[v].str)
        name = self.scratches.get(key)
        if name is None:
            name = self.scratches[key] = "W%d" % len(self.scratches)
            self.prologue.append("%s = np.empty(%r, %r)" % (name, shape, key[2]))
        return name

    def loop_key(self):
        return None if self.loop is None else self.loop.start

    def on_tape(self, name):
        base = name.split("[", 1)[0].split(".", 1)[0]
        if base not in self._tape and not base.startswith(("Z", "C", "I")):
            self._tape.add(base)
            self.tape.append(base)
        return name

    def standin(self, v):
        key = (self.p.shape[v], self.p.dtype[v].str)
        name = self.standins.get(key)
        if name is None:
            name = self.standins[key] = "Z%d" % len(self.standins)
            self.ns[name] = stand_in(*key)
        return name

    def scalar(self, v):
        return self.plan.scalar(v)

    # -- split groups outside loops: one statement for all parts --------------------------------
    def _split_groups(self):
        """Outside loops, the parts of a split recorded together: {first part's value:
        [values of every part]}."""
        out, nodes = {}, self.p.nodes
        i = 0
        while i < len(nodes):
            node = nodes[i]
            if node.op is R.split and node.params["part"] == 0 and \
                    node.out not in self.plan.loop_of:
                parts = node.params["parts"]
                run = nodes[i:i + len(parts)]
                if len(run) == len(parts) and all(
                        n.op is R.split and n.ins[0] == node.ins[0] and
                        n.params["parts"] is parts and n.params["part"] == k
                        for k, n in enumerate(run)):
                    out[node.out] = [n.out for n in run]
                    i += len(parts)
                    continue
            i += 1
        return out

    # -- how forward values are named -----------------------------------------------------------
    def value(self, v):
        """Value v as code outside its loop names it (after the loop: any step's value)."""
        w = self.plan.loop_of.get(v)
        if w is None:
            return "v%d" % v
        m, k, j = w
        if k == self.p.loops[m].n - 1:
            return "b%d_%d" % (m, j)        # the loop's variable holds its last step's
        return self.step_value(m, j, str(k))

    def step_value(self, m, j, k):
        """Position j of loop m at step ``k`` (an expression), from what the loop keeps."""
        plan = self.plan
        key = self.p.loops[m].outs[0][j]
        root, part = plan.root(key)
        store = plan.storage.get(root)
        if store in ("stack", "rstack") and key not in plan.foreign:
            slot = "S%d_%dv[%s%s]" % (m, plan.position(root), k,
                                      " + 1" if store == "rstack" else "")
            if part is not None:
                return "%s[%s]" % (slot, self._part_index(key))
            return slot
        self.lists.add((m, j))
        return "s%d_%d[%s]" % (m, j, k)

    def _part_index(self, key):
        """The index of the columns a split part (or a member of a joined run) takes."""
        plan = self.plan
        node = plan.node[key]
        while node.op is not R.split:
            node = plan.node[plan.key(node.ins[0])]
        return self.index(node.params["parts"].indices[node.params["part"]])

    # -- the forward ----------------------------------------------------------------------------
    def forward(self):
        p = self.p
        self.src = body = Source()
        self.prologue = []
        self.scratches = {}
        head = ["def forward(A, E):"]
        for a, v in p.args:
            head.append("    v%d = %s" % (v, "float(A[%d])" % a if self.scalar(v) else
                                          "A[%d]" % a))
        for e, v in p.exts:
            head.append("    v%d = %s" % (v, "float(E[%d])" % e if self.scalar(v) else
                                          "E[%d]" % e))
        for v in p.consts:
            self.ns["V%d" % v] = p.data[v]
            head.append("    v%d = %s" % (v, "float(V%d)" % v if self.scalar(v) else
                                          "V%d" % v))
        skip = set()
        for item in self.items:
            if type(item) is Loop:
                self.forward_loop(item)
                continue
            if item.out in skip:
                continue
            group = self.groups.get(item.out)
            if group is not None:
                skip.update(group)
                name = "P%d" % item.out     # named by its first part: x may be split twice
                self.ns["I" + name] = item.params["parts"].indices
                body.add("%s = [v%d[i] for i in I%s]" % (name, item.ins[0], name))
                body.add("%s = %s" % (", ".join("v%d" % v for v in group) + ",", name))
                continue
            steps = self._steps_joined(item)
            if steps is not None:           # every step's value, in the stack's order
                m, j, first, _ = steps
                body.add("v%d = S%d_%d[%d:%d].reshape(%r)" % (
                    item.out, m, j, first, first + p.loops[m].n, p.shape[item.out]))
                continue
            self.forward_node(item, "v%d" % item.out, [self.value(v) for v in item.ins],
                              self._top_out(item))
        outs = []
        for v in p.outputs:
            e = self.value(v)
            if self.scalar(v) or p.shape[v] == ():
                e = "np.asarray(%s)" % e
            elif self._on_tape_memory(v):
                e = "np.array(%s)" % e      # the backward reads that memory: the caller's copy
            outs.append(e)
        body.add("return (%s,), (%s)" % (", ".join(outs), "".join(
            t + ", " for t in self.tape)))
        return "\n".join(head + ["    " + line for line in self.prologue] + body.lines) + "\n"

    def _on_tape_memory(self, v):
        """Value v lives in memory the backward reads (a kept value, or a stack on the tape)."""
        plan = self.plan
        while True:
            key = plan.key(v)
            if v in plan.loop_of:
                m = plan.loop_of[v][0]
                root, _ = plan.root(key)
                if plan.storage.get(root) in ("stack", "rstack"):
                    base = "S%d_%d" % (m, plan.position(root))
                    return base in self._tape or base + "v" in self._tape
                return key in plan.foreign
            node = plan.node.get(v)
            if node is None:
                return False
            if "v%d" % v in self._tape:
                return True
            if node.op in VIEWS:
                v = node.ins[0]
            elif v in plan.inplace:
                v = node.ins[plan.inplace[v]]
            else:
                return False

    def _steps_joined(self, node):
        """(loop, position, first slot, steps reversed) when node concatenates every step's
        value of one loop position along its first axis, in the order its stack holds them:
        then the concatenation is a view of the stack."""
        plan = self.plan
        if node.op is not R.concat or node.params["axis"] != 0:
            return None
        where = [plan.loop_of.get(v) for v in node.ins]
        if None in where or len({(w[0], w[2]) for w in where}) != 1:
            return None
        m, _, j = where[0]
        n = self.p.loops[m].n
        key = self.p.loops[m].outs[0][j]
        store = plan.storage.get(key)
        if store not in ("stack", "rstack") or plan.root(key) != (key, None) or \
                len(where) != n or not self.p.shape[key]:
            return None
        steps = [w[1] for w in where]
        sign = plan.orient[m]
        if steps != (list(range(n)) if sign > 0 else list(range(n - 1, -1, -1))):
            return None
        return m, j, 1 if store == "rstack" and sign > 0 else 0, sign < 0

    def _steps_unreached(self, steps):
        """No step of the position has a gradient from outside its loop yet, but the last."""
        m, j, _, _ = steps
        loop = self.p.loops[m]
        return not any("gs%d_%d[%d]" % (m, j, k) in self.has for k in range(loop.n))

    def _top_out(self, node):
        q = self.plan.inplace.get(node.out)
        return None if q is None else self.value(node.ins[q])

    def forward_node(self, node, target, args, out, streamed=None):
        """Lines assigning ``target`` the value of ``node`` on ``args``."""
        if node.op is DETACH:
            self.add("%s = %s" % (target, args[0]))
            return
        if self.scalar(node.out) and node.op in KN.SCALAR_FORWARD and not streamed and \
                all(self.scalar(v) for v in node.ins):
            self.add("%s = %s" % (target, KN.SCALAR_FORWARD[node.op] % tuple(args)))
            return
        template = None if streamed else KN.forward_template(self, node)
        if template is not None and not any(self.scalar(v) for v in node.ins):
            template(self, node, target, args, out)
            return
        args = ["np.float64(%s)" % a if self.scalar(v) else a for a, v in zip(args, node.ins)]
        name = self.kernel(node, streamed)
        extra = "".join(", %s=P%d_%s[k]" % (key, node.out, key) for key in streamed or ())
        call = "%s(%s%s)" % (name, ", ".join(args), extra)
        if self.scalar(node.out):
            call = "float(%s)" % call
        self.add("%s = %s" % (target, call))
        if out is not None and not self.scalar(node.out):
            # the plan gave it a buffer: the table's forward made a new array
            self.add("np.copyto(%s, %s)" % (out, target))
            self.add("%s = %s" % (target, out))

    def kernel(self, node, streamed=None):
        name = "K%d" % node.out
        params = node.params
        if streamed:
            params = {k: v for k, v in params.items() if k not in streamed}
            for key, values in streamed.items():
                self.ns["P%d_%s" % (node.out, key)] = values
        self.ns[name] = functools.partial(node.op.forward, **params) if params else \
            node.op.forward
        return name

    def forward_loop(self, loop):
        p, plan = self.p, self.plan
        m = p.loops.index(loop)
        n, L = loop.n, len(loop)
        sign = plan.orient[m]
        self.loop = loop
        outer = self.src
        pre = Source()
        self.src = pre
        carried = {}
        for j, row in enumerate(loop.refs):
            for q, ref in enumerate(row):
                if ref.kind == "stream":
                    self.add("t%d_%d_%d = %s" % (m, j, q, self._stream(ref.values)))
                elif ref.kind == "invariant":
                    self.add("i%d_%d_%d = %s" % (m, j, q, self.value(ref.values[0])))
                elif ref.kind == "carried":
                    carried[ref.pos] = ref.values[0]
        for j in range(L):
            key = loop.outs[0][j]
            store = plan.storage.get(key)
            shape, dtype = p.shape[key], p.dtype[key].str
            if store in ("stack", "rstack"):
                size = n + 1 if store == "rstack" else n
                self.add("S%d_%d = np.empty(%r, %r)" % (m, j, (size,) + shape, dtype))
                self.add("S%d_%dv = list(S%d_%d%s)" % (m, j, m, j, "" if sign > 0 else
                                                       "[::-1]"))
            elif store == "temp":
                self.add("T%d_%d = np.empty(%r, %r)" % (m, j, shape, dtype))
        for pos, v in sorted(carried.items()):
            src = loop.outs[0][pos]
            root, part = plan.root(src)
            if plan.storage.get(root) == "rstack" and part is None:
                self.add("np.copyto(S%d_%dv[0], %s)" % (m, plan.position(root),
                                                         self.value(v)))
            else:
                self.add("c%d_%d = %s" % (m, pos, self.value(v)))
        body = Source()
        body.depth = 2
        self.src = body
        prologue, self.prologue = self.prologue, []
        done = set()
        for j, node in enumerate(loop.body):
            key = loop.outs[0][j]
            if key in done:
                continue
            run = self._run_of(key)
            args = [self._loop_arg(m, loop, j, q, carried) for q in range(len(node.ins))]
            target = "b%d_%d" % (m, j)
            if run is not None:
                self._forward_run(m, loop, run, args)
                done.update(run)
                continue
            self.forward_node(node, target, args, self._loop_out(m, j, key, args),
                              loop.stream_params[j])
        for j in range(L):
            if (m, j) in self.lists:
                body.add("s%d_%d[k] = b%d_%d" % (m, j, m, j))
        for pos in sorted(carried):
            root, part = plan.root(loop.outs[0][pos])
            if not (plan.storage.get(root) == "rstack" and part is None):
                body.add("c%d_%d = b%d_%d" % (m, pos, m, pos))
        for j in sorted(j for mm, j in self.lists if mm == m):
            pre.add("s%d_%d = [None] * %d" % (m, j, n))
        self.src = outer
        for line in pre.lines + ["    " + line for line in self.prologue]:
            outer.lines.append(line if line.startswith("    ") else "    " + line)
        outer.add("for k in range(%d):" % n)
        outer.lines.extend(body.lines)
        self.prologue = prologue
        self.loop = None

    def _stream(self, values):
        """A list of the stream's values: a split's parts by the split's own list."""
        for start, group in self.groups.items():
            if group == list(values):
                return "P%d" % start
            if group == list(reversed(values)):
                return "P%d[::-1]" % start
        return "[%s]" % ", ".join(self.value(v) for v in values)

    def _loop_arg(self, m, loop, j, q, carried):
        ref = loop.refs[j][q]
        if ref.kind == "local":
            return "b%d_%d" % (m, ref.pos)
        if ref.kind == "carried":
            root, part = self.plan.root(loop.outs[0][ref.pos])
            if self.plan.storage.get(root) == "rstack" and part is None:
                return "S%d_%dv[k]" % (m, self.plan.position(root))
            return "c%d_%d" % (m, ref.pos)
        if ref.kind == "stream":
            return "t%d_%d_%d[k]" % (m, j, q)
        return "i%d_%d_%d" % (m, j, q)

    def _loop_out(self, m, j, key, args):
        """Where position j writes: into an input (in place), its stack slot, its buffer, or
        None (a new array)."""
        plan = self.plan
        q = plan.inplace.get(key)
        if q is not None:
            return args[q]
        store = plan.storage.get(key)
        if store == "stack":
            return "S%d_%dv[k]" % (m, j)
        if store == "rstack":
            return "S%d_%dv[k + 1]" % (m, j)
        if store == "temp":
            return "T%d_%d" % (m, j)
        return None

    def _run_of(self, key):
        for run in self.plan.joined:
            if run[0] == key:
                return run
        return None

    def _forward_run(self, m, loop, run, args):
        """One call for adjacent split parts read by the same op, on the joined columns of the
        split's input, in place."""
        plan = self.plan
        first, last = plan.node[run[0]], plan.node[run[-1]]
        split_first = plan.node[plan.key(first.ins[0])]
        split_last = plan.node[plan.key(last.ins[0])]
        x = plan.key(split_first.ins[0])
        parts = split_first.params["parts"]
        a = parts.indices[split_first.params["part"]]
        b = parts.indices[split_last.params["part"]]
        axis = parts.axis
        joined = (slice(None),) * axis + (slice(a[axis].start, b[axis].stop),)
        region = self.fresh()
        self.add("%s = b%d_%d[%s]" % (region, m, plan.position(x), self.index(joined)))
        shape = list(self.p.shape[x])
        shape[axis] = b[axis].stop - a[axis].start
        self.override_shape = tuple(shape)
        KN.forward_template(self, first)(self, first, region, [region], region)
        self.override_shape = None
        for key in run:
            node = plan.node[key]
            self.add("b%d_%d = b%d_%d" % (m, plan.position(key), m,
                                          plan.position(plan.key(node.ins[0]))))

    # -- the backward ---------------------------------------------------------------------------
    def backward(self):
        p = self.p
        self.src = body = Source()
        self.prologue = []
        self.scratches = {}
        self.has = {}               # gradient names written so far -> owned (safe to add into)
        self.bound = {}             # gradient names bound to their home buffer
        self.gs_lists = {}          # (m, j) -> steps whose gradient arrives from outside
        self.accumulators = set()
        self.runs_done = set()          # joined runs whose rule ran as one call
        self._homes_outside()
        for o, v in enumerate(p.outputs):
            if p.grad[v]:
                g = "G[%d]" % o
                self.accumulate(self.grad_name(v), "float(%s)" % g if self.scalar(v) else g,
                                "alias", v)
        skip = set()
        parts_of = {v: group for group in self.groups.values() for v in group}
        for item in reversed(self.items):
            if type(item) is Loop:
                self.backward_loop(item)
            elif item.out not in skip:
                group = parts_of.get(item.out)
                if group is not None:
                    skip.update(group)
                    self.backward_group(self.p.nodes[self.p.node_of[group[0]]], group)
                    continue
                self.backward_node(item)
        grads = []
        for v in p.inputs:
            g = self.grad_name(v)
            if not p.grad[v] or g not in self.has:
                grads.append("None")
            elif self.scalar(v):
                grads.append("np.float64(%s)" % g)
            else:
                grads.append(g)
        body.add("return (%s)" % "".join(g + ", " for g in grads))
        head = ["def backward(G, T):"]
        if self.tape:
            head.append("    %s, = T" % ", ".join(self.tape))
        for (m, j) in sorted(self.gs_lists):
            head.append("    gs%d_%d = [None] * %d" % (m, j, p.loops[m].n))
        return "\n".join(head + ["    " + line for line in self.prologue] + body.lines) + "\n"

    # -- gradients: names, homes, accumulation --------------------------------------------------
    def grad_name(self, v):
        """Where the gradient of value v gathers, as code outside its loop names it."""
        w = self.plan.loop_of.get(v)
        if w is None:
            return "g%d" % v
        m, k, j = w
        if k == self.p.loops[m].n - 1 and self.p.loops[m].outs[0][j] in \
                self.plan.carried_sources:
            return "gl%d_%d" % (m, j)
        self.gs_lists.setdefault((m, j), set()).add(k)
        return "gs%d_%d[%d]" % (m, j, k)

    def _homes_outside(self):
        """The gradients of split inputs outside loops, allocated first so that their parts'
        rules write into them (a split of a part writes into its part of the first's, and a
        value whose rule passes its gradient on unchanged shares its input's buffer)."""
        p, plan = self.p, self.plan
        for v in sorted(plan.split_homes | set(plan.home)):
            if v in plan.loop_of:
                continue
            home = plan.home.get(v)
            kind = None if home is None else home[0]
            g = "g%d" % v
            if kind == "part" and "g%d" % home[1][0] in self.bound:
                self.bound[g] = "g%d[%s]" % (home[1][0], self._part_index(v))
            elif kind == "same" and "g%d" % home[1] in self.bound:
                self.bound[g] = self.bound["g%d" % home[1]]     # the buffer itself
            elif home is None and v in plan.split_homes:
                fill = "empty" if self._written(v) else "zeros"
                self.prologue.append("GX%d = np.%s(%r, %r)" % (v, fill, p.shape[v],
                                                              p.dtype[v].str))
                self.bound[g] = "GX%d" % v
            else:
                continue
            self.prologue.append("%s = %s" % (g, self.bound[g]))

    def _written(self, x):
        """Every element of x's gradient is written by some rule: each part of its split gets a
        gradient, and each part that is split again, all of its own parts."""
        p, plan = self.p, self.plan
        parts = [node.out for node in p.nodes if node.op is R.split and node.ins[0] == x]
        first = plan.node.get(plan.key(parts[0])) if parts else None
        if first is None or len(parts) < len(first.params["parts"]):
            return False
        for v in parts:
            if not p.grad[v] or not (plan.reads.get(v) or v in plan.home):
                return False
            if v in plan.split_homes and not self._written(v):
                return False
        return True

    def _dests(self, targets):
        """{input position: buffer its contribution is written into}: the first contribution
        to a gradient with a home, only (an op may read one value twice: x - x)."""
        out, seen = {}, set()
        for q in sorted(targets):
            t = targets[q]
            out[q] = None if t in seen else self.dest_for(t)
            seen.add(t)
        return out

    def dest_for(self, target):
        """The buffer a first contribution to ``target`` must be written into, or None."""
        if target in self.bound and target not in self.has:
            return target
        return None

    def accumulate(self, target, expr, kind, v):
        """Add a contribution to the gradient ``target`` of value v (the first assigns)."""
        if expr is None:
            return
        if self.scalar(v):
            if target in self.has:
                self.add("%s = %s + %s" % (target, target, expr))
            else:
                self.add("%s = %s" % (target, expr))
                self.has[target] = False
            return
        if target not in self.has:
            if target in self.bound:
                if kind != "written" and expr != target and \
                        self.bound.get(expr, expr) != self.bound[target]:
                    self.add("np.copyto(%s, %s)" % (target, expr))
                self.has[target] = True
            else:
                self.add("%s = %s" % (target, expr))
                self.has[target] = kind == "fresh" and self.uniform
            return
        if self.has[target]:
            self.add("np.add(%s, %s, out=%s)" % (target, expr, target))
        else:
            self.add("%s = %s + %s" % (target, target, expr))
            self.has[target] = self.uniform

    def saved(self, node, refs, value_of):
        """(y, xs) for node's rules: the values they read (as the plan kept them), stand-ins
        for the others."""
        reads = self.plan.rule_reads(node, refs)
        y = value_of("y") if "y" in reads else self.standin(node.out)
        xs = [value_of(q) if q in reads else self.standin(v) for q, v in enumerate(node.ins)]
        return y, xs

    def contributions(self, node, g, y, xs, want, dests, consume, streamed=None):
        """{input position: (expression, kind)} of node's rules for the positions in want."""
        p = self.p
        template = None if streamed else KN.backward_template(self, node)
        if self.scalar(node.out) and node.op in KN.SCALAR_BACKWARD and not streamed and \
                all(self.scalar(v) for v in node.ins):
            forms = KN.SCALAR_BACKWARD[node.op]
            names = {"g": g}
            names.update(("x%d" % q, x) for q, x in enumerate(xs))
            return {q: ("(%s)" % (forms[q] % names), "fresh") for q in want}
        if template is None or self.scalar(node.out) or any(self.scalar(v) for v in node.ins):
            return self._generic(node, g, y, xs, want, streamed)
        # an elementwise rule's contribution has the output's shape: broadcasting is undone
        # after it (matrix products give their inputs' shapes, and the added term the output's)
        summed = {q for q in want if p.shape[node.ins[q]] != p.shape[node.out] and
                  (node.op not in (R.matmul, R.addmm) or q == 0 and node.op is R.addmm)}
        dests = {q: d for q, d in dests.items() if q not in summed}
        out = template(self, node, g, y, xs, want, dests, consume and not summed)
        for q in summed:
            out[q] = ("fit(%s, %r)" % (out[q][0], p.shape[node.ins[q]]), "fresh")
        return out

    def _generic(self, node, g, y, xs, want, streamed):
        """The table's rules, called as the eager loop calls them."""
        op = node.op
        params = node.params or {}
        extra = ""
        if streamed:
            params = {k: v for k, v in params.items() if k not in streamed}
            for key, values in streamed.items():
                self.ns["P%d_%s" % (node.out, key)] = values
            extra = "".join(", %s=P%d_%s[k]" % (key, node.out, key) for key in streamed)
        g = "np.float64(%s)" % g if self.scalar(node.out) else g
        xs = ["np.float64(%s)" % x if self.scalar(v) and not x.startswith("Z") else x
              for x, v in zip(xs, node.ins)]
        y = "np.float64(%s)" % y if self.scalar(node.out) and not y.startswith("Z") else y
        out = {}
        if op.vjp_all is not None:
            name = "RA%d" % node.out
            self.ns[name] = functools.partial(op.vjp_all, **params) if params else op.vjp_all
            every = self.fresh()
            self.add("%s = %s(%s, %s, %s%s)" % (every, name, g, y, ", ".join(xs), extra))
            for q in want:
                out[q] = ("%s[%d]" % (every, q), "alias")
        else:
            for q in want:
                name = "R%d_%d" % (node.out, q)
                rule = op.vjp[q]
                self.ns[name] = functools.partial(rule, **params) if params else rule
                c = self.fresh()
                self.add("%s = %s(%s, %s, %s%s)" % (c, name, g, y, ", ".join(xs), extra))
                out[q] = (c, "alias")
        for q in want:
            v = node.ins[q]
            c, kind = out[q]
            if self.scalar(v):
                out[q] = ("float(fit(%s, ()))" % c, "fresh")
            else:
                out[q] = ("fit(%s, %r)" % (c, self.p.shape[v]), "alias")
        return out

    def backward_node(self, node):
        """A node outside loops."""
        p = self.p
        g = self.grad_name(node.out)
        if not p.grad[node.out] or g not in self.has or node.op is DETACH:
            return
        steps = self._steps_joined(node)
        if steps is not None and self._steps_unreached(steps):
            m, j, _, backwards = steps       # each step's gradient: a block of g's rows
            loop = p.loops[m]
            key = loop.outs[0][j]
            blocks = "gs%d_%d" % (m, j)
            self.add("%s = list(%s.reshape(%r))%s" % (blocks, g, (loop.n,) + p.shape[key],
                                                     "[::-1]" if backwards else ""))
            for k, v in enumerate(loop.outs[k][j] for k in range(loop.n)):
                target = self.grad_name(v)
                if target.startswith("gs"):
                    self.has[target] = False
                else:                       # the last step of a carried value
                    self.accumulate(target, "%s[%d]" % (blocks, k), "alias", v)
            return
        want = [q for q, v in enumerate(node.ins) if p.grad[v]]
        if not want:
            return
        y, xs = self.saved(node, None, lambda q: self.on_tape(self.value(
            node.out if q == "y" else node.ins[q])))
        targets = {q: self.grad_name(node.ins[q]) for q in want}
        dests = self._dests(targets)
        consume = self.has.get(g) is True and g not in self.bound
        out = self.contributions(node, g, y, xs, want, dests, consume)
        for q in want:
            c, kind = out[q]
            self.accumulate(targets[q], c, kind, node.ins[q])

    def backward_group(self, node, group):
        """The parts of a split outside loops: written into their input's gradient already,
        or joined by one concatenate."""
        p = self.p
        x = node.ins[0]
        if not p.grad[x]:
            return
        target = self.grad_name(x)
        if x in self.plan.split_homes:
            self.has[target] = True
            return
        gs = [self.grad_name(v) for v in group]
        if not any(g in self.has for g in gs):
            return
        parts = node.params["parts"]
        if not parts.tile:
            for v in group:
                self.backward_node(self.p.nodes[self.p.node_of[v]])
            return
        pieces = [g if g in self.has else "np.zeros(%r, %r)" % (p.shape[v], p.dtype[v].str)
                  for g, v in zip(gs, group)]
        c = self.fresh()
        self.add("%s = np.concatenate([%s], axis=%d)" % (c, ", ".join(pieces), parts.axis))
        self.accumulate(target, c, "fresh", x)

    # -- a loop's backward ----------------------------------------------------------------------
    def backward_loop(self, loop):
        p, plan = self.p, self.plan
        m = p.loops.index(loop)
        n, L = loop.n, len(loop)
        sign = plan.orient[m]
        waiting = plan.products.get(m, {})
        carried = {ref.pos: ref.values[0] for row in loop.refs for ref in row
                   if ref.kind == "carried"}
        reach = self._body_grads(loop, m)
        outer, outer_has, outer_bound = self.src, self.has, self.bound
        self.src = pre = Source()
        self.loop = loop
        rows = self._rows_lists(m)
        for j in range(L):
            key = loop.outs[0][j]
            if not reach[j]:
                continue
            if plan.home.get(key) == ("stack", (m, j)):
                self.add("GS%d_%d = np.empty(%r, %r)" % (m, j, (n,) + p.shape[key],
                                                        p.dtype[key].str))
                self.add("GS%d_%dv = list(GS%d_%d%s)" % (m, j, m, j, "" if sign > 0 else
                                                         "[::-1]"))
            elif key in plan.split_homes and plan.home_root(key) is None:
                self.add("GT%d_%d = np.empty(%r, %r)" % (m, j, p.shape[key], p.dtype[key].str))
        for pos in sorted(carried):
            if reach[pos]:
                last = "gl%d_%d" % (m, pos)
                key = loop.outs[0][pos]
                if last in outer_has:
                    # steps add into it: a buffer of the loop's own
                    owned = outer_has[last] or self.scalar(key)
                    self.add("cg%d_%d = %s" % (m, pos, last if owned else "np.array(%s)" % last))
                else:
                    self.add("cg%d_%d = %s" % (m, pos, "0.0" if self.scalar(key) else
                                               "np.zeros(%r, %r)" % (p.shape[key],
                                                                     p.dtype[key].str)))
        self.has = outer_has
        for j, node in enumerate(loop.body):
            if not reach[j]:
                continue
            for q in plan.wanted(node, loop.refs[j]):
                ref = loop.refs[j][q]
                if ref.kind == "invariant" and q not in waiting.get(j, ()):
                    self._accumulator(ref.values[0])
                elif ref.kind == "stream" and (j, q) not in rows:
                    self.add("gt%d_%d_%d = [None] * %d" % (m, j, q, n))
        for (mm, j), steps in sorted(self.gs_lists.items()):
            if mm != m:
                continue
            key = loop.outs[0][j]
            for k in sorted(set(range(n)) - steps):
                self.add("gs%d_%d[%d] = %s" % (m, j, k, "0.0" if self.scalar(key) else
                                               "np.zeros(%r, %r)" % (p.shape[key],
                                                                     p.dtype[key].str)))
        # one step, from its last position to its first
        body = Source()
        body.depth = 2
        self.src = body
        prologue, self.prologue = self.prologue, []
        self.has = {t: outer_has[t] for t in self.accumulators}   # what every step adds into
        self.bound = dict(outer_bound)
        for j in range(L):
            key = loop.outs[0][j]
            if not reach[j]:
                continue
            expr = self._home_expr(m, j, key, rows)
            if expr is not None:
                g = "gb%d_%d" % (m, j)
                self.add("%s = %s" % (g, expr))
                self.bound[g] = self.bound.get(expr, expr)      # the buffer itself
                if key in plan.split_homes and not self._loop_parts_reached(loop, j):
                    self.add("%s.fill(0)" % g)
        for (j, q), name in rows.items():
            self.bound["%s[k]" % name] = "%s[k]" % name
        for j in range(L):
            key = loop.outs[0][j]
            if not reach[j]:
                continue
            g = "gb%d_%d" % (m, j)
            outside = "gs%d_%d[k]" % (m, j) if (m, j) in self.gs_lists else None
            if key in plan.carried_sources and outside and g in self.bound:
                self.add("np.add(cg%d_%d, %s, out=%s)" % (m, j, outside, g))
                self.has[g] = True
                continue
            if key in plan.carried_sources:
                self.accumulate(g, "cg%d_%d" % (m, j), "fresh", key)
            if outside:
                self.accumulate(g, outside, "alias", key)
        for j in range(L - 1, -1, -1):
            if reach[j]:
                self._backward_position(loop, m, j, rows, waiting.get(j, ()), outer_has)
        for pos in sorted(carried):
            if reach[pos] and "ng%d_%d" % (m, pos) in self.has:
                self.add("cg%d_%d = ng%d_%d" % (m, pos, m, pos))
        self.step_has = self.has
        self.has, self.bound = outer_has, outer_bound
        self.src = outer
        outer.lines.extend(pre.lines)
        for line in self.prologue:
            outer.add(line)
        outer.add("for k in range(%d, -1, -1):" % (n - 1))
        outer.lines.extend(body.lines)
        self.prologue = prologue
        self.loop = None
        self._after_loop(loop, m, waiting, carried, reach, rows)

    def _rows_lists(self, m):
        """{(position, input): name of the list of a split input's gradient blocks, in step
        order} for the streams of loop m that are all the parts of a split."""
        plan = self.plan
        out = {}
        for (mm, j, q), (x, sign, _) in sorted(plan.aligned.items()):
            if mm != m or x not in plan.split_homes:
                continue
            name = "GX%dv" % x
            if name not in out.values():
                node = plan.node[self.p.loops[m].refs[j][q].values[0]]
                self.ns["IR%d" % x] = node.params["parts"].indices
                self.add("%s = [GX%d[i] for i in IR%d]%s" % (name, x, x, "" if sign > 0
                                                             else "[::-1]"))
            out[(j, q)] = name
        return out

    def _home_expr(self, m, j, key, rows):
        """Where position j's gradient lives at step k, or None (its first contribution)."""
        plan = self.plan
        h = plan.home.get(key)
        if h is None:
            if key in plan.split_homes:
                return "GT%d_%d" % (m, j)
            return None
        kind, detail = h
        if kind == "stack":
            return "GS%d_%dv[k]" % detail
        if kind == "same":
            src = detail
            if src in plan.loop_of:
                return "gb%d_%d" % (m, plan.position(src))
            return self._rows_of(m, src, rows)
        if kind == "part":
            src = detail[0]
            base = "gb%d_%d" % (m, plan.position(src)) if src in plan.loop_of else \
                self._rows_of(m, src, rows)
            return "%s[%s]" % (base, self._part_index(key))
        return None

    def _rows_of(self, m, v, rows):
        """A stream value's gradient block at step k."""
        detail = self.plan.home[v][1]
        for jq in detail[1]:
            if jq in rows:
                return "%s[k]" % rows[jq]
        raise AssertionError("no rows for %d" % v)

    def _loop_parts_reached(self, loop, j):
        """Every part of the split of position j gets a gradient on every step."""
        key = loop.outs[0][j]
        parts = [loop.outs[0][i] for i, node in enumerate(loop.body)
                 if node.op is R.split and loop.refs[i][0].kind == "local" and
                 loop.refs[i][0].pos == j]
        first = self.plan.node[parts[0]] if parts else None
        return first is not None and len(parts) == len(first.params["parts"]) and all(
            self.p.grad[v] and self.plan.reads.get(v) for v in parts) and key is not None

    def _accumulator(self, u):
        """The gradient of an invariant, made an array of its own that steps add into."""
        target = self.grad_name(u)
        self.accumulators.add(target)
        if target in self.has and self.has[target]:
            return
        if self.scalar(u):
            if target not in self.has:
                self.add("%s = 0.0" % target)
                self.has[target] = False
            return
        if target in self.has:
            self.add("%s = np.array(%s)" % (target, target))
        elif target in self.bound:
            self.add("%s[...] = 0" % target)
        else:
            self.add("%s = np.zeros(%r, %r)" % (target, self.p.shape[u], self.p.dtype[u].str))
        self.has[target] = True

    def _body_grads(self, loop, m):
        """Per body position: whether a gradient reaches it on some step."""
        p = self.p
        L = len(loop)
        reach = [False] * L
        for (mm, j) in self.gs_lists:
            if mm == m:
                reach[j] = True
        for j in range(L):
            if "gl%d_%d" % (m, j) in self.has:
                reach[j] = True
        changed = True
        while changed:
            changed = False
            for j in range(L - 1, -1, -1):
                node = loop.body[j]
                if not reach[j] or node.op is DETACH:
                    continue
                for ref in loop.refs[j]:
                    if ref.kind in ("local", "carried") and not reach[ref.pos] and \
                            p.grad[loop.body[ref.pos].out]:
                        reach[ref.pos] = changed = True
        return [reach[j] and p.grad[loop.body[j].out] for j in range(L)]

    def _step_input(self, m, loop, j, q):
        """The forward value input q of position j reads at step k, for a rule."""
        ref = loop.refs[j][q]
        if ref.kind == "local":
            return self.on_tape(self.step_value(m, ref.pos, "k"))
        if ref.kind == "carried":
            plan = self.plan
            root, part = plan.root(loop.outs[0][ref.pos])
            if plan.storage.get(root) == "rstack" and part is None:
                return self.on_tape("S%d_%dv[k]" % (m, plan.position(root)))
            self.lists.add((m, ref.pos))
            self.on_tape("s%d_%d" % (m, ref.pos))
            return "(s%d_%d[k - 1] if k else %s)" % (m, ref.pos, self.on_tape(self.value(
                ref.values[0])))
        if ref.kind == "stream":
            return self.on_tape("t%d_%d_%d[k]" % (m, j, q))
        return self.on_tape(self.value(ref.values[0]))

    def _backward_position(self, loop, m, j, rows, waiting, outer_has):
        p, plan = self.p, self.plan
        node = loop.body[j]
        key = loop.outs[0][j]
        g = "gb%d_%d" % (m, j)
        if g not in self.has or node.op is DETACH:
            return
        run = self._run_ending(key)
        if run is not None and self._backward_run(m, loop, run):
            self.runs_done.add(run[-1])
            return
        if any(key in r[:-1] and r[-1] in self.runs_done for r in plan.joined):
            return                          # its rule ran with the run's last member
        refs = loop.refs[j]
        if node.op is R.split and plan.home.get(key, ("",))[0] == "part":
            src = refs[0]
            target = "gb%d_%d" % (m, src.pos) if src.kind == "local" else \
                self._rows_of(m, src.values[0], rows)
            self.has[target] = True         # written into its input's gradient already
            return
        want = [q for q in plan.wanted(node, refs) if q not in waiting]
        if not want:
            return
        targets, guards = {}, {}
        for q in want:
            ref = refs[q]
            if ref.kind == "local":
                targets[q] = "gb%d_%d" % (m, ref.pos)
            elif ref.kind == "carried":
                targets[q] = "ng%d_%d" % (m, ref.pos)
                guards[q] = not p.grad[ref.values[0]]
            elif ref.kind == "invariant":
                targets[q] = self.grad_name(ref.values[0])
            elif (j, q) in rows:
                targets[q] = "%s[k]" % rows[(j, q)]
            else:
                targets[q] = "gt%d_%d_%d[k]" % (m, j, q)
        dests = self._dests(targets)
        consume = self.has.get(g) is True and g not in self.bound
        y, xs = self.saved(node, refs, lambda q: self.on_tape(self.step_value(m, j, "k"))
                           if q == "y" else self._step_input(m, loop, j, q))
        guarded = [q for q in want if guards.get(q)]
        plain = [q for q in want if not guards.get(q)]
        for qs, guard in ((plain, False), (guarded, True)):
            if not qs:
                continue
            if guard:
                self.add("if k:")
                self.src.depth += 1
            out = self.contributions(node, g, y, xs, qs, dests, consume and not guarded,
                                     loop.stream_params[j])
            for q in qs:
                c, kind = out[q]
                target = targets[q]
                if kind == "alias" and self.bound.get(c, c) == self.bound.get(target, target):
                    self.has[target] = True     # an identity rule into the same buffer
                    continue
                self.accumulate(target, c, kind, node.ins[q])
            if guard:
                self.src.depth -= 1

    def _run_ending(self, key):
        for run in self.plan.joined:
            if run[-1] == key:
                return run
        return None

    def _backward_run(self, m, loop, run):
        """The rules of a joined run as one call on the joined columns, in place in the split
        input's gradient; False if the run's gradients do not all live there."""
        plan = self.plan
        first = plan.node[run[0]]
        part_first = plan.key(first.ins[0])
        split = plan.node[part_first]
        x = plan.key(split.ins[0])
        for key in run:
            node = plan.node[key]
            part = plan.key(node.ins[0])
            if plan.home.get(key) != ("same", part) or plan.home.get(part, ("",))[0] != "part" \
                    or "gb%d_%d" % (m, plan.position(key)) not in self.has \
                    or plan.home[part][1][0] != x:
                return False
        if plan.home.get(x) is None and x not in plan.split_homes:
            return False
        last = plan.node[plan.key(plan.node[run[-1]].ins[0])]
        parts = split.params["parts"]
        a = parts.indices[split.params["part"]]
        b = parts.indices[last.params["part"]]
        axis = parts.axis
        joined = self.index((slice(None),) * axis + (slice(a[axis].start, b[axis].stop),))
        shape = list(self.p.shape[x])
        shape[axis] = b[axis].stop - a[axis].start
        g = self.fresh()
        self.add("%s = gb%d_%d[%s]" % (g, m, plan.position(x), joined))
        y = "%s[%s]" % (self.on_tape(self.step_value(m, plan.position(x), "k")), joined)
        self.override_shape = tuple(shape)
        KN.backward_template(self, first)(self, first, g, y, [y], [0], {0: g}, False)
        self.override_shape = None
        for key in run:
            self.has["gb%d_%d" % (m, plan.position(plan.key(plan.node[key].ins[0])))] = True
        return True

    def _after_loop(self, loop, m, waiting, carried, reach, rows):
        """After a loop's backward: the weights' stacked products, the initial states' and
        the streams' gradients."""
        p, plan = self.p, self.plan
        n = loop.n
        sign = plan.orient[m]
        for j, qs in sorted(waiting.items()):
            if not reach[j]:
                continue
            node, key = loop.body[j], loop.outs[0][j]
            root = plan.home_root(key)
            if root[0] == "rows":
                x = plan.aligned[(m,) + root[1][1][0]][0]
                G = "GX%d" % x
            else:
                G = "GS%d_%d" % (m, j)
            G = "%s.reshape(%r)" % (G, (n,) + p.shape[key])
            a = 0 if node.op is R.matmul else 1
            b = a + 1
            ref_a = loop.refs[j][a]
            src = plan._stackable(m, loop, ref_a)
            pos = plan.position(src)
            if plan.storage.get(src) == "rstack":
                A = "S%d_%d[%s]" % (m, pos, "0:%d" % n if sign > 0 else "1:")
            else:
                A = "S%d_%d" % (m, pos)
            self.on_tape("S%d_%d" % (m, pos))
            rows_a = p.shape[node.ins[a]][-1]
            rows_g = p.shape[key][-1]
            for q in qs:
                u = loop.refs[j][q].values[0]
                c = self.fresh()
                if q == b:
                    self.add("%s = np.matmul(%s.reshape(-1, %d).T, %s.reshape(-1, %d))"
                             % (c, A, rows_a, G, rows_g))
                else:
                    self.add("%s = fit(%s, %r)" % (c, G, p.shape[u]))
                self.accumulate(self.grad_name(u), c, "fresh", u)
        for pos, v in sorted(carried.items()):
            if reach[pos] and p.grad[v] and "ng%d_%d" % (m, pos) in self.step_has:
                self.accumulate(self.grad_name(v), "cg%d_%d" % (m, pos), "fresh", v)
        for j in range(len(loop) - 1, -1, -1):
            if not reach[j]:
                continue
            for q in plan.wanted(loop.body[j], loop.refs[j]):
                ref = loop.refs[j][q]
                if ref.kind != "stream" or (j, q) in rows:
                    continue
                for k in range(n - 1, -1, -1):
                    v = ref.values[k]
                    if p.grad[v]:
                        self.accumulate(self.grad_name(v), "gt%d_%d_%d[%d]" % (m, j, q, k),
                                        "alias", v)
        for (j, q), name in rows.items():
            x = plan.aligned[(m, j, q)][0]
            self.has.setdefault("g%d" % x, True)
