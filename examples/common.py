"""What every example shares: the repository on sys.path, one BLAS thread, its command line,
the training loop, a line plot.

Each example is a script (`python examples/NAME.py`); importing this module first makes
`autograph`, `nets` and `viz` importable from a clone that was not installed.
"""
import argparse
import os
import sys
from xml.sax.saxutils import escape

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# One BLAS thread unless the user chose otherwise, set before numpy loads (so every example
# imports this module first): the examples' matrices are small, and a pool of BLAS threads
# contending for the cores makes a training step many times slower (03_lstm.py took 7.5 minutes
# instead of 30 s on a two-core machine).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def parse_args(name, doc, long=None):
    """`--out DIR` (default ./autograph-out/NAME), `--small` (short runs, for the tests) and,
    when ``long`` says what it does, `--long` (a longer run than the default's minute)."""
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join("autograph-out", name),
                        help="folder for the pictures (default: %(default)s)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--small", "--quick", action="store_true",
                      help="smaller sizes and fewer steps (what the tests run)")
    if long:
        size.add_argument("--long", action="store_true", help=long)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    return args


def rename_parameters(module, names):
    """Label parameters with the chapter's symbols in pictures: ``names`` maps a state-dict
    key to its label (a module already labels each parameter with its key)."""
    for name, p in module.named_parameters():
        p.name = names.get(name, p.name)
    return module


def fit(model, batches, steps, lr, desc="    training"):
    """Adam with gradient clipping; ``batches()`` gives (x, loss function of the model's
    output). Shows the running loss as it goes; returns the loss of every step."""
    import nets
    from autograph_cli import Progress
    opt = nets.optim.Adam(model.parameters(), lr=lr)
    losses = []
    with Progress(steps, desc) as progress:
        for _ in range(steps):
            x, loss_of = batches()
            opt.zero_grad()
            loss = loss_of(model(x))
            loss.backward()
            nets.clip_grad_norm(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
            progress.update(losses[-1])
    return losses


def section(title):
    print("\n" + title + "\n" + "-" * len(title))


def write_text(path, text):
    """Write atomically: a reader never sees half a file."""
    from autograph.files import write_atomic
    write_atomic(path, text.encode("utf-8"))


def wrote(*paths):
    for path in paths:
        print("  wrote", path)


COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def ticks(lo, hi, most=6):
    """Round numbers (1, 2 or 5 times a power of ten apart) between lo and hi."""
    import numpy as np
    raw = (hi - lo) / most or 1.0
    base = 10 ** np.floor(np.log10(raw))
    step = next(m * base for m in (1, 2, 5, 10) if m * base >= raw)
    return np.round(np.arange(np.ceil(lo / step) * step, hi + 1e-9 * step, step), 10)


def plot_lines(path, series, title, xlabel="t", ylabel="", points=()):
    """A small SVG line chart: ``series`` is a list of (label, xs, ys) drawn as lines,
    ``points`` a list of (label, xs, ys) drawn as dots. numpy and hand-written SVG only."""
    import numpy as np
    W, H, L, R, T, B = 640, 320, 60, 150, 30, 40
    allx = np.concatenate([np.asarray(s[1], float) for s in list(series) + list(points)])
    ally = np.concatenate([np.asarray(s[2], float) for s in list(series) + list(points)])
    x0, x1 = allx.min(), allx.max()
    y0, y1 = ally.min(), ally.max()
    pad = 0.05 * (y1 - y0 or 1.0)
    y0, y1 = y0 - pad, y1 + pad

    def px(x):
        return L + (np.asarray(x, float) - x0) / ((x1 - x0) or 1.0) * (W - L - R)

    def py(y):
        return H - B - (np.asarray(y, float) - y0) / (y1 - y0) * (H - T - B)

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (W, H),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="18" font-size="14">%s</text>' % (L, escape(title)),
           '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, H - B, W - R, H - B),
           '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, T, L, H - B)]
    for v in ticks(y0, y1):
        out.append('<text x="%d" y="%.1f" text-anchor="end">%g</text>' % (L - 4, py(v) + 4, v))
    for v in ticks(x0, x1):
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%g</text>' % (px(v), H - B + 16, v))
    out.append('<text x="%d" y="%d" text-anchor="middle">%s</text>'
               % ((L + W - R) // 2, H - 6, escape(xlabel)))
    out.append('<text x="14" y="%d" transform="rotate(-90 14 %d)" text-anchor="middle">%s</text>'
               % ((T + H - B) // 2, (T + H - B) // 2, escape(ylabel)))
    for k, (label, xs, ys) in enumerate(list(series) + list(points)):
        color = COLORS[k % len(COLORS)]
        if k < len(series):
            pts = " ".join("%.1f,%.1f" % p for p in zip(px(xs), py(ys)))
            out.append('<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>'
                       % (color, pts))
        else:
            out.extend('<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>' % (a, b, color)
                       for a, b in zip(px(xs), py(ys)))
        ly = T + 14 + 18 * k
        out.append('<rect x="%d" y="%d" width="12" height="3" fill="%s"/>'
                   % (W - R + 10, ly - 4, color))
        out.append('<text x="%d" y="%d">%s</text>' % (W - R + 28, ly, escape(label)))
    out.append("</svg>\n")
    write_text(path, "\n".join(out))
    return path
