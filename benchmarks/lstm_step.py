"""One LSTM training step (forward over the whole sequence, backward to every weight), float32,
one BLAS thread, for nets.LSTM and the references measured in the same run:

  numpy        a hand-written numpy forward + BPTT: the floor any numpy-based engine can reach
  autograph    nets.LSTM (the library's layer)
  ag kept      nets.LSTM with keep_values = True (every intermediate value kept)
  ag composed  the same step written directly from autograph ops (engine cost without the layer)
  torch fused  torch.nn.LSTM                       } when torch is importable
  torch comp.  a torch loop of elementary ops      }

Every variant back-propagates the same fixed random gradient G of the output (the gradient of
the loss sum(output * G)), passed to backward as torch's ``out.backward(G)``. Before timing, all
variants are checked to compute the same gradients.

    python benchmarks/lstm_step.py                        # numpy and autograph variants
    /path/to/python-with-torch benchmarks/lstm_step.py    # and the torch ones
    options: --no-memory (skip the memory runs), --wall, --profile (where nets.LSTM's time goes)

Each variant runs in a fresh process (see time_child), which imports torch only for the torch
variants: a loaded torch gives the garbage collector its many objects to walk in every full
collection, which an autograph user's process does not have. The variants take turns, five
rounds of one fresh process each, and a time is the median of a variant's five; in a process,
a run repeats the step for at least 0.2 s and reports the mean per step, after one such run
as a warm-up. The clock is the process's CPU time (user + system, so page faults count): on a
machine shared with other work it is what one idle core would give; ``--wall`` uses the wall
clock instead. Peak memory is the peak resident set during one step above the resident set just before
it (Linux: VmHWM reset through clear_refs, after glibc's malloc_trim), and the peak of what the
step allocated (tracemalloc), which leaves out memory the allocator keeps after it was freed.
"""
from common import seconds_per_call, torch   # first: one BLAS thread, the repository on the path

import argparse
import collections
import ctypes
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc

import numpy as np

import autograph as ag
import nets
from autograph.graph import walk

SIZES = [(50, 32, 64, 128), (50, 32, 256, 256), (200, 16, 32, 64), (20, 1, 8, 16)]
MEMORY_SIZE = (1000, 32, 64, 128)
ROUNDS = 5                  # the variants take turns this many times


def problem(T, B, I, H, dtype, seed=0):
    """PyTorch-layout weights (gate order i, f, g, o), an input and the output gradient G."""
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(H)
    w = {name: rng.uniform(-k, k, shape).astype(dtype) for name, shape in [
        ("weight_ih_l0", (4 * H, I)), ("weight_hh_l0", (4 * H, H)),
        ("bias_ih_l0", (4 * H,)), ("bias_hh_l0", (4 * H,))]}
    x = rng.standard_normal((T, B, I)).astype(dtype)
    G = rng.standard_normal((T, B, H)).astype(dtype)
    return w, x, G


# -- the floor: numpy forward and backpropagation through time -------------------------------
def _sigmoid(a, out):
    np.negative(a, out=out)
    np.exp(out, out=out)
    out += 1
    np.reciprocal(out, out=out)


def numpy_step(w, x, G):
    """Forward over the sequence and BPTT to the four weights; returns their gradients."""
    W_ih, W_hh = w["weight_ih_l0"], w["weight_hh_l0"]
    T, B, _ = x.shape
    H = W_hh.shape[1]
    dtype = x.dtype
    b = w["bias_ih_l0"] + w["bias_hh_l0"]
    gates = (x.reshape(T * B, -1) @ W_ih.T + b).reshape(T, B, 4 * H)
    hs = np.zeros((T + 1, B, H), dtype)      # hs[t] is the state before step t
    cs = np.zeros((T + 1, B, H), dtype)
    tcs = np.empty((T, B, H), dtype)
    for t in range(T):
        a = gates[t]
        a += hs[t] @ W_hh.T
        _sigmoid(a[:, :2 * H], a[:, :2 * H])
        np.tanh(a[:, 2 * H:3 * H], out=a[:, 2 * H:3 * H])
        _sigmoid(a[:, 3 * H:], a[:, 3 * H:])
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        np.multiply(f, cs[t], out=cs[t + 1])
        cs[t + 1] += i * g
        np.tanh(cs[t + 1], out=tcs[t])
        np.multiply(o, tcs[t], out=hs[t + 1])
    dgates = np.empty_like(gates)
    dh = np.zeros((B, H), dtype)
    dc = np.zeros((B, H), dtype)
    for t in range(T - 1, -1, -1):
        a = gates[t]
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        dh += G[t]
        dc += dh * o * (1 - tcs[t] * tcs[t])
        d = dgates[t]
        d[:, :H] = dc * g * i * (1 - i)
        d[:, H:2 * H] = dc * cs[t] * f * (1 - f)
        d[:, 2 * H:3 * H] = dc * i * (1 - g * g)
        d[:, 3 * H:] = dh * tcs[t] * o * (1 - o)
        dc *= f
        dh = d @ W_hh
    d2 = dgates.reshape(T * B, 4 * H)
    db = d2.sum(0)
    return {"weight_ih_l0": d2.T @ x.reshape(T * B, -1),
            "weight_hh_l0": d2.T @ hs[:T].reshape(T * B, H),
            "bias_ih_l0": db, "bias_hh_l0": db}


# -- the variants: each returns (step, gradients of the weights after a step) ----------------
def make_numpy(w, x, G):
    out = {}
    return (lambda: out.update(numpy_step(w, x, G))), lambda: out


def make_autograph(w, x, G, keep_values=False):
    T, B, I = x.shape
    layer = nets.LSTM(I, w["weight_hh_l0"].shape[1]).to(x.dtype)
    layer.load_state_dict(w)
    layer.keep_values = keep_values
    xt = ag.tensor(x)

    def step():
        layer.zero_grad()
        out, _ = layer(xt)
        out.backward(G)
    return step, lambda: {k: p.grad.data for k, p in layer.named_parameters()}


def make_ag_composed(w, x, G):
    params = {k: nets.Parameter(v.copy()) for k, v in w.items()}
    W_ih, W_hh, b_ih, b_hh = params.values()
    T, B, I = x.shape
    H = W_hh.shape[1]
    xt = ag.tensor(x)

    def step():
        for p in params.values():
            p.grad = None
        xw = (xt.reshape(T * B, I) @ W_ih.T + (b_ih + b_hh)).reshape(T, B, 4 * H)
        W = W_hh.T
        h = c = ag.zeros(B, H, dtype=x.dtype)
        hs = []
        for t in range(T):
            i, f, g, o = ag.split(xw[t] + h @ W, 4, axis=1)
            c = ag.sigmoid(f) * c + ag.sigmoid(i) * ag.tanh(g)
            h = ag.sigmoid(o) * ag.tanh(c)
            hs.append(h)
        ag.stack(hs).backward(G)
    return step, lambda: {k: p.grad.data for k, p in params.items()}


def make_torch_fused(w, x, G):
    T, B, I = x.shape
    dt = torch.float64 if x.dtype == np.float64 else torch.float32
    layer = torch.nn.LSTM(I, w["weight_hh_l0"].shape[1]).to(dt)
    layer.load_state_dict({k: torch.from_numpy(v) for k, v in w.items()})
    xt, Gt = torch.from_numpy(x), torch.from_numpy(G)

    def step():
        layer.zero_grad(set_to_none=True)
        out, _ = layer(xt)
        out.backward(Gt)
    return step, lambda: {k: p.grad.numpy() for k, p in layer.named_parameters()}


def make_torch_composed(w, x, G):
    params = {k: torch.tensor(v, requires_grad=True) for k, v in w.items()}
    W_ih, W_hh, b_ih, b_hh = params.values()
    T, B, I = x.shape
    xt, Gt = torch.from_numpy(x), torch.from_numpy(G)

    def step():
        for p in params.values():
            p.grad = None
        xw = xt @ W_ih.T + (b_ih + b_hh)
        W = W_hh.T
        h = c = torch.zeros(B, W_hh.shape[1], dtype=xt.dtype)
        hs = []
        for t in range(T):
            i, f, g, o = (xw[t] + h @ W).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            hs.append(h)
        torch.stack(hs).backward(Gt)
    return step, lambda: {k: p.grad.numpy() for k, p in params.items()}


VARIANTS = {"numpy": make_numpy, "autograph": make_autograph,
            "ag kept": lambda w, x, G: make_autograph(w, x, G, keep_values=True),
            "ag composed": make_ag_composed}
if torch is not None:
    VARIANTS.update({"torch fused": make_torch_fused, "torch comp.": make_torch_composed})


def check_agreement():
    """Every variant computes the numpy floor's gradients (float64, a small problem)."""
    w, x, G = problem(7, 3, 5, 6, np.float64, seed=1)
    ref = numpy_step(w, x, G)
    for name, make in VARIANTS.items():
        step, grads = make(w, x, G)
        step()
        for k, g in grads().items():
            np.testing.assert_allclose(g, ref[k], rtol=1e-9, atol=1e-12,
                                       err_msg="%s: %s" % (name, k))


# -- each variant in its own process ----------------------------------------------------------
# glibc's malloc adapts its thresholds to the sizes freed before, so one variant's allocations
# would change the cost of the next one's; a fresh process per variant measures each as a user's
# training script would run it.
def time_child(name, wall, min_time=0.2):
    """ms per step at each size: one run (the mean over at least ``min_time``) after a warm-up
    run."""
    clock = time.perf_counter if wall else time.process_time
    out = []
    for size in SIZES:
        step = VARIANTS[name](*problem(*size, np.float32))[0]
        seconds_per_call(step, min_time, clock)
        out.append(seconds_per_call(step, min_time, clock) * 1e3)
    return out


def _status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError("no %s in /proc/self/status" % field)


def memory_child(name):
    """MiB: the peak resident set during one step at MEMORY_SIZE, above the one just before."""
    step = VARIANTS[name](*problem(*MEMORY_SIZE, np.float32))[0]
    # hand the heap's free memory back first: what setting up the problem freed (its float64
    # draws) would otherwise serve some of the step's arrays without raising the resident set,
    # more for some variants than for others
    ctypes.CDLL(None).malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")                         # reset the peak (VmHWM) to the current RSS
    base = _status("VmRSS")
    step()
    return (_status("VmHWM") - base) / 2 ** 20


def arrays_child(name):
    """MiB: the peak of memory allocated by numpy and Python during one step at MEMORY_SIZE
    (tracemalloc): what the step keeps alive, whatever the allocator does with freed memory."""
    step = VARIANTS[name](*problem(*MEMORY_SIZE, np.float32))[0]
    tracemalloc.start()
    step()
    return tracemalloc.get_traced_memory()[1] / 2 ** 20


def in_child(kind, name, wall=False):
    """Run one variant in a fresh process; torch is imported there only for the torch ones."""
    command = [sys.executable, os.path.abspath(__file__), "--child", kind, name]
    env = dict(os.environ, **({} if name.startswith("torch") else {"BENCH_WITHOUT_TORCH": "1"}))
    out = subprocess.run(command + (["--wall"] if wall else []), capture_output=True, text=True,
                         env=env)
    if out.returncode:
        raise RuntimeError("%s run of %s failed:\n%s" % (kind, name, out.stderr))
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- where the time goes: --profile ----------------------------------------------------------
class _Timed:
    """Rules of one primitive, each call's time added to ``totals[(name, phase)]``."""

    def __init__(self, rules, name, phase, totals):
        self.rules, self.key, self.totals = rules, (name, phase), totals

    def __getitem__(self, i):
        return self.wrap(self.rules[i])

    def wrap(self, fn):
        def timed(*args, **kw):
            start = time.process_time()
            out = fn(*args, **kw)
            self.totals[self.key] += time.process_time() - start
            return out
        return timed


def profile(size, repeats=5):
    """nets.LSTM at ``size``: graph nodes per time step by op, and the CPU time of the step
    split into numpy work per op (forward and vjp) and the engine's own bookkeeping, with the
    minor page faults (fresh memory the kernel had to map) per step."""
    T = size[0]
    w, x, G = problem(*size, np.float32)
    layer = nets.LSTM(size[2], size[3])
    layer.load_state_dict(w)
    xt = ag.tensor(x)
    out, _ = layer(xt)
    nodes = collections.Counter(t.op_name for t in walk([out]) if not t.is_leaf)
    totals = collections.defaultdict(float)
    for op in ag.TABLE.values():
        op.forward = _Timed(None, op.name, "forward", totals).wrap(op.forward)
        op.vjp = _Timed(op.vjp, op.name, "vjp", totals)
        if op.joint is not None:
            op.joint = _Timed(op.joint, op.name, "vjp", totals)
    # adding contributions into a node's gradient (sparse slices included) is numpy work too
    from autograph import backward, primitives
    backward._accumulate = _Timed(None, "(accumulate)", "vjp", totals).wrap(backward._accumulate)
    for lazy in primitives.Lazy.__subclasses__():     # gradients made dense when reached
        lazy.dense = _Timed(None, "(accumulate)", "vjp", totals).wrap(lazy.dense)
    phase = collections.defaultdict(float)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(repeats):
        layer.zero_grad()
        start = time.process_time()
        out = layer(xt)[0]
        middle = time.process_time()
        out.backward(G)
        phase["forward"] += middle - start
        phase["backward"] += time.process_time() - middle
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / repeats
    print("nets.LSTM %s: %d graph nodes, %.1f per time step" % (
        size, sum(nodes.values()), sum(nodes.values()) / T))
    print("| op | nodes / step | forward ms | vjp ms |")
    print("|---|---|---|---|")
    for name, n in nodes.most_common() + [("(accumulate)", 0)]:
        print("| %s | %.2f | %.2f | %.2f |" % (name, n / T, totals[name, "forward"] / repeats * 1e3,
                                             totals[name, "vjp"] / repeats * 1e3))
    for p in ("forward", "vjp"):
        ops = sum(v for (_, q), v in totals.items() if q == p) / repeats
        whole = phase["forward" if p == "forward" else "backward"] / repeats
        print("%s: %.2f ms, of which numpy in the ops %.2f ms, engine bookkeeping %.2f ms"
              % ("forward" if p == "forward" else "backward", whole * 1e3, ops * 1e3,
                 (whole - ops) * 1e3))
    print("minor page faults per step: %.0f (%.0f MiB of freshly mapped memory)"
          % (faults, faults * resource.getpagesize() / 2 ** 20))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-memory", action="store_true", help="skip the memory runs")
    parser.add_argument("--wall", action="store_true",
                        help="time by the wall clock instead of the process's CPU time")
    parser.add_argument("--profile", action="store_true",
                        help="instead: where nets.LSTM's time goes, op by op, at the first size")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, name = args.child
        child = {"time": lambda: time_child(name, args.wall), "memory": lambda: memory_child(name),
                 "arrays": lambda: arrays_child(name)}[kind]
        print(json.dumps(child()))
        return
    if args.profile:
        profile(SIZES[0])
        return
    check_agreement()
    names = list(VARIANTS)
    # the variants take turns, a fresh process each, so that a change in the machine's load
    # during the benchmark reaches all of them alike; each one's median over the rounds
    rounds = [{name: in_child("time", name, args.wall) for name in names} for _ in range(ROUNDS)]
    ms = {name: [statistics.median(r[name][k] for r in rounds) for k in range(len(SIZES))]
          for name in names}
    print("one LSTM training step, float32, 1 thread, %s ms (median of %d rounds); %s"
          % ("wall-clock" if args.wall else "CPU", ROUNDS, "torch %s" % torch.__version__
             if torch else "torch not installed"))
    print("| (T, B, I, H) | %s | autograph / numpy | autograph / torch comp. |"
          % " | ".join(names))
    print("|---" * (len(names) + 3) + "|")
    for k, size in enumerate(SIZES):
        vs_torch = "%.2f" % (ms["autograph"][k] / ms["torch comp."][k]) if torch else "-"
        print("| %s | %s | %.2f | %s |" % (size, " | ".join("%.2f" % ms[n][k] for n in names),
                                           ms["autograph"][k] / ms["numpy"][k], vs_torch))
    if not args.no_memory:
        print("\npeak memory of one step above the baseline, (T, B, I, H) = %s, MiB"
              % (MEMORY_SIZE,))
        print("| | " + " | ".join(names) + " | autograph / numpy |")
        print("|---" * (len(names) + 2) + "|")
        for kind, what in (("memory", "resident set"), ("arrays", "allocated (tracemalloc)")):
            # tracemalloc sees numpy's allocations, not those of torch's own allocator
            mib = {name: in_child(kind, name) for name in names
                   if kind == "memory" or not name.startswith("torch")}
            print("| %s | " % what + " | ".join("%.0f" % mib[n] if n in mib else "-" for n in names)
                  + " | %.2f |" % (mib["autograph"] / mib["numpy"]))


if __name__ == "__main__":
    main()
