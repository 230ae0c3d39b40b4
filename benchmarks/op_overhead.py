"""The engine's cost per op: dispatch (make the output, record the node) plus one step of the
backward loop, on arrays so small that numpy's own work is negligible.

  chain     100 ops of add/mul/tanh on a (4, 4) float64 tensor, forward + backward, µs per op
  numpy     the same 100 ops as raw numpy forward (no graph), µs per op: the floor
  deep      a 100,000-op 0-d chain: the backward alone, in seconds, under a recursion limit of 300
  torch     the chain in torch eager, when torch is importable

    PYTHONPATH=. python benchmarks/op_overhead.py

Each figure is the best of five runs; a run repeats its work for at least 0.2 s.
"""
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import sys    # noqa: E402
import time   # noqa: E402

import numpy as np   # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import autograph as ag   # noqa: E402

try:
    import torch
    torch.set_num_threads(1)
except ImportError:
    torch = None

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


def per_run(fn, runs=5, min_time=0.2):
    """Best-of-``runs`` seconds per call of ``fn``."""
    best = float("inf")
    for _ in range(runs):
        n, start = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        best = min(best, elapsed / n)
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
        start = time.perf_counter()
        y.backward()
        return time.perf_counter() - start
    finally:
        sys.setrecursionlimit(limit)


rng = np.random.default_rng(0)
X = rng.standard_normal((4, 4))
C = 0.9
C_TORCH = 0.9


def main():
    rows = [("autograph fwd+bwd", per_run(autograph_step)),
            ("numpy forward", per_run(numpy_forward))]
    if torch is not None:
        rows.append(("torch eager fwd+bwd", per_run(torch_step)))
    print("%d-op chain of add/mul/tanh on a (4, 4) float64 tensor" % OPS)
    for name, sec in rows:
        print("  %-22s %6.2f µs/op" % (name, sec / OPS * 1e6))
    ratio = rows[0][1] / rows[1][1]
    print("  autograph / numpy forward: %.1fx" % ratio)
    deep = min(deep_backward() for _ in range(3))
    print("%d-op 0-d chain, backward only (recursion limit 300): %.3f s" % (DEEP, deep))


if __name__ == "__main__":
    main()
