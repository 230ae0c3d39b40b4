"""viz.grad_norms and viz.plot_grad_norms: the chapter's vanishing-gradient argument."""
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import viz
from autograph.backward import run, seed
from test_viz_models import elman, lstm

SVG = "{http://www.w3.org/2000/svg}"


def numpy_bptt_norms(p, x, T):
    """‖dL/dh_t‖ for L = sum(h_T) of the Elman network, by the chapter's BPTT recursion in numpy."""
    W, U, b = (p[k].data for k in ("weight_ih", "weight_hh", "bias"))
    hs, h = [], np.zeros((1, U.shape[0]))
    for t in range(T):
        h = np.tanh(x.data[t] @ W.T + h @ U.T + b)
        hs.append(h)
    g, norms = np.ones_like(h), []
    for t in reversed(range(T)):
        norms.append(np.linalg.norm(g))
        g = (g * (1 - hs[t] ** 2)) @ U            # dL/dh_t-1 = dL/dh_t · diag(1 - h_t²) · U
    return np.array(norms[::-1])


def test_grad_norms_of_an_elman_network_match_bptt():
    T = 12
    loss, p, x = elman(T, H=4, last_only=True)
    norms = viz.grad_norms(loss)
    assert norms.shape == (T,)
    np.testing.assert_allclose(norms, numpy_bptt_norms(p, x, T), rtol=1e-10)


def test_tanh_rnn_vanishes_and_lstm_does_not():
    T = 40
    rnn = viz.grad_norms(elman(T, H=8, last_only=True)[0])
    cell = viz.grad_norms(lstm(T, H=8, last_only=True, forget_bias=3.0)[0])
    assert rnn[0] / rnn[-1] < 1e-3
    assert cell[0] / cell[-1] > 1e-2
    # exponential fall-off: log-norm against distance from the loss is close to a line
    slope = np.polyfit(np.arange(T), np.log10(rnn), 1)[0]
    assert slope > 0.05


def test_grad_norms_from_the_events_of_a_stepped_backward():
    loss, _, _ = lstm(5, last_only=True)
    events = list(run(loss, seed(loss, None, False), retain_graph=True, create_graph=False,
                      inputs=(), found={}, trace=True))
    expected = viz.grad_norms(loss)
    np.testing.assert_allclose(viz.grad_norms(events), expected, rtol=1e-12)
    from autograph import debug
    stepped = list(debug.step_backward(lstm(5, last_only=True)[0]))
    np.testing.assert_allclose(viz.grad_norms(stepped), expected, rtol=1e-12)


def test_one_series_per_track():
    a, _, _ = elman(4, track="rnn")
    b, _, _ = elman(4, track="rnn_reverse", seed=1)
    got = viz.grad_norms(a + b)
    assert list(got) == ["rnn", "rnn_reverse"] and all(v.shape == (4,) for v in got.values())
    with pytest.raises(ValueError, match="by='t'"):
        viz.grad_norms(a, by="scope")
    with pytest.raises(ValueError, match="time step"):
        viz.grad_norms((elman(2)[1]["bias"] * 2).sum())


def test_plot_is_an_svg_with_a_log_axis_and_one_line_per_series(tmp_path):
    rnn = viz.grad_norms(elman(20, H=8, last_only=True)[0])
    cell = viz.grad_norms(lstm(20, H=8, last_only=True, forget_bias=3.0)[0])
    rnn[3] = 0.0                                           # not drawable on a log axis: a gap
    path = tmp_path / "norms.svg"
    viz.plot_grad_norms({"tanh <RNN>": rnn, "LSTM": cell}, str(path))
    root = ET.parse(str(path)).getroot()
    lines = list(root.iter(SVG + "polyline"))
    assert len(lines) == 3                                 # the RNN's curve is cut at t = 3
    texts = ["".join(t.itertext()) for t in root.iter(SVG + "text")]
    decades = [t for t in texts if t.startswith("1e")]
    lo, hi = int(decades[0][2:]), int(decades[-1][2:])
    assert lo <= np.floor(np.log10(rnn[rnn > 0].min())) and hi >= np.log10(cell.max())
    assert "tanh <RNN> (1 zero/NaN not drawn)" in texts and "LSTM" in texts


LONG = {
    "bidirectional LSTM, 2 layers, hidden 128, dropout 0.2 · lstm_l1_reverse": 0.9,
    "bidirectional LSTM, 2 layers, hidden 128, dropout 0.2 · lstm_l1": 0.8,
    "tanh RNN": 0.5,
    "checkpoint_epoch_00012_learning_rate_0.001_with_no_spaces_at_all_trained": 0.7,
    "x" * 60 + "/".join("segment%d" % i for i in range(40)) + " · the_distinguishing_end": 0.95,
}


def legend(path):
    """(full label from the tooltip, [lines drawn], [(x, line)]) per legend entry, and the width."""
    root = ET.parse(str(path)).getroot()
    out = []
    for g in root.iter(SVG + "g"):
        spans = list(g.iter(SVG + "tspan"))
        out.append((g.find(SVG + "title").text, [s.text for s in spans],
                    [(float(s.get("x")), s.text) for s in spans]))
    return out, float(root.get("width"))


def test_long_legend_labels_wrap_inside_the_picture(tmp_path):
    from viz.norms import LEGEND_LINES, LEGEND_MAX, LEGEND_SIZE, text_width
    t = np.arange(30.0)
    series = {label: r ** t for label, r in LONG.items()}
    series["checkpoint_epoch_00012_learning_rate_0.001_with_no_spaces_at_all_trained"][10:] = 0
    path = tmp_path / "norms.svg"
    viz.plot_grad_norms(series, str(path))
    entries, width = legend(path)
    assert [full.split(" (")[0] for full, _, _ in entries] == list(LONG)
    for (full, lines, placed), label in zip(entries, LONG):
        assert 1 <= len(lines) <= LEGEND_LINES
        drawn = "".join(lines).replace(" ", "")
        if "…" in drawn:                                  # only the longest one is elided...
            assert label.startswith("xxxx")
            head, tail = drawn.split("…")
            assert label.replace(" ", "").startswith(head)
            assert drawn.endswith("the_distinguishing_end")   # ...and keeps its end
        else:                                             # every other label is drawn whole
            assert drawn == full.replace(" ", "")
        for x, line in placed:                            # no line runs past the picture
            assert text_width(line, LEGEND_SIZE) <= LEGEND_MAX
            assert x + text_width(line, LEGEND_SIZE) <= width
    assert "(20 zero/NaN not drawn)" in " ".join(entries[3][1])


def test_short_legend_labels_keep_the_plot_as_it_was(tmp_path):
    path = tmp_path / "norms.svg"
    viz.plot_grad_norms({"tanh RNN, trained": np.ones(5), "LSTM": np.ones(5)}, str(path))
    entries, width = legend(path)
    assert width == 720 and [lines for _, lines, _ in entries] == [["tanh RNN, trained"], ["LSTM"]]


def test_the_width_estimate_is_an_upper_bound_of_helvetica():
    from viz.norms import text_width
    assert 100 * 0.833 <= text_width("m" * 10, 10) <= 100 * 0.833 * 1.05
    assert text_width("购物", 10) >= 20


@pytest.mark.skipif(not shutil.which("rsvg-convert"), reason="needs rsvg-convert")
def test_the_rendered_legend_text_ends_inside_the_picture():
    """librsvg's own measure of each legend entry, with the fonts installed here: rendered alone
    (rsvg-convert --export-id), an element's PNG is as wide as its drawn extent."""
    from viz.norms import svg_plot
    t = np.arange(30.0)
    svg = svg_plot([(label, r ** t) for label, r in LONG.items()], "norms")
    width = float(ET.fromstring(svg).get("width"))
    starts = [m.start() for m in re.finditer('<text font-size="11">', svg)]
    assert len(starts) == len(LONG)
    for start in starts:
        one = svg[:start] + '<text id="entry"' + svg[start + len("<text"):]
        png = subprocess.run(["rsvg-convert", "--export-id", "entry", "-f", "png"],
                             input=one.encode("utf-8"), capture_output=True, check=True).stdout
        drawn, _ = struct.unpack(">II", png[16:24])          # the PNG header's width, height
        x = float(re.search(r'<tspan x="([0-9.]+)"', svg[start:]).group(1))
        assert x + drawn <= width, svg[start:start + 200]
