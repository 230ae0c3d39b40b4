"""release_unneeded(): values no rule reads are freed once only the graph holds them; nothing a
user holds or a derivative reads is touched, and every derivative stays exactly the same."""
import gc
import re
import weakref

import numpy as np

import autograph as ag
import nets
from autograph.fast import release
from autograph.modes import current
from autograph.forward import push_tangents
from autograph.graph import walk

rng = np.random.default_rng(0)
N = 32                                      # (32, 32) float64 = 8 KiB, above MIN_BYTES


def net(x, W, steps=3, held=None):
    """An RNN-like loop: each step's pre-activation z feeds only tanh (which saves its output)."""
    h = x
    for t in range(steps):
        z = h @ W + x               # matmul's output feeds only add: neither value is read
        h = ag.tanh(z)
        if held is not None:
            held.append(z)
    return (h * h).sum()


def inputs():
    x = ag.tensor(rng.standard_normal((N, N)) * 0.3, requires_grad=True)
    W = ag.tensor(rng.standard_normal((N, N)) * 0.3, requires_grad=True)
    return x, W


def released_ops(loss):
    return sorted(n.op_name for n in walk([loss]) if n.released)


def test_unread_values_are_released_and_gradients_are_unchanged():
    x, W = inputs()
    loss = net(x, W)
    loss.backward()
    want = x.grad.numpy().copy(), W.grad.numpy().copy()
    x.grad = W.grad = None
    with ag.release_unneeded():
        loss = net(x, W)
    # tanh reads its output, mul/matmul their inputs: only matmul's outputs go, and the adds
    assert released_ops(loss) == ["add"] * 3 + ["matmul"] * 3
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), want[0])
    np.testing.assert_array_equal(W.grad.numpy(), want[1])


def test_a_released_value_keeps_its_shape_and_dtype_and_frees_its_memory():
    x, W = inputs()
    with ag.release_unneeded():
        loss = ag.tanh(x @ W + 1.0).sum()
    (node,) = [n for n in walk([loss]) if n.op_name == "matmul"]
    assert node.released and node.shape == (N, N) and node.dtype == np.float64
    assert node.data.base.nbytes == 8                   # one NaN viewed N·N times
    assert np.isnan(node.numpy()).all()                 # reads show NaN, never stale numbers
    assert repr(node).startswith("tensor(<released: no derivative reads it>, shape=(32, 32)")


def test_tensors_the_user_holds_are_kept():
    x, W = inputs()
    held = []
    with ag.release_unneeded():
        loss = net(x, W, held=held)
    assert not any(z.released for z in held)
    assert released_ops(loss) == ["matmul"] * 3


def test_small_values_and_graphs_outside_the_block_are_untouched():
    x = ag.tensor(rng.standard_normal((4, 4)), requires_grad=True)
    with ag.release_unneeded():
        loss = ((x @ x + x) * 2.0).sum()                # 128-byte values
    assert released_ops(loss) == []
    x, W = inputs()
    assert released_ops(net(x, W)) == []


def test_forward_mode_and_higher_order_through_released_values():
    x, W = inputs()
    with ag.release_unneeded():
        loss = net(x, W, steps=2)
    assert released_ops(loss)
    nodes = walk([loss])
    tangent = rng.standard_normal((N, N))
    with_released = push_tangents(nodes, [W], [ag.tensor(tangent)])[-1].data
    kept = net(x, W, steps=2)
    want = push_tangents(walk([kept]), [W], [ag.tensor(tangent)])[-1].data
    np.testing.assert_allclose(with_released, want, rtol=1e-12)
    (gW,) = ag.grads_of(loss, [W], create_graph=True)
    (gW2,) = ag.grads_of(kept, [W], create_graph=True)
    np.testing.assert_allclose(ag.grads_of(gW.sum(), [x])[0].data,
                               ag.grads_of(gW2.sum(), [x])[0].data, rtol=1e-12)


def test_the_block_holds_nothing_afterwards():
    x, W = inputs()
    with ag.release_unneeded():
        loss = net(x, W)
    assert current().release is None
    watch = weakref.ref(loss)
    was = gc.isenabled()
    gc.disable()
    try:
        del loss
        assert watch() is None
    finally:
        if was:
            gc.enable()


def test_a_nested_block_releases_its_values_when_it_ends():
    """A layer ends its steps' block before joining the outputs, so the freed projection is
    not held while the outputs are copied; what is still held waits for the outer block."""
    x, W = inputs()
    with ag.release_unneeded():
        held = []
        with ag.release_unneeded():
            loss = net(x, W)
            kept = net(x, W, held=held)
        inner = [n for n in walk([loss]) if n.op_name in ("matmul", "add")]
        assert inner and all(n.released for n in inner)
        assert not any(z.released for z in held)        # the user holds them
        z = held.pop()
        assert not z.released
        del z
    assert current().release is None
    np.testing.assert_array_equal(kept.data, net(x, W).data)


def test_retain_graph_backward_twice_through_released_values():
    x, W = inputs()
    with ag.release_unneeded():
        loss = net(x, W)
    loss.backward(retain_graph=True)
    first = W.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(W.grad.numpy(), 2 * first, rtol=1e-12)


def test_recurrent_layers_release_by_default_and_keep_values_on_request():
    x = ag.tensor(rng.standard_normal((6, 32, 16)).astype(np.float32))   # (32, 32) gates: 4 KiB
    grads = {}
    for keep in (True, False):
        m = nets.LSTM(16, 32, rng=0)
        m.keep_values = keep
        out, _ = m(x)
        loss = (out * out).sum()
        released = released_ops(loss)
        assert bool(released) is not keep
        loss.backward()
        grads[keep] = {k: p.grad.numpy() for k, p in m.named_parameters()}
    assert set(released) == {"addmm", "split", "mul"}
    for k in grads[True]:
        np.testing.assert_array_equal(grads[False][k], grads[True][k])


def test_pictures_and_the_debugger_say_released_instead_of_showing_nan():
    import viz
    from autograph.debug import stats
    x, W = inputs()
    with ag.release_unneeded():
        loss = ag.tanh(x @ W + 1.0).sum()
    (node,) = [n for n in walk([loss]) if n.op_name == "matmul"]
    assert stats(node.data).startswith("[32,32] released")
    dot = viz.picture(loss).dot
    assert "nan" not in dot.lower(), dot               # no NaN marking, no NaN values
    x.data[0, 0] = np.nan
    with ag.release_unneeded():
        loss = ag.tanh(x @ W + 1.0).sum()
    assert re.search(r'class="[^"]*\bnan\b', viz.picture(loss).dot)   # a real NaN still is


def test_a_held_tensor_stays_when_a_backward_pass_frees_its_consumer():
    """The consumer's reference goes with backward(); the user's must not be taken for it."""
    x, W = inputs()
    with ag.release_unneeded():
        z = x @ W                           # read by nobody, held by the user
        loss = ag.tanh(z + 1.0).sum()
        for _ in range(2 * release.EVERY):  # sweeps: z is counted with one consumer, add
            x * 1.0
        loss.backward()                     # frees add's record of z
        for _ in range(40 * release.EVERY):  # more sweeps, past the longest wait
            x * 1.0
    assert not z.released
    np.testing.assert_allclose(z.numpy(), x.data @ W.data)


def test_a_training_loop_inside_one_block_does_not_keep_old_graphs():
    x, W = inputs()
    was = gc.isenabled()
    gc.disable()
    try:
        with ag.release_unneeded():
            watches = []
            for _ in range(100):                    # about 1,300 recorded ops: 5 sweeps
                loss = net(x, W, steps=4)
                watches.append(weakref.ref(loss._inputs[0]))    # h * h, a released value
                loss.backward()
                del loss
            assert sum(w() is not None for w in watches) <= 25  # only since the last sweep
            assert len(current().release.pending) <= 250
    finally:
        if was:
            gc.enable()
