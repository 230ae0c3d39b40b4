"""The vanishing-gradient series: ‖∂L/∂h_t‖ at each time step, and its plot on a log axis.

Which node is h_t: the hidden state a cell returns at step t, i.e. the newest node recorded in
the scope ``<track>[t=k]/.../hidden`` (the recurrent cells open a ``hidden`` scope for the new
state). A step without a ``hidden`` scope counts its newest node (for a hand-written
``tanh(U x + W h)`` step, that is h_t). The gradient is the total derivative of L with respect to
that node, through every later step.
"""
import numpy as np

from autograph.tensor import Tensor

from . import figures
from .calculus import norm, reverse_grads
from .graph import Graph, Scope


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
    return g.data if isinstance(g, Tensor) else np.asarray(g)


# -- the plot ----------------------------------------------------------------------------------
def plot_grad_norms(series, path=None, *, title="‖∂L/∂h_t‖ at each time step t"):
    """A matplotlib Figure of one or several series of per-step gradient norms on a log axis,
    saved to ``path`` when one is given (.png .svg .pdf, from the suffix).

    ``series``: an array (one curve), {label: array}, or {label: {track: array}} as returned by
    ``grad_norms`` for several models. Zeros and NaNs cannot be drawn on a log axis: they leave
    gaps, and the legend says how many."""
    what = "viz.plot_grad_norms"
    if path is not None:
        figures.format_of(path, what)
    fig = figures.new_figure()
    ax = fig.add_subplot()
    ax.set_yscale("log")
    lines, labels = [], []
    for label, values in figures.curves(series, "‖∂L/∂h_t‖", 1, what):
        drawable = (values > 0) & np.isfinite(values)
        missing = int(np.sum(~drawable))
        shown = np.where(drawable, values, np.nan)
        alone = drawable & ~np.r_[False, drawable[:-1]] & ~np.r_[drawable[1:], False]
        (line,) = ax.plot(np.arange(len(values)), shown, lw=1.6, marker="o", ms=3,
                          markevery=alone.tolist())       # a point between two gaps still shows
        lines.append(line)
        labels.append(label + (" (%d zero/NaN not drawn)" % missing if missing else ""))
        line.set_label(labels[-1])
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("time step t")
    ax.set_ylabel("norm (log scale)")
    ax.set_title(figures.plain(title), loc="left", fontsize=11)
    ax.grid(True, which="major", color="#e0e0e0", lw=0.8)
    figures.legend(ax, lines, labels)
    return figures.finish(fig, path, what)

