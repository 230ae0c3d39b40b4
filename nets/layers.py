"""Sequence layers: one generic driver runs any cell of cells.py over a sequence.

The driver handles what every recurrent layer shares, with PyTorch's arguments, shapes and
return values: stacked layers, the reverse direction, ``batch_first``, unbatched (T, I) input,
zero initial states, dropout between layers (training only) and ``lengths=`` for
variable-length batches. Parameters live on the layer under PyTorch's keys (``weight_ih_l0``,
``bias_hh_l1_reverse``, ``weight_hr_l0``), in PyTorch's order, so a PyTorch state dict loads.

Each (layer, direction) is a "track" with its own scope name (``lstm``, ``lstm_reverse``,
``lstm_l1``, ...); step t of a track runs inside ``<track>[t=t]``. Per track and call: the
weights are prepared once, the input projection of all T steps is one matmul, then one
``cell.step`` per time step.

``lengths`` follows PyTorch's packed sequences: sequence b is ``x[:lengths[b], b]``; its final
state is the one after its own last step, the reverse direction starts at its own last step,
and its outputs past its end are zero. The output keeps all T steps.
"""
import contextlib

import numpy as np

import autograph as ag
from autograph.errors import ShapeError

from .cells import CTRNNCell, GRUCell, JordanCell, LSTMCell, PeepholeLSTMCell, RNNCell
from .module import Dropout, Module, generator


class Recurrent(Module):
    """The generic driver. ``make_cell(input_size, rng)`` builds the cell of one track (its
    parameters are then registered on the layer); subclasses only say which cell."""

    def __init__(self, make_cell, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, rng=None):
        if int(num_layers) != num_layers or num_layers < 1:
            raise ValueError("%s: num_layers must be a positive integer, got %r"
                             % (type(self).__name__, num_layers))
        if not 0.0 <= dropout <= 1.0:
            raise ValueError("%s: dropout must lie in [0, 1], got %r"
                             % (type(self).__name__, dropout))
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        self.dropout = dropout
        rng = generator(rng)
        self._drop = [Dropout(dropout, rng)]            # a list: not a registered child
        self._tracks = []                               # (cell, suffix, scope name)
        size = input_size
        for layer in range(num_layers):
            for reverse in range(self.num_directions):
                try:
                    cell = make_cell(size, rng)
                except ValueError as err:
                    raise ValueError("%s(%d, %d, ...): %s" % (
                        type(self).__name__, input_size, hidden_size, err)) from None
                suffix = "_l%d%s" % (layer, "_reverse" if reverse else "")
                for name, p in cell._parameters.items():
                    if p is not None:
                        p.name = name + suffix      # pictures and listings show the key
                    self.register_parameter(name + suffix, p)
                for name, b in cell._buffers.items():
                    self.register_buffer(name + suffix, b)
                track = cell.track + ("_l%d" % layer if layer else "") + (
                    "_reverse" if reverse else "")
                self._tracks.append((cell, suffix, track))
            size = cell.state_sizes[0] * self.num_directions

    num_directions = property(lambda self: 2 if self.bidirectional else 1)

    # Steps run inside ag.release_unneeded(): values that no derivative reads (pre-activations,
    # products added into a state, the projected inputs) are freed as the sequence goes (about
    # a third less memory for a long sequence). True keeps them for pictures and the debugger.
    keep_values = False

    def forward(self, x, hx=None, lengths=None):
        """x: (T, B, I), (B, T, I) with ``batch_first``, or unbatched (T, I). Returns
        (output, h_n), or (output, (h_n, c_n)) for the LSTMs; output is (T, B, D·H_out)."""
        return self.run(x, hx, lengths)

    def run(self, x, hx=None, lengths=None, per_step=None):
        """The driver. ``per_step`` maps a keyword of ``cell.step`` to a (T, B, 1) or (T, 1, 1)
        tensor whose row t is passed at step t (a CTRNN's dt)."""
        x = ag.as_tensor(x)
        batched = self.check_input(x)
        if not batched:
            x = ag.expand_dims(x, 1)
        elif self.batch_first:
            x = ag.swapaxes(x, 0, 1)
        T, B = x.shape[:2]
        states = self.initial_states(hx, B, x.dtype, batched)
        masks = self.masks(lengths, T, B, batched)
        inp = ag.reshape(x, (T * B, x.shape[2]))
        drop = self._drop[0]
        finals = []
        with self.releasing():
            for layer in range(self.num_layers):
                if layer and self.training and self.dropout:
                    inp = drop(inp)
                outs = []
                for reverse in range(self.num_directions):
                    k = layer * self.num_directions + reverse
                    out, state = self.run_track(self._tracks[k], inp, states[k], T, masks,
                                                reverse, per_step)
                    outs.append(out)
                    finals.append(state)
                inp = ag.concat(outs, axis=1)
        output = ag.reshape(inp, (T, B, inp.shape[1]))
        if not batched:
            output = ag.reshape(output, (T, inp.shape[1]))
        elif self.batch_first:
            output = ag.swapaxes(output, 0, 1)
        return output, self.final_states(finals, batched)

    def run_track(self, track, inp, state, T, masks, reverse, per_step):
        """One layer in one direction over the sequence: (outputs (T·B, H_out), final state)."""
        cell, suffix, name = track
        with ag.scope(name):
            p = cell.prepare(lambda key: getattr(self, key + suffix))
            shares = ag.split(cell.project(inp, p), T)      # each step's rows, (B, G)
        if not reverse:
            shares.reverse()    # popped as used: a used share is then held by the graph only
        outs = [None] * T
        # a block of its own: the projection is released before the outputs are joined
        with self.releasing():
            for t in (range(T - 1, -1, -1) if reverse else range(T)):
                with ag.scope(name, t=t):
                    extra = {k: v[t] for k, v in per_step.items()} if per_step else {}
                    new = cell.step(shares.pop(), state, p, **extra)
                    if masks is None:
                        state = new
                        outs[t] = cell.output(new)
                    else:
                        # a finished (or, in reverse, not yet started) sequence keeps its state
                        state = _where(masks[t], new, state)
                        outs[t] = ag.where(masks[t], cell.output(new), 0.0)
        return ag.concat(outs, axis=0), state

    def releasing(self):
        """The block the steps run in: release_unneeded(), unless ``keep_values``."""
        return contextlib.nullcontext() if self.keep_values else ag.release_unneeded()

    # -- checking and shaping inputs -------------------------------------------------------
    def check_input(self, x):
        """True for a batched input; a clear error for a wrong rank or feature size."""
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size or not x.numel():
            layout = "(batch, seq, %d)" if self.batch_first else "(seq, batch, %d)"
            raise ShapeError("%s: input of shape %s; expected %s or unbatched (seq, %d), the "
                             "last axis being input_size=%d and no axis empty" % (
                                 self.describe(), x.shape, layout % self.input_size,
                                 self.input_size, self.input_size))
        return x.ndim == 3

    def initial_states(self, hx, B, dtype, batched):
        """One state per track: slices of ``hx`` (checked), or zeros."""
        if hx is None:
            return [cell.zero_state((B,), dtype) for cell, _, _ in self._tracks]
        sizes = self._tracks[-1][0].state_sizes
        parts = hx if isinstance(hx, tuple) else (hx,)
        if len(parts) != len(sizes):
            raise ShapeError("%s: hx must be %s, got %d tensor(s)" % (
                self.describe(), "a tuple (h_0, c_0)" if len(sizes) == 2 else "one tensor",
                len(parts)))
        parts = [ag.as_tensor(h) for h in parts]
        n = len(self._tracks)
        for name, h, size in zip(("h_0", "c_0"), parts, sizes):
            want = (n, B, size) if batched else (n, size)
            if h.shape != want:
                raise ShapeError(
                    "%s: %s of shape %s; expected %s = (num_layers * num_directions, %s%d) for "
                    "%s; pass hx=None for zeros" % (
                        self.describe(), name, h.shape, want, "batch, " if batched else "", size,
                        "a batch of %d" % B if batched else "an unbatched input (seq, features)"))
        if not batched:
            parts = [ag.expand_dims(h, 1) for h in parts]
        return [tuple(h[k] for h in parts) if len(parts) > 1 else parts[0][k] for k in range(n)]

    def final_states(self, finals, batched):
        """h_n (and c_n) of shape (num_layers * num_directions, B, H), without B if unbatched."""
        parts = list(zip(*finals)) if type(finals[0]) is tuple else [finals]
        stacked = [ag.stack(list(p)) for p in parts]
        if not batched:
            stacked = [ag.squeeze(s, 1) for s in stacked]
        return tuple(stacked) if len(stacked) > 1 else stacked[0]

    def masks(self, lengths, T, B, batched):
        """(T, B, 1) booleans: step t belongs to sequence b; None without ``lengths``."""
        if lengths is None:
            return None
        lengths = np.asarray(lengths.data if isinstance(lengths, ag.Tensor) else lengths)
        if not batched:
            raise ShapeError("%s: lengths= needs a batched input (seq, batch, features); got an "
                             "unbatched one" % self.describe())
        if lengths.shape != (B,) or lengths.dtype.kind not in "iu":
            raise ShapeError("%s: lengths must hold one integer per sequence of the batch, "
                             "shape (%d,); got shape %s of dtype %s"
                             % (self.describe(), B, lengths.shape, lengths.dtype))
        if lengths.size and (lengths.min() < 1 or lengths.max() > T):
            raise ShapeError("%s: lengths must lie in [1, %d] (the input has %d steps), got "
                             "min %d, max %d; pad the input to the longest sequence"
                             % (self.describe(), T, T, lengths.min(), lengths.max()))
        return (np.arange(T)[:, None] < lengths[None, :])[:, :, None]

    def describe(self):
        return "%s(%s)" % (type(self).__name__, self.extra_repr())

    def sizes(self):
        return "%d, %d" % (self.input_size, self.hidden_size)

    def extra_repr(self):
        s = self.sizes()
        for name, default in (("num_layers", 1), ("bias", True), ("batch_first", False),
                              ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, name) != default:
                s += ", %s=%s" % (name, getattr(self, name))
        return s


def _where(mask, new, old):
    if type(new) is tuple:
        return tuple(ag.where(mask, a, b) for a, b in zip(new, old))
    return ag.where(mask, new, old)


class RNN(Recurrent):
    """Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) (or relu), stacked."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, rng=None):
        super().__init__(lambda n, rng: RNNCell(n, hidden_size, bias, nonlinearity, rng),
                         input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, rng)
        self.nonlinearity = nonlinearity

    def extra_repr(self):
        return super().extra_repr() + (", nonlinearity=%r" % self.nonlinearity
                                       if self.nonlinearity != "tanh" else "")


class LSTM(Recurrent):
    """LSTM layers; with ``proj_size`` > 0, h = W_hr (o ⊙ tanh c) of size proj_size.
    Returns (output, (h_n, c_n))."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, rng=None):
        if not 0 <= proj_size < max(hidden_size, 1):
            raise ValueError("LSTM(%d, %d): proj_size must lie in [0, hidden_size), got %r"
                             % (input_size, hidden_size, proj_size))
        super().__init__(lambda n, rng: LSTMCell(n, hidden_size, bias, proj_size, rng),
                         input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, rng)
        self.proj_size = proj_size

    def extra_repr(self):
        return super().extra_repr() + (", proj_size=%d" % self.proj_size if self.proj_size else "")


class GRU(Recurrent):
    """GRU layers (gates r, z, n as PyTorch's)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, rng=None):
        super().__init__(lambda n, rng: GRUCell(n, hidden_size, bias, rng), input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional, rng)


class PeepholeLSTM(Recurrent):
    """LSTM layers with peephole connections (``weight_ci_l0``, ``weight_cf_l0``,
    ``weight_co_l0`` after PyTorch's four). Returns (output, (h_n, c_n))."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, rng=None):
        super().__init__(lambda n, rng: PeepholeLSTMCell(n, hidden_size, bias, rng), input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional, rng)


class JordanRNN(Recurrent):
    """Jordan layers: each step's output y_t (size ``output_size``) is fed back. The output
    sequence and h_n hold y; a layer above reads y."""

    def __init__(self, input_size, hidden_size, output_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, nonlinearity="tanh",
                 output_nonlinearity="tanh", rng=None):
        super().__init__(lambda n, rng: JordanCell(n, hidden_size, output_size, bias, nonlinearity,
                                                   output_nonlinearity, rng),
                         input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, rng)
        self.output_size = output_size

    def sizes(self):
        return "%d, %d, %d" % (self.input_size, self.hidden_size, self.output_size)


class CTRNN(Recurrent):
    """Continuous-time RNN layers (Beer): τ dy/dt = -y + W σ(y + θ) + I x + b, integrated over
    each step. ``forward(x, hx, lengths, dt=None)``: dt overrides the layers' dt, as a number,
    one per step (shape (T,)) or one per step and sequence (the input's shape without its
    feature axis), for irregular sampling; it may be a tensor that requires grad."""

    def __init__(self, input_size, hidden_size, num_layers=1, tau=1.0, learn_tau=True, dt=1.0,
                 unfolds=1, solver="euler", bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, rng=None):
        super().__init__(lambda n, rng: CTRNNCell(n, hidden_size, tau, learn_tau, dt, unfolds,
                                                  solver, bias, rng),
                         input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, rng)

    def forward(self, x, hx=None, lengths=None, dt=None):
        if dt is None:
            return self.run(x, hx, lengths)
        return self.run(x, hx, lengths, {"dt": self.dt_per_step(ag.as_tensor(x), dt)})

    def dt_per_step(self, x, dt):
        """dt as a (T, B, 1) or (T, 1, 1) tensor, row t being step t's."""
        batched = self.check_input(x)
        dt = dt if isinstance(dt, ag.Tensor) else ag.tensor(np.asarray(dt, dtype=x.dtype))
        T = x.shape[1] if batched and self.batch_first else x.shape[0]
        if dt.ndim == 0 or dt.shape == (T,):
            return ag.broadcast_to(ag.reshape(dt, (-1, 1, 1)), (T, 1, 1))
        if batched and dt.shape == x.shape[:2]:
            dt = ag.swapaxes(dt, 0, 1) if self.batch_first else dt
            return ag.expand_dims(dt, 2)
        raise ShapeError("%s: dt of shape %s; expected a number, (%d,) (one per step) or %s (one "
                         "per step and sequence)" % (self.describe(), dt.shape, T, x.shape[:-1]))
