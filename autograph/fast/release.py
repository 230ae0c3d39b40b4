"""Releasing the values no derivative needs, once nothing but the graph refers to them.

Every node keeps its value so that pictures and the debugger can show it. A long unrolled
network pays for that: the pre-activations, the products added into a cell state and the
projected inputs of every step stay in memory although no rule reads them (add, getitem and
addmm's added term need only shapes). Inside ``release_unneeded()`` such a value is replaced by
a shape-only stand-in (``tensor.stand_in``: no memory) as soon as the graph is the only holder
of its tensor: a tensor the user still holds is never touched, and a value that some recorded
rule reads (``Primitive.saves``) is kept. The recurrent layers of ``nets`` run inside it.

What may be freed is read off the recorded graph: a value whose own op and whose consumers'
rules do not read it. Whether the user still holds its tensor is the one fact the graph cannot
tell, so it is read from the interpreter's reference count: the references of the consumers
recorded inside the block (those still alive) are counted
and compared with it, in sweeps every ``EVERY`` recorded ops and when a block ends. Only nodes of
at least ``MIN_BYTES`` are counted, so small graphs cost nothing; a consumer that was not counted
holds a reference the sweep cannot explain, which keeps the value: a count can only err towards
keeping. Each thread has its own block and its own bookkeeping. (CPython only; elsewhere, and
in the reference mode, nothing is released.)
"""
import sys
import weakref

from ..modes import current
from ..tensor import stand_in

EVERY = 256                 # recorded ops between sweeps
MAX_WAIT = 16               # sweeps between two checks of a tensor held elsewhere
MIN_BYTES = 4096            # smaller values cost more bookkeeping than they free
_HOLDERS = 3                # references a sweep itself holds: the entry, a local, the argument


class Releaser:
    """One thread's release bookkeeping, shared by its nested blocks. The dispatch appends each
    recorded node of at least ``min_bytes`` to ``recent`` and sweeps when it holds ``every``."""

    __slots__ = ("recent", "pending", "sweeps", "depth")
    min_bytes = MIN_BYTES
    every = EVERY

    def __init__(self):
        self.recent = []        # nodes recorded since the last sweep, in creation order
        # id -> [tensor, its consumers (weak, one per use), next check, wait]
        self.pending = {}
        self.sweeps = 0
        self.depth = 0

    def sweep(self, final=False):
        """Release what only the graph holds. ``final`` (a block ends): every pending tensor is
        looked at."""
        self._count(self.recent)
        self.recent.clear()
        self.sweeps += 1
        pending = self.pending
        for key, entry in list(pending.items()):
            if entry[2] > self.sweeps and not final:
                continue
            t = entry[0]
            if sys.getrefcount(t) == _HOLDERS + _graph_references(entry[1]):
                data = t._data
                t._data = stand_in(data.shape, data.dtype)
                del pending[key]
            else:                       # held elsewhere: look again later, less and less often
                entry[3] = min(2 * entry[3], MAX_WAIT)
                entry[2] = self.sweeps + entry[3]
            del t

    def _count(self, nodes):
        """Count the graph's references to pending tensors; admit new ones; drop saved ones."""
        pending = self.pending
        for t in nodes:
            ins = t._inputs
            saves = t._op.saves
            for i, x in enumerate(ins):
                entry = pending.get(x._id)
                if entry is not None:
                    if saves is None or i in saves:
                        del pending[x._id]  # a rule reads it: keep
                    else:
                        entry[1].append(weakref.ref(t))
            if saves is not None and "y" not in saves and not t._retain and not t._hooks:
                pending[t._id] = [t, [], self.sweeps + 1, 1]


def _graph_references(consumers):
    """References held by the input tuples of consumers still alive (a dropped consumer no
    longer holds one)."""
    return sum(1 for ref in consumers if ref() is not None)


class release_unneeded:
    """Inside, values that no recorded rule reads are released once only the graph holds them.
    Pictures and the debugger then show such a node's shape without its value. A nested block
    releases its values when it ends."""

    __slots__ = ("on",)

    def __enter__(self):
        st = current()
        self.on = st.fast and sys.implementation.name == "cpython"
        if self.on:
            if st.release is None:
                st.release = Releaser()
            st.release.depth += 1

    def __exit__(self, *exc):
        if not self.on:
            return
        st = current()
        rel = st.release
        rel.depth -= 1
        rel.sweep(final=True)
        if not rel.depth:
            st.release = None       # the outermost block forgets what is still held
