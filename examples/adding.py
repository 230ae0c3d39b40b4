"""The adding problem (Hochreiter & Schmidhuber 1997), shared by examples 03 and 06.

Each input is a sequence of T (value, marker) pairs, values uniform in [0, 1], two of them
marked: one in each half. The target is the sum of the two marked values, read out after the
last step, so a model must remember across up to T steps. Always answering 1 (the mean) gives
the baseline MSE of 1/6, the variance of the sum of two U(0, 1) numbers.
"""
import numpy as np

import autograph as ag
import nets

BASELINE = 1 / 6


def batch(rng, n, T):
    """(T, n, 2) inputs (a value, a marker) and (n, 1) targets."""
    values = rng.uniform(0, 1, (T, n))
    marks = np.zeros((T, n))
    cols = np.arange(n)
    marks[rng.integers(0, T // 2, n), cols] = 1
    marks[rng.integers(T // 2, T, n), cols] = 1
    x = np.stack([values, marks], -1).astype(np.float32)
    return x, (values * marks).sum(0)[:, None].astype(np.float32)


def batches(rng, n, T):
    """Fresh training batches with the squared error as their loss (for ``common.fit``)."""
    def next_batch():
        x, y = batch(rng, n, T)
        return x, lambda pred: nets.mse_loss(pred, y)
    return next_batch


class Adder(nets.Module):
    """A recurrent layer read out once, after the last step."""

    def __init__(self, layer, hidden_size):
        super().__init__()
        self.rnn, self.out = layer, nets.Linear(hidden_size, 1)

    def forward(self, x):
        h, _ = self.rnn(x)
        return self.out(h[-1])


def held_out_mse(model, rng, T, n=500):
    x, y = batch(rng, n, T)
    with ag.no_grad():
        return float(((model(x).data - y) ** 2).mean())
