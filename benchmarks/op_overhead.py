"""The engine's cost per op: dispatch (make the output, record the node) plus one step of the
backward loop, on arrays so small that numpy's own work is negligible.

  chain     100 ops of add/mul/tanh on a (4, 4) float64 tensor, forward + backward, µs per op
  numpy     the same 100 ops as raw numpy forward (no graph), µs per op: the floor
  deep      a 100,000-op 0-d chain: the backward alone, in seconds, under a recursion limit of 300
  torch     the chain in torch eager, when torch is importable

    PYTHONPATH=. python benchmarks/op_overhead.py

Times are CPU time of this process (one thread), which a busy machine disturbs less than wall
time. Each figure is the best of nine runs of at least 0.1 s; the variants take turns run by run, so
that a busy machine slows them alike (the ratios are the figures to compare). The deep chain's
backward is the best of five.
"""
from common import seconds_per_call, torch  # first: one BLAS thread before numpy loads

import sys
import time

import numpy as np

import autograph as ag

OPS = 100          # per chain: 34 add, 33 mul, 33 tanh
DEEP = 100_000


def chain(x, c, tanh):
    """y = tanh(y * c + c), repeated: add, mul and tanh in turn."""
    y = x
    for k in range(OPS):
        if k % 3 == 0:
            y = y + c
        elif k % 3 == 1:
            y = y * c
        else:
            y = tanh(y)
    return y


def best_of(variants, rounds=9):
    """Best seconds per call of each variant; the variants take turns, so that they see the
    same machine load, round after round."""
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(rounds):
        for name, fn in variants.items():
            best[name] = min(best[name], seconds_per_call(fn))
    return best


def autograph_step():
    x = ag.tensor(X, requires_grad=True)
    chain(x, C, ag.tanh).sum().backward()


def numpy_forward():
    chain(X, C, np.tanh)


def torch_step():
    x = torch.tensor(X, requires_grad=True)
    chain(x, C_TORCH, torch.tanh).sum().backward()


def deep_backward():
    """Seconds for backward through a DEEP-op chain of 0-d tensors (forward not timed)."""
    x = ag.tensor(np.float64(0.5), requires_grad=True)
    y = x
    for _ in range(DEEP):
        y = y * 1.0
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(300)
    try:
        start = time.process_time()
        y.backward()
        return time.process_time() - start
    finally:
        sys.setrecursionlimit(limit)


rng = np.random.default_rng(0)
X = rng.standard_normal((4, 4))
C = 0.9
C_TORCH = 0.9


def main():
    variants = {"autograph fwd+bwd": autograph_step, "numpy forward": numpy_forward}
    if torch is not None:
        variants["torch eager fwd+bwd"] = torch_step
    best = best_of(variants)
    print("%d-op chain of add/mul/tanh on a (4, 4) float64 tensor" % OPS)
    for name, sec in best.items():
        print("  %-22s %6.2f µs/op" % (name, sec / OPS * 1e6))
    print("  autograph / numpy forward: %.1fx" % (best["autograph fwd+bwd"] / best["numpy forward"]))
    if torch is not None:
        print("  autograph / torch: %.2fx" % (best["autograph fwd+bwd"] / best["torch eager fwd+bwd"]))
    deep = min(deep_backward() for _ in range(5))
    print("%d-op 0-d chain, backward only (recursion limit 300): %.3f s" % (DEEP, deep))


if __name__ == "__main__":
    main()
