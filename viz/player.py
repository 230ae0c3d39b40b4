"""The backward pass as pictures: an HTML player that steps through it, and single SVG frames.

``export_player(loss, "backprop.html")`` writes one self-contained page (no network, no external
scripts or fonts): the graph's SVG inline and the backward steps as JSON. Buttons step forward and
back and play; the current node is outlined, visited nodes take their gradient's colour (the fixed
per-decade scale of ``color_by="grad"``), and hovering a node shows its value, gradient and shape.
The picture pans (drag) and zooms (wheel, buttons, + - 0 1); the current node is kept in view;
"go to" finds a node by name or number (%k) or a time step (t=k). ``#clicks=N`` in the address
presses "step" N times on load, ``#press=step,step,back`` presses those buttons in turn,
``#goto=t%3D5`` goes to t=5, ``#wheel=-300`` and ``#drag=100,50`` turn the wheel and drag from
the middle of the picture, and ``#hover=<node id>`` hovers a node (how it is tested in a browser).

The steps come from ``autograph.debug``'s stepper, i.e. the engine's own backward loop, run
without touching any ``.grad``; big graphs are drawn folded, as ``max_nodes`` asks of ``picture``.
"""
import html
import json
import re

from autograph.debug import Stepper, num, shape_text, stats
from autograph.files import write_atomic

from .dot import grad_colour, picture
from .render import TIMEOUT, run_dot
from .text import printable

MAX_NODES = 600     # the player's node budget: folded beyond it (dot lays out 600 nodes quickly)


def steps_of(loss, gradient=None):
    """Every step of ``loss``'s backward pass, leaving ``.grad`` and the graph as they were."""
    return Stepper(loss, gradient, retain_graph=True, deposit=False).finish()


def dom_ids(pic, step):
    """The DOT (and SVG element) ids drawing a step's node: none when the budget left it out."""
    k = pic.graph.index.get(step.id)
    return pic.ids.get(k, ()) if k is not None else ()


def render_steps(loss, steps, path, *, max_nodes=MAX_NODES, timeout=TIMEOUT):
    """An SVG of ``loss``'s graph with the nodes of ``steps`` coloured by their gradient and the
    last one outlined (a frame of the player; the debugger's ``render`` command)."""
    pic = picture(loss, show=("name", "shape"), max_nodes=max_nodes)
    marks = []
    for i, step in enumerate(steps):
        fill, font, _ = grad_colour(step.norm)
        extra = ' color="#d62728" penwidth=3' if i == len(steps) - 1 else ""
        marks += ['%s [fillcolor="%s" fontcolor="%s"%s]' % (d, fill, font, extra)
                  for d in dom_ids(pic, step)]
    # later attribute statements override earlier ones; nodes stay in their clusters
    dot = pic.dot.rstrip()[:-1] + "\n".join(marks) + "\n}\n"
    write_atomic(path, run_dot(dot, "svg", timeout, len(pic.layout.items)))
    return path


def pictured(pic, t):
    """A node as the picture names it (its name, else its number %k), op, scope and shape, on
    one line (``printable``)."""
    return "%s = %s%s %s" % (name_of(pic, t), t.op_name or ("input" if t.requires_grad else "const"),
                             "  " + printable(t._scope) if t._scope else "", shape_text(t.shape))


def name_of(pic, t):
    return printable(str(t.name)) if t.name is not None else "%%%d" % pic.graph.index[t._id]


def player_data(pic, steps):
    """What the page needs, as plain JSON: per SVG node its hover text, per step its nodes,
    colour and description; for going to a node, the SVG nodes of each tensor number, the
    numbers of each name, and the time steps folded into one node."""
    members = {}
    for k, ids in pic.ids.items():
        for d in ids:
            members.setdefault(d, []).append(k)
    nodes = {}
    for d, ks in members.items():
        t = pic.graph.nodes[ks[-1]]
        what = pictured(pic, t) if len(ks) == 1 else "%d nodes drawn as one; the newest: %s" % (
            len(ks), pictured(pic, t))
        nodes[d] = {"what": what, "shape": shape_text(t.shape), "dtype": t.dtype.name,
                    "value": stats(t.data)}
    out = []
    for step in steps:
        fill, font, _ = grad_colour(step.norm)
        out.append({"ids": list(dom_ids(pic, step)), "fill": fill, "font": font,
                    "text": "%s  ‖grad‖ %s" % (pictured(pic, step.node), num(step.norm)),
                    "grad": stats(step.grad_out)})
    names = {}                          # as the picture shows them, which is what one types
    for k, t in enumerate(pic.graph.nodes):
        if t.name is not None:
            names.setdefault(name_of(pic, t), []).append(k)
    lay = pic.layout
    folded = [[printable(track), lay.folded_steps[track], "g%d" % j]
              for j, track in lay.folded_group.items()]
    return {"nodes": nodes, "steps": out, "notes": list(pic.notes), "names": names,
            "numbers": {str(k): list(ids) for k, ids in pic.ids.items()}, "folded": folded}


def export_player(loss, path, *, gradient=None, max_nodes=MAX_NODES, title=None, timeout=TIMEOUT):
    """Write ``path``: a self-contained HTML page stepping through ``loss``'s backward pass.
    The graph must still be recorded (call it before ``backward()``, or after
    ``backward(retain_graph=True)``); no ``.grad`` is changed. Returns the path."""
    pic = picture(loss, show=("name", "shape"), max_nodes=max_nodes)
    svg = run_dot(pic.dot, "svg", timeout, len(pic.layout.items)).decode("utf-8")
    svg = svg[svg.index("<svg"):]                    # drop the XML prolog and DOCTYPE
    data = player_data(pic, steps_of(loss, gradient))
    title = title or "Backward pass of %s" % name_of(pic, loss)
    parts = {"title": html.escape(title), "svg": svg, "data": script_json(data),
             "count": str(len(data["steps"]))}
    # one pass, so that text filled in (a name such as "{{data}}") is never filled in again
    page = re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m.group(1)], PAGE)
    write_atomic(path, page.encode("utf-8"))
    return path


def script_json(data):
    """JSON safe inside a <script> element: no '<', '>' or '&' can close it or open a comment."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{title}}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; height: 100vh;
       display: flex; flex-direction: column; overflow: hidden; }
header { padding: 8px 12px; border-bottom: 1px solid #ddd; background: #f7f7f7; }
header h1 { font-size: 16px; margin: 0 0 6px 0; }
button { font: inherit; padding: 3px 10px; margin-right: 4px; }
#find { font: inherit; width: 16em; margin-left: 12px; }
#scale { display: inline-block; width: 4em; text-align: right; margin-right: 6px; }
#status { margin-top: 6px; font-family: monospace; white-space: pre-wrap; }
#notes { color: #555; font-size: 12px; white-space: pre-wrap; }
main { display: flex; flex: 1; min-height: 0; }
#graph { flex: 1; position: relative; overflow: hidden; cursor: grab; background: white; }
#graph.dragging { cursor: grabbing; }
#graph > svg { position: absolute; left: 0; top: 0; transform-origin: 0 0; }
#info { width: 330px; padding: 8px 12px; font: 12px monospace; white-space: pre-wrap;
        border-left: 1px solid #ddd; overflow: auto; }
.node.current path, .node.current polygon, .node.current ellipse {
  stroke: #d62728; stroke-width: 3.5px; }
.found > path, .found > polygon, .found > ellipse { stroke: #1f77b4; stroke-width: 4px; }
.node { cursor: pointer; }
</style>
</head>
<body>
<header>
<h1>{{title}}</h1>
<button id="reset" type="button">|&#x25C0; start</button><button id="back" type="button">&#x25C0; back</button><button id="step" type="button">step &#x25B6;</button><button id="play" type="button">play</button>
<button id="zoomout" type="button" title="zoom out (-)">&minus;</button><span id="scale"></span><button id="zoomin" type="button" title="zoom in (+)">+</button><button id="fit" type="button" title="the whole picture (0)">fit</button><button id="actual" type="button" title="actual size (1)">100%</button>
<input id="find" type="search" placeholder="go to: a name, %k or t=k" title="a node by its name or number (%k), or a time step (t=k); Enter again for the next match"><button id="go" type="button">go</button>
<span>{{count}} steps, newest node first, as backward() visits them; drag to pan, wheel to zoom</span>
<div id="status">before the first step: nothing visited</div>
<div id="notes"></div>
</header>
<main>
<div id="graph">
{{svg}}
</div>
<div id="info">hover over a node to see its value, gradient and shape</div>
</main>
<script id="player-data" type="application/json">{{data}}</script>
<script>
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("player-data").textContent);
  var steps = data.steps, pos = 0, timer = null, seen = {};
  var status = document.getElementById("status"), info = document.getElementById("info");
  var graph = document.getElementById("graph"), svg = graph.querySelector("svg");
  var finder = document.getElementById("find");
  document.getElementById("notes").textContent = data.notes.join("\\n");

  // -- the view: the picture moved by (x, y) pixels and scaled by s; one SVG unit is one pixel
  var box = svg.viewBox.baseVal, view = {x: 0, y: 0, s: 1}, MIN = 0.02, MAX = 8;
  svg.setAttribute("width", box.width);
  svg.setAttribute("height", box.height);
  function show_view() {
    svg.style.transform = "translate(" + view.x + "px, " + view.y + "px) scale(" + view.s + ")";
    graph.dataset.scale = view.s;
    graph.dataset.size = graph.clientWidth + "x" + graph.clientHeight;
    document.getElementById("scale").textContent = Math.round(view.s * 100) + "%";
  }
  function zoom(f, cx, cy) {            // by the factor f about the point (cx, cy) of the window
    if (cx === undefined) { cx = graph.clientWidth / 2; cy = graph.clientHeight / 2; }
    var s = Math.min(MAX, Math.max(MIN, view.s * f));
    view.x = cx - (cx - view.x) * s / view.s;
    view.y = cy - (cy - view.y) * s / view.s;
    view.s = s;
    show_view();
  }
  function look_at(r, s) {              // r: a rectangle in SVG units, put in the middle at scale s
    view.s = Math.min(MAX, Math.max(MIN, s));
    view.x = graph.clientWidth / 2 - (r.x + r.w / 2) * view.s;
    view.y = graph.clientHeight / 2 - (r.y + r.h / 2) * view.s;
    show_view();
  }
  function fitting(r) { return Math.min(graph.clientWidth / (r.w + 40), graph.clientHeight / (r.h + 40)); }
  function fit() { look_at({x: 0, y: 0, w: box.width, h: box.height}, Math.min(1, fitting({w: box.width, h: box.height}))); }
  function units(els) {                 // the rectangle around elements, in SVG units
    var g = graph.getBoundingClientRect(), x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    els.forEach(function (el) {
      var r = el.getBoundingClientRect();
      x0 = Math.min(x0, r.left); y0 = Math.min(y0, r.top); x1 = Math.max(x1, r.right); y1 = Math.max(y1, r.bottom);
    });
    return {x: (x0 - g.left - view.x) / view.s, y: (y0 - g.top - view.y) / view.s,
            w: (x1 - x0) / view.s, h: (y1 - y0) / view.s};
  }
  function keep_in_view(el) {           // pan (not zoom) so that el is inside the window
    var r = el.getBoundingClientRect(), g = graph.getBoundingClientRect(), m = 20;
    if (r.left < g.left + m || r.right > g.right - m || r.top < g.top + m || r.bottom > g.bottom - m) {
      look_at(units([el]), view.s);
    }
  }
  graph.addEventListener("wheel", function (e) {
    e.preventDefault();
    var g = graph.getBoundingClientRect();
    zoom(Math.pow(1.002, -e.deltaY), e.clientX - g.left, e.clientY - g.top);
  }, {passive: false});
  var drag = null;
  graph.addEventListener("mousedown", function (e) {
    if (e.button !== 0) { return; }
    e.preventDefault();
    drag = {x: e.clientX - view.x, y: e.clientY - view.y};
    graph.classList.add("dragging");
  });
  window.addEventListener("mousemove", function (e) {
    if (!drag) { return; }
    view.x = e.clientX - drag.x;
    view.y = e.clientY - drag.y;
    show_view();
  });
  window.addEventListener("mouseup", function () { drag = null; graph.classList.remove("dragging"); });
  document.getElementById("zoomin").addEventListener("click", function () { zoom(1.25); });
  document.getElementById("zoomout").addEventListener("click", function () { zoom(0.8); });
  document.getElementById("fit").addEventListener("click", fit);
  document.getElementById("actual").addEventListener("click", function () { zoom(1 / view.s); });

  // -- the steps of backward
  function shapes(el) { return el.querySelectorAll("path, polygon, ellipse"); }
  function texts(el) { return el.querySelectorAll("text"); }
  // remember each node's own colours so that stepping back can restore them
  Object.keys(data.nodes).forEach(function (id) {
    var el = document.getElementById(id);
    if (!el) { return; }
    shapes(el).forEach(function (s) { s.dataset.fill = s.getAttribute("fill") || ""; });
    texts(el).forEach(function (s) { s.dataset.fill = s.getAttribute("fill") || ""; });
    el.addEventListener("mouseenter", function () { show(id); });
  });

  function paint(el, fill, font) {
    shapes(el).forEach(function (s) { s.setAttribute("fill", fill || s.dataset.fill); });
    texts(el).forEach(function (s) {
      if (font) { s.setAttribute("fill", font); } else if (s.dataset.fill) {
        s.setAttribute("fill", s.dataset.fill); } else { s.removeAttribute("fill"); }
    });
  }
  function visit(i) {
    var st = steps[i];
    st.ids.forEach(function (id) {
      var el = document.getElementById(id);
      if (!el) { return; }
      el.classList.add("visited");
      paint(el, st.fill, st.font);
      seen[id] = i;
    });
  }
  function clear() {
    Object.keys(seen).forEach(function (id) {
      var el = document.getElementById(id);
      el.classList.remove("visited", "current");
      paint(el, null, null);
    });
    seen = {};
  }
  function mark() {
    document.querySelectorAll(".node.current").forEach(function (el) { el.classList.remove("current"); });
    if (pos === 0) { status.textContent = "before the first step: nothing visited"; return; }
    var st = steps[pos - 1];
    st.ids.forEach(function (id, i) {
      var el = document.getElementById(id);
      if (!el) { return; }
      el.classList.add("current");
      if (i === 0) { keep_in_view(el); }
    });
    status.textContent = "step " + pos + " / " + steps.length + ": " + st.text +
      (st.ids.length ? "" : "  (not drawn: folded out of the picture)");
  }
  function forward() {
    if (pos >= steps.length) { stop(); return; }
    visit(pos);
    pos += 1;
    mark();
  }
  function goto(n) {
    clear();
    pos = 0;
    for (var i = 0; i < n; i++) { visit(i); }
    pos = n;
    mark();
  }
  function show(id) {
    var n = data.nodes[id], lines = [n.what, "shape " + n.shape + "  " + n.dtype, "value " + n.value];
    lines.push(id in seen ? "grad  " + steps[seen[id]].grad : "grad  (backward has not reached it yet)");
    info.textContent = lines.join("\\n");
  }
  function stop() { if (timer) { clearInterval(timer); timer = null; } playBtn.textContent = "play"; }
  var playBtn = document.getElementById("play");
  document.getElementById("step").addEventListener("click", function () { stop(); forward(); });
  document.getElementById("back").addEventListener("click", function () { stop(); goto(Math.max(0, pos - 1)); });
  document.getElementById("reset").addEventListener("click", function () { stop(); goto(0); });
  playBtn.addEventListener("click", function () {
    if (timer) { stop(); return; }
    if (pos >= steps.length) { goto(0); }
    playBtn.textContent = "pause";
    timer = setInterval(forward, 350);
  });

  // -- going to a node (by name or number) or to a time step
  var last = null, turn = 0;
  function found(els, what, whole) {
    document.querySelectorAll(".found").forEach(function (el) { el.classList.remove("found"); });
    els.forEach(function (el) { el.classList.add("found"); });
    var r = units(els);
    look_at(r, whole ? Math.min(1.5, fitting(r)) : Math.max(view.s, 1));
    status.textContent = what;
  }
  function drawn(ids) {
    return ids.map(function (id) { return document.getElementById(id); }).filter(Boolean);
  }
  function go_time(t) {
    var els = Array.prototype.slice.call(svg.querySelectorAll("g.cluster.step.t" + t));
    if (els.length) { return found(els, "t=" + t + ": " + els.length + " step box" + (els.length > 1 ? "es" : ""), true); }
    var folded = data.folded.filter(function (f) { return f[1].indexOf(t) >= 0; });
    if (folded.length) {
      return found(drawn(folded.map(function (f) { return f[2]; })), "t=" + t + " is folded into one node with the other old steps of " +
        folded.map(function (f) { return f[0]; }).join(", ") + " (t=" + folded[0][1][0] + "…" + folded[0][1][folded[0][1].length - 1] + ")", false);
    }
    status.textContent = "no time step t=" + t + " in this picture";
  }
  function go_number(k, what) {
    var els = drawn(data.numbers[k] || []);
    if (!els.length) { status.textContent = what + "%" + k + " is not in the picture (left out by the node budget, or no such node)"; return; }
    found(els.slice(0, 1), what + "%" + k + " (" + (els.length > 1 ? els.length + " nodes: the node and its stand-ins" : "drawn as " + els[0].id) + ")", false);
  }
  function go() {
    var q = finder.value.trim(), m;
    if (!q) { return; }
    turn = q === last ? turn + 1 : 0;
    last = q;
    if ((m = /^t\\s*=?\\s*(-?\\d+)$/.exec(q))) { return go_time(parseInt(m[1], 10)); }
    if ((m = /^%?(\\d+)$/.exec(q))) { return go_number(m[1], ""); }
    var ks = data.names[q];
    if (!ks) {                                  // no such name: the names that contain it
      ks = [];
      Object.keys(data.names).forEach(function (n) {
        if (n.toLowerCase().indexOf(q.toLowerCase()) >= 0) { ks = ks.concat(data.names[n]); }
      });
    }
    if (!ks.length) { status.textContent = "no node named " + q + ", no %k and no t=k"; return; }
    go_number(ks[turn % ks.length], q + ": " + (turn % ks.length + 1) + " of " + ks.length + ", ");
  }
  document.getElementById("go").addEventListener("click", go);
  finder.addEventListener("keydown", function (e) { if (e.key === "Enter") { go(); } e.stopPropagation(); });

  document.addEventListener("keydown", function (e) {
    var keys = {"ArrowRight": "step", "ArrowLeft": "back", "+": "zoomin", "=": "zoomin",
                "-": "zoomout", "0": "fit", "1": "actual"};
    if (keys[e.key]) { document.getElementById(keys[e.key]).click(); }
  });
  // the whole picture if it is legible so, else actual size at the output, where backward starts
  if (fitting({w: box.width, h: box.height}) >= 0.5) { fit(); } else {
    var out = steps.length && drawn(steps[0].ids);
    if (out && out.length) { look_at(units(out), 1); } else { fit(); }
  }
  // how the page is tested in a browser: #clicks=N presses "step" N times; #press=step,back
  // presses those buttons in turn; #goto=<text> goes there; #wheel=<delta> turns the wheel and
  // #drag=<dx>,<dy> drags, both from the middle of the picture; #hover=<node id> hovers a node
  var where = location.hash + "&" + location.search, m = /clicks=(\\d+)/.exec(where);
  var presses = m ? new Array(parseInt(m[1], 10) + 1).join("step,").split(",").slice(0, -1) : [];
  m = /press=([a-z,]+)/.exec(where);
  presses = presses.concat(m ? m[1].split(",") : []);
  presses.forEach(function (id) {
    var b = document.getElementById(id);
    if (b && b.tagName === "BUTTON") { b.click(); }
  });
  var g = graph.getBoundingClientRect(), cx = g.left + g.width / 2, cy = g.top + g.height / 2;
  m = /goto=([^&]+)/.exec(where);
  if (m) { finder.value = decodeURIComponent(m[1]); go(); }
  m = /wheel=(-?\\d+)/.exec(where);
  if (m) { graph.dispatchEvent(new WheelEvent("wheel", {deltaY: parseInt(m[1], 10), clientX: cx, clientY: cy, cancelable: true})); }
  m = /drag=(-?\\d+),(-?\\d+)/.exec(where);
  if (m) {
    graph.dispatchEvent(new MouseEvent("mousedown", {button: 0, clientX: cx, clientY: cy, bubbles: true}));
    window.dispatchEvent(new MouseEvent("mousemove", {clientX: cx + parseInt(m[1], 10), clientY: cy + parseInt(m[2], 10)}));
    window.dispatchEvent(new MouseEvent("mouseup", {}));
  }
  m = /hover=([\\w]+)/.exec(where);          // as if the mouse entered it
  if (m && data.nodes[m[1]]) {
    document.getElementById(m[1]).dispatchEvent(new MouseEvent("mouseenter"));
  }
}());
</script>
</body>
</html>
"""
