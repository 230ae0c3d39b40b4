"""Section 3 of the chapter: the vanishing gradient, and the LSTM that avoids it.

The adding problem (two numbers marked in a long sequence; the target is their sum) needs a
memory of T steps. The gradient norm ||dL/dh_t|| at each step t falls off exponentially for a
tanh RNN and much less for an LSTM (one plot, log axis). The factors of the chapter's product
∏ ∂s_t/∂s_t-1 say why (a second plot, their singular values): a tanh RNN's are bounded by
||W_hh||_2 and most of their singular values lie far below 1, the LSTM's largest stays at 1
along its forget path. The LSTM step is drawn gate by gate, written as the chapter writes it
(figures 6.20-6.24) and checked against nets.LSTMCell;
and the LSTM learns the adding problem while the RNN stays at the baseline of always answering 1.
"""
import os

import common

args = common.parse_args("03_lstm", __doc__,
                         long="sequences of T = 100 and 4000 training steps (a few minutes)")

import numpy as np  # noqa: E402  (after common, which limits BLAS to one thread)
import autograph as ag  # noqa: E402
import nets  # noqa: E402
import viz  # noqa: E402
from adding import BASELINE, Adder, batch, batches, held_out_mse  # noqa: E402

out = args.out
T, H, BATCH = (20, 16, 32) if args.small else (100 if args.long else 50, 32, 64)
STEPS = 800 if args.small else 4000 if args.long else 1500


def make(kind):
    ag.manual_seed(1)
    if kind == "lstm":
        layer = nets.LSTM(2, H)
        # Forget gate open at the start (bias 1, gate order i, f, g, o), a common initialisation
        # that lets the cell state carry information across the whole sequence from step one.
        layer.bias_hh_l0.data[H:2 * H] = 1.0
        return Adder(layer, H)
    return Adder(nets.RNN(2, H), H)


def norms(model, x, y):
    """||dL/dh_t|| for every step t of one batch's loss."""
    return viz.grad_norms(nets.mse_loss(model(x), y), by="t")


def spectrum(model, x, y):
    """Singular values of ds_t/ds_t-1 at every step t >= 1 of the first sequence of the batch."""
    return viz.jacobian_spectrum(nets.mse_loss(model(x), y), batch=0)


common.section("The adding problem, T = %d" % T)
models = {"tanh RNN": make("rnn"), "LSTM": make("lstm")}
probe = batch(np.random.default_rng(0), BATCH, T)
series, spectra = {}, {}
for name, model in models.items():
    series[name + ", untrained"] = norms(model, *probe)
    spectra[name + ", untrained"] = spectrum(model, *probe)
results = {}
for name, model in models.items():
    print("  training the %s (%d steps, batch %d, Adam):" % (name, STEPS, BATCH))
    common.fit(model, batches(np.random.default_rng(2), BATCH, T), STEPS, lr=0.01,
               desc="    " + name)
    results[name] = held_out_mse(model, np.random.default_rng(3), T)
    series[name + ", trained"] = norms(model, *probe)
    spectra[name + ", trained"] = spectrum(model, *probe)
for name, mse in results.items():
    print("  %-9s held-out MSE %.4f   (always answering 1: %.4f)" % (name, mse, BASELINE))
assert results["LSTM"] < 0.5 * BASELINE, results
assert results["LSTM"] < 0.5 * results["tanh RNN"], results

common.section("Vanishing gradients: ||dL/dh_t|| against t")
for name, values in series.items():
    v = np.asarray(values, float)
    print("  %-22s first step / last step = %.1e" % (name, v[0] / v[-1]))
plot = os.path.join(out, "grad_norms.svg")
viz.plot_grad_norms(series, plot)
common.wrote(plot)

common.section("The chapter's product: singular values of ds_t/ds_t-1 at each step")
for name, sv in spectra.items():
    top = sv[:, 0]
    print("  %-22s largest: median %.3f (%.3f to %.3f), product over %d steps %.2g; median of "
          "all %.2f" % (name, np.median(top), top.min(), top.max(), len(top), np.prod(top),
                        np.median(sv)))
# An Elman step's Jacobian is diag(1 - s_t^2) W_hh and tanh' <= 1: no singular value exceeds
# ||W_hh||_2 (PyTorch's initialisation puts it near 1: below at H = 16, 1.09 at H = 32). The
# LSTM's cell state is carried by c_t = f_t c_t-1 + ...: its largest stays at 1.
norm_w = np.linalg.norm(models["tanh RNN"].rnn.weight_hh_l0.data, 2)
print("  the trained tanh RNN's ||W_hh||_2 = %.3f bounds its largest singular values" % norm_w)
assert spectra["tanh RNN, trained"][:, 0].max() <= norm_w * (1 + 1e-5)
assert np.all(np.abs(spectra["LSTM, untrained"][:, 0] - 1) < 0.05), spectra["LSTM, untrained"][:, 0]
plot = os.path.join(out, "jacobian_spectrum.svg")
viz.plot_jacobian_spectrum(spectra, plot)
common.wrote(plot)

common.section("Figures 6.20-6.24: one LSTM step, gate by gate")
ag.manual_seed(0)
cell = nets.LSTMCell(3, 4)
x = ag.randn(1, 3, name="x_t")
h_prev, c_prev = ag.randn(1, 4, name="h_t-1"), ag.randn(1, 4, name="C_t-1")
hx = ag.concat([h_prev, x], axis=1)


def named(t, name):
    t.name = name
    return t


def gate(k, g):
    """W_g . [h_t-1, x_t] + b_g, with W_g read from the cell's PyTorch layout (i, f, g, o)."""
    rows = slice(k * 4, (k + 1) * 4)
    W = named(ag.concat([cell.weight_hh[rows], cell.weight_ih[rows]], axis=1), "W_" + g)
    return hx @ W.T + named(cell.bias_ih[rows] + cell.bias_hh[rows], "b_" + g)


with ag.scope("forget_gate"):
    f = named(ag.sigmoid(gate(1, "f")), "f_t")
with ag.scope("input_gate"):
    i = named(ag.sigmoid(gate(0, "i")), "i_t")
    c_tilde = named(ag.tanh(gate(2, "C")), "C~_t")
with ag.scope("output_gate"):
    o = named(ag.sigmoid(gate(3, "o")), "o_t")
with ag.scope("state_update"):
    c = named(f * c_prev + i * c_tilde, "C_t")
    h = named(o * ag.tanh(c), "h_t")
h_cell, c_cell = cell(x, (h_prev, c_prev))
assert np.allclose(h.data, h_cell.data, atol=1e-6) and np.allclose(c.data, c_cell.data, atol=1e-6)
print("the chapter's equations give nets.LSTMCell's h_t and C_t")
pictures = [("lstm_cell.svg", h_cell, "6.20 the cell as nets.LSTMCell records it"),
            ("forget_gate.svg", f, "6.21 f_t = sigmoid(W_f [h_t-1, x_t] + b_f)"),
            ("input_gate.svg", i * c_tilde, "6.22 i_t * C~_t, C~_t = tanh(W_C [h_t-1, x_t] + b_C)"),
            ("output_gate.svg", o, "6.23 o_t = sigmoid(W_o [h_t-1, x_t] + b_o)"),
            ("state_update.svg", h, "6.24 C_t = f_t C_t-1 + i_t C~_t, h_t = o_t tanh(C_t)")]
for name, root, what in pictures:
    path = os.path.join(out, name)
    viz.render(root.sum(), path, rankdir="TB")
    print("  %-32s %s" % (path, what))
