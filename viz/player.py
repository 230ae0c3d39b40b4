"""The backward pass as pictures: an HTML player that steps through it, and single SVG frames.

``export_player(loss, "backprop.html")`` writes one self-contained page (no network, no external
scripts or fonts): the graph's SVG inline and the backward steps as JSON. Buttons step forward and
back and play; the current node is outlined, visited nodes take their gradient's colour (the fixed
per-decade scale of ``color_by="grad"``), and hovering a node shows its value, gradient and shape.
``#clicks=N`` in the address presses "step" N times on load, ``#press=step,step,back`` presses
those buttons in turn and ``#hover=<node id>`` hovers a node (how it is tested in a browser).

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
    colour and description."""
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
    return {"nodes": nodes, "steps": out, "notes": list(pic.notes)}


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
#status { margin-top: 6px; font-family: monospace; white-space: pre-wrap; }
#notes { color: #555; font-size: 12px; white-space: pre-wrap; }
main { display: flex; flex: 1; min-height: 0; }
#graph { flex: 1; overflow: auto; padding: 8px; }
#graph.fit svg { max-width: 100%; height: auto; }
#info { width: 330px; padding: 8px 12px; font: 12px monospace; white-space: pre-wrap;
        border-left: 1px solid #ddd; overflow: auto; }
.node.current path, .node.current polygon, .node.current ellipse {
  stroke: #d62728; stroke-width: 3.5px; }
.node { cursor: pointer; }
</style>
</head>
<body>
<header>
<h1>{{title}}</h1>
<button id="reset" type="button">|&#x25C0; start</button><button id="back" type="button">&#x25C0; back</button><button id="step" type="button">step &#x25B6;</button><button id="play" type="button">play</button><button id="zoom" type="button">actual size</button>
<span>{{count}} steps, newest node first, as backward() visits them</span>
<div id="status">before the first step: nothing visited</div>
<div id="notes"></div>
</header>
<main>
<div id="graph" class="fit">
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
  var graph = document.getElementById("graph");
  document.getElementById("notes").textContent = data.notes.join("\\n");

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
      if (i === 0 && !graph.classList.contains("fit")) {
        el.scrollIntoView({block: "nearest", inline: "center"});
      }
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
  document.getElementById("zoom").addEventListener("click", function () {
    graph.classList.toggle("fit");
    this.textContent = graph.classList.contains("fit") ? "actual size" : "fit to window";
    mark();
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "ArrowRight") { document.getElementById("step").click(); }
    if (e.key === "ArrowLeft") { document.getElementById("back").click(); }
  });
  // a graph much wider than the window is shown at its actual size, scrolled to the current node
  var svgEl = graph.querySelector("svg");
  if (svgEl && svgEl.getBBox && svgEl.width.baseVal.value > 2.5 * graph.clientWidth) {
    document.getElementById("zoom").click();
  }
  // #clicks=N presses "step" N times; #press=step,step,back presses those buttons in turn
  var where = location.hash + "&" + location.search, m = /clicks=(\\d+)/.exec(where);
  var presses = m ? new Array(parseInt(m[1], 10) + 1).join("step,").split(",").slice(0, -1) : [];
  m = /press=([a-z,]+)/.exec(where);
  presses = presses.concat(m ? m[1].split(",") : []);
  presses.forEach(function (id) {
    var b = document.getElementById(id);
    if (b && b.tagName === "BUTTON") { b.click(); }
  });
  m = /hover=([\\w]+)/.exec(where);          // #hover=<node id>: as if the mouse entered it
  if (m && data.nodes[m[1]]) {
    document.getElementById(m[1]).dispatchEvent(new MouseEvent("mouseenter"));
  }
}());
</script>
</body>
</html>
"""
