"""The `autograph` command: the chapter's part-of-speech tagger trained and drawn, and the
graph of any script's variable rendered or stepped through.

This is the one module that imports autograph, nets and viz together. The tagger and its data
live here so that `examples/05_applications.py` reuses them instead of copying them.
"""
import argparse
import collections
import os
import runpy
import sys
import time
import traceback

import numpy as np
from tqdm import tqdm

import autograph as ag
import nets

# The chapter's two sentences first; the rest make the rule learnable: a word after a verb
# (爱, 喜欢) is a noun, the same word after 在 + place is a verb. 购物 is n in the first
# sentence and v in the second, and only the words before it tell which.
SENTENCES = [
    "我/n 爱/v 购物/n",
    "我/n 在/pre 华联/n 购物/v",
    "他/n 喜欢/v 学习/n",
    "他/n 在/pre 学校/n 学习/v",
    "她/n 爱/v 工作/n",
    "她/n 在/pre 北京/n 工作/v",
    "你/n 喜欢/v 购物/n",
    "你/n 在/pre 超市/n 购物/v",
    "我们/n 爱/v 学习/n",
    "我们/n 在/pre 图书馆/n 学习/v",
    "他们/n 喜欢/v 工作/n",
    "他们/n 在/pre 公司/n 工作/v",
    "我/n 在/pre 学校/n 工作/v",
    "她/n 喜欢/v 华联/n",
    "他/n 在/pre 超市/n 学习/v",
    "你/n 爱/v 北京/n",
]
PAD = "<pad>"
IGNORE = -1


def parse(sentences=SENTENCES):
    """[(words, tags)] from "word/tag word/tag ..." strings."""
    return [tuple(zip(*(item.rsplit("/", 1) for item in s.split()))) for s in sentences]


class Vocab:
    """Word and tag indices for a tagged corpus; id 0 is padding."""

    def __init__(self, pairs):
        self.words = [PAD] + sorted({w for ws, _ in pairs for w in ws})
        self.tags = sorted({t for _, ts in pairs for t in ts})
        self.word_id = {w: i for i, w in enumerate(self.words)}
        self.tag_id = {t: i for i, t in enumerate(self.tags)}

    def encode(self, pairs):
        """Padded (T, B) word ids and (T, B) tag ids, IGNORE where padded."""
        T = max(len(ws) for ws, _ in pairs)
        x = np.zeros((T, len(pairs)), dtype=np.int64)
        y = np.full((T, len(pairs)), IGNORE, dtype=np.int64)
        for b, (ws, ts) in enumerate(pairs):
            x[:len(ws), b] = [self.word_id[w] for w in ws]
            y[:len(ts), b] = [self.tag_id[t] for t in ts]
        return x, y


class Tagger(nets.Module):
    """Embedding -> LSTM -> Linear: a tag score per word, from the words so far."""

    def __init__(self, n_words, n_tags, dim=8, hidden=16):
        super().__init__()
        self.embed = nets.Embedding(n_words, dim)
        self.lstm = nets.LSTM(dim, hidden)
        self.out = nets.Linear(hidden, n_tags)
        for name, p in self.named_parameters():
            p.name = name          # so that pictures and the debugger say which weight

    def forward(self, x):
        h, _ = self.lstm(self.embed(x))
        return self.out(h)


def sequence_loss(model, x, y):
    """Mean cross-entropy over every real (unpadded) word of a (T, B) batch."""
    logits = model(x)
    return nets.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                              ignore_index=IGNORE)


class Progress:
    """A training loop's progress and its running loss (the mean of the last ``window`` steps).

    On a terminal, tqdm's bar, redrawn in place. Anywhere else (a pipe, a log file, CI) a
    plain line at each ``1/lines`` of the run, so that a log holds a few readable lines rather
    than one line redrawn at every step.

        with Progress(steps, "training") as progress:
            for step in range(steps):
                ...
                progress.update(loss.item())
    """

    def __init__(self, total, desc, unit="step", file=None, lines=5, window=20):
        self.total, self.desc, self.unit, self.file = total, desc, unit, file or sys.stdout
        self.every = max(1, total // lines)
        self.recent = collections.deque(maxlen=window)
        self.step, self.start = 0, time.perf_counter()
        on_terminal = getattr(self.file, "isatty", lambda: False)()
        self.bar = tqdm(total=total, desc=desc, file=self.file,
                        unit=unit) if on_terminal else None

    def update(self, loss):
        """Count one step that ended with ``loss``."""
        self.step += 1
        self.recent.append(float(loss))
        running = sum(self.recent) / len(self.recent)
        if self.bar is not None:
            self.bar.set_postfix_str("loss %.4g" % running, refresh=False)
            self.bar.update()
        elif self.step % self.every == 0 or self.step == self.total:
            print("%s: %s %d/%d  loss %.4g  (%.1f s)" % (
                self.desc, self.unit, self.step, self.total, running,
                time.perf_counter() - self.start), file=self.file, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def make_tagger(seed=0):
    """A fresh tagger and the vocabulary of the built-in sentences."""
    ag.manual_seed(seed)
    vocab = Vocab(parse())
    return Tagger(len(vocab.words), len(vocab.tags)), vocab


def train_tagger(model, vocab, epochs=100, lr=0.03):
    """Full-batch Adam on every built-in sentence at once, showing its progress; returns the
    loss of each epoch."""
    x, y = vocab.encode(parse())
    opt = nets.optim.Adam(model.parameters(), lr=lr)
    losses = []
    # full batch: each epoch's loss is the loss, so the running loss is the last one
    with Progress(epochs, "  training", unit="epoch", window=1) as progress:
        for _ in range(epochs):
            opt.zero_grad()
            loss = sequence_loss(model, x, y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            progress.update(losses[-1])
    return losses


def predict(model, vocab, words):
    """The most likely tag of each word."""
    x, _ = vocab.encode([(words, ())])
    with ag.no_grad():
        logits = model(x)
    return [vocab.tags[k] for k in logits.data[:, 0].argmax(-1)]


def accuracy(model, vocab, pairs):
    right = total = 0
    for words, tags in pairs:
        right += sum(p == t for p, t in zip(predict(model, vocab, words), tags))
        total += len(tags)
    return right / total


def tagger_pictures(model, vocab, words, tags, out):
    """The recorded graph of one sentence's loss: unrolled (in full, and one box per LSTM step)
    and rolled, its gradient norm per time step, and the backward player.
    Returns [(path, what it shows)]."""
    import viz
    os.makedirs(out, exist_ok=True)
    x, y = vocab.encode([(words, tags)])
    loss = sequence_loss(model, x, y)
    loss.name = "loss"

    def path(name):
        return os.path.join(out, name)

    viz.render(loss, path("unrolled.svg"), color_by="grad")
    viz.render(loss, path("unrolled_steps.svg"), color_by="grad", collapse=1)
    viz.render(loss, path("rolled.svg"), rolled=True)
    viz.plot_grad_norms({"LSTM tagger": viz.grad_norms(loss, by="t")}, path("grad_norms.svg"))
    viz.export_player(loss, path("backprop.html"))
    return [(path("unrolled.svg"), "every op of the LSTM unrolled, coloured by gradient norm"),
            (path("unrolled_steps.svg"), "the same, one box per time step"),
            (path("rolled.svg"), "the same graph folded: one step, recurrent edges xT"),
            (path("grad_norms.svg"), "the gradient norm ||dL/dh_t|| at each time step"),
            (path("backprop.html"), "the backward pass, one node per click")]


def demo(args):
    """Train the chapter's LSTM part-of-speech tagger, draw its graph, print its tags."""
    epochs = 40 if args.quick else 100
    pairs = parse()
    print("Part-of-speech tagging with an LSTM, the chapter's running example:")
    print("%d sentences, e.g. %s  and  %s" % (len(pairs), SENTENCES[0], SENTENCES[1]))
    model, vocab = make_tagger(args.seed)
    words, tags = pairs[1]
    files = tagger_pictures(model, vocab, words, tags, args.out)
    print("\nThe graph of one training step on '%s', drawn before training:" % " ".join(words))
    for path, what in files:
        print("  %-44s %s" % (path, what))
    print("\nTraining Embedding(8) -> LSTM(16) -> Linear, cross-entropy, Adam, %d epochs:" % epochs)
    start = time.time()
    losses = train_tagger(model, vocab, epochs)
    acc = accuracy(model, vocab, pairs)
    print("Trained in %.1f s: loss %.4f, %.0f%% of the training tags right." % (
        time.time() - start, losses[-1], 100 * acc))
    print("\nTagged (购物 is a noun after 爱, a verb after 在 华联):")
    for words, _ in pairs[:4]:
        print("  " + " ".join("%s/%s" % wt for wt in zip(words, predict(model, vocab, words))))
    print("\nOpen the pictures in a web browser, e.g.  xdg-open %s  (macOS: open %s)"
          % (files[-1][0], files[-1][0]))
    return 0


def run_script(path, var):
    """Run a Python script as __main__ and return the variable it names."""
    if not os.path.isfile(path):
        raise SystemExit("autograph: no such script: %s" % path)
    saved = sys.argv
    sys.argv = [path]
    try:
        names = runpy.run_path(path, run_name="__main__")
    except Exception as err:        # the script's own error: its lines, not this command's
        frames = [f for f in traceback.extract_tb(err.__traceback__)
                  if os.path.abspath(f.filename) == os.path.abspath(path)]
        raise SystemExit("autograph: %s failed:\n%s%s: %s" % (
            path, "".join(traceback.format_list(frames)), type(err).__name__, err)) from None
    finally:
        sys.argv = saved
    if var not in names:
        public = sorted(k for k in names if not k.startswith("_"))
        raise SystemExit("autograph: %s defines no variable %r (it has: %s)"
                         % (path, var, ", ".join(public)))
    value = names[var]
    if not isinstance(value, ag.Tensor):
        raise SystemExit("autograph: %r in %s is a %s, not a Tensor"
                         % (var, path, type(value).__name__))
    if value.name is None:
        value.name = var            # so that the picture and the debugger call it by its name
    return value


def render(args):
    """Run SCRIPT.py and draw the graph of one of its variables."""
    import viz
    out = args.output or os.path.splitext(os.path.basename(args.script))[0] + "-%s.svg" % args.var
    value = run_script(args.script, args.var)
    viz.render(value, out, rolled=args.rolled, color_by=args.color_by)
    print("wrote", out)
    return 0


def debug(args):
    """Run SCRIPT.py, then step through the backward pass of one of its variables."""
    from autograph import debug as dbg
    from viz.player import render_steps
    dbg.interact(run_script(args.script, args.var), render=render_steps)
    return 0


def main(argv=None):
    ag.keep_freed_memory()      # a training process: keep freed memory for the next step
    parser = argparse.ArgumentParser(prog="autograph", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("demo", help="train the chapter's LSTM tagger and draw its graph")
    p.add_argument("--out", default="autograph-out",
                   help="folder for the pictures (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="fewer epochs")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=demo)
    p = sub.add_parser("render", help="run SCRIPT.py and draw the graph of one of its variables")
    p.add_argument("script")
    p.add_argument("--var", default="loss", help="the variable to draw (default: %(default)s)")
    p.add_argument("-o", "--output",
                   help="picture file: .svg .png .pdf .dot (default: SCRIPT-VAR.svg)")
    p.add_argument("--rolled", action="store_true", help="fold time: one step, recurrent edges xT")
    p.add_argument("--color-by", choices=["grad"], help="colour nodes by gradient norm")
    p.set_defaults(func=render)
    p = sub.add_parser("debug",
                       help="run SCRIPT.py and step through the backward pass of a variable")
    p.add_argument("script")
    p.add_argument("--var", default="loss", help="the variable to debug (default: %(default)s)")
    p.set_defaults(func=debug)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except (ag.AutogradError, OSError) as err:      # said plainly: what failed and why
        print("autograph %s: %s" % (args.command, err), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
