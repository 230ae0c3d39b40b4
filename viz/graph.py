"""The recorded graph as the pictures see it: nodes numbered from 0 in creation order.

Every picture, listing and plot starts here. A node's number (``%k``) is its position among the
tensors the output depends on, so the same program gives the same numbers in every process, and
no ``id()`` or set order leaks into what a user sees. All walks are iterative: graphs of recurrent
networks are hundreds of thousands of nodes deep.
"""
import re

from autograph.errors import AutogradError
from autograph.tensor import Tensor

_TAGGED = re.compile(r"^(.*)\[(.*)\]\Z", re.S)      # a name may hold line breaks


class Graph:
    """``nodes[k]`` is the tensor numbered k; ``inputs[k]`` its inputs' numbers in argument order
    (empty for leaves); ``consumers[k]`` the (number, argument position) pairs that read it."""

    __slots__ = ("output", "nodes", "index", "inputs", "consumers", "_scopes")

    def __init__(self, output):
        if not isinstance(output, Tensor):
            raise TypeError("viz: expected an autograph Tensor, got %s" % type(output).__name__)
        self.output = output
        self.nodes = _walk(output)
        self.index = {t._id: k for k, t in enumerate(self.nodes)}
        index = self.index
        self.inputs = [tuple(index[x._id] for x in t._inputs) if t._op is not None else ()
                       for t in self.nodes]
        self.consumers = [[] for _ in self.nodes]
        for k, ins in enumerate(self.inputs):
            for p, i in enumerate(ins):
                self.consumers[i].append((k, p))
        self._scopes = {}

    def __len__(self):
        return len(self.nodes)

    def scope(self, k):
        """The parsed scope of node k (shared between the nodes of one scope)."""
        s = self.nodes[k]._scope
        parsed = self._scopes.get(s)
        if parsed is None:
            parsed = self._scopes[s] = Scope(s)
        return parsed

    def positions(self, ks):
        """Each node's position within its time step, the same in every step of a track:
        (scope inside the step, op, occurrence)."""
        seen, keys = {}, []
        for k in ks:
            s = self.scope(k)
            base = (s.inner if s.track is not None else "^" + s.path, self.nodes[k].op_name)
            seen[base] = seen.get(base, -1) + 1
            keys.append(base + (seen[base],))
        return keys

    def number(self, t):
        """The ``%k`` number of a tensor of this graph."""
        k = self.index.get(t._id) if isinstance(t, Tensor) else None
        if k is None:
            raise AutogradError("viz: the tensor %s is not part of the graph of this output"
                                % (t.name or "of shape %s" % (getattr(t, "shape", "?"),)))
        return k


def _walk(output):
    """Every tensor the output depends on (constants included), in creation order."""
    seen, stack = {}, [output]
    while stack:
        t = stack.pop()
        if t._id in seen:
            continue
        seen[t._id] = t
        if t._op is not None:
            if t._inputs is None:
                raise AutogradError(
                    "viz: the graph through '%s'%s was freed by backward(); draw it (or take "
                    "its gradient norms) before calling backward(), or call "
                    "backward(retain_graph=True) to keep it"
                    % (t._op.name, " (scope '%s')" % t._scope if t._scope else ""))
            stack.extend(t._inputs)
    return [seen[k] for k in sorted(seen)]


class Scope:
    """A scope path split into components, with its time step found.

    A component tagged ``t=<int>`` marks a time step: ``lstm_l1[t=3]/forget_gate`` is step 3 of
    the track ``lstm_l1`` (a track is one layer/direction), ``inner`` is ``forget_gate``. The
    outermost tagged component counts.
    """

    __slots__ = ("path", "parts", "time_at", "track", "t", "inner")

    def __init__(self, path):
        self.path = path
        self.parts = tuple(path.split("/")) if path else ()
        self.time_at = self.track = self.t = None
        self.inner = ""
        for i, part in enumerate(self.parts):
            m = _TAGGED.match(part)
            if not m:
                continue
            tags = [kv for kv in m.group(2).split(",") if kv]
            t = [kv[2:] for kv in tags if kv.startswith("t=")]
            if t and t[0].lstrip("-").isdigit():
                rest = [kv for kv in tags if not kv.startswith("t=")]
                base = m.group(1) + ("[%s]" % ",".join(rest) if rest else "")
                self.time_at, self.t = i, int(t[0])
                self.track = "/".join(self.parts[:i] + (base,))
                self.inner = "/".join(self.parts[i + 1:])
                break

    def base(self, i):
        """Component i without its tags: ``lstm[t=3]`` -> ``lstm``."""
        m = _TAGGED.match(self.parts[i])
        return m.group(1) if m else self.parts[i]
