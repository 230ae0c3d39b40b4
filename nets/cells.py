"""Recurrent cells: one time step each, written gate by gate from autograph ops.

Every cell keeps PyTorch's parameter names, shapes and gate order (``weight_ih`` (G·H, I),
``weight_hh`` (G·H, H), ``bias_ih``, ``bias_hh``), so PyTorch's weights load and give the same
numbers, and opens a scope per gate (``forget_gate``, ``hidden``, ...). Inside a layer the
driver (layers.py) wraps each step in a time-step scope, so a gate's path reads
``lstm[t=3]/forget_gate``.

A cell works in three pieces so that a layer can run it fast:

- ``prepare(get)``: per-call constants (transposed weights, summed biases), computed once per
  forward call from the parameters ``get(name)`` returns;
- ``project(x, p)``: the input's share of every gate, ``x W_ihᵀ + b``: one matmul for all time
  steps when a layer calls it on the whole sequence;
- ``step(xp, state, p)``: one time step from the projected input ``xp``; the recurrent part of
  all gates is one matmul.

``cell(x, state)`` runs the three on one step. Adding a cell means writing these.
"""
import types

import numpy as np

import autograph as ag
from autograph.errors import ShapeError

from .module import Module, generator, uniform


class Cell(Module):
    """What every cell shares: PyTorch's initialisation, the standalone call, size checks.

    Subclasses set ``track`` (the scope name a layer uses), ``state_sizes`` (one size per state
    tensor; two for the LSTMs' (h, c)) and define ``prepare`` and ``step``."""

    track = "rnn"
    folded_bias = ("bias_ih", "bias_hh")    # biases added to the input projection

    def __init__(self, input_size, hidden_size, bias=True, rng=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self._rng = generator(rng)

    def add_weights(self, **shapes):
        """Register parameters drawn from U(-1/√H, 1/√H), PyTorch's default, in the order given.
        Names starting with ``bias`` are skipped when the cell has no bias."""
        bound = 1.0 / np.sqrt(self.hidden_size) if self.hidden_size else 0.0
        for name, shape in shapes.items():
            if self.bias or not name.startswith("bias"):
                setattr(self, name, uniform(shape, bound, self._rng, name=name))
            else:
                self.register_parameter(name, None)

    @property
    def state_sizes(self):
        return (self.hidden_size,)

    # -- the three pieces --------------------------------------------------------------------
    def prepare(self, get):
        """Per-call constants: ``W_ih``/``W_hh`` transposed once, the folded biases summed once."""
        return types.SimpleNamespace(W_ih=get("weight_ih").T, W_hh=get("weight_hh").T,
                                     b=self.input_bias(get))

    def input_bias(self, get):
        total = None
        for name in self.folded_bias:
            b = get(name)
            if b is not None:
                total = b if total is None else total + b
        return total

    def project(self, x, p):
        """x W_ihᵀ + b for every row of ``x``."""
        return x @ p.W_ih if p.b is None else ag.addmm(p.b, x, p.W_ih)

    def step(self, xp, state, p):
        raise NotImplementedError("%s defines no step()" % type(self).__name__)

    @staticmethod
    def output(state):
        """What a step emits: the state, or its first part (h of (h, c))."""
        return state[0] if type(state) is tuple else state

    # -- standalone use ----------------------------------------------------------------------
    def forward(self, x, state=None, **step_args):
        """One step: ``x`` of shape (B, I) or (I,), ``state`` as ``step`` takes it (zeros if
        None); keywords go to ``step`` (a CTRNN's ``dt``)."""
        x = ag.as_tensor(x)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ShapeError("%s: input of shape %s; expected (batch, %d) or (%d,) "
                             "(input_size=%d)" % (self.describe(), x.shape, self.input_size,
                                                  self.input_size, self.input_size))
        lead = x.shape[:-1]
        if state is None:
            state = self.zero_state(lead, x.dtype)
        self.check_state(state, lead)
        state = tuple(map(ag.as_tensor, state)) if type(state) is tuple else ag.as_tensor(state)
        p = self.prepare(lambda name: getattr(self, name))
        return self.step(self.project(x, p), state, p, **step_args)

    def zero_state(self, lead, dtype):
        zeros = tuple(ag.zeros(lead + (n,), dtype=dtype) for n in self.state_sizes)
        return zeros if len(zeros) > 1 else zeros[0]

    def check_state(self, state, lead):
        parts = state if type(state) is tuple else (state,)
        want = [lead + (n,) for n in self.state_sizes]
        got = [tuple(np.shape(s)) for s in parts]
        if got != want:
            raise ShapeError("%s: state of shape %s for an input with batch shape %s; expected %s"
                             % (self.describe(), _shapes(got), lead, _shapes(want)))

    def describe(self):
        return "%s(%d, %d)" % (type(self).__name__, self.input_size, self.hidden_size)

    def extra_repr(self):
        return "%d, %d%s" % (self.input_size, self.hidden_size, "" if self.bias else ", bias=False")


def _shapes(shapes):
    return shapes[0] if len(shapes) == 1 else "(%s)" % ", ".join(str(s) for s in shapes)


NONLINEARITIES = {"tanh": ag.tanh, "relu": ag.relu, "sigmoid": ag.sigmoid,
                  "identity": lambda z: z, "softmax": ag.softmax}


def nonlinearity_of(owner, name, allowed):
    """The activation called ``name``; a clear error for anything else."""
    if name not in allowed:
        raise ValueError("%s: unknown nonlinearity %r; choose one of %s"
                         % (owner, name, ", ".join(repr(a) for a in allowed)))
    return NONLINEARITIES[name]


class RNNCell(Cell):
    """Elman: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)  (or relu)."""

    track = "rnn"

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", rng=None):
        act = nonlinearity_of("RNNCell(%d, %d)" % (input_size, hidden_size), nonlinearity,
                              ("tanh", "relu"))
        super().__init__(input_size, hidden_size, bias, rng)
        self.act, self.nonlinearity = act, nonlinearity
        H = hidden_size
        self.add_weights(weight_ih=(H, input_size), weight_hh=(H, H), bias_ih=(H,), bias_hh=(H,))

    def step(self, xp, h, p):
        with ag.scope("hidden"):
            return self.act(ag.addmm(xp, h, p.W_hh))         # xp + h W_hhᵀ


class JordanCell(Cell):
    """Jordan (figure 6.15): the previous *output* feeds the hidden state.

        h_t = tanh(W_ih x_t + b_ih + W_hh y_{t-1} + b_hh)
        y_t = σ_y(W_ho h_t + b_ho)

    The state carried from step to step is y, of size ``output_size``; ``W_hh`` is (H, output_size).
    """

    track = "jordan"

    def __init__(self, input_size, hidden_size, output_size, bias=True, nonlinearity="tanh",
                 output_nonlinearity="tanh", rng=None):
        name = "JordanCell(%d, %d, %d)" % (input_size, hidden_size, output_size)
        act = nonlinearity_of(name, nonlinearity, ("tanh", "relu"))
        out_act = nonlinearity_of(name, output_nonlinearity,
                                  ("tanh", "sigmoid", "identity", "softmax"))
        super().__init__(input_size, hidden_size, bias, rng)
        self.act, self.out_act = act, out_act
        self.output_size, self.nonlinearity = output_size, nonlinearity
        self.output_nonlinearity = output_nonlinearity
        H, K = hidden_size, output_size
        self.add_weights(weight_ih=(H, input_size), weight_hh=(H, K), bias_ih=(H,), bias_hh=(H,),
                         weight_ho=(K, H), bias_ho=(K,))

    @property
    def state_sizes(self):
        return (self.output_size,)

    def prepare(self, get):
        p = super().prepare(get)
        p.W_ho, p.b_ho = get("weight_ho").T, get("bias_ho")
        return p

    def step(self, xp, y, p):
        with ag.scope("hidden"):
            h = self.act(ag.addmm(xp, y, p.W_hh))         # xp + y W_hhᵀ
        with ag.scope("output"):
            return self.out_act(h @ p.W_ho if p.b_ho is None else ag.addmm(p.b_ho, h, p.W_ho))

    def describe(self):
        return "%s(%d, %d, %d)" % (type(self).__name__, self.input_size, self.hidden_size,
                                   self.output_size)


class LSTMCell(Cell):
    """LSTM (figures 6.20-6.24), gates in PyTorch's order i, f, g, o:

        i = σ(W_ii x + W_hi h + b_i)        f = σ(W_if x + W_hf h + b_f)
        g = tanh(W_ig x + W_hg h + b_g)     o = σ(W_io x + W_ho h + b_o)
        c' = f ⊙ c + i ⊙ g                  h' = o ⊙ tanh(c')

    With ``proj_size`` h' = W_hr (o ⊙ tanh c') has proj_size entries. The state is (h, c); a step
    returns (h', c')."""

    track = "lstm"
    gates = 4

    def __init__(self, input_size, hidden_size, bias=True, proj_size=0, rng=None):
        super().__init__(input_size, hidden_size, bias, rng)
        self.proj_size = proj_size
        H, G = hidden_size, self.gates * hidden_size
        R = proj_size or H
        self.add_weights(weight_ih=(G, input_size), weight_hh=(G, R), bias_ih=(G,), bias_hh=(G,),
                         **self.extra_weights())
        if proj_size:
            self.add_weights(weight_hr=(proj_size, H))

    def extra_weights(self):
        return {}

    @property
    def state_sizes(self):
        return (self.proj_size or self.hidden_size, self.hidden_size)

    def prepare(self, get):
        p = super().prepare(get)
        p.W_hr = get("weight_hr").T if self.proj_size else None
        return p

    def step(self, xp, state, p):
        h, c = state
        # xp + h W_hhᵀ: every gate's pre-activation, cut into the four gates
        zi, zf, zg, zo = ag.split(ag.addmm(xp, h, p.W_hh), 4, axis=-1)
        with ag.scope("input_gate"):
            i = ag.sigmoid(zi)
        with ag.scope("forget_gate"):
            f = ag.sigmoid(zf)
        with ag.scope("cell_candidate"):
            g = ag.tanh(zg)
        with ag.scope("output_gate"):
            o = ag.sigmoid(zo)
        with ag.scope("cell_state"):
            c = ag.addcmul(f * c, i, g)             # f ⊙ c + i ⊙ g
        with ag.scope("hidden"):
            h = o * ag.tanh(c)
            return (h if p.W_hr is None else h @ p.W_hr), c


class PeepholeLSTMCell(LSTMCell):
    """LSTM with peepholes (Gers & Schmidhuber): the gates also look at the cell state through
    diagonal weights, c_{t-1} into i and f, the new c_t into o:

        i = σ(W_ii x + W_hi h + w_ci ⊙ c + b_i)     f = σ(W_if x + W_hf h + w_cf ⊙ c + b_f)
        g = tanh(W_ig x + W_hg h + b_g)             c' = f ⊙ c + i ⊙ g
        o = σ(W_io x + W_ho h + w_co ⊙ c' + b_o)    h' = o ⊙ tanh(c')
    """

    track = "peephole_lstm"

    def __init__(self, input_size, hidden_size, bias=True, rng=None):
        super().__init__(input_size, hidden_size, bias, rng=rng)

    def extra_weights(self):
        H = self.hidden_size
        return {"weight_ci": (H,), "weight_cf": (H,), "weight_co": (H,)}

    def prepare(self, get):
        p = super().prepare(get)
        p.w_ci, p.w_cf, p.w_co = get("weight_ci"), get("weight_cf"), get("weight_co")
        return p

    def step(self, xp, state, p):
        h, c = state
        zi, zf, zg, zo = ag.split(ag.addmm(xp, h, p.W_hh), 4, axis=-1)
        with ag.scope("input_gate"):
            i = ag.sigmoid(zi + p.w_ci * c)
        with ag.scope("forget_gate"):
            f = ag.sigmoid(zf + p.w_cf * c)
        with ag.scope("cell_candidate"):
            g = ag.tanh(zg)
        with ag.scope("cell_state"):
            c = ag.addcmul(f * c, i, g)             # f ⊙ c + i ⊙ g
        with ag.scope("output_gate"):                   # looks at the new cell state
            o = ag.sigmoid(zo + p.w_co * c)
        with ag.scope("hidden"):
            return o * ag.tanh(c), c


class GRUCell(Cell):
    """GRU (figure 6.19), gates in PyTorch's order r, z, n:

        r = σ(W_ir x + b_ir + W_hr h + b_hr)      z = σ(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
        h' = (1 - z) ⊙ n + z ⊙ h
    """

    track = "gru"
    folded_bias = ("bias_ih",)      # b_hn sits inside r ⊙ (...): b_hh stays in the step

    def __init__(self, input_size, hidden_size, bias=True, rng=None):
        super().__init__(input_size, hidden_size, bias, rng)
        G = 3 * hidden_size
        self.add_weights(weight_ih=(G, input_size), weight_hh=(G, hidden_size), bias_ih=(G,),
                         bias_hh=(G,))

    def prepare(self, get):
        p = super().prepare(get)
        p.b_hh = get("bias_hh")
        return p

    def step(self, xp, h, p):
        xr, xz, xn = ag.split(xp, 3, axis=-1)
        hr, hz, hn = ag.split(h @ p.W_hh if p.b_hh is None else ag.addmm(p.b_hh, h, p.W_hh), 3,
                              axis=-1)
        with ag.scope("reset_gate"):
            r = ag.sigmoid(xr + hr)
        with ag.scope("update_gate"):
            z = ag.sigmoid(xz + hz)
        with ag.scope("candidate"):
            n = ag.tanh(xn + r * hn)
        with ag.scope("hidden"):
            return ag.addcmul(n, z, h - n)      # (1 - z) ⊙ n + z ⊙ h = n + z ⊙ (h - n)


class CTRNNCell(Cell):
    """Continuous-time RNN (Beer 1995), integrated over one step of length dt:

        τ dy/dt = -y + W σ(y + θ) + I x + b

    with W = ``weight_hh``, θ = ``bias_hh``, I = ``weight_ih``, b = ``bias_ih``, and one time
    constant per neuron, τ = exp(``log_tau``): positive whatever the optimizer does. ``unfolds``
    sub-steps of length dt/unfolds, by Euler or classical Runge-Kutta (``solver="rk4"``).
    ``dt`` is a number, or given per step (irregular sampling) to ``step(..., dt=)``.
    With ``learn_tau=False`` τ is a buffer: saved and loaded, not trained.
    """

    track = "ctrnn"
    folded_bias = ("bias_ih",)      # θ sits inside σ

    def __init__(self, input_size, hidden_size, tau=1.0, learn_tau=True, dt=1.0, unfolds=1,
                 solver="euler", bias=True, rng=None):
        name = "CTRNNCell(%d, %d)" % (input_size, hidden_size)
        if solver not in ("euler", "rk4"):
            raise ValueError("%s: unknown solver %r; choose 'euler' or 'rk4'" % (name, solver))
        if int(unfolds) != unfolds or unfolds < 1:
            raise ValueError("%s: unfolds must be a positive integer, got %r" % (name, unfolds))
        tau = np.broadcast_to(np.asarray(tau, dtype=np.float64), (hidden_size,))
        if not np.all(tau > 0):
            raise ValueError("%s: tau must be positive, got %s" % (name, tau))
        super().__init__(input_size, hidden_size, bias, rng)
        self.dt, self.unfolds, self.solver, self.learn_tau = dt, int(unfolds), solver, learn_tau
        H = hidden_size
        self.add_weights(weight_ih=(H, input_size), weight_hh=(H, H), bias_ih=(H,), bias_hh=(H,))
        log_tau = np.log(tau).astype(ag.get_default_dtype())
        if learn_tau:
            self.log_tau = ag.tensor(log_tau, requires_grad=True, name="log_tau")
        else:
            self.register_buffer("log_tau", log_tau)

    def prepare(self, get):
        p = super().prepare(get)
        p.theta = get("bias_hh")
        p.inv_tau = ag.exp(-ag.as_tensor(get("log_tau")))
        return p

    def step(self, xp, y, p, dt=None):
        dt = self.dt if dt is None else dt
        h = dt / self.unfolds if self.unfolds > 1 else dt

        def dydt(y):
            s = ag.sigmoid(y if p.theta is None else y + p.theta)
            return (ag.addmm(xp, s, p.W_hh) - y) * p.inv_tau      # (W σ(y+θ) + I x - y) / τ

        with ag.scope("hidden"):
            for _ in range(self.unfolds):
                k1 = dydt(y)
                if self.solver == "euler":
                    y = y + h * k1
                    continue
                k2 = dydt(y + (0.5 * h) * k1)
                k3 = dydt(y + (0.5 * h) * k2)
                k4 = dydt(y + h * k3)
                y = y + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
            return y
