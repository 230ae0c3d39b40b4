"""Time to draw an unrolled LSTM: DOT text, and SVG through Graphviz.

    python benchmarks/render.py            # T = 50, 200, 500, 1000, and everything drawn
    python benchmarks/render.py --quick    # T = 50 only

The network is nets.LSTM(8, 16) with a nets.Linear head and a mean squared error, batch 2. Each
T is drawn twice: with the default options, and one box per time step (``collapse=1``). The
reference, measured in the same process, is one forward and backward pass of the same network
(what the picture is a picture of); the ratio says how many training steps a picture costs.
Targets: the SVG of either picture under 10 s at T = 1000 on one core.
"""
import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

import autograph as ag  # noqa: E402
import nets  # noqa: E402
import viz  # noqa: E402

PICTURES = (("default", {}), ("collapse=1", {"collapse": 1}))


def lstm_model_loss(T, B=2, I=8, H=16):
    """The mean squared error of nets.LSTM(I, H) with a nets.Linear head, batch B, over T steps
    (also the model of tests/test_viz_long.py)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    y = rng.standard_normal((T, B, 1)).astype(np.float32)
    ag.manual_seed(0)
    out, _ = nets.LSTM(I, H)(x)
    return nets.mse_loss(nets.Linear(H, 1)(out), ag.tensor(y))


def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = (50,) if args.quick else (50, 200, 500, 1000)
    out = tempfile.mkdtemp()
    print("%-6s %-11s %-8s %-7s %-10s %-9s %-9s %s" % (
        "T", "picture", "nodes", "drawn", "train step", "DOT text", "SVG", "SVG / train step"))
    for T in sizes:
        ref = best(lambda: lstm_model_loss(T).backward())
        loss = lstm_model_loss(T)
        for name, options in PICTURES:
            pic = viz.picture(loss, **options)
            text = best(lambda: viz.picture(loss, **options), repeat=2)
            path = os.path.join(out, "lstm%d.svg" % T)
            svg = best(lambda: viz.render(loss, path, **options), repeat=1)
            print("%-6d %-11s %-8d %-7d %-10s %-9s %-9s %.0fx" % (
                T, name, len(pic.graph), len(pic.layout.items), "%.3f s" % ref, "%.2f s" % text,
                "%.2f s" % svg, svg / ref), flush=True)
    if not args.quick:
        loss = lstm_model_loss(290)
        pic = viz.picture(loss, max_nodes=None)
        text = best(lambda: viz.picture(loss, max_nodes=None), repeat=1)
        svg = best(lambda: viz.render(loss, os.path.join(out, "full.svg"), max_nodes=None), repeat=1)
        print("T=290, everything drawn (max_nodes=None): %d nodes, DOT text %.2f s, SVG %.2f s"
              % (len(pic.layout.items), text, svg))
    print("dot:", os.popen("dot -V 2>&1").read().strip())


if __name__ == "__main__":
    main()
