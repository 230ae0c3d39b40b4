"""``to_text``: the recorded graph as an SSA-style listing, for diffs and terminals.

    %0 = input "a" : f64[]
    %2 = const 1 : f64[]
    %3 = add %0 %1 : f64[]  "c"
    %7 = mul %3 %5 : f32[32,128]  lstm[t=3]/forget_gate

Numbers are the graph's own (creation order from 0), so two runs of one program list the same
text. Needs no Graphviz. Names are quoted, and in names and scopes a backslash and every character
that would break the line or the terminal is written as Python writes it (``\\n``, ``\\x00``):
one line per node, whatever the names.
"""

import numpy as np

from autograph.debug.text import printable, shape_text, type_text, values_text
from autograph.fast.compile import Compiled
from .graph import Graph


def to_text(output):
    """The graph of ``output`` as one line per node, inputs before the nodes that read them;
    for a compiled function (``ag.compile``), each of its traced programs as planned."""
    if isinstance(output, Compiled):
        from .compiled import program_text
        return program_text(output)
    graph = Graph(output)
    return "\n".join(line(graph, k) for k in range(len(graph))) + "\n"


def line(graph, k):
    t = graph.nodes[k]
    if t._op is None:
        what = "input" if t.requires_grad else "const"
        if t.name is not None:
            what += " " + quoted(t.name)
        elif not t.requires_grad:
            v = values_text(t.data, limit=4)
            if v is not None:
                what += " " + v
    else:
        what = " ".join([t._op.name] + ["%%%d" % i for i in graph.inputs[k]])
        if t._params:
            what = " ".join(x for x in (what, params_text(t._params)) if x)
    text = "%%%d = %s : %s" % (k, what, type_text(t.data))
    if t._scope:
        text += "  " + printable(t._scope.replace("\\", "\\\\"))
    if t._op is not None and t.name is not None:
        text += "  " + quoted(t.name)
    return text


def quoted(name):
    """A name as a string literal: backslashes, quotes and unprintable characters escaped."""
    return '"%s"' % printable(str(name).replace("\\", "\\\\")).replace('"', '\\"')


def params_text(params):
    return " ".join("%s=%s" % (key, param_text(v)) for key, v in params.items()
                    if v is not None and v is not False)


def param_text(v):
    """An op parameter in a few characters: an index as ``[3, :, 0:4]``."""
    if isinstance(v, tuple):
        return "[%s]" % ", ".join(param_text(x) for x in v) if not all(
            isinstance(x, (int, np.integer)) for x in v) else "(%s)" % ",".join(str(x) for x in v)
    if isinstance(v, slice):
        parts = ["" if x is None else str(x) for x in (v.start, v.stop)]
        text = ":".join(parts)
        return text + (":%s" % v.step if v.step is not None else "")
    if isinstance(v, np.ndarray):
        return "array" + shape_text(v.shape)
    if isinstance(v, np.dtype) or isinstance(v, type):
        return np.dtype(v).name
    if v is Ellipsis:
        return "..."
    return str(v)
