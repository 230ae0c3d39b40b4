"""ag.compile: a traced, replayed function gives what calling the function gives (values and
every gradient, float64, to 1e-10 relative), through training steps; it traces again for a new
signature, replays new values, reaches arguments and closed-over parameters, and refuses what a
replay could not repeat."""
import copy

import numpy as np
import pytest

import autograph as ag
import nets
import viz

from test_layers import LAYERS, H, I

rng = np.random.default_rng(11)
T, B = 5, 3
# and steps made of repeated sub-steps (the loop rolled up is the outer one)
CASES = dict(LAYERS, **{"CTRNN unfolded": lambda **kw: nets.CTRNN(I, H, unfolds=2, **kw)})
SHAPES = {"one layer": {}, "stacked, bidirectional": dict(num_layers=2, bidirectional=True)}


def close(got, want, what):
    got, want = np.asarray(got), np.asarray(want)
    scale = max(np.abs(want).max(), 1e-300) if want.size else 1
    err = np.abs(got - want).max() / scale if want.size else 0
    assert got.shape == want.shape and err <= 1e-10, "%s: relative error %g" % (what, err)


def finals_of(state):
    return list(state) if isinstance(state, tuple) else [state]


def loss_of(out, state, weights):
    """A loss reading the outputs and the final states, so that gradients enter everywhere."""
    total = (out * weights[0]).sum()
    for s, w in zip(finals_of(state), weights[1:]):
        total = total + (s * w).sum()
    return total


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", CASES)
def test_compiled_training_equals_eager(name, shape):
    eager = CASES[name](rng=1, **SHAPES[shape]).double()
    compiled = copy.deepcopy(eager)
    step = ag.compile(lambda x, h: compiled(x, h))
    opt_e = nets.optim.SGD(eager.parameters(), lr=0.1, momentum=0.9)
    opt_c = nets.optim.SGD(compiled.parameters(), lr=0.1, momentum=0.9)
    out, state = eager(rng.standard_normal((T, B, I)))
    weights = [rng.standard_normal(out.shape)] + [rng.standard_normal(s.shape)
                                                  for s in finals_of(state)]
    for it in range(4):
        x = rng.standard_normal((T, B, I))
        hx = tuple(ag.tensor(rng.standard_normal(s.shape), requires_grad=True)
                   for s in finals_of(state))
        hx_c = tuple(ag.tensor(h.numpy(), requires_grad=True) for h in hx)
        results = []
        for model, opt, run, h in ((eager, opt_e, eager, hx), (compiled, opt_c, step, hx_c)):
            opt.zero_grad()
            out, state = run(ag.tensor(x), h if len(h) > 1 else h[0])
            loss = loss_of(out, state, weights)
            loss.backward()
            results.append((out, state, loss, [p.grad for p in model.parameters()], h))
            opt.step()
        (oe, se, le, ge, he), (oc, sc, lc, gc, hc) = results
        close(oc.numpy(), oe.numpy(), "step %d output" % it)
        for a, b in zip(finals_of(sc), finals_of(se)):
            close(a.numpy(), b.numpy(), "step %d final state" % it)
        close(lc.numpy(), le.numpy(), "step %d loss" % it)
        for (k, _), a, b in zip(eager.named_parameters(), gc, ge):
            close(a.numpy(), b.numpy(), "step %d grad of %s" % (it, k))
        for a, b in zip(hc, he):
            close(a.grad.numpy(), b.grad.numpy(), "step %d grad of the initial state" % it)
    assert step.traces == 1


def test_a_new_shape_traces_again_and_an_old_one_replays():
    layer = nets.LSTM(I, H, rng=2).double()
    step = ag.compile(layer)
    for t in (5, 7, 5, 7):
        x = ag.tensor(rng.standard_normal((t, B, I)))
        out, _ = step(x)
        close(out.numpy(), layer(x)[0].numpy(), "T=%d" % t)
    assert step.traces == 2
    lengths = [5, 2, 3]                 # not a tensor: by value
    step(x, lengths=lengths)
    step(x, lengths=lengths)
    step(x, lengths=[5, 5, 3])
    assert step.traces == 4
    step(ag.tensor(rng.standard_normal((7, B, I)), requires_grad=True))
    assert step.traces == 5         # requiring grad is part of the signature


def test_replays_compute_new_values_not_the_traced_ones():
    W = ag.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    f = ag.compile(lambda x: ag.tanh(x @ W) * 2.0 + 1.0)
    first = rng.standard_normal((2, 4))
    f(first)
    for _ in range(2):
        x = rng.standard_normal((2, 4))
        close(f(x).numpy(), np.tanh(x @ W.numpy()) * 2 + 1, "replay")
    with ag.no_grad():
        W.data[...] = 0.5           # a parameter changed in place is read afresh
    close(f(first).numpy(), np.tanh(first @ W.numpy()) * 2 + 1, "changed parameter")
    W.data = np.ones((4, 3))        # and one rebound, as an optimizer may
    close(f(first).numpy(), np.tanh(first.sum(1, keepdims=True) * np.ones((1, 3))) * 2 + 1,
          "rebound parameter")


def test_gradients_reach_arguments_and_closed_over_parameters():
    W = ag.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    b = ag.tensor(rng.standard_normal(3), requires_grad=True)

    def f(x, scale):
        return (ag.sigmoid(x @ W + b) * scale).sum()

    cf = ag.compile(f)
    for _ in range(3):
        x = ag.tensor(rng.standard_normal((2, 4)), requires_grad=True)
        s = ag.tensor(rng.standard_normal(3), requires_grad=True)
        W.grad = b.grad = None
        cf(x, s).backward()
        got = [t.grad.numpy() for t in (x, s, W, b)]
        x2, s2 = ag.tensor(x.numpy(), requires_grad=True), ag.tensor(s.numpy(),
                                                                     requires_grad=True)
        W.grad = b.grad = None
        f(x2, s2).backward()
        for g, t, what in zip(got, (x2, s2, W, b), "x scale W b".split()):
            close(g, t.grad.numpy(), what)


def test_several_outputs_nested_and_partly_used():
    layer = nets.LSTM(I, H, num_layers=2, rng=4).double()
    step = ag.compile(layer)
    x = ag.tensor(rng.standard_normal((T, B, I)))
    G = rng.standard_normal((T, B, H))
    for _ in range(3):
        layer.zero_grad()
        out, (h, c) = step(x)
        out.backward(G)                      # h and c get no gradient
        got = [p.grad.numpy() for p in layer.parameters()]
    layer.zero_grad()
    layer(x)[0].backward(G)
    for g, p in zip(got, layer.parameters()):
        close(g, p.grad.numpy(), p.name)
    layer.zero_grad()
    out, (h, c) = step(x)
    (c.sum() * 3 + h.sum()).backward()       # only the final states
    got = [p.grad.numpy() for p in layer.parameters()]
    layer.zero_grad()
    out, (h, c) = layer(x)
    (c.sum() * 3 + h.sum()).backward()
    for g, p in zip(got, layer.parameters()):
        close(g, p.grad.numpy(), p.name)


def test_results_that_are_not_computed_come_back_as_they_are():
    W = ag.tensor(np.ones(3), requires_grad=True)
    f = ag.compile(lambda x, n: (x, W, n, [x * W, {"k": ag.zeros(2)}]))
    for _ in range(2):
        x = ag.tensor(rng.standard_normal(3))
        a, w, n, (y, d) = f(x, 7)
        assert a is x and w is W and n == 7 and d["k"].numpy().tolist() == [0, 0]
        close(y.numpy(), x.numpy(), "x * W")


def test_the_listing_is_deterministic_and_shows_the_loop():
    def listing():
        layer = nets.LSTM(I, H, rng=5).double()
        step = ag.compile(layer)
        step(ag.tensor(rng.standard_normal((T, B, I))))
        return viz.to_text(step)
    text = listing()
    assert text == listing()
    assert "for k in range(%d)" % T in text or "×%d" % T in text
    assert "backward" in text and "kept" in text


def test_an_in_place_change_between_forward_and_backward_raises_as_eagerly():
    W = ag.tensor(rng.standard_normal((4, 3)), requires_grad=True, name="W")
    b = ag.tensor(rng.standard_normal(3), requires_grad=True, name="b")
    f = ag.compile(lambda x: ag.tanh(x @ W + b).sum())
    x = ag.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    f(x)
    for run in (f, f.fn):
        loss = run(x)
        with ag.no_grad():
            W.data[...] += 1.0               # the product reads W: backward must refuse
        with pytest.raises(ag.AutogradError, match="changed in place"):
            loss.backward()
        loss = run(x)
        with ag.no_grad():
            b.data[...] += 1.0               # no rule reads b: backward goes on
        loss.backward()


@pytest.mark.parametrize("body, what", [
    (lambda x: x * 2 if x.sum() > 0 else x, "comparison"),
    (lambda x: x * float(x.sum()), "float"),
    (lambda x: x * x.data.max(), ".data"),
    (lambda x: nets.Dropout(0.5)(x), "random"),
])
def test_python_decisions_on_values_are_refused_while_tracing(body, what):
    f = ag.compile(body)
    with pytest.raises(ag.AutogradError, match="ag.compile"):
        f(ag.tensor(np.ones(3), requires_grad=True))


def test_a_backward_inside_the_function_is_refused():
    W = ag.tensor(np.ones(3), requires_grad=True)

    def f(x):
        (x * W).sum().backward()
        return W.grad

    with pytest.raises(ag.AutogradError, match="ag.compile"):
        ag.compile(f)(ag.tensor(np.ones(3)))


def test_check_compares_with_an_eager_call_and_catches_frozen_python_state():
    flag = [True]
    W = ag.tensor(rng.standard_normal(3), requires_grad=True)
    f = ag.compile(lambda x: x * W * (2.0 if flag[0] else 3.0))
    x = ag.tensor(rng.standard_normal(3))
    assert f.check(x)
    flag[0] = False                          # Python state the trace froze
    with pytest.raises(ag.AutogradError, match="differ"):
        f.check(x)


def test_pictures_and_the_debugger_say_to_call_uncompiled():
    layer = nets.RNN(I, H, rng=6).double()
    step = ag.compile(layer)
    x = ag.tensor(rng.standard_normal((T, B, I)))
    step(x)
    out, _ = step(x)
    with pytest.raises(ag.AutogradError, match="uncompiled"):
        viz.to_text(out.sum())
    from autograph import debug
    with pytest.raises(ag.AutogradError, match="uncompiled"):
        debug.step_backward(out.sum()).finish()


def test_a_second_backward_without_retain_graph_raises_freed():
    W = ag.tensor(np.ones(3), requires_grad=True)
    f = ag.compile(lambda x: ((x * W).sum(), (x * W * 2).sum()))
    x = ag.tensor(np.ones(3))
    f(x)
    a, b = f(x)
    a.backward()
    with pytest.raises(ag.AutogradError, match="already freed"):
        b.backward()
    a, b = f(x)
    W.grad = None
    a.backward(retain_graph=True)
    b.backward()
    assert W.grad.numpy().tolist() == [3.0, 3.0, 3.0]


def test_transforms_refuse_and_no_grad_and_two_calls_before_one_backward_work():
    W = ag.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    f = ag.compile(lambda x: (ag.tanh(x @ W) ** 2).sum())
    x = ag.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    f(x)
    with pytest.raises(ag.AutogradError, match="uncompiled"):
        ag.grad(f)(x)                     # its gradient would have to be differentiable
    with ag.no_grad():
        out = f(x)
    assert not out.requires_grad and f.traces == 2
    x2 = ag.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    a, b = f(x), f(x2)                    # two calls, two tapes, one backward
    W.grad = None
    (a + 2 * b).backward()
    got = W.grad.numpy()
    W.grad = None
    (f.fn(x) + 2 * f.fn(x2)).backward()
    close(got, W.grad.numpy(), "two calls")


def test_a_compiled_function_called_while_another_traces_runs_as_it_is():
    W = ag.tensor(rng.standard_normal(3), requires_grad=True)
    inner = ag.compile(lambda x: x * W)
    outer = ag.compile(lambda x: inner(x).sum() * 2.0)
    x = ag.tensor(rng.standard_normal(3))
    inner(x)
    for _ in range(2):
        W.grad = None
        outer(x).backward()
        close(W.grad.numpy(), 2 * x.numpy(), "nested")
    assert inner.traces == 1 and outer.traces == 1


@pytest.mark.parametrize("make, options", [
    (lambda: nets.LSTM(I, H, proj_size=2, num_layers=2), {}),
    (lambda: nets.RNN(I, H, nonlinearity="relu", bias=False, batch_first=True), {}),
    (lambda: nets.GRU(I, H, bidirectional=True), {"lengths": [5, 2, 4]}),
    (lambda: nets.JordanRNN(I, H, 2, output_nonlinearity="softmax"), {}),
    (lambda: nets.CTRNN(I, H, solver="rk4", unfolds=3, learn_tau=False, bias=False),
     {"lengths": [5, 2, 4]}),
    (lambda: nets.PeepholeLSTM(I, H, num_layers=2), {"lengths": [1, 5, 3]}),
])
def test_layer_options_compile_alike(make, options):
    m = make().double()
    x = ag.tensor(rng.standard_normal((T, B, I)), requires_grad=True)
    step = ag.compile(lambda x, **kw: m(x, **kw))
    step(x, **options)
    assert step.check(x, **options)
