"""Section 5 of the chapter: applications.

Part-of-speech tagging (the chapter's running example, the same code as `autograph demo`), a
character-level language model trained on the opening of Alice in Wonderland that then writes
text, and forecasting a noisy sine wave, one step ahead and freely running.
"""
import os

import common

args = common.parse_args("05_applications", __doc__,
                         long="the language model trained for 4000 steps (a few minutes)")

import numpy as np  # noqa: E402  (after common, which limits BLAS to one thread)
import autograph as ag  # noqa: E402
import nets  # noqa: E402
from autograph_cli import (accuracy, make_tagger, parse, predict, tagger_pictures,  # noqa: E402
                           train_tagger)

out = args.out

common.section("Part-of-speech tagging (the chapter's running example)")
model, vocab = make_tagger()
pairs = parse()
losses = train_tagger(model, vocab, epochs=40 if args.small else 100)
acc = accuracy(model, vocab, pairs)
for words, _ in pairs[:2]:
    print("  " + " ".join("%s/%s" % wt for wt in zip(words, predict(model, vocab, words))))
print("  loss %.3f -> %.3f, %.0f%% of the training tags right" % (losses[0], losses[-1], 100 * acc))
assert acc >= 0.9, acc
for path, what in tagger_pictures(model, vocab, *pairs[1], os.path.join(out, "tagger")):
    print("  %-44s %s" % (path, what))


common.section("A character-level language model")
text = open(os.path.join(common.ROOT, "examples", "data", "alice.txt"), encoding="utf-8").read()
chars = sorted(set(text))
ids = np.array([chars.index(ch) for ch in text])
V, L, B = len(chars), (16 if args.small else 48), 16
STEPS = 120 if args.small else 4000 if args.long else 1000
rng = np.random.default_rng(0)


class CharLM(nets.Module):
    def __init__(self):
        super().__init__()
        self.embed = nets.Embedding(V, 16)
        self.lstm = nets.LSTM(16, 96)
        self.out = nets.Linear(96, V)

    def forward(self, x):
        return self.step(x)[0]

    def step(self, x, state=None):
        """Logits for every position, and the LSTM state after the last one."""
        h, state = self.lstm(self.embed(x), state)
        return self.out(h), state


def text_batch():
    starts = rng.integers(0, len(ids) - L - 1, B)
    window = np.stack([ids[s:s + L + 1] for s in starts], axis=1)     # (L + 1, B)
    return window[:-1], lambda logits: nets.cross_entropy(logits.reshape(-1, V),
                                                           window[1:].reshape(-1))


def generate(model, prompt, n, temperature=0.7):
    """Feed the prompt, then sample one character at a time, feeding each back in."""
    gen = np.random.default_rng(1)
    with ag.no_grad():
        logits, state = model.step(np.array([[chars.index(ch)] for ch in prompt]))
        result = prompt
        for _ in range(n):
            z = logits.data[-1, 0] / temperature
            p = np.exp(z - z.max())
            k = gen.choice(V, p=p / p.sum())
            result += chars[k]
            logits, state = model.step(np.array([[k]]), state)
    return result


ag.manual_seed(0)
lm = CharLM()
print("  %d characters, %d distinct; LSTM(96), windows of %d, %d steps" % (len(text), V, L, STEPS))
lm_losses = common.fit(lm, text_batch, STEPS, lr=0.01, desc="  language model")
start, end = np.mean(lm_losses[:5]), np.mean(lm_losses[-20:])
print("  cross-entropy %.2f -> %.2f nats per character (uniform guessing: ln %d = %.2f)"
      % (start, end, V, np.log(V)))
sample = generate(lm, "Alice ", 120 if args.small else 300)
print("  sample: " + sample.replace("\n", " "))
common.write_text(os.path.join(out, "generated.txt"), sample + "\n")
common.plot_lines([("training loss", np.arange(len(lm_losses)), lm_losses),
                   ("ln V (uniform)", [0, len(lm_losses) - 1], [np.log(V)] * 2)],
                  os.path.join(out, "char_lm_loss.svg"), title="Character-level LSTM language model",
                  xlabel="step", ylabel="nats per character")
assert end < 0.8 * np.log(V), (end, np.log(V))
common.wrote(os.path.join(out, "generated.txt"), os.path.join(out, "char_lm_loss.svg"))

common.section("Forecasting a noisy sine wave")
W, DT, NOISE = 24, 0.3, 0.1
n_points = 400 if args.small else 1000
signal = np.sin(DT * np.arange(n_points)) + NOISE * rng.standard_normal(n_points)
split = int(0.75 * n_points)


class Forecaster(nets.Module):
    """A GRU reads a window of the series; a linear read-out gives the next value."""

    def __init__(self):
        super().__init__()
        self.gru, self.out = nets.GRU(1, 24), nets.Linear(24, 1)

    def forward(self, x):
        h, _ = self.gru(x)
        return self.out(h[-1])


def windows(series, starts):
    x = np.stack([series[s:s + W] for s in starts], axis=1)[..., None].astype(np.float32)
    return x, series[starts + W][:, None].astype(np.float32)


def series_batch():
    x, y = windows(signal[:split], rng.integers(0, split - W - 1, 32))
    return x, lambda pred: nets.mse_loss(pred, y)


ag.manual_seed(0)
forecaster = Forecaster()
common.fit(forecaster, series_batch, 150 if args.small else 600, lr=0.01,
           desc="  forecaster")
test_starts = np.arange(split - W, n_points - W - 1)
x, y = windows(signal, test_starts)
with ag.no_grad():
    pred = forecaster(x).data
mse = float(((pred - y) ** 2).mean())
persistence = float(((x[-1] - y) ** 2).mean())
print("  one step ahead on the last quarter: MSE %.4f; repeating the last value: %.4f; "
      "noise alone: %.4f" % (mse, persistence, NOISE ** 2))
assert mse < 0.7 * persistence, (mse, persistence)
# Free running: each prediction is fed back as the next input.
history = list(signal[split - W:split])
with ag.no_grad():
    for _ in range(60):
        window = np.array(history[-W:], np.float32)[:, None, None]
        history.append(float(forecaster(window).data[0, 0]))
t = np.arange(n_points) * DT
steps = np.arange(split, split + 60)
path = os.path.join(out, "forecast.svg")
common.plot_lines([("clean sine", t[split - 60:split + 60], np.sin(t[split - 60:split + 60])),
                   ("one step ahead", t[test_starts + W][:60], pred[:60, 0]),
                   ("free running", t[steps], history[W:])], path,
                  title="GRU forecast of a noisy sine", xlabel="time",
                  points=[("observed", t[split - 60:split + 60], signal[split - 60:split + 60])])
common.wrote(path)
