"""A cell written as a researcher writes it (weights assigned in ``__init__``, one
``step(x_t, state)`` on the raw input), the example's MGU, run by ``nets.Recurrent``: against a
numpy loop of its equations, stacked and bidirectional with lengths, its gradients against
finite differences of that numpy loop; state_dict keys; batch_first; gradcheck; a picture and a
stepped backward. Then cells with a tuple state, buffers, submodules, the fast protocol."""
import ast
import os
import re

import numpy as np
import pytest

import autograph as ag
import nets
import viz
from autograph import debug

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
rng = np.random.default_rng(7)
T, B, I, H = 5, 3, 3, 4


def example_cell():
    """The MGU class exactly as examples/06_your_own_cell.py writes it:

        f_t = σ(W_f x_t + U_f h_{t-1} + b_f)
        h̃_t = tanh(W_h x_t + U_h (f_t ⊙ h_{t-1}) + b_h)
        h_t = (1 - f_t) ⊙ h_{t-1} + f_t ⊙ h̃_t
    """
    path = os.path.join(ROOT, "examples", "06_your_own_cell.py")
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    cell = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "MGU"]
    ns = {"ag": ag, "nets": nets}
    exec(compile(ast.Module(cell, type_ignores=[]), path, "exec"), ns)
    return ns["MGU"]


MGU = example_cell()
NAMES = ["W_f", "U_f", "b_f", "W_h", "U_h", "b_h"]


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def mgu_ref(w, x, h, n=None):
    """The MGU's equations over x (T, B, I) from h (B, H); sequence b stops after n[b] steps
    (its state then kept, its outputs zero)."""
    n = np.full(x.shape[1], len(x)) if n is None else np.asarray(n)
    hs = []
    for t, x_t in enumerate(x):
        f = sigmoid(x_t @ w["W_f"].T + h @ w["U_f"].T + w["b_f"])
        h_tilde = np.tanh(x_t @ w["W_h"].T + (f * h) @ w["U_h"].T + w["b_h"])
        new = (1 - f) * h + f * h_tilde
        live = (t < n)[:, None]
        h = np.where(live, new, h)
        hs.append(np.where(live, new, 0.0))
    return np.stack(hs), h


def stacked_ref(weights, x, h0, lengths, num_layers, D):
    """A stacked, possibly bidirectional MGU layer in numpy: the reverse direction runs each
    sequence from its own last step."""
    out, finals = x, []
    for layer in range(num_layers):
        outs = []
        for d in range(D):
            w = weights["_l%d%s" % (layer, "_reverse" if d else "")]
            h = h0[layer * D + d]
            if not d:
                o, h = mgu_ref(w, out, h, lengths)
            else:
                flipped = np.stack([np.concatenate([out[:n, b][::-1], out[n:, b]])
                                    for b, n in enumerate(lengths)], 1)
                o, h = mgu_ref(w, flipped, h, lengths)
                o = np.stack([np.concatenate([o[:n, b][::-1], o[n:, b]])
                              for b, n in enumerate(lengths)], 1)
            outs.append(o)
            finals.append(h)
        out = np.concatenate(outs, -1)
    return out, np.stack(finals)


def weights_of(m):
    w = {}
    for key, v in m.state_dict().items():
        name, suffix = re.match(r"(.*?)(_l\d+(?:_reverse)?)$", key).groups()
        w.setdefault(suffix, {})[name] = v.astype(np.float64)
    return w


def test_values_and_gradients_match_numpy_stacked_bidirectional_with_lengths():
    m = nets.Recurrent(MGU, I, H, num_layers=2, bidirectional=True, rng=0).double()
    x = rng.standard_normal((T, B, I))
    h0 = rng.standard_normal((4, B, H))
    lengths = np.array([3, 5, 1])
    G, Gh = rng.standard_normal((T, B, 2 * H)), rng.standard_normal((4, B, H))   # dL/dout, dL/dh_n
    xt = ag.tensor(x, requires_grad=True)
    out, h_n = m(xt, h0, lengths=lengths)
    want, want_n = stacked_ref(weights_of(m), x, h0, lengths, 2, 2)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_n.numpy(), want_n, rtol=1e-12, atol=1e-14)

    ((out * G).sum() + (h_n * Gh).sum()).backward()

    def loss(weights, x):
        o, hn = stacked_ref(weights, x, h0, lengths, 2, 2)
        return (o * G).sum() + (hn * Gh).sum()

    weights, eps = weights_of(m), 1e-6
    for suffix, group in weights.items():
        for name, w in group.items():
            numeric = np.zeros_like(w)
            for i in np.ndindex(w.shape):
                saved = w[i]
                w[i] = saved + eps
                up = loss(weights, x)
                w[i] = saved - eps
                down = loss(weights, x)
                w[i] = saved
                numeric[i] = (up - down) / (2 * eps)
            np.testing.assert_allclose(getattr(m, name + suffix).grad.numpy(), numeric,
                                       rtol=1e-6, atol=1e-8, err_msg=name + suffix)
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        numeric[i] = (loss(weights, x + e) - loss(weights, x - e)) / (2 * eps)
    np.testing.assert_allclose(xt.grad.numpy(), numeric, rtol=1e-6, atol=1e-8)
    assert not xt.grad.numpy()[1:, 2].any()          # past the third sequence's single step


def test_state_dict_keys_follow_pytorchs_pattern_and_round_trip():
    m = nets.Recurrent(MGU, I, H, num_layers=2, bidirectional=True)
    keys = list(m.state_dict())
    assert keys == [n + s for s in ("_l0", "_l0_reverse", "_l1", "_l1_reverse") for n in NAMES]
    assert m.W_f_l1.shape == (H, 2 * H) and m.W_f_l0.name == "W_f_l0"
    other = nets.Recurrent(MGU, I, H, num_layers=2, bidirectional=True)
    other.load_state_dict(m.state_dict())
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    np.testing.assert_array_equal(other(x)[0].numpy(), m(x)[0].numpy())
    assert [k for k, _ in m.named_parameters()] == keys


def test_a_factory_and_a_seed():
    a = nets.Recurrent(MGU, I, H, bidirectional=True, rng=3)
    b = nets.Recurrent(lambda n, h: MGU(n, h, rng=np.random.default_rng(3)), I, H)
    c = nets.Recurrent(MGU, I, H, bidirectional=True, rng=3)
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(v, c.state_dict()[k])          # a seed reproduces
    np.testing.assert_array_equal(a.W_f_l0.numpy(), b.W_f_l0.numpy())
    assert not np.array_equal(a.W_f_l0.numpy(), a.W_f_l0_reverse.numpy())   # tracks differ


def test_batch_first_and_unbatched_agree_with_the_default_layout():
    m = nets.Recurrent(MGU, I, H, num_layers=2).double()
    x = rng.standard_normal((T, B, I))
    out, h_n = m(x)
    bf = nets.Recurrent(MGU, I, H, num_layers=2, batch_first=True).double()
    bf.load_state_dict(m.state_dict())
    out_bf, h_bf = bf(np.swapaxes(x, 0, 1))
    np.testing.assert_allclose(np.swapaxes(out_bf.numpy(), 0, 1), out.numpy(), rtol=1e-13)
    np.testing.assert_allclose(h_bf.numpy(), h_n.numpy(), rtol=1e-13)
    single, h1 = m(x[:, 1])
    np.testing.assert_allclose(single.numpy(), out.numpy()[:, 1], rtol=1e-13)
    np.testing.assert_allclose(h1.numpy(), h_n.numpy()[:, 1], rtol=1e-13)


def test_gradcheck_through_the_float64_layer():
    m = nets.Recurrent(MGU, I, 2, num_layers=2, bidirectional=True).double()
    x = rng.standard_normal((3, 2, I))

    def run(x, U_f, h0):
        saved = m.U_f_l1
        try:
            object.__setattr__(m, "U_f_l1", U_f)     # the layer's entry is what the cell reads
            out, h_n = m(x, h0, lengths=[3, 2])
            return out.sum() + (h_n ** 2).sum()
        finally:
            object.__setattr__(m, "U_f_l1", saved)
    assert ag.gradcheck(run, [x, m.U_f_l1.data, rng.standard_normal((4, 2, 2))],
                        atol=1e-6, rtol=1e-5)


def test_one_box_per_step_gates_in_scopes_and_the_symbols():
    ag.manual_seed(0)
    m = nets.Recurrent(MGU, 2, 3)
    out, _ = m(ag.randn(4, 1, 2))
    loss = (out ** 2).mean()
    lay = viz.picture(loss, collapse=1).layout
    boxes = ["/".join(lay.groups[i.group].path) for i in lay.items.values() if i.kind == "group"]
    assert [b for b in boxes if "[t=" in b] == ["mgu[t=%d]" % t for t in range(4)]
    dot = viz.picture(loss).dot
    for t in range(4):
        assert 'id="step_mgu_%d"' % t in dot
    for name in ("f_t", "h̃_t", "h_t", "x_t", "W_f_l0", "U_h_l0"):
        assert name in dot, name
    text = viz.to_text(loss)
    assert re.search(r'sigmoid .*mgu\[t=2\]/forget_gate  "f_t"', text)
    assert re.search(r'tanh .*mgu\[t=2\]/candidate  "h̃_t"', text)
    rolled = viz.picture(loss, rolled=True).dot
    assert "×3" in rolled and "t-1 → t" in rolled


def test_stepped_backward_stops_in_a_step_and_leaves_backwards_gradients():
    ag.manual_seed(1)
    m = nets.Recurrent(MGU, 2, 3).double()
    x = ag.randn(4, 2, 2, dtype=np.float64)
    loss = (m(x)[0] ** 2).sum()
    s = debug.step_backward(loss)
    s.breakpoints.add("scope:mgu[t=2]/forget_gate*")
    step = s.run()
    assert step.scope.startswith("mgu[t=2]/forget_gate")
    seen = [step.name] + [st.name for st in s]          # the rest of the backward pass
    assert "f_t" in seen and "h_t" in seen
    stepped = {k: p.grad.numpy().copy() for k, p in m.named_parameters()}
    m.zero_grad()
    (m(x)[0] ** 2).sum().backward()
    for k, p in m.named_parameters():
        np.testing.assert_array_equal(stepped[k], p.grad.numpy(), err_msg=k)


def test_the_chapters_product_for_a_cell_of_ones_own():
    """viz.jacobian_spectrum finds the MGU's state: the singular values of ∂h_t/∂h_{t-1}
    against finite differences of the numpy loop."""
    m = nets.Recurrent(MGU, I, H).double()
    x = rng.standard_normal((6, 2, I))
    spectrum = viz.jacobian_spectrum((m(x)[0] ** 2).sum(), batch=0)
    w = weights_of(m)["_l0"]
    hs = mgu_ref(w, x, np.zeros((2, H)))[0]
    assert spectrum.shape == (5, H)
    for t in range(1, 6):
        J = np.empty((H, H))
        for j in range(H):
            e = np.zeros(H)
            e[j] = 1e-6
            up = mgu_ref(w, x[t:t + 1, :1], hs[t - 1, :1] + e)[1][0]
            down = mgu_ref(w, x[t:t + 1, :1], hs[t - 1, :1] - e)[1][0]
            J[:, j] = (up - down) / 2e-6
        np.testing.assert_allclose(spectrum[t - 1], np.linalg.svd(J, compute_uv=False),
                                   rtol=1e-6, atol=1e-9)


class PairCell(nets.Cell):
    """A state of two tensors, (h, m): m is a running mean of the inputs' projection, h a tanh
    of it; a step emits h + m (size H), not the state's first part."""

    def __init__(self, input_size, hidden_size):
        super().__init__(input_size, hidden_size)
        self.state_size = (hidden_size, hidden_size)
        self.W = nets.Parameter(ag.randn(hidden_size, input_size))
        self.register_buffer("decay", np.full(hidden_size, 0.5))

    def step(self, x_t, state):
        h, m = state
        m = self.decay * m + (1 - self.decay) * (x_t @ self.W.T)
        return ag.tanh(m + h), m

    def output(self, state):
        return state[0] + state[1]


def pair_ref(W, decay, x, h, m):
    outs = []
    for x_t in x:
        m = decay * m + (1 - decay) * (x_t @ W.T)
        h = np.tanh(m + h)
        outs.append(h + m)
    return np.stack(outs), h, m


def test_a_tuple_state_a_buffer_and_an_output_of_its_own():
    layer = nets.Recurrent(PairCell, I, H).double()
    layer.load_state_dict({"W_l0": layer.W_l0.numpy(), "decay_l0": np.linspace(0.1, 0.9, H)})
    x = rng.standard_normal((T, B, I))
    h0, m0 = rng.standard_normal((2, 1, B, H))
    out, (h_n, m_n) = layer(x, (h0, m0))
    want, h, m = pair_ref(layer.W_l0.numpy(), np.linspace(0.1, 0.9, H), x, h0[0], m0[0])
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-13)
    np.testing.assert_allclose(h_n.numpy()[0], h, rtol=1e-13)
    np.testing.assert_allclose(m_n.numpy()[0], m, rtol=1e-13)
    with pytest.raises(ag.ShapeError, match=r"hx must be a tuple \(h_0, c_0\)"):
        layer(x, h0)


class Dropping(nets.Cell):
    """A cell with a submodule: a Linear, and a Dropout that must follow the layer's mode."""

    def __init__(self, input_size, hidden_size):
        super().__init__(input_size, hidden_size)
        self.lin = nets.Linear(input_size + hidden_size, hidden_size)
        self.drop = nets.Dropout(0.5)

    def step(self, x_t, h):
        return ag.tanh(self.drop(self.lin(ag.concat([x_t, h], axis=-1))))


def test_submodules_get_dotted_keys_and_follow_train_and_eval():
    m = nets.Recurrent(Dropping, I, H)
    assert list(m.state_dict()) == ["lin.weight_l0", "lin.bias_l0"]
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    m.eval()
    np.testing.assert_array_equal(m(x)[0].numpy(), m(x)[0].numpy())
    m.train()
    assert not np.array_equal(m(x)[0].numpy(), m(x)[0].numpy())


class FastMGU(MGU):
    """The same MGU on the fast protocol: the input's share of both gates for all steps at once."""

    def prepare(self, get):
        return {k: get(k) for k in NAMES}

    def project(self, x, p):
        return ag.concat([x @ p["W_f"].T + p["b_f"], x @ p["W_h"].T + p["b_h"]], axis=-1)

    def step(self, xp, h, p):
        xf, xh = ag.split(xp, 2, axis=-1)
        f = ag.sigmoid(xf + h @ p["U_f"].T)
        return (1 - f) * h + f * ag.tanh(xh + (f * h) @ p["U_h"].T)


def test_the_fast_protocol_gives_the_simple_cells_numbers():
    simple = nets.Recurrent(MGU, I, H, num_layers=2, bidirectional=True).double()
    fast = nets.Recurrent(FastMGU, I, H, num_layers=2, bidirectional=True).double()
    fast.load_state_dict(simple.state_dict())
    x = rng.standard_normal((T, B, I))
    for a, b in zip(simple(x, lengths=[5, 2, 4]), fast(x, lengths=[5, 2, 4])):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-13, atol=1e-15)
    assert list(fast.state_dict()) == list(simple.state_dict())


class OnlyProject(MGU):
    def project(self, x, p):
        return x


@pytest.mark.parametrize("make,error,words", [
    (lambda: nets.Recurrent(lambda n, h: nets.Linear(n, h), I, H), TypeError,
     ["Linear", "nets.Cell"]),
    (lambda: nets.Recurrent(OnlyProject, I, H), TypeError, ["OnlyProject", "prepare"]),
    (lambda: nets.Recurrent(lambda n, h: MGU(I, h), I, H, num_layers=2), ValueError,
     ["layer 1", "input_size 3", "must be 4"]),
    (lambda: nets.Recurrent(MGU, I, H, dropout=1.5), ValueError, ["dropout", "[0, 1]", "1.5"]),
])
def test_a_cell_that_does_not_fit_is_named(make, error, words):
    with pytest.raises(error) as err:
        make()
    for w in words:
        assert w in str(err.value), (w, str(err.value))


class Squeezed(nets.Cell):
    """A wrong step: its state (B, 1) would broadcast against (B, H) without an error."""

    def step(self, x_t, h):
        return ag.tanh(x_t.sum(-1, keepdims=True) + h.sum(-1, keepdims=True))


class Narrow(nets.Cell):
    """Emits half its state without saying so through output_size."""

    def step(self, x_t, h):
        return ag.tanh(h + x_t.sum(-1, keepdims=True))

    def output(self, h):
        return h[:, :2]


@pytest.mark.parametrize("call,words", [
    (lambda: nets.Recurrent(Squeezed, I, H)(np.zeros((T, B, I)), lengths=[5, 2, 1]),
     ["Squeezed(3, 4): step() returned a state of shape (3, 1)", "expected (3, 4)"]),
    (lambda: Squeezed(I, H)(np.zeros((B, I))), ["step() returned a state of shape (3, 1)"]),
    (lambda: nets.Recurrent(Narrow, I, H)(np.zeros((T, B, I))),
     ["Narrow.output() gave shape (3, 2)", "expected (3, 4)", "output_size"]),
])
def test_a_step_of_the_wrong_shape_is_an_error(call, words):
    with pytest.raises(ag.ShapeError) as err:
        call()
    for w in words:
        assert w in str(err.value), (w, str(err.value))


def test_a_cell_on_its_own():
    cell = MGU(I, H).double()
    x, h = rng.standard_normal((B, I)), rng.standard_normal((B, H))
    w = {k: getattr(cell, k).numpy() for k in NAMES}
    np.testing.assert_allclose(cell(x, h).numpy(), mgu_ref(w, x[None], h)[1], rtol=1e-13)
    np.testing.assert_allclose(cell(x).numpy(), mgu_ref(w, x[None], np.zeros((B, H)))[1],
                               rtol=1e-13)
    with pytest.raises(ag.ShapeError, match=r"MGU\(3, 4\): state of shape \(3, 5\)"):
        cell(x, np.zeros((B, H + 1)))
