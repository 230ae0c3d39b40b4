"""Small recurrent graphs for the picture tests, written with autograph ops and the scope names the
recurrent layers record (``rnn[t=k]``, ``lstm_l1[t=k]``, a ``hidden`` scope for the new state), so
the pictures are tested on the shapes they are meant for. The tests here check the models
themselves against numpy."""
import numpy as np

import autograph as ag


def params(rng, shapes, dtype):
    return {name: ag.tensor(rng.standard_normal(shape).astype(dtype) * 0.5, requires_grad=True,
                            name=name) for name, shape in shapes.items()}


def elman(T, I=2, H=3, seed=0, dtype=np.float64, track="rnn", scale=1.0, last_only=False):
    """Elman network h_t = tanh(W_ih x_t + W_hh h_t-1 + b), loss = sum of all h_t (or of h_T);
    ``scale`` multiplies W_hh. Returns (loss, params, x)."""
    rng = np.random.default_rng(seed)
    p = params(rng, {"weight_ih": (H, I), "weight_hh": (H, H), "bias": (H,)}, dtype)
    p["weight_hh"].data *= scale
    x = ag.tensor(rng.standard_normal((T, 1, I)).astype(dtype), name="x")
    h = ag.zeros(1, H, dtype=dtype, name="h0")
    hs = []
    for t in range(T):
        with ag.scope(track, t=t), ag.scope("hidden"):
            h = ag.tanh(x[t] @ p["weight_ih"].T + h @ p["weight_hh"].T + p["bias"])
        hs.append(h)
    return (hs[-1].sum() if last_only else ag.stack(hs).sum()), p, x


def lstm(T, I=2, H=3, seed=0, dtype=np.float64, track="lstm", batch=1, last_only=False,
         forget_bias=0.0):
    """LSTM with the chapter's gates, one scope per gate; loss = sum of all h_t (or of h_T).
    Returns (loss, params, x)."""
    rng = np.random.default_rng(seed)
    p = params(rng, {"weight_ih": (4 * H, I), "weight_hh": (4 * H, H), "bias": (4 * H,)}, dtype)
    p["bias"].data[H:2 * H] += forget_bias
    x = ag.tensor(rng.standard_normal((T, batch, I)).astype(dtype), name="x")
    h = ag.zeros(batch, H, dtype=dtype, name="h0")
    c = ag.zeros(batch, H, dtype=dtype, name="c0")
    hs = []
    for t in range(T):
        with ag.scope(track, t=t):
            h, c = lstm_step(x[t], h, c, p)
        hs.append(h)
    return (hs[-1].sum() if last_only else ag.stack(hs).sum()), p, x


def lstm_step(x, h, c, p):
    """One step, gate by gate (PyTorch gate order i, f, g, o)."""
    H = h.shape[-1]
    gates = x @ p["weight_ih"].T + h @ p["weight_hh"].T + p["bias"]
    with ag.scope("input_gate"):
        i = ag.sigmoid(gates[:, 0:H])
    with ag.scope("forget_gate"):
        f = ag.sigmoid(gates[:, H:2 * H])
    with ag.scope("cell_candidate"):
        g = ag.tanh(gates[:, 2 * H:3 * H])
    with ag.scope("output_gate"):
        o = ag.sigmoid(gates[:, 3 * H:])
    with ag.scope("cell"):
        c = f * c + i * g
    with ag.scope("hidden"):
        h = o * ag.tanh(c)
    return h, c


def chapter_example():
    """e = (a + b)(b + 1) at a = 2, b = 1 (the chapter's example 1, with its slip fixed)."""
    a = ag.tensor(2.0, dtype="float64", requires_grad=True, name="a")
    b = ag.tensor(1.0, dtype="float64", requires_grad=True, name="b")
    c = a + b
    c.name = "c"
    d = b + 1
    d.name = "d"
    e = c * d
    e.name = "e"
    return e, a, b


def test_elman_matches_numpy():
    loss, p, x = elman(3)
    W, U, b = (p[k].data for k in ("weight_ih", "weight_hh", "bias"))
    h, total = np.zeros((1, 3)), 0.0
    for t in range(3):
        h = np.tanh(x.data[t] @ W.T + h @ U.T + b)
        total += h.sum()
    assert np.isclose(loss.item(), total)


def test_lstm_matches_numpy():
    loss, p, x = lstm(2, last_only=True)
    W, U, b = (p[k].data for k in ("weight_ih", "weight_hh", "bias"))
    sig = lambda z: 1 / (1 + np.exp(-z))       # noqa: E731
    h, c = np.zeros((1, 3)), np.zeros((1, 3))
    for t in range(2):
        z = x.data[t] @ W.T + h @ U.T + b
        i, f, g, o = sig(z[:, :3]), sig(z[:, 3:6]), np.tanh(z[:, 6:9]), sig(z[:, 9:])
        c = f * c + i * g
        h = o * np.tanh(c)
    assert np.isclose(loss.item(), h.sum())
