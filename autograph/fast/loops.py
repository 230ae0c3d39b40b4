"""Finding the loops of a traced program: the steps of a recurrent network, rolled back up.

A trace is straight-line: an LSTM over T steps records the same dozen ops T times. Emitting
each of them would make the generated code T times longer (and Python compiles it at about
30 µs a line); rolling them back into a loop gives one body, run T times, and tells the planner
what a step reads:

- ``local``: a value of the same step;
- ``carried``: a value of the step before (h and c), with an initial value for the first step;
- ``invariant``: the same value, made before the loop, on every step (a weight);
- ``stream``: one value per step, made before the loop (each step's rows of the projected
  input, or the k-th data point of a dataset of scalars).

Repeats are found without knowing anything about the function: each node gets a token (its op,
parameters and shapes); equal runs of tokens give candidate periods; a candidate is kept when
every input of every step falls in one of the four kinds above, for as many steps as it does.
The longest coverage is taken first, then what is left before and after it is searched again.
"""
import collections

import numpy as np

WINDOW = 16         # the shortest run of tokens compared when looking for a period
WINDOW_MAX = 1024   # the longest
CANDIDATES = 64     # periods measured per region (the most frequent distances)
CHECKS = 4          # of those, the ones covering most nodes whose reads are checked


class Ref:
    """How an input of a loop's body is read at step k (see the module's docstring)."""

    __slots__ = ("kind", "pos", "values")

    def __init__(self, kind, pos=None, values=None):
        self.kind = kind        # "local", "carried", "invariant" or "stream"
        self.pos = pos          # local, carried: the body position read
        self.values = values    # carried: (the first step's value,); invariant: (value,);
        #                         stream: one value per step


class Loop:
    """``n`` steps of a body of ``len(body)`` nodes; ``nodes[start + k * len(body) + j]`` is the
    node at position j of step k. ``refs[j][p]`` says how input p of position j is read,
    ``params[j]`` are position j's parameters, with ``streamed[j]`` naming those that differ
    from step to step (arrays, one per step, in ``stream_params[j][name]``)."""

    def __init__(self, nodes, start, length, n, refs, streamed):
        self.start, self.n = start, n
        self.body = nodes[start:start + length]
        self.refs = refs
        self.outs = [[nodes[start + k * length + j].out for j in range(length)]
                     for k in range(n)]
        self.stream_params = streamed

    def __len__(self):
        return len(self.body)


def params_key(params):
    """A hashable stand-in for an op's parameters: arrays by shape and dtype only (their values
    may differ from step to step: see ``Loop``), slices and lists by their contents."""
    if not params:
        return ()
    key = tuple(params.items())
    try:
        hash(key)                   # the usual case: shapes, axes, a split's parts
        return key
    except TypeError:               # arrays, slices
        return tuple((k, _key(v)) for k, v in sorted(params.items()))


def _key(v):
    parts, stack = [], [v]          # iterative: an index may nest tuples
    while stack:
        x = stack.pop()
        if isinstance(x, np.ndarray):
            parts.append(("nd", x.shape, x.dtype.str))
        elif isinstance(x, slice):
            parts.append(("slice", x.start, x.stop, x.step))
        elif isinstance(x, (tuple, list)):
            parts.append(("seq", len(x)))
            stack.extend(reversed(x))
        else:
            try:
                hash(x)
                parts.append(x)
            except TypeError:
                parts.append(("id", id(x)))
    return tuple(parts)


def tokens(program):
    """One small integer per node: equal for nodes that could be the same node of two steps."""
    ids, out = {}, []
    shape, dtype, grad = program.shape, program.dtype, program.grad
    for node in program.nodes:
        key = (node.op, params_key(node.params), shape[node.out], dtype[node.out],
               grad[node.out], tuple((shape[v], dtype[v]) for v in node.ins))
        out.append(ids.setdefault(key, len(ids)))
    return np.array(out, dtype=np.int64)


def find(program):
    """The loops of the program, in order, as a list of Loop."""
    nodes = program.nodes
    tok = tokens(program)
    at = program.defined_at()
    loops, todo = [], [(0, len(nodes))]
    while todo:
        lo, hi = todo.pop()
        # the longest stretch of each candidate period, most nodes covered first
        runs = sorted(((n * period, start, period, n) for period in _periods(tok, lo, hi)
                       for start, n in _runs(tok, lo, hi, period)), reverse=True)
        best = None
        for covered, start, period, n in runs[:CHECKS]:
            if best is not None and covered <= best[0]:
                break
            found = _check(nodes, at, program, start, period, n)
            if found is not None and (best is None or found[2] * period > best[0]):
                best = (found[2] * period, start, period) + found
        if best is None:
            continue
        _, start, period, refs, streamed, n = best
        loops.append(Loop(nodes, start, period, n, refs, streamed))
        todo.append((lo, start))
        todo.append((start + period * n, hi))
    loops.sort(key=lambda loop: loop.start)
    return loops


def _periods(tok, lo, hi):
    """The most frequent distances between equal runs of tokens in tok[lo:hi], for runs of
    several lengths (a short run finds a short period, a long one a period whose steps hold
    short repeats of their own: a data point's pass through the layers of an MLP)."""
    seq = tok[lo:hi].astype(np.uint64)
    count = collections.Counter()
    h, width = seq, 1
    while width <= min(WINDOW_MAX, len(seq) // 2):
        if width >= WINDOW:
            order = np.argsort(h, kind="stable")
            hs = h[order]
            same = hs[1:] == hs[:-1]
            d, n = np.unique(order[1:][same] - order[:-1][same], return_counts=True)
            for k in np.argsort(-n, kind="stable")[:CANDIDATES]:
                count[int(d[k])] += int(n[k])
        # the hash of twice the width, from two halves (collisions only waste a check:
        # every candidate is verified token by token)
        h = (h[:-width] * np.uint64(0x9E3779B97F4A7C15)) ^ (h[width:] + np.uint64(width))
        width *= 2
    return [d for d, _ in count.most_common(CANDIDATES)]


def _runs(tok, lo, hi, period):
    """(start, repeats) of the longest stretch of tok[lo:hi] that repeats with this period (at
    least twice), as a list of none or one."""
    if hi - lo < 2 * period:
        return []
    same = tok[lo:hi - period] == tok[lo + period:hi]
    edges = np.flatnonzero(np.diff(np.concatenate(([0], same.view(np.int8), [0]))))
    runs = []
    for a, b in zip(edges[::2], edges[1::2]):
        n = (b - a) // period + 1
        if n >= 2:
            runs.append((lo + int(a), int(n)))
    runs.sort(key=lambda r: -r[1])
    return runs[:1]


def _check(nodes, at, program, start, period, n):
    """(refs, streamed, steps): how the body's inputs are read, for as many steps as they are
    read alike (None when not even two)."""
    kind = program.kind
    steps = n
    refs, streamed = [], []
    for j in range(period):
        first = nodes[start + j]
        row = []
        for p in range(len(first.ins)):
            ref, ok = _classify(nodes, at, kind, start, period, steps, j, p)
            if ref is None or ok < 2:
                return None
            steps = min(steps, ok)
            row.append(ref)
        refs.append(row)
    for j in range(period):
        streamed.append(_stream_params(nodes, start, period, steps, j))
    for j in range(period):          # the refs were checked on more steps than kept: trim
        for ref in refs[j]:
            if ref.kind == "stream":
                ref.values = ref.values[:steps]
    return refs, streamed, steps


def _classify(nodes, at, kind, start, period, n, j, p):
    """The Ref of input p at body position j, and the number of steps it holds for."""
    srcs = [nodes[start + k * period + j].ins[p] for k in range(n)]
    where = [at[v] for v in srcs]       # the defining node's index, -1 for a leaf or constant
    end0 = start + period
    if start <= where[0] < start + j:   # local
        pos = where[0] - start
        for k in range(1, n):
            if where[k] != start + k * period + pos:
                return Ref("local", pos), k
        return Ref("local", pos), n
    if n > 1 and where[0] < start and start <= where[1] < end0:    # carried
        pos = where[1] - start
        for k in range(2, n):
            if where[k] != start + (k - 1) * period + pos:
                return Ref("carried", pos, (srcs[0],)), k
        return Ref("carried", pos, (srcs[0],)), n
    if where[0] >= start:
        return None, 0
    steps = n
    for k in range(1, n):
        if where[k] >= start:
            steps = k
            break
    srcs = srcs[:steps]
    if all(v == srcs[0] for v in srcs):
        return Ref("invariant", values=(srcs[0],)), steps
    return Ref("stream", values=srcs), steps


def _stream_params(nodes, start, period, n, j):
    """Parameters of body position j that differ from step to step: {name: [value per step]}."""
    params = nodes[start + j].params
    if not params:
        return None
    out = None
    for name, v in params.items():
        if not isinstance(v, np.ndarray):
            continue
        values = [nodes[start + k * period + j].params[name] for k in range(n)]
        if any(w is not v and not np.array_equal(w, v) for w in values):
            out = out or {}
            out[name] = values
    return out
