"""What a picture draws: which nodes, in which boxes, joined by which edges.

A ``Layout`` is computed from a ``Graph`` and the folding options, before any text is written:

- each tensor is a variable node ``v<k>``; the op that made it a small node ``o<k>`` in front of it;
- an unnamed scalar constant (the 1 of ``b + 1``) is written into its op's label, not drawn;
- ``rolled``: every time step of a track is mapped onto one representative step, node by node
  (same scope inside the step, same op, same occurrence), and the edges that arrive several
  times are drawn once with their count; edges between steps become the recurrent loop;
- ``collapse``: the nodes of a chosen scope become one box ``g<j>``;
- a node outside the time steps read by several steps (a shared weight, the input projection) is
  drawn as a small proxy ``v<k>_p<c>`` inside each step that reads it, and one fed by several
  steps (the stack of the outputs) gets a stand-in ``o<k>_s<c>`` in each step but the newest:
  never one hub wired to every step, which makes ``dot`` run for minutes;
- ``floor``: nodes numbered below it are left out (the last resort of the node budget).

Each drawn node belongs to at most one time step, its ``unit``. A picture in which a track draws
more than ``TILE_STEPS`` steps is ``tiled``: ``viz.tiles`` lays out each step on its own and
places the steps in rows, because ``dot``'s own layout of a long chain grows much faster than
the chain. There every node outside the steps that reaches several steps gets a stand-in in each
(collapsed scopes too), so that steps are joined only to the steps next to them.
"""
import bisect

from .graph import Scope

DEEP_CLUSTERS = 400     # up to this many drawn nodes every scope gets a box, not only time steps
ROW_LIMIT = 1500        # up to this many, the layout is tuned for looks over dot's speed
TILE_STEPS = 16         # dot lays out a chain of up to this many steps in well under a second


class Item:
    """One drawn node. ``kind`` is var, op, group, proxy (a stand-in for a node read in several
    steps) or sink (a stand-in for a node fed by several steps); ``k`` the tensor number (the
    first member for a group); ``box`` the cluster path it is drawn in; ``unit`` the time step
    (track, t) it is drawn in, or None; ``group`` the collapsed group it draws (or stands in
    for), or None."""

    __slots__ = ("id", "kind", "k", "box", "unit", "group")

    def __init__(self, id, kind, k, box, unit, group=None):
        self.id, self.kind, self.k, self.box, self.unit, self.group = id, kind, k, box, unit, group


class Edge:
    """A drawn edge. ``raw`` is one underlying (node, input position) edge of the graph (None for
    op -> variable edges); ``count`` how many graph edges it stands for; ``loop`` True for an
    edge between time steps that rolling turned into the recurrent loop."""

    __slots__ = ("src", "dst", "raw", "count", "loop")

    def __init__(self, src, dst, raw, loop):
        self.src, self.dst, self.raw, self.count, self.loop = src, dst, raw, 1, loop


class Group:
    __slots__ = ("path", "members")

    def __init__(self, path):
        self.path, self.members = path, []


class Layout:
    def __init__(self, graph, rolled=False, collapse=None, floor=0, keep_steps=None):
        self.graph, self.rolled, self.collapse, self.floor = graph, rolled, collapse, floor
        self.keep_steps, self.folded_steps, self.folded_group = keep_steps, {}, {}
        n = len(graph)
        nodes = graph.nodes
        self.inlined = [t._op is None and not t.requires_grad and t.name is None
                       and t.data.size <= 1 and k != n - 1 for k, t in enumerate(nodes)]
        self.steps = self._steps()
        self.canon = self._roll() if rolled else list(range(n))
        self.groups, self.group_of = self._collapse(collapse)
        if keep_steps is not None:
            self._fold_old_steps(keep_steps)
        self.items, self.edges, self.stands_for = {}, {}, {}
        self._build()
        drawn = {}
        for item in self.items.values():
            if item.unit is not None:
                drawn.setdefault(item.unit[0], set()).add(item.unit[1])
        self.tiled = not rolled and max(map(len, drawn.values()), default=0) > TILE_STEPS
        self._proxies()
        if len(self.items) <= ROW_LIMIT and not self.tiled:
            # stand-ins of the stack outside the step boxes keep the steps in a row; inside
            # (drawn above this size, where dot's time matters more) they make a staircase
            for item in self.items.values():
                if item.kind == "sink":
                    item.box = ()
        self.deep = len(self.items) <= DEEP_CLUSTERS
        if self.deep:
            for item in self.items.values():
                item.box = self._deep_box(item)

    # -- time -----------------------------------------------------------------------------
    def _steps(self):
        """{track: {t: [node numbers]}} in creation order. A node outside the time steps whose
        computed inputs all come from one step (the reshape of h_t before the outputs are
        stacked), or that only one step reads (a step's share of the input projection, split
        off before the loop), is counted with that step and drawn in its box, so that rolling
        folds it too; ``attached`` maps it to its step's box."""
        steps, step_of = {}, {}
        self.attached, self.attached_step, self.place = {}, {}, {}
        g = self.graph
        nodes, inputs = g.nodes, g.inputs
        for k in range(self.floor, len(g)):
            s = g.scope(k)
            if s.track is not None:
                step_of[k] = (s.track, s.t)
            elif nodes[k]._op is not None:
                owners = {step_of.get(i) for i in inputs[k] if nodes[i]._op is not None or i in step_of}
                if len(owners) != 1 or None in owners:
                    continue
                step_of[k] = owners.pop()
                first = steps[step_of[k][0]][step_of[k][1]][0]
                self.attached[k] = self._box(g.scope(first))
                self.attached_step[k] = step_of[k]
            else:
                continue
            track, t = step_of[k]
            steps.setdefault(track, {}).setdefault(t, []).append(k)
        firsts = {(track, t): ks[0] for track, by_t in steps.items() for t, ks in by_t.items()}
        for k in range(self.floor, len(g)):
            if k in step_of or nodes[k]._op is None or not g.consumers[k]:
                continue
            owners = {step_of.get(c) for c, _ in g.consumers[k]}
            if len(owners) == 1 and None not in owners:
                step = step_of[k] = self.attached_step[k] = owners.pop()
                self.attached[k] = self._box(g.scope(firsts[step]))
                self.place[k] = firsts[step]    # drawn as if made just before the step
                bisect.insort(steps[step[0]][step[1]], k)
        return steps

    def position(self, k):
        """Where node k comes in drawing order: creation order, except that a node only one
        step reads comes just before that step, so boxes come in the order the steps ran."""
        at = self.place.get(k)
        return (k, 1) if at is None else (at, 0)

    def order(self):
        """Node numbers in drawing order (see ``position``)."""
        ks = range(self.floor, len(self.graph))
        return sorted(ks, key=self.position) if self.place else ks

    def representative(self, track):
        """The step a rolled picture draws: the fullest one (the last of equals)."""
        by_t = self.steps[track]
        return max(by_t, key=lambda t: (len(by_t[t]), t))

    def _roll(self):
        g = self.graph
        canon = list(range(len(g)))
        for track, by_t in self.steps.items():
            rep = self.representative(track)
            keyed = dict(zip(self.graph.positions(by_t[rep]), by_t[rep]))
            for t, ks in by_t.items():
                if t != rep:
                    for key, k in zip(self.graph.positions(ks), ks):
                        canon[k] = keyed.get(key, k)
        return canon

    # -- collapsing -----------------------------------------------------------------------
    def _collapse(self, collapse):
        if collapse is None:
            return [], {}
        if isinstance(collapse, bool) or not isinstance(collapse, (int, list, tuple)):
            raise TypeError("viz.draw: collapse must be None, a depth (int >= 1) or a list of "
                            "scope names, got %r" % (collapse,))
        if isinstance(collapse, int) and collapse < 1:
            raise ValueError("viz.draw: collapse depth must be >= 1 (1 draws each top-level "
                             "scope as one node), got %d" % collapse)
        g = self.graph
        by_scope, groups, group_of, index = {}, [], {}, {}
        for k in range(self.floor, len(g)):
            if self.canon[k] != k:
                continue
            path = g.nodes[k]._scope
            if path not in by_scope:
                by_scope[path] = _group_path(g.scope(k), collapse)
            gp = by_scope[path]
            if gp is None:
                continue
            j = index.get(gp)
            if j is None:
                j = index[gp] = len(groups)
                groups.append(Group(gp))
            groups[j].members.append(k)
            group_of[k] = j
        return groups, group_of

    def _fold_old_steps(self, keep):
        """All but the ``keep`` newest steps of each track become one node per track (taking
        in the scopes collapsed inside those steps)."""
        inside = {j for j, grp in enumerate(self.groups) if Scope("/".join(grp.path)).track is not None}
        emptied = set()
        for track, by_t in self.steps.items():
            order = sorted(by_t, key=lambda t: by_t[t][-1])        # by creation
            old = sorted(order[:-keep] if keep else order)
            if not old:
                continue
            self.folded_steps[track] = old
            parts = track.split("/")
            name = "%s[t=%d…%d]" % (parts[-1], old[0], old[-1]) if old[-1] - old[0] + 1 == len(old) \
                else "%s[%d steps]" % (parts[-1], len(old))
            grp = Group(tuple(parts[:-1]) + (name,))
            j = len(self.groups)
            self.folded_group[j] = track
            self.groups.append(grp)
            for t in old:
                for k in by_t[t]:
                    was = self.group_of.get(k)
                    if self.canon[k] == k and (was is None or was in inside):
                        grp.members.append(k)
                        self.group_of[k] = j
                        emptied.add(was)
            grp.members.sort()
        for j in emptied - {None}:
            self.groups[j].members = [k for k in self.groups[j].members if self.group_of[k] == j]

    # -- items and edges ------------------------------------------------------------------
    def var_item(self, k):
        """The item id standing for tensor k's value (None if not drawn)."""
        k = self.canon[k]
        if k < self.floor:
            return None
        j = self.group_of.get(k)
        if j is not None:
            return "g%d" % j
        return None if self.inlined[k] else "v%d" % k

    def op_item(self, k):
        j = self.group_of.get(k)
        return "g%d" % j if j is not None else "o%d" % k

    def _build(self):
        g = self.graph
        nodes, inputs, canon, floor = g.nodes, g.inputs, self.canon, self.floor
        scope = g.scope
        items, edges = self.items, self.edges
        for k in self.order():
            if canon[k] != k:
                continue
            j = self.group_of.get(k)
            if j is not None:
                if "g%d" % j not in items:
                    path = self.groups[j].path
                    s = Scope("/".join(path))
                    unit = (s.track, s.t) if s.track is not None else None
                    if j in self.folded_group:      # the old steps: one step of their track
                        unit = (self.folded_group[j], None)
                    items["g%d" % j] = Item("g%d" % j, "group", k, self._group_box(path), unit, j)
                continue
            box = self.attached.get(k) or self._box(scope(k))
            unit = self.step(k)
            if nodes[k]._op is not None:
                items["o%d" % k] = Item("o%d" % k, "op", k, box, unit)
            if not self.inlined[k]:
                items["v%d" % k] = Item("v%d" % k, "var", k, box, unit)
        for k in range(floor, len(g)):
            if nodes[k]._op is None:
                continue
            ck = canon[k]
            dst = self.op_item(ck)
            grouped = dst[0] == "g"
            for p, i in enumerate(inputs[k]):
                src = self.var_item(i)
                if src is None or src == dst:
                    continue
                merge = grouped or self.rolled or src[0] == "g"     # one edge per pair of nodes
                key = (src, dst, -1 if merge else p)
                e = edges.get(key)
                if e is not None:
                    e.count += 1
                    continue
                si, sk = scope(i), scope(k)
                loop = self.rolled and si.track is not None and si.track == sk.track and si.t != sk.t
                edges[key] = Edge(src, dst, (ck, p), loop)
            if ck == k and not grouped:
                edges[("o%d" % k, "v%d" % k, -1)] = Edge("o%d" % k, "v%d" % k, None, False)

    def _proxies(self):
        """No node outside the time steps is wired to several steps (a hub makes ``dot`` run
        for minutes). A node read by several steps (a shared weight, the input projection) gets
        a proxy inside each step that reads it; a node fed by several steps (the stack of every
        h_t) gets a proxy in each of those steps but the newest, which keeps its edge. Outside
        means outside the step boxes, or, in a tiled picture, in no step at all (so that a step
        collapsed into one node is reached through stand-ins as well)."""
        items, edges = self.items, self.edges
        reads, feeds = {}, {}
        for key, e in edges.items():
            src, dst = items[e.src], items[e.dst]
            src_at, dst_at = (x.unit if self.tiled else x.box for x in (src, dst))
            if src.kind in ("var", "group") and not src_at and dst_at:
                reads.setdefault(e.src, {}).setdefault(dst_at, []).append(key)
            elif dst.box == () and not dst_at and src_at:
                feeds.setdefault(e.dst, {}).setdefault(src_at, []).append(key)
        nodes = self.graph.nodes
        for src, by_step in reads.items():
            if len(by_step) > 1:
                self._reroute(src, by_step, "proxy", 0)
                k = items[src].k
                if nodes[k]._op is None and k != len(nodes) - 1 and \
                        not any(e.src == src for e in edges.values()):
                    del items[src]
        for dst, by_step in feeds.items():
            if len(by_step) > 1:
                newest = max(by_step, key=lambda box: max(items[key[0]].k for key in by_step[box]))
                del by_step[newest]
                self._reroute(dst, by_step, "sink", 1)

    def _reroute(self, end, by_step, kind, side):
        """Give ``end`` (an edge's source if side is 0, its target if 1) a stand-in in each step
        that it reaches, and move that step's edges onto it."""
        items, edges = self.items, self.edges
        k, group = items[end].k, items[end].group
        for c, keys in enumerate(by_step.values()):
            first = edges[keys[0]]
            inside = items[first.dst if side == 0 else first.src]     # the step's end of it
            pid = "%s_%s%d" % (end, "p" if side == 0 else "s", c)
            items[pid] = Item(pid, kind, k, inside.box, inside.unit, group)
            self.stands_for[pid] = end
            for key in keys:
                e = edges.pop(key)
                if side == 0:
                    e.src = pid
                else:
                    e.dst = pid
                edges[(e.src, e.dst) + key[2:]] = e

    # -- boxes (clusters) -----------------------------------------------------------------
    def _box(self, s):
        """The cluster path of a node in scope s: its time step (the rest is added for small
        pictures, see ``_deep_box``)."""
        return s.parts[:s.time_at + 1] if s.time_at is not None else ()

    def _group_box(self, path):
        return self._box(Scope("/".join(path[:-1])))

    def _deep_box(self, item):
        if item.kind == "group":
            return self.groups[item.group].path[:-1]
        if item.kind == "proxy" or item.kind == "sink" and self.tiled:
            return item.box
        return self.attached.get(item.k) or self.graph.scope(item.k).parts

    def step(self, k):
        """(track, t) of the step node k belongs to or is attached to, else None."""
        s = self.graph.scope(k)
        return (s.track, s.t) if s.track is not None else self.attached_step.get(k)

    @property
    def size(self):
        """The drawn nodes the node budget counts: in a tiled picture, not the stand-ins."""
        if not self.tiled:
            return len(self.items)
        return sum(item.kind not in ("proxy", "sink") for item in self.items.values())

    def has_time(self):
        return bool(self.steps)

    def max_depth(self):
        g = self.graph
        return max((len(g.scope(k).parts) for k in range(self.floor, len(g))), default=0)


def _group_path(s, collapse):
    """The scope prefix (a tuple of components) that a node in scope s collapses into."""
    if isinstance(collapse, int):
        return s.parts[:collapse] if len(s.parts) >= collapse else None
    names = [str(c) for c in collapse]
    for i, part in enumerate(s.parts):
        for name in names:
            if name == part or name == s.base(i) or name == "/".join(s.parts[:i + 1]):
                return s.parts[:i + 1]
    return None
