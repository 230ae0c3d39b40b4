"""micrograd's demo as a benchmark: an MLP 2 -> 16 -> 16 -> 1 trained on 100 two-moons points,
written with scalar (0-d) tensors as micrograd writes it: about 66,000 graph nodes a step.

A step is the forward pass over all points, the max-margin loss with L2 regularisation,
backward, and an SGD update. Python's garbage collector stays ON (its default), as in a user's
program: micrograd's graphs are reference cycles that only the collector frees, autograph's are
freed by reference counting. Every implementation starts from the same weights and data, and
the script checks they compute the same losses before timing.

    PYTHONPATH=. python benchmarks/scalar_mlp.py            # micrograd and torch when importable

Figures are seconds per step: the median of the timed steps, after one warm-up step.
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


def time_steps(step, state, steps):
    losses, times = [], []
    for k in range(steps + 1):             # step 0 is the warm-up
        lr = 1.0 - 0.9 * k / 100
        start = time.perf_counter()
        losses.append(step(state, lr))
        times.append(time.perf_counter() - start)
    return losses, statistics.median(times[1:])


def main():
    steps = {"autograph": 10, "micrograd": 3, "torch (0-d tensors)": 3}
    results = {}
    for name, (step, state) in setups().items():
        gc.enable()
        results[name] = time_steps(step, state, steps[name])
    ref = results["autograph"][0]
    for name, (losses, _) in results.items():
        n = len(losses)
        if not np.allclose(losses, ref[:n], rtol=1e-9):
            raise SystemExit("%s computed different losses: %s vs %s" % (name, losses, ref[:n]))
    x, y = moons()
    layers = scalar_mlp(initial_weights(), lambda v: ag.tensor(np.float64(v), requires_grad=True))
    loss, _ = loss_of(layers, [[ag.tensor(np.float64(v)) for v in r] for r in x], y, ag.relu)
    from autograph.forward import graph_nodes
    print("MLP %s on %d points: %d graph nodes a step, garbage collector on"
          % ("-".join(map(str, SIZES)), len(x), len(graph_nodes([loss], constants=True))))
    base = results["autograph"][1]
    for name, (losses, sec) in results.items():
        print("  %-20s %7.3f s/step  (%.1fx autograph)" % (name, sec, sec / base))
    if Value is not None:
        gc.disable()
        _, sec = time_steps(micrograd_step, setups()["micrograd"][1], steps["micrograd"])
        gc.enable()
        print("  %-20s %7.3f s/step  (%.1fx autograph)" % ("micrograd, gc off", sec, sec / base))


if __name__ == "__main__":
    main()
