"""Check derivatives against central finite differences in float64, in both modes.

Three checks per differentiated argument: the reverse-mode Jacobian and the forward-mode Jacobian
against finite differences, and the dot-product test <vjp(u), v> = <u, jvp(v)> that ties the two
rule sets together. ``order=2`` repeats all of it on the first derivative.
"""
import numpy as np

from .errors import GradcheckError
from .graph import walk
from .tensor import Tensor, as_array
from .transforms import jacobian, jvp, vjp


def _float64(x):
    return np.array(x._data if isinstance(x, Tensor) else as_array(x), dtype=np.float64)


def numerical_jacobian(f, inputs, i, eps):
    """d f / d inputs[i] by central differences, shape out.shape + inputs[i].shape."""
    x = inputs[i]
    cols = []
    for k in range(x.size):
        plus, minus = [a.copy() for a in inputs], [a.copy() for a in inputs]
        plus[i].flat[k] += eps
        minus[i].flat[k] -= eps
        cols.append((_eval(f, plus) - _eval(f, minus)).ravel() / (2 * eps))
    out_shape = _eval(f, inputs).shape
    jac = np.stack(cols, axis=1) if cols else np.zeros((int(np.prod(out_shape)), 0))
    return jac.reshape(out_shape + x.shape)


def _eval(f, arrays):
    out = f(*[Tensor(a) for a in arrays])
    return np.asarray(out._data if isinstance(out, Tensor) else out, dtype=np.float64)


def _ops_in(f, inputs):
    out = f(*[Tensor(a, requires_grad=True) for a in inputs])
    if not isinstance(out, Tensor):
        return "?"
    names = []
    for node in walk([out], what="gradcheck"):
        if node._op is not None and node._op.name not in names:
            names.append(node._op.name)
    return ", ".join(names) or "no recorded op"


def _compare(what, got, want, atol, rtol, f, inputs):
    got = np.asarray(got._data if isinstance(got, Tensor) else got, dtype=np.float64)
    if got.shape != want.shape:
        raise GradcheckError("%s: shape %s, expected %s (ops: %s)"
                             % (what, got.shape, want.shape, _ops_in(f, inputs)))
    bad = ~np.isclose(got, want, atol=atol, rtol=rtol, equal_nan=False)
    if bad.any():
        k = np.unravel_index(np.argmax(np.where(bad, np.abs(got - want), -1)), got.shape)
        raise GradcheckError(
            "%s disagrees at index %s: analytic %.10g, reference %.10g (max abs error %.3g; "
            "ops: %s)" % (what, tuple(int(j) for j in k), got[k], want[k],
                          np.max(np.abs(got - want)[bad]), _ops_in(f, inputs)))


def gradcheck(f, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, modes=("rev", "fwd"), order=1,
              argnums=None, seed=0):
    """True if f's derivatives match; raises ``GradcheckError`` naming the argument, the mode
    and the ops of f otherwise. Inputs are converted to float64."""
    inputs = [_float64(x) for x in inputs]
    nums = range(len(inputs)) if argnums is None else argnums
    rng = np.random.default_rng(seed)
    out = _eval(f, inputs)
    for i in nums:
        want = numerical_jacobian(f, inputs, i, eps)
        for mode in modes:
            got = jacobian(f, argnums=i, mode=mode)(*[Tensor(a) for a in inputs])
            _compare("d out / d input %d (%s mode)" % (i, mode), got, want, atol, rtol, f, inputs)
        if "rev" in modes and "fwd" in modes:
            u, v = rng.standard_normal(out.shape), rng.standard_normal(inputs[i].shape)
            back = vjp(lambda x: f(*_with(inputs, i, x)), inputs[i])[1](u)[0]
            fwd = jvp(lambda x: f(*_with(inputs, i, x)), (inputs[i],), (v,))[1]
            _compare("dot-product test <vjp(u), v> = <u, jvp(v)> for input %d" % i,
                     np.sum(back._data * v), np.sum(u * fwd._data), atol, rtol, f, inputs)
    if order >= 2:
        u = rng.standard_normal(out.shape)

        def first_derivative(*xs):
            cot = vjp(f, *xs)[1](u)
            total = None
            for k in nums:
                w = np.random.default_rng(seed + 1 + k).standard_normal(inputs[k].shape)
                term = (cot[k] * w).sum()
                total = term if total is None else total + term
            return total
        gradcheck(first_derivative, inputs, eps=eps, atol=atol, rtol=rtol, modes=modes,
                  order=order - 1, argnums=argnums, seed=seed + 100)
    return True


def _with(inputs, i, x):
    args = [Tensor(a) for a in inputs]
    args[i] = x
    return args
