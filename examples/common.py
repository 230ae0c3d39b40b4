"""What every example shares: the repository on sys.path, one BLAS thread, its command line,
the training loop, a line plot.

Each example is a script (`python examples/NAME.py`); importing this module first makes
`autograph`, `nets` and `viz` importable from a clone that was not installed.
"""
import argparse
import os
import sys

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


def plot_lines(series, path=None, *, title, xlabel="t", ylabel="", points=()):
    """A line chart as a matplotlib Figure, saved to ``path`` when given (.png .svg .pdf):
    ``series`` is a list of (label, xs, ys) drawn as lines, ``points`` a list of (label, xs, ys)
    drawn as dots."""
    from viz import figures
    what = "plot_lines"
    if path is not None:
        figures.format_of(path, what)
    fig = figures.new_figure(7.0, 3.6)
    ax = fig.add_subplot()
    drawn = [ax.plot(xs, ys, lw=1.5)[0] for _, xs, ys in series]
    drawn += [ax.plot(xs, ys, "o", ms=3)[0] for _, xs, ys in points]
    ax.set_title(figures.plain(title), loc="left", fontsize=11)
    ax.set_xlabel(figures.plain(xlabel))
    ax.set_ylabel(figures.plain(ylabel))
    ax.grid(True, color="#e0e0e0", lw=0.8)
    figures.legend(ax, drawn, [label for label, _, _ in list(series) + list(points)])
    return figures.finish(fig, path, what)
