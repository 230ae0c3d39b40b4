"""viz.grad_norms and viz.plot_grad_norms: the chapter's vanishing-gradient argument."""
import io
import os
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

import viz
from autograph.backward import run, seed
from test_viz_models import elman, lstm

SVG = "{http://www.w3.org/2000/svg}"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def legend_texts(fig):
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_plot_is_a_figure_with_a_log_axis_and_one_line_per_series():
    rnn = viz.grad_norms(elman(20, H=8, last_only=True)[0])
    cell = viz.grad_norms(lstm(20, H=8, last_only=True, forget_bias=3.0)[0])
    rnn[3] = 0.0                                           # not drawable on a log axis: a gap
    fig = viz.plot_grad_norms({"tanh <RNN>": rnn, "LSTM": cell})
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    lines = ax.get_lines()
    assert len(lines) == 2
    np.testing.assert_array_equal(lines[1].get_ydata(), cell)
    drawn = lines[0].get_ydata()
    assert np.isnan(drawn[3]) and np.array_equal(np.delete(drawn, 3), np.delete(rnn, 3))
    assert legend_texts(fig) == ["tanh <RNN> (1 zero/NaN not drawn)", "LSTM"]
    lo, hi = ax.get_ylim()
    assert lo <= rnn[rnn > 0].min() and hi >= cell.max()


def test_labels_are_drawn_as_written_and_long_ones_wrap():
    long = "bidirectional LSTM, 2 layers, hidden 128, dropout 0.2 · lstm_l1_reverse"
    fig = viz.plot_grad_norms({"_starts_with_underscore": np.ones(4), "costs $5 or $6": np.ones(4),
                               long: np.ones(4)}, title="$x$ per step")
    texts = legend_texts(fig)
    assert texts[0] == "_starts_with_underscore"           # matplotlib would leave it out
    assert texts[1] == r"costs \$5 or \$6"                 # "$" escaped: no math mode
    assert "\n" in texts[2] and texts[2].replace("\n", " ") == long
    assert all(len(line) <= 40 for line in texts[2].split("\n"))
    assert fig.axes[0].get_title(loc="left") == r"\$x\$ per step"
    assert [line.get_label() for line in fig.axes[0].get_lines()][2] == long


def test_plot_saves_png_svg_and_pdf_and_refuses_other_suffixes(tmp_path):
    series = {"tanh RNN": 0.5 ** np.arange(30.0), "LSTM": 0.95 ** np.arange(30.0)}
    for suffix in ("png", "svg", "pdf"):
        path = tmp_path / ("norms." + suffix)
        assert isinstance(viz.plot_grad_norms(series, str(path)), Figure)
        data = path.read_bytes()
        if suffix == "png":
            image = imread(io.BytesIO(data))
            assert image.shape[0] > 300 and image.shape[1] > 600
            assert image[..., :3].std() > 0.05             # something is drawn on the white
        elif suffix == "svg":
            root = ET.fromstring(data)
            assert root.tag == SVG + "svg" and len(list(root.iter(SVG + "path"))) > 20
        else:
            assert data.startswith(b"%PDF")
    again = tmp_path / "again.svg"
    viz.plot_grad_norms(series, again)
    assert again.read_bytes() == (tmp_path / "norms.svg").read_bytes()    # no date, no random ids
    with pytest.raises(ValueError, match=r"viz.plot_grad_norms: .*\.png, \.svg, \.pdf"):
        viz.plot_grad_norms(series, tmp_path / "norms.jpeg2000")
    with pytest.raises(ValueError, match="shape"):
        viz.plot_grad_norms({"2-d": np.ones((3, 2))})
    assert sorted(os.listdir(tmp_path)) == ["again.svg", "norms.pdf", "norms.png", "norms.svg"]


def test_plotting_changes_nothing_process_wide(tmp_path):
    """No pyplot, no backend chosen, no rc setting left changed (rcParams.copy() reads the
    settings without resolving the backend, which would import pyplot)."""
    script = "\n".join([
        "import io, sys", "sys.path[:0] = [%r]" % ROOT,
        "import matplotlib, numpy as np", "before = matplotlib.rcParams.copy()",
        "import viz", "viz.plot_grad_norms({'a': np.ones(3)}).savefig(io.BytesIO(), format='svg')",
        "viz.plot_grad_norms(np.ones(3), %r)" % str(tmp_path / "n.svg"),
        "assert matplotlib.rcParams.copy() == before",
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'"])
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_chinese_labels_are_drawn_with_an_installed_cjk_font(tmp_path):
    from viz.figures import font_family
    if len(font_family()) < 2:
        pytest.skip("no CJK font installed (e.g. apt-get install fonts-wqy-microhei)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # matplotlib warns of a missing glyph
        viz.plot_grad_norms({"我 在 华联 购物": np.ones(4)}, tmp_path / "cjk.png")
