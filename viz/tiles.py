"""Long chains of time steps, laid out in rows.

``dot``'s layout of a chain of steps grows much faster than the chain (one box per step of an
LSTM took 0.4 s at T = 32, 6 s at T = 48 and 77 s at T = 64), so a picture in which a track draws
more than ``layout.TILE_STEPS`` steps is laid out in pieces, each small enough for ``dot``:

1. every step on its own (a graph per step, all in one run of ``dot``), with an invisible stub
   at its start for each node outside it that it reads, and one at its end for each of its
   nodes read outside it;
2. the rest of the picture, each track's steps standing in as one table with a cell per step,
   in rows that wrap so that the grid is about ``ASPECT`` times as wide as it is high; an edge
   to or from a step ends at the side of its cell;
3. the steps are moved into their cells and every edge that leaves a step is joined up: from
   its node to the stub, along the gaps between the cells, and on into the next step.

The DOT text carries every position and every edge's course (``layout=nop2``), so that Graphviz
only draws it: the same program gives the same text, and any Graphviz shows the same picture.
"""
import json
import math

from .graph import Scope
from .program import run_dot

GAP = 18        # points between the cells of a grid; the edges from row to row run in it
LANE = 4        # points between edges that run side by side
ROUND = 6       # the radius of their corners
ASPECT = 2.0    # a grid's width over its height

# per rankdir: the way time runs and the way rows wrap (unit vectors, y up), and the sides of a
# cell that edges enter and leave by
FLOW = {"LR": ((1, 0), (0, -1), "w", "e"), "RL": ((-1, 0), (0, -1), "e", "w"),
        "TB": ((0, -1), (1, 0), "n", "s"), "BT": ((0, 1), (1, 0), "s", "n")}
STUB = '[shape=point style=invis width=0 height=0 label=""]'


def text(writer, rankdir, notes):
    """The DOT text of ``writer``'s (tiled) layout, with every position in it."""
    return Tiling(writer, rankdir, notes).text()


class Tiling:
    def __init__(self, writer, rankdir, notes):
        self.w, self.lay, self.rankdir, self.notes = writer, writer.lay, rankdir, notes
        self.main, self.wrap, self.entry, self.exit = FLOW[rankdir]
        lay = self.lay
        self.nodes = {i.id: writer._node(i) for i in lay.items.values()}
        self.attrs = [writer.edge_attrs(e) for e in lay.edges.values()]
        self.units, self.rest = {}, []
        for item in lay.items.values():
            if item.unit is None:
                self.rest.append(item)
            else:
                self.units.setdefault(item.unit, []).append(item)
        first = {u: min(lay.position(i.k) for i in items) for u, items in self.units.items()}
        tracks = {}
        for unit in sorted(self.units, key=first.get):
            tracks.setdefault(unit[0], []).append(unit)
        self.tracks = list(tracks.values())
        self.cell = {u: (g, j) for g, units in enumerate(self.tracks) for j, u in enumerate(units)}
        self.edges = list(lay.edges.values())
        # edges within a step, between nodes outside the steps, and the rest (by step)
        self.inner, self.plain, self.cross, self.crossing = {}, [], [], {}
        for j, e in enumerate(self.edges):
            a, b = lay.items[e.src].unit, lay.items[e.dst].unit
            if a is not None and a == b:
                self.inner.setdefault(a, []).append(j)
            elif a is None and b is None:
                self.plain.append(j)
            else:
                self.cross.append(j)
                for unit in {a, b} - {None}:
                    self.crossing.setdefault(unit, []).append(j)
        self.outers = [self._outer(units) for units in self.tracks]
        # the edges from one step to another run side by side, one lane for each node they
        # come from (its edges share the stubs at both ends)
        pairs = {}
        for j in self.cross:
            e = self.edges[j]
            srcs = pairs.setdefault((lay.items[e.src].unit, lay.items[e.dst].unit), [])
            if e.src not in srcs:
                srcs.append(e.src)
        self.lanes = {(pair, src): (n - (len(srcs) - 1) / 2) * LANE
                      for pair, srcs in pairs.items() for n, src in enumerate(srcs)}

    # -- the pieces dot lays out ----------------------------------------------------------
    def text(self):
        units = [u for units in self.tracks for u in units]
        laid = _layouts(run_dot("".join(self._step_graph(u) for u in units), "json0"))
        self.step_layout = dict(zip(units, laid))
        self.grids = [self._grid(units) for units in self.tracks]
        self.skeleton = _layouts(run_dot(self._skeleton(), "json0"))[0]
        self._place()
        return self._final()

    def _outer(self, units):
        """The box around a track's steps (the step boxes' parent), written with the rest."""
        items = self.units[units[0]]
        box = items[0].box
        for item in items:
            n = 0
            while n < min(len(box), len(item.box)) and box[n] == item.box[n]:
                n += 1
            box = box[:n]
        s = Scope("/".join(box))
        return box[:s.time_at] if s.time_at is not None else box

    def _step_graph(self, unit):
        """One step on its own: its nodes and edges, and the stubs of the edges that cross its
        border (the label of an edge from the step before rides on its entering part)."""
        w, items = self.w, self.lay.items
        g, _ = self.cell[unit]
        out = w.header(self.rankdir, ())
        w._boxes(out, [(i.box, self.nodes[i.id]) for i in self.units[unit]], self.outers[g])
        out += ["%s -> %s%s" % (self.edges[j].src, self.edges[j].dst,
                                _with(self.attrs[j], 'id="e%d"' % j))
                for j in self.inner.get(unit, ())]
        starts, ends = [], []
        for j in self.crossing.get(unit, ()):
            e = self.edges[j]
            src, dst = items[e.src], items[e.dst]
            if src.unit == unit and "out_" + e.src not in ends:
                ends.append("out_" + e.src)
                out.append('%s -> out_%s [arrowhead=none id="out_%s"]' % (e.src, e.src, e.src))
            if dst.unit == unit:
                if "in_" + e.src not in starts:
                    starts.append("in_" + e.src)
                rides = src.unit is not None and self.cell[src.unit][0] == g
                out.append("in_%s -> %s%s" % (e.src, e.dst, _with(
                    self.attrs[j] if rides else "", 'id="in%d"' % j)))
        out += ["%s %s" % (s, STUB) for s in starts + ends]
        out += ["{rank=%s; %s}" % (r, "; ".join(s)) for r, s in (("min", starts), ("max", ends)) if s]
        return "\n".join(out + ["}", ""])

    def _grid(self, units):
        """How a track's steps are arranged: ``cols`` steps a row, the cell of each step, the
        widths of the table's columns and the heights of its rows (integer points)."""
        sizes = [self._size(self.step_layout[u]["bb"]) for u in units]
        n = len(units)
        length = max(s[0] for s in sizes)                   # of every cell, along time
        breadth = sum(s[1] for s in sizes) / n              # of a row, across it (on average)
        wide = self.main[0] != 0                            # time runs across the page
        cols = math.sqrt(n * (breadth + GAP) / (length + GAP) * (ASPECT if wide else 1 / ASPECT))
        cols = max(1, min(n, int(round(cols))))
        rows = [0] * -(-n // cols)                          # each row's breadth
        for j, s in enumerate(sizes):
            rows[j // cols] = max(rows[j // cols], s[1])
        along, across = [int(math.ceil(length))] * cols, [int(math.ceil(x)) for x in rows]
        cells = []
        for j in range(n):
            row, pos = divmod(j, cols)
            if self.main[0] < 0 or self.main[1] > 0:        # RL, BT: time runs backwards
                pos = cols - 1 - pos
            cells.append((row, pos) if wide else (pos, row))
        widths, heights = (along, across) if wide else (across, along)
        return {"cols": cols, "cells": cells, "widths": widths, "heights": heights}

    def _size(self, bb):
        """(length along time, length across) of a bounding box "x0,y0,x1,y1"."""
        x0, y0, x1, y1 = map(float, bb.split(","))
        return (x1 - x0, y1 - y0) if self.main[0] != 0 else (y1 - y0, x1 - x0)

    def _table(self, g):
        """The placeholder of track g in the skeleton: an HTML table with a cell per step."""
        grid = self.grids[g]
        widths, heights = grid["widths"], grid["heights"]
        port = {cell: j for j, cell in enumerate(grid["cells"])}
        rows = []
        for r, h in enumerate(heights):
            rows.append("<tr>%s</tr>" % "".join(
                '<td fixedsize="true" width="%d" height="%d"%s></td>' % (
                    w, h, ' port="p%d"' % port[r, c] if (r, c) in port else "")
                for c, w in enumerate(widths)))
        return ('grid%d [shape=plain label=<<table border="0" cellborder="0" cellspacing="%d" '
                'cellpadding="0">%s</table>>]' % (g, GAP, "".join(rows)))

    def _end(self, item_id, side):
        """An edge's end in the skeleton: the node, or the side of its step's cell."""
        unit = self.lay.items[item_id].unit
        if unit is None:
            return item_id
        g, j = self.cell[unit]
        return "grid%d:p%d:%s" % (g, j, side)

    def _skeleton(self):
        """The rest of the picture, each track's steps as one table."""
        w, items = self.w, self.lay.items
        out = w.header(self.rankdir, self.notes)
        nodes = [(i.box, self.nodes[i.id]) for i in self.rest]
        nodes += [(self.outers[g], self._table(g)) for g in range(len(self.tracks))]
        w._boxes(out, nodes)
        for j in self.plain:
            e = self.edges[j]
            out.append("%s -> %s%s" % (e.src, e.dst, _with(self.attrs[j], 'id="e%d"' % j)))
        for j in self.cross:
            e = self.edges[j]
            a, b = items[e.src].unit, items[e.dst].unit
            if a is not None and b is not None and self.cell[a][0] == self.cell[b][0]:
                continue                                    # within a grid: joined by us
            more = 'id="sk%d"' % j + (" arrowhead=none" if b is not None else "")
            out.append("%s -> %s%s" % (self._end(e.src, self.exit), self._end(e.dst, self.entry),
                                       _with(self.attrs[j], more)))
        links = []              # a node with stand-ins in the steps comes before (or after) them
        for stand_in, end in self.lay.stands_for.items():
            unit = items[stand_in].unit
            if unit is not None and end in items and items[end].unit is None:
                grid = "grid%d" % self.cell[unit][0]
                link = (end, grid) if items[stand_in].kind == "proxy" else (grid, end)
                if link not in links:
                    links.append(link)
        out += ["%s -> %s [style=invis]" % link for link in links]
        if w.color_by == "grad":
            out.append(w._legend())
        return "\n".join(out + ["}", ""])

    # -- putting the pieces together ------------------------------------------------------
    def _place(self):
        """Each step's shift into its cell, and each track's cells in picture coordinates."""
        objects = {o["name"]: o for o in self.skeleton.get("objects", ())}
        self.shift, self.rects = {}, {}
        for g, units in enumerate(self.tracks):
            grid, node = self.grids[g], objects["grid%d" % g]
            cx, cy = map(float, node["pos"].split(","))
            widths, heights = grid["widths"], grid["heights"]
            left = cx - (sum(widths) + GAP * (len(widths) + 1)) / 2
            top = cy + (sum(heights) + GAP * (len(heights) + 1)) / 2
            for u, (r, c) in zip(units, grid["cells"]):
                x0 = left + GAP * (c + 1) + sum(widths[:c])
                y1 = top - GAP * (r + 1) - sum(heights[:r])
                rect = (x0, y1 - heights[r], x0 + widths[c], y1)
                bx0, by0, bx1, by1 = map(float, self.step_layout[u]["bb"].split(","))
                self.rects[u] = rect
                self.shift[u] = ((rect[0] + rect[2] - bx0 - bx1) / 2, (rect[1] + rect[3] - by0 - by1) / 2)

    def _final(self):
        w, lay = self.w, self.lay
        where, boxes, pieces = {}, {}, {}          # node -> attrs, box -> attrs, id -> (pos, lp)
        for unit, laid in self.step_layout.items():
            _read(laid, self.shift[unit], where, boxes, pieces)
        _read(self.skeleton, (0, 0), where, boxes, pieces)
        sk = self.skeleton
        more = ' layout=nop2 bb="%s"' % sk["bb"]
        if self.notes:
            more += ' lp="%s" lwidth=%s lheight=%s' % (sk["lp"], sk["lwidth"], sk["lheight"])
        out = w.header(self.rankdir, self.notes, more)
        w._boxes(out, [(i.box, _with(self.nodes[i.id], where[i.id])) for i in lay.items.values()],
                 place=lambda box: " " + boxes["cluster_%d" % w.numbers[box]])
        for j, e in enumerate(self.edges):
            pos, lp = pieces.get("e%d" % j) or self._joined(j, pieces)
            more = 'pos="%s"' % pos + (' lp="%s"' % lp if lp else "")
            out.append("%s -> %s%s" % (e.src, e.dst, _with(self.attrs[j], more)))
        if w.color_by == "grad":
            out.append(_with(w._legend(), where["legend"]))
        out.append("}")
        return "\n".join(out) + "\n"

    def _joined(self, j, pieces):
        """The course of a cross edge: out of its step, along the gaps or the skeleton's edge,
        and into the next step. Returns (pos, label position)."""
        e, items = self.edges[j], self.lay.items
        a, b = items[e.src].unit, items[e.dst].unit
        course, end, lp = [], None, None
        if a is not None:
            course = _points(pieces["out_" + e.src][0])[0]
        if "sk%d" % j in pieces:
            pts, end = _points(pieces["sk%d" % j][0])
            lp = pieces["sk%d" % j][1]
            course = course + _line(course[-1], pts[0]) + pts[1:] if course else pts
        if b is not None:
            pts, end = _points(pieces["in%d" % j][0])
            lp = lp or pieces["in%d" % j][1]
            if "sk%d" % j in pieces or a is None:
                course += _line(course[-1], pts[0]) + pts[1:]
            else:
                course += self._lane(a, b, course[-1], pts[0], j) + pts[1:]
        text = " ".join("%s,%s" % (_num(x), _num(y)) for x, y in course)
        if end is not None:
            text = "e,%s,%s %s" % (_num(end[0]), _num(end[1]), text)
        return text, lp

    def _lane(self, a, b, p, q, j):
        """Control points from p (leaving step a) to q (entering step b of the same grid):
        straight on to the next cell of a row, else along the gaps between the cells."""
        (g, ja), (_, jb) = self.cell[a], self.cell[b]
        (pu, pv), (qu, qv) = self._flow(p), self._flow(q)
        if jb == ja + 1 and jb % self.grids[g]["cols"]:
            d = (qu - pu) / 2
            return [self._page(pu + d, pv), self._page(qu - d, qv), q]
        ra, rb = ([self._flow(r[:2]), self._flow(r[2:])] for r in (self.rects[a], self.rects[b]))
        far = max(u for u, _ in ra)                         # the far side of a's cell
        near = min(u for u, _ in rb)                        # the near side of b's cell
        top = min(v for _, v in rb)                         # the top of b's row
        k = self.lanes[(a, b), self.edges[j].src]
        out, back, row = far + GAP / 2 + k, near - GAP / 2 - k, top - GAP / 2 - k
        path = [p, self._page(out, pv), self._page(out, row), self._page(back, row),
                self._page(back, qv), q]
        return _rounded(path)[1:]

    def _flow(self, pt):
        """A point's (distance along time, distance across the rows)."""
        return (pt[0] * self.main[0] + pt[1] * self.main[1],
                pt[0] * self.wrap[0] + pt[1] * self.wrap[1])

    def _page(self, u, v):
        """The point at (u along time, v across the rows)."""
        return (u * self.main[0] + v * self.wrap[0], u * self.main[1] + v * self.wrap[1])


# -- reading dot's output and writing positions -----------------------------------------------
def _layouts(data):
    """The graphs of ``dot -Tjson0`` output (one JSON document per input graph)."""
    text, decoder, docs, at = data.decode("utf-8"), json.JSONDecoder(), [], 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return docs
        doc, at = decoder.raw_decode(text, at)
        docs.append(doc)


def _read(laid, shift, where, boxes, pieces):
    """Positions from one laid-out graph, moved by ``shift``: node attributes into ``where``,
    cluster attributes into ``boxes``, edge (pos, lp) by id into ``pieces``."""
    dx, dy = shift
    move = lambda x, y: "%s,%s" % (_num(x + dx), _num(y + dy))          # noqa: E731
    for o in laid.get("objects", ()):
        name = o["name"]
        if "nodes" in o or "bb" in o:
            if name.startswith("cluster_") and "bb" in o:
                x0, y0, x1, y1 = map(float, o["bb"].split(","))
                lp = o.get("lp")
                boxes[name] = 'bb="%s,%s"' % (move(x0, y0), move(x1, y1)) + (
                    ' lp="%s" lwidth=%s lheight=%s' % (move(*map(float, lp.split(","))),
                                                       o["lwidth"], o["lheight"]) if lp else "")
        elif "pos" in o:
            where[name] = 'pos="%s" width=%s height=%s' % (
                move(*map(float, o["pos"].split(","))), o["width"], o["height"])
    for e in laid.get("edges", ()):
        if "id" not in e:
            continue
        pts, end = _points(e["pos"])
        pos = " ".join(move(x, y) for x, y in pts)
        if end is not None:
            pos = "e,%s %s" % (move(*end), pos)
        lp = move(*map(float, e["lp"].split(","))) if "lp" in e else None
        pieces[e["id"]] = (pos, lp)


def _points(pos):
    """The control points of an edge's ``pos`` and its arrow's tip (or None)."""
    pts, end = [], None
    for token in pos.split():
        if token.startswith("e,"):
            end = tuple(map(float, token[2:].split(",")))
        else:
            pts.append(tuple(map(float, token.split(","))))
    return pts, end


def _line(p, q):
    """The control points after p of a straight cubic from p to q."""
    return [(p[0] + (q[0] - p[0]) * f, p[1] + (q[1] - p[1]) * f) for f in (1 / 3, 2 / 3)] + [q]


def _rounded(path):
    """Control points of a polyline with rounded corners (a cubic per straight part and per
    corner), starting with its first point."""
    path = [pt for n, pt in enumerate(path) if n == 0 or pt != path[n - 1]]
    out, at = [path[0]], path[0]
    for n in range(1, len(path) - 1):
        corner, before, after = path[n], path[n - 1], path[n + 1]
        r = min(ROUND, _dist(before, corner) / 2, _dist(corner, after) / 2)
        a, b = _towards(corner, before, r), _towards(corner, after, r)
        out += _line(at, a)
        k = 0.55                                # a cubic's best fit to a quarter circle
        out += [_towards(a, corner, r * k), _towards(b, corner, r * k), b]
        at = b
    return out + _line(at, path[-1])


def _dist(p, q):
    return math.hypot(q[0] - p[0], q[1] - p[1])


def _towards(p, q, r):
    """The point r along the way from p to q."""
    d = _dist(p, q)
    return p if d == 0 else (p[0] + (q[0] - p[0]) * r / d, p[1] + (q[1] - p[1]) * r / d)


def _with(statement, more):
    """A node or edge statement (or an attribute list, or "") with ``more`` attributes."""
    if statement.endswith("]"):
        return statement[:-1] + " " + more + "]"
    return statement + " [" + more + "]"


def _num(x):
    text = ("%.2f" % x).rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
