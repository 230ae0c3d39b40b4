"""Time to draw an unrolled LSTM: DOT text, and SVG through Graphviz, with the default options.

    python benchmarks/render.py            # T = 50, 200, 1000 and DOT text for ~10,000 nodes
    python benchmarks/render.py --quick    # T = 50 only

The reference, measured in the same process, is one forward and backward pass of the same
network (what the picture is a picture of); the ratio says how many training steps a picture
costs. Targets: SVG for T = 200 and T = 1000 under 10 s each (the node budget folds time above
1500 drawn nodes), DOT text for 10,000 drawn nodes under 1 s.
"""
import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

import autograph as ag  # noqa: E402
import nets  # noqa: E402
import viz  # noqa: E402

H, I, BATCH = 8, 4, 2


def lstm_loss(T):
    """The loss of an LSTM (H=8) over T steps: nets.LSTM when the package has it, otherwise the
    same cell written with autograph ops (tests/test_viz_models.py)."""
    x = np.random.default_rng(0).standard_normal((T, BATCH, I)).astype(np.float32)
    if hasattr(nets, "LSTM"):
        ag.manual_seed(0)
        out, _ = nets.LSTM(I, H)(x)
        return out.sum(), "nets.LSTM"
    from test_viz_models import lstm
    return lstm(T, I=I, H=H, batch=BATCH, dtype=np.float32)[0], "LSTM from autograph ops"


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
    sizes = (50,) if args.quick else (50, 200, 1000)
    out = tempfile.mkdtemp()
    print("%-6s %-8s %-9s %-10s %-9s %-9s %s" % ("T", "nodes", "drawn", "train step", "DOT text",
                                                 "SVG", "SVG / train step"))
    for T in sizes:
        def step():
            loss, _ = lstm_loss(T)
            loss.backward()
        ref = best(step)
        loss, model = lstm_loss(T)
        pic = viz.picture(loss)
        text = best(lambda: viz.picture(loss), repeat=2)
        svg = best(lambda: viz.render(loss, os.path.join(out, "lstm%d.svg" % T)), repeat=1)
        print("%-6d %-8d %-9d %-10s %-9s %-9s %.0fx" % (
            T, len(pic.graph), len(pic.layout.items), "%.3f s" % ref, "%.3f s" % text,
            "%.2f s" % svg, svg / ref))
    loss, _ = lstm_loss(290)
    pic = viz.picture(loss, max_nodes=None)
    text = best(lambda: viz.picture(loss, max_nodes=None), repeat=2)
    plain = best(lambda: viz.picture(loss, max_nodes=None, show=("name", "shape")), repeat=2)
    print("DOT text, everything drawn: %d nodes in %.3f s (%.3f s without gradients)"
          % (len(pic.layout.items), text, plain))
    if not args.quick:
        loss, _ = lstm_loss(200)
        full = best(lambda: viz.render(loss, os.path.join(out, "full.svg"), max_nodes=None), repeat=1)
        print("SVG of T=200 with everything drawn (max_nodes=None, %d nodes): %.2f s"
              % (len(viz.picture(loss, max_nodes=None).layout.items), full))
    print("model:", model, "| dot:", os.popen("dot -V 2>&1").read().strip())


if __name__ == "__main__":
    main()
