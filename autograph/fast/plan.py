"""What to decide once per traced program, before any code is written.

Values are keyed by number outside loops and by their step-0 number ("the position") inside a
loop: every step of a loop is planned alike.

- ``kept``: the values the backward reads (the ``saves`` of the rules that will run, per input
  where a rule reads only some). Nothing else of the forward is stored.
- ``inplace``: elementwise ops that write into an input no later op and no rule reads (the
  gates' pre-activations become the gates).
- ``storage``: per loop position that owns memory, ``"stack"`` (every step's value in one
  (n, ...) array, n + 1 for a value carried to the next step, the first step's input in front),
  ``"fresh"`` (a new array per step: read by the next step, or after the loop) or ``"temp"``
  (dead within its step: one buffer for all steps).
- ``joined``: runs of adjacent parts of one split that the same elementwise op reads: one call
  on the joined columns instead of one per part.
- ``orient``: per loop, +1, or -1 when it reads a split's parts last to first (a reverse
  direction): stacks are laid out in the split's order, so that a step's rows line up with the
  rows of the split's input.
- gradient homes (``home``): where a gradient is written on its first contribution, so that it
  is assembled in place: a split's parts write into the gradient of their input, an identity
  rule or an elementwise op of a single reader passes its buffer on, and a step's share of a
  projection writes into that projection's gradient rows.
- ``products``: a weight read by every step of a loop through a matrix product gets its
  gradient as one product of the stacked inputs and the stacked gradients after the loop, and
  its bias as one sum.
"""
import numpy as np

from .. import rules as R
from . import kernels as KN
from .loops import Loop
from .trace import CONST, DETACH, OP

VIEWS = {R.reshape, R.transpose, R.getitem, R.broadcast_to, R.identity, R.split, DETACH}
UNARY = {R.exp, R.tanh, R.sigmoid, R.relu, R.neg, R.log, R.sqrt}      # elementwise, one input
ELEMENTWISE = UNARY | {R.add, R.sub, R.mul, R.div, R.addcmul}
# the inputs each rule reads, for the rules that do not read everything their op saves
READS = {R.mul: {0: (1,), 1: (0,)}, R.matmul: {0: (1,), 1: (0,)},
         R.addmm: {0: (), 1: (2,), 2: (1,)}, R.addcmul: {0: (), 1: (2,), 2: (1,)}}
# inputs whose rule passes the gradient on unchanged (when the shapes agree)
IDENTITY = {R.add: (0, 1), R.sub: (0,), R.addmm: (0,), R.addcmul: (0,)}


class Plan:
    def __init__(self, program):
        self.p = p = program
        self.items = p.items()
        self.loop_of = {}               # value -> (loop number, step, position)
        self.rep = {}                   # loop value -> its position's key (the step-0 value)
        for m, loop in enumerate(p.loops):
            for k, outs in enumerate(loop.outs):
                for j, v in enumerate(outs):
                    self.loop_of[v] = (m, k, j)
                    self.rep[v] = loop.outs[0][j]
        self.node = {}                  # key -> node (the step-0 node for loop positions)
        for i, node in enumerate(p.nodes):
            if node.out not in self.rep or self.rep[node.out] == node.out:
                self.node[node.out] = node
        self._readers()
        self._kept()
        self._orient()
        self._inplace()
        self._storage()
        self._homes()

    def key(self, v):
        return self.rep.get(v, v)

    def scalar(self, v):
        """v is a 0-d float64: a Python float in compiled code, never in a buffer."""
        return self.p.shape[v] == () and self.p.dtype[v] == np.float64

    def region(self, key):
        """The loop a key's value is computed in, None outside loops."""
        w = self.loop_of.get(key)
        return None if w is None else w[0]

    def position(self, key):
        return self.loop_of[key][2]

    # -- who reads what -----------------------------------------------------------------------
    def _readers(self):
        """``order``: each node key's place in its region (body position, or node index outside
        loops); ``reads[key]``: (reader key, input position) within the region; ``beyond``:
        keys read after their step (by the next step, after the loop, or as an output)."""
        p = self.p
        self.order, self.reads, self.beyond = {}, {}, set()
        self.carried_sources = set()
        self.stored = set()             # keys read after their loop at a step before the last
        for i, node in enumerate(p.nodes):
            k = self.key(node.out)
            if k == node.out and node.out in self.loop_of:
                self.order[k] = self.loop_of[node.out][2]
            elif node.out not in self.loop_of:
                self.order[k] = i
        for item in self.items:
            if type(item) is Loop:
                for j, row in enumerate(item.refs):
                    reader = item.outs[0][j]
                    for q, ref in enumerate(row):
                        if ref.kind == "local":
                            self.reads.setdefault(item.outs[0][ref.pos], []).append((reader, q))
                        elif ref.kind == "carried":
                            src = item.outs[0][ref.pos]
                            self.beyond.add(src)
                            self.carried_sources.add(src)
                            self._outside(ref.values, item)
                        else:
                            self._outside(ref.values, item)
            else:
                for q, v in enumerate(item.ins):
                    if v in self.loop_of:
                        self._after(v)
                    else:
                        self.reads.setdefault(v, []).append((item.out, q))
        for v in p.outputs:
            if v in self.loop_of:
                self._after(v)

    def _after(self, v):
        """Loop value v is read after its loop."""
        m, k, _ = self.loop_of[v]
        self.beyond.add(self.key(v))
        if k != self.p.loops[m].n - 1:
            self.stored.add(self.key(v))

    def _outside(self, values, loop):
        """Values made before ``loop`` that it reads."""
        for v in values:
            if v in self.loop_of:
                self._after(v)
            else:
                self.reads.setdefault(v, []).append((("loop", loop.start), None))

    # -- what the backward reads ----------------------------------------------------------------
    def _kept(self):
        """Keys whose values a rule reads; ``carried_kept``: positions whose value a rule reads
        as the next step's input (kept with the first step's input in front)."""
        self.kept, self.carried_kept = set(), set()
        for item in self.items:
            if type(item) is Loop:
                for j, node in enumerate(item.body):
                    for q, ref in self._needed(node, item.refs[j]):
                        if q == "y":
                            self.kept.add(item.outs[0][j])
                        elif ref.kind == "local":
                            self.kept.add(item.outs[0][ref.pos])
                        elif ref.kind == "carried":
                            self.carried_kept.add(item.outs[0][ref.pos])
                            self.kept.update(v for v in ref.values if v not in self.loop_of)
                        elif ref.kind == "stream":
                            self.kept.update(ref.values)
                        else:
                            self.kept.update(ref.values)
            else:
                for q, _ in self._needed(item, None):
                    self.kept.add(item.out if q == "y" else item.ins[q])
        self.kept = {self.key(v) for v in self.kept}

    def _needed(self, node, refs):
        """(input position or "y", its Ref) for each value node's rules read."""
        p = self.p
        if not p.grad[node.out] or node.op is DETACH:
            return []
        wanted = [q for q in range(len(node.ins)) if self._reaches(node, refs, q)]
        if not wanted:
            return []
        reads = READS.get(node.op)
        saves = node.op.saves
        if reads is not None:
            qs = sorted({r for q in wanted for r in reads[q]})
            out = []
        else:
            qs = range(len(node.ins)) if saves is None else sorted(
                q for q in saves if q != "y")
            out = [("y", None)] if saves is None or "y" in saves else []
        return out + [(q, None if refs is None else refs[q]) for q in qs]

    def saved_inputs(self):
        """The arguments and externals whose values the backward reads, itself or through a
        view (so that an in-place change of one before backward raises)."""
        p = self.p
        todo = [k for k in self.kept if k not in self.loop_of]
        for key in self.kept:
            if key in self.foreign and key in self.loop_of:     # a view of a value made outside
                todo.extend(self._sources(key))
        found = set()
        while todo:
            v = todo.pop()
            if p.kind[v] is not OP:
                found.add(v)
                continue
            node = self.node.get(self.key(v))
            if node is not None and node.op in VIEWS:
                if v in self.loop_of:
                    todo.extend(self._sources(self.key(v)))
                else:
                    todo.append(node.ins[0])
        return {v for v in found if p.kind[v] is not CONST}

    def _sources(self, key):
        """The values outside its loop that a loop position's input 0 reads, on any step."""
        m, _, j = self.loop_of[key]
        ref = self.p.loops[m].refs[j][0]
        if ref.kind == "local":
            return [self.p.loops[m].outs[0][ref.pos]]
        return list(ref.values)

    def rule_reads(self, node, refs):
        """The values ("y", input positions) node's rules read, as ``kept`` has them."""
        return {q for q, _ in self._needed(node, refs)}

    def wanted(self, node, refs):
        """The input positions node's rules send a gradient to (on some step)."""
        if not self.p.grad[node.out] or node.op is DETACH:
            return []
        return [q for q in range(len(node.ins)) if self._reaches(node, refs, q)]

    def _reaches(self, node, refs, q):
        """Whether input q of node gets a gradient (on some step, for a loop position)."""
        p = self.p
        if refs is None or refs[q].kind in ("invariant", "stream"):
            vs = [node.ins[q]] if refs is None else refs[q].values
            return any(p.grad[v] for v in vs)
        return p.grad[node.ins[q]] or (refs[q].kind == "carried" and p.grad[node.out])

    # -- loops read in reverse ------------------------------------------------------------------
    def _orient(self):
        """``aligned[(m, j, q)] = (x, sign, refs)``: input q of position j of loop m reads
        the parts of a split of x, in order (sign +1) or reversed, and nothing else reads
        them but the inputs ``refs`` of the loop's positions."""
        self.orient, self.aligned = [], {}
        for m, loop in enumerate(self.p.loops):
            sign = 1
            groups = {}
            for j, row in enumerate(loop.refs):
                for q, ref in enumerate(row):
                    if ref.kind == "stream":
                        groups.setdefault(tuple(ref.values), []).append((j, q))
            for values, refs in groups.items():
                found = self._aligned(values, len(refs))
                if found is not None:
                    for j, q in refs:
                        self.aligned[(m, j, q)] = found + (tuple(refs),)
                    sign = found[1]
            self.orient.append(sign)

    def _aligned(self, values, readers):
        """(the split's input, +1 or -1) when ``values`` are all the parts of one split, in
        order or reversed, each read ``readers`` times (by the loop) and by nothing else."""
        first = self.node.get(values[0])
        if first is None or first.op is not R.split:
            return None
        x, parts = first.ins[0], first.params["parts"]
        if len(parts) != len(values) or not parts.tile:
            return None
        got = []
        for v in values:
            node = self.node.get(v)
            if node is None or node.op is not R.split or node.ins[0] != x or \
                    node.params["parts"] is not parts or \
                    len(self.reads.get(v, ())) != readers or v in self.beyond:
                return None
            got.append(node.params["part"])
        n = len(values)
        if got == list(range(n)):
            return x, 1
        if got == list(range(n - 1, -1, -1)):
            return x, -1
        return None

    # -- the forward's memory -------------------------------------------------------------------
    def _inplace(self):
        """``inplace[key] = q``: the node writes into input q; ``alias[key] = (root, part)``:
        the memory a value lives in (a view or in-place result shares its input's);
        ``joined``: runs of split parts read by the same unary op, as lists of keys.
        Views first, all of them: a view made after an op writes in place would see the
        new values, so it counts as a reader of the memory written."""
        p = self.p
        self.inplace, self.alias, self.members = {}, {}, {}
        self.foreign = set()            # views of memory made outside their region: read only
        for key, node in self._in_order():
            op = node.op
            if op not in VIEWS:
                continue
            src = self.key(node.ins[0])
            if self.region(src) != self.region(key) or self._outside_value(src) or \
                    src in self.foreign and src not in self.alias or \
                    not self._same_step(node, 0) or self.scalar(src):
                # read only: memory made elsewhere, or a new array
                self.foreign.add(key)
                continue
            root, part = self.alias.get(src, (src, None))
            if op is R.broadcast_to or src in self.foreign:
                self.foreign.add(key)   # read only, but its readers read src's memory
            if op is R.split and part is None:
                part = (src, node.params["part"])
            self._alias(key, root, part)
        for key, node in self._in_order():
            if node.op in ELEMENTWISE and p.shape[key] == p.shape[node.ins[0]] and \
                    not self.scalar(key) and KN.forward_template(self, node) is not None:
                for q in self._candidates(key, node):
                    if self._may_overwrite(key, node, q):
                        self.inplace[key] = q
                        self._merge(key, self.key(node.ins[q]))
                        break
        self.joined = self._join_runs()

    def _in_order(self):
        for item in self.items:
            if type(item) is Loop:
                for j, node in enumerate(item.body):
                    yield item.outs[0][j], node
            else:
                yield item.out, item

    def _outside_value(self, key):
        return self.p.kind[key] is not OP

    def _alias(self, key, root, part):
        self.alias[key] = (root, part)
        self.members.setdefault(root, []).append(key)

    def _merge(self, key, src):
        """key is written in place of src: key and its views live in src's memory."""
        root, part = self.alias.get(src, (src, None))
        for k in [key] + self.members.pop(key, []):
            self._alias(k, root, part)

    def _candidates(self, key, node):
        p = self.p
        out = []
        for q, v in enumerate(node.ins):
            src = self.key(v)
            if p.shape[v] != p.shape[key] or p.dtype[v] != p.dtype[key]:
                continue
            if self._outside_value(src) or self.region(src) != self.region(key) or \
                    src in self.foreign:
                continue
            if key in self.loop_of and self.loop_of.get(v, (None, 0))[1] != \
                    self.loop_of[key][1]:
                continue        # carried from the step before
            out.append(q)
        return out

    def _may_overwrite(self, key, node, q):
        """Nothing reads the memory input q lives in after this node, and no rule reads it."""
        src = self.key(node.ins[q])
        root, part = self.alias.get(src, (src, None))
        here = self.order[key]
        for other in [root] + self.members.get(root, []):
            o_part = self.alias.get(other, (other, None))[1]
            if part is not None and o_part is not None and o_part[0] == part[0] and \
                    o_part[1] != part[1]:
                continue        # another part of the same split: disjoint columns
            if other in self.kept or other in self.beyond:
                return False
            for reader, _ in self.reads.get(other, ()):
                if type(reader) is tuple or self.node.get(reader) is None:
                    return False
                if self.node[reader].op in VIEWS and reader not in self.foreign:
                    continue    # a view: its readers are the memory's readers (members)
                if self.order.get(reader, here + 1) > here:
                    return False
        return True

    def _join_runs(self):
        """Adjacent parts of one split, each overwritten in place by the same unary op."""
        runs = []
        for key, node in self._in_order():
            if node.op not in UNARY or self.inplace.get(key) != 0:
                continue
            src = self.key(node.ins[0])
            snode = self.node.get(src)
            if snode is None or snode.op is not R.split:
                continue
            part, parts = snode.params["part"], snode.params["parts"]
            last = runs[-1] if runs else None
            if last is not None and last[0] == (snode.ins[0], parts) and last[1] is node.op \
                    and last[2] == part - 1 and node.params == last[4]:
                last[3].append(key)
                last[2] = part
            else:
                runs.append([(snode.ins[0], parts), node.op, part, [key], node.params])
        return [run[3] for run in runs if len(run[3]) > 1]

    def _storage(self):
        """Per loop position owning memory: "stack", "rstack" (n + 1: carried and read by a
        rule as the next step's input), "fresh" or "temp" (see the docstring)."""
        self.storage = {}
        for m, loop in enumerate(self.p.loops):
            for j in range(len(loop)):
                key = loop.outs[0][j]
                if key in self.alias or key in self.foreign:
                    continue        # lives in another value's memory
                members = [key] + self.members.get(key, [])
                if self.scalar(key):
                    self.storage[key] = "fresh"     # kept, if at all, in a list per step
                elif any(k in self.carried_kept and self.alias.get(k, (k, None))[1] is None
                       for k in members):
                    self.storage[key] = "rstack"
                elif any(k in self.kept or k in self.carried_kept or k in self.stored
                         for k in members):
                    self.storage[key] = "stack"
                elif any(k in self.beyond for k in members):
                    self.storage[key] = "fresh"
                else:
                    self.storage[key] = "temp"

    def root(self, key):
        """(the key owning key's memory, the split part it is, or None for all of it)."""
        return self.alias.get(key, (key, None))

    # -- the backward's memory ------------------------------------------------------------------
    def _homes(self):
        """``home[key]``: (kind, detail) where the gradient of key is written first:
        ("part", (key of the split input, index)), ("rows", (m, j, q)) a stream's share of a
        split input's gradient, ("same", key) the buffer of another gradient; ``products``:
        per loop, {position: (input positions whose contributions wait until after the loop)}."""
        p = self.p
        self.home = {}
        self.split_homes = set()        # split inputs whose gradient is allocated first
        for (m, j, q), (x, sign, refs) in self.aligned.items():
            loop = p.loops[m]
            parts = self.node[loop.refs[j][q].values[0]].params["parts"]
            if all(p.grad[v] for v in loop.refs[j][q].values) and p.grad[x] and \
                    self._uniform(x) and self._only_split_readers(x, parts):
                self.split_homes.add(x)
                for v in loop.refs[j][q].values:
                    self.home[v] = ("rows", (m, refs))
        for key, node in self._in_order():
            if not p.grad[key]:
                continue
            op = node.op
            if op is R.split and key not in self.home:
                src = self.key(node.ins[0])
                h = self.home.get(src)
                if not self._uniform(src):
                    continue
                if h is not None and h[0] == "rows":        # a split of a stream's value
                    if h[1][0] == self.region(key) and self._rows_split(src, h[1], node):
                        self.home[key] = ("part", (src, node.params["part"]))
                elif self._only_split_readers(src, node.params["parts"]) and \
                        self.region(src) == self.region(key) and self._same_step(node, 0):
                    self.split_homes.add(src)
                    self.home[key] = ("part", (src, node.params["part"]))
                continue
            qs = (0,) if op in UNARY else IDENTITY.get(op, ())
            for q in qs:
                src = self.key(node.ins[q])
                h = self.home.get(src)
                if h is None or p.shape[src] != p.shape[key] or p.dtype[src] != p.dtype[key]:
                    continue
                if h[0] == "rows":      # the stream's only reader: its rows are key's
                    ok = key in self.loop_of and h[1][0] == self.loop_of[key][0] and \
                        h[1][1] == ((self.position(key), q),)
                else:
                    ok = self._single(src) == key and self.region(src) == self.region(key) \
                        and self._same_step(node, q)
                if ok:
                    self.home[key] = ("same", src)
                    break
        self.products = self._products()

    def home_root(self, key):
        """The home a chain of ("same", ...) homes ends in, or None."""
        h = self.home.get(key)
        while h is not None and h[0] == "same":
            h = self.home.get(h[1])
        return h

    def _uniform(self, key):
        """key and every op reading it have one dtype: its gradient can be assembled in a
        buffer of that dtype (a float64 contribution is never rounded to float32)."""
        dtype = self.p.dtype[key]
        for reader, _ in self.reads.get(key, ()):
            if type(reader) is not tuple and self.p.dtype[reader] != dtype:
                return False
        return dtype.kind == "f"

    def _rows_split(self, src, detail, node):
        """Every reader of a stream's value is a part of one split (node's)."""
        loop = self.p.loops[detail[0]]
        parts = node.params["parts"]
        for j, q in detail[1]:
            reader = loop.body[j]
            if reader.op is not R.split or q != 0 or reader.params["parts"] is not parts:
                return False
        return len(detail[1]) == len(parts)

    def _only_split_readers(self, src, parts):
        readers = self.reads.get(src, ())
        if src in self.beyond or len(readers) != len(parts):
            return False
        for reader, _ in readers:
            node = None if type(reader) is tuple else self.node.get(reader)
            if node is None or node.op is not R.split or node.params["parts"] is not parts:
                return False
        return True

    def _same_step(self, node, q):
        """Input q of a loop node is read in its own step (not carried, not from outside)."""
        key = self.key(node.out)
        if key not in self.loop_of:
            return True
        v = node.ins[q]
        return v in self.loop_of and self.loop_of[v][1] == self.loop_of[key][1]

    def _single(self, key):
        """The only reader of key's value in its region (None if several, or read beyond)."""
        readers = self.reads.get(key, ())
        if len(readers) != 1 or key in self.beyond:
            return None
        reader = readers[0][0]
        return None if type(reader) is tuple else reader

    def _products(self):
        """Matrix products inside loops whose weight is the same on every step."""
        p = self.p
        out = {}
        for m, loop in enumerate(p.loops):
            for j, node in enumerate(loop.body):
                if node.op not in (R.matmul, R.addmm) or not p.grad[node.out]:
                    continue
                a, b = (0, 1) if node.op is R.matmul else (1, 2)
                ref_a, ref_b = loop.refs[j][a], loop.refs[j][b]
                if ref_b.kind != "invariant" or not p.grad[ref_b.values[0]]:
                    continue
                if len(p.shape[node.ins[a]]) != 2 or len(p.shape[node.ins[b]]) != 2:
                    continue
                if self._stackable(m, loop, ref_a) is None:
                    continue
                key = loop.outs[0][j]
                home = self.home_root(key)
                if home is not None and home[0] == "part":
                    continue        # its gradient is a block of another: not stacked
                if home is not None and home[0] == "rows" and not self._row_blocks(m, home):
                    continue
                waiting = [b]
                if node.op is R.addmm and loop.refs[j][0].kind == "invariant" and \
                        p.grad[loop.refs[j][0].values[0]]:
                    waiting.append(0)
                out.setdefault(m, {})[j] = waiting
                if home is None:
                    self.home[key] = ("stack", (m, j))
                if ref_a.kind == "carried":
                    self.carried_kept.add(loop.outs[0][ref_a.pos])
                elif ref_a.kind == "local":
                    self.kept.add(loop.outs[0][ref_a.pos])
        self._storage()
        return out

    def _row_blocks(self, m, home):
        """The rows home is a 2-d split input cut into row blocks in the loop's order."""
        x, sign, _ = self.aligned[(m,) + home[1][1][0]]
        node = self.node[self.p.loops[m].refs[home[1][1][0][0]][home[1][1][0][1]].values[0]]
        return len(self.p.shape[x]) == 2 and node.params["parts"].axis == 0 and \
            sign == self.orient[m]

    def _stackable(self, m, loop, ref):
        """The position whose stack holds every step's value of ``ref``, whole (None if none
        can: a block of another value, or a value made outside the loop)."""
        if ref.kind not in ("carried", "local"):
            return None
        key = loop.outs[0][ref.pos]
        root, part = self.root(key)
        if part is not None or key in self.foreign:
            return None
        return root
