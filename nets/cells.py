"""Recurrent cells: one time step each, written gate by gate from autograph ops.

A cell is one time step of a recurrent network: ``step(x_t, state)`` takes the step's input
(batch, input_size) and the previous state and returns the new state. Writing one means
subclassing ``Cell``, assigning parameters in ``__init__`` and writing ``step``; ``Recurrent``
(layers.py) runs it over sequences, stacked, in both directions, with ``lengths=``. Inside a
layer each step runs in a time-step scope, so a gate opened with ``ag.scope("forget_gate")``
reads ``lstm[t=3]/forget_gate``; a tensor named as the cell computes it (``f.name = "f_t"``) is
called so in every picture, listing and debugger message.

The built-in cells keep PyTorch's parameter names, shapes and gate order (``weight_ih`` (G·H, I),
``weight_hh`` (G·H, H), ``bias_ih``, ``bias_hh``), so PyTorch's weights load and give the same
numbers, and name their tensors with the chapter's symbols (LSTM i_t, f_t, g_t, o_t, c_t, h_t;
GRU r_t, z_t, n_t, h_t; Elman s_t). They run the fast protocol, which a cell may add as an
optimisation: the input's share of every gate, ``x W_ihᵀ + b``, is one matmul for all time steps
instead of one per step. Such a cell defines

- ``prepare(get)``: per-call constants (transposed weights, summed biases), computed once per
  forward call from the parameters ``get(name)`` returns;
- ``project(x, p)``: the input's share of every gate, for every row of ``x``;
- ``step(xp, state, p)``: one time step from the projected input ``xp``.
"""
import types

import numpy as np

import autograph as ag
from autograph.errors import ShapeError

from .module import Module, generator, uniform


class Cell(Module):
    """One time step of a recurrent network. Subclass it, assign parameters in ``__init__``
    (``self.W_f = nets.Parameter(...)``) and write ``step(x_t, state) -> state``.

    - ``state_size``: the state's size, ``hidden_size`` unless set: the state is one tensor
      (batch, state_size), zeros at the start. A tuple of sizes makes it a tuple of tensors,
      as an LSTM's ``(h, c)`` with ``state_size = (H, H)``.
    - ``output(state)``: what a step emits, the state or its first part; a cell that emits
      something else overrides it and sets ``output_size``.
    - ``track``: the scope name of its steps in a layer; by default the class name in lower
      case, less a trailing "cell".
    - ``rng``: the generator its weights are drawn from (``Recurrent(..., rng=)`` passes one).

    ``cell(x, state=None)`` runs one step on its own (zeros for a state of None).
    """

    track = None
    output_size = None          # None: the size of the state's first part
    prepare = project = None    # the fast protocol (see the module's docstring), when defined

    def __init__(self, input_size, hidden_size, bias=True, rng=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.state_size = hidden_size
        self.rng = generator(rng)

    def add_weights(self, **shapes):
        """Register parameters drawn from U(-1/√H, 1/√H), PyTorch's default, in the order given.
        Names starting with ``bias`` are skipped when the cell has no bias."""
        bound = 1.0 / np.sqrt(self.hidden_size) if self.hidden_size else 0.0
        for name, shape in shapes.items():
            if self.bias or not name.startswith("bias"):
                setattr(self, name, uniform(shape, bound, self.rng, name=name))
            else:
                self.register_parameter(name, None)

    @property
    def state_sizes(self):
        """``state_size`` as a tuple: one size per state tensor."""
        return tuple(self.state_size) if self.tuple_state else (self.state_size,)

    tuple_state = property(lambda self: isinstance(self.state_size, (tuple, list)),
                           doc="True when the state is a tuple of tensors.")

    def step(self, x_t, state):
        raise NotImplementedError("%s defines no step(x_t, state)" % type(self).__name__)

    def output(self, state):
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
        if self.project is None:
            new = self.step(x, state, **step_args)
        else:
            p = self.prepare(lambda name: getattr(self, name))
            new = self.step(self.project(x, p), state, p, **step_args)
        self.check_state(new, lead, "step() returned a state")
        return new

    def zero_state(self, lead, dtype):
        zeros = tuple(ag.zeros(lead + (n,), dtype=dtype) for n in self.state_sizes)
        return zeros if self.tuple_state else zeros[0]

    def check_state(self, state, lead, what="state"):
        """A clear error unless ``state`` has the shapes (and tuple-ness) ``state_size`` says,
        after the batch shape ``lead``. ``what``: the state's part in the message."""
        parts = state if type(state) is tuple else (state,)
        want = [lead + (n,) for n in self.state_sizes]
        got = [tuple(np.shape(s)) for s in parts]
        if got != want or (type(state) is tuple) != self.tuple_state:
            raise ShapeError("%s: %s of shape %s for an input with batch shape %s; expected %s "
                             "(state_size=%s)" % (self.describe(), what, _shapes(got), lead,
                                                  _shapes(want), self.state_size))

    def describe(self):
        return "%s(%d, %d)" % (type(self).__name__, self.input_size, self.hidden_size)

    def extra_repr(self):
        return "%d, %d%s" % (self.input_size, self.hidden_size, "" if self.bias else ", bias=False")


class ProjectedCell(Cell):
    """A cell in PyTorch's layout on the fast protocol: ``prepare`` transposes ``weight_ih`` and
    ``weight_hh`` once and sums the biases that fold into the input projection (``folded_bias``),
    ``project`` is x W_ihᵀ + b; subclasses write ``step(xp, state, p)``."""

    folded_bias = ("bias_ih", "bias_hh")    # biases added to the input projection

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


class RNNCell(ProjectedCell):
    """Elman: s_t = tanh(W_ih x_t + b_ih + W_hh s_{t-1} + b_hh)  (or relu); the chapter's
    s_t = tanh(U x_t + W s_{t-1}), its state named s_t."""

    track = "rnn"

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", rng=None):
        act = nonlinearity_of("RNNCell(%d, %d)" % (input_size, hidden_size), nonlinearity,
                              ("tanh", "relu"))
        super().__init__(input_size, hidden_size, bias, rng)
        self.act, self.nonlinearity = act, nonlinearity
        H = hidden_size
        self.add_weights(weight_ih=(H, input_size), weight_hh=(H, H), bias_ih=(H,), bias_hh=(H,))

    def step(self, xp, s, p):
        with ag.scope("hidden"):
            s = self.act(ag.addmm(xp, s, p.W_hh))            # xp + s W_hhᵀ
            s.name = "s_t"
            return s


class JordanCell(ProjectedCell):
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
        self.state_size = output_size
        self.output_nonlinearity = output_nonlinearity
        H, K = hidden_size, output_size
        self.add_weights(weight_ih=(H, input_size), weight_hh=(H, K), bias_ih=(H,), bias_hh=(H,),
                         weight_ho=(K, H), bias_ho=(K,))

    def prepare(self, get):
        p = super().prepare(get)
        p.W_ho, p.b_ho = get("weight_ho").T, get("bias_ho")
        return p

    def step(self, xp, y, p):
        with ag.scope("hidden"):
            h = self.act(ag.addmm(xp, y, p.W_hh))         # xp + y W_hhᵀ
            h.name = "h_t"
        with ag.scope("output"):
            y = self.out_act(h @ p.W_ho if p.b_ho is None else ag.addmm(p.b_ho, h, p.W_ho))
            y.name = "y_t"
            return y

    def describe(self):
        return "%s(%d, %d, %d)" % (type(self).__name__, self.input_size, self.hidden_size,
                                   self.output_size)


class LSTMCell(ProjectedCell):
    """LSTM (figures 6.20-6.24), gates in PyTorch's order i, f, g, o:

        i_t = σ(W_ii x_t + W_hi h_{t-1} + b_i)      f_t = σ(W_if x_t + W_hf h_{t-1} + b_f)
        g_t = tanh(W_ig x_t + W_hg h_{t-1} + b_g)   o_t = σ(W_io x_t + W_ho h_{t-1} + b_o)
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t             h_t = o_t ⊙ tanh(c_t)

    (the chapter's C̃_t is g_t, its C_t is c_t). With ``proj_size`` h_t = W_hr (o_t ⊙ tanh c_t)
    has proj_size entries. The state is (h, c); a step returns (h_t, c_t)."""

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
        self.state_size = (R, H)

    def extra_weights(self):
        return {}

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
            i.name = "i_t"
        with ag.scope("forget_gate"):
            f = ag.sigmoid(zf)
            f.name = "f_t"
        with ag.scope("cell_candidate"):
            g = ag.tanh(zg)
            g.name = "g_t"
        with ag.scope("output_gate"):
            o = ag.sigmoid(zo)
            o.name = "o_t"
        with ag.scope("cell_state"):
            c = ag.addcmul(f * c, i, g)             # f ⊙ c + i ⊙ g
            c.name = "c_t"
        with ag.scope("hidden"):
            h = o * ag.tanh(c)
            if p.W_hr is not None:
                h = h @ p.W_hr
            h.name = "h_t"
            return h, c


class PeepholeLSTMCell(LSTMCell):
    """LSTM with peepholes (Gers & Schmidhuber): the gates also look at the cell state through
    diagonal weights, c_{t-1} into i and f, the new c_t into o:

        i_t = σ(W_ii x_t + W_hi h_{t-1} + w_ci ⊙ c_{t-1} + b_i)
        f_t = σ(W_if x_t + W_hf h_{t-1} + w_cf ⊙ c_{t-1} + b_f)
        g_t = tanh(W_ig x_t + W_hg h_{t-1} + b_g)       c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
        o_t = σ(W_io x_t + W_ho h_{t-1} + w_co ⊙ c_t + b_o)    h_t = o_t ⊙ tanh(c_t)
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
            i.name = "i_t"
        with ag.scope("forget_gate"):
            f = ag.sigmoid(zf + p.w_cf * c)
            f.name = "f_t"
        with ag.scope("cell_candidate"):
            g = ag.tanh(zg)
            g.name = "g_t"
        with ag.scope("cell_state"):
            c = ag.addcmul(f * c, i, g)             # f ⊙ c + i ⊙ g
            c.name = "c_t"
        with ag.scope("output_gate"):                   # looks at the new cell state
            o = ag.sigmoid(zo + p.w_co * c)
            o.name = "o_t"
        with ag.scope("hidden"):
            h = o * ag.tanh(c)
            h.name = "h_t"
            return h, c


class GRUCell(ProjectedCell):
    """GRU (figure 6.19), gates in PyTorch's order r, z, n:

        r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
        z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
        n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))
        h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}
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
            r.name = "r_t"
        with ag.scope("update_gate"):
            z = ag.sigmoid(xz + hz)
            z.name = "z_t"
        with ag.scope("candidate"):
            n = ag.tanh(xn + r * hn)
            n.name = "n_t"
        with ag.scope("hidden"):
            h = ag.addcmul(n, z, h - n)         # (1 - z) ⊙ n + z ⊙ h = n + z ⊙ (h - n)
            h.name = "h_t"
            return h


class CTRNNCell(ProjectedCell):
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
            y.name = "y_t"
            return y
