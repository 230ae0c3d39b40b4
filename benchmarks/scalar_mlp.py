"""micrograd's demo as a benchmark: an MLP 2 -> 16 -> 16 -> 1 trained on 100 two-moons points,
written with scalar (0-d) tensors as micrograd writes it: about 66,000 graph nodes a step.

A step is the forward pass over all points, the max-margin loss with L2 regularisation,
backward, and an SGD update. Python's garbage collector stays ON (its default), as in a user's
program: micrograd's graphs are reference cycles that only the collector frees, autograph's are
freed by reference counting. Every implementation starts from the same weights and data, and
the script checks they compute the same losses before timing.

    PYTHONPATH=. python benchmarks/scalar_mlp.py            # micrograd and torch when importable

Times are CPU time of this process (one thread), which a busy machine disturbs less than wall
time. Figures are seconds per step: the median of five steps after a warm-up step, each variant in
turn from a freshly collected heap (interleaving their steps would make one pay for the cyclic
garbage another leaves). Both are also timed with the collector off: micrograd's best case,
and what the collector costs autograph.
"""
from common import torch  # first: one BLAS thread before numpy loads

import gc
import statistics
import time

import numpy as np

import autograph as ag
from autograph.graph import walk

try:
    from micrograd.engine import Value
except ImportError:
    Value = None

SIZES = (2, 16, 16, 1)
ALPHA = 1e-4        # L2 weight, as in micrograd's demo


def moons(n=100, noise=0.1, seed=1):
    """Two interleaved half circles with labels -1 and +1 (like sklearn's make_moons)."""
    rng = np.random.default_rng(seed)
    half = n // 2
    t = np.linspace(0, np.pi, half)
    outer = np.stack([np.cos(t), np.sin(t)], 1)
    inner = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1)
    x = np.concatenate([outer, inner]) + noise * rng.standard_normal((2 * half, 2))
    y = np.concatenate([-np.ones(half), np.ones(half)])
    return x, y


def initial_weights(seed=0):
    """Per layer a (fan_out, fan_in) weight matrix uniform in [-1, 1] and zero biases."""
    rng = np.random.default_rng(seed)
    return [(rng.uniform(-1, 1, (n_out, n_in)), np.zeros(n_out))
            for n_in, n_out in zip(SIZES[:-1], SIZES[1:])]


def scalar_mlp(weights, wrap):
    """The model as micrograd builds it: one scalar per weight, neurons as lists of scalars."""
    return [([[wrap(w) for w in row] for row in W], [wrap(c) for c in b]) for W, b in weights]


def forward(layers, x, relu):
    for k, (W, b) in enumerate(layers):
        last = k == len(layers) - 1
        x = [sum((wi * xi for wi, xi in zip(row, x)), c) for row, c in zip(W, b)]
        if not last:
            x = [relu(v) for v in x]
    return x[0]


def loss_of(layers, X, Y, relu):
    """micrograd's demo loss: mean hinge loss plus ALPHA times the sum of squared weights."""
    scores = [forward(layers, x, relu) for x in X]
    losses = [relu(1 + -y * s) for y, s in zip(Y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    params = [p for W, b in layers for p in [w for row in W for w in row] + b]
    reg_loss = ALPHA * sum(p * p for p in params)
    return data_loss + reg_loss, params


# -- the implementations: how to make a number, relu, and an SGD update that clears the grads ----
def autograph_sgd(params, lr):
    for p in params:
        p.data = p.data - lr * p.grad.data
        p.grad = None


def micrograd_sgd(params, lr):
    for p in params:
        p.data -= lr * p.grad
        p.grad = 0


def torch_sgd(params, lr):
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad = None


def implementations():
    """name -> (number maker(value, requires_grad), relu, sgd) for each importable library."""
    out = {"autograph": (lambda v, grad: ag.tensor(np.float64(v), requires_grad=grad),
                         ag.relu, autograph_sgd)}
    if Value is not None:
        out["micrograd"] = (lambda v, grad: Value(float(v)), lambda v: v.relu(), micrograd_sgd)
    if torch is not None:
        out["torch (0-d tensors)"] = (
            lambda v, grad: torch.tensor(float(v), dtype=torch.float64, requires_grad=grad),
            torch.relu, torch_sgd)
    return out


def train(number, relu, sgd, collect, steps):
    """A warm-up step, then ``steps`` timed steps from the same start for every implementation:
    (losses, median seconds a step)."""
    x, y = moons()
    layers = scalar_mlp(initial_weights(), lambda v: number(v, True))
    X = [[number(v, False) for v in row] for row in x]
    Y = [float(v) for v in y]
    gc.collect()                         # start clean: no garbage left by another variant
    gc.enable() if collect else gc.disable()
    losses, times = [], []
    for k in range(steps + 1):
        start = time.process_time()
        loss, params = loss_of(layers, X, Y, relu)
        loss.backward()
        sgd(params, 1.0 - 0.9 * k / 100)
        times.append(time.process_time() - start)
        losses.append(float(loss.data))
    gc.enable()
    return losses, statistics.median(times[1:])


def main(steps=5):
    variants = {name: impl + (True,) for name, impl in implementations().items()}
    for name in ("autograph", "micrograd"):
        if name in variants:
            variants[name + ", gc off"] = variants[name][:3] + (False,)
    results = {name: train(*impl, steps) for name, impl in variants.items()}
    ref = results["autograph"][0]
    for name, (losses, _) in results.items():
        if not np.allclose(losses, ref, rtol=1e-9):
            raise SystemExit("%s computed different losses: %s vs %s" % (name, losses, ref))
    x, y = moons()
    layers = scalar_mlp(initial_weights(), lambda v: ag.tensor(np.float64(v), requires_grad=True))
    loss, _ = loss_of(layers, [[ag.tensor(np.float64(v)) for v in r] for r in x], y, ag.relu)
    print("MLP %s on %d points: %d graph nodes a step; median of %d steps, garbage collector on "
          "unless said" % ("-".join(map(str, SIZES)), len(x),
                           len(walk([loss], constants=True)), steps))
    base = results["autograph"][1]
    for name, (_, sec) in results.items():
        print("  %-20s %7.3f s/step  (%.2fx autograph)" % (name, sec, sec / base))


if __name__ == "__main__":
    main()
