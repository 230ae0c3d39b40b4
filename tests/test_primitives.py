"""Every primitive of the table, checked against central finite differences in float64.

``CHECKS`` maps each primitive's name to a case builder; ``test_every_primitive_is_checked`` walks
``autograph.rules.TABLE`` and fails for a primitive without a vjp, a jvp or an entry here,
so a new primitive cannot be added unchecked. Each case draws broadcastable shapes with
hypothesis and values inside the primitive's domain (positive for log/sqrt/pow bases, away from
kinks and ties for the non-smooth ones); ``ag.gradcheck`` then compares both modes with finite
differences and runs the vjp/jvp dot-product test, to second order for smooth primitives. The
subgradient conventions at the kinks and the stability at ±1e4 are tested separately against
closed forms.
"""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import autograph as ag
from autograph import numerics, rules as P
from autograph.graph import walk

SHAPE = dict(min_dims=0, max_dims=3, min_side=1, max_side=3)


def values(data, shape, lo=-2.0, hi=2.0):
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    return np.random.default_rng(seed).uniform(lo, hi, shape)


def away_from(data, shape, kinks, gap=0.1):
    """Values in [-2, 2] at least ``gap`` from every kink."""
    x = values(data, shape)
    for k in kinks:
        near = np.abs(x - k) < gap
        x = np.where(near, k + np.where(x >= k, gap, -gap) * 2, x)
    return x


def distinct(data, shape):
    """Values with no ties: shuffled multiples of 0.3 (max/min away from ties)."""
    n = int(np.prod(shape, dtype=np.int64))
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    return (np.random.default_rng(seed).permutation(n).reshape(shape) - n // 2) * 0.3


def axis_of(data, ndim):
    """None, one axis (possibly negative) or a tuple of axes."""
    if ndim == 0:
        return None
    return data.draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1),
                               st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim,
                                        unique=True).map(tuple)), label="axis")


def two_shapes(data):
    return data.draw(mutually_broadcastable_shapes(num_shapes=2, **SHAPE), label="shapes")


def one_shape(data):
    return data.draw(array_shapes(**SHAPE), label="shape")


# -- one case builder per primitive: data -> (f, inputs) ---------------------------------------
def binary(fn, lo=-2.0, hi=2.0, b_lo=None, b_hi=None):
    def case(data):
        sa, sb = two_shapes(data).input_shapes
        a = values(data, sa, lo, hi)
        b = values(data, sb, lo if b_lo is None else b_lo, hi if b_hi is None else b_hi)
        return fn, [a, b]
    return case


def unary(fn, lo=-2.0, hi=2.0):
    def case(data):
        return fn, [values(data, one_shape(data), lo, hi)]
    return case


def case_nonzero_divisor(data):
    sa, sb = two_shapes(data).input_shapes
    b = values(data, sb, 0.5, 2.0) * np.where(values(data, sb) > 0, 1, -1)
    return (lambda x, y: x / y), [values(data, sa), b]


def case_kinked(fn, kinks):
    def case(data):
        return fn, [away_from(data, one_shape(data), kinks)]
    return case


def case_maximum(data):
    sa, sb = two_shapes(data).input_shapes
    a = distinct(data, sa)                                           # multiples of 0.3
    b = np.round(values(data, sb, -4, 4)) * 0.3 + 0.15              # halfway between them
    return ag.maximum, [a, b]


def case_where(data):
    sa, sb = two_shapes(data).input_shapes
    shape = np.broadcast_shapes(sa, sb)
    cond = values(data, shape) > 0
    return (lambda a, b: ag.where(cond, a, b)), [values(data, sa), values(data, sb)]


def case_reduction(fn):
    def case(data):
        shape = one_shape(data)
        axis = axis_of(data, len(shape))
        keepdims = data.draw(st.booleans(), label="keepdims")
        x = distinct(data, shape) if fn is ag.max else values(data, shape)
        return (lambda t: fn(t, axis=axis, keepdims=keepdims)), [x]
    return case


def case_log_softmax(data):
    shape = data.draw(array_shapes(min_dims=1, max_dims=3, max_side=3), label="shape")
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    return (lambda t: ag.log_softmax(t, axis=axis)), [values(data, shape)]


def case_matmul(data):
    sa, sb = data.draw(mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2,
                                                     max_side=3), label="shapes").input_shapes
    return ag.matmul, [values(data, sa), values(data, sb)]


def case_addmm(data):
    sa, sb = data.draw(mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2,
                                                     max_side=3), label="shapes").input_shapes
    out = np.matmul(np.ones(sa), np.ones(sb)).shape
    keep = data.draw(st.lists(st.booleans(), min_size=len(out), max_size=len(out)), label="c")
    lead = data.draw(st.integers(0, len(out)), label="c's axes")
    sc = tuple(n if k else 1 for n, k in zip(out, keep))[lead:]   # broadcasts to the product
    return ag.addmm, [values(data, sc), values(data, sa), values(data, sb)]


def case_addcmul(data):
    shapes = data.draw(mutually_broadcastable_shapes(num_shapes=3, **SHAPE), label="shapes")
    return ag.addcmul, [values(data, s) for s in shapes.input_shapes]


def case_transpose(data):
    shape = one_shape(data)
    axes = data.draw(st.permutations(range(len(shape))), label="axes")
    return (lambda t: ag.transpose(t, tuple(axes))), [values(data, shape)]


def case_reshape(data):
    shape = data.draw(array_shapes(min_dims=1, max_dims=3, max_side=3), label="shape")
    new = tuple(reversed(shape)) + (1,)
    return (lambda t: ag.reshape(t, new)), [values(data, shape)]


def case_broadcast_to(data):
    bs = data.draw(mutually_broadcastable_shapes(num_shapes=2, **SHAPE), label="shapes")
    return (lambda t: P.broadcast_to(t, shape=bs.result_shape)), [values(data, bs.input_shapes[0])]


def index_of(data, shape):
    """A basic index (ints and slices) or an integer array with repeated entries."""
    if data.draw(st.booleans(), label="basic"):
        parts = []
        for n in shape:
            parts.append(data.draw(st.one_of(
                st.integers(-n, n - 1),
                st.builds(slice, st.none() | st.integers(0, n), st.none() | st.integers(-n, n),
                          st.sampled_from([None, 1, 2, -1]))), label="index part"))
        return tuple(parts)
    rows = data.draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=5),
                     label="rows")
    return np.array(rows)


def case_getitem(data):
    shape = data.draw(array_shapes(min_dims=1, max_dims=3, max_side=3), label="shape")
    index = index_of(data, shape)
    return (lambda t: t[index]), [values(data, shape)]


def case_scatter_add(data):
    shape = data.draw(array_shapes(min_dims=1, max_dims=3, max_side=3), label="shape")
    index = index_of(data, shape)
    vshape = np.zeros(shape)[index].shape
    return (lambda v: P.scatter_add(v, index=index, shape=shape)), [values(data, vshape)]


def case_concat(data):
    shape = data.draw(array_shapes(min_dims=1, max_dims=3, max_side=3), label="shape")
    axis = data.draw(st.integers(0, len(shape) - 1), label="axis")
    # two inputs at least: a concatenation of one tensor is that tensor, no node recorded
    lengths = data.draw(st.lists(st.integers(1, 3), min_size=2, max_size=3), label="lengths")
    xs = [values(data, shape[:axis] + (n,) + shape[axis + 1:]) for n in lengths]
    return (lambda *ts: ag.concat(ts, axis=axis)), xs


def case_split(data):
    shape = data.draw(array_shapes(min_dims=1, max_dims=3, max_side=4), label="shape")
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    cuts = data.draw(st.lists(st.integers(-5, 5), min_size=1, max_size=3), label="cuts")  # any order

    def f(t):       # weights tell the parts apart; the last part is left out
        parts = ag.split(t, cuts, axis=axis)
        return ag.concat([p * (k + 1) for k, p in enumerate(parts[:-1])] + [t], axis=axis)
    return f, [values(data, shape)]


def case_cast(data):
    # longdouble keeps finite differences exact; the rule casts gradients back to float64
    return (lambda t: ag.astype(t, np.longdouble) * 3), [values(data, one_shape(data))]


def case_clip(data):
    x = away_from(data, one_shape(data), (-0.5, 0.5))
    return (lambda t: ag.clip(t, -0.5, 0.5)), [x]


def case_reciprocal(data):
    shape = one_shape(data)
    x = values(data, shape, 0.5, 2.0) * np.where(values(data, shape) > 0, 1, -1)
    return ag.reciprocal, [x]


def case_norm(data):
    shape = one_shape(data)
    axis = axis_of(data, len(shape))
    keepdims = data.draw(st.booleans(), label="keepdims")
    p = data.draw(st.sampled_from([2, 1, 3, 1.5]), label="p")
    x = away_from(data, shape, (0.0,))       # |x| kinks at 0 for p = 1
    return (lambda t: ag.norm(t, p, axis=axis, keepdims=keepdims)), [x]


def case_cumsum(data):
    shape = data.draw(array_shapes(min_dims=1, max_dims=3, max_side=4), label="shape")
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    return (lambda t: ag.cumsum(t, axis=axis)), [values(data, shape)]


def case_roll(data):
    shape = data.draw(array_shapes(min_dims=1, max_dims=3, max_side=4), label="shape")
    axis = data.draw(st.one_of(st.none(), st.integers(0, len(shape) - 1)), label="axis")
    shift = data.draw(st.integers(-5, 5), label="shift")
    # weights tell the positions apart, so that a wrong direction of the roll back shows
    w = np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape)
    return (lambda t: ag.roll(t, shift, axis) * w), [values(data, shape)]


EINSUMS = [  # (subscripts, shapes): products, reductions, diagonals, broadcasting, implicit outputs
    ("ij,jk->ik", [(2, 3), (3, 2)]),
    ("ij,jk", [(2, 3), (3, 2)]),
    ("i,i->", [(3,), (3,)]),
    ("i,j->ij", [(2,), (3,)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iij->ji", [(2, 2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]),
    ("ba", [(2, 3)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 2)]),
    ("...i,...i", [(2, 3), (3,)]),
    ("bij,bjk,bkl->bil", [(2, 2, 3), (2, 3, 2), (2, 2, 2)]),
    ("ij,ij,i->j", [(2, 3), (2, 3), (2,)]),
    ("i,i,i->i", [(3,), (3,), (3,)]),
    ("iik,kj->ij", [(2, 2, 3), (3, 2)]),
]


def case_einsum(data):
    subscripts, shapes = data.draw(st.sampled_from(EINSUMS), label="einsum")
    return (lambda *ts: ag.einsum(subscripts, *ts)), [values(data, s) for s in shapes]


CHECKS = {
    "add": binary(lambda a, b: a + b),
    "sub": binary(lambda a, b: a - b),
    "mul": binary(lambda a, b: a * b),
    "div": case_nonzero_divisor,
    "pow": binary(lambda a, b: a ** b, lo=0.5, hi=2.0),
    "neg": unary(lambda x: -x),
    "exp": unary(ag.exp),
    "log": unary(ag.log, 0.2, 3.0),
    "sqrt": unary(ag.sqrt, 0.2, 3.0),
    "abs": case_kinked(ag.abs, (0.0,)),
    "tanh": unary(ag.tanh),
    "sigmoid": unary(ag.sigmoid, -4, 4),
    "softplus": unary(ag.softplus, -4, 4),
    "relu": case_kinked(ag.relu, (0.0,)),
    "maximum": case_maximum,
    "minimum": lambda data: (ag.minimum, case_maximum(data)[1]),
    "clip": case_clip,
    "where": case_where,
    "cast": case_cast,
    "sum": case_reduction(ag.sum),
    "max": case_reduction(ag.max),
    "logsumexp": case_reduction(ag.logsumexp),
    "log_softmax": case_log_softmax,
    "matmul": case_matmul,
    "addmm": case_addmm,
    "addcmul": case_addcmul,
    "identity": unary(lambda x: P.identity(x)),
    "transpose": case_transpose,
    "reshape": case_reshape,
    "broadcast_to": case_broadcast_to,
    "getitem": case_getitem,
    "scatter_add": case_scatter_add,
    "concat": case_concat,
    "split": case_split,
    "sin": unary(ag.sin),
    "cos": unary(ag.cos),
    "tan": unary(ag.tan, -1.2, 1.2),
    "sinh": unary(ag.sinh),
    "cosh": unary(ag.cosh),
    "arcsin": unary(ag.arcsin, -0.9, 0.9),
    "arccos": unary(ag.arccos, -0.9, 0.9),
    "arctan": unary(ag.arctan),
    "log1p": unary(ag.log1p, -0.8, 3.0),
    "expm1": unary(ag.expm1),
    "log2": unary(ag.log2, 0.2, 3.0),
    "log10": unary(ag.log10, 0.2, 3.0),
    "square": unary(ag.square),
    "reciprocal": case_reciprocal,
    "rsqrt": unary(ag.rsqrt, 0.2, 3.0),
    "sign": case_kinked(ag.sign, (0.0,)),
    "norm": case_norm,
    "cumsum": case_cumsum,
    "roll": case_roll,
    "einsum": case_einsum,
}


def test_every_primitive_is_checked():
    for name, op in P.TABLE.items():
        assert op.vjp is not None and op.jvp is not None, "%s lacks a vjp or a jvp rule" % name
        assert name in CHECKS, "primitive %r has no gradient check in CHECKS" % name
    assert set(CHECKS) <= set(P.TABLE), "checks for unknown primitives: %s" % (
        set(CHECKS) - set(P.TABLE))


@pytest.mark.parametrize("name", sorted(CHECKS))
@given(data=st.data())
def test_gradients_match_finite_differences(name, data):
    f, inputs = CHECKS[name](data)
    recorded = walk([f(*[ag.tensor(x, requires_grad=True) for x in inputs])])
    assert name in {n.op_name for n in recorded}, "the case for %r does not use it" % name
    order = 2 if P.TABLE[name].smooth else 1
    assert ag.gradcheck(f, inputs, order=order)


@pytest.mark.parametrize("name", ["abs", "relu", "maximum", "minimum", "clip", "max", "where",
                                  "sign"])
@settings(max_examples=8)
@given(data=st.data())
def test_non_smooth_primitives_have_zero_second_derivative_away_from_kinks(name, data):
    f, inputs = CHECKS[name](data)
    assert ag.gradcheck(f, inputs, order=2)


# -- subgradient conventions -------------------------------------------------------------------
def grad_of(f, *xs):
    ts = [ag.tensor(np.asarray(x, dtype=np.float64), requires_grad=True) for x in xs]
    f(*ts).sum().backward()
    return [t.grad.numpy() for t in ts]


def test_relu_and_abs_have_zero_derivative_at_zero():
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(grad_of(ag.relu, x)[0], [0, 0, 1])
    np.testing.assert_array_equal(grad_of(ag.abs, x)[0], [-1, 0, 1])


def test_maximum_and_minimum_split_ties_evenly():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 0.0])
    ga, gb = grad_of(ag.maximum, a, b)
    np.testing.assert_array_equal(ga, [0.5, 0, 1])
    np.testing.assert_array_equal(gb, [0.5, 1, 0])
    ga, gb = grad_of(ag.minimum, a, b)
    np.testing.assert_array_equal(ga, [0.5, 1, 0])
    np.testing.assert_array_equal(gb, [0.5, 0, 1])


def test_max_and_min_reductions_split_ties_evenly():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    np.testing.assert_allclose(grad_of(lambda t: t.max(axis=1), x)[0],
                               [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(grad_of(lambda t: t.min(axis=0), x)[0],
                               [[1, 0, 0], [0, 1, 1]])
    np.testing.assert_allclose(grad_of(lambda t: t.max(), x)[0], [[0, 0.5, 0.5], [0, 0, 0]])


def test_clip_passes_the_gradient_on_its_bounds():
    x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    np.testing.assert_array_equal(grad_of(lambda t: ag.clip(t, -1, 1), x)[0], [0, 1, 1, 1, 0])


# -- stability at large inputs -------------------------------------------------------------------
BIG = np.array([-1e4, -50.0, -1.0, 0.0, 1.0, 50.0, 1e4])


def stable_sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def stable_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_rules_are_exact_up_to_1e4(dtype):
    x = BIG.astype(dtype)
    s = stable_sigmoid(x.astype(np.float64))
    e2 = np.exp(-2 * np.abs(x.astype(np.float64)))
    closed = {ag.sigmoid: s * (1 - s),
              ag.tanh: 4 * e2 / (1 + e2) ** 2,           # sech² without overflow
              ag.softplus: s}
    for fn, want in closed.items():
        t = ag.tensor(x, requires_grad=True)
        y = fn(t)
        y.sum().backward()
        assert np.isfinite(y.numpy()).all(), fn.__name__
        assert t.grad.dtype == dtype
        np.testing.assert_allclose(t.grad.numpy(), want, rtol=1e-6 if dtype == np.float64 else 1e-5,
                                   atol=1e-30, err_msg=fn.__name__)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logsumexp_and_log_softmax_are_exact_up_to_1e4(dtype):
    x = np.array([[1e4, 0.0, -1e4], [1e4, 1e4 - 1, 3.0], [-1e4, -1e4, -1e4]], dtype=dtype)
    x64 = x.astype(np.float64)
    p = stable_softmax(x64)
    t = ag.tensor(x, requires_grad=True)
    lse = ag.logsumexp(t, axis=1)
    want = x64.max(1) + np.log(np.exp(x64 - x64.max(1, keepdims=True)).sum(1))
    np.testing.assert_allclose(lse.numpy(), want, rtol=1e-6)
    lse.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), p, rtol=1e-5, atol=1e-30)

    g = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 1.0], [1.0, 1.0, 1.0]])
    t = ag.tensor(x, requires_grad=True)
    y = ag.log_softmax(t, axis=1)
    assert np.isfinite(y.numpy()).all()
    np.testing.assert_allclose(y.numpy(), x64 - want[:, None], rtol=1e-6, atol=1e-6)
    y.backward(g.astype(dtype))
    np.testing.assert_allclose(t.grad.numpy(), g - p * g.sum(1, keepdims=True), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_sigmoid_neither_overflows_nor_warns_and_is_exact_down_to_the_subnormals(dtype):
    """exp(x) / (exp(x) + 1) with x clamped where exp would overflow (the answer is 1 there):
    a few ulps from the truth, and within the smallest normal number of it below that."""
    x = np.array([-np.inf, -1e4, -800, -100, -89, -88, -11, -5, 0, 5, 30, 1e4, np.inf]) \
        .astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = ag.sigmoid(ag.tensor(x)).numpy()
        scalar = numerics.sigmoid(x[1])                   # a numpy scalar, as rules may pass
    assert y.dtype == dtype and type(scalar) is np.dtype(dtype).type
    want = stable_sigmoid(x.astype(np.float64))
    np.testing.assert_allclose(y, want, rtol=np.finfo(dtype).eps * 4, atol=np.finfo(dtype).tiny)
    assert abs(float(scalar) - want[1]) < np.finfo(dtype).tiny
    assert np.isnan(ag.sigmoid(ag.tensor(np.array([np.nan], dtype))).numpy()).all()


def test_sigmoid_of_integers_is_computed_in_float64_as_numpys_exp_and_complex_stays_complex():
    y = ag.sigmoid(ag.tensor(np.array([-2, 0, 3])))
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), 1 / (1 + np.exp(-np.array([-2.0, 0.0, 3.0]))),
                               rtol=1e-15)
    z = np.array([0.5 + 0.3j, -2 - 1j, 3 + 2j])
    for dtype in (np.complex64, np.complex128):
        y = ag.sigmoid(ag.tensor(z.astype(dtype)))
        assert y.dtype == dtype
        np.testing.assert_allclose(y.numpy(), 1 / (1 + np.exp(-z)),
                                   rtol=10 * np.finfo(dtype).eps)


def test_composed_sigmoid_would_fail_where_the_primitive_does_not():
    """Why sigmoid is a primitive: 1/(1+exp(-x)) overflows at x = -1e4 and its gradient is NaN."""
    t = ag.tensor(np.array([-1e4]), requires_grad=True)
    with np.errstate(over="ignore", invalid="ignore"):
        (1 / (1 + ag.exp(-t))).sum().backward()
    assert not np.isfinite(t.grad.numpy()).all()
    t.grad = None
    ag.sigmoid(t).sum().backward()
    assert np.isfinite(t.grad.numpy()).all()


def test_addmm_names_the_shapes_that_do_not_fit():
    a, b = ag.ones((2, 3)), ag.ones((3, 4))
    np.testing.assert_allclose(ag.addmm(ag.ones(4), a, b).numpy(), np.full((2, 4), 4.0))
    with pytest.raises(ag.ShapeError, match=r"addmm: .*must broadcast to the product's shape \(2, 4\)"):
        ag.addmm(ag.ones((3, 4)), a, b)
    with pytest.raises(ag.ShapeError, match=r"addmm: .*last axis of the left operand \(3\)"):
        ag.addmm(ag.ones(4), a, ag.ones((2, 4)))


# -- what the rules read -----------------------------------------------------------------------
def dense(value):
    if isinstance(value, ag.Tensor):
        value = value.data
    return np.asarray(value)


@pytest.mark.parametrize("name", sorted(n for n, op in P.TABLE.items() if op.saves is not None))
@settings(max_examples=25)
@given(data=st.data())
def test_rules_read_only_the_values_the_primitive_saves(name, data):
    """``saves`` is what release_unneeded() keeps: every other value replaced by an all-NaN
    stand-in of its shape must leave every vjp and jvp rule's result unchanged."""
    f, inputs = CHECKS[name](data)
    out = f(*[ag.tensor(x, requires_grad=True) for x in inputs])
    node = next(n for n in walk([out]) if n.op_name == name)
    op, saves = node._op, node._op.saves

    def hide(value, kept):
        return value if kept else np.broadcast_to(np.array(np.nan, value.dtype), value.shape)
    ins = [x.data for x in node._inputs]
    hidden = [hide(x, i in saves) for i, x in enumerate(ins)]
    y, y_hidden = node.data, hide(node.data, "y" in saves)
    params = node._params or {}
    rng = np.random.default_rng(0)
    g = np.asarray(rng.standard_normal(y.shape))
    for i, x in enumerate(ins):
        d = np.asarray(rng.standard_normal(x.shape))
        for rule, seed, wrap in ((op.vjp[i], g, np.asarray), (op.jvp[i], d, ag.tensor)):
            # vjp rules run on arrays in a backward pass, jvp rules on tensors in forward mode
            want, got = (dense(rule(wrap(seed), wrap(out), *map(wrap, xs), **params))
                         for out, xs in ((y, ins), (y_hidden, hidden)))
            np.testing.assert_array_equal(got, want, err_msg="%s reads a value it does not save"
                                          % name)
