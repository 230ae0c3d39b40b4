"""A traced program: its values, the nodes that compute them, and its loops.

Built from a finished trace (trace.py): the nodes no output depends on are dropped, the rest
keep their trace order (a topological order), and the loops are found (loops.py). Values are
numbered as the trace numbered them; ``kind``, ``shape``, ``dtype`` and ``grad`` (requires grad)
are lists indexed by value number.
"""
from . import loops
from .trace import ARG, CONST, EXT, OP


class Program:
    def __init__(self, tracer, outputs):
        self.kind, self.shape, self.dtype = tracer.kind, tracer.shape, tracer.dtype
        self.grad, self.data, self.name = tracer.grad, tracer.data, tracer.name
        self.externals = tracer.externals
        self.outputs = outputs                  # value numbers, without repeats
        self.nodes = _needed(tracer.nodes, outputs, len(self.kind))
        self.node_of = {node.out: i for i, node in enumerate(self.nodes)}
        self.loops = loops.find(self)
        # the tensors read: arguments first, then externals (first read first)
        used = {v for node in self.nodes for v in node.ins} | set(outputs)
        self.args = sorted((self.data[v], v) for v in used if self.kind[v] is ARG)
        self.exts = sorted((self.data[v], v) for v in used if self.kind[v] is EXT)
        self.consts = sorted(v for v in used if self.kind[v] is CONST)
        self.inputs = [v for _, v in self.args + self.exts]     # a call's node's inputs

    def defined_at(self):
        """Per value: the index of the node that computes it, -1 for the others."""
        at = [-1] * len(self.kind)
        for i, node in enumerate(self.nodes):
            at[node.out] = i
        return at

    def items(self):
        """The program in order as nodes and loops: the nodes of a loop are its steps."""
        out, i = [], 0
        starts = {loop.start: loop for loop in self.loops}
        while i < len(self.nodes):
            loop = starts.get(i)
            if loop is None:
                out.append(self.nodes[i])
                i += 1
            else:
                out.append(loop)
                i += len(loop) * loop.n
        return out

    def consumers(self):
        """Per value: the (node index, input position) pairs that read it."""
        out = {}
        for i, node in enumerate(self.nodes):
            for p, v in enumerate(node.ins):
                out.setdefault(v, []).append((i, p))
        return out


def _needed(nodes, outputs, count):
    """The nodes some output depends on, in trace order."""
    needed = [False] * count
    for v in outputs:
        needed[v] = True
    kept = []
    for node in reversed(nodes):
        if needed[node.out]:
            kept.append(node)
            for v in node.ins:
                needed[v] = True
    kept.reverse()
    return kept


__all__ = ["Program", "ARG", "CONST", "EXT", "OP"]
