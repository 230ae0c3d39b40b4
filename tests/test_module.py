"""nets.Module and the simple modules: registration, state dicts, modes, dtypes, and the numbers
of Linear, Embedding and Dropout checked against plain numpy."""
import numpy as np
import pytest

import autograph as ag
import nets


class Net(nets.Module):
    def __init__(self):
        super().__init__()
        self.scale = nets.Parameter(np.ones(2))
        self.encoder = nets.Linear(3, 4)
        self.register_parameter("absent", None)
        self.head = nets.Sequential(nets.Linear(4, 2, bias=False), nets.Dropout(0.5))
        self.register_buffer("running", np.zeros(2, np.float32))

    def forward(self, x):
        return self.head(ag.tanh(self.encoder(x))) * self.scale


def test_parameter_is_a_trainable_leaf_tensor():
    p = nets.Parameter([1, 2])
    assert type(p) is ag.Tensor and p.requires_grad and p.is_leaf
    assert p.dtype == np.float32
    assert nets.Parameter(np.zeros(2)).dtype == np.float64
    assert nets.Parameter(np.arange(3)).dtype == np.float32


def test_registration_order_and_dotted_names():
    m = Net()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["scale", "encoder.weight", "encoder.bias", "head.0.weight"]
    assert m.parameters()[1] is m.encoder.weight
    # PyTorch's order: each module's parameters, then its buffers, then its children
    assert list(m.state_dict()) == ["scale", "running"] + names[1:]
    assert [n for n, _ in m.named_modules()] == ["", "encoder", "head", "head.0", "head.1"]
    assert [n for n, _ in m.named_children()] == ["encoder", "head"]
    assert m.absent is None


def test_shared_parameter_listed_once_and_reassignment_replaces():
    m = nets.Sequential(nets.Linear(2, 2), nets.Linear(2, 2))
    m[1].weight = m[0].weight
    assert len(m.parameters()) == 3
    m[1].bias = None                       # an absent bias stays registered as absent
    assert [n for n, _ in m.named_parameters()] == ["0.weight", "0.bias"]
    assert list(m.state_dict()) == ["0.weight", "0.bias", "1.weight"]   # as PyTorch saves ties
    with pytest.raises(ag.AutogradError, match="is a parameter"):
        m[0].weight = ag.tensor(np.zeros((2, 2)))       # not trainable: refused


def test_registering_a_name_again_keeps_its_place():
    m = Net()
    m.scale = nets.Parameter(np.zeros(2))
    m.encoder = nets.Linear(3, 4)
    assert [n for n, _ in m.named_parameters()][:3] == ["scale", "encoder.weight", "encoder.bias"]
    m.register_buffer("running", np.ones(2))
    assert list(m.state_dict())[:2] == ["scale", "running"]
    m.encoder = nets.Parameter([1.0])                   # a module name reused for a parameter
    assert [n for n, _ in m.named_children()] == ["head"]
    assert [n for n, _ in m.named_parameters()][:2] == ["scale", "encoder"]


def test_plain_attributes_are_not_registered():
    m = nets.Module()
    m.constant = ag.tensor([1.0, 2.0])                  # does not require grad
    m.computed = nets.Parameter([1.0]) * 2              # not a leaf
    m.size = 3
    assert m.parameters() == []
    del m.constant
    assert not hasattr(m, "constant")


def test_state_dict_is_a_copy_and_round_trips():
    ag.manual_seed(0)
    a, b = Net(), Net()
    sd = a.state_dict()
    sd["scale"][:] = 7.0
    assert a.scale.data[0] == 1.0
    b.load_state_dict({k: v.tolist() for k, v in a.state_dict().items()})  # lists are fine
    for (k, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=k)
        assert q.dtype == p.dtype


def test_load_converts_to_the_parameter_dtype_and_keeps_identity():
    m = nets.Linear(2, 3)
    w = m.weight
    m.load_state_dict({"weight": np.ones((3, 2), np.float64), "bias": np.zeros(3, np.int64)})
    assert m.weight is w and w.dtype == np.float32 and m.bias.dtype == np.float32
    np.testing.assert_array_equal(w.data, 1.0)


def test_bad_state_dict_names_every_problem_and_loads_nothing():
    m = Net()
    before = m.state_dict()
    bad = dict(before)
    bad["encoder.weight"] = np.zeros((3, 3))
    bad["head.0.weight"] = np.array(["a", "b"])
    del bad["scale"]
    bad["decoder.weight"] = np.zeros(2)
    bad["running"] = np.full(2, 5.0)                    # valid, but must not be written
    with pytest.raises(nets.StateDictError) as err:
        m.load_state_dict(bad)
    msg = str(err.value)
    assert "encoder.weight: shape (3, 3) in the state dict, (4, 3) in the module" in msg
    assert "head.0.weight: not a numeric array" in msg
    assert "missing keys: scale" in msg and "unexpected keys: decoder.weight" in msg
    assert "nothing was loaded" in msg
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_non_strict_skips_missing_and_unexpected_but_not_shapes():
    m = Net()
    result = m.load_state_dict({"scale": np.full(2, 3.0), "extra": np.zeros(1)}, strict=False)
    np.testing.assert_array_equal(m.scale.data, 3.0)
    assert result.unexpected_keys == ["extra"] and "encoder.weight" in result.missing_keys
    with pytest.raises(nets.StateDictError, match="scale: shape"):
        m.load_state_dict({"scale": np.zeros(3)}, strict=False)


def test_buffers_load_and_convert():
    m = Net()
    m.load_state_dict({**m.state_dict(), "running": np.array([1, 2])})
    np.testing.assert_array_equal(m.running, [1.0, 2.0])
    assert m.running.dtype == np.float32
    m.double()
    assert m.running.dtype == np.float64


def test_train_eval_zero_grad_and_dtype_keep_identity():
    m = Net()
    assert m.training and m.head[1].training
    assert m.eval() is m and not m.head[1].training
    m.train()
    assert m.head[1].training
    params = m.parameters()
    m.encoder(ag.ones(5, 3)).sum().backward()
    assert m.encoder.weight.grad is not None
    m.double()
    assert m.parameters() == params and all(p.dtype == np.float64 for p in params)
    assert m.encoder.weight.grad.dtype == np.float64
    m.zero_grad()
    assert all(p.grad is None for p in params)
    m.float()
    assert all(p.dtype == np.float32 for p in params)
    with pytest.raises(ag.AutogradError, match="floating"):
        m.to(np.int32)


def test_repr_shows_the_tree():
    text = repr(Net())
    assert text.splitlines()[0] == "Net("
    assert "  (encoder): Linear(in_features=3, out_features=4, bias=True)" in text
    assert "    (1): Dropout(p=0.5)" in text


def test_forgetting_super_init_is_explained():
    class Broken(nets.Module):
        def __init__(self):
            self.w = nets.Parameter([1.0])
    with pytest.raises(ag.AutogradError, match="super"):
        Broken()


def test_linear_matches_numpy_and_its_gradients():
    m = nets.Linear(3, 2, rng=1).double()
    x = np.random.default_rng(2).standard_normal((4, 3))
    xt = ag.tensor(x, requires_grad=True)
    y = m(xt)
    np.testing.assert_allclose(y.data, x @ m.weight.data.T + m.bias.data, rtol=1e-12)
    g = np.random.default_rng(3).standard_normal((4, 2))
    y.backward(g)
    np.testing.assert_allclose(m.weight.grad.data, g.T @ x, rtol=1e-12)
    np.testing.assert_allclose(m.bias.grad.data, g.sum(0), rtol=1e-12)
    np.testing.assert_allclose(xt.grad.data, g @ m.weight.data, rtol=1e-12)
    with pytest.raises(ag.ShapeError, match=r"Linear\(3, 2\).*\(4, 5\)"):
        m(np.zeros((4, 5)))


def test_linear_init_is_pytorch_uniform_and_seeded():
    ag.manual_seed(4)
    a = nets.Linear(400, 300)
    ag.manual_seed(4)
    b = nets.Linear(400, 300)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    bound = 1 / np.sqrt(400)
    w = a.weight.data
    assert w.shape == (300, 400) and np.abs(w).max() <= bound
    # U(-b, b) has variance b²/3; 120,000 draws pin it to within a few percent
    assert abs(w.var() / (bound ** 2 / 3) - 1) < 0.03
    assert np.abs(a.bias.data).max() <= bound and a.bias.data.std() > bound / 3
    assert not np.array_equal(nets.Linear(400, 300).weight.data, w)


def test_embedding_lookup_and_scatter_add_gradient():
    e = nets.Embedding(5, 3, rng=0).double()
    assert abs(nets.Embedding(200, 100, rng=1).weight.data.std() - 1) < 0.02
    idx = np.array([[1, 4], [1, 1]])
    out = e(idx)
    np.testing.assert_array_equal(out.data, e.weight.data[idx])
    out.sum().backward()
    expected = np.zeros((5, 3))
    expected[1], expected[4] = 3, 1                     # row 1 used three times
    np.testing.assert_array_equal(e.weight.grad.data, expected)
    with pytest.raises(ag.ShapeError, match=r"\[0, 5\).*max 5"):
        e(np.array([0, 5]))
    with pytest.raises(ag.ShapeError, match="integers"):
        e(np.array([0.0]))


def test_dropout_scales_kept_entries_and_is_identity_in_eval():
    d = nets.Dropout(0.25, rng=0)
    x = ag.tensor(np.ones((200, 100)), requires_grad=True)
    y = d(x)
    kept = y.data != 0
    np.testing.assert_allclose(y.data[kept], 1 / 0.75)
    assert abs(kept.mean() - 0.75) < 0.01
    assert not np.array_equal(d(x).data, y.data)        # a fresh mask each call
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, kept / 0.75)
    d.eval()
    assert d(x) is x
    assert nets.Dropout(1.0)(x).data.max() == 0
    with pytest.raises(ValueError, match="p must lie"):
        nets.Dropout(1.5)


def test_sequential_chains_in_order():
    s = nets.Sequential(nets.Linear(3, 4), nets.Linear(4, 2))
    x = ag.ones(2, 3)
    np.testing.assert_allclose(s(x).data, s[1](s[0](x)).data)
    assert len(s) == 2 and list(s) == [s[0], s[1]]


def test_registered_parameters_take_their_attribute_name():
    lin = nets.Linear(3, 2)
    assert (lin.weight.name, lin.bias.name) == ("weight", "bias")
    assert nets.Embedding(4, 2).weight.name == "weight"
    m = nets.Module()
    m.scale = nets.Parameter(np.ones(2))
    m.register_parameter("shift", nets.Parameter(np.zeros(2)))
    m.kept = nets.Parameter(np.ones(2), name="gain")        # a name it already has is kept
    assert [p.name for p in m.parameters()] == ["scale", "shift", "gain"]
    lstm = nets.LSTM(3, 4, bidirectional=True)              # layers keep their full keys
    assert [p.name for _, p in lstm.named_parameters()] == [k for k, _ in lstm.named_parameters()]


def test_listings_and_the_debugger_name_the_parameters_of_a_model():
    import viz
    from autograph import debug
    model = nets.Sequential(nets.Linear(3, 2), nets.Linear(2, 1))
    loss = model(ag.randn(4, 3)).sum()
    listing = viz.to_text(loss)
    assert listing.count('input "weight"') == 2 and listing.count('input "bias"') == 2
    why = debug.explain(loss, model[0].weight)
    assert "/dweight" in why and "→ weight" in why
