"""The stepper, its breakpoints and explain(), checked against backward() and closed forms."""
import re
import sys

import numpy as np
import pytest

import autograph as ag
from autograph import debug
from autograph.backward import node_grads


# -- graphs: LSTM and GRU steps written from ag ops, inside per-step scopes as the cells do -----
def lstm_loss(seed=0, T=5, n=3, h=4):
    rng = np.random.default_rng(seed)
    W = ag.tensor(rng.standard_normal((n + h, 4 * h)) * 0.5, requires_grad=True, name="W")
    b = ag.tensor(rng.standard_normal(4 * h) * 0.1, requires_grad=True, name="b")
    xs = rng.standard_normal((T, 2, n))
    hs, c = ag.zeros((2, h), dtype=np.float64), ag.zeros((2, h), dtype=np.float64)
    total = None
    for t in range(T):
        with ag.scope("lstm", t=t):
            z = ag.concat([ag.tensor(xs[t]), hs], axis=1) @ W + b
            i, f, g, o = (z[:, k * h:(k + 1) * h] for k in range(4))
            c = ag.sigmoid(f) * c + ag.sigmoid(i) * ag.tanh(g)
            with ag.scope("hidden"):
                hs = ag.sigmoid(o) * ag.tanh(c)
            hs.name = "h_%d" % t
        step = (hs * hs).sum()
        total = step if total is None else total + step
    return total, (W, b)


def gru_loss(seed=0, T=5, n=3, h=4):
    rng = np.random.default_rng(seed)
    Wi = ag.tensor(rng.standard_normal((n, 3 * h)) * 0.5, requires_grad=True, name="W_ih")
    Wh = ag.tensor(rng.standard_normal((h, 3 * h)) * 0.5, requires_grad=True, name="W_hh")
    hs = ag.zeros((2, h), dtype=np.float64)
    for t in range(T):
        with ag.scope("gru", t=t):
            gi = ag.tensor(rng.standard_normal((2, n))) @ Wi
            gh = hs @ Wh
            r = ag.sigmoid(gi[:, :h] + gh[:, :h])
            z = ag.sigmoid(gi[:, h:2 * h] + gh[:, h:2 * h])
            cand = ag.tanh(gi[:, 2 * h:] + r * gh[:, 2 * h:])
            hs = (1 - z) * cand + z * hs
    return (hs ** 2).mean(), (Wi, Wh)


@pytest.mark.parametrize("build", [lstm_loss, gru_loss])
def test_stepping_to_the_end_leaves_the_grads_of_backward_bit_for_bit(build):
    loss, params = build()
    loss.backward()
    expected = [p.grad.data.copy() for p in params]
    loss2, params2 = build()
    s = debug.step_backward(loss2)
    first = [next(s) for _ in range(7)]                  # pause ...
    assert [st.index for st in first] == list(range(7))
    assert all(p.grad is None for p in params2)          # nothing reached the leaves yet
    steps = s.finish()                                   # ... and resume
    for p, want in zip(params2, expected):
        assert p.grad.data.tobytes() == want.tobytes()
    assert len({st.id for st in steps}) == len(steps)    # one step per node
    with pytest.raises(ag.AutogradError, match="retain_graph"):
        loss2.backward()                                  # freed like backward() frees it


@pytest.mark.parametrize("product_bytes", [None, 64])
@pytest.mark.parametrize("layer", ["LSTM", "GRU"])
def test_stepping_nets_layers_leaves_the_grads_of_backward_bit_for_bit(layer, product_bytes,
                                                                       monkeypatch):
    """Also with the projection's gradient in row blocks and the weights' products in
    batches (a tiny PRODUCT_BYTES stands in for a long sequence)."""
    if product_bytes:
        from autograph.fast import lazy
        monkeypatch.setattr(lazy, "PRODUCT_BYTES", product_bytes)
    nets = pytest.importorskip("nets")
    model = getattr(nets, layer)(3, 4, num_layers=2, bidirectional=True)
    x = ag.tensor(np.random.default_rng(1).standard_normal((6, 2, 3)).astype(np.float32))

    def loss():
        out = model(x)[0]
        return (out * out).mean()
    loss().backward()
    expected = {n: p.grad.data.copy() for n, p in model.named_parameters()}
    model.zero_grad()
    s = debug.step_backward(loss())
    s.breakpoints.add("scope:%s_l1_reverse[t=2]*" % layer.lower())
    hit = s.run()
    assert hit is not None and hit.scope.startswith("%s_l1_reverse[t=2]" % layer.lower())
    s.finish()
    for n, p in model.named_parameters():
        assert p.grad.data.tobytes() == expected[n].tobytes(), n


def test_steps_follow_backward_order_and_carry_the_gradients():
    loss, (W, b) = lstm_loss(T=3)
    want = node_grads(loss)
    s = debug.step_backward(loss, retain_graph=True)
    steps = s.finish()
    ids = [st.id for st in steps]
    assert ids == sorted(ids, reverse=True)              # the heap pops newest first
    assert set(ids) == set(want)
    for st in steps:
        assert np.array_equal(st.grad_out, want[st.id])
        assert len(st.accumulated) == st.index + 1 and st.id in st.accumulated
    last = steps[-1]
    assert all(np.array_equal(last.accumulated[k], want[k]) for k in want)
    with pytest.raises(KeyError):
        steps[0].accumulated[steps[1].id]                # not completed at step 0
    # the contributions a node sends sum, over its consumers, to its gradient
    sent = {}
    for st in steps:
        for x, gi in zip(st.inputs, st.grad_inputs):
            if gi is not None:
                sent[x.id] = sent.get(x.id, 0) + gi
    for st in steps[1:]:
        np.testing.assert_allclose(sent[st.id], st.grad_out, rtol=1e-12, atol=1e-15)
    assert steps[0].op == "add" and steps[0].shape == () and steps[-1].op == "input"
    assert steps[0].norm == 1.0


def test_nothing_runs_until_stepped():
    x = ag.tensor(3.0, requires_grad=True)
    y = x * x
    s = debug.step_backward(y)
    assert x.grad is None and s.current is None and s.steps == []
    assert next(s).node is y
    assert s.run() is None and x.grad.item() == 6.0
    with pytest.raises(StopIteration):
        next(s)


def chain(n, factor):
    x = ag.tensor(1.0, dtype=np.float64, requires_grad=True, name="x")
    y = x
    for k in range(n):
        y = y * factor
        y.name = "y%d" % k
    return x, y


def test_norm_breakpoints_stop_at_the_first_step_over_the_limit():
    x, y = chain(6, 10.0)      # d y5 / d y_k = 10 ** (5 - k): crosses 1e3 at y1 (1e4) or y2 (1e3)
    s = debug.step_backward(y)
    s.breakpoints.add("norm>1e3")
    assert s.run().name == "y1" and s.hit == (1, "norm>1e3")
    s2 = debug.step_backward(chain(6, 10.0)[1])
    s2.breakpoints.add("norm >= 1e3")
    assert s2.run().name == "y2"
    s3 = debug.step_backward(chain(6, 10.0)[1])
    s3.breakpoints.add("norm<1e-300")
    assert s3.run() is None and s3.hit is None           # ran to the end
    assert len(s3.steps) == 7


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_and_inf_breakpoints_stop_where_the_gradient_becomes_non_finite():
    x = ag.tensor(0.0, dtype=np.float64, requires_grad=True)
    r = ag.sqrt(x)
    loss = (r * 0.0 + 1.0) * 2.0       # d loss / d r = 0, then sqrt's rule: 0 * 0.5 / 0 = NaN
    s = debug.step_backward(loss)
    s.breakpoints.add("inf")
    s.breakpoints.add("nan")
    hit = s.run()
    assert hit.node is r and s.hit == (2, "nan") and np.isnan(hit.grad_inputs[0])
    x2 = ag.tensor(0.0, dtype=np.float64, requires_grad=True)
    r2 = ag.sqrt(x2)
    s2 = debug.step_backward(r2 * 3.0)
    s2.breakpoints.add("nan")
    s2.breakpoints.add("inf")
    hit2 = s2.run()
    assert hit2.node is r2 and s2.hit == (2, "inf") and np.isinf(hit2.grad_inputs[0])


def test_scope_and_name_breakpoints_read_brackets_literally():
    loss, _ = lstm_loss(T=12)
    s = debug.step_backward(loss, retain_graph=True)
    s.breakpoints.add("scope:lstm[t=3]*")
    hit = s.run()
    assert hit.scope.startswith("lstm[t=3]/") or hit.scope == "lstm[t=3]"
    before = s.steps[:-1]
    assert not any(st.scope.startswith("lstm[t=3]") for st in before)
    assert any(st.scope.startswith("lstm[t=10]") for st in before)   # not mistaken for t=1x
    s.breakpoints.clear()
    s.breakpoints.add("name:h_1")
    assert s.run().name == "h_1"
    s2 = debug.step_backward(loss)
    s2.breakpoints.add("scope:lstm[t=?]/hidden")       # one character: t=11 and t=10 pass by
    assert s2.run().scope == "lstm[t=9]/hidden"


def test_callable_breakpoints_and_until():
    loss, (W, b) = lstm_loss(T=2)
    s = debug.step_backward(loss, retain_graph=True)
    assert s.run(until=lambda st: st.op == "tanh").op == "tanh" and s.hit[0] == 0
    s.breakpoints.add(lambda st: st.node is W)
    assert s.run().node is W
    assert s.run(until="op:matmul") is None


def test_bad_breakpoints_say_what_is_accepted():
    s = debug.step_backward(chain(2, 2.0)[1])
    with pytest.raises(ValueError, match="norm>1e3"):
        s.breakpoints.add("norm = 3")
    with pytest.raises(TypeError, match="callable"):
        s.breakpoints.add(42)
    with pytest.raises(KeyError):
        s.breakpoints.remove(7)


def test_a_20000_step_chain_steps_to_the_end_without_recursion():
    x, y = chain(20000, 1.0001)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(120)
    try:
        s = debug.step_backward(y, retain_graph=True)
        n = sum(1 for _ in s)
        text = debug.explain(y, x)
    finally:
        sys.setrecursionlimit(old)
    assert n == 20001 and "1 path from x to y19999 through 20001 nodes" in text
    np.testing.assert_allclose(x.grad.item(), 1.0001 ** 20000, rtol=1e-9)


# -- explain -----------------------------------------------------------------------------------
def example1(name_a="a"):
    """The chapter's e = (a + b)(b + 1) at a = 2, b = 1, its nodes named c, d, e."""
    a = ag.tensor(2.0, dtype=np.float64, requires_grad=True, name=name_a)
    b = ag.tensor(1.0, dtype=np.float64, requires_grad=True, name="b")
    c = a + b
    d = b + 1
    c.name, d.name = "c", "d"
    e = c * d
    e.name = "e"
    return a, b, e


def test_explain_example_1_lists_both_paths_and_their_sum():
    a, b, e = example1()
    text = debug.explain(e, b)
    assert "de/db = de/dc·dc/db + de/dd·dd/db" in text
    assert "= 2·1 + 3·1" in text and "\n      = 5\n" in text
    assert "b → c → e : de/dc·dc/db = 2·1 = 2" in text
    assert "b → d → e : de/dd·dd/db = 3·1 = 3" in text
    e.backward()
    assert "sum of the path products = %g" % b.grad.item() in text     # 5, from backward()
    a2, _, e2 = example1()
    assert "de/da = de/dc·dc/da\n" in debug.explain(e2, a2)


def test_explain_example_2_nine_paths_factor():
    greek = dict(zip("αβγδεζ", (1.5, 2.0, 3.0, 4.0, 5.0, 7.0)))
    k = {n: ag.tensor(v, dtype=np.float64, name=n) for n, v in greek.items()}
    X = ag.tensor(0.5, dtype=np.float64, requires_grad=True, name="X")
    Y = k["α"] * X + k["β"] * X + k["γ"] * X
    Y.name = "Y"
    Z = k["δ"] * Y + k["ε"] * Y + k["ζ"] * Y
    Z.name = "Z"
    text = debug.explain(Z, X)
    lines = [ln for ln in text.splitlines() if ln.startswith("  X → ")]
    assert len(lines) == 9 and "9 paths from X to Z" in text
    products = sorted(float(ln.rsplit("= ", 1)[1]) for ln in lines)
    want = sorted(greek[p] * greek[q] for p in "αβγ" for q in "δεζ")
    np.testing.assert_allclose(products, want)
    factored = (1.5 + 2.0 + 3.0) * (4.0 + 5.0 + 7.0)
    Z.backward()
    assert X.grad.item() == factored
    assert "dZ/dX = the sum of 9 path products = %g" % factored in text


def test_explain_counts_paths_instead_of_listing_too_many():
    x = ag.tensor(1.0, dtype=np.float64, requires_grad=True, name="x")
    y = x
    for _ in range(8):           # each level doubles the paths: 2**8 = 256
        y = y * 0.5 + y * 0.5
    y.name = "y"
    text = debug.explain(y, x)
    assert "256 paths" in text and "too many factors to list" in text and "is 1" in text


def test_explain_tensor_graphs_list_vjps_and_fold_time_steps():
    loss, (W, b) = lstm_loss(T=6)
    text = debug.explain(loss, W)
    # t=0 reads no previous state, so it differs; steps 1..5 apply the same ops
    assert re.search(r"lstm\[t=1\.\.5\]: same \d+ ops ×5", text) and "lstm[t=0]:" in text
    assert "lstm[t=3]" not in text
    loss.backward()
    assert "‖·‖ %.4g" % np.linalg.norm(W.grad.data) in text


def test_explain_a_non_scalar_output_as_its_sum():
    x = ag.tensor(np.arange(3.0), requires_grad=True, name="x")
    y = ag.tanh(x) * 2.0
    y.name = "y"
    text = debug.explain(y, x)
    assert text.startswith("dsum(y)/dx through 3 nodes and 1 path(s)")
    want = 2.0 * (1.0 - np.tanh(np.arange(3.0)) ** 2)
    assert text.endswith("dsum(y)/dx: [%s]" % ", ".join("%.4g" % v for v in want))
    assert "  y [3]: ‖g‖ %.4g → " % np.sqrt(3.0) in text


def test_explain_shows_each_products_own_contribution_to_a_shared_weight():
    """A weight read by two products: each line shows what that product sent (the lazy sum
    the loop keeps for the weight must not leak into the first product's line)."""
    rng = np.random.default_rng(3)
    W = ag.tensor(rng.standard_normal((3, 3)), requires_grad=True, name="W")
    h1, h2 = (ag.tensor(s * rng.standard_normal((2, 3))) for s in (1, 10))
    a, b = h1 @ W, h2 @ W
    text = debug.explain(a.sum() + b.sum(), W)
    for out, h in ((a, h1), (b, h2)):
        line = next(x for x in text.splitlines() if x.strip().startswith("matmul#%d " % out.id))
        want = np.linalg.norm(h.data.T @ np.ones((2, 3)))
        assert line.endswith("→ W %.4g" % want), (line, want)


def test_explain_errors_name_the_problem():
    a, b, e = example1()
    with pytest.raises(ag.AutogradError, match="does not depend"):
        debug.explain(a, b)
    with pytest.raises(ag.AutogradError, match="requires_grad"):
        debug.explain(e, ag.tensor(1.0))
    before = debug.explain(e, b)
    e.backward()
    assert debug.explain(e, b) == before           # after backward too, as micrograd users do
