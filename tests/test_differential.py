"""A differential test that keeps the engine honest: random programs over the primitive table,
evaluated in every way the engine can evaluate them, must give the same values and gradients.

A program is drawn by hypothesis: a few float64 inputs of small random shapes, then a sequence
of instructions, each applying an op to values made so far (broadcasting, reusing a value many
times, slicing, concatenating, splitting, reshaping, matrix products, reductions). Its loss is a
fixed random weighting of every value no instruction reads, so every instruction reaches it.

``MODES`` holds each way of running it: eagerly (the speed layer on), eagerly with every lazy
path of the speed layer taken however small the arrays (slices kept in pieces, weights' products
stacked and batched, projections in row blocks), with the reference engine (``ag.reference()``),
inside ``release_unneeded()`` (with every value eligible for release, not only the large ones),
and through the stepper. Each must give the eager values and gradients:
bit for bit where the order of summation is the same, else within 1e-12 relative. Central
finite differences in float64 are the independent reference all of them are held to.
A later fast path joins by adding itself to ``MODES``.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import autograph as ag
from autograph import debug
from autograph.fast import lazy, release


# -- the instructions: name -> (arity, applicable(shapes), make(rng, shapes) -> f(*values)) -----
def _unary(fn):
    return 1, lambda shapes: True, lambda rng, shapes: fn


def _axis_op(fn):
    def applicable(shapes):
        return len(shapes[0]) > 0

    def make(rng, shapes):
        axis = int(rng.integers(-len(shapes[0]), len(shapes[0])))
        keep = bool(rng.integers(2))
        return lambda x: fn(x, axis=axis, keepdims=keep)
    return 1, applicable, make


def _broadcasting(fn):
    """A binary op; an operand that does not broadcast against the other is summed first."""
    def make(rng, shapes):
        a, b = shapes
        try:
            np.broadcast_shapes(a, b)
            return fn
        except ValueError:
            return lambda x, y: fn(x, y.sum())
    return 2, lambda shapes: True, make


def _slice(rng, shapes):
    (shape,) = shapes
    kind = rng.choice(["int", "tail", "step", "ellipsis"])
    if kind == "int":
        k = int(rng.integers(-shape[0], shape[0]))
        return lambda x: x[k]
    if kind == "tail":
        return lambda x: x[1:]
    if kind == "step":
        return lambda x: x[::2]
    return lambda x: x[..., :1]


def _concat(rng, shapes):
    (shape,) = shapes
    axis = int(rng.integers(len(shape)))
    return lambda x: ag.concat([x, ag.tanh(x), x], axis=axis)


def _split(rng, shapes):
    (shape,) = shapes
    axis = int(rng.choice([i for i, n in enumerate(shape) if n >= 2]))
    cut = int(rng.integers(1, shape[axis]))
    return lambda x: ag.split(x, [cut], axis=axis)


def _matmul(rng, shapes):
    (shape,) = shapes
    if len(shape) == 1:
        return lambda x: x @ x
    return lambda x: ag.tanh(x) @ ag.swapaxes(x, -1, -2)


def _addmm(rng, shapes):
    return lambda x, c: ag.addmm(c.sum() * 0.5, ag.reshape(x, (-1, 1)), ag.reshape(ag.tanh(x), (1, -1)))


def _unroll(rng, shapes):
    """A recurrence: one weight read by every step's product (the speed layer stacks them)."""
    steps = int(rng.integers(2, 5))

    def unroll(v):
        flat = ag.reshape(v, (-1,))
        W = ag.reshape(flat, (-1, 1)) @ ag.reshape(ag.tanh(flat), (1, -1)) * 0.3
        h = ag.reshape(ag.tanh(flat), (1, -1))
        for _ in range(steps):
            h = ag.tanh(h @ W)
        return h
    return unroll


def _tile(rng, shapes):
    """Slices that cover an axis exactly once (the speed layer joins their gradients)."""
    (shape,) = shapes
    return lambda x: ag.stack([x[k] * (k + 1.0) for k in range(shape[0])])


def _project(rng, shapes):
    """A product cut into its rows, each used alone: an RNN's input projection and its steps."""
    def project(x):
        z = ag.addmm(ag.sum(x, axis=1), ag.tanh(x), ag.transpose(x))     # a bias, broadcast
        return [p * (k + 1.0) for k, p in enumerate(ag.split(z, z.shape[0]))]
    return project


def _where(rng, shapes):
    (shape,) = shapes
    mask = rng.random(shape) > 0.5
    return lambda x: ag.where(mask, x, ag.sigmoid(x))


ops = {
    "tanh": _unary(ag.tanh), "sigmoid": _unary(ag.sigmoid), "neg": _unary(lambda x: -x),
    "exp": _unary(lambda x: ag.exp(ag.tanh(x))), "softplus": _unary(ag.softplus),
    "square": _unary(lambda x: x * x), "log": _unary(lambda x: ag.log(x * x + 1.0)),
    "sqrt": _unary(lambda x: ag.sqrt(x * x + 0.5)), "pow": _unary(lambda x: (x * x + 1.0) ** 1.5),
    "scale": _unary(lambda x: 0.5 * x + 1.0),
    "add": _broadcasting(lambda a, b: a + b), "sub": _broadcasting(lambda a, b: a - b),
    "mul": _broadcasting(lambda a, b: a * b),
    "div": _broadcasting(lambda a, b: a / (1.5 + ag.tanh(b))),
    "addcmul": _broadcasting(lambda a, b: ag.addcmul(a, b, ag.tanh(b))),
    "sum": _axis_op(ag.sum), "mean": _axis_op(ag.mean), "logsumexp": _axis_op(ag.logsumexp),
    "log_softmax": (1, lambda s: len(s[0]) > 0, lambda rng, s: lambda x: ag.log_softmax(x, axis=-1)),
    "slice": (1, lambda s: len(s[0]) > 0 and s[0][0] >= 2, _slice),
    "concat": (1, lambda s: len(s[0]) > 0, _concat),
    "split": (1, lambda s: any(n >= 2 for n in s[0]), _split),
    "transpose": (1, lambda s: len(s[0]) > 1, lambda rng, s: lambda x: ag.transpose(x)),
    "reshape": (1, lambda s: len(s[0]) > 0, lambda rng, s: lambda x: ag.reshape(x, (-1,))),
    "stack": (1, lambda s: True, lambda rng, s: lambda x: ag.stack([x, ag.tanh(x)], axis=0)),
    "matmul": (1, lambda s: len(s[0]) in (1, 2), _matmul),
    "addmm": (2, lambda s: True, _addmm),
    "where": (1, lambda s: True, _where),
    "unroll": (1, lambda s: True, _unroll),
    "tile": (1, lambda s: len(s[0]) > 0 and s[0][0] >= 2, _tile),
    "project": (1, lambda s: len(s[0]) == 2, _project),
    "broadcast": (1, lambda s: len(s[0]) < 3,
                  lambda rng, s: lambda x: ag.broadcast_to(x, (2,) + s[0])),
}


@st.composite
def programs(draw):
    """(input arrays, instructions, loss weights): each instruction is (name, function,
    positions of its inputs). Every choice comes from one drawn seed, uniformly: hypothesis
    would favour 0-d inputs and the first ops of the menu, which most instructions need least."""
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1), label="seed"))
    shapes = [tuple(int(n) for n in rng.integers(1, 4, rng.integers(0, 4)))
              for _ in range(rng.integers(1, 4))]
    arrays = [rng.uniform(-1.5, 1.5, s) for s in shapes]
    pool = list(shapes)                          # the shape of every value made so far
    instructions, used = [], set()
    for _ in range(rng.integers(1, 9)):
        picks = [int(rng.integers(len(pool))) for _ in range(2)]
        names = [n for n in sorted(ops) if ops[n][1]([pool[i] for i in picks[:ops[n][0]]])]
        name = names[rng.integers(len(names))]     # an op that applies to the values picked
        arity, _, make = ops[name]
        picks = picks[:arity]
        shapes_in = [pool[i] for i in picks]
        fn = make(rng, shapes_in)
        out = fn(*[ag.zeros(s, dtype=np.float64) for s in shapes_in])
        outs = out if isinstance(out, list) else [out]
        instructions.append((name, fn, picks))
        used.update(picks)
        pool.extend(o.shape for o in outs)
    # the loss weighs the values nothing else reads, so every instruction reaches it and a
    # value's gradient comes only from the ops that read it (as in a real network)
    weights = [None if i in used else rng.standard_normal(s) for i, s in enumerate(pool)]
    return arrays, instructions, weights


def execute(program, leaves):
    """The program's loss on the given leaf tensors."""
    _, instructions, weights = program
    values = list(leaves)
    for _, fn, picks in instructions:
        out = fn(*[values[i] for i in picks])
        values.extend(out if isinstance(out, list) else [out])
    total = None
    for v, w in zip(values, weights):
        if w is None:
            continue
        term = (v * w).sum()
        total = term if total is None else total + term
    return total


def leaves(arrays):
    return [ag.tensor(a, requires_grad=True) for a in arrays]


def eager(program):
    xs = leaves(program[0])
    loss = execute(program, xs)
    loss.backward()
    return loss.item(), [x.grad.numpy() for x in xs]


def lazy_everywhere(program):
    with _patched(lazy, SMALL_PIECE=0, PRODUCT_BYTES=0):
        return eager(program)


def reference(program):
    with ag.reference():
        return eager(program)


def released(program):
    xs = leaves(program[0])
    with _patched(release.Releaser, min_bytes=0), ag.release_unneeded():
        loss = execute(program, xs)
    loss.backward()
    return loss.item(), [x.grad.numpy() for x in xs]


def stepped(program):
    xs = leaves(program[0])
    loss = execute(program, xs)
    steps = debug.step_backward(loss)
    for step in steps:              # every step's gradient is dense and finite
        assert type(step.grad_out) in (np.ndarray, np.float64)
    return loss.item(), [x.grad.numpy() for x in xs]


class _patched:
    """Lower the speed layer's size thresholds for a block, so that small programs take the
    paths that only large arrays take otherwise."""

    def __init__(self, owner, **values):
        self.owner, self.values = owner, values

    def __enter__(self):
        self.before = {k: getattr(self.owner, k) for k in self.values}
        for k, v in self.values.items():
            setattr(self.owner, k, v)

    def __exit__(self, *exc):
        for k, v in self.before.items():
            setattr(self.owner, k, v)


MODES = {"eager": eager, "lazy everywhere": lazy_everywhere, "reference": reference,
         "released": released, "stepped": stepped}


def finite_differences(program, eps=1e-6):
    arrays = program[0]
    out = []
    for i, a in enumerate(arrays):
        g = np.zeros_like(a)
        for k in range(a.size):
            plus = [b.copy() for b in arrays]
            minus = [b.copy() for b in arrays]
            plus[i].flat[k] += eps
            minus[i].flat[k] -= eps
            with ag.no_grad():
                up = execute(program, [ag.tensor(b) for b in plus]).item()
                down = execute(program, [ag.tensor(b) for b in minus]).item()
            g.flat[k] = (up - down) / (2 * eps)
        out.append(g)
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=programs())
def test_every_mode_gives_the_same_values_and_gradients(program):
    want_value, want = MODES["eager"](program)
    for name, mode in MODES.items():
        value, got = mode(program)
        np.testing.assert_allclose(value, want_value, rtol=1e-12, err_msg=name)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-13, err_msg=name)
    for g, w in zip(finite_differences(program), want):
        np.testing.assert_allclose(w, g, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["released", "stepped"])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=programs())
def test_release_and_the_stepper_leave_the_eager_numbers_bit_for_bit(name, program):
    """They change what is kept and how it is watched, never the arithmetic."""
    want_value, want = MODES["eager"](program)
    value, got = MODES[name](program)
    assert value == want_value
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_the_programs_reach_every_instruction():
    """The generator can make every op of the menu (a guard against a menu entry that never
    applies, which would leave its op untested)."""
    seen = set()

    @settings(max_examples=300, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(program=programs())
    def collect(program):
        seen.update(name for name, _, _ in program[1])
    collect()
    assert seen == set(ops)
