"""Python source for a program's forward and backward, compiled once with ``compile()``.

The forward is ``forward(A, E) -> (outputs, tape)`` on the arguments' arrays ``A`` and the
externals' arrays ``E``; the backward is ``backward(G, tape) -> input gradients`` on the
outputs' gradients. Both are straight-line code, with a Python ``for`` loop per loop of the
program (loops.py): the body once, steps indexed by ``k``. What the backward reads of the
forward is decided while the backward is written: exactly those values go on the tape, every
other value of the forward is dropped as soon as the code no longer names it.

Names in the generated code:

=================  =====================================================================
``v12``            value 12 outside loops (arguments, externals, constants, nodes)
``b2_5``           loop 2, body position 5: the current step's value (after the loop: the
                   last step's)
``c2_5``           the value of position 5 carried from the step before
``s2_5[k]``        position 5 of every step, kept for later (``r2_5[k + 1]`` when it is
                   carried too: ``r2_5[0]`` is the value the first step reads)
``t2_5_1[k]``      input 1 of position 5 at step k, a stream of values made before the loop
``g12``, ``gb2_5``, ``gs2_5[k]``, ``gl2_5``, ``cg2_5``, ``ng2_5``, ``gt2_5_1[k]``
                   their gradients (``cg``: what step k + 1 sent to the carried value,
                   ``ng``: what step k sends to step k - 1)
``K7``, ``R7_1``   node 7's forward, the rule of its input 1 (the table's own, bound to
                   the node's parameters)
=================  =====================================================================
"""
import functools

import numpy as np

from .. import rules as R
from ..tensor import stand_in
from .loops import Loop
from .trace import DETACH


def fit(c, shape):
    """A contribution summed down to its input's shape (broadcasting undone)."""
    return c if c.shape == shape else R.sum_to(c, shape)


class Source:
    """Indented lines of Python."""

    def __init__(self, head):
        self.lines, self.depth = [head], 1

    def add(self, line):
        self.lines.append("    " * self.depth + line)

    def text(self):
        return "\n".join(self.lines) + "\n"


class Emitter:
    def __init__(self, program):
        self.p = p = program
        self.items = p.items()
        self.ns = {"np": np, "fit": fit}
        self.loop_id = {}
        self.sources = set()        # (m, j): position j is read by the step after
        self.where = {}             # loop value -> (loop number, step, position)
        for m, loop in enumerate(p.loops):
            self.loop_id[id(loop)] = m
            self.sources.update((m, ref.pos) for row in loop.refs for ref in row
                                if ref.kind == "carried")
            for k, outs in enumerate(loop.outs):
                for j, v in enumerate(outs):
                    self.where[v] = (m, k, j)
        self.stored = set()         # (m, j): every step's value kept in s{m}_{j}
        self.carry_kept = set()     # (m, j): carried source kept in r{m}_{j} (n + 1 entries)
        self.streams_kept = set()   # names of stream lists the backward reads
        self.tape = []              # names the backward reads, in the order first read
        self._tape = set()
        self.standins = {}
        self._outside_reads()

    # -- forward values as the code names them ----------------------------------------------
    def _outside_reads(self):
        """Loop values read outside their loop must be kept for every step (not only the last)."""
        reads = []
        for item in self.items:
            if type(item) is Loop:
                reads.extend(v for row in item.refs for ref in row if ref.kind != "local"
                             for v in ref.values)
            else:
                reads.extend(item.ins)
        reads.extend(self.p.outputs)
        for v in reads:
            w = self.where.get(v)
            if w is not None and w[1] != len(self.p.loops[w[0]].outs) - 1:
                self.stored.add((w[0], w[2]))

    def value(self, v):
        """Value v as code outside loops names it."""
        w = self.where.get(v)
        if w is None:
            return "v%d" % v
        m, k, j = w
        if k == self.p.loops[m].n - 1:
            return "b%d_%d" % (m, j)
        return self.kept(m, j, str(k))

    def kept(self, m, j, k):
        """Position j of loop m at step ``k`` (an expression), from what the loop keeps."""
        if (m, j) in self.carry_kept and (m, j) not in self.stored:
            return "r%d_%d[%s + 1]" % (m, j, k)
        self.stored.add((m, j))
        return "s%d_%d[%s]" % (m, j, k)

    def on_tape(self, name):
        base = name.split("[", 1)[0]
        if base not in self._tape:
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

    # -- kernels and rules ----------------------------------------------------------------
    def kernel(self, i, node, streamed=None):
        name = "K%d" % i
        params = node.params
        if streamed:
            params = {k: v for k, v in params.items() if k not in streamed}
        self.ns[name] = functools.partial(node.op.forward, **params) if params else \
            node.op.forward
        return name

    def rule(self, i, node, p):
        op = node.op
        if op.vjp_all is not None:
            name = "RA%d" % i
            self.ns[name] = functools.partial(op.vjp_all, **node.params) if node.params \
                else op.vjp_all
            return name, True
        name = "R%d_%d" % (i, p)
        rule = op.vjp[p]
        self.ns[name] = functools.partial(rule, **node.params) if node.params else rule
        return name, False

    # -- the forward ----------------------------------------------------------------------
    def forward(self):
        p = self.p
        src = Source("def forward(A, E):")
        for a, v in p.args:
            src.add("v%d = A[%d]" % (v, a))
        for e, v in p.exts:
            src.add("v%d = E[%d]" % (v, e))
        for v in p.consts:
            self.ns["V%d" % v] = p.data[v]
            src.add("v%d = V%d" % (v, v))
        for item in self.items:
            if type(item) is Loop:
                self.forward_loop(src, item)
            else:
                i = p.node_of[item.out]
                src.add("v%d = %s" % (item.out, self.call(i, item, [self.value(v) for v in
                                                                     item.ins])))
        outs = ", ".join("np.asarray(%s)" % self.value(v) for v in p.outputs)
        src.add("return (%s,), (%s,)" % (outs, ", ".join(self.tape)))
        return src.text()

    def call(self, i, node, args, streamed=None, k="k"):
        if node.op is DETACH:
            return args[0]
        name = self.kernel(i, node, streamed)
        extra = "".join(", %s=P%d_%s[%s]" % (key, i, key, k) for key in streamed or ())
        for key, values in (streamed or {}).items():
            self.ns["P%d_%s" % (i, key)] = values
        return "%s(%s%s)" % (name, ", ".join(args), extra)

    def forward_loop(self, src, loop):
        m = self.loop_id[id(loop)]
        n, L = loop.n, len(loop)
        carried = {}                    # body position -> its init value
        for j, row in enumerate(loop.refs):
            for q, ref in enumerate(row):
                if ref.kind == "stream":
                    src.add("t%d_%d_%d = [%s]" % (m, j, q, ", ".join(
                        self.value(v) for v in ref.values)))
                elif ref.kind == "invariant":
                    src.add("i%d_%d_%d = %s" % (m, j, q, self.value(ref.values[0])))
                elif ref.kind == "carried":
                    carried[ref.pos] = ref.values[0]
        for pos, v in sorted(carried.items()):
            src.add("c%d_%d = %s" % (m, pos, self.value(v)))
            if (m, pos) in self.carry_kept:
                src.add("r%d_%d = [c%d_%d] + [None] * %d" % (m, pos, m, pos, n))
        for j in range(L):
            if (m, j) in self.stored:
                src.add("s%d_%d = [None] * %d" % (m, j, n))
        src.add("for k in range(%d):" % n)
        src.depth += 1
        for j, node in enumerate(loop.body):
            args = []
            for q, ref in enumerate(loop.refs[j]):
                if ref.kind == "local":
                    args.append("b%d_%d" % (m, ref.pos))
                elif ref.kind == "carried":
                    args.append("c%d_%d" % (m, ref.pos))
                elif ref.kind == "stream":
                    args.append("t%d_%d_%d[k]" % (m, j, q))
                else:
                    args.append("i%d_%d_%d" % (m, j, q))
            src.add("b%d_%d = %s" % (m, j, self.call(loop.start + j, node, args,
                                                     loop.stream_params[j])))
            if (m, j) in self.carry_kept:
                src.add("r%d_%d[k + 1] = b%d_%d" % (m, j, m, j))
            if (m, j) in self.stored:
                src.add("s%d_%d[k] = b%d_%d" % (m, j, m, j))
        for pos in sorted(carried):
            src.add("c%d_%d = b%d_%d" % (m, pos, m, pos))
        src.depth -= 1

    # -- the backward ---------------------------------------------------------------------
    def backward(self):
        p = self.p
        src = Source("def backward(G, T):")
        self.has = set()            # gradient names assigned so far
        self.gs_lists = {}          # (m, j) -> steps whose gradient some outside node sends
        body = Source("")
        body.depth = 1
        for o, v in enumerate(p.outputs):
            if p.grad[v]:
                self.accumulate(body, self.grad_name(v), "G[%d]" % o)
        for item in reversed(self.items):
            if type(item) is Loop:
                self.backward_loop(body, item)
            else:
                self.backward_node(body, p.node_of[item.out], item)
        grads = []
        for v in p.grad_inputs:
            g = self.grad_name(v)
            grads.append(g if g in self.has else "None")
        body.add("return (%s)" % "".join(g + ", " for g in grads))
        if self.tape:
            src.add("%s, = T" % ", ".join(self.tape))
        for (m, j), steps in sorted(self.gs_lists.items()):
            src.add("gs%d_%d = [None] * %d" % (m, j, p.loops[m].n))
        src.lines.extend(body.lines[1:])
        return src.text()

    def grad_name(self, v):
        """Where the gradient of value v outside loops gathers."""
        w = self.where.get(v)
        if w is None:
            return "g%d" % v
        m, k, j = w
        loop = self.p.loops[m]
        if k == loop.n - 1 and (m, j) in self.sources:
            return "gl%d_%d" % (m, j)
        self.gs_lists.setdefault((m, j), set()).add(k)
        return "gs%d_%d[%d]" % (m, j, k)

    def accumulate(self, src, target, c):
        if target in self.has:
            src.add("%s = %s + %s" % (target, target, c))
        else:
            src.add("%s = %s" % (target, c))
            self.has.add(target)

    def saved_args(self, node, y, xs, standins):
        saves = node.op.saves
        y = y if saves is None or "y" in saves else standins[0]
        xs = [x if saves is None or q in saves else s
              for q, (x, s) in enumerate(zip(xs, standins[1:]))]
        return y, xs

    def backward_node(self, src, i, node):
        p = self.p
        g = self.grad_name(node.out)
        if not p.grad[node.out] or g not in self.has or node.op is DETACH:
            return
        op = node.op
        sv = op.saves
        y = self.on_tape(self.value(node.out)) if sv is None or "y" in sv else \
            self.standin(node.out)
        xs = [self.on_tape(self.value(v)) if sv is None or q in sv else self.standin(v)
              for q, v in enumerate(node.ins)]
        joint = None
        for q, v in enumerate(node.ins):
            if not p.grad[v]:
                continue
            name, every = self.rule(i, node, q)
            if every:
                if joint is None:
                    joint = "a%d" % i
                    src.add("%s = %s(%s, %s, %s)" % (joint, name, g, y, ", ".join(xs)))
                c = "%s[%d]" % (joint, q)
            else:
                c = "%s(%s, %s, %s)" % (name, g, y, ", ".join(xs))
            self.accumulate(src, self.grad_name(v), "fit(%s, %r)" % (c, p.shape[v]))

    def backward_loop(self, src, loop):
        p = self.p
        m = self.loop_id[id(loop)]
        n, L = loop.n, len(loop)
        body_grad = self._body_grads(loop, m)
        carried = {}
        for j, row in enumerate(loop.refs):
            for ref in row:
                if ref.kind == "carried":
                    carried[ref.pos] = ref.values[0]
        # before the loop: what reaches the last step from outside, and the invariants'
        # gradients, which every step adds to
        for pos in sorted(carried):
            if not body_grad[pos]:
                continue
            last = "gl%d_%d" % (m, pos)
            if last in self.has:
                src.add("cg%d_%d = %s" % (m, pos, last))
            else:
                node = loop.body[pos]
                src.add("cg%d_%d = np.zeros(%r, %r)" % (m, pos, p.shape[node.out],
                                                         p.dtype[node.out].str))
        for j, row in enumerate(loop.refs):
            if not body_grad[j]:
                continue
            for q, ref in enumerate(row):
                if ref.kind == "invariant" and p.grad[ref.values[0]]:
                    v = ref.values[0]
                    target = self.grad_name(v)
                    if target not in self.has:
                        src.add("%s = np.zeros(%r, %r)" % (target, p.shape[v], p.dtype[v].str))
                        self.has.add(target)
                elif ref.kind == "stream" and any(p.grad[v] for v in ref.values):
                    src.add("gt%d_%d_%d = [None] * %d" % (m, j, q, n))
        outside = {j for (mm, j) in self.gs_lists if mm == m}
        for j in sorted(outside):
            missing = set(range(n)) - self.gs_lists[(m, j)]
            node = loop.body[j]
            for k in sorted(missing):
                src.add("gs%d_%d[%d] = np.zeros(%r, %r)" % (m, j, k, p.shape[node.out],
                                                            p.dtype[node.out].str))
        src.add("for k in range(%d, -1, -1):" % (n - 1))
        src.depth += 1
        has = self.has
        self.has = set()
        for j in range(L):
            if not body_grad[j]:
                continue
            parts = []
            if j in outside:
                parts.append("gs%d_%d[k]" % (m, j))
            if j in carried:
                parts.append("cg%d_%d" % (m, j))
            if parts:
                src.add("gb%d_%d = %s" % (m, j, " + ".join(parts)))
                self.has.add("gb%d_%d" % (m, j))
        for j in range(L - 1, -1, -1):
            if body_grad[j] and "gb%d_%d" % (m, j) in self.has:
                self._backward_position(src, loop, m, j, has)
        for pos in sorted(carried):
            if body_grad[pos] and "ng%d_%d" % (m, pos) in self.has:
                src.add("cg%d_%d = ng%d_%d" % (m, pos, m, pos))
        self.has = has
        src.depth -= 1
        # after the loop: the first step's carried gradients go to the initial values, the
        # streams' to the values they were made of
        for pos, v in sorted(carried.items()):
            if body_grad[pos] and p.grad[v]:
                self.accumulate(src, self.grad_name(v), "cg%d_%d" % (m, pos))
        for j in range(L - 1, -1, -1):
            if not body_grad[j]:
                continue
            for q, ref in enumerate(loop.refs[j]):
                if ref.kind == "stream" and any(p.grad[v] for v in ref.values):
                    for k in range(n - 1, -1, -1):
                        v = ref.values[k]
                        if p.grad[v]:
                            self.accumulate(src, self.grad_name(v),
                                            "gt%d_%d_%d[%d]" % (m, j, q, k))

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

    def _backward_position(self, src, loop, m, j, outer_has):
        p = self.p
        node = loop.body[j]
        if node.op is DETACH:
            return
        i = loop.start + j
        g = "gb%d_%d" % (m, j)
        sv = node.op.saves
        streamed = loop.stream_params[j]

        def fwd(q):             # the forward value of input q at step k, for a rule
            ref = loop.refs[j][q]
            if ref.kind == "local":
                return self.on_tape(self.kept(m, ref.pos, "k"))
            if ref.kind == "carried":
                self.carry_kept.add((m, ref.pos))
                return self.on_tape("r%d_%d[k]" % (m, ref.pos))
            if ref.kind == "stream":
                return self.on_tape("t%d_%d_%d[k]" % (m, j, q))
            return self.on_tape(self.value(ref.values[0]))

        y = self.on_tape(self.kept(m, j, "k")) if sv is None or "y" in sv else \
            self.standin(node.out)
        xs = [fwd(q) if sv is None or q in sv else self.standin(v)
              for q, v in enumerate(node.ins)]
        extra = ""
        if streamed:
            params = {k: v for k, v in node.params.items() if k not in streamed}
            for key, values in streamed.items():
                self.ns["P%d_%s" % (i, key)] = values
            extra = "".join(", %s=P%d_%s[k]" % (key, i, key) for key in streamed)
        else:
            params = node.params
        joint = None
        for q, ref in enumerate(loop.refs[j]):
            if ref.kind in ("local", "carried"):
                needs = p.grad[loop.body[ref.pos].out]
            else:
                needs = any(p.grad[v] for v in ref.values)
            if not needs:
                continue
            op = node.op
            if op.vjp_all is not None:
                if joint is None:
                    joint = "a%d" % i
                    self.ns["RA%d" % i] = functools.partial(op.vjp_all, **params) if params \
                        else op.vjp_all
                    src.add("%s = RA%d(%s, %s, %s%s)" % (joint, i, g, y, ", ".join(xs), extra))
                c = "%s[%d]" % (joint, q)
            else:
                name = "R%d_%d" % (i, q)
                self.ns[name] = functools.partial(op.vjp[q], **params) if params else \
                    op.vjp[q]
                c = "%s(%s, %s, %s%s)" % (name, g, y, ", ".join(xs), extra)
            c = "fit(%s, %r)" % (c, p.shape[node.ins[q]])
            if ref.kind == "local":
                self.accumulate(src, "gb%d_%d" % (m, ref.pos), c)
            elif ref.kind == "carried":
                guard = not p.grad[ref.values[0]]
                if guard:
                    src.add("if k:")
                    src.depth += 1
                self.accumulate(src, "ng%d_%d" % (m, ref.pos), c)
                if guard:
                    src.depth -= 1
            elif ref.kind == "invariant":
                target = self.grad_name(ref.values[0])
                src.add("%s = %s + %s" % (target, target, c))
            else:
                target = "gt%d_%d_%d[k]" % (m, j, q)
                src.add("%s = %s" % (target, c))

