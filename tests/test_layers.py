"""The generic driver: variable lengths for every cell, dropout between layers, batch_first and
unbatched inputs, state dicts, and clear errors for bad inputs that change nothing."""
import numpy as np
import pytest

import autograph as ag
import nets

rng = np.random.default_rng(3)
T, B, I, H = 6, 4, 3, 5

LAYERS = {
    "RNN": lambda **kw: nets.RNN(I, H, **kw),
    "LSTM": lambda **kw: nets.LSTM(I, H, **kw),
    "GRU": lambda **kw: nets.GRU(I, H, **kw),
    "PeepholeLSTM": lambda **kw: nets.PeepholeLSTM(I, H, **kw),
    "JordanRNN": lambda **kw: nets.JordanRNN(I, H, 2, **kw),
    "CTRNN": lambda **kw: nets.CTRNN(I, H, solver="rk4", **kw),
}


def parts(finals):
    return list(finals) if isinstance(finals, tuple) else [finals]


@pytest.mark.parametrize("name", LAYERS)
def test_lengths_mean_each_sequence_run_alone(name):
    """A padded batch with lengths= gives each sequence what running it alone, unpadded, gives:
    its final state after its own last step (reverse: starting from its own end), zeros past it."""
    m = LAYERS[name](num_layers=2, bidirectional=True).double()
    x = rng.standard_normal((T, B, I))
    lengths = np.array([4, 6, 1, 3])                    # unsorted
    out, finals = m(x, lengths=lengths)
    for b, n in enumerate(lengths):
        alone, alone_finals = m(x[:n, b:b + 1])
        np.testing.assert_allclose(out.numpy()[:n, b:b + 1], alone.numpy(), rtol=1e-12,
                                   atol=1e-14)
        assert not out.numpy()[n:, b].any()
        for got, want in zip(parts(finals), parts(alone_finals)):
            np.testing.assert_allclose(got.numpy()[:, b:b + 1], want.numpy(), rtol=1e-12,
                                       atol=1e-14)


def test_lengths_gradient_ignores_the_padding():
    m = nets.GRU(I, H, bidirectional=True).double()
    x = ag.tensor(rng.standard_normal((T, B, I)), requires_grad=True)
    out, h = m(x, lengths=[2, 6, 6, 5])
    (out.sum() + h.sum()).backward()
    assert not x.grad.numpy()[2:, 0].any() and not x.grad.numpy()[5:, 3].any()
    assert x.grad.numpy()[:2, 0].all()


@pytest.mark.parametrize("name", LAYERS)
def test_batch_first_and_unbatched_agree_with_the_default_layout(name):
    m = LAYERS[name](num_layers=2).double()
    x = rng.standard_normal((T, B, I))
    out, finals = m(x)
    m.batch_first = True
    out_bf, finals_bf = m(np.swapaxes(x, 0, 1))
    np.testing.assert_allclose(np.swapaxes(out_bf.numpy(), 0, 1), out.numpy(), rtol=1e-12)
    for a, b in zip(parts(finals_bf), parts(finals)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    m.batch_first = False
    single, single_finals = m(x[:, 1])
    np.testing.assert_allclose(single.numpy(), out.numpy()[:, 1], rtol=1e-12, atol=1e-14)
    for a, b in zip(parts(single_finals), parts(finals)):
        np.testing.assert_allclose(a.numpy(), b.numpy()[:, 1], rtol=1e-12, atol=1e-14)


def test_a_layer_of_one_step_is_its_cell():
    layer = nets.PeepholeLSTM(I, H).double()
    cell = nets.PeepholeLSTMCell(I, H).double()
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    x, h, c = rng.standard_normal((B, I)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    out, (h_n, c_n) = layer(x[None], (h[None], c[None]))
    h1, c1 = cell(x, (h, c))
    np.testing.assert_allclose(h1.numpy(), h_n.numpy()[0], rtol=1e-14)
    np.testing.assert_allclose(c1.numpy(), c_n.numpy()[0], rtol=1e-14)


def test_dropout_acts_between_layers_in_training_only():
    m = nets.LSTM(I, H, num_layers=2, dropout=0.5, rng=0).double()
    plain = nets.LSTM(I, H, num_layers=2).double()
    plain.load_state_dict(m.state_dict())
    x = rng.standard_normal((T, B, I))
    reference = plain(x)[0].numpy()
    assert not np.allclose(m(x)[0].numpy(), reference)          # training: layer 1 sees dropout
    m.eval()
    np.testing.assert_array_equal(m(x)[0].numpy(), reference)
    single = nets.GRU(I, H, dropout=0.5).double()                 # no layer above: nothing to drop
    same = nets.GRU(I, H).double()
    same.load_state_dict(single.state_dict())
    np.testing.assert_array_equal(single(x)[0].numpy(), same(x)[0].numpy())


def test_state_dict_keys_follow_pytorch_and_round_trip():
    m = nets.PeepholeLSTM(I, H, num_layers=2, bidirectional=True)
    keys = list(m.state_dict())
    assert keys[:7] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                        "weight_ci_l0", "weight_cf_l0", "weight_co_l0"]
    assert keys[7] == "weight_ih_l0_reverse" and keys[14] == "weight_ih_l1"
    assert m.weight_ih_l1.shape == (4 * H, 2 * H)
    other = nets.PeepholeLSTM(I, H, num_layers=2, bidirectional=True)
    other.load_state_dict(m.state_dict())
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    np.testing.assert_array_equal(other(x)[0].numpy(), m(x)[0].numpy())
    assert [k for k, _ in nets.RNN(I, H, bias=False).named_parameters()] == \
        ["weight_ih_l0", "weight_hh_l0"]
    frozen = nets.CTRNN(I, H, learn_tau=False)
    assert "log_tau_l0" in frozen.state_dict()
    assert "log_tau_l0" not in dict(frozen.named_parameters())


def test_default_initialisation_is_pytorchs_uniform():
    m = nets.LSTM(I, 64, proj_size=8)
    for k, p in m.named_parameters():
        bound = 1 / np.sqrt(64)
        assert np.abs(p.numpy()).max() <= bound and np.abs(p.numpy()).max() > 0.8 * bound, k


def test_reading_the_cells_repr():
    assert repr(nets.LSTM(3, 4, num_layers=2, bidirectional=True)) == \
        "LSTM(3, 4, num_layers=2, bidirectional=True)"
    assert repr(nets.RNN(3, 4, nonlinearity="relu")) == "RNN(3, 4, nonlinearity='relu')"


# -- bad inputs ------------------------------------------------------------------------------
def unchanged(m):
    """Snapshot of everything a failed call must leave as it was."""
    return {k: v.copy() for k, v in m.state_dict().items()}, [p.grad for p in m.parameters()]


@pytest.mark.parametrize("call,words", [
    (lambda m: m(np.zeros((T, B, I + 1))), ["LSTM(3, 5)", "(6, 4, 4)", "input_size=3"]),
    (lambda m: m(np.zeros((T, B, I, 1))), ["LSTM(3, 5)", "(6, 4, 3, 1)"]),
    (lambda m: m(np.zeros((T, B, I)), (np.zeros((1, B, H)),)), ["tuple (h_0, c_0)"]),
    (lambda m: m(np.zeros((T, B, I)), (np.zeros((1, B, H)), np.zeros((2, B, H)))),
     ["c_0", "(2, 4, 5)", "(1, 4, 5)", "num_layers * num_directions"]),
    (lambda m: m(np.zeros((T, B, I)), (np.zeros((1, B + 1, H)), np.zeros((1, B, H)))),
     ["h_0", "(1, 5, 5)", "(1, 4, 5)"]),
    (lambda m: m(np.zeros((T, I)), (np.zeros((1, B, H)), np.zeros((1, B, H)))),
     ["unbatched", "(1, 5)"]),
    (lambda m: m(np.zeros((T, B, I)), lengths=[T + 1, 2, 3, 1]),
     ["lengths", "[1, 6]", "max 7", "pad"]),
    (lambda m: m(np.zeros((T, B, I)), lengths=[0, 2, 3, 1]), ["lengths", "min 0"]),
    (lambda m: m(np.zeros((T, B, I)), lengths=[1, 2]), ["lengths", "(4,)", "(2,)"]),
    (lambda m: m(np.zeros((T, I)), lengths=[2]), ["lengths", "batched"]),
])
def test_bad_inputs_raise_clear_errors_and_change_nothing(call, words):
    m = nets.LSTM(I, H)
    before = unchanged(m)
    with pytest.raises(ag.ShapeError) as err:
        call(m)
    for w in words:
        assert w in str(err.value), (w, str(err.value))
    values, grads = unchanged(m)
    assert all(np.array_equal(before[0][k], values[k]) for k in values) and before[1] == grads


def test_unknown_nonlinearity_and_solver_are_named():
    cases = [(lambda: nets.RNN(I, H, nonlinearity="sigmoid"), ["RNN(3, 5", "'sigmoid'",
                                                              "'tanh', 'relu'"]),
             (lambda: nets.RNNCell(I, H, nonlinearity="gelu"), ["RNNCell(3, 5)", "gelu"]),
             (lambda: nets.JordanCell(I, H, 2, output_nonlinearity="elu"), ["elu"]),
             (lambda: nets.CTRNN(I, H, solver="midpoint"), ["CTRNN(3, 5", "midpoint", "rk4"]),
             (lambda: nets.CTRNNCell(I, H, tau=[1, 0, 1, 1, 1]), ["tau", "positive"]),
             (lambda: nets.LSTM(I, H, proj_size=H), ["proj_size"])]
    for make, words in cases:
        with pytest.raises(ValueError) as err:
            make()
        for w in words:
            assert w in str(err.value), (w, str(err.value))


def test_cells_check_their_inputs():
    cell = nets.LSTMCell(I, H)
    with pytest.raises(ag.ShapeError, match=r"LSTMCell\(3, 5\).*\(2, 4\)"):
        cell(np.zeros((2, 4)))
    with pytest.raises(ag.ShapeError, match=r"state of shape \(\(2, 5\), \(2, 4\)\)"):
        cell(np.zeros((2, I)), (np.zeros((2, H)), np.zeros((2, 4))))
    with pytest.raises(ag.ShapeError, match="dt of shape"):
        nets.CTRNN(I, H)(np.zeros((T, B, I)), dt=np.ones(T + 1))


def test_ctrnn_dt_follows_the_input_layout_and_gets_a_gradient():
    m = nets.CTRNN(I, H, solver="rk4", unfolds=2).double()
    x, dt = rng.standard_normal((T, B, I)), rng.uniform(0.1, 0.9, (T, B))
    out, h = m(x, dt=dt)
    m.batch_first = True
    out_bf, h_bf = m(np.swapaxes(x, 0, 1), dt=dt.T)
    np.testing.assert_allclose(np.swapaxes(out_bf.numpy(), 0, 1), out.numpy(), rtol=1e-13)
    np.testing.assert_allclose(h_bf.numpy(), h.numpy(), rtol=1e-13)
    m.batch_first = False
    step = ag.tensor(np.float64(0.4), requires_grad=True)
    out, _ = m(x, dt=step)
    out.sum().backward()
    assert step.grad is not None and step.grad.shape == ()
    np.testing.assert_allclose(out.numpy(), m(x, dt=np.full(T, 0.4))[0].numpy(), rtol=1e-14)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU", "PeepholeLSTM", "CTRNN"])
def test_one_matmul_for_the_input_and_one_per_step(name):
    """The shape of the computation the speed rests on: per track, the input projection of all
    steps is one matmul and each step's gates come from one recurrent matmul."""
    from autograph.graph import walk
    m = LAYERS[name](num_layers=2, bidirectional=True)
    x = ag.tensor(rng.standard_normal((T, B, I)).astype(np.float32), requires_grad=True)
    out, _ = m(x)
    matmuls = {}
    for node in walk([out]):
        if node.op_name in ("matmul", "addmm"):
            matmuls[node.scope] = matmuls.get(node.scope, 0) + 1
    solves = 4 if name == "CTRNN" else 1                # RK4 evaluates W σ(y + θ) four times
    for track in ("_l0", "_l0_reverse", "_l1", "_l1_reverse"):
        scope = m._tracks[0].cell.track + track.replace("_l0", "", 1)
        assert matmuls.pop(scope) == 1, scope
        for t in range(T):
            at = "%s[t=%d]" % (scope, t)
            assert sum(n for s, n in matmuls.items() if s.startswith(at)) == solves, at


# -- empty batches and changing dropout -------------------------------------------------------
@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_a_batch_of_zero_gives_empty_outputs_and_zero_gradients(name, batch_first):
    """As torch: output (T, 0, D·H), h_n (L·D, 0, H); backward gives every parameter a zero
    gradient of its shape and the input an empty one."""
    m = LAYERS[name](num_layers=2, bidirectional=True, batch_first=batch_first).double()
    x = ag.tensor(np.zeros((0, T, I) if batch_first else (T, 0, I)), requires_grad=True)
    hx = np.zeros((4, 0, H))
    out, finals = m(x, (hx, hx) if name == "LSTM" else hx, lengths=np.zeros(0, int))
    assert out.shape == ((0, T, 2 * H) if batch_first else (T, 0, 2 * H))
    assert [f.shape for f in parts(finals)] == [(4, 0, H)] * len(parts(finals))
    (out.sum() + sum(f.sum() for f in parts(finals))).backward()
    assert x.grad.shape == x.shape
    for k, p in m.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape and not p.grad.numpy().any(), k
    assert m(x)[0].shape == out.shape                              # no hx, no lengths


@pytest.mark.parametrize("name", LAYERS)
def test_dropout_set_after_construction_takes_effect(name):
    m = LAYERS[name](num_layers=2, rng=0).double()
    x = rng.standard_normal((T, B, I))
    reference = m(x)[0].numpy()
    m.dropout = 0.5
    assert m.dropout == 0.5 and "dropout=0.5" in repr(m)
    assert not np.allclose(m(x)[0].numpy(), reference)           # training: layer 1 sees dropout
    m.eval()
    np.testing.assert_array_equal(m(x)[0].numpy(), reference)
    m.train()
    m.dropout = 0
    np.testing.assert_array_equal(m(x)[0].numpy(), reference)


@pytest.mark.parametrize("bad", [1.5, -0.1, True, "0.5", None, float("nan")])
def test_dropout_stays_checked(bad):
    m = nets.GRU(I, H, num_layers=2, dropout=0.25)
    with pytest.raises(ValueError, match=r"GRU: dropout must be a number in \[0, 1\], got"):
        m.dropout = bad
    assert m.dropout == 0.25
    with pytest.raises(ValueError, match="dropout"):
        nets.LSTM(I, H, dropout=bad)
