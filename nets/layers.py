"""Sequence layers: one generic driver runs any cell over a sequence.

The driver, ``Recurrent``, handles what every recurrent layer shares, with PyTorch's arguments,
shapes and return values: stacked layers, the reverse direction, ``batch_first``, unbatched
(T, I) input, zero initial states, dropout between layers (training only) and ``lengths=``
for variable-length batches. Parameters live on the layer under PyTorch's keys: a cell's
parameter ``weight_ih`` is ``weight_ih_l0`` for the first layer, ``weight_ih_l1_reverse`` for
the second layer's reverse direction, in PyTorch's order, so a PyTorch state dict loads.

Each (layer, direction) is a "track" with its own scope name (``lstm``, ``lstm_reverse``,
``lstm_l1``, ...); step t of a track runs inside ``<track>[t=t]``. A cell on the fast protocol
(cells.py) has its weights prepared once per track and call and the input projection of all T
steps done as one matmul; any other cell gets each step's rows of the input as they are.

``lengths`` follows PyTorch's packed sequences: sequence b is ``x[:lengths[b], b]``; its final
state is the one after its own last step, the reverse direction starts at its own last step,
and its outputs past its end are zero. The output keeps all T steps.
"""
import contextlib
import functools
import numbers

import numpy as np

import autograph as ag
from autograph.errors import ShapeError

from .cells import CTRNNCell, Cell, GRUCell, JordanCell, LSTMCell, PeepholeLSTMCell, RNNCell
from .module import Dropout, Module, generator


class Track:
    """One layer in one direction: its cell, the suffix of its keys (``_l1_reverse``), its scope
    name, and ``slots``, the (module, attribute, key) of each of the cell's parameters and
    buffers, through which the layer's entries are handed to the cell before it runs."""

    __slots__ = ("cell", "suffix", "name", "slots", "modules", "output_size")

    def __init__(self, cell, suffix, name, slots):
        self.cell, self.suffix, self.name, self.slots = cell, suffix, name, slots
        self.modules = cell.modules()
        out = cell.output_size
        self.output_size = cell.state_sizes[0] if out is None else out


class Recurrent(Module):
    """Runs a cell over sequences: ``Recurrent(MyCell, input_size, hidden_size, num_layers=1,
    batch_first=False, dropout=0.0, bidirectional=False, rng=None)``.

    ``cell`` is a ``nets.Cell`` subclass, called as ``MyCell(layer_input_size, hidden_size)``,
    or a factory taking the same two arguments and returning a cell; ``rng`` (a seed or a
    numpy Generator), when given, is passed on as ``rng=``, one Generator for every track.
    Each track gets its own cell; a cell parameter ``W_f`` is the layer's ``W_f_l0``,
    ``W_f_l0_reverse``, ``W_f_l1``, ... A layer above the first reads the outputs of both
    directions, so its cells get ``num_directions`` times the cell's output size.

    ``forward(x, hx=None, lengths=None)`` returns ``(output, h_n)``: the outputs of the last
    layer, (T, B, D·H_out), and the final states stacked as (num_layers·D, B, size), a tuple of
    such for a tuple state (``(h_n, c_n)``). ``dropout`` may be changed at any time."""

    def __init__(self, cell, input_size, hidden_size, num_layers=1, batch_first=False,
                 dropout=0.0, bidirectional=False, rng=None):
        if int(num_layers) != num_layers or num_layers < 1:
            raise ValueError("%s: num_layers must be a positive integer, got %r"
                             % (type(self).__name__, num_layers))
        super().__init__()
        rng = generator(rng)
        self._drop = [Dropout(0.0, rng)]                # a list: not a registered child
        self.dropout = dropout
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.batch_first, self.bidirectional = batch_first, bidirectional
        extra = {} if rng is None else {"rng": rng}
        self._tracks = []
        size = input_size
        for layer in range(num_layers):
            for reverse in range(self.num_directions):
                try:
                    made = cell(size, hidden_size, **extra)
                except ValueError as err:
                    raise ValueError("%s(%d, %d, ...): %s" % (
                        type(self).__name__, input_size, hidden_size, err)) from None
                track = self.add_track(made, size, layer, reverse)
            size = track.output_size * self.num_directions

    num_directions = property(lambda self: 2 if self.bidirectional else 1)

    @property
    def dropout(self):
        """The probability of zeroing an input of the layers above the first (training only)."""
        return self._drop[0].p

    @dropout.setter
    def dropout(self, p):
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
            raise ValueError("%s: dropout must be a number in [0, 1], got %r"
                             % (type(self).__name__, p))
        self._drop[0].p = float(p)

    def add_track(self, cell, size, layer, reverse):
        """Register ``cell``'s parameters and buffers under the track's keys."""
        if not isinstance(cell, Cell):
            raise TypeError("%s: the cell factory returned %s; expected a nets.Cell"
                            % (type(self).__name__, type(cell).__name__))
        if (cell.prepare is None) != (cell.project is None):
            raise TypeError("%s: %s defines only one of prepare() and project(); the fast "
                            "protocol needs both (or neither, for step(x_t, state))"
                            % (type(self).__name__, type(cell).__name__))
        if cell.input_size != size:
            raise ValueError("%s: the cell of layer %d has input_size %r; it must be %d (the %s)"
                             % (type(self).__name__, layer, cell.input_size, size,
                                "layer's input size" if layer == 0 else
                                "output size of the layer below times num_directions"))
        suffix = "_l%d%s" % (layer, "_reverse" if reverse else "")
        slots = []
        for prefix, module in cell.named_modules():
            for registry, register in ((module._parameters, self.register_parameter),
                                       (module._buffers, self.register_buffer)):
                for name, value in registry.items():
                    key = (prefix + "." if prefix else "") + name + suffix
                    if isinstance(value, ag.Tensor):
                        value.name = key        # pictures and listings show the key
                    register(key, value)
                    slots.append((module, name, key))
        name = (cell.track or _default_track(cell)) + ("_l%d" % layer if layer else "") + (
            "_reverse" if reverse else "")
        track = Track(cell, suffix, name, slots)
        self._tracks.append(track)
        return track

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
                if layer and self.training and drop.p:
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
        cell = track.cell
        for module in track.modules:            # the layer's entries and mode, as they are now
            object.__setattr__(module, "training", self.training)
        for module, name, key in track.slots:
            object.__setattr__(module, name, getattr(self, key))
        with ag.scope(track.name):
            if cell.project is None:
                p, step = None, _raw_step(cell)
                shares = ag.split(inp, T)                   # each step's rows, (B, I)
            else:
                p, step = cell.prepare(lambda key: getattr(self, key + track.suffix)), cell.step
                shares = ag.split(cell.project(inp, p), T)  # each step's rows, (B, G)
        if not reverse:
            shares.reverse()    # popped as used: a used share is then held by the graph only
        outs = [None] * T
        # a block of its own: the projection is released before the outputs are joined
        with self.releasing():
            for t in (range(T - 1, -1, -1) if reverse else range(T)):
                with ag.scope(track.name, t=t):
                    extra = {k: v[t] for k, v in per_step.items()} if per_step else {}
                    new = step(shares.pop(), state, p, **extra)
                    if masks is None:
                        state = new
                        outs[t] = cell.output(new)
                    else:
                        # a finished (or, in reverse, not yet started) sequence keeps its state
                        state = _where(masks[t], new, state)
                        outs[t] = ag.where(masks[t], cell.output(new), 0.0)
        # once per track, not per step: a state of the wrong shape may broadcast without error
        cell.check_state(new, (inp.shape[0] // T,), "step() returned a state")
        out = ag.concat(outs, axis=0)
        if out.shape[1:] != (track.output_size,):
            raise ShapeError("%s: %s.output() gave shape %s per step; expected (%d, %d) (set the "
                             "cell's output_size if it emits something other than its state)"
                             % (self.describe(), type(cell).__name__, outs[0].shape,
                                outs[0].shape[0], track.output_size))
        return out, state

    def releasing(self):
        """The block the steps run in: release_unneeded(), unless ``keep_values``."""
        return contextlib.nullcontext() if self.keep_values else ag.release_unneeded()

    # -- checking and shaping inputs -------------------------------------------------------
    def check_input(self, x):
        """True for a batched input; a clear error for a wrong rank, feature size or no step.
        A batch of 0 is allowed (as PyTorch): the outputs are empty."""
        time_axis = 1 if x.ndim == 3 and self.batch_first else 0
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size or not x.shape[time_axis]:
            layout = "(batch, seq, %d)" if self.batch_first else "(seq, batch, %d)"
            raise ShapeError("%s: input of shape %s; expected %s or unbatched (seq, %d), the "
                             "last axis being input_size=%d and seq at least 1" % (
                                 self.describe(), x.shape, layout % self.input_size,
                                 self.input_size, self.input_size))
        return x.ndim == 3

    def initial_states(self, hx, B, dtype, batched):
        """One state per track: slices of ``hx`` (checked), or zeros."""
        if hx is None:
            return [track.cell.zero_state((B,), dtype) for track in self._tracks]
        cell = self._tracks[-1].cell
        sizes, names = cell.state_sizes, _state_names(cell)
        parts = hx if isinstance(hx, tuple) else (hx,)
        if len(parts) != len(sizes) or isinstance(hx, tuple) != cell.tuple_state:
            raise ShapeError("%s: hx must be %s, got %s" % (
                self.describe(), "a tuple (%s)" % ", ".join(names) if cell.tuple_state
                else "one tensor", "a tuple of %d" % len(parts) if isinstance(hx, tuple)
                else "one tensor"))
        parts = [ag.as_tensor(h) for h in parts]
        n = len(self._tracks)
        for name, h, size in zip(names, parts, sizes):
            want = (n, B, size) if batched else (n, size)
            if h.shape != want:
                raise ShapeError(
                    "%s: %s of shape %s; expected %s = (num_layers * num_directions, %s%d) for "
                    "%s; pass hx=None for zeros" % (
                        self.describe(), name, h.shape, want, "batch, " if batched else "", size,
                        "a batch of %d" % B if batched else "an unbatched input (seq, features)"))
        if not batched:
            parts = [ag.expand_dims(h, 1) for h in parts]
        return [tuple(h[k] for h in parts) if cell.tuple_state else parts[0][k]
                for k in range(n)]

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
        if lengths.shape == (0,):
            lengths = lengths.astype(np.int64)          # [] for a batch of 0
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
        """The leading arguments of the repr; a plain Recurrent names its cell first."""
        cell = type(self._tracks[0].cell).__name__ + ", " if type(self) is Recurrent else ""
        return "%s%d, %d" % (cell, self.input_size, self.hidden_size)

    def extra_repr(self):
        s = self.sizes()
        for name, default in (("num_layers", 1), ("bias", True), ("batch_first", False),
                              ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, name, default) != default:
                s += ", %s=%s" % (name, getattr(self, name))
        return s


def _raw_step(cell):
    """``cell.step(x_t, state)`` called as the fast protocol's ``step(xp, state, p)``; each
    step's input is named x_t."""
    step = cell.step

    def raw(x_t, state, p, **extra):
        x_t.name = "x_t"
        return step(x_t, state, **extra)
    return raw


def _default_track(cell):
    name = type(cell).__name__.lower()
    return name[:-4] if name.endswith("cell") and len(name) > 4 else name


def _state_names(cell):
    """What hx's parts are called in messages: h_0 (and c_0), else hx[0], hx[1], ..."""
    n = len(cell.state_sizes)
    return ("h_0", "c_0")[:n] if n <= 2 else tuple("hx[%d]" % k for k in range(n))


def _where(mask, new, old):
    if type(new) is tuple:
        return tuple(ag.where(mask, a, b) for a, b in zip(new, old))
    return ag.where(mask, new, old)


class RNN(Recurrent):
    """Elman RNN: s_t = tanh(W_ih x_t + b_ih + W_hh s_{t-1} + b_hh) (or relu), stacked."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, rng=None):
        super().__init__(functools.partial(RNNCell, bias=bias, nonlinearity=nonlinearity),
                         input_size, hidden_size, num_layers, batch_first, dropout, bidirectional,
                         rng)
        self.bias, self.nonlinearity = bias, nonlinearity

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
        super().__init__(functools.partial(LSTMCell, bias=bias, proj_size=proj_size), input_size,
                         hidden_size, num_layers, batch_first, dropout, bidirectional, rng)
        self.bias, self.proj_size = bias, proj_size

    def extra_repr(self):
        return super().extra_repr() + (", proj_size=%d" % self.proj_size if self.proj_size else "")


class GRU(Recurrent):
    """GRU layers (gates r, z, n as PyTorch's)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, rng=None):
        super().__init__(functools.partial(GRUCell, bias=bias), input_size, hidden_size,
                         num_layers, batch_first, dropout, bidirectional, rng)
        self.bias = bias


class PeepholeLSTM(Recurrent):
    """LSTM layers with peephole connections (``weight_ci_l0``, ``weight_cf_l0``,
    ``weight_co_l0`` after PyTorch's four). Returns (output, (h_n, c_n))."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, rng=None):
        super().__init__(functools.partial(PeepholeLSTMCell, bias=bias), input_size, hidden_size,
                         num_layers, batch_first, dropout, bidirectional, rng)
        self.bias = bias


class JordanRNN(Recurrent):
    """Jordan layers: each step's output y_t (size ``output_size``) is fed back. The output
    sequence and h_n hold y; a layer above reads y."""

    def __init__(self, input_size, hidden_size, output_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, nonlinearity="tanh",
                 output_nonlinearity="tanh", rng=None):
        super().__init__(functools.partial(JordanCell, output_size=output_size, bias=bias,
                                           nonlinearity=nonlinearity,
                                           output_nonlinearity=output_nonlinearity),
                         input_size, hidden_size, num_layers, batch_first, dropout, bidirectional,
                         rng)
        self.bias, self.output_size = bias, output_size

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
        super().__init__(functools.partial(CTRNNCell, tau=tau, learn_tau=learn_tau, dt=dt,
                                           unfolds=unfolds, solver=solver, bias=bias),
                         input_size, hidden_size, num_layers, batch_first, dropout, bidirectional,
                         rng)
        self.bias = bias

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
