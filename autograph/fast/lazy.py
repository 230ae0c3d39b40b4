"""Lazy gradients: what the backward loop keeps in pieces and makes dense once, when it reaches
the tensor. Private to the loop (autograph/backward.py): every event, hook, deposit and check
sees dense arrays.

- ``Scatter``: the slices of a tensor send it zeros-plus-a-piece; merged, the pieces of slices
  that tile an axis are joined by one concatenate (a sequence cut into its T steps costs O(T),
  not O(T²)).
- ``Products``: the matrix products that read one weight send it ``aᵀ g``; the pairs are
  stacked and multiplied out together (an RNN's recurrent weight is read once per step), as a
  hand-written BPTT computes dW_hh.
- ``Rows``: the steps' shares of a large input projection send it row blocks, which the
  projection's own rules take as they are: no full-size copy of its gradient.

``FAST`` holds the rules the loop uses instead of the table's for these ops, ``join`` the rule
that takes every output of a split at once.
"""
import functools
import math

import numpy as np

from .. import rules as R
from ..numerics import fits, is_basic

DENSE_BYTES = 16 << 20     # Scatter: above this a gradient is added into one buffer at once
SMALL_PIECE = 512          # Scatter: pieces of fewer entries are added into a buffer at once
PRODUCT_BYTES = 4 << 20    # Products: the pairs held before they are multiplied out; Rows:
                           # a projection larger than this gets its gradient in row blocks


class Lazy:
    """A gradient in pieces. ``merge`` takes another of the same kind (and may return a dense
    array instead), ``add_into`` adds it into a buffer, ``dense`` makes the array; ``shape`` and
    ``dtype`` are the array's."""

    __slots__ = ()


def dense(g):
    """``g`` as an array: a lazy gradient made dense, anything else as it is."""
    return g.dense() if isinstance(g, Lazy) else g


def added(buf, value):
    """buf + value, into ``buf`` (a buffer of the caller's) when its dtype holds the sum."""
    if buf is None:
        return value
    if not fits(value, buf):
        return buf + value
    buf += value
    return buf


class Scatter(Lazy):
    """``zeros(shape)`` plus ``value`` at ``index``, for each of its pieces."""

    __slots__ = ("pieces", "size", "shape", "dtype")

    def __init__(self, value, index, shape):
        self.pieces, self.size = [(index, value)], value.size
        self.shape, self.dtype = shape, value.dtype

    def merge(self, other):
        """Take ``other``'s pieces, or become dense: once the pieces hold more than one buffer
        would (repeated overlapping slices then cost one buffer, not one per slice), for small
        pieces (where a piece's bookkeeping costs more than adding it into a buffer), and for
        large tensors (whose pieces and their concatenation would be two copies at once)."""
        full = math.prod(self.shape)
        if other.size < SMALL_PIECE or self.size + other.size > full \
                or full * self.dtype.itemsize > DENSE_BYTES:
            return other.add_into(self.dense())
        self.pieces += other.pieces
        self.size += other.size
        self.dtype = np.result_type(self.dtype, other.dtype)
        return self

    def add_into(self, buf):
        for index, value in self.pieces:
            if is_basic(index):
                buf[index] += value
            else:
                np.add.at(buf, index, value)
        return buf

    def dense(self):
        tiles = _tiles(self.pieces, self.shape) if len(self.pieces) > 1 else None
        if tiles is not None:
            return np.concatenate(tiles[1], axis=tiles[0], dtype=self.dtype)
        return self.add_into(np.zeros(self.shape, dtype=self.dtype))


class Products(Lazy):
    """``done`` plus the sum of ``a.T @ g`` over pairs (a, g). Past ``PRODUCT_BYTES`` the pairs
    held are multiplied out into ``done``, so what they keep alive stays bounded."""

    __slots__ = ("pairs", "nbytes", "done", "shape", "dtype")

    def __init__(self, a, g):
        self.pairs, self.nbytes, self.done = [(a, g)], a.nbytes + g.nbytes, None
        self.shape = (a.shape[1], g.shape[1])
        self.dtype = g.dtype if a.dtype == g.dtype else np.result_type(a, g)

    def merge(self, other):
        self.pairs += other.pairs
        self.nbytes += other.nbytes
        if other.dtype != self.dtype:
            self.dtype = np.result_type(self.dtype, other.dtype)
        if other.done is not None:
            self.done = added(self.done, other.done)
        if self.nbytes > PRODUCT_BYTES:
            self.done = added(self.done, self._product())
            self.pairs, self.nbytes = [], 0
        return self

    def _product(self):
        if len(self.pairs) == 1:
            a, g = self.pairs[0]
            return a.T @ g
        a, g = zip(*self.pairs)
        return np.concatenate(a).T @ np.concatenate(g)

    def add_into(self, buf):
        if self.pairs:
            buf = added(buf, self._product())
        return buf if self.done is None else added(buf, self.done)

    def dense(self):
        """A fresh array: ``done`` may still grow after it was shown."""
        if not self.pairs:
            return self.done.copy()
        return added(self._product(), self.done) if self.done is not None else self._product()


class Rows(Lazy):
    """Row blocks concatenated along the first axis: what a split into row blocks sends its
    input (each time step's share of a layer's input projection)."""

    __slots__ = ("blocks", "shape", "dtype")
    ndim = 2

    def __init__(self, blocks):
        self.blocks = blocks
        self.shape = (sum(len(b) for b in blocks), blocks[0].shape[1])
        self.dtype = np.result_type(*blocks)

    def _spans(self):
        start = 0
        for b in self.blocks:
            yield start, start + len(b), b
            start += len(b)

    def dense(self):
        return np.concatenate(self.blocks, dtype=self.dtype)

    def add_into(self, buf):
        for start, stop, b in self._spans():
            buf[start:stop] += b
        return buf

    def merge(self, other):
        return other.add_into(self.dense())

    def sum(self, axis):
        """What ``sum_to`` asks: a bias's gradient sums over the rows, block by block."""
        if 0 not in axis:
            return self.dense().sum(axis=axis)
        return functools.reduce(np.add, (b.sum(axis=axis) for b in self.blocks))

    def __matmul__(self, m):
        out = np.empty((self.shape[0], m.shape[1]), np.result_type(self.dtype, m))
        for start, stop, b in self._spans():
            np.matmul(b, m, out=out[start:stop])
        return out

    def products(self, a):
        """``a.T @ self`` as Products, block against block of a's rows."""
        spans = self._spans()
        start, stop, b = next(spans)
        out = Products(a[start:stop], b)
        for start, stop, b in spans:
            out = out.merge(Products(a[start:stop], b))
        return out


LAZY = frozenset(Lazy.__subclasses__())     # for the backward loop's type test


def accumulate(prev, gi, key, owned):
    """prev + gi for the loop's pending gradient of node ``key``; ``owned`` holds the keys
    whose buffers the loop allocated itself (safe to add into)."""
    if type(prev) in LAZY:
        if type(gi) is type(prev):
            merged = prev.merge(gi)
            if merged is not prev:
                owned.add(key)
            return merged
        prev = prev.dense()
        owned.add(key)
    if key in owned:
        return gi.add_into(prev) if type(gi) in LAZY else added(prev, gi)
    owned.add(key)
    if type(gi) in LAZY:
        return gi.add_into(np.array(prev, dtype=np.result_type(prev, gi.dtype)))
    return prev + gi


def _tiles(pieces, shape):
    """(axis, values in order) when the pieces are slices along one axis that cover it exactly
    once, else None."""
    runs = []
    for index, value in pieces:
        run = _run_along_axis(index, shape)
        if run is None:
            return None
        axis, start, stop, squeezed = run
        runs.append((start, stop, axis, np.expand_dims(value, axis) if squeezed else value))
    runs.sort(key=lambda r: r[0])
    axis = runs[0][2]
    end = 0
    for start, stop, a, _ in runs:
        if a != axis or start != end:
            return None
        end = stop
    if end != shape[axis]:
        return None
    return axis, [r[3] for r in runs]


def _run_along_axis(index, shape):
    """``(axis, start, stop, squeezed)`` when ``index`` selects positions start..stop-1 of one
    axis (an int or a step-1 slice) and everything of the others; else None."""
    if type(index) is slice:
        parts = (index,)
    elif not is_basic(index):
        return None
    else:
        parts = index if type(index) is tuple else (index,)
        if Ellipsis in parts:       # only ints, slices and None here: == is safe
            at = parts.index(Ellipsis)
            parts = parts[:at] + (slice(None),) * (len(shape) - len(parts) + 1) + parts[at + 1:]
    found = None
    for axis, p in enumerate(parts):
        if type(p) is slice:
            start, stop, step = p.indices(shape[axis])
            if (start, stop) == (0, shape[axis]):
                continue
            if step != 1 or found is not None or stop <= start:
                return None
            found = (axis, start, stop, False)
        elif isinstance(p, (int, np.integer)) and not isinstance(p, bool) and found is None:
            k = int(p) % shape[axis] if -shape[axis] <= p < shape[axis] else None
            if k is None:
                return None
            found = (axis, k, k + 1, True)
        else:
            return None
    return found


# -- the rules the loop uses instead of the table's -----------------------------------------
def _slice_vjp(g, y, x, index):
    return Scatter(g, index, x.shape)


def _matrices(a, b):
    return a.ndim == 2 == b.ndim


def _products(g, y, a, b):
    """aᵀ g, lazily for matrices, to be added up with its like."""
    if type(a) is np.ndarray and a.ndim == 2 == g.ndim:
        if type(g) is Rows:
            return g.products(a)
        return Products(a, g)
    return R.matmul_vjp_b(g, y, a, b)


FAST = {                   # given to the primitives below as their ``fast`` rules
    R.getitem: (_slice_vjp,),
    R.split: (lambda g, y, x, part, parts: Scatter(g, parts.indices[part], x.shape),),
    R.matmul: (R.matmul_vjp_a, _products),
    R.addmm: (R.addmm.vjp[0], lambda g, y, c, a, b: R.matmul_vjp_a(g, y, a, b),
              lambda g, y, c, a, b: _products(g, y, a, b)),
}


def takes_rows(node):
    """The node's rules take its gradient in row blocks as they are (a matrix product of
    matrices) and nothing else reads that gradient."""
    op, ins = node._op, node._inputs
    return (op is R.matmul or op is R.addmm) and not node._hooks \
        and not node._retain and _matrices(ins[-2]._data, ins[-1]._data)


def join(gs, y, x, part, parts):
    """The split's input gradient from all its outputs' (None for an output none reached);
    a large matrix cut along its rows gets it in row blocks, joined only if its op needs them
    joined (a small one is joined at once: one concatenate costs less than the blocks'
    bookkeeping)."""
    dtype = gs[part].dtype              # the output the loop popped: its gradient arrived
    if not parts.tile:                  # cut points out of order: the parts overlap
        out = np.zeros(x.shape, dtype)
        for g, index in zip(gs, parts.indices):
            if g is not None:
                out[index] += g
        return out
    gs = [np.zeros(x[index].shape, dtype) if g is None else g
          for g, index in zip(gs, parts.indices)]
    if parts.axis == 0 and x.ndim == 2 and x.nbytes > PRODUCT_BYTES:
        return Rows(gs)
    return np.concatenate(gs, axis=parts.axis)


JOIN = (join,)

for _op, _rules in FAST.items():
    _op.fast = _rules
