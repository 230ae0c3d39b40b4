"""viz.jacobian_spectrum and its plot: the singular values of ∂s_t/∂s_t−1, the chapter's product.

References are independent of the recorded graph: numpy's SVD of diag(1 − s_t²) W_hh for an Elman
RNN, and of ag.jacobian of a fresh cell's single step (the layer's weights loaded) at the states
that cell computes, for every cell of nets."""
import io
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

import autograph as ag
import nets
import viz

T, I, H, B = 6, 3, 4, 3
SVG = "{http://www.w3.org/2000/svg}"


def sequence(seed=0):
    return np.random.default_rng(seed).standard_normal((T, B, I))


def test_elman_spectrum_is_that_of_diag_one_minus_s_squared_times_w_hh():
    ag.manual_seed(0)
    rnn = nets.RNN(I, H).double()
    with ag.no_grad():
        rnn.weight_hh_l0.data *= 3.0                    # away from the defaults
    out, _ = rnn(sequence())
    W = rnn.weight_hh_l0.data
    for b in range(B):
        got = viz.jacobian_spectrum(out.sum(), batch=b)
        s = out.data[:, b]                              # the recorded states s_t
        want = [np.linalg.svd(np.diag(1 - s[t] ** 2) @ W, compute_uv=False) for t in range(1, T)]
        assert got.shape == (T - 1, H)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def cell_like(layer, make):
    """A fresh cell with the layer's weights (keys without the ``_l0`` suffix)."""
    cell = make().double()
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    return cell


def flat(state):
    return ag.concat(list(state), axis=0) if isinstance(state, tuple) else state


def cell_spectrum(cell, x, sizes):
    """Singular values of ∂s_t/∂s_t−1 of one sequence, by ag.jacobian of the cell's single step,
    and the cell's outputs (to check that it computes what the layer computed)."""
    def step(v, x_t):
        parts = tuple(v[sum(sizes[:i]):sum(sizes[:i + 1])] for i in range(len(sizes)))
        return flat(cell(x_t, parts if len(parts) > 1 else parts[0]))
    state = np.zeros(sum(sizes))
    spectra, outputs = [], []
    for t in range(len(x)):
        x_t = ag.tensor(x[t])
        if t:
            J = ag.jacobian(step)(ag.tensor(state), x_t).data
            spectra.append(np.linalg.svd(J, compute_uv=False))
        with ag.no_grad():
            state = step(ag.tensor(state), x_t).data
        outputs.append(state[:sizes[0]])
    return np.array(spectra), np.array(outputs)


CELLS = {
    "rnn": (lambda: nets.RNN(I, H), lambda: nets.RNNCell(I, H), (H,)),
    "gru": (lambda: nets.GRU(I, H), lambda: nets.GRUCell(I, H), (H,)),
    "lstm": (lambda: nets.LSTM(I, H), lambda: nets.LSTMCell(I, H), (H, H)),
    "peephole": (lambda: nets.PeepholeLSTM(I, H), lambda: nets.PeepholeLSTMCell(I, H), (H, H)),
    "jordan": (lambda: nets.JordanRNN(I, H, 2), lambda: nets.JordanCell(I, H, 2), (2,)),
    "ctrnn": (lambda: nets.CTRNN(I, H, unfolds=2, dt=0.5), lambda: nets.CTRNNCell(I, H, unfolds=2, dt=0.5),
              (H,)),
}


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_every_cell_against_ag_jacobian_of_one_step(kind):
    """The state is found from the graph alone: h, (h, c) for the LSTMs, y for Jordan and CTRNN."""
    make_layer, make_cell, sizes = CELLS[kind]
    ag.manual_seed(1)
    layer = make_layer().double()
    x = sequence(1)
    out, _ = layer(x)
    cell = cell_like(layer, make_cell)
    b = B - 1
    want, outputs = cell_spectrum(cell, x[:, b], sizes)
    np.testing.assert_allclose(outputs, out.data[:, b], rtol=1e-12, atol=1e-14)
    got = viz.jacobian_spectrum(out.sum(), batch=b)
    assert got.shape == (T - 1, sum(sizes))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)


def test_lstm_forget_path_in_closed_form():
    """With W_hh = 0 a step's Jacobian is [[0, diag(o_t (1 − tanh² c_t) f_t)], [0, diag(f_t)]]
    (rows h_t, c_t; columns h_t−1, c_t−1): singular values sqrt(f² + (o (1 − tanh² c) f)²) and H
    zeros. An open forget gate (f ≈ 1) keeps them at 1 or above: the gradient along c does not
    vanish."""
    ag.manual_seed(2)
    lstm = nets.LSTM(I, H).double()
    with ag.no_grad():
        lstm.weight_hh_l0.data[:] = 0.0
        lstm.bias_hh_l0.data[H:2 * H] = 6.0
    x = sequence(2)
    out, _ = lstm(x)
    got = viz.jacobian_spectrum(out.sum(), batch=0)
    sig = lambda z: 1 / (1 + np.exp(-z))                   # noqa: E731
    z = x[:, 0] @ lstm.weight_ih_l0.data.T + lstm.bias_ih_l0.data + lstm.bias_hh_l0.data
    i, f, g, o = sig(z[:, :H]), sig(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), sig(z[:, 3 * H:])
    c = np.zeros(H)
    for t in range(T):
        c = f[t] * c + i[t] * g[t]
        if t:
            want = np.sort(np.sqrt(f[t] ** 2 + (o[t] * (1 - np.tanh(c) ** 2) * f[t]) ** 2))[::-1]
            np.testing.assert_allclose(got[t - 1], np.r_[want, np.zeros(H)], rtol=1e-12, atol=1e-14)
    assert got[:, H - 1].min() > 0.98


def test_a_bidirectional_layer_gives_one_spectrum_per_track_in_the_order_each_ran():
    ag.manual_seed(3)
    both = nets.LSTM(I, H, bidirectional=True).double()
    x = sequence(3)
    out, _ = both(x)
    got = viz.jacobian_spectrum(out.sum(), batch=1)
    assert list(got) == ["lstm", "lstm_reverse"]
    assert all(v.shape == (T - 1, 2 * H) for v in got.values())
    # the reverse track is a forward LSTM with the reverse weights run on the reversed sequence
    backward = nets.LSTM(I, H).double()
    backward.load_state_dict({k.replace("_reverse", ""): v for k, v in both.state_dict().items()
                              if k.endswith("_reverse")})
    reversed_out, _ = backward(x[::-1].copy())
    np.testing.assert_allclose(got["lstm_reverse"], viz.jacobian_spectrum(reversed_out.sum(), batch=1),
                               rtol=1e-10)


def test_a_hand_written_loop_with_an_op_between_the_steps():
    """h_t = m ⊙ tanh(W x_t + U h_t−1) with the mask applied after the step's scope closed:
    the masked h_t is what the next step reads, so it is the state."""
    rng = np.random.default_rng(4)
    W, U = rng.standard_normal((H, I)), rng.standard_normal((H, H))
    m = np.array([1.0, 0.5, 0.0, 2.0])
    Wt, Ut = ag.tensor(W.T, requires_grad=True), ag.tensor(U.T, requires_grad=True)
    x, h, hs = rng.standard_normal((T, 1, I)), ag.zeros(1, H, dtype="float64"), []
    for t in range(T):
        with ag.scope("mine", t=t):
            s = ag.tanh(ag.tensor(x[t]) @ Wt + h @ Ut)
        h = s * m
        hs.append((s.data[0], h))
    got = viz.jacobian_spectrum(ag.stack([h for _, h in hs]).sum())
    want = [np.linalg.svd(np.diag(m * (1 - hs[t][0] ** 2)) @ U, compute_uv=False) for t in range(1, T)]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_what_cannot_be_measured_is_said():
    ag.manual_seed(0)
    out, _ = nets.RNN(I, H).double()(sequence()[:1])
    with pytest.raises(ValueError, match="one time step"):
        viz.jacobian_spectrum(out.sum())
    with pytest.raises(ValueError, match="no node of the graph is inside a time step"):
        viz.jacobian_spectrum((ag.ones(2, requires_grad=True) * 2).sum())
    out, _ = nets.RNN(I, H).double()(sequence())
    with pytest.raises(ValueError, match=r"batch=3, but the state part %\d+ has shape \(3, 4\)"):
        viz.jacobian_spectrum(out.sum(), batch=3)
    np.testing.assert_array_equal(viz.jacobian_spectrum(out.sum(), batch=-1),
                                  viz.jacobian_spectrum(out.sum(), batch=B - 1))


def spectra():
    ag.manual_seed(5)
    rnn, lstm = nets.RNN(I, H).double(), nets.LSTM(I, H).double()
    return {"tanh RNN": viz.jacobian_spectrum(rnn(sequence())[0].sum()),
            "LSTM": viz.jacobian_spectrum(lstm(sequence())[0].sum())}


def test_plot_compares_the_largest_and_shows_each_spectrum_on_log_axes(tmp_path):
    series = spectra()
    fig = viz.plot_jacobian_spectrum(series, tmp_path / "spectrum.png")
    assert isinstance(fig, Figure)
    top, *panels = fig.axes
    assert len(panels) == 2 and all(ax.get_yscale() == "log" for ax in fig.axes)
    lines = [line for line in top.get_lines() if not line.get_label().startswith("_")]
    assert [line.get_label() for line in lines] == ["tanh RNN", "LSTM"]
    assert [t.get_text() for t in top.get_legend().get_texts()] == ["tanh RNN", "LSTM"]
    for line, ax, (label, values) in zip(lines, panels, series.items()):
        np.testing.assert_array_equal(line.get_xdata(), np.arange(1, T))
        np.testing.assert_array_equal(line.get_ydata(), values[:, 0])
        (band,) = ax.collections                           # from the smallest to the largest
        edge = band.get_paths()[0].vertices[:, 1]
        assert np.isclose(edge.min(), values[:, -1].min()) and np.isclose(edge.max(), values[:, 0].max())
        assert ax.get_title(loc="left") == "%s: ∏ largest = %.3g" % (label, np.prod(values[:, 0]))
    image = imread(io.BytesIO((tmp_path / "spectrum.png").read_bytes()))
    assert image.shape[0] > 300 and image[..., :3].std() > 0.05
    fig = viz.plot_jacobian_spectrum(series["LSTM"], tmp_path / "spectrum.svg")
    assert len(fig.axes) == 2
    assert ET.parse(str(tmp_path / "spectrum.svg")).getroot().tag == SVG + "svg"
    with pytest.raises(ValueError, match="viz.plot_jacobian_spectrum: .*shape"):
        viz.plot_jacobian_spectrum({"1-d": np.ones(3)})
