"""The cells PyTorch lacks (Jordan, peephole LSTM, CTRNN) against plain numpy loops of their
equations and finite differences; the CTRNN's integrators against closed forms; the chapter's
own shapes; the scope names the cells and the driver record, and the chapter's symbols on their
nodes; a hidden size of zero."""
import re

import numpy as np
import pytest

import autograph as ag
import nets
from autograph.graph import walk

rng = np.random.default_rng(0)
T, B, I, H, K = 5, 3, 3, 4, 2


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def weights(module, suffix="_l0"):
    return {k[:-len(suffix)]: v.astype(np.float64) for k, v in module.state_dict().items()
            if k.endswith(suffix)}


# -- numpy references: one function per cell, the equations of its docstring ----------------
def jordan_ref(w, x, y):
    ys = []
    for x_t in x:
        h = np.tanh(x_t @ w["weight_ih"].T + w["bias_ih"] + y @ w["weight_hh"].T + w["bias_hh"])
        y = np.tanh(h @ w["weight_ho"].T + w["bias_ho"])
        ys.append(y)
    return np.stack(ys), y


def peephole_ref(w, x, h, c):
    hs = []
    for x_t in x:
        z = x_t @ w["weight_ih"].T + w["bias_ih"] + h @ w["weight_hh"].T + w["bias_hh"]
        zi, zf, zg, zo = np.split(z, 4, axis=-1)
        i = sigmoid(zi + w["weight_ci"] * c)
        f = sigmoid(zf + w["weight_cf"] * c)
        c = f * c + i * np.tanh(zg)
        o = sigmoid(zo + w["weight_co"] * c)
        h = o * np.tanh(c)
        hs.append(h)
    return np.stack(hs), h, c


def ctrnn_ref(w, x, y, dts, unfolds, solver):
    tau = np.exp(w["log_tau"])

    def f(y, u):
        return (-y + sigmoid(y + w["bias_hh"]) @ w["weight_hh"].T + u) / tau
    ys = []
    for x_t, dt in zip(x, dts):
        u = x_t @ w["weight_ih"].T + w["bias_ih"]
        s = dt / unfolds
        for _ in range(unfolds):
            if solver == "euler":
                y = y + s * f(y, u)
            else:
                k1 = f(y, u)
                k2 = f(y + s / 2 * k1, u)
                k3 = f(y + s / 2 * k2, u)
                k4 = f(y + s * k3, u)
                y = y + s / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        ys.append(y)
    return np.stack(ys), y


def test_jordan_matches_numpy():
    m = nets.JordanRNN(I, H, K).double()
    x, y0 = rng.standard_normal((T, B, I)), rng.standard_normal((1, B, K))
    out, y_n = m(x, y0)
    want, want_n = jordan_ref(weights(m), x, y0[0])
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(y_n.numpy()[0], want_n, rtol=1e-12, atol=1e-14)


def test_peephole_matches_numpy_in_both_directions():
    m = nets.PeepholeLSTM(I, H, bidirectional=True).double()
    x = rng.standard_normal((T, B, I))
    h0, c0 = rng.standard_normal((2, 2, B, H))
    out, (h_n, c_n) = m(x, (h0, c0))
    fwd, h, c = peephole_ref(weights(m), x, h0[0], c0[0])
    rev, hr, cr = peephole_ref(weights(m, "_l0_reverse"), x[::-1], h0[1], c0[1])
    np.testing.assert_allclose(out.numpy(), np.concatenate([fwd, rev[::-1]], -1), rtol=1e-12,
                               atol=1e-14)
    np.testing.assert_allclose(h_n.numpy(), np.stack([h, hr]), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c_n.numpy(), np.stack([c, cr]), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("solver,unfolds", [("euler", 1), ("euler", 3), ("rk4", 1), ("rk4", 2)])
def test_ctrnn_matches_numpy_with_irregular_steps(solver, unfolds):
    m = nets.CTRNN(I, H, tau=rng.uniform(0.5, 2, H), unfolds=unfolds, solver=solver).double()
    x, y0 = rng.standard_normal((T, B, I)), rng.standard_normal((1, B, H))
    dts = rng.uniform(0.05, 0.6, T)
    out, y_n = m(x, y0, dt=dts)
    want, want_n = ctrnn_ref(weights(m), x, y0[0], dts, unfolds, solver)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(y_n.numpy()[0], want_n, rtol=1e-12, atol=1e-14)
    # dt per step and sequence: sequence b sees its own intervals
    per_seq = rng.uniform(0.05, 0.6, (T, B))
    out, _ = m(x, y0, dt=per_seq)
    for b in range(B):
        want, _ = ctrnn_ref(weights(m), x[:, b:b + 1], y0[0, b:b + 1], per_seq[:, b], unfolds,
                            solver)
        np.testing.assert_allclose(out.numpy()[:, b:b + 1], want, rtol=1e-12, atol=1e-14)


def test_ctrnn_euler_step_with_tau_equal_to_dt_is_an_elman_update():
    """One Euler step of τ dy/dt = -y + W σ(y + θ) + I x + b with step dt:

        y' = y + (dt/τ)(-y + W σ(y + θ) + I x + b)
           = (1 - dt/τ) y + (dt/τ)(W σ(y + θ) + I x + b)
           = W σ(y + θ) + I x + b                      when τ = dt,

    an Elman-style update h_t = W σ(h_{t-1} + θ) + I x_t + b: the old state enters only through
    the recurrent weights, as in h_t = tanh(W h_{t-1} + U x_t + b)."""
    dt = 0.3
    cell = nets.CTRNNCell(I, H, tau=dt, dt=dt).double()
    cell.log_tau.data = np.log(np.full(H, dt))          # not via float32: τ = dt to 1e-16
    x, y = rng.standard_normal((B, I)), rng.standard_normal((B, H))
    w = {k: v for k, v in cell.state_dict().items()}
    elman = sigmoid(y + w["bias_hh"]) @ w["weight_hh"].T + x @ w["weight_ih"].T + w["bias_ih"]
    np.testing.assert_allclose(cell(x, y).numpy(), elman, rtol=1e-12, atol=1e-14)
    halfway = y + 0.5 * (elman - y)                     # dt = τ/2: half the way there
    np.testing.assert_allclose(cell(x, y, dt=dt / 2).numpy(), halfway, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("solver,order", [("rk4", 4), ("euler", 1)])
def test_ctrnn_solver_converges_at_its_order_on_a_linear_system(solver, order):
    """With W = 0 the system τ dy/dt = -y + u is linear, y(t) = u + (y0 - u) e^{-t/τ}:
    halving the sub-step divides the error by 2^order (16 for RK4)."""
    tau, t_end = np.array([0.7, 1.3]), 2.0
    x, y0 = rng.standard_normal((1, 1, 1)), np.array([[[0.5, -1.0]]])

    def error(unfolds):
        m = nets.CTRNN(1, 2, tau=tau, dt=t_end, unfolds=unfolds, solver=solver, rng=1).double()
        m.weight_hh_l0.data[:] = 0
        _, y = m(x, y0)
        u = x[0, 0] @ m.weight_ih_l0.data.T + m.bias_ih_l0.data
        tau_used = np.exp(m.log_tau_l0.data)       # τ as stored (rounded to float32)
        exact = u + (y0[0, 0] - u) * np.exp(-t_end / tau_used)
        return np.max(np.abs(y.numpy()[0, 0] - exact))

    errors = [error(n) for n in (16, 32, 64)]
    for coarse, fine in zip(errors, errors[1:]):
        assert 2 ** order * 0.85 < coarse / fine < 2 ** order * 1.15, errors


# -- finite differences ---------------------------------------------------------------------
def cell_function(cell, names, with_dt=False):
    """f(x, state..., params...[, dt]) -> one step's output, the parameters given as arguments."""
    n_state = len(cell.state_sizes)

    def f(x, *rest):
        states, params = rest[:n_state], dict(zip(names, rest[n_state:]))
        p = cell.prepare(lambda k: params[k] if k in params else getattr(cell, k))
        extra = {"dt": rest[-1]} if with_dt else {}
        new = cell.step(cell.project(x, p), states if n_state > 1 else states[0], p, **extra)
        return ag.concat(list(new), axis=1) if isinstance(new, tuple) else new
    return f


CELLS = [
    (nets.JordanCell(I, H, K), ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_ho",
                                "bias_ho"]),
    (nets.PeepholeLSTMCell(I, H), ["weight_ih", "weight_hh", "bias_ih", "weight_ci", "weight_cf",
                                   "weight_co"]),
    (nets.CTRNNCell(I, H, tau=[0.5, 1, 1.5, 2], unfolds=2, solver="rk4"),
     ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "log_tau"]),
    (nets.CTRNNCell(I, H, tau=0.8, dt=0.4, unfolds=3), ["weight_hh", "bias_hh", "log_tau"]),
]


@pytest.mark.parametrize("cell,names", CELLS, ids=lambda v: type(v).__name__
                         if isinstance(v, nets.Module) else "")
def test_gradcheck_inputs_states_and_weights(cell, names):
    cell.double()
    x = rng.standard_normal((2, I))
    states = [rng.standard_normal((2, n)) for n in cell.state_sizes]
    params = [getattr(cell, k).data for k in names]
    assert ag.gradcheck(cell_function(cell, names), [x, *states, *params], atol=1e-6, rtol=1e-5)


def test_gradcheck_ctrnn_dt_per_step():
    cell = nets.CTRNNCell(I, H, tau=[0.5, 1, 1.5, 2], unfolds=2, solver="rk4").double()
    x, y = rng.standard_normal((2, I)), rng.standard_normal((2, H))
    dt = np.array([[0.3], [0.7]])          # irregular sampling: one interval per sequence
    f = cell_function(cell, ["log_tau"], with_dt=True)
    assert ag.gradcheck(f, [x, y, cell.log_tau.data, dt], atol=1e-6, rtol=1e-5)


def test_gradcheck_ctrnn_layer_through_time_wrt_tau_and_dt():
    m = nets.CTRNN(I, 2, num_layers=2, unfolds=2, solver="rk4", tau=[0.6, 1.4]).double()
    x = rng.standard_normal((3, 2, I))

    def run(log_tau, dt):
        saved = m.log_tau_l1
        try:
            object.__setattr__(m, "log_tau_l1", log_tau)
            return m(x, dt=dt)[0]
        finally:
            object.__setattr__(m, "log_tau_l1", saved)
    assert ag.gradcheck(run, [m.log_tau_l1.data, rng.uniform(0.2, 0.8, 3)], atol=1e-6, rtol=1e-5)


# -- the chapter's snippet and the scopes ---------------------------------------------------
def test_the_chapters_shapes():
    out, h = nets.RNN(5, 10, 2)(ag.randn(6, 3, 5))
    assert out.shape == (6, 3, 10) and h.shape == (2, 3, 10)
    out, (h, c) = nets.LSTM(50, 100, num_layers=2)(ag.randn(10, 3, 50))
    assert out.shape == (10, 3, 100) and h.shape == (2, 3, 100) and c.shape == (2, 3, 100)


def scopes_of(out):
    return {n.scope for n in walk([out])}


def test_gates_are_named_inside_time_steps_and_tracks():
    m = nets.LSTM(I, H, num_layers=2, bidirectional=True)
    x = ag.randn(T, B, I)
    out, _ = m(x)
    scopes = scopes_of(out)
    for track in ("lstm", "lstm_reverse", "lstm_l1", "lstm_l1_reverse"):
        for gate in ("input_gate", "forget_gate", "cell_candidate", "output_gate", "cell_state",
                     "hidden"):
            assert "%s[t=3]/%s" % (track, gate) in scopes
    assert "lstm[t=%d]/forget_gate" % (T - 1) in scopes and "lstm[t=%d]" % T not in scopes
    with ag.scope("encoder"):
        out, _ = nets.GRU(I, H)(x)
    for gate in ("reset_gate", "update_gate", "candidate", "hidden"):
        assert "encoder/gru[t=0]/%s" % gate in scopes_of(out)


def test_each_cell_names_its_new_state_hidden():
    for cell, state in ((nets.RNNCell(I, H), None), (nets.JordanCell(I, H, K), None),
                        (nets.PeepholeLSTMCell(I, H), None), (nets.CTRNNCell(I, H), None)):
        x = ag.tensor(rng.standard_normal((B, I)).astype(np.float32), requires_grad=True)
        new = cell(x, state)
        h = new[0] if isinstance(new, tuple) else new
        assert any(s.split("/")[0] == "hidden" for s in scopes_of(h)), type(cell).__name__


# -- the chapter's symbols on the nodes -------------------------------------------------------
SYMBOLS = [
    (lambda: nets.LSTMCell(I, H), ("i_t", "f_t", "g_t", "o_t", "c_t", "h_t")),
    (lambda: nets.PeepholeLSTMCell(I, H), ("i_t", "f_t", "g_t", "o_t", "c_t", "h_t")),
    (lambda: nets.GRUCell(I, H), ("r_t", "z_t", "n_t", "h_t")),
    (lambda: nets.RNNCell(I, H), ("s_t",)),
    (lambda: nets.JordanCell(I, H, K), ("h_t", "y_t")),
    (lambda: nets.CTRNNCell(I, H, solver="rk4"), ("y_t",)),
]


@pytest.mark.parametrize("make,symbols", SYMBOLS, ids=lambda v: "" if callable(v) else v[0])
def test_one_step_shows_the_chapters_symbols(make, symbols):
    import viz
    from autograph import debug
    ag.manual_seed(0)
    cell = make()
    new = cell(ag.randn(2, I, requires_grad=True))
    out = cell.output(new).sum()
    dot = viz.picture(out).dot
    listed = set(re.findall(r'"([^"]*)"$', viz.to_text(out), flags=re.M))
    stepped = {step.name for step in debug.step_backward(out)}
    for symbol in symbols:
        assert re.search(r"\b%s\b" % re.escape(symbol), dot), symbol
        assert symbol in listed and symbol in stepped, symbol


def test_the_symbols_in_a_layer_the_player_and_explain(tmp_path):
    import viz
    from autograph import debug
    x = ag.tensor(rng.standard_normal((3, 1, I)), requires_grad=True)
    out, (h, c) = nets.LSTM(I, H).double()(x)
    loss = out.sum()
    text = viz.to_text(loss)
    for gate, symbol in (("input_gate", "i_t"), ("forget_gate", "f_t"), ("cell_candidate", "g_t"),
                         ("output_gate", "o_t"), ("cell_state", "c_t"), ("hidden", "h_t")):
        assert re.search(r'lstm\[t=2\]/%s  "%s"' % (gate, symbol), text), symbol
    viz.export_player(loss, str(tmp_path / "p.html"))
    page = (tmp_path / "p.html").read_text(encoding="utf-8")
    assert "f_t" in page and "c_t" in page
    s = debug.step_backward(loss)
    s.breakpoints.add("name:f_t")
    assert "f_t" in repr(s.run())
    x_t = ag.tensor(rng.standard_normal((1, I)), requires_grad=True, name="x_t")
    explained = debug.explain(nets.GRUCell(I, H).double()(x_t).sum(), x_t)
    for symbol in ("r_t", "z_t", "n_t", "h_t"):
        assert re.search(r"^  %s \[1,4\]" % symbol, explained, flags=re.M), symbol


# -- empty and degenerate shapes --------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda: nets.GRUCell(10, 0), lambda: nets.LSTMCell(10, 0),
                                  lambda: nets.RNNCell(10, 0)])
def test_a_cell_of_hidden_size_zero_gives_empty_states_and_a_zero_gradient(make):
    cell = make().double()
    x = ag.tensor(rng.standard_normal((3, 10)), requires_grad=True)
    new = cell(x)
    parts = new if isinstance(new, tuple) else (new,)
    assert [p.shape for p in parts] == [(3, 0)] * len(parts)
    sum(p.sum() for p in parts).backward()
    assert x.grad.shape == (3, 10) and not x.grad.numpy().any()
    for k, p in cell.named_parameters():
        assert p.grad.shape == p.shape and p.shape[0] == 0, k


@pytest.mark.parametrize("make", [lambda: nets.GRUCell(I, H), lambda: nets.LSTMCell(I, H),
                                  lambda: nets.PeepholeLSTMCell(I, H)])
def test_a_cell_on_a_batch_of_zero(make):
    cell = make().double()
    x = ag.tensor(np.zeros((0, I)), requires_grad=True)
    new = cell(x)
    parts = new if isinstance(new, tuple) else (new,)
    assert [p.shape for p in parts] == [(0, H)] * len(parts)
    sum(p.sum() for p in parts).backward()
    assert x.grad.shape == (0, I)
    assert all(not p.grad.numpy().any() for p in cell.parameters())
