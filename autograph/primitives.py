"""The table of primitives: each declared once, its forward beside its derivatives.

A rule reads like the math: ``vjp`` maps the upstream gradient ``g`` to one input's contribution,
``jvp`` maps one input's tangent ``d`` to the output's tangent. Both receive the output ``y`` and the
inputs, and the op's parameters as keywords. Rules are written only with operators, array/Tensor
methods and the ``xp`` namespace below, so the same rule runs on plain numpy arrays during an
ordinary backward and on Tensors under ``create_graph=True`` or in forward mode: that is how
higher-order derivatives come free.

Broadcasting is undone in one shared place (``sum_to``, applied by the backward loop), not here.

Subgradient conventions: relu'(0) = 0 and |x|'(0) = 0 (as PyTorch); at ties, maximum/minimum
and max/min reductions split the gradient evenly between the tied entries.
"""
import functools
import math
import weakref

import numpy as np

from .tensor import Tensor, apply, constant

TABLE = {}


class Primitive:
    """One op of the table. ``vjp``/``jvp`` hold one rule per input."""

    __slots__ = ("name", "forward", "vjp", "jvp", "symbol", "smooth", "hint", "saves", "joint",
                 "rows")
    # hint: a function of the input arrays that says what is wrong when forward fails
    # saves: the values the rules read, "y" for the output and input positions; None for all.
    #   Everything else is read at most for its shape and dtype, so release_unneeded() may free it.
    # joint: for an op recorded as several outputs of one call (split), the vjp rules taking the
    #   list of all the outputs' gradients at once; the backward loop uses them when it can.
    # rows: a test on the input arrays: True when the vjp rules take a gradient in row blocks
    #   (Rows) as it is, without a full-size copy.

    def __init__(self, name, forward, vjp, jvp, symbol=None, smooth=True, hint=None, saves=None,
                 joint=None, rows=None):
        self.name, self.forward, self.vjp, self.jvp = name, forward, vjp, jvp
        self.symbol, self.smooth, self.hint = symbol, smooth, hint
        self.saves = None if saves is None else frozenset(saves)
        self.joint, self.rows = joint, rows

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


def primitive(name, forward, vjp, jvp, **kw):
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


def is_basic(index):
    """True for indices made only of ints, slices, None and Ellipsis (no duplicates possible)."""
    for p in index if type(index) is tuple else (index,):
        if not (p is None or p is Ellipsis or isinstance(p, (int, np.integer, slice))):
            return False
    return True


def concat_slice(i, xs, axis, y):
    """The part of the concatenation ``y`` of ``xs`` that came from input ``i``. The inputs'
    start offsets are computed once per node, not once per input: a concatenation of T steps
    would otherwise cost O(T²) in its backward pass."""
    ref, starts = _concat_starts
    if ref is None or ref() is not y:
        starts = [0]
        for x in xs:
            starts.append(starts[-1] + x.shape[axis])
        _concat_starts[:] = weakref.ref(y), starts
    index = [slice(None)] * xs[i].ndim
    index[axis] = slice(starts[i], starts[i + 1])
    return tuple(index)


_concat_starts = [None, None]       # a weak reference to the last output seen, its offsets


# -- forwards that need more than one numpy call ---------------------------------------------
def _sigmoid(x):
    # exp(x) / (exp(x) + 1): where x is very negative exp(x) underflows gracefully, through the
    # subnormal numbers to 0; where exp(x) would overflow, x is clamped at log(max), and the
    # answer there is 1 to the last bit either way. Nothing overflows, so no np.errstate, whose
    # context costs more than the four ufuncs on a small array.
    if x.dtype.kind not in "fc":
        x = x.astype(np.float64)            # as numpy's exp
    # constants of x's dtype: numpy would convert a Python number on every call
    log_max, one = _EXP_LIMITS.get(x.dtype) or _exp_limits(x.dtype)
    e = np.minimum(x, log_max)
    if type(e) is not np.ndarray:           # a numpy scalar: no buffer to reuse
        e = np.exp(e)
        return e / (e + one)
    np.exp(e, out=e)
    return np.divide(e, np.add(e, one), out=e)


_EXP_LIMITS = {}        # dtype -> (log of its largest number, 1), of that dtype


def _exp_limits(dtype):
    real = np.finfo(dtype).dtype            # a complex dtype's parts
    log_max = np.nextafter(real.type(np.log(np.finfo(real).max)), 0)       # rounded down
    # 0-d arrays: numpy takes them faster than its scalars
    _EXP_LIMITS[dtype] = limits = (np.asarray(log_max), np.ones((), dtype))
    return limits


def _logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else out.reshape(np.sum(x, axis=axis).shape)


def _log_softmax(x, axis=-1):
    # shift first: x - logsumexp(x) would round logsumexp to the spacing of |x| (0.001 at 1e4
    # in float32), while x - max is exact and the log of the sum is small
    m = np.max(x, axis=axis, keepdims=True)
    shifted = x - np.where(np.isfinite(m), m, 0)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _scatter_add(g, index, shape):
    out = np.zeros(shape, dtype=g.dtype)
    if is_basic(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


def _max(x, axis=None, keepdims=False):
    if x.size == 0:
        raise ValueError("max of an empty tensor")
    return np.max(x, axis=axis, keepdims=keepdims)


# -- the table ---------------------------------------------------------------------------
add = primitive("add", np.add, symbol="+",
                vjp=(lambda g, y, a, b: g, lambda g, y, a, b: g),
                jvp=(lambda d, y, a, b: d, lambda d, y, a, b: d),
                saves=())
sub = primitive("sub", np.subtract, symbol="-",
                vjp=(lambda g, y, a, b: g, lambda g, y, a, b: -g),
                jvp=(lambda d, y, a, b: d, lambda d, y, a, b: -d),
                saves=())
mul = primitive("mul", np.multiply, symbol="*",
                vjp=(lambda g, y, a, b: g * b, lambda g, y, a, b: g * a),
                jvp=(lambda d, y, a, b: d * b, lambda d, y, a, b: a * d),
                saves=(0, 1))
div = primitive("div", np.divide, symbol="/",
                vjp=(lambda g, y, a, b: g / b, lambda g, y, a, b: -g * y / b),
                jvp=(lambda d, y, a, b: d / b, lambda d, y, a, b: -d * y / b),
                saves=("y", 1))
power = primitive("pow", np.power, symbol="**",
                  vjp=(lambda g, y, a, b: g * b * a ** (b - 1),
                       lambda g, y, a, b: g * y * xp.log(a)),
                  jvp=(lambda d, y, a, b: d * b * a ** (b - 1),
                       lambda d, y, a, b: d * y * xp.log(a)))
neg = primitive("neg", np.negative,
                vjp=(lambda g, y, x: -g,), jvp=(lambda d, y, x: -d,),
                saves=())
exp = primitive("exp", np.exp,
                vjp=(lambda g, y, x: g * y,), jvp=(lambda d, y, x: d * y,),
                saves=("y",))
log = primitive("log", np.log,
                vjp=(lambda g, y, x: g / x,), jvp=(lambda d, y, x: d / x,),
                saves=(0,))
sqrt = primitive("sqrt", np.sqrt,
                 vjp=(lambda g, y, x: g * 0.5 / y,), jvp=(lambda d, y, x: d * 0.5 / y,),
                 saves=("y",))
absolute = primitive("abs", np.abs, smooth=False,
                     vjp=(lambda g, y, x: g * xp.sign(x),), jvp=(lambda d, y, x: d * xp.sign(x),))
tanh = primitive("tanh", np.tanh,
                 vjp=(lambda g, y, x: g * (1 - y * y),), jvp=(lambda d, y, x: d * (1 - y * y),),
                 saves=("y",))
sigmoid = primitive("sigmoid", _sigmoid,
                    vjp=(lambda g, y, x: g * y * (1 - y),), jvp=(lambda d, y, x: d * y * (1 - y),),
                    saves=("y",))
softplus = primitive("softplus", lambda x: np.logaddexp(0, x),
                     vjp=(lambda g, y, x: g * xp.sigmoid(x),),
                     jvp=(lambda d, y, x: d * xp.sigmoid(x),))
relu = primitive("relu", lambda x: np.maximum(x, 0), smooth=False,
                 vjp=(lambda g, y, x: g * (x > 0),), jvp=(lambda d, y, x: d * (x > 0),),
                 saves=(0,))
maximum = primitive("maximum", np.maximum, smooth=False,
                    vjp=(lambda g, y, a, b: g * (a > b) + 0.5 * g * (a == b),
                         lambda g, y, a, b: g * (b > a) + 0.5 * g * (a == b)),
                    jvp=(lambda d, y, a, b: d * (a > b) + 0.5 * d * (a == b),
                         lambda d, y, a, b: d * (b > a) + 0.5 * d * (a == b)))
clip = primitive("clip", lambda x, lo, hi: np.clip(x, lo, hi), smooth=False,
                 vjp=(lambda g, y, x, lo, hi: g * (x >= lo) * (x <= hi),),
                 jvp=(lambda d, y, x, lo, hi: d * (x >= lo) * (x <= hi),))
where = primitive("where", lambda a, b, cond: np.where(cond, a, b), smooth=False,
                  vjp=(lambda g, y, a, b, cond: xp.where(cond, g, 0),
                       lambda g, y, a, b, cond: xp.where(cond, 0, g)),
                  jvp=(lambda d, y, a, b, cond: xp.where(cond, d, 0),
                       lambda d, y, a, b, cond: xp.where(cond, 0, d)),
                  saves=())
cast = primitive("cast", lambda x, dtype: x.astype(dtype),
                 vjp=(lambda g, y, x, dtype: g.astype(x.dtype),),
                 jvp=(lambda d, y, x, dtype: d.astype(dtype),),
                 saves=())

# reductions: the gradient is the upstream gradient spread back over the reduced axes
total = primitive("sum", lambda x, axis=None, keepdims=False: np.sum(x, axis=axis, keepdims=keepdims),
                  vjp=(lambda g, y, x, axis=None, keepdims=False:
                       xp.broadcast_to(keep(g, x, axis, keepdims), x.shape),),
                  jvp=(lambda d, y, x, axis=None, keepdims=False: d.sum(axis=axis, keepdims=keepdims),),
                  saves=())


def _argmax_weights(x, y, axis, keepdims):
    """1/k on each of the k entries equal to the maximum, 0 elsewhere (ties split evenly)."""
    hit = (x == keep(y, x, axis, keepdims)).astype(x.dtype)
    return hit / hit.sum(axis=axis, keepdims=True)


amax = primitive("max", _max, smooth=False,
                 vjp=(lambda g, y, x, axis=None, keepdims=False:
                      keep(g, x, axis, keepdims) * _argmax_weights(x, y, axis, keepdims),),
                 jvp=(lambda d, y, x, axis=None, keepdims=False:
                      (d * _argmax_weights(x, y, axis, keepdims)).sum(axis=axis, keepdims=keepdims),))
logsumexp = primitive("logsumexp", _logsumexp,
                      vjp=(lambda g, y, x, axis=None, keepdims=False:
                           keep(g, x, axis, keepdims) * xp.softmax(x, axis),),
                      jvp=(lambda d, y, x, axis=None, keepdims=False:
                           (d * xp.softmax(x, axis)).sum(axis=axis, keepdims=keepdims),))
log_softmax = primitive("log_softmax", _log_softmax,
                        vjp=(lambda g, y, x, axis=-1: g - xp.exp(y) * g.sum(axis=axis, keepdims=True),),
                        jvp=(lambda d, y, x, axis=-1: d - (xp.exp(y) * d).sum(axis=axis, keepdims=True),))


# matrix product, with numpy's 1-d conventions
def _matmul_vjp_a(g, y, a, b):
    if b.ndim == 1:
        return g.reshape(g.shape + (1,)) * b if a.ndim > 1 else g * b
    if a.ndim == 1:
        return (b @ g.reshape(g.shape + (1,))).reshape(b.shape[:-2] + b.shape[-2:-1])
    return g @ swap(b)


def _matmul_vjp_b(g, y, a, b):
    if a.ndim == 1:
        return a.reshape(a.shape + (1,)) * g.reshape(g.shape[:-1] + (1,) + g.shape[-1:]) \
            if b.ndim > 1 else g * a
    if b.ndim == 1:
        return (swap(a) @ g.reshape(g.shape + (1,))).reshape(a.shape[:-2] + a.shape[-1:])
    return xp.transposed_matmul(a, g)


def _matmul_hint(a, b):
    if a.ndim == 0 or b.ndim == 0:
        return "both operands need at least one axis; use * to scale"
    return ("the last axis of the left operand (%d) must equal the %s of the right (%d); "
            "transpose an operand or fix the layer sizes"
            % (a.shape[-1], "second-to-last axis" if b.ndim > 1 else "length", b.shape[-2 if b.ndim > 1 else 0]))


def _matrices(*args):
    """Both factors of the product are matrices: its rules take a gradient in row blocks."""
    return args[-2].ndim == 2 == args[-1].ndim


matmul = primitive("matmul", np.matmul, symbol="@", hint=_matmul_hint,
                   vjp=(_matmul_vjp_a, _matmul_vjp_b),
                   jvp=(lambda d, y, a, b: d @ b, lambda d, y, a, b: a @ d),
                   saves=(0, 1), rows=_matrices)


def _fits(c, out):
    """``out += c`` keeps c's precision (the dtype test first: it is the usual case)."""
    return c.dtype == out.dtype or np.result_type(out, c) == out.dtype


def _addmm(c, a, b):
    """c + a @ b, adding into the product's buffer; c must broadcast to the product's shape."""
    out = np.matmul(a, b)
    if type(out) is np.ndarray and _fits(c, out):
        out += c                # raises ValueError itself when c does not broadcast to out
        return out
    if np.broadcast_shapes(c.shape, np.shape(out)) != np.shape(out):
        raise ValueError("c does not broadcast to the product")
    return c + out


def _addmm_hint(c, a, b):
    try:        # the product's shape, from tiny stand-ins (this runs only on an error)
        product = np.matmul(np.zeros(a.shape, np.int8), np.zeros(b.shape, np.int8)).shape
    except ValueError:
        return _matmul_hint(a, b)
    return ("the added term (shape %s) must broadcast to the product's shape %s, as a bias does"
            % (c.shape, product))


# c + a @ b as one node (torch.addmm): an RNN step adds its projected input to the recurrent
# product, and this saves a node and a full-size temporary per step
addmm = primitive("addmm", _addmm, hint=_addmm_hint,
                  vjp=(lambda g, y, c, a, b: g,                   # sum_to undoes broadcasting
                       lambda g, y, c, a, b: _matmul_vjp_a(g, y, a, b),
                       lambda g, y, c, a, b: _matmul_vjp_b(g, y, a, b)),
                  jvp=(lambda d, y, c, a, b: xp.broadcast_to(d, y.shape),
                       lambda d, y, c, a, b: d @ b, lambda d, y, c, a, b: a @ d),
                  saves=(1, 2), rows=_matrices)


def _addcmul(c, a, b):
    """c + a * b, adding into the product's buffer when c has its shape."""
    out = np.multiply(a, b)
    if type(out) is np.ndarray and out.shape == np.shape(c) and _fits(c, out):
        out += c
        return out
    return np.add(c, out)


# c + a ⊙ b as one node (torch.addcmul): an LSTM's cell state f ⊙ c + i ⊙ g in two nodes,
# not three
addcmul = primitive("addcmul", _addcmul,
                    vjp=(lambda g, y, c, a, b: g, lambda g, y, c, a, b: g * b,
                         lambda g, y, c, a, b: g * a),
                    jvp=(lambda d, y, c, a, b: d, lambda d, y, c, a, b: d * b,
                         lambda d, y, c, a, b: a * d),
                    saves=(1, 2))

# shape ops
def _undo(axes):
    """The permutation that undoes ``axes``."""
    return tuple(sorted(range(len(axes)), key=axes.__getitem__))


identity = primitive("identity", lambda x: x,
                     vjp=(lambda g, y, x: g,), jvp=(lambda d, y, x: d,),
                     saves=())
transpose = primitive("transpose", lambda x, axes: np.transpose(x, axes),
                      vjp=(lambda g, y, x, axes: g.transpose(_undo(axes)),),
                      jvp=(lambda d, y, x, axes: d.transpose(axes),),
                      saves=())
reshape = primitive("reshape", lambda x, shape: np.reshape(x, shape),
                    vjp=(lambda g, y, x, shape: g.reshape(x.shape),),
                    jvp=(lambda d, y, x, shape: d.reshape(shape),),
                    saves=())
broadcast_to = primitive("broadcast_to", lambda x, shape: np.broadcast_to(x, shape),
                         vjp=(lambda g, y, x, shape: g,),         # sum_to undoes it
                         jvp=(lambda d, y, x, shape: xp.broadcast_to(d, shape),),
                         saves=())
getitem = primitive("getitem", lambda x, index: x[index],
                    vjp=(lambda g, y, x, index: xp.scatter(g, index, x.shape),),
                    jvp=(lambda d, y, x, index: d[index],),
                    saves=())
scatter_add = primitive("scatter_add", _scatter_add,
                        vjp=(lambda g, y, v, index, shape: g[index],),
                        jvp=(lambda d, y, v, index, shape: scatter_add(d, index=index, shape=shape),),
                        saves=())


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

    def __str__(self):
        return "%d along axis %d" % (len(self.indices), self.axis)


@functools.lru_cache(maxsize=1024)
def parts(cuts, length, axis):
    """The Parts of a split at ``cuts`` (a tuple), made once: an RNN cuts alike at every step."""
    return Parts(cuts, length, axis)


def _join(gs, y, x, part, parts):
    """The input's gradient from all the outputs' (zeros for an output none reached); a large
    matrix cut along its rows gets it in row blocks, joined only if its op needs them joined
    (a small one is joined at once: one concatenate costs less than the blocks' bookkeeping)."""
    dtype = gs[part].dtype              # the output the loop popped: its gradient arrived
    if not parts.tile:                  # cut points out of order: the parts overlap
        out = np.zeros(x.shape, dtype)
        for g, index in zip(gs, parts.indices):
            if g is not None:
                out[index] += g
        return out
    gs = [np.zeros(x[index].shape, dtype) if g is None else g
          for g, index in zip(gs, parts.indices)]
    if parts.axis == 0 and x.ndim == 2 and x.nbytes > PRODUCT_BYTES:
        return Rows(gs)
    return np.concatenate(gs, axis=parts.axis)


# the outputs of a split are slices, each its own node with a slice's rules; joined, the
# gradient of all of them is one concatenate instead of a piece per output
split = primitive("split", lambda x, part, parts: x[parts.indices[part]],
                  vjp=(lambda g, y, x, part, parts: xp.scatter(g, parts.indices[part], x.shape),),
                  jvp=(lambda d, y, x, part, parts: d[parts.indices[part]],),
                  joint=(_join,), saves=())
concat = primitive("concat", lambda *xs, axis=0: np.concatenate(xs, axis=axis),
                   vjp=PerInput(lambda i, g, y, *xs, axis=0: g[concat_slice(i, xs, axis, y)]),
                   jvp=PerInput(lambda i, d, y, *xs, axis=0:
                                xp.scatter(d, concat_slice(i, xs, axis, y), y.shape)),
                   saves=())


DENSE_BYTES = 16 << 20     # Scatter: above this a gradient is added into one buffer at once
PRODUCT_BYTES = 4 << 20    # Products: the pairs held before they are multiplied out


class Lazy:
    """A gradient the backward loop keeps in pieces and makes dense once, when it reaches the
    tensor. ``merge`` takes another of the same kind (and may return a dense array instead),
    ``add_into`` adds it into a buffer, ``dense`` makes the array; ``shape`` and ``dtype`` are
    the array's."""

    __slots__ = ()


def dense(g):
    """``g`` as an array: a lazy gradient made dense, anything else as it is."""
    return g.dense() if isinstance(g, Lazy) else g


class Scatter(Lazy):
    """A lazy gradient: ``zeros(shape)`` plus ``value`` at ``index``, for each of its pieces.

    The backward loop merges the pieces sent to one tensor and makes the dense gradient once,
    when it reaches the tensor: slicing a tensor T times costs O(T), not O(T²), and slices that
    tile it along one axis (the gates cut from one pre-activation, the steps cut from one input
    projection) are joined by one ``concatenate`` instead of being added into zeros."""

    __slots__ = ("pieces", "size", "shape", "dtype")

    def __init__(self, value, index, shape):
        self.pieces, self.size = [(index, value)], value.size
        self.shape, self.dtype = shape, value.dtype

    def merge(self, other):
        """Take ``other``'s pieces, or become dense: once the pieces hold more than one buffer
        would (repeated overlapping slices then cost one buffer, not one per slice), for small
        pieces (where a piece's bookkeeping costs more than adding it into a buffer), and for
        large tensors (whose pieces and their concatenation would be two copies at once)."""
        full = math.prod(self.shape)
        if other.size < 512 or self.size + other.size > full \
                or full * self.dtype.itemsize > DENSE_BYTES:
            return other.add_into(self.dense())
        self.pieces += other.pieces
        self.size += other.size
        self.dtype = np.result_type(self.dtype, other.dtype)
        return self

    def add_into(self, buf):
        for index, value in self.pieces:
            if is_basic(index):
                buf[index] += value
            else:
                np.add.at(buf, index, value)
        return buf

    def dense(self):
        tiles = _tiles(self.pieces, self.shape) if len(self.pieces) > 1 else None
        if tiles is not None:
            return np.concatenate(tiles[1], axis=tiles[0], dtype=self.dtype)
        return self.add_into(np.zeros(self.shape, dtype=self.dtype))


class Products(Lazy):
    """A lazy gradient: ``done`` plus the sum of ``a.T @ g`` over pairs (a, g), what the matrix
    products reading one weight send it (an RNN's recurrent weight is read once per step). The
    pairs are multiplied out together, the a's stacked against the g's: one large product is
    faster than T small ones added up, as in a hand-written BPTT. Past ``PRODUCT_BYTES`` the
    pairs held are multiplied out into ``done``, so what they keep alive stays bounded."""

    __slots__ = ("pairs", "nbytes", "done", "shape", "dtype")

    def __init__(self, a, g):
        self.pairs, self.nbytes, self.done = [(a, g)], a.nbytes + g.nbytes, None
        self.shape = (a.shape[1], g.shape[1])
        self.dtype = g.dtype if a.dtype == g.dtype else np.result_type(a, g)

    def merge(self, other):
        self.pairs += other.pairs
        self.nbytes += other.nbytes
        if other.dtype != self.dtype:
            self.dtype = np.result_type(self.dtype, other.dtype)
        if other.done is not None:
            self.done = added(self.done, other.done)
        if self.nbytes > PRODUCT_BYTES:
            self.done = added(self.done, self._product())
            self.pairs, self.nbytes = [], 0
        return self

    def _product(self):
        if len(self.pairs) == 1:
            a, g = self.pairs[0]
            return a.T @ g
        a, g = zip(*self.pairs)
        return np.concatenate(a).T @ np.concatenate(g)

    def add_into(self, buf):
        if self.pairs:
            buf = added(buf, self._product())
        return buf if self.done is None else added(buf, self.done)

    def dense(self):
        """A fresh array: ``done`` may still grow after a debugger has shown this."""
        if not self.pairs:
            return self.done.copy()
        return added(self._product(), self.done) if self.done is not None else self._product()


class Rows(Lazy):
    """A lazy gradient in row blocks: ``blocks`` concatenated along the first axis, what a split
    into row blocks sends its input (each time step's share of a layer's input projection).
    The projection's rules (``Primitive.rows``) take it as it is: the weight's gradient is then
    multiplied out in batches of blocks, and no full-size copy of the gradient is ever made."""

    __slots__ = ("blocks", "shape", "dtype")
    ndim = 2

    def __init__(self, blocks):
        self.blocks = blocks
        self.shape = (sum(len(b) for b in blocks), blocks[0].shape[1])
        self.dtype = np.result_type(*blocks)

    def _spans(self):
        start = 0
        for b in self.blocks:
            yield start, start + len(b), b
            start += len(b)

    def dense(self):
        return np.concatenate(self.blocks, dtype=self.dtype)

    def add_into(self, buf):
        for start, stop, b in self._spans():
            buf[start:stop] += b
        return buf

    def merge(self, other):
        return other.add_into(self.dense())

    def sum(self, axis):
        """What ``sum_to`` asks: a bias's gradient sums over the rows, block by block."""
        if 0 not in axis:
            return self.dense().sum(axis=axis)
        return functools.reduce(np.add, (b.sum(axis=axis) for b in self.blocks))

    def __matmul__(self, m):
        out = np.empty((self.shape[0], m.shape[1]), np.result_type(self.dtype, m))
        for start, stop, b in self._spans():
            np.matmul(b, m, out=out[start:stop])
        return out

    def products(self, a):
        """``a.T @ self`` as Products, block against block of a's rows."""
        spans = self._spans()
        start, stop, b = next(spans)
        out = Products(a[start:stop], b)
        for start, stop, b in spans:
            out = out.merge(Products(a[start:stop], b))
        return out


LAZY = frozenset(Lazy.__subclasses__())     # for the backward loop's type test


def added(buf, value):
    """buf + value, into ``buf`` (a buffer of the caller's) when its dtype holds the sum."""
    if buf is None:
        return value
    if not _fits(value, buf):
        return buf + value
    buf += value
    return buf


def _tiles(pieces, shape):
    """(axis, values in order) when the pieces are slices along one axis that cover it exactly
    once, else None."""
    runs = []
    for index, value in pieces:
        run = _run_along_axis(index, shape)
        if run is None:
            return None
        axis, start, stop, squeezed = run
        runs.append((start, stop, axis, np.expand_dims(value, axis) if squeezed else value))
    runs.sort(key=lambda r: r[0])
    axis = runs[0][2]
    end = 0
    for start, stop, a, _ in runs:
        if a != axis or start != end:
            return None
        end = stop
    if end != shape[axis]:
        return None
    return axis, [r[3] for r in runs]


def _run_along_axis(index, shape):
    """``(axis, start, stop, squeezed)`` when ``index`` selects positions start..stop-1 of one
    axis (an int or a step-1 slice) and everything of the others; else None."""
    if type(index) is slice:
        parts = (index,)
    elif not is_basic(index):
        return None
    else:
        parts = index if type(index) is tuple else (index,)
        if Ellipsis in parts:       # only ints, slices and None here: == is safe
            at = parts.index(Ellipsis)
            parts = parts[:at] + (slice(None),) * (len(shape) - len(parts) + 1) + parts[at + 1:]
    found = None
    for axis, p in enumerate(parts):
        if type(p) is slice:
            start, stop, step = p.indices(shape[axis])
            if (start, stop) == (0, shape[axis]):
                continue
            if step != 1 or found is not None or stop <= start:
                return None
            found = (axis, start, stop, False)
        elif isinstance(p, (int, np.integer)) and not isinstance(p, bool) and found is None:
            k = int(p) % shape[axis] if -shape[axis] <= p < shape[axis] else None
            if k is None:
                return None
            found = (axis, k, k + 1, True)
        else:
            return None
    return found


class xp:
    """What rules call besides operators and methods: numpy on arrays, primitives on Tensors."""

    @staticmethod
    def exp(x):
        return exp(x) if type(x) is Tensor else np.exp(x)

    @staticmethod
    def log(x):
        return log(x) if type(x) is Tensor else np.log(x)

    @staticmethod
    def sigmoid(x):
        return sigmoid(x) if type(x) is Tensor else _sigmoid(x)

    @staticmethod
    def softmax(x, axis):
        """exp(log_softmax): exact even where x - logsumexp(x) would round."""
        return exp(log_softmax(x, axis=axis)) if type(x) is Tensor else np.exp(_log_softmax(x, axis))

    @staticmethod
    def sign(x):
        """No gradient flows through a sign: a constant on both sides."""
        return constant(np.sign(x.data)) if type(x) is Tensor else np.sign(x)

    @staticmethod
    def where(cond, a, b):
        if type(a) is Tensor or type(b) is Tensor:
            like = a if type(a) is Tensor else b
            return where(_lift(a, like), _lift(b, like), cond=_cond(cond))
        return np.where(cond, a, b)

    @staticmethod
    def broadcast_to(x, shape):
        if type(x) is Tensor:
            return x if x.shape == tuple(shape) else broadcast_to(x, shape=tuple(shape))
        return np.broadcast_to(x, shape)

    @staticmethod
    def transposed_matmul(a, g):
        """swap(a) @ g; for matrices, lazily (Products), to be added up with its like."""
        if type(a) is np.ndarray and a.ndim == 2 == g.ndim:
            if type(g) is np.ndarray:
                return Products(a, g)
            if type(g) is Rows:
                return g.products(a)
        return swap(a) @ g

    @staticmethod
    def scatter(g, index, shape):
        if type(g) is Tensor:
            return scatter_add(g, index=index, shape=shape)
        return Scatter(g, index, shape)


def _lift(x, like):
    return x if type(x) is Tensor else constant(np.asarray(x, dtype=like.dtype))


def _cond(c):
    return c.data if type(c) is Tensor else c
