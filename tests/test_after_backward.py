"""micrograd's flow, and torchviz's: backward first, then draw, list, explain, step and play.

After ``backward()`` the graph's structure stays; a value goes only if it is large and nothing
but the graph holds it. A small graph therefore shows after backward exactly what it showed
before, gradients included; a large one still draws, with its leaves' ``.grad``; and a second
``backward()`` without ``retain_graph`` still raises.
"""
import shutil

import numpy as np
import pytest

import autograph as ag
import nets
import viz
from autograph import debug

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")


def example1():
    a = ag.tensor(2.0, requires_grad=True, name="a")
    b = ag.tensor(1.0, requires_grad=True, name="b")
    e = (a + b) * (b + 1)
    e.name = "e"
    return a, b, e


def small_lstm(H=16, B=2):
    lstm = nets.LSTM(8, H, rng=0)
    head = nets.Linear(H, 1, rng=1)
    x = ag.tensor(np.random.default_rng(2).standard_normal((5, B, 8)), dtype=ag.float32)
    out, _ = lstm(x)
    loss = (head(out) ** 2).mean()
    loss.name = "loss"
    return loss, lstm, lstm.parameters() + head.parameters()


def everything(loss, wrt, tmp_path, tag):
    """What a user looks at: the picture with gradients, the listing, explain, the stepper's
    steps, the player page."""
    pic = viz.picture(loss, color_by="grad").dot
    text = viz.to_text(loss)
    why = debug.explain(loss, wrt)
    steps = [(s.id, s.op, np.asarray(s.grad_out).tolist()) for s in
             debug.step_backward(loss, retain_graph=True)]
    page = viz.export_player(loss, tmp_path / ("%s.html" % tag)).read_text(encoding="utf-8") \
        if shutil.which("dot") else None
    return pic, text, why, steps, page


@pytest.mark.parametrize("make", ["example1", "lstm"])
def test_after_backward_everything_shows_what_it_showed_before(make, tmp_path):
    if make == "example1":
        a, b, loss = example1()
        wrt, params = b, [a, b]
    else:
        loss, _, params = small_lstm()
        wrt = params[1]
    before = everything(loss, wrt, tmp_path, "before")
    for p in params:
        p.grad = None
    loss.backward()
    grads = [p.grad.numpy().copy() for p in params]
    after = everything(loss, wrt, tmp_path, "after")
    assert after == before
    # looking again touched no .grad; a second backward still raises
    assert all(np.array_equal(p.grad.numpy(), g) for p, g in zip(params, grads))
    with pytest.raises(ag.AutogradError, match="already freed by an earlier backward"):
        loss.backward()


@needs_dot
def test_a_large_graph_after_backward_draws_with_its_leaves_gradients(tmp_path):
    loss, lstm, _ = small_lstm(H=64, B=32)          # (32, 256) gates: values freed by backward
    loss.backward()
    released = [n for n in ag.graph.walk([loss]) if n.released]
    assert released                              # the memory went, the structure stayed
    w = lstm.weight_hh_l0
    dot = viz.picture(loss, color_by="grad", show=("name", "shape", "grad")).dot
    assert "weight_hh_l0" in dot and ".grad" in dot
    assert "‖·‖ %s" % viz.calculus.fmt(np.linalg.norm(w.grad.numpy())) in dot
    viz.render(loss, tmp_path / "after.svg", collapse=1)
    assert (tmp_path / "after.svg").read_text().startswith("<?xml")
    with pytest.raises(ag.AutogradError, match="released after an earlier backward"):
        debug.explain(loss, w)


def test_the_values_a_user_holds_survive_backward():
    lstm = nets.LSTM(16, 64, rng=0)
    x = ag.tensor(np.ones((4, 32, 16)), dtype=ag.float32)
    out, (h, c) = lstm(x)
    want = out.numpy().copy(), h.numpy().copy()
    (out * out).sum().backward()
    assert not out.released and not h.released
    np.testing.assert_array_equal(out.numpy(), want[0])
    np.testing.assert_array_equal(h.numpy(), want[1])
