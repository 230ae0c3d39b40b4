"""The vanishing-gradient series: ‖∂L/∂h_t‖ at each time step, and its plot on a log axis.

Which node is h_t: the hidden state a cell returns at step t, i.e. the newest node recorded in
the scope ``<track>[t=k]/.../hidden`` (the recurrent cells open a ``hidden`` scope for the new
state). A step without a ``hidden`` scope counts its newest node (for a hand-written
``tanh(U x + W h)`` step, that is h_t). The gradient is the total derivative of L with respect to
that node, through every later step.
"""
import html
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata

import numpy as np

from autograph.files import write_atomic
from autograph.tensor import Tensor

from .calculus import norm, reverse_grads
from .graph import Graph, Scope
from .render import RenderError, format_of


def grad_norms(output_or_steps, by="t"):
    """‖∂L/∂h_t‖ for t = 0, 1, ... as a float64 array, or {track: array} when the graph has
    several layers/directions (tracks such as ``lstm``, ``lstm_l1``, ``lstm_reverse``).

    ``output_or_steps`` is the scalar loss L (a Tensor; its graph is kept), or the events of a
    stepped backward pass (anything with ``.node`` and ``.grad_out``, e.g. the steps of
    ``autograph.debug.step_backward`` or ``autograph.backward.run(..., trace=True)``)."""
    if by != "t":
        raise ValueError("viz.grad_norms: by=%r; only by='t' (one norm per time step) is "
                         "supported" % (by,))
    if isinstance(output_or_steps, Tensor):
        graph = Graph(output_or_steps)
        grads = reverse_grads(graph)
        found = ((graph.nodes[k]._scope, k, grads.get(k)) for k in range(len(graph)))
    else:
        found = ((_attr(ev.node, "scope"), _attr(ev.node, "id"), _array(ev.grad_out))
                 for ev in output_or_steps)
    states = {}                         # (track, t) -> (priority, id, grad)
    parsed = {}
    for scope, key, g in found:
        s = parsed.get(scope)
        if s is None:
            s = parsed[scope] = Scope(scope or "")
        if s.track is None:
            continue
        rank = (s.parts[-1] == "hidden" and len(s.parts) > s.time_at + 1, key)
        prev = states.get((s.track, s.t))
        if prev is None or rank > prev[0]:
            states[(s.track, s.t)] = (rank, g)
    if not states:
        raise ValueError("viz.grad_norms: no node of the graph is inside a time step; the "
                         "recurrent layers record their steps in scopes such as lstm[t=3] "
                         "(with ag.scope('rnn', t=t) for a hand-written loop)")
    tracks = {}
    for (track, t), (_, g) in sorted(states.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        tracks.setdefault(track, []).append(0.0 if g is None else norm(g))
    series = {track: np.asarray(v, dtype=np.float64) for track, v in tracks.items()}
    return next(iter(series.values())) if len(series) == 1 else series


def _attr(node, name):
    return getattr(node, name) if hasattr(node, name) else getattr(node, "_" + name)


def _array(g):
    if g is None:
        return None
    if hasattr(g, "dense"):
        g = g.dense()
    return g.data if isinstance(g, Tensor) else np.asarray(g)


# -- the plot ----------------------------------------------------------------------------------
W, H = 720, 420                  # the smallest canvas; a long legend widens and lengthens it
LEFT, RIGHT, TOP, BOTTOM = 70, 200, 40, 50
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
LEGEND_SIZE = 11                 # font size of the legend
LEGEND_TEXT = 36                 # from the plot's right edge to where legend text starts
LEGEND_MAX = 300                 # the widest legend text line; longer labels wrap
LEGEND_LINES = 3                 # lines per label; past that the middle of the label is elided
LEGEND_LEADING = 14              # between the lines of one label
LEGEND_GAP = 6                   # between labels
MARGIN = 10                      # right of the widest legend line

# Helvetica's advance widths (Arial and Liberation Sans share them), 1/1000 em, for ' ' to '~'
_HELVETICA = (
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584)


def plot_grad_norms(series, path, *, title="‖∂L/∂h_t‖ at each time step t"):
    """Draw one or several series of per-step gradient norms on a log axis into ``path``
    (.svg, written directly; .png converted from it with rsvg-convert or a headless Chromium).

    ``series``: an array (one curve), {label: array}, or {label: {track: array}} as returned by
    ``grad_norms`` for several models."""
    curves = _curves(series)
    svg = svg_plot(curves, title).encode("utf-8")
    fmt = format_of(path)
    if fmt == "svg":
        write_atomic(path, svg)
    elif fmt == "png":
        write_atomic(path, svg_to_png(svg))
    else:
        raise ValueError("viz.plot_grad_norms: write .svg or .png, not %r" % str(path))
    return path


def _curves(series):
    if isinstance(series, dict):
        out = []
        for label, v in series.items():
            if isinstance(v, dict):
                out.extend(("%s · %s" % (label, track), np.asarray(a, float)) for track, a in v.items())
            else:
                out.append((str(label), np.asarray(v, float)))
        return out
    return [("‖∂L/∂h_t‖", np.asarray(series, float))]


def text_width(text, size=LEGEND_SIZE):
    """An upper estimate of ``text``'s width in px in a Helvetica-like font: exact advance widths
    for ASCII, a full em for wide (CJK) characters, 0.7 em for anything else, plus 4%."""
    total = 0
    for ch in text:
        o = ord(ch)
        if 32 <= o < 127:
            total += _HELVETICA[o - 32]
        elif unicodedata.east_asian_width(ch) in "WF":
            total += 1000
        elif not unicodedata.combining(ch):
            total += 700
    return total * size / 1000 * 1.04


_BREAK_AFTER = re.compile(r"(?<=[\s_/,·:;|-])")     # a line may end after these


def wrap(text, width, size=LEGEND_SIZE):
    """Lines of ``text`` each at most ``width`` px wide: broken after spaces and separators
    (``_ / , · : ; | -``) where possible, inside a word only when a word alone is too wide."""
    lines, line = [], ""
    for piece in _BREAK_AFTER.split(text):
        if not piece:
            continue
        if text_width((line + piece).rstrip(), size) <= width:
            line += piece
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = piece.lstrip()
        while text_width(line.rstrip(), size) > width:
            cut = 1
            while cut < len(line) and text_width(line[:cut + 1], size) <= width:
                cut += 1
            lines.append(line[:cut])
            line = line[cut:]
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def legend_lines(label, note="", width=LEGEND_MAX, size=LEGEND_SIZE, max_lines=LEGEND_LINES):
    """``label`` + ``note`` wrapped to ``width``; if that takes more than ``max_lines`` lines, the
    middle of the label gives way to "…", keeping more of its end (where series names differ:
    "…, trained" and "…, untrained", "lstm" and "lstm_reverse") and all of the note."""
    lines = wrap(label + note, width, size)
    if len(lines) <= max_lines:
        return lines

    def elided(keep):
        head = keep * 2 // 5
        return wrap(label[:head].rstrip() + "…" + label[len(label) - (keep - head):].lstrip()
                    + note, width, size)
    lo, hi = 0, len(label) - 1          # the most characters kept that still fit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(elided(mid)) <= max_lines:
            lo = mid
        else:
            hi = mid - 1
    return elided(lo)[:max_lines]


def svg_plot(curves, title):
    """The plot as SVG text: decades on the y axis, t on the x axis, a legend on the right.

    Legend labels wrap (and are elided in the middle only past ``LEGEND_LINES`` lines); the
    canvas widens and lengthens to hold them, and each entry carries its full label as a
    tooltip."""
    good = np.concatenate([c[(c > 0) & np.isfinite(c)] for _, c in curves] or [np.zeros(0)])
    lo, hi = (np.floor(np.log10(good.min())), np.ceil(np.log10(good.max()))) if good.size else (-1, 0)
    hi = max(hi, lo + 1)
    n = max((len(c) for _, c in curves), default=1)
    entries = []
    for label, c in curves:
        missing = int(np.sum(~((c > 0) & np.isfinite(c))))
        note = " (%d zero/NaN not drawn)" % missing if missing else ""
        entries.append((label + note, legend_lines(label, note)))
    widest = max((text_width(line) for _, lines in entries for line in lines), default=0)
    pw = W - LEFT - RIGHT
    width = int(max(W, np.ceil(LEFT + pw + LEGEND_TEXT + widest + MARGIN)))
    tall = sum(LEGEND_LEADING * len(lines) + LEGEND_GAP for _, lines in entries)
    height = int(max(H, TOP + 10 + tall + BOTTOM))
    ph = height - TOP - BOTTOM

    def x(t):
        return LEFT + pw * (t / max(n - 1, 1))

    def y(v):
        return TOP + ph * (hi - np.log10(v)) / (hi - lo)

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="Helvetica, Arial, sans-serif" font-size="12">' % (width, height, width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="14">%s (log scale)</text>' % (LEFT, html.escape(title))]
    step = max(1, int(np.ceil((hi - lo) / 10)))
    for d in np.arange(lo, hi + 1, step):
        yy = y(10.0 ** d)
        out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e0e0e0"/>' % (LEFT, LEFT + pw, yy, yy))
        out.append('<text x="%d" y="%.1f" text-anchor="end">1e%d</text>' % (LEFT - 6, yy + 4, d))
    for t in _ticks(n):
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (x(t), TOP + ph + 18, t))
        out.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#888"/>'
                   % (x(t), x(t), TOP + ph, TOP + ph + 4))
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>' % (LEFT, TOP, pw, ph))
    out.append('<text x="%d" y="%d" text-anchor="middle">time step t</text>' % (LEFT + pw / 2, height - 12))
    ly = TOP + 10
    for i, ((label, c), (full, lines)) in enumerate(zip(curves, entries)):
        colour = COLOURS[i % len(COLOURS)]
        for run in _runs(c):
            pts = " ".join("%.1f,%.1f" % (x(t), y(c[t])) for t in run)
            if len(run) == 1:
                out.append('<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>'
                           % (x(run[0]), y(c[run[0]]), colour))
            else:
                out.append('<polyline points="%s" fill="none" stroke="%s" stroke-width="1.8"/>'
                           % (pts, colour))
        tx = LEFT + pw + LEGEND_TEXT
        spans = "".join('<tspan x="%d" y="%d">%s</tspan>' % (tx, ly + 4 + LEGEND_LEADING * k, html.escape(line))
                        for k, line in enumerate(lines))
        out.append('<g class="legend"><title>%s</title>' % html.escape(full))
        out.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="3"/>'
                   % (LEFT + pw + 12, LEFT + pw + 32, ly, ly, colour))
        out.append('<text font-size="%d">%s</text></g>' % (LEGEND_SIZE, spans))
        ly += LEGEND_LEADING * len(lines) + LEGEND_GAP
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _ticks(n):
    step = max(1, int(10 ** np.floor(np.log10(max(n - 1, 1)))))
    if (n - 1) / step < 4:
        step = max(1, step // 2)
    return range(0, n, step)


def _runs(c):
    """Index runs where the value can be drawn on a log axis (positive and finite)."""
    ok = (c > 0) & np.isfinite(c)
    runs, cur = [], []
    for t, good in enumerate(ok):
        if good:
            cur.append(t)
        elif cur:
            runs.append(cur)
            cur = []
    return runs + [cur] if cur else runs


def svg_to_png(svg):
    """PNG bytes of an SVG document, by rsvg-convert or a headless Chromium."""
    rsvg = shutil.which("rsvg-convert")
    if rsvg:
        return subprocess.run([rsvg, "-f", "png"], input=svg, capture_output=True, check=True,
                              timeout=60).stdout
    browser = next((b for b in (shutil.which(n) for n in ("chromium", "chromium-browser",
                                                          "google-chrome")) if b), None)
    if browser is None:
        raise RenderError("viz.plot_grad_norms: making a PNG needs rsvg-convert (apt-get install "
                          "librsvg2-bin, brew install librsvg) or Chromium; or write .svg")
    with tempfile.TemporaryDirectory() as tmp:
        src, png = os.path.join(tmp, "plot.svg"), os.path.join(tmp, "plot.png")
        with open(src, "wb") as f:
            f.write(svg)
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--window-size=%d,%d" % _size(svg), "--screenshot=" + png, "file://" + src],
                       capture_output=True, timeout=120)
        if not os.path.exists(png):
            raise RenderError("viz.plot_grad_norms: %s did not write the PNG; write .svg instead" % browser)
        with open(png, "rb") as f:
            return f.read()


def _size(svg):
    """The width and height an SVG document declares on its root."""
    m = re.search(rb'<svg[^>]*?width="(\d+)"[^>]*?height="(\d+)"', svg)
    return (int(m.group(1)), int(m.group(2))) if m else (W, H)
