"""The table of primitives: each declared once, its forward beside its derivatives.

A rule reads like the math: ``vjp`` maps the upstream gradient ``g`` to one input's contribution,
``jvp`` maps one input's tangent ``d`` to the output's tangent. Both receive the output ``y`` and the
inputs, and the op's parameters as keywords. Rules are written only with operators, array/Tensor
methods and the ``xp`` namespace below, so the same rule runs on plain numpy arrays during an
ordinary backward and on Tensors under ``create_graph=True`` or in forward mode: that is how
higher-order derivatives come free.

Where a jvp is mechanical it is derived, not written (JAX's ``deflinear``, PyTorch's
``auto_element_wise``/``auto_linear``; ``gradcheck``'s dot-product test guards the pairing):

- ``kind="elementwise"``: the output's entry depends on the inputs' entries at the same position,
  so ∂y/∂x is diagonal and the jvp is the vjp with the tangent in place of the cotangent;
- ``kind="linear"``: the op is linear in its inputs together, so the jvp is the op applied to
  the tangents (zeros for the inputs without one);
- ``kind="multilinear"``: linear in each input alone (products), so the jvp of input i is the op
  with input i replaced by its tangent.

Broadcasting is undone in one shared place (``sum_to``, applied by the backward loop), not here.
The backward loop may take faster routes for a few rules (``autograph/fast``); the rules here are
the reference it is checked against.

Subgradient conventions: relu'(0) = 0 and |x|'(0) = 0 (as PyTorch); at ties, maximum/minimum
and max/min reductions split the gradient evenly between the tied entries.
"""
import functools
import math

import numpy as np

from . import numerics as N
from . import subscripts as S
from .tensor import Tensor, apply, constant

TABLE = {}


class Primitive:
    """One op of the table. ``vjp``/``jvp`` hold one rule per input (indexable)."""

    __slots__ = ("name", "forward", "vjp", "vjp_all", "jvp", "kind", "symbol", "smooth", "hint",
                 "saves", "view", "fast", "joint")
    # vjp_all: a rule giving every input's contribution in one call (concat: one split of g
    #   instead of a slice per input); the backward loop prefers it.
    # hint: a function of the input arrays that says what is wrong when forward fails.
    # saves: the values the rules read, "y" for the output and input positions; None for all.
    #   Everything else is read at most for its shape and dtype, so release_unneeded() may free it
    #   and an in-place change of it does not matter to this op.
    # view: forward may return a view of input 0's memory (reshape, slices, transpose).
    # fast: the vjp rules the backward loop's speed layer uses (fast/lazy.py gives a few ops
    #   lazy ones; the table's own for the rest).
    # joint: the op has several outputs, taken together by the backward loop: their
    #   gradients are gathered (``parts.sibling``) and ``vjp_all`` gets them as a list
    #   (a compiled function's call: fast/compile.py).

    def __init__(self, name, forward, vjp, jvp=None, kind=None, symbol=None, smooth=True,
                 hint=None, saves=None, view=False, vjp_all=None, joint=False):
        self.name, self.forward, self.vjp, self.vjp_all = name, forward, vjp, vjp_all
        self.kind, self.symbol, self.smooth, self.hint = kind, symbol, smooth, hint
        self.saves = None if saves is None else frozenset(saves)
        self.view, self.joint = view, joint
        self.fast = vjp
        if jvp is None:
            jvp = _derived_jvp(self)
        self.jvp = jvp

    def __call__(self, *inputs, **params):
        return apply(self, inputs, params or None)

    def __repr__(self):
        return "<primitive %s>" % self.name


class PerInput:
    """Rules of a variadic primitive: ``rules[i]`` is ``rule`` with the input position bound."""

    __slots__ = ("rule",)

    def __init__(self, rule):
        self.rule = rule

    def __getitem__(self, i):
        return functools.partial(self.rule, i)


def _derived_jvp(op):
    if op.kind == "elementwise":
        return op.vjp
    if op.kind == "linear":
        return PerInput(lambda i, d, y, *xs, **params: apply(op, tuple(
            d if j == i else _zeros(x) for j, x in enumerate(xs)), params or None))
    if op.kind == "multilinear":
        return PerInput(lambda i, d, y, *xs, **params: apply(op, tuple(
            d if j == i else x for j, x in enumerate(xs)), params or None))
    raise ValueError("primitive %s: give its jvp, or a kind ('elementwise', 'linear', "
                     "'multilinear') it can be derived from" % op.name)


def _zeros(x):
    return constant(np.zeros(x.shape, x.dtype))


def primitive(name, forward, vjp, jvp=None, **kw):
    op = Primitive(name, forward, vjp, jvp, **kw)
    TABLE[name] = op
    return op


# -- helpers shared by rules ----------------------------------------------------------------
def kept_shape(shape, axis):
    """The shape a reduction over ``axis`` leaves with keepdims=True."""
    if axis is None:
        return (1,) * len(shape)
    axes = {a % len(shape) for a in (axis if isinstance(axis, tuple) else (axis,))}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def keep(a, x, axis, keepdims):
    """``a`` (a reduction of ``x``) reshaped so it broadcasts against ``x``."""
    return a if keepdims else a.reshape(kept_shape(x.shape, axis))


def sum_to(g, shape):
    """Undo broadcasting: sum ``g`` down to ``shape``. The one place this is done."""
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    if axes:
        g = g.sum(axis=axes)
    return g.reshape(shape) if g.shape != shape else g


def swap(a):
    return a.swapaxes(-1, -2)


# -- elementwise ------------------------------------------------------------------------------
E = dict(kind="elementwise")

add = primitive("add", np.add, symbol="+", saves=(), **E,
                vjp=(lambda g, y, a, b: g, lambda g, y, a, b: g))
sub = primitive("sub", np.subtract, symbol="−", saves=(), **E,
                vjp=(lambda g, y, a, b: g, lambda g, y, a, b: -g))
mul = primitive("mul", np.multiply, symbol="×", saves=(0, 1), kind="multilinear",
                vjp=(lambda g, y, a, b: g * b, lambda g, y, a, b: g * a))
div = primitive("div", np.divide, symbol="÷", saves=("y", 1), **E,
                vjp=(lambda g, y, a, b: g / b, lambda g, y, a, b: -g * y / b))
# d(a^b)/da = b a^(b-1), which is 0 where b = 0 (also at a = 0, where a^(b-1) is infinite);
# d(a^b)/db = a^b log a, which is 0 at a = 0 for b >= 0 (as PyTorch), where log a is -inf
power = primitive("pow", np.power, symbol="^", **E,
                  vjp=(lambda g, y, a, b: g * b * a ** xp.where(b == 0, 1, b - 1),
                       lambda g, y, a, b: g * y * xp.log(xp.where((a == 0) & (b >= 0), 1, a))))
neg = primitive("neg", np.negative, symbol="−", saves=(), **E,
                vjp=(lambda g, y, x: -g,))
exp = primitive("exp", np.exp, saves=("y",), **E,
                vjp=(lambda g, y, x: g * y,))
log = primitive("log", np.log, saves=(0,), **E,
                vjp=(lambda g, y, x: g / x,))
sqrt = primitive("sqrt", np.sqrt, saves=("y",), **E,
                 vjp=(lambda g, y, x: g * 0.5 / y,))
absolute = primitive("abs", np.abs, smooth=False, **E,
                     vjp=(lambda g, y, x: g * xp.sign(x),))
tanh = primitive("tanh", np.tanh, saves=("y",), **E,
                 vjp=(lambda g, y, x: g * (1 - y * y),))
sigmoid = primitive("sigmoid", N.sigmoid, symbol="σ", saves=("y",), **E,
                    vjp=(lambda g, y, x: g * y * (1 - y),))
softplus = primitive("softplus", lambda x: np.logaddexp(0, x), **E,
                     vjp=(lambda g, y, x: g * xp.sigmoid(x),))
relu = primitive("relu", lambda x: np.maximum(x, 0), smooth=False, saves=(0,), **E,
                 vjp=(lambda g, y, x: g * (x > 0),))
maximum = primitive("maximum", np.maximum, smooth=False, **E,
                    vjp=(lambda g, y, a, b: g * (a > b) + 0.5 * g * (a == b),
                         lambda g, y, a, b: g * (b > a) + 0.5 * g * (a == b)))
minimum = primitive("minimum", np.minimum, smooth=False, **E,
                    vjp=(lambda g, y, a, b: g * (a < b) + 0.5 * g * (a == b),
                         lambda g, y, a, b: g * (b < a) + 0.5 * g * (a == b)))
clip = primitive("clip", lambda x, lo, hi: np.clip(x, lo, hi), smooth=False, **E,
                 vjp=(lambda g, y, x, lo, hi: g * (x >= lo) * (x <= hi),))
where = primitive("where", lambda a, b, cond: np.where(cond, a, b), smooth=False, saves=(),
                  **E, vjp=(lambda g, y, a, b, cond: xp.where(cond, g, 0),
                            lambda g, y, a, b, cond: xp.where(cond, 0, g)))
# c + a ⊙ b as one node (torch.addcmul): an LSTM's cell state f ⊙ c + i ⊙ g in two nodes, not three
addcmul = primitive("addcmul", N.addcmul, saves=(1, 2), **E,
                    vjp=(lambda g, y, c, a, b: g, lambda g, y, c, a, b: g * b,
                         lambda g, y, c, a, b: g * a))
# the trigonometric and hyperbolic functions, and the logarithms and powers PyTorch names
LN2, LN10 = math.log(2), math.log(10)     # Python floats: they keep a float32 rule float32

sin = primitive("sin", np.sin, saves=(0,), **E, vjp=(lambda g, y, x: g * xp.cos(x),))
cos = primitive("cos", np.cos, saves=(0,), **E, vjp=(lambda g, y, x: -g * xp.sin(x),))
tan = primitive("tan", np.tan, saves=("y",), **E, vjp=(lambda g, y, x: g * (1 + y * y),))
sinh = primitive("sinh", np.sinh, saves=(0,), **E, vjp=(lambda g, y, x: g * xp.cosh(x),))
cosh = primitive("cosh", np.cosh, saves=(0,), **E, vjp=(lambda g, y, x: g * xp.sinh(x),))
arcsin = primitive("arcsin", np.arcsin, saves=(0,), **E,
                   vjp=(lambda g, y, x: g * (1 - x * x) ** -0.5,))
arccos = primitive("arccos", np.arccos, saves=(0,), **E,
                   vjp=(lambda g, y, x: -g * (1 - x * x) ** -0.5,))
arctan = primitive("arctan", np.arctan, saves=(0,), **E,
                   vjp=(lambda g, y, x: g / (1 + x * x),))
log1p = primitive("log1p", np.log1p, saves=(0,), **E, vjp=(lambda g, y, x: g / (1 + x),))
expm1 = primitive("expm1", np.expm1, saves=("y",), **E, vjp=(lambda g, y, x: g * (y + 1),))
log2 = primitive("log2", np.log2, saves=(0,), **E, vjp=(lambda g, y, x: g / (x * LN2),))
log10 = primitive("log10", np.log10, saves=(0,), **E, vjp=(lambda g, y, x: g / (x * LN10),))
square = primitive("square", np.square, saves=(0,), **E, vjp=(lambda g, y, x: g * 2 * x,))
# 1 / x, not np.reciprocal, which divides integers as integers (1 // 2 = 0)
reciprocal = primitive("reciprocal", lambda x: 1 / x, saves=("y",), **E,
                       vjp=(lambda g, y, x: -g * y * y,))
rsqrt = primitive("rsqrt", lambda x: 1 / np.sqrt(x), saves=("y",), **E,
                  vjp=(lambda g, y, x: -0.5 * g * y * y * y,))
# sign is flat on both sides of 0 and its jump has no derivative: 0 everywhere (as PyTorch)
sign = primitive("sign", np.sign, smooth=False, saves=(), **E,
                 vjp=(lambda g, y, x: xp.zeros_like(g),))
cast = primitive("cast", lambda x, dtype: x.astype(dtype), saves=(), kind="linear",
                 vjp=(lambda g, y, x, dtype: g.astype(x.dtype),))

# -- reductions: the gradient is the upstream gradient spread back over the reduced axes --------
total = primitive("sum", N.total, saves=(), kind="linear",
                  vjp=(lambda g, y, x, axis=None, keepdims=False:
                       xp.broadcast_to(keep(g, x, axis, keepdims), x.shape),))


def _argmax_weights(x, y, axis, keepdims):
    """1/k on each of the k entries equal to the maximum, 0 elsewhere (ties split evenly)."""
    hit = (x == keep(y, x, axis, keepdims)).astype(x.dtype)
    return hit / hit.sum(axis=axis, keepdims=True)


amax = primitive("max", np.max, smooth=False,
                 vjp=(lambda g, y, x, axis=None, keepdims=False:
                      keep(g, x, axis, keepdims) * _argmax_weights(x, y, axis, keepdims),),
                 jvp=(lambda d, y, x, axis=None, keepdims=False:
                      (d * _argmax_weights(x, y, axis, keepdims)).sum(axis=axis, keepdims=keepdims),))
logsumexp = primitive("logsumexp", N.logsumexp,
                      vjp=(lambda g, y, x, axis=None, keepdims=False:
                           keep(g, x, axis, keepdims) * xp.softmax(x, axis),),
                      jvp=(lambda d, y, x, axis=None, keepdims=False:
                           (d * xp.softmax(x, axis)).sum(axis=axis, keepdims=keepdims),))
log_softmax = primitive("log_softmax", N.log_softmax, saves=("y",),
                        vjp=(lambda g, y, x, axis=-1: g - xp.exp(y) * g.sum(axis=axis, keepdims=True),),
                        jvp=(lambda d, y, x, axis=-1: d - (xp.exp(y) * d).sum(axis=axis, keepdims=True),))



def _norm_slope(x, y, p, axis, keepdims):
    """∂‖x‖_p/∂x = sign(x) |x|^(p-1) / ‖x‖^(p-1), and 0 where the norm is 0 (there x = 0 and 0
    is a subgradient: the one of least size, as PyTorch takes it). Dividing by ∞ there makes
    the slope's own derivative 0 too (as |x|'' = 0 at 0), where PyTorch's is 0/0 = NaN."""
    if p == 1:
        return xp.sign(x)
    y = keep(y, x, axis, keepdims)
    y = xp.where(y == 0, np.inf, y)
    return x / y if p == 2 else xp.sign(x) * (abs(x) / y) ** (p - 1)


# the vector p-norm over ``axis`` (all entries for None), finite p >= 1; p = ±inf is max/min of
# |x| (ops.norm)
norm = primitive("norm", N.norm, saves=(0, "y"),
                 vjp=(lambda g, y, x, p, axis=None, keepdims=False:
                      keep(g, x, axis, keepdims) * _norm_slope(x, y, p, axis, keepdims),),
                 jvp=(lambda d, y, x, p, axis=None, keepdims=False:
                      (d * _norm_slope(x, y, p, axis, keepdims)).sum(axis=axis, keepdims=keepdims),))


def _reversed(axis):
    """The index that reverses ``axis``: a flip for arrays and Tensors alike."""
    return (slice(None),) * axis + (slice(None, None, -1),)


# running sums along one axis: the gradient of entry i collects the upstream gradient of every
# entry from i on, a running sum taken from the far end
cumsum = primitive("cumsum", lambda x, axis: np.cumsum(x, axis=axis), kind="linear", saves=(),
                   vjp=(lambda g, y, x, axis:
                        xp.cumsum(g[_reversed(axis)], axis)[_reversed(axis)],))
# np.roll's shift and axis (ints, or tuples of them, or axis None: the flattened entries)
roll = primitive("roll", lambda x, shift, axis: np.roll(x, shift, axis), kind="linear", saves=(),
                 vjp=(lambda g, y, x, shift, axis: xp.roll(g, _negated(shift), axis),))


def _negated(shift):
    return tuple(-s for s in shift) if isinstance(shift, tuple) else -shift


# -- einsum: the gradient of one operand is another einsum of the upstream gradient and the rest --
def _einsum_vjp(i, g, y, *xs, subscripts):
    """The upstream gradient summed against the other operands onto operand i's subscripts;
    ones stand for the letters only operand i has (summed in the forward, spread back here), an
    identity matrix for each repeat of a letter in it (a diagonal read, written back onto it)."""
    plan = S.vjp_plan(subscripts, i)
    shape = xs[i].shape
    extra = [np.ones(tuple(shape[k] for k in plan.summed), g.dtype)] if plan.summed else []
    extra += [np.eye(shape[k], dtype=g.dtype) for k in plan.repeated]
    others = [x for j, x in enumerate(xs) if j != i]
    return xp.einsum(plan.subscripts, g, *others, *extra)


# subscripts in explicit form, "ij,jk->ik" (ops.einsum writes any numpy accepts so); the sum is
# linear in each operand alone, so its jvp is the sum with one operand replaced by its tangent
einsum = primitive("einsum", N.einsum, kind="multilinear", vjp=PerInput(_einsum_vjp))


# -- matrix products, with numpy's 1-d conventions -------------------------------------------------
def matmul_vjp_a(g, y, a, b):
    if b.ndim == 1:
        return g.reshape(g.shape + (1,)) * b if a.ndim > 1 else g * b
    if a.ndim == 1:
        return (b @ g.reshape(g.shape + (1,))).reshape(b.shape[:-2] + b.shape[-2:-1])
    return g @ swap(b)


def matmul_vjp_b(g, y, a, b):
    if a.ndim == 1:
        return a.reshape(a.shape + (1,)) * g.reshape(g.shape[:-1] + (1,) + g.shape[-1:]) \
            if b.ndim > 1 else g * a
    if b.ndim == 1:
        return (swap(a) @ g.reshape(g.shape + (1,))).reshape(a.shape[:-2] + a.shape[-1:])
    return swap(a) @ g


def _matmul_hint(a, b):
    if a.ndim == 0 or b.ndim == 0:
        return "both operands need at least one axis; use * to scale"
    return ("the last axis of the left operand (%d) must equal the %s of the right (%d); "
            "transpose an operand or fix the layer sizes"
            % (a.shape[-1], "second-to-last axis" if b.ndim > 1 else "length", b.shape[-2 if b.ndim > 1 else 0]))


matmul = primitive("matmul", np.matmul, symbol="@", hint=_matmul_hint, saves=(0, 1),
                   kind="multilinear", vjp=(matmul_vjp_a, matmul_vjp_b))


def _addmm_hint(c, a, b):
    try:        # the product's shape, from tiny stand-ins (this runs only on an error)
        product = np.matmul(np.zeros(a.shape, np.int8), np.zeros(b.shape, np.int8)).shape
    except ValueError:
        return _matmul_hint(a, b)
    return ("the added term (shape %s) must broadcast to the product's shape %s, as a bias does"
            % (c.shape, product))


# c + a @ b as one node (torch.addmm): an RNN step adds its projected input to the recurrent
# product, and this saves a node and a full-size temporary per step
addmm = primitive("addmm", N.addmm, hint=_addmm_hint, saves=(1, 2),
                  vjp=(lambda g, y, c, a, b: g,                   # sum_to undoes broadcasting
                       lambda g, y, c, a, b: matmul_vjp_a(g, y, a, b),
                       lambda g, y, c, a, b: matmul_vjp_b(g, y, a, b)),
                  jvp=(lambda d, y, c, a, b: xp.broadcast_to(d, y.shape),
                       lambda d, y, c, a, b: d @ b, lambda d, y, c, a, b: a @ d))


# -- shapes: linear, and views of their input where numpy can make one -------------------------------
def _undo(axes):
    """The permutation that undoes ``axes``."""
    inverse = [0] * len(axes)
    for i, a in enumerate(axes):
        inverse[a] = i
    return tuple(inverse)


V = dict(kind="linear", saves=(), view=True)

identity = primitive("identity", lambda x: x.view(), **V,
                     vjp=(lambda g, y, x: g,))
transpose = primitive("transpose", lambda x, axes: np.transpose(x, axes), symbol="xᵀ", **V,
                      vjp=(lambda g, y, x, axes: g.transpose(_undo(axes)),))
reshape = primitive("reshape", lambda x, shape: np.reshape(x, shape), **V,
                    vjp=(lambda g, y, x, shape: g.reshape(x.shape),))
broadcast_to = primitive("broadcast_to", lambda x, shape: np.broadcast_to(x, shape),
                         symbol="broadcast", **V,
                         vjp=(lambda g, y, x, shape: g,))         # sum_to undoes it
getitem = primitive("getitem", lambda x, index: x[index], **V,
                    vjp=(lambda g, y, x, index: xp.scatter(g, index, x.shape),))
scatter_add = primitive("scatter_add", N.scatter_add, kind="linear", saves=(),
                        vjp=(lambda g, y, v, index, shape: g[index],))


class Parts:
    """Where a split cuts its input: one slice per output along ``axis``. Shared by the outputs
    of a split (and by splits cut alike: see ``parts``); an output's parameters are its position
    ``part`` and this."""

    __slots__ = ("axis", "indices", "tile", "params")

    def __init__(self, cuts, length, axis):
        ends = list(zip([0] + list(cuts), list(cuts) + [length]))
        self.indices = [(slice(None),) * axis + (slice(a, b),) for a, b in ends]
        self.axis = axis
        # each output's parameters, made once and shared by every split cut alike (read only)
        self.params = [{"part": k, "parts": self} for k in range(len(ends))]
        # tile: the parts cover the axis once, in order (numpy allows cut points out of order)
        spans = [slice(a, b).indices(length)[:2] for a, b in ends]
        stops = [max(a, b) for a, b in spans]
        self.tile = [a for a, _ in spans] == [0] + stops[:-1] and stops[-1] == length

    def __len__(self):
        return len(self.indices)

    @staticmethod
    def sibling(key, part, j):
        """The id of output j of the split whose output ``part`` has id ``key``."""
        return key - part + j

    def __str__(self):
        return "%d along axis %d" % (len(self.indices), self.axis)


@functools.lru_cache(maxsize=1024)
def parts(cuts, length, axis):
    """The Parts of a split at ``cuts`` (a tuple), made once: an RNN cuts alike at every step."""
    return Parts(cuts, length, axis)


# the outputs of a split are slices, each its own node with a slice's rules, recorded by one
# call with consecutive ids (the backward loop's speed layer joins their gradients in one go)
split = primitive("split", lambda x, part, parts: x[parts.indices[part]], **V,
                  vjp=(lambda g, y, x, part, parts: xp.scatter(g, parts.indices[part], x.shape),))


def _concat_offsets(xs, axis):
    offsets, at = [], 0
    for x in xs[:-1]:
        at += x.shape[axis]
        offsets.append(at)
    return offsets


def _concat_vjp(i, g, y, *xs, axis=0):
    start = sum(x.shape[axis] for x in xs[:i])
    index = (slice(None),) * (axis % y.ndim) + (slice(start, start + xs[i].shape[axis]),)
    return g[index]


def _concat_vjp_all(g, y, *xs, axis=0):
    """Every input's share of g in one cut: linear in the number of inputs."""
    return xp.split(g, _concat_offsets(xs, axis), axis)


concat = primitive("concat", lambda *xs, axis=0: np.concatenate(xs, axis=axis), kind="linear",
                   saves=(), vjp=PerInput(_concat_vjp), vjp_all=_concat_vjp_all)


def _either(op, array_fn):
    """A function of one value: the primitive ``op`` on a Tensor, ``array_fn`` on an array."""
    return staticmethod(lambda x: op(x) if type(x) is Tensor else array_fn(x))


class xp:
    """What rules call besides operators and methods: numpy on arrays, primitives on Tensors."""

    # (on the right, the names are the primitives above: a class body reads the module's)
    exp, log, sigmoid = _either(exp, np.exp), _either(log, np.log), _either(sigmoid, N.sigmoid)
    sin, cos = _either(sin, np.sin), _either(cos, np.cos)
    sinh, cosh = _either(sinh, np.sinh), _either(cosh, np.cosh)

    @staticmethod
    def zeros_like(x):
        return _zeros(x) if type(x) is Tensor else np.zeros_like(x)

    @staticmethod
    def cumsum(x, axis):
        return cumsum(x, axis=axis) if type(x) is Tensor else np.cumsum(x, axis=axis)

    @staticmethod
    def roll(x, shift, axis):
        return roll(x, shift=shift, axis=axis) if type(x) is Tensor else np.roll(x, shift, axis)

    @staticmethod
    def einsum(subscripts, *operands):
        if any(type(x) is Tensor for x in operands):
            like = next(x for x in operands if type(x) is Tensor)
            return einsum(*[_lift(x, like) for x in operands], subscripts=subscripts)
        return N.einsum(*operands, subscripts=subscripts)

    @staticmethod
    def softmax(x, axis):
        """exp(log_softmax): exact even where x - logsumexp(x) would round."""
        return exp(log_softmax(x, axis=axis)) if type(x) is Tensor else np.exp(N.log_softmax(x, axis))

    @staticmethod
    def sign(x):
        """No gradient flows through a sign: a constant on both sides."""
        return constant(np.sign(x._data)) if type(x) is Tensor else np.sign(x)

    @staticmethod
    def where(cond, a, b):
        if type(a) is Tensor or type(b) is Tensor:
            like = a if type(a) is Tensor else b
            return where(_lift(a, like), _lift(b, like), cond=_cond(cond))
        return np.where(_cond(cond), a, b)

    @staticmethod
    def broadcast_to(x, shape):
        if type(x) is Tensor:
            return x if x.shape == tuple(shape) else broadcast_to(x, shape=tuple(shape))
        return np.broadcast_to(x, shape)

    @staticmethod
    def scatter(g, index, shape):
        if type(g) is Tensor:
            return scatter_add(g, index=index, shape=shape)
        return N.scatter_add(g, index, shape)

    @staticmethod
    def split(g, offsets, axis):
        """``g`` cut at ``offsets`` along ``axis`` (numpy's split, without its Python loop of
        transposes per part)."""
        axis %= g.ndim
        if type(g) is Tensor:
            cuts = parts(tuple(offsets), g.shape[axis], axis)
            return [apply(split, (g,), p) for p in cuts.params]
        lead = (slice(None),) * axis
        ends = [0] + list(offsets) + [g.shape[axis]]
        return [g[lead + (slice(a, b),)] for a, b in zip(ends, ends[1:])]


def _lift(x, like):
    return x if type(x) is Tensor else constant(np.asarray(x, dtype=like.dtype))


def _cond(c):
    if type(c) is Tensor:
        return c._data
    return c
