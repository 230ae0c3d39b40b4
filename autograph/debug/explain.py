"""``explain``: the chain rule from one node to another, as text.

For a graph of scalars every path is listed with the local derivative on each of its edges, the
path's product and the sum of the products, which is the derivative (the chapter's example 2).
For tensors each node on the paths is listed with the gradient it receives and sends (its VJP),
runs of time steps doing the same ops folded into one entry. Local derivatives come from the
table's own rules (``backward.pull``), the total from the ordinary backward pass.
"""
import numpy as np

from ..backward import grads_of, pull, run, seed
from ..errors import AutogradError
from ..graph import Paths
from ..modes import parse_scope
from .text import label, norm, num, shape_text, stats

MAX_LISTED_PATHS = 32    # explain() lists each path up to this many, else sums them
MAX_LISTED_EDGES = 2000  # ... and when listing them writes at most about this many factors
MAX_EXPRESSION = 12      # an unnamed output of at most this many ops is named by its formula


def local(node, p):
    """d node / d input_p for scalars: the op's vjp rule applied to g = 1."""
    return float(np.asarray(pull(node, p, np.ones_like(node._data))).reshape(()))


def explain(output, wrt):
    """The chain rule from ``wrt`` to ``output`` as text.

    For a scalar graph: every path, the local derivative on each edge, each path's product and
    their sum, which equals d output / d wrt. For tensor graphs: the VJP applied at each node on
    the paths with shapes and norms, repeated time steps folded into one entry.
    """
    pg = Paths(wrt, output, what="explain")
    if not wrt.requires_grad:
        raise AutogradError("explain: %s does not require grad, so no gradient flows to it; "
                            "create it with requires_grad=True" % label(wrt))
    if output._id == wrt._id:
        return "d%s/d%s = 1 (the same node)" % (label(output), label(wrt))
    if not pg.count:
        raise AutogradError("explain: %s does not depend on %s (no path in the graph)"
                            % (output_name(output), label(wrt)))
    if all(t._data.size == 1 for t in pg.nodes):
        return _explain_scalar(pg)
    return _explain_tensor(pg)


def output_name(t):
    """The output as the text calls it: its name; unnamed, the formula of a small graph
    (``(a + b)·(b + 1)``), else its op and id."""
    if t.name is not None:
        return label(t)
    formula = _formula(t)
    return formula if formula is not None else label(t)


_INFIX = {"add": "+", "sub": "−", "mul": "·", "div": "/", "pow": "^"}


def _formula(t):
    """The expression that computed ``t`` from named leaves and constants, or None when it is
    too big or not a scalar formula (written without recursion, innermost first)."""
    text, count = {}, 0
    stack = [(t, False)]
    while stack:
        node, ready = stack.pop()
        if node._id in text:
            continue
        if node._op is None or node.name is not None and node is not t:
            if node.name is not None:
                text[node._id] = label(node)
            elif node._data.size == 1:
                text[node._id] = num(node._data.reshape(()))
            else:
                return None
            continue
        count += 1
        if count > MAX_EXPRESSION:
            return None
        if not ready:
            stack.append((node, True))
            stack.extend((x, False) for x in node._inputs)
            continue
        args = [text[x._id] for x in node._inputs]
        sym = _INFIX.get(node._op.name)
        if sym is not None and len(args) == 2:
            text[node._id] = "(%s %s %s)" % (args[0], sym, args[1]) if sym != "·" else \
                "%s·%s" % tuple(args)
        else:
            text[node._id] = "%s(%s)" % (node._op.name, ", ".join(args))
    out = text[t._id]
    return out[1:-1] if t._op.name in _INFIX and t._op.name != "mul" else out


def _explain_scalar(pg):
    out, wrt = output_name(pg.dst), label(pg.src)
    grad = float(grads_of(pg.dst, [pg.src], retain_graph=True, again=True)[0]._data.reshape(()))
    head = "d%s/d%s" % (_short(out), wrt)
    if pg.count > MAX_LISTED_PATHS or pg.count * len(pg.nodes) > MAX_LISTED_EDGES:
        return ("%s: %d path%s from %s to %s through %d nodes, too many factors to list; their "
                "sum, the backward pass, is %s" % (head, pg.count, "" if pg.count == 1 else "s",
                                                   wrt, out, len(pg.nodes), num(grad)))
    names = {k: output_name(t) for k, t in pg.by_id.items()}
    symbols, factors, products, lines = [], [], [], []
    for path in pg.enumerate():
        hops, values, prod = [], [], 1.0
        for node, p in reversed(path):          # from output down, as the chain rule reads
            d = local(node, p)
            hops.append("d%s/d%s" % (_short(names[node._id]), _short(names[node._inputs[p]._id])))
            values.append(num(d))
            prod *= d
        products.append(prod)
        symbols.append("·".join(hops))
        factors.append("·".join(values))
        route = " → ".join([wrt] + [names[node._id] for node, _ in path])
        lines.append("  %s : %s = %s = %s" % (route, symbols[-1], factors[-1], num(prod)))
    total = float(np.sum(products))
    text = ["%s = %s" % (head, " + ".join(symbols)),
            "%s = %s" % (" " * len(head), " + ".join(factors)),
            "%s = %s" % (" " * len(head), num(total))] if len(products) <= 4 else [
        "%s = the sum of %d path products = %s" % (head, len(products), num(total))]
    text += ["%d path%s from %s to %s, each the product of the local derivatives on its edges:"
             % (pg.count, "" if pg.count == 1 else "s", wrt, out)]
    text += lines
    text.append("sum of the path products = %s; backward gives %s = %s" % (num(total), head, num(grad)))
    return "\n".join(text)


def _short(name):
    """A name inside d·/d·: a formula in parentheses."""
    return name if name.isidentifier() or "#" in name else "(%s)" % name


def _explain_tensor(pg):
    """One line per node on the paths in backward order; runs of time steps doing the same ops
    are folded into one entry."""
    wanted = set(pg.by_id)
    rows = []                                   # (node, grad_out, [(position, contribution)])
    output = pg.dst
    # a non-scalar output is explained as its sum (seeded with ones), as the pictures do
    g = seed(output, None if output._data.size == 1 else np.ones_like(output._data), False)
    for ev in run(output, g, retain_graph=True, create_graph=False, inputs=(), found={},
                  trace=True, again=True):
        if ev.node._id in wanted:
            on = {p for p, _ in pg.edges.get(ev.node._id, ())}
            rows.append((ev.node, ev.grad_out, [(p, gi) for p, gi in ev.contributions if p in on]))
    out, wrt = output_name(output), label(pg.src)
    if output._data.size != 1:
        out = "sum(%s)" % out
    text = ["d%s/d%s through %d nodes and %s path(s) (tensor graph: each node applies its VJP, "
            "g ↦ g·∂node/∂input, to the gradient arriving from the output):"
            % (out, wrt, len(rows), pg.count if pg.count < 10 ** 6 else "%.3g" % pg.count)]
    steps, order = {}, []                       # track -> {t: rows}; what to print, in order
    for row in rows:
        s = parse_scope(row[0]._scope)
        if s.track is None:
            order.append(row)
            continue
        if s.track not in steps:
            steps[s.track] = {}
            order.append(s.track)
        steps[s.track].setdefault(s.t, []).append(row)
    for item in order:
        if not isinstance(item, str):
            text.append("  " + _vjp_line(*item))
            continue
        for ts in _runs(steps[item]):
            block = steps[item][ts[0]]
            if len(ts) == 1:
                text.append("  %s[t=%d]:" % (item, ts[0]))
            else:
                entering = [norm(steps[item][t][0][1]) for t in ts]
                text.append("  %s[t=%d..%d]: same %d ops ×%d (‖g‖ at each step's first node "
                            "from %s to %s); t=%d:" % (item, ts[-1], ts[0], len(block), len(ts),
                                                       num(min(entering)), num(max(entering)), ts[0]))
            text += ["    " + _vjp_line(*r) for r in block]
    grad = grads_of(output, [pg.src], g, retain_graph=True, again=True)[0]
    text.append("d%s/d%s: %s" % (out, wrt, stats(grad._data)))
    return "\n".join(text)


def _runs(by_t):
    """Time steps, newest first, in runs of consecutive steps that apply the same ops."""
    def signature(t):
        return tuple((r[0].op_name, parse_scope(r[0]._scope).inner, r[0].shape) for r in by_t[t])
    runs = []
    for t in sorted(by_t, reverse=True):
        if runs and runs[-1][-1] == t + 1 and signature(runs[-1][0]) == signature(t):
            runs[-1].append(t)
        else:
            runs.append([t])
    return runs


def _vjp_line(node, g, sent):
    ins = node._inputs
    norms = [norm(gi) for _, gi in sent]
    parts = ["%s %s" % (label(ins[p]), num(n)) for (p, _), n in zip(sent, norms)]
    if len(parts) > 6:                           # e.g. a concat of every time step's output
        parts = ["%d inputs, ‖·‖ from %s to %s" % (len(parts), num(min(norms)), num(max(norms)))]
    return "%s %s%s: ‖g‖ %s → %s" % (
        label(node), shape_text(node.shape),
        "  " + node._scope if node._scope else "", num(norm(g)),
        ", ".join(parts) if parts else "(the paths end here)")
