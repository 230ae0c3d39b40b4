"""DOT text for a recorded graph, written directly as strings (fast, and byte-for-byte the same
for the same program), then wrapped in a ``graphviz.Digraph`` for display.

``picture(output, **options)`` returns a ``Picture``: the DOT text, the DOT node ids of every
tensor (its variable node first, then its proxies) and the notes about what was folded. SVG
rendered from it keeps those ids as element ids, with classes (``var``, ``op``, ``proxy``,
``group``, ``param``, ``const``, ``nan``, ``t<k>``, ``n<k>`` for tensor k) and tooltips, so a web
page can find a tensor's nodes.
"""
import html
import inspect
import re
import shutil

import numpy as np

from .calculus import (Local, Paths, forward_tangents, fmt, norm, reverse_grads, shape_text,
                       type_text, values_text)
from .graph import Graph, Scope
from . import tiles
from .layout import Layout
from .text import line, param_text, printable

SHOW = ("name", "shape", "value", "grad")
FONT = "Helvetica"

# The fixed colour scale of color_by="grad": one colour per decade of the norm, 1e-8 ... 1e2
# (viridis), so equal colours mean equal magnitudes in every picture.
DECADES = range(-8, 3)
SCALE = ("#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c", "#22a884",
         "#44bf70", "#7ad151", "#bddf26", "#fde725")
ZERO, NAN, INF = "#d9d9d9", "#ff33cc", "#e31a1c"

class Picture:
    """``dot``: the DOT text; ``ids``: {tensor number: (DOT node ids)}; ``notes``: what was
    folded, collapsed or left out; ``graph``: the numbered graph; ``layout``: what was drawn."""

    __slots__ = ("dot", "ids", "notes", "graph", "layout")

    def __init__(self, dot, ids, notes, graph, layout):
        self.dot, self.ids, self.notes, self.graph, self.layout = dot, ids, notes, graph, layout

    def digraph(self):
        import graphviz
        g = graphviz.Digraph("G")
        g.body = [line + "\n" for line in self.dot.split("\n")[1:-2]]    # between "{" and "}"
        return g


def draw(output, **options):
    """The picture of ``output``'s graph as a ``graphviz.Digraph`` (displays inline in Jupyter).

    Variables are boxes (name or ``%k``, shape, values when small, gradient); each op is a small
    node in front of the variable it makes. Options:

    - ``show``: which of "name", "shape", "value", "grad" the boxes carry. The gradient is
      d output / d node for every node (computed from the kept graph, ``.grad`` untouched; a leaf's
      ``.grad`` is added when it differs), so draw before ``backward()`` or keep the graph with
      ``backward(retain_graph=True)``.
    - ``rankdir``: "LR" (time runs left to right) or "TB", "RL", "BT".
    - ``collapse``: a depth (1 draws each top-level scope, e.g. each time step, as one node) or a
      list of scope names (``["forget_gate"]``, ``["lstm[t=3]"]``) drawn as single nodes.
    - ``rolled``: one step per track, recurrent edges drawn as a loop labelled ``×(T-1)``.
    - ``color_by="grad"``: fill by log10 of the gradient norm on a fixed scale, with a legend;
      zero, NaN and Inf have their own colours.
    - ``edge_labels``: "local" writes each edge's local derivative (the number for scalars, the
      Jacobian's shape and norm for tensors), "shape" the shape flowing along it.
    - ``highlight=(src, dst)``: every path from src to dst in red, each path's product and their
      sum (which is d dst / d src) in the note above the picture.
    - ``mode``: "reverse" labels d output / d node (with "grad" in ``show``); "forward" with
      ``wrt=x`` labels d node / d x.
    - ``max_nodes``: above it the oldest time steps are folded into one node per track (or the
      picture is rolled), then scopes collapsed, then the oldest nodes left out; a note says
      what was folded. None draws everything.

    A track of more than 16 steps is drawn in rows of steps that wrap (``viz.tiles``): each
    step laid out on its own, so the time grows with the number of steps, not faster. Its DOT
    text carries every position (Graphviz only draws it), so making it runs ``dot``; without
    Graphviz the text is the plain one, which any Graphviz lays out later (slowly).
    """
    return picture(output, **options).digraph()


def picture(output, *, show=SHOW, rankdir="LR", collapse=None, rolled=False, color_by=None,
            edge_labels=None, highlight=None, mode="reverse", wrt=None, max_nodes=1500):
    """The DOT text of ``output``'s graph, the DOT ids of each tensor's nodes and the notes, as
    a ``Picture`` (``viz.draw`` describes the options)."""
    show = _check(show, rankdir, color_by, edge_labels, mode, wrt, highlight)
    if mode == "forward" and "grad" not in show:
        show += ("grad",)                   # asking for d node / d wrt is asking to see it
    graph = Graph(output)
    layout, notes = fit(graph, rolled, collapse, max_nodes)
    values = None
    if "grad" in show or color_by == "grad":
        values = forward_tangents(graph, wrt) if mode == "forward" else reverse_grads(graph)
        if mode == "reverse" and output.data.size != 1 and output.requires_grad:
            notes.append("the output is not a scalar: gradients shown are those of its sum")
        if mode == "forward" and wrt.data.size != 1:
            notes.append("forward mode: the tangent pushed from %s is all ones"
                         % _name(graph, graph.number(wrt)))
    paths = Paths(graph, *highlight) if highlight is not None else None
    if paths is not None:
        notes.extend(path_notes(graph, paths))
    writer = Writer(graph, layout, show, values, mode, wrt, color_by, edge_labels, paths)
    if layout.tiled and shutil.which("dot") is not None:
        text = tiles.text(writer, rankdir, notes)
    else:
        text = writer.text(rankdir, notes)      # without Graphviz: dot lays it all out later
    return Picture(text, writer.ids(), notes, graph, layout)


draw.__signature__ = inspect.signature(picture).replace(
    return_annotation="graphviz.Digraph")       # the options, for help() and editors


def _check(show, rankdir, color_by, edge_labels, mode, wrt, highlight):
    if isinstance(show, str):
        show = (show,)
    bad = [s for s in show if s not in SHOW]
    if bad:
        raise ValueError("viz.draw: show=%r has unknown entries %r; choose from %s" % (show, bad, SHOW))
    for what, value, allowed in (("rankdir", rankdir, ("LR", "TB", "RL", "BT")),
                                 ("color_by", color_by, (None, "grad")),
                                 ("edge_labels", edge_labels, (None, "local", "shape")),
                                 ("mode", mode, ("reverse", "forward"))):
        if value not in allowed:
            raise ValueError("viz.draw: %s=%r; choose one of %s" % (what, value, allowed))
    if mode == "forward" and wrt is None:
        raise ValueError("viz.draw: mode='forward' labels every node with d node / d wrt; pass "
                         "wrt=<an input tensor>")
    if highlight is not None and (not isinstance(highlight, (tuple, list)) or len(highlight) != 2):
        raise ValueError("viz.draw: highlight must be a pair (src, dst) of tensors of the graph")
    return tuple(show)


def fit(graph, rolled, collapse, max_nodes):
    """The layout to draw and notes saying what the node budget folded: first the oldest time
    steps (one node per track; rolled if fewer than two steps fit), then scopes from the deepest
    up, and as a last resort the oldest nodes are left out. ``max_nodes=None`` draws everything."""
    layout = full = Layout(graph, rolled, collapse)
    notes = []
    if max_nodes is None or layout.size <= max_nodes:
        return layout, notes
    why = "the graph has %d nodes to draw, more than max_nodes=%d" % (layout.size, max_nodes)
    if not rolled and layout.has_time():
        layout = fold_steps(graph, layout, collapse, max_nodes)
        if layout.keep_steps is not None:
            notes.append("%s: the oldest time steps are folded into one node per track (%s); "
                         "the newest %d steps are drawn (rolled=True draws one step)" % (
                             why, ", ".join("%s t=%d…%d" % (track, old[0], old[-1])
                                            for track, old in layout.folded_steps.items()),
                             layout.keep_steps))
        else:
            notes.append("%s: time steps folded (rolled=True): each track's %s drawn once"
                         % (why, " and ".join("%d steps" % len(s) for s in layout.steps.values())))
    if layout.size > max_nodes and not isinstance(collapse, (list, tuple)):
        depth = min(collapse or layout.max_depth(), layout.max_depth())
        while layout.size > max_nodes and depth >= 1:
            layout = Layout(graph, layout.rolled, depth, keep_steps=layout.keep_steps)
            notes.append("scopes deeper than %d collapsed into single nodes (%d nodes left)"
                         % (depth, layout.size))
            depth -= 1
    floor = 0
    while layout.size > max_nodes:
        floor = len(graph) - max(1, (len(graph) - floor) * max_nodes // (2 * layout.size))
        layout = Layout(graph, layout.rolled, layout.collapse, floor, layout.keep_steps)
    if floor:
        notes.append("only the %d nodes nearest the output are drawn (%%%d and after); %d older "
                     "nodes left out" % (len(graph) - floor, floor, floor))
    if not notes or not notes[0].startswith(why):
        notes.insert(0, why)
    notes.append("pass max_nodes=None to draw everything%s" % (
        "" if full.tiled else " (slow to lay out), or write .dot text"))
    return layout, notes


def fold_steps(graph, layout, collapse, max_nodes):
    """The unrolled layout with as many of the newest steps as fit in the budget (the older
    ones folded into one node per track); the rolled layout if fewer than 2 steps fit."""
    steps = max(len(s) for s in layout.steps.values())
    keep = int(steps * max_nodes / layout.size)
    while keep >= 2:
        folded = Layout(graph, False, collapse, keep_steps=keep)
        if folded.size <= max_nodes:
            return folded
        keep = min(keep - 1, int(keep * max_nodes / folded.size))
    return Layout(graph, True, collapse)


def path_notes(graph, paths):
    """The chain rule along every path from src to dst, as lines of text."""
    src, dst = _name(graph, paths.src), _name(graph, paths.dst)
    if not paths.count:
        note = "no path from %s to %s: %s does not depend on %s" % (src, dst, dst, src)
        if Paths(graph, graph.nodes[paths.dst], graph.nodes[paths.src]).count:
            note += "; %s depends on %s: highlight=(%s, %s) draws those paths" % (src, dst, dst, src)
        return [note]
    notes = ["%d path%s from %s to %s; the sum of the path products is d%s/d%s"
             % (paths.count, "s" if paths.count > 1 else "", src, dst, dst, src)]
    scalar = all(graph.nodes[k].data.size == 1 for k in paths.nodes)
    for path, product in paths.listed or ():
        hops = " → ".join([src] + [_name(graph, k) for k, _ in path])
        if scalar:
            factors = " × ".join(fmt(Local(graph, k, p).value) for k, p in path)
            notes.append("  %s : %s = %s" % (hops, factors, fmt(float(product))))
        else:
            notes.append("  %s : ‖product‖ = %s" % (hops, fmt(norm(product))))
    total = paths.total
    scalar_sum = total.size == 1
    line = ("sum = %s" if scalar_sum else "‖sum‖ = %s") % fmt(float(total) if scalar_sum else norm(total))
    if paths.grad is not None:
        g = paths.grad
        said = "d%s/d%s = %s" if g.size == 1 else "‖d%s/d%s‖ = %s"
        line += "; backward() gives " + said % (dst, src, fmt(float(g) if g.size == 1 else norm(g)))
    notes.append(line)
    return notes


def _name(graph, k):
    name = graph.nodes[k].name
    return str(name) if name is not None else "%%%d" % k


# -- writing ---------------------------------------------------------------------------------
# Graphviz decodes HTML entities in ordinary labels too (a name "a&amp;b" would be drawn "a&b"),
# so every & reaches it as &amp;; it escapes < > and & in the SVG itself.
_BREAK = re.compile(r"\r\n|\r|\n")


def dot_text(s, br="\\n", backslash="\\\\"):
    """User text inside a DOT string literal, drawn exactly: line breaks become ``br`` (a DOT
    line break), characters that cannot be drawn are written as Python writes them
    (``printable``), quotes and ampersands are escaped and a backslash becomes ``backslash``."""
    return br.join(printable(part).replace("\\", backslash).replace('"', '\\"').replace("&", "&amp;")
                   for part in _BREAK.split(str(s)))


def esc(s):
    """A DOT string literal that shows ``s`` as text."""
    return '"' + dot_text(s) + '"'


def esc_tooltip(s):
    """A node's tooltip as a DOT string literal. Graphviz reads backslash escapes in it twice
    (line breaks, then ``\\N`` and the like), so a backslash is written four times."""
    return '"' + dot_text(s, backslash="\\" * 4) + '"'


def esc_lines(lines, end="\\n"):
    """Lines joined with a DOT line break (``\\l`` left-justifies every line)."""
    return '"' + end.join(dot_text(s, end) for s in lines) + ('\\l' if end == "\\l" else "") + '"'


def esc_html(s):
    """Text inside an HTML-like label, drawn exactly (Graphviz expands backslash escapes such as
    ``\\N`` there too)."""
    return "<br/>".join(html.escape(printable(part)).replace("\\", "\\\\")
                        for part in _BREAK.split(str(s)))


def grad_colour(n):
    """Fill colour, font colour and class for a gradient of norm n."""
    if n != n:
        return NAN, "black", "grad-nan"
    if n == float("inf"):
        return INF, "white", "grad-inf"
    if n == 0:
        return ZERO, "black", "grad-zero"
    i = int(np.clip(np.round(np.log10(n)) - DECADES[0], 0, len(SCALE) - 1))
    return SCALE[i], "white" if i < 6 else "black", "grad-%d" % (i + DECADES[0])


class Writer:
    def __init__(self, graph, layout, show, values, mode, wrt, color_by, edge_labels, paths):
        self.g, self.lay, self.show, self.values = graph, layout, show, values
        self.mode, self.color_by, self.edge_labels, self.paths = mode, color_by, edge_labels, paths
        out = graph.output.name
        self.out = "L" if out is None else str(out)
        self.wrt = _name(graph, graph.number(wrt)) if wrt is not None else None
        self.tracks = len(layout.steps)
        self.on_path = set(paths.nodes) if paths is not None else set()
        self.raw_on_path = set(paths.edges) if paths is not None else set()
        # clusters are numbered in the order the whole picture writes them
        children, stack, self.numbers = _tree(item.box for item in layout.items.values()), [()], {}
        while stack:
            box = stack.pop()
            if box:
                self.numbers[box] = len(self.numbers)
            stack.extend(reversed(children[box]))

    # -- the document ---------------------------------------------------------------------
    def text(self, rankdir, notes):
        out = self.header(rankdir, notes)
        self._boxes(out, [(item.box, self._node(item)) for item in self.lay.items.values()])
        for e in self.lay.edges.values():
            out.append(self._edge(e))
        out.extend(self._step_order())
        if self.color_by == "grad":
            out.append(self._legend())
        out.append("}")
        return "\n".join(out) + "\n"

    def header(self, rankdir, notes, more=""):
        """The opening lines: the defaults of the graph (with ``more`` attributes), its nodes
        and edges, and the notes above the picture."""
        out = ["digraph G {",
               'graph [rankdir=%s fontname="%s" fontsize=11 nodesep=0.12 ranksep=0.22 '
               'newrank=true outputorder=edgesfirst%s]' % (rankdir, FONT, more),
               'node [fontname="%s" fontsize=10 shape=box style="rounded,filled" '
               'fillcolor=white height=0.3 margin="0.06,0.03"]' % FONT,
               'edge [fontname="%s" fontsize=9 arrowsize=0.6 color="#555555"]' % FONT]
        if notes:
            out.append("labelloc=t labeljust=l label=%s" % esc_lines(notes, "\\l"))
        return out

    def ids(self):
        ids = {}
        for item in self.lay.items.values():
            if item.kind == "group":
                for k in self.lay.groups[item.group].members:
                    ids.setdefault(k, []).append(item.id)
            elif item.kind in ("var", "proxy") and item.group is None:
                ids.setdefault(item.k, []).append(item.id)
        return {k: tuple(v) for k, v in sorted(ids.items())}

    def _boxes(self, out, nodes, top=(), place=None):
        """Node statements inside nested clusters, written without recursion. ``nodes`` are
        (box, statement) pairs, every box inside ``top``; the clusters below ``top`` are
        written, and ``place(box)`` adds attributes to each (its position)."""
        by_box, children = {}, _tree((box for box, _ in nodes), top)
        for box, statement in nodes:
            by_box.setdefault(box, []).append(statement)
        stack = [(False, top)]
        while stack:
            leaving, box = stack.pop()
            if leaving:
                out.append("}")
                continue
            if box != top:
                n = self.numbers[box]
                out.append("subgraph cluster_%d {" % n)
                out.append(self._box_attrs(box, n) + (place(box) if place else ""))
                stack.append((True, box))
            out.extend(by_box.get(box, ()))
            for child in reversed(children[box]):
                stack.append((False, child))

    def _box_attrs(self, box, n):
        s = Scope("/".join(box))
        if s.time_at == len(box) - 1:
            label = "t=%d" % s.t
            if self.tracks > 1:
                label = "%s  %s" % (s.track, label)
            if self.lay.rolled and self.lay.representative(s.track) == s.t:
                label += "  (one of %d steps, rolled)" % len(self.lay.steps[s.track])
            return ('id=%s class="step t%d" label=%s style="rounded,filled" fillcolor="#f4f6fa" '
                    'color="#9aa8c0" fontsize=10 labeljust=l'
                    % (esc("step_%s_%d" % ("_".join(s.track.split()), s.t)), s.t, esc(label)))
        # every attribute set here: a subgraph inherits the attributes of the one around it
        return ('id="box_%d" class="scope" label=%s style=rounded fillcolor=none color="#c8c8c8" '
                'fontsize=9 labeljust=l' % (n, esc(box[-1])))

    # -- nodes ----------------------------------------------------------------------------
    def _node(self, item):
        k = item.k
        t = self.g.nodes[k]
        classes = [item.kind, "n%d" % k]
        s = self.g.scope(k)
        if s.t is not None:
            classes.append("t%d" % s.t)
        attrs = {}
        if item.kind == "op":
            label = self._op_label(k)
            attrs.update(shape="ellipse", fillcolor="#dfe8f5", color="#8aa0c0", fontsize="9",
                         height="0.2", width="0.3", margin="0.02,0.01")
            tooltip = line(self.g, k)
        elif item.kind == "sink":
            if item.group is not None:
                label = "→ %s" % self.lay.groups[item.group].path[-1]
            else:
                label = "→ %s %%%d" % (self._op_label(k) if t._op is not None else _name(self.g, k), k)
            attrs.update(shape="ellipse", style="filled,dashed", fillcolor="#dfe8f5",
                         color="#8aa0c0", fontsize="8", height="0.2", margin="0.02,0.01")
            tooltip = "feeds %%%d = %s" % (k, t.op_name or "input")    # its line may be long
        elif item.kind == "group":
            members = self.lay.groups[item.group].members
            parts = self.lay.groups[item.group].path
            path = "/".join(parts)
            label = "%s\n%d nodes" % ("/".join(parts[len(item.box):]) or path, len(members))
            attrs.update(shape="box3d", fillcolor="#e6eedf")
            tooltip = "%s: %d nodes (collapsed)" % (path, len(members))
            self._grad_fill(attrs, classes, self._group_norm(members))
        elif item.group is not None:           # a stand-in for a collapsed group
            group = self.lay.groups[item.group]
            label = group.path[-1]
            attrs.update(shape="box3d", style="filled,dashed", fillcolor="#e6eedf", fontsize="8",
                         height="0.2")
            tooltip = "stands in for %s: %d nodes (collapsed)" % ("/".join(group.path),
                                                                 len(group.members))
        else:
            label = self._var_label(k, proxy=item.kind == "proxy")
            tooltip = line(self.g, k)
            if t._op is None:
                if t.requires_grad:
                    classes.append("param")
                    attrs.update(fillcolor="#fff2cc")
                else:
                    classes.append("const")
                    attrs.update(fillcolor="#eeeeee", style="rounded,filled,dashed")
            if item.kind == "proxy":
                attrs.update(fontsize="8", height="0.2", style="rounded,filled,dashed")
            if k == len(self.g) - 1 and item.kind == "var":
                attrs["peripheries"] = "2"
            if self.values is not None and self.color_by == "grad" and k in self.values:
                self._grad_fill(attrs, classes, norm(self.values[k]))
            if t.data.dtype.kind in "fc" and not t.released and not np.isfinite(t.data).all():
                classes.append("nan")
                attrs.update(color="#e31a1c", penwidth="2.5", peripheries="2")
        if k in self.on_path and item.kind != "group":
            classes.append("path")
            attrs.update(color="#d62728", penwidth="2")
        attrs["class"] = " ".join(classes)
        body = " ".join("%s=%s" % (a, esc(v)) for a, v in attrs.items())
        return "%s [id=%s %s label=%s tooltip=%s]" % (item.id, esc(item.id), body, esc(label),
                                                        esc_tooltip(tooltip))

    def _grad_fill(self, attrs, classes, n):
        if self.color_by != "grad" or n is None:
            return
        fill, font, cls = grad_colour(n)
        attrs.update(fillcolor=fill, fontcolor=font)
        classes.append(cls)

    def _group_norm(self, members):
        if self.values is None:
            return None
        inside = set(members)
        cons = self.g.consumers
        last = len(self.g) - 1
        exits = [k for k in members if k == last or any(c not in inside for c, _ in cons[k])]
        got = [norm(self.values[k]) for k in exits if k in self.values]
        return float(np.sqrt(np.sum(np.square(got)))) if got else None

    def _var_label(self, k, proxy=False):
        t = self.g.nodes[k]
        show = () if proxy else self.show
        title = _name(self.g, k) if "name" in show or proxy else None
        small = values_text(t.data, 4, 3) if "value" in show else None
        lines = []
        if t.data.ndim == 0 and small is not None:
            lines.append(small if title is None else "%s = %s" % (title, small))
        else:
            lines += [x for x in (title, small) if x is not None]
        if "shape" in show and t.data.ndim:
            lines.append(type_text(t.data))
        if "grad" in show and self.values is not None:
            if k in self.values:
                lines.append(self._quantity(k))
            g = t.grad
            stale = g is not None and (k not in self.values or not np.allclose(
                np.asarray(g.data), self.values[k], equal_nan=True))
            if self.mode == "reverse" and t._op is None and stale:
                lines.append(".grad " + _amount(np.asarray(g.data)))
        return "\n".join(lines)

    def _quantity(self, k):
        """d out / d node (reverse) or d node / d wrt (forward): values if scalar, else the norm."""
        name = self.g.nodes[k].name
        me = "·" if name is None else str(name)
        d = ("∂%s/∂%s" % (self.out, me)) if self.mode == "reverse" else ("∂%s/∂%s" % (me, self.wrt))
        a = self.values[k]
        return "%s = %s" % (d, fmt(a.reshape(()))) if a.size == 1 else "‖%s‖ = %s" % (d, fmt(norm(a), 3))

    def _op_label(self, k):
        t = self.g.nodes[k]
        name = t._op.name
        ins = self.g.inputs[k]
        folded = [self.lay.inlined[i] for i in ins]
        sym = t._op.symbol or name        # the table's display symbol
        if name == "getitem":
            return "[%s]" % param_text(t._params["index"]).strip("[]()")
        if name == "split":
            p = t._params
            return "[%s]" % param_text(p["parts"].indices[p["part"]]).strip("[]()")
        if any(folded) and len(ins) == 2 and sym in "+−×÷^":
            a, b = (fmt(self.g.nodes[i].data) if f else "·" for i, f in zip(ins, folded))
            return "%s %s %s" % (a, sym, b)
        extra = [v for key, v in (t._params or {}).items() if key in ("axis",) and v is not None]
        if extra:
            return "%s(%s)" % (sym, param_text(extra[0]))
        return sym

    # -- edges ----------------------------------------------------------------------------
    def _edge(self, e):
        return "%s -> %s%s" % (e.src, e.dst, self.edge_attrs(e))

    def edge_attrs(self, e):
        """The attribute list of edge e (" [...]"), or "" if it has none."""
        attrs = []
        label = []
        if e.raw is not None and e.dst[0] == "o":
            k, p = e.raw
            if self.edge_labels == "local" and self.g.nodes[self.g.inputs[k][p]].requires_grad:
                label.append(Local(self.g, k, p).label())
            elif self.edge_labels == "shape":
                label.append(shape_text(self.g.nodes[self.g.inputs[k][p]].data.shape))
        if e.count > 1 and (e.loop or not self._same_step(e)):
            label.append("×%d" % e.count)
        if not self.lay.rolled and self._between_steps(e):
            attrs.append("weight=8")       # keeps the chain of steps straight
        if e.loop:
            attrs.append('constraint=false color="#1f5fbf" penwidth=1.6 fontcolor="#1f5fbf" '
                         'class="loop"')
            label.insert(0, "t-1 → t")
        if self.paths is not None and self._edge_on_path(e):
            attrs.append('color="#d62728" penwidth=2.2 class="path"')
        if label:
            attrs.append("label=%s" % esc("\n".join(label)))
        return " [%s]" % " ".join(attrs) if attrs else ""

    def _step_order(self):
        """Invisible edges from the newest node of each step to the nodes of the next step that
        have no inputs (proxies of weights, slices of the data): without them those nodes float
        back beside the previous step and the steps are drawn as a staircase, not a row."""
        fed = {e.dst for e in self.lay.edges.values()}
        steps, parsed = {}, {}
        for item in self.lay.items.values():
            s = parsed.get(item.box)
            if s is None:
                s = parsed[item.box] = Scope("/".join(item.box))
            if s.track is not None:
                steps.setdefault(s.track, {}).setdefault(s.t, []).append(item)
        out = []
        for by_t in steps.values():
            order = sorted(by_t.values(), key=lambda items: min(
                self.lay.position(i.k) for i in items))
            for before, after in zip(order, order[1:]):
                last = max((i for i in before if i.kind == "var"), key=lambda i: i.k, default=None)
                if last is not None:
                    out.extend("%s -> %s [style=invis]" % (last.id, i.id) for i in after
                               if i.id not in fed)
        return out

    def _same_step(self, e):
        a, b = (self.lay.step(self.lay.items[i].k) for i in (e.src, e.dst))
        return a is not None and a == b

    def _between_steps(self, e):
        a, b = (self.lay.step(self.lay.items[i].k) for i in (e.src, e.dst))
        return a is not None and b is not None and a[0] == b[0] and a[1] != b[1]

    def _edge_on_path(self, e):
        if e.raw is not None:
            return e.raw in self.raw_on_path
        k = self.lay.items[e.dst].k        # op -> variable edge of node k
        return k in self.on_path and k != self.paths.src

    def _legend(self):
        head = "‖∂%s/∂·‖" % self.out if self.mode == "reverse" else "‖∂·/∂%s‖" % self.wrt
        cells = ['<td bgcolor="%s"><font color="%s">1e%d</font></td>'
                 % (c, "white" if i < 6 else "black", d) for i, (d, c) in enumerate(zip(DECADES, SCALE))]
        cells += ['<td bgcolor="%s">0</td>' % ZERO, '<td bgcolor="%s">NaN</td>' % NAN,
                  '<td bgcolor="%s"><font color="white">Inf</font></td>' % INF]
        return ('legend [id="legend" class="legend" shape=plaintext style="" label=<<table '
                'border="0" cellborder="1" cellspacing="0" cellpadding="3"><tr><td>%s</td>%s'
                '</tr></table>>]' % (esc_html(head), "".join(cells)))


def _tree(boxes, top=()):
    """{box: [child boxes in the order first met]} of the given boxes and every box between
    them and ``top``."""
    children = {top: []}
    for box in boxes:
        for j in range(len(top) + 1, len(box) + 1):
            if box[:j] not in children:
                children[box[:j]] = []
                children[box[:j - 1]].append(box[:j])
    return children


def _amount(a):
    v = values_text(a, 4)
    return v if v is not None else "‖·‖ " + fmt(norm(a))
