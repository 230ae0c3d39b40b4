"""Releasing the values no derivative needs, once nothing but the graph refers to them.

Every node keeps its value so that pictures and the debugger can show it. A long unrolled
network pays for that: the pre-activations, the products added into a cell state and the
projected inputs of every step stay in memory although no rule reads them (add, getitem and
addmm's added term need only shapes). Inside ``release_unneeded()`` such a value is replaced by
a shape-only stand-in (all NaN, no memory) as soon as the graph is the only holder of its
tensor: a tensor the user still holds is never touched, and a value that some recorded rule
reads (``Primitive.saves``) is kept. The recurrent layers of ``nets`` run inside it.

The graph's references are counted from the input tuples of the consumers recorded inside the
block (those still alive and not yet freed by a backward pass) and compared with the
interpreter's reference count, in sweeps every ``EVERY`` recorded ops and when a block
ends. Only nodes of at least ``MIN_BYTES`` are counted, so small graphs cost nothing; a
consumer that was not counted holds a reference the sweep cannot explain, which keeps the
value: a count can only err towards keeping. (CPython only; elsewhere nothing is released.)
"""
import sys
import weakref

import numpy as np

from . import modes

EVERY = 256                 # recorded ops between sweeps
MAX_WAIT = 16               # sweeps between two checks of a tensor held elsewhere
MIN_BYTES = 4096            # smaller values cost more bookkeeping than they free
_HOLDERS = 3                # references a sweep itself holds: the entry, a local, the argument

recent = []                 # nodes recorded since the last sweep, in creation order
_pending = {}               # id -> [tensor, its consumers (weak, one per use), next check, wait]
_sweeps = 0
_depth = 0
_nan = {}                   # dtype -> the 0-d NaN every stand-in of that dtype views
_stand_ins = {}             # (shape, dtype) -> the stand-in


class release_unneeded:
    """Inside, values that no recorded rule reads are released once only the graph holds them.
    Pictures and the debugger then show such a node's shape without its value."""

    __slots__ = ("prev",)

    def __enter__(self):
        global _depth
        _depth += 1
        self.prev, modes.release = modes.release, sys.implementation.name == "cpython"

    def __exit__(self, *exc):
        global _depth
        _depth -= 1
        modes.release = self.prev
        sweep(final=True)       # a nested block ends with its values released too


def is_released(t):
    return is_stand_in(t.data)


def is_stand_in(data):
    """True for the shape-only array that replaces a released value."""
    return type(data) is np.ndarray and data.base is not None and data.base is _nan.get(data.dtype)


def sweep(final=False):
    """Called by the dispatch when ``recent`` (to which it appends each node of ``MIN_BYTES`` or
    more recorded inside the block) reaches ``EVERY``, and when a block ends (``final``: every
    pending tensor is looked at; the outermost block then forgets those still held)."""
    global _sweeps
    _count(recent)
    recent.clear()
    _sweeps += 1
    for key, entry in list(_pending.items()):
        if entry[2] > _sweeps and not final:
            continue
        t = entry[0]
        if sys.getrefcount(t) == _HOLDERS + _graph_references(entry[1]):
            t.data = _stand_in(t.data)
            del _pending[key]
        else:                       # held elsewhere: look again later, less and less often
            entry[3] = min(2 * entry[3], MAX_WAIT)
            entry[2] = _sweeps + entry[3]
        del t
    if final and not _depth:
        _pending.clear()


def _graph_references(consumers):
    """References held by the input tuples of consumers still alive and not yet freed by a
    backward pass (a freed or dropped consumer no longer holds one)."""
    n = 0
    for ref in consumers:
        c = ref()
        if c is not None and c._inputs is not None:
            n += 1
    return n


def _count(nodes):
    """Count the graph's references to pending tensors; admit new ones; drop saved ones."""
    pending = _pending
    for t in nodes:
        ins = t._inputs
        if ins is None:                 # already back-propagated and freed
            continue
        saves = t._op.saves
        for i, x in enumerate(ins):
            entry = pending.get(x._id)
            if entry is not None:
                if saves is None or i in saves:
                    del pending[x._id]  # a rule reads it: keep
                else:
                    entry[1].append(weakref.ref(t))
        if saves is not None and "y" not in saves and not t._retain and not t._hooks:
            pending[t._id] = [t, [], _sweeps + 1, 1]


def _stand_in(data):
    """A read-only array of ``data``'s shape and dtype that views one NaN (no memory); one per
    shape and dtype, shared by every tensor it stands in for."""
    key = (data.shape, data.dtype)
    stand_in = _stand_ins.get(key)
    if stand_in is None:
        nan = _nan.get(data.dtype)
        if nan is None:
            nan = _nan[data.dtype] = np.full((), np.nan, data.dtype)
            nan.flags.writeable = False
        if len(_stand_ins) >= 4096:     # many shapes (varying lengths): start over
            _stand_ins.clear()
        stand_in = _stand_ins[key] = np.ndarray(data.shape, data.dtype, nan, 0, (0,) * data.ndim)
    return stand_in
