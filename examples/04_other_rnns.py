"""Section 4 of the chapter: other recurrent networks.

One step of a GRU (figure 6.19) and of a peephole LSTM (6.25) drawn from their recorded graphs;
a bidirectional RNN (6.26, 6.27) drawn, and shown to beat a one-directional one on a cloze task
where the missing word is given away by the word after it; a continuous-time RNN (6.28) as a
two-neuron oscillator, and fit to a series sampled at irregular times.
"""
import os

import common

args = common.parse_args("04_other_rnns", __doc__)

import numpy as np  # noqa: E402  (after common, which limits BLAS to one thread)
import autograph as ag  # noqa: E402
import nets  # noqa: E402
import viz  # noqa: E402
from autograph_cli import Progress  # noqa: E402

out = args.out


def count(model):
    return sum(p.numel() for p in model.parameters())


common.section("Figures 6.19 and 6.25: one step of a GRU and of a peephole LSTM")
ag.manual_seed(0)
x, h0, c0 = ag.randn(1, 3, name="x_t"), ag.randn(1, 4, name="h_t-1"), ag.randn(1, 4, name="c_t-1")
gru, peephole, lstm = (cell(3, 4) for cell in (nets.GRUCell, nets.PeepholeLSTMCell, nets.LSTMCell))
for name, step in (("gru_cell.svg", gru(x, h0)),
                   ("peephole_lstm_cell.svg", peephole(x, (h0, c0))[0])):
    path = os.path.join(out, name)
    viz.render(step.sum(), path, rankdir="TB")
    common.wrote(path)
print("parameters for input 3, hidden 4: GRU %d (two gates and a candidate), LSTM %d, "
      "peephole LSTM %d (three peephole vectors more)" % (count(gru), count(lstm), count(peephole)))
assert count(gru) < count(lstm) < count(peephole)

common.section("Figures 6.26 and 6.27: a bidirectional RNN")
birnn = nets.RNN(3, 4, bidirectional=True)
y, h_n = birnn(ag.randn(3, 1, 3, name="x"))
path = os.path.join(out, "bidirectional.svg")
viz.render(y.sum(), path)
print("output %s: forward and backward states side by side; h_n %s" % (y.shape, h_n.shape))
common.wrote(path)

# The cloze task: a sequence of word pairs ("b b e e a a"), one word replaced by a blank. A blank
# in the first word of a pair is given away only by the word after it, which a one-directional
# RNN has not read yet: it can fill every second-of-pair blank and guess the rest.
K, PAIRS = 6, 3
MASK, IGNORE = K, -1
SEQ = 2 * PAIRS


def cloze_batch(rng, n):
    seq = np.repeat(rng.integers(0, K, (PAIRS, n)), 2, axis=0)
    blank, cols = rng.integers(0, SEQ, n), np.arange(n)
    target = np.full((SEQ, n), IGNORE)
    target[blank, cols] = seq[blank, cols]
    seq[blank, cols] = MASK
    return seq, target


class Cloze(nets.Module):
    def __init__(self, bidirectional):
        super().__init__()
        self.embed = nets.Embedding(K + 1, 8)
        self.gru = nets.GRU(8, 16, bidirectional=bidirectional)
        self.out = nets.Linear(32 if bidirectional else 16, K)

    def forward(self, x):
        h, _ = self.gru(self.embed(x))
        return self.out(h)


def cloze_loss(x, target):
    """The input, and the cross-entropy at the blanks as a function of the model's output."""
    return x, lambda logits: nets.cross_entropy(logits.reshape(-1, K), target.reshape(-1),
                                                ignore_index=IGNORE)


def cloze_accuracy(model, rng):
    x, target = cloze_batch(rng, 1000)
    with ag.no_grad():
        guess = model(x).data.argmax(-1)
    blank = target != IGNORE
    return float((guess[blank] == target[blank]).mean())


steps = 150 if args.small else 400
accuracy = {}
for bidirectional in (False, True):
    ag.manual_seed(0)
    model, rng = Cloze(bidirectional), np.random.default_rng(0)
    kind = "bidirectional" if bidirectional else "one-directional"
    print("  training the %s GRU:" % kind)
    common.fit(model, lambda: cloze_loss(*cloze_batch(rng, 64)), steps, lr=0.02,
               desc="    " + kind)
    accuracy[bidirectional] = cloze_accuracy(model, np.random.default_rng(1))
print("cloze accuracy on fresh sequences: one-directional %.0f%%, bidirectional %.0f%% "
      "(a one-directional model can do at best 50%% + 50%%/%d = %.0f%%)"
      % (100 * accuracy[False], 100 * accuracy[True], K, 100 * (0.5 + 0.5 / K)))
assert accuracy[True] > 0.9 and accuracy[True] > accuracy[False] + 0.2, accuracy

common.section("Figure 6.28: a continuous-time RNN")
# tau dy/dt = -y + W sigma(y + theta) + I x: Beer's two-neuron oscillator (1995), no input.


def oscillator(tau):
    model = nets.CTRNN(1, 2, tau=tau, unfolds=4)
    model.weight_hh_l0.data[:] = [[4.5, 1.0], [-1.0, 4.5]]
    model.bias_hh_l0.data[:] = [-2.75, -1.75]
    model.weight_ih_l0.data[:] = 0.0
    model.bias_ih_l0.data[:] = 0.0
    return model


n, dt = (300 if args.small else 450), 0.2
with ag.no_grad():
    y, _ = oscillator(1.0)(np.zeros((n, 1, 1), np.float32), dt=dt)
y = y.data[:, 0]
t = dt * np.arange(1, n + 1)
crossings = int(np.sum(np.diff(np.sign(y[:, 0] - y[:, 0].mean())) != 0))
print("two neurons, W = [[4.5, 1], [-1, 4.5]], theta = [-2.75, -1.75], tau = 1: y_1 crosses "
      "its mean %d times in %g time units (a period of about 29)" % (crossings, t[-1]))
assert crossings >= 3, crossings
path = os.path.join(out, "ctrnn_oscillator.svg")
common.plot_lines([("y_1", t, y[:, 0]), ("y_2", t, y[:, 1])], path,
                  title="A two-neuron CTRNN oscillator (Euler, 4 sub-steps per dt = 0.2)",
                  xlabel="time")
common.wrote(path)

# Fit to irregularly sampled data: the same oscillator with tau = 0.6 is observed at random
# times; a copy with tau = 1 learns tau by gradient descent through the integrator, each step
# integrating over the gap since the previous sample.
rng = np.random.default_rng(0)
N = 40     # about one period: over several, fitting a period by gradient descent has local minima
gaps = rng.uniform(0.1, 0.9, N).astype(np.float32)
times = np.cumsum(gaps)
silence = np.zeros((N, 1, 1), np.float32)
with ag.no_grad():
    observed = oscillator(0.6)(silence, dt=gaps)[0]
model = oscillator(1.0)
with ag.no_grad():
    before = model(silence, dt=gaps)[0].data[:, 0, 0]
opt = nets.optim.Adam([model.log_tau_l0], lr=0.05)
steps = 100 if args.small else 150
with Progress(steps, "  fitting tau") as progress:
    for step in range(steps):
        opt.zero_grad()
        loss = nets.mse_loss(model(silence, dt=gaps)[0], observed)
        if step == 0:
            first = loss.item()
        loss.backward()
        opt.step()
        progress.update(loss.item())
tau = np.exp(model.log_tau_l0.data)
print("%d samples at irregular times; tau learned by gradient descent: %s (true 0.6); "
      "MSE %.2e -> %.2e" % (N, np.round(tau, 3), first, loss.item()))
assert np.allclose(tau, 0.6, rtol=0.05) and loss.item() < first / 100, (tau, loss.item())
with ag.no_grad():
    after = model(silence, dt=gaps)[0].data[:, 0, 0]
path = os.path.join(out, "ctrnn_irregular.svg")
common.plot_lines([("model, tau = 1 (start)", times, before),
                   ("model, tau learned", times, after)], path,
                  title="Fitting a CTRNN's time constant to irregular samples", xlabel="time",
                  ylabel="y_1", points=[("samples (tau = 0.6)", times, observed.data[:, 0, 0])])
common.wrote(path)
