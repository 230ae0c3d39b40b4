"""Deep graphs, freeing and memory: no recursion, no reference cycles, no O(T²) slice gradients."""
import gc
import sys
import tracemalloc
import weakref

import numpy as np
import pytest

import autograph as ag
from autograph.backward import run, seed
from autograph.fast import lazy
from autograph.fast.lazy import Products, Scatter


@pytest.fixture
def low_recursion_limit():
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(300)
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


def test_a_100000_op_chain_backpropagates_under_a_recursion_limit_of_300(low_recursion_limit):
    x = ag.tensor(np.float64(0.5), requires_grad=True)
    y = x
    for k in range(100_000):
        y = y * 1.00001 if k % 2 else y + 0.5
    y.backward()
    assert x.grad.item() == pytest.approx(1.00001 ** 50_000, rel=1e-9)


def test_deep_graphs_are_freed_and_walked_without_recursion(low_recursion_limit):
    from autograph.graph import walk
    x = ag.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(20_000):
        y = ag.tanh(y)
    assert len(walk([y])) == 20_001
    probe = weakref.ref(y._inputs[0])
    del y                                  # dropping the head frees the whole chain, no recursion
    assert probe() is None


def test_backward_keeps_the_structure_and_frees_large_values_only_the_graph_holds():
    x = ag.tensor(np.ones((64, 64)), requires_grad=True)
    held = ag.tanh(x @ x)                           # the user holds it
    y = ag.tanh(held @ x).sum()
    y.backward(retain_graph=True)
    assert not any(n.released for n in ag.graph.walk([y]))
    y.backward()
    assert [n.op_name for n in ag.graph.walk([y]) if n.released] == ["matmul", "matmul", "tanh"]
    assert not held.released
    assert [n.op_name for n in ag.graph.walk([y])] == [None, "matmul", "tanh", "matmul", "tanh",
                                                       "sum"]
    with pytest.raises(ag.AutogradError, match="already freed"):
        y.backward()
    small = ag.tensor([1.0, 2.0], requires_grad=True)
    z = (ag.tanh(small) ** 2).sum()
    z.backward()
    assert not any(n.released for n in ag.graph.walk([z]))     # small values stay to be shown


def test_a_dropped_graph_is_freed_by_reference_counting_alone():
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        x = ag.tensor(np.ones((3, 4)), requires_grad=True)
        w = ag.tensor(np.ones((4, 2)), requires_grad=True)
        h = ag.tanh(x @ w)
        y = ag.log_softmax(h[1:] * 2, axis=1).sum()
        node, data = weakref.ref(h), weakref.finalize(h.data, lambda: None)
        del h
        assert node() is not None          # still held by y's graph
        del y
        assert node() is None and not data.alive

        # the same after a backward that keeps the graph, and after grad-of-grad
        h = ag.tanh(x @ w)
        node = weakref.ref(h)
        g = ag.grad(lambda x: ag.grad(lambda x: (ag.tanh(x @ w) ** 2).sum())(x).sum())(x)
        (h * h).sum().backward(retain_graph=True)
        del h, g
        assert node() is None
    finally:
        if was_enabled:
            gc.enable()


def test_the_tensor_module_holds_no_cycle_through_hooks():
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        x = ag.tensor([1.0], requires_grad=True)
        y = x * 2
        handle = y.register_hook(lambda g: g)
        node = weakref.ref(y)
        del y
        assert node() is None
        handle.remove()                    # removing after the tensor is gone is harmless
    finally:
        if was_enabled:
            gc.enable()


def backward_peak(T, B=4, H=8, parts="slice"):
    """Peak bytes allocated by backward through T per-step slices of a (T, B, H) tensor, less
    the loop's bookkeeping of each node it leaves (a done mark, up to 48 bytes: an int object
    once the clock of in-place changes has passed the cached small ints)."""
    x = ag.tensor(np.ones((T, B, H)), requires_grad=True)
    w = ag.tensor(np.linspace(0, 1, H))
    steps = ag.split(x, T, axis=0) if parts == "split" else [x[t] for t in range(T)]
    loss = ag.stack([(s * w).sum() for s in steps]).sum()
    nodes = len(ag.graph.walk([loss]))
    tracemalloc.start()
    try:
        loss.backward()
        return tracemalloc.get_traced_memory()[1] - 48 * nodes, x.data.nbytes
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("parts", ["slice", "split"])
def test_slice_gradients_cost_memory_linear_in_the_array(parts):
    peak, size = backward_peak(200, parts=parts)
    assert peak < 4 * size, "peak %d bytes for an array of %d bytes" % (peak, size)
    small_peak, small_size = backward_peak(50, parts=parts)
    assert peak / small_peak < 2 * size / small_size      # linear growth, not quadratic


def test_slice_gradients_are_lazy_inside_the_loop_and_dense_outside_it(monkeypatch):
    """Each slice sends only its own (2, 3) block (a Scatter) into the loop's accumulation;
    what the loop reports (the stepper's events) is the dense contribution all the same."""
    x = ag.tensor(np.ones((30, 2, 3)), requires_grad=True)
    loss = ag.stack([(x[t] * t).sum() for t in range(30)]).sum()
    made = []
    real = lazy.Scatter.__init__
    monkeypatch.setattr(lazy.Scatter, "__init__",
                        lambda self, v, i, shape: made.append(v.shape) or real(self, v, i, shape))
    sent = [c for ev in run(loss, seed(loss, None, False), retain_graph=False,
                            create_graph=False, trace=True)
            if ev.node.op_name == "getitem" for _, c in ev.contributions]
    assert made == [(2, 3)] * 30
    assert len(sent) == 30 and all(type(c) is np.ndarray and c.shape == (30, 2, 3) for c in sent)
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to(np.arange(30.0)[:, None, None],
                                                               (30, 2, 3)))


@pytest.mark.parametrize("indices", [
    [(Ellipsis, slice(0, 2)), (Ellipsis, slice(2, 5)), (Ellipsis, slice(5, None))],   # tiles
    [slice(3, 6), slice(0, 3)],                                                     # tiles
    [0, 2, 1, 3, 5, -2],                                  # ints along axis 0, one negative
    [(slice(None), slice(0, 4)), (slice(None), slice(2, 6))],                       # overlap
    [(0, slice(0, 3)), (1, slice(None))],                                           # mixed
    [slice(0, 2), np.array([2, 2, 5])],                                             # advanced
])
def test_merged_slice_gradients_equal_adding_each_into_zeros(indices):
    """Pieces that tile the tensor are concatenated; anything else is added: same numbers."""
    shape = (6, 100, 6)                 # pieces of 512 entries or more stay pieces
    rng = np.random.default_rng(1)
    pieces = [(i, rng.standard_normal(np.zeros(shape)[i].shape)) for i in indices]
    want = np.zeros(shape)
    for i, v in pieces:
        np.add.at(want, i, v)
    merged = Scatter(pieces[0][1], pieces[0][0], shape)
    for i, v in pieces[1:]:
        s = Scatter(v, i, shape)
        merged = merged.merge(s) if isinstance(merged, Scatter) else s.add_into(merged)
    got = merged.dense() if isinstance(merged, Scatter) else merged
    np.testing.assert_array_equal(got, want)


def test_pieces_of_a_large_tensor_go_into_one_buffer_at_once():
    """Kept pieces and their concatenation would be two copies of a large gradient at once."""
    from autograph.fast.lazy import DENSE_BYTES
    rows = DENSE_BYTES // (8 * 1024) + 8                  # just over the limit, float64
    shape = (rows, 1024)
    first = Scatter(np.ones((8, 1024)), slice(0, 8), shape)
    merged = first.merge(Scatter(np.ones((8, 1024)), slice(8, 16), shape))
    assert isinstance(merged, np.ndarray) and merged[:16].sum() == 16 * 1024 and merged[16:].sum() == 0
    small = Scatter(np.ones((8, 1024)), slice(0, 8), (64, 1024))
    assert isinstance(small.merge(Scatter(np.ones((8, 1024)), slice(8, 16), (64, 1024))), Scatter)


def _recurrent_weight_grad(product, elementwise_first):
    """d loss / d W for an RNN that reads W once per step through ``product``; W is also read
    elementwise, recorded before the steps (so reached after them in backward) or after."""
    rng = np.random.default_rng(2)
    W = ag.tensor(rng.standard_normal((6, 5)), requires_grad=True)
    h = ag.tensor(rng.standard_normal((3, 6)))
    loss = (W * W).sum() if elementwise_first else 0
    for x in rng.standard_normal((12, 3, 5)):
        h = ag.concat([ag.tanh(x + product(h, W)), h[:, :1]], axis=1)
        loss = loss + (h * h).sum()
    loss = loss + (0 if elementwise_first else (W * W).sum())
    loss.backward()
    return W.grad.numpy()


@pytest.mark.parametrize("elementwise_first", [False, True])
@pytest.mark.parametrize("limit", [lazy.PRODUCT_BYTES, 1000])
def test_a_weight_read_by_many_products_gets_their_sum_at_once(monkeypatch, limit,
                                                               elementwise_first):
    """A recurrent weight's contributions a.T @ g are multiplied out together (past the byte
    limit, batch by batch): the gradient of the same network written without a matrix product."""
    monkeypatch.setattr(lazy, "PRODUCT_BYTES", limit)
    got = _recurrent_weight_grad(lambda h, W: h @ W, elementwise_first)
    want = _recurrent_weight_grad(lambda h, W: (ag.expand_dims(h, 2) * W).sum(axis=1),
                                  elementwise_first)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_products_merge_batches_and_mixed_dtypes():
    rng = np.random.default_rng(3)
    pairs = [(rng.standard_normal((4, 3)).astype(dt), rng.standard_normal((4, 2)))
             for dt in (np.float64, np.float32, np.float64)]
    want = sum(a.astype(np.float64).T @ g for a, g in pairs)
    first = Products(*pairs[0])
    batched = Products(*pairs[1])
    batched.done = pairs[2][0].T @ pairs[2][1]          # a batch already multiplied out
    merged = first.merge(batched)
    assert merged.dtype == np.float64 and merged.shape == (3, 2)
    np.testing.assert_allclose(merged.dense(), want, rtol=1e-6)
    np.testing.assert_allclose(merged.add_into(np.ones((3, 2))), want + 1, rtol=1e-6)
    merged.pairs, merged.nbytes = [], 0                 # all multiplied out: dense is a copy
    assert merged.dense() is not merged.done


def test_the_stepper_shows_each_products_own_contribution():
    """Lazy or not, each matmul's contribution to a shared weight is its own a.T @ g."""
    from autograph.debug import step_backward
    rng = np.random.default_rng(4)
    W = ag.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    hs = [ag.tensor(rng.standard_normal((2, 3))) for _ in range(3)]
    outs = [h @ W for h in hs]
    loss = ag.stack(outs).sum()
    shown = {s.node._id: s.grad_inputs[1] for s in step_backward(loss) if s.op == "matmul"}
    for h, out in zip(hs, outs):
        np.testing.assert_allclose(shown[out._id], h.data.T @ np.ones((2, 3)), rtol=1e-12)


def test_a_projections_gradient_is_never_made_whole(monkeypatch):
    """The steps' shares of an input projection send their gradients as row blocks, which the
    projection's rules take in batches: backward holds the blocks and no full-size copy."""
    monkeypatch.setattr(lazy, "PRODUCT_BYTES", 256 << 10)
    T, B, I, G = 200, 8, 4, 256
    rng = np.random.default_rng(7)
    x = ag.tensor(rng.standard_normal((T * B, I)))
    W = ag.tensor(rng.standard_normal((I, G)), requires_grad=True)
    b = ag.tensor(rng.standard_normal(G), requires_grad=True)
    loss = ag.stack([ag.tanh(s).sum() for s in ag.split(ag.addmm(b, x, W), T)]).sum()
    full = T * B * G * 8
    tracemalloc.start()
    try:
        loss.backward()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * full, "peak %d bytes for a gradient of %d bytes" % (peak, full)
    dproj = 1 - np.tanh(x.data @ W.data + b.data) ** 2
    np.testing.assert_allclose(W.grad.data, x.data.T @ dproj, rtol=1e-12)


def test_a_concatenation_cuts_its_gradient_once_per_node():
    """T inputs cost O(T) in backward, not O(T²): one rule call gives every input's share."""
    from autograph import rules as P
    xs = [np.full((k % 3 + 1, 2), float(k)) for k in range(50)]         # unequal sizes
    y = np.concatenate(xs)
    g = np.arange(y.size, dtype=float).reshape(y.shape)
    parts = P.concat.vjp_all(g, y, *xs, axis=0)
    np.testing.assert_array_equal(np.concatenate(parts), g)
    for i in (0, 17, 49):                   # the per-input rule (the debugger's) agrees
        np.testing.assert_array_equal(P.concat.vjp[i](g, y, *xs, axis=0), parts[i])
