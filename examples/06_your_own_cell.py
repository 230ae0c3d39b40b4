"""Write your own cell: a minimal gated unit in a dozen lines, run by nets.Recurrent.

The minimal gated unit (MGU; Zhou, Wu, Zhang and Zhou, 2016) is a GRU with a single gate:

    f_t = σ(W_f x_t + U_f h_{t-1} + b_f)
    h̃_t = tanh(W_h x_t + U_h (f_t ⊙ h_{t-1}) + b_h)
    h_t = (1 − f_t) ⊙ h_{t-1} + f_t ⊙ h̃_t

Written as a nets.Cell (weights assigned in __init__, one step on the raw input), it runs in
nets.Recurrent stacked, bidirectional and with lengths=, with PyTorch-style keys (W_f_l0,
W_f_l0_reverse). The example checks it against a numpy loop of the equations and against
finite differences, trains it on the adding problem next to an LSTM, draws it (one step gate
by gate, one box per time step, rolled) and steps through its backward pass.

    python examples/06_your_own_cell.py           # T = 50: well under a minute on one core
    python examples/06_your_own_cell.py --long    # T = 100, a larger model, longer training
"""
import os

import common

args = common.parse_args("06_your_own_cell", __doc__,
                         long="T = 100, hidden size 32, 3000 steps (a few minutes)")

import numpy as np  # noqa: E402  (after common, which limits BLAS to one thread)
import autograph as ag  # noqa: E402
import nets  # noqa: E402
import viz  # noqa: E402
from adding import BASELINE, Adder, batches, held_out_mse  # noqa: E402
from autograph import debug  # noqa: E402


class MGU(nets.Cell):
    """The minimal gated unit: one gate f_t both forgets and writes."""

    def __init__(self, input_size, hidden_size, rng=None):
        super().__init__(input_size, hidden_size, rng=rng)
        I, H = input_size, hidden_size
        w = lambda *shape: nets.Parameter(ag.randn(*shape, rng=self.rng) / H ** 0.5)  # noqa: E731
        self.W_f, self.U_f, self.b_f = w(H, I), w(H, H), w(H)
        self.W_h, self.U_h, self.b_h = w(H, I), w(H, H), w(H)

    def step(self, x_t, h):
        with ag.scope("forget_gate"):
            f = ag.sigmoid(x_t @ self.W_f.T + h @ self.U_f.T + self.b_f)
            f.name = "f_t"
        with ag.scope("candidate"):
            h_tilde = ag.tanh(x_t @ self.W_h.T + (f * h) @ self.U_h.T + self.b_h)
            h_tilde.name = "h̃_t"
        h = (1 - f) * h + f * h_tilde
        h.name = "h_t"
        return h


out = args.out
if args.small:
    T, H, BATCH, STEPS = 20, 16, 32, 800
elif args.long:
    T, H, BATCH, STEPS = 100, 32, 64, 3000
else:
    T, H, BATCH, STEPS = 50, 16, 32, 1000

common.section("nets.Recurrent runs the cell")
ag.manual_seed(0)
layer = nets.Recurrent(MGU, 2, 3, num_layers=2, bidirectional=True).double()
print("  %r: %d parameters, keys %s ... %s"
      % (layer, sum(p.numpy().size for p in layer.parameters()),
         ", ".join(list(layer.state_dict())[:3]), list(layer.state_dict())[-1]))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def mgu_numpy(w, xs, h):
    """The three equations above, in numpy, step by step."""
    outs = []
    for x_t in xs:
        f = sigmoid(x_t @ w["W_f"].T + h @ w["U_f"].T + w["b_f"])
        h_tilde = np.tanh(x_t @ w["W_h"].T + (f * h) @ w["U_h"].T + w["b_h"])
        h = (1 - f) * h + f * h_tilde
        outs.append(h)
    return np.stack(outs)


x = np.random.default_rng(0).standard_normal((6, 4, 2))
outputs, h_n = layer(x)
first = {k[:-3]: v for k, v in layer.state_dict().items() if k.endswith("_l0")}
assert np.allclose(h_n.numpy()[0], mgu_numpy(first, x, np.zeros((4, 3)))[-1], rtol=1e-12)
print("  layer 0, forward direction: the numpy loop of the equations gives the same h_T")
assert ag.gradcheck(lambda x: (layer(x, lengths=[6, 3, 1, 5])[0] ** 2).sum(), [x])
print("  stacked, bidirectional, with lengths=: the gradient agrees with finite differences")

common.section("The adding problem, T = %d: the MGU next to an LSTM" % T)


def make(kind):
    ag.manual_seed(1)
    if kind == "LSTM":
        lstm = nets.LSTM(2, H)
        lstm.bias_hh_l0.data[H:2 * H] = 1.0         # forget gate open at the start (as 03)
        return Adder(lstm, H)
    return Adder(nets.Recurrent(MGU, 2, H), H)


def first_below(losses, level, window=20):
    """The first training step whose running mean loss is below ``level``, or None."""
    running = np.convolve(losses, np.ones(window) / window, "valid")
    hit = np.flatnonzero(running < level)
    return int(hit[0]) + window if hit.size else None


curves, results = [], {}
for kind in ("MGU", "LSTM"):
    model = make(kind)
    size = sum(p.numpy().size for p in model.rnn.parameters())
    print("  training the %s (%d recurrent parameters; %d steps, batch %d, Adam):"
          % (kind, size, STEPS, BATCH))
    losses = common.fit(model, batches(np.random.default_rng(2), BATCH, T), STEPS, lr=0.01,
                        desc="    " + kind)
    results[kind] = held_out_mse(model, np.random.default_rng(3), T), first_below(
        losses, 0.1 * BASELINE)
    running = np.convolve(losses, np.ones(20) / 20, "valid")
    curves.append((kind, np.arange(20, len(losses) + 1), running))
for kind, (mse, step) in results.items():
    print("  %-4s held-out MSE %.4f (always answering 1: %.4f); running loss below a tenth of "
          "that from step %s" % (kind, mse, BASELINE, step))
assert results["MGU"][0] < 0.5 * BASELINE, results
path = os.path.join(out, "adding_loss.svg")
common.plot_lines(curves, path, title="The adding problem, T = %d: training loss" % T,
                  xlabel="training step", ylabel="MSE (running mean of 20)")
common.wrote(path)

common.section("Pictures: the gates in their scopes, one box per step, rolled")
ag.manual_seed(0)
cell = MGU(2, 3)
h = cell(ag.randn(1, 2, name="x_t"), ag.randn(1, 3, name="h_t-1"))
small = nets.Recurrent(MGU, 2, 3)
loss = (small(ag.randn(5, 1, 2))[0] ** 2).mean()
for name, root, kwargs, what in [
        ("mgu_step.svg", h.sum(), {"rankdir": "TB"}, "one step: f_t, h̃_t, h_t"),
        ("mgu_steps.svg", loss, {"collapse": 1}, "a layer over 5 steps, one box per step"),
        ("mgu_rolled.svg", loss, {"rolled": True}, "the same, rolled: one step, ×4 loops")]:
    path = os.path.join(out, name)
    viz.render(root, path, **kwargs)
    print("  %-40s %s" % (path, what))

common.section("The debugger speaks the cell's names")
s = debug.step_backward(loss)
s.breakpoints.add("name:f_t")
print("  first stop at a forget gate:", s.run())
s.finish()
print("  dL/dW_f_l0 after the stepped backward pass: norm %.4g"
      % np.linalg.norm(small.W_f_l0.grad.numpy()))
