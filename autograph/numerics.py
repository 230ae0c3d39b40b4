"""Forwards that need more than one numpy call to be right: stable, overflow-free, or fused.

Each is a plain function of numpy arrays, used by one primitive of the table (rules.py).
float16 reductions accumulate in float32, as PyTorch's do: a sum of 70,000 float16 ones is
70,000 on the way, not Inf.
"""
import numpy as np


def accumulator(dtype):
    """The dtype a reduction of ``dtype`` accumulates in (float32 for float16, else its own)."""
    return np.float32 if dtype == np.float16 else None


def total(x, axis=None, keepdims=False):
    acc = accumulator(x.dtype)
    if acc is None:
        return np.sum(x, axis=axis, keepdims=keepdims)
    return np.sum(x, axis=axis, keepdims=keepdims, dtype=acc).astype(x.dtype)


def sigmoid(x):
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


def _shifted(x, axis):
    """x - max(x) along ``axis`` (exact), with the max of an all -inf (or empty) slice as 0."""
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf) if x.size == 0 else \
        np.max(x, axis=axis, keepdims=True)
    return x - np.where(np.isfinite(m), m, 0), m


def _log_sum_exp_shifted(shifted, axis):
    acc = accumulator(shifted.dtype)
    with np.errstate(divide="ignore"):      # log(0) = -inf for an empty or all -inf slice
        s = np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True, dtype=acc))
    return s if acc is None else s.astype(shifted.dtype)


def logsumexp(x, axis=None, keepdims=False):
    """log Σ exp(x), shifted by the max so that nothing overflows; -inf for an empty slice."""
    shifted, m = _shifted(x, axis)
    out = np.where(np.isfinite(m), m, 0) + _log_sum_exp_shifted(shifted, axis)
    return out if keepdims else out.reshape(np.sum(x, axis=axis).shape)


def log_softmax(x, axis=-1):
    # shift first: x - logsumexp(x) would round logsumexp to the spacing of |x| (0.001 at 1e4
    # in float32), while x - max is exact and the log of the sum is small
    shifted, _ = _shifted(x, axis)
    return shifted - _log_sum_exp_shifted(shifted, axis)


def fits(c, out):
    """``out += c`` keeps c's precision (the dtype test first: it is the usual case)."""
    return c.dtype == out.dtype or np.result_type(out, c) == out.dtype


def addmm(c, a, b):
    """c + a @ b, adding into the product's buffer; c must broadcast to the product's shape."""
    out = np.matmul(a, b)
    if type(out) is np.ndarray and fits(c, out):
        out += c                # raises ValueError itself when c does not broadcast to out
        return out
    if np.broadcast_shapes(c.shape, np.shape(out)) != np.shape(out):
        raise ValueError("c does not broadcast to the product")
    return c + out


def addcmul(c, a, b):
    """c + a * b, adding into the product's buffer when c has its shape."""
    out = np.multiply(a, b)
    if type(out) is np.ndarray and out.shape == np.shape(c) and fits(c, out):
        out += c
        return out
    return np.add(c, out)


def is_basic(index):
    """True for indices made only of ints, slices, None and Ellipsis (no duplicates possible)."""
    for p in index if type(index) is tuple else (index,):
        if not (p is None or p is Ellipsis or isinstance(p, (int, np.integer, slice))):
            return False
    return True


def scatter_add(g, index, shape):
    """zeros(shape) with ``g`` added at ``index`` (repeated integer indices add up)."""
    out = np.zeros(shape, dtype=g.dtype)
    if is_basic(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


def norm(x, p, axis=None, keepdims=False):
    """The vector p-norm of the entries over ``axis``: (Σ |x|^p)^(1/p), for finite p >= 1."""
    a = np.abs(x)
    if p == 1:
        return np.sum(a, axis=axis, keepdims=keepdims)
    if p == 2:
        return np.sqrt(np.sum(a * a, axis=axis, keepdims=keepdims))
    return np.sum(a ** p, axis=axis, keepdims=keepdims) ** (1 / p)


def einsum(*operands, subscripts):
    """numpy's einsum; with two operands or more, contracted in the order numpy finds cheapest
    (through BLAS where it can) instead of one loop over every letter."""
    return np.einsum(subscripts, *operands, optimize=len(operands) > 1)
