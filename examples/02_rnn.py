"""Section 2 of the chapter: the recurrent network.

The folded and unfolded pictures of one RNN (figure 6.10), Elman's network next to Jordan's
(6.14, 6.15), the five input/output structures (6.16) each as a small model with its graph, and
BPTT: dE3/dW by the chapter's formula in numpy, equal to what backward() computes.
"""
import os

import common

args = common.parse_args("02_rnn", __doc__)

import numpy as np  # noqa: E402  (after common, which limits BLAS to one thread)
import autograph as ag  # noqa: E402
import nets  # noqa: E402
import viz  # noqa: E402

out = args.out
ag.manual_seed(0)
I, H, K = 3, 4, 2
T = 3 if args.small else 4
x = ag.randn(T, 1, I, name="x")
tags = np.arange(T) % K

common.section("Figure 6.10: one RNN, folded and unfolded")
rnn = common.rename_parameters(nets.RNN(I, H), {"weight_ih_l0": "U", "weight_hh_l0": "W",
                                                 "bias_ih_l0": "b_s", "bias_hh_l0": "b_s'"})
readout = common.rename_parameters(nets.Linear(H, K), {"weight": "V", "bias": "b_o"})
s, _ = rnn(x)
E = nets.cross_entropy(readout(s).reshape(T, K), tags)     # softmax inside: o_t, then E_t
E.name = "E"
viz.render(E, os.path.join(out, "rnn_unrolled.svg"))
viz.render(E, os.path.join(out, "rnn_rolled.svg"), rolled=True)
print("s_t = tanh(U x_t + W s_t-1 + b_s), o_t = softmax(V s_t + b_o), E = mean of -log o_t[y_t],"
      " drawn for T = %d" % T)
common.wrote(os.path.join(out, "rnn_unrolled.svg"), os.path.join(out, "rnn_rolled.svg"))

common.section("Figures 6.14 and 6.15: Elman feeds back the hidden state, Jordan the output")
elman = nets.RNN(I, H)
jordan = nets.JordanRNN(I, H, K)
for name, model in (("elman", elman), ("jordan", jordan)):
    y, _ = model(x)
    path = os.path.join(out, name + ".svg")
    viz.render(y.sum(), path)
    print("%-6s output %s" % (name, y.shape))
    common.wrote(path)

common.section("Figure 6.16: five structures")


def one_to_one():
    """No recurrence: one input, one output."""
    return readout(nets.RNNCell(I, H)(x[0]))


def one_to_many():
    """One input (an image, a topic), a sequence out: the input only enters at the first step."""
    cell, h, ys = nets.RNNCell(I, H), None, []
    for t in range(T):
        with ag.scope("generate", t=t):
            h = cell(x[0] if t == 0 else ag.zeros(1, I), h)
            ys.append(readout(h))
    return ag.stack(ys)


def many_to_one():
    """A sequence in, one output at the end (sentiment of a sentence)."""
    _, h_n = nets.RNN(I, H)(x)
    return readout(h_n[-1])


def encoder_decoder():
    """A sequence in, another sequence out after it has all been read (translation)."""
    encoder, decoder = nets.RNN(I, H), nets.RNN(I, H)
    with ag.scope("encoder"):
        _, h_n = encoder(x)
    with ag.scope("decoder"):
        s, _ = decoder(ag.zeros(T - 1, 1, I), h_n)
    return readout(s)


def synced():
    """An output for every input, as they arrive (part-of-speech tagging)."""
    s, _ = nets.RNN(I, H)(x)
    return readout(s)


for build in (one_to_one, one_to_many, many_to_one, encoder_decoder, synced):
    y = build()
    path = os.path.join(out, "structure_%s.svg" % build.__name__)
    viz.render(y.sum(), path, collapse=["rnn", "generate"])     # one box per cell step
    print("%-16s output %-10s %s" % (build.__name__, y.shape, build.__doc__))
    common.wrote(path)

common.section("BPTT: dE3/dW by the chapter's formula and by backward()")
# s_t = tanh(U x_t + W s_t-1), y_t = softmax(V s_t), E_3 = -y_3 log y^_3, in float64, no biases.
cell = nets.RNN(I, H, bias=False).double()
V = nets.Linear(H, K, bias=False).double()
xs = np.random.default_rng(1).standard_normal((4, 1, I))
target = np.array([1])
s, _ = cell(ag.tensor(xs))
E3 = nets.cross_entropy(V(s[3]), target)
E3.backward()
U_, W_, V_ = (p.data for p in (cell.weight_ih_l0, cell.weight_hh_l0, V.weight))

states, prev = [], np.zeros(H)
for t in range(4):
    prev = np.tanh(U_ @ xs[t, 0] + W_ @ prev)
    states.append(prev)
z3 = V_ @ states[3]
y_hat = np.exp(z3 - z3.max()) / np.exp(z3 - z3.max()).sum()
g = V_.T @ (y_hat - np.eye(K)[target[0]])            # dE3/dy^3 · dy^3/ds3
dW = np.zeros_like(W_)
for k in range(3, -1, -1):                           # sum over k of ... (prod ds_j/ds_j-1) ds_k/dW
    s_before = states[k - 1] if k else np.zeros(H)
    term = np.outer(g * (1 - states[k] ** 2), s_before)
    print("  k = %d: |term| = %.3e" % (k, np.linalg.norm(term)))
    dW += term                                       # (k = 0: s_-1 = 0, nothing to add)
    g = (g * (1 - states[k] ** 2)) @ W_              # times ds_k/ds_k-1 = diag(1 - s_k^2) W
err = np.abs(dW - cell.weight_hh_l0.grad.data).max()
print("formula vs backward(): largest difference %.2e" % err)
assert err < 1e-12, err
