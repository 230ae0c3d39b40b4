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
garbage another leaves). micrograd is also timed with the collector off, its best case.
"""
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import gc          # noqa: E402
import statistics  # noqa: E402
import sys         # noqa: E402
import time        # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import autograph as ag  # noqa: E402
from autograph.forward import graph_nodes  # noqa: E402

try:
    from micrograd.engine import Value
except ImportError:
    Value = None
try:
    import torch
    torch.set_num_threads(1)
except ImportError:
    torch = None

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


# -- one training step per implementation ------------------------------------------------------
def autograph_step(state, lr):
    layers, X, Y = state
    loss, params = loss_of(layers, X, Y, ag.relu)
    for p in params:
        p.grad = None
    loss.backward()
    for p in params:
        p.data = p.data - lr * p.grad.data
    return loss.item()


def micrograd_step(state, lr):
    layers, X, Y = state
    loss, params = loss_of(layers, X, Y, lambda v: v.relu())
    for p in params:
        p.grad = 0
    loss.backward()
    for p in params:
        p.data -= lr * p.grad
    return loss.data


def torch_step(state, lr):
    layers, X, Y = state
    loss, params = loss_of(layers, X, Y, torch.relu)
    for p in params:
        p.grad = None
    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
    return loss.item()


def setups():
    x, y = moons()
    weights = initial_weights()
    out = {"autograph": (autograph_step, (
        scalar_mlp(weights, lambda v: ag.tensor(np.float64(v), requires_grad=True)),
        [[ag.tensor(np.float64(v)) for v in row] for row in x], [float(v) for v in y]))}
    if Value is not None:
        out["micrograd"] = (micrograd_step, (
            scalar_mlp(weights, lambda v: Value(float(v))),
            [[Value(float(v)) for v in row] for row in x], [float(v) for v in y]))
    if torch is not None:
        out["torch (0-d tensors)"] = (torch_step, (
            scalar_mlp(weights, lambda v: torch.tensor(float(v), dtype=torch.float64,
                                                       requires_grad=True)),
            [[torch.tensor(float(v), dtype=torch.float64) for v in row] for row in x],
            [float(v) for v in y]))
    return out


def train(step, state, collect, steps):
    """A warm-up step, then ``steps`` timed steps: (losses, median seconds a step)."""
    gc.collect()                         # start clean: no garbage left by another variant
    gc.enable() if collect else gc.disable()
    losses, times = [], []
    for k in range(steps + 1):
        start = time.process_time()
        losses.append(step(state, 1.0 - 0.9 * k / 100))
        times.append(time.process_time() - start)
    gc.enable()
    return losses, statistics.median(times[1:])


def main(rounds=5):
    variants = {name: (step, state, True) for name, (step, state) in setups().items()}
    if "micrograd" in variants:
        variants["micrograd, gc off"] = (micrograd_step, setups()["micrograd"][1], False)
    results = {name: train(step, state, collect, rounds)
               for name, (step, state, collect) in variants.items()}
    ref = results["autograph"][0]
    for name, (losses, _) in results.items():
        if not np.allclose(losses, ref, rtol=1e-9):
            raise SystemExit("%s computed different losses: %s vs %s" % (name, losses, ref))
    x, y = moons()
    layers = scalar_mlp(initial_weights(), lambda v: ag.tensor(np.float64(v), requires_grad=True))
    loss, _ = loss_of(layers, [[ag.tensor(np.float64(v)) for v in r] for r in x], y, ag.relu)
    print("MLP %s on %d points: %d graph nodes a step; median of %d steps, garbage collector on "
          "unless said" % ("-".join(map(str, SIZES)), len(x), len(graph_nodes([loss], constants=True)),
                           rounds))
    base = results["autograph"][1]
    for name, (_, sec) in results.items():
        print("  %-20s %7.3f s/step  (%.2fx autograph)" % (name, sec, sec / base))


if __name__ == "__main__":
    main()
