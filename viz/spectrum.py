"""The chapter's product, measured: the singular values of ∂s_t/∂s_t−1 at every step.

Backpropagation through time multiplies the gradient by ∂s_t/∂s_t−1 once per step (the product
∏ ∂s_j/∂s_j−1 of the chapter): Jacobians whose singular values lie below 1 shrink it step after
step (it vanishes), above 1 they can grow it. The state s is what the cell carries from one step
to the next: h for an Elman RNN and a GRU, (h, c) for the LSTMs, y for Jordan networks and CTRNNs.

The state is found from the graph's structure, so any cell works, a user's own included: the steps
are the scopes tagged ``t=k``; the state a step passes on is the tensors of that step that the
next step's ops read; the last step, read by none, passes on the tensors at the same positions
within it (same scope inside the step, same op, same occurrence) as the state of the step before.

Each row of a Jacobian is one reverse pass through one step with the engine's own vjp rules on the
recorded graph, stopped at the previous state: its parts are the independent variables, so in an
LSTM d h_t/d c_t−1 does not also count the path from c_t−1 through h_t−1 (which a backward pass
from h_t to the tensors h_t−1 and c_t−1 would add).
"""
import numpy as np

from . import figures
from .calculus import pull
from .graph import Graph


def jacobian_spectrum(output, batch=0):
    """For each step after the first of each track, the singular values (descending) of
    ∂state_t/∂state_t−1 for batch element ``batch``: a float64 array of shape
    (T − 1, state size), or {track: array} when the graph has several tracks (layers,
    directions), as ``grad_norms`` returns them.

    ``output`` is any tensor whose graph holds the steps (the loss, or the layer's output).
    Rows come in the order the track ran its steps: t = 1 … T−1 forwards, t = T−2 … 0 for a
    reverse track. A state tensor of two or more dimensions has the batch on its first axis;
    one of fewer dimensions is a single sequence's state (then ``batch`` must be 0)."""
    graph = Graph(output)
    tracks = steps_by_track(graph)
    if not tracks:
        raise ValueError("viz.jacobian_spectrum: no node of the graph is inside a time step; the "
                         "recurrent layers record their steps in scopes such as lstm[t=3] "
                         "(with ag.scope('rnn', t=t) for a hand-written loop)")
    out = {}
    for track in sorted(tracks):
        steps = tracks[track]
        states = carried_states(graph, track, steps)
        out[track] = np.array([singular_values(graph, states[i - 1], states[i], batch)
                               for i in range(1, len(steps))], dtype=np.float64)
    return next(iter(out.values())) if len(out) == 1 else out


def steps_by_track(graph):
    """{track: [node numbers of each step, in the order the steps ran]}. A node outside the
    steps whose computed inputs all come from one step (``h * mask`` written after the step's
    scope closed) belongs to that step."""
    nodes, inputs = graph.nodes, graph.inputs
    step_of, members = {}, {}
    for k in range(len(graph)):
        s = graph.scope(k)
        if s.track is not None:
            step = (s.track, s.t)
        elif nodes[k]._op is not None:
            owners = {step_of.get(i) for i in inputs[k] if nodes[i]._op is not None}
            if len(owners) != 1 or None in owners:
                continue
            step = owners.pop()
        else:
            continue
        step_of[k] = step
        members.setdefault(step, []).append(k)
    tracks = {}
    for (track, _), ks in sorted(members.items(), key=lambda item: item[1][0]):
        tracks.setdefault(track, []).append(ks)
    return tracks


def carried_states(graph, track, steps):
    """The state each step passes on, as sorted node numbers: the tensors of step i that step
    i + 1 reads, and for the last step the tensors at the same positions within it."""
    if len(steps) < 2:
        raise ValueError("viz.jacobian_spectrum: the track %r has one time step; the Jacobian "
                         "of one step by the step before needs two or more" % track)
    states = []
    for before, after in zip(steps, steps[1:]):
        inside = set(before)
        state = sorted({i for k in after for i in graph.inputs[k] if i in inside})
        if not state:
            raise ValueError("viz.jacobian_spectrum: no op of %s reads a tensor of %s, so no "
                             "state is carried between them" % (where(graph, after), where(graph, before)))
        states.append(state)
    kept = set(states[-1])
    wanted = [key for key, k in zip(graph.positions(steps[-2]), steps[-2]) if k in kept]
    keyed = dict(zip(graph.positions(steps[-1]), steps[-1]))
    missing = [key for key in wanted if key not in keyed]
    if missing:
        raise ValueError("viz.jacobian_spectrum: the last step of %r (%s) has no %s where the "
                         "step before keeps part of its state; the steps differ in structure"
                         % (track, where(graph, steps[-1]), " or ".join(
                             "%s in %s" % (op, inner or "the step") for inner, op, _ in missing)))
    states.append(sorted(keyed[key] for key in wanted))
    return states


def where(graph, ks):
    s = graph.scope(ks[0])
    return "%s[t=%d]" % (s.track, s.t) if s.track is not None else "the step of %%%d" % ks[0]


def singular_values(graph, prev, cur, batch):
    """Singular values of d cur[batch] / d prev[batch], one reverse pass per row."""
    floor = min(prev)
    stop = set(prev)
    # the nodes a pass goes through, newest first, each with the input edges to follow
    plan = [(k, [(p, i) for p, i in enumerate(graph.inputs[k])
                 if i >= floor and graph.nodes[i].requires_grad])
            for k in range(max(cur), floor - 1, -1)
            if k not in stop and graph.nodes[k]._op is not None]
    rows = []
    for c in cur:
        y = graph.nodes[c].data
        for j in range(batch_row(y, batch, graph, c).size):
            seed = np.zeros_like(y)
            batch_row(seed, batch, graph, c).flat[j] = 1
            grads = {c: seed}
            for k, edges in plan:
                g = grads.pop(k, None)
                if g is None:
                    continue
                for p, i in edges:
                    gi = pull(graph, k, p, g)
                    grads[i] = grads[i] + gi if i in grads else gi
            rows.append(np.concatenate([
                batch_row(grads[i], batch, graph, i).ravel() if i in grads else
                np.zeros(batch_row(graph.nodes[i].data, batch, graph, i).size) for i in prev]))
    return np.linalg.svd(np.asarray(rows, dtype=np.float64), compute_uv=False)


def batch_row(a, batch, graph, k):
    """Batch element ``batch`` of a state part (a view): its first axis, if it has two or more."""
    a = np.asarray(a)
    if a.ndim < 2:
        if batch not in (0, -1):
            raise ValueError("viz.jacobian_spectrum: batch=%d, but the state part %%%d has shape %s "
                             "(no batch axis: one sequence)" % (batch, k, a.shape))
        return a
    if not -a.shape[0] <= batch < a.shape[0]:
        raise ValueError("viz.jacobian_spectrum: batch=%d, but the state part %%%d has shape %s "
                         "(a batch of %d)" % (batch, k, a.shape, a.shape[0]))
    return a[batch]


# -- the plot ----------------------------------------------------------------------------------
def plot_jacobian_spectrum(spectrum, path=None, *,
                           title="Singular values of ∂s_t/∂s_t−1, the factors of the chapter's product"):
    """A matplotlib Figure of Jacobian spectra, saved to ``path`` when one is given (.png .svg
    .pdf, from the suffix). On top, the largest singular value at each step for every series,
    against σ = 1 where a gradient neither shrinks nor grows; below, one panel per series with
    the band of all singular values, their median and the largest, titled with the product of
    the largest ones (a bound on ‖∂s_T−1/∂s_0‖). Log axes.

    ``spectrum``: an array (T − 1, k) as ``jacobian_spectrum`` returns it, {label: array},
    {track: array} or {label: {track: array}} for several models."""
    what = "viz.plot_jacobian_spectrum"
    if path is not None:
        figures.format_of(path, what)
    series = figures.curves(spectrum, "σ(∂s_t/∂s_t−1)", 2, what)
    cols = min(len(series), 2)
    rows = -(-len(series) // cols)
    fig = figures.new_figure(7.5, 2.8 + 2.1 * rows)
    # two subfigures, each laid out on its own: the legend beside the top axes leaves the
    # panels below their full width
    upper, lower = fig.subfigures(2, 1, height_ratios=[2.8, 2.1 * rows])
    top = upper.add_subplot()
    panels = lower.subplots(rows, cols, sharex=True, sharey=True, squeeze=False).ravel()
    lines = []
    for (label, values), ax in zip(series, panels):
        positive = np.where(values > 0, values, np.nan)    # a log axis cannot show zeros
        steps = np.arange(1, len(values) + 1)
        (line,) = top.plot(steps, positive[:, 0], lw=1.6, marker="o", ms=2.5, label=label)
        lines.append(line)
        spectrum_panel(ax, label, values, positive, steps, line.get_color())
    for ax in panels[len(series):]:
        ax.set_visible(False)
        panels[len(series) - cols].xaxis.set_tick_params(labelbottom=True)    # the one above
    lower.legend(*panels[0].get_legend_handles_labels(), loc="outside lower center", ncols=3,
                 fontsize=8, frameon=False)
    reference(top)
    # the largest values lie near 1: written 0.9, not 9×10⁻¹, and the minor ticks labelled too
    # when they span little more than a decade
    from matplotlib.ticker import FuncFormatter, MaxNLocator
    tops = np.concatenate([line.get_ydata() for line in lines] + [[1.0]])
    few = np.nanmax(tops) / np.nanmin(tops) < 20
    top.yaxis.set_major_formatter(FuncFormatter(lambda v, _: "%g" % v))
    top.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: "%g" % v if few else ""))
    top.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
    panels[0].xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))     # shared by all
    top.set_xlabel("step, in the order the track ran (σ = 1 dashed)", fontsize=9)
    top.set_ylabel("largest σ")
    top.set_title(figures.plain(title), loc="left", fontsize=11)
    figures.legend(top, lines, [label for label, _ in series])
    return figures.finish(fig, path, what)


def spectrum_panel(ax, label, values, positive, steps, colour):
    """One series: the band from the smallest positive singular value to the largest, the
    median, the largest, and the product of the largest in the title."""
    with np.errstate(all="ignore"):                      # rows without a positive value
        low = np.fmin.reduce(positive, axis=1, initial=np.inf)
        low[~np.isfinite(low)] = np.nan
        median = np.nanmedian(positive, axis=1)
    ax.fill_between(steps, low, positive[:, 0], color=colour, alpha=0.2, lw=0, label="all")
    ax.plot(steps, median, color=colour, lw=0.9, ls=":", label="median")
    ax.plot(steps, positive[:, 0], color=colour, lw=1.4, label="largest")
    ax.set_title("%s: ∏ largest = %.3g" % (figures.plain(label), np.prod(values[:, 0])),
                 fontsize=9, loc="left")
    reference(ax)


def reference(ax):
    """A log axis with the line σ = 1 and a light grid."""
    ax.axhline(1.0, color="#555555", lw=0.8, ls="--")
    ax.set_yscale("log")
    ax.grid(True, which="major", color="#e0e0e0", lw=0.6)
