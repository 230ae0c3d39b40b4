"""``Compiled.check``: one call of a compiled function against one call of the function itself.

Both run on the same arguments; each backpropagates the same cotangents from its outputs (a
fixed random array per output unless given), into the tensors gradients reach, whose ``.grad``
is restored afterwards. Values and gradients must agree to ``rtol`` relative to each array's
largest entry (by default 1e-10 in float64, 1e-4 in float32, 1e-2 in float16: a weight's
stacked product sums in another order than the eager loop); the first that does not is named
in the error.
"""
import numpy as np

from ..errors import AutogradError
from ..tensor import Tensor


RTOL = {8: 1e-10, 4: 1e-4, 2: 1e-2}      # by the float's size in bytes


def check(cf, args, kwargs, rtol, gradient):
    from .compile import flatten, signature
    from ..modes import current
    tensors, key = signature(args, kwargs, current().grad)
    if not any(plan.fits() for plan in cf.plans.get(key, ())):
        cf(*args, **kwargs)                 # trace first: the check is about the replay
    plan = next(plan for plan in cf.plans[key] if plan.fits())
    reached = [t for t in tensors if t.requires_grad] + \
        [t for t in plan.externals if t.requires_grad]
    saved = [t.grad for t in reached]
    try:
        runs = []
        for run in (cf, cf.fn):
            for t in reached:
                t.grad = None
            outs, _ = flatten(run(*args, **kwargs))
            cotangents = _cotangents(outs, gradient)
            pairs = [(o, c) for o, c in zip(outs, cotangents) if o.requires_grad]
            if pairs:
                total = None
                for o, c in pairs:
                    term = (o * c).sum()
                    total = term if total is None else total + term
                total.backward()
            runs.append(([o.numpy() for o in outs],
                         [None if t.grad is None else t.grad.numpy() for t in reached]))
    finally:
        for t, g in zip(reached, saved):
            t.grad = g
    (values_c, grads_c), (values_e, grads_e) = runs
    for k, (a, b) in enumerate(zip(values_c, values_e)):
        _same(a, b, rtol, "output %d of %s" % (k, cf.name))
    for t, a, b in zip(reached, grads_c, grads_e):
        what = "the gradient of %s" % (t.name or "a tensor of shape %s" % (t.shape,))
        if (a is None) != (b is None):
            raise AutogradError("check: %s differ: %s compiled, %s eagerly" % (
                what, "none" if a is None else "one", "none" if b is None else "one"))
        if a is not None:
            _same(a, b, rtol, what)
    return True


def _cotangents(outs, gradient):
    if gradient is not None:
        given = gradient if isinstance(gradient, (tuple, list)) else [gradient]
        return [np.asarray(g.numpy() if isinstance(g, Tensor) else g) for g in given]
    rng = np.random.default_rng(0)
    return [rng.standard_normal(o.shape).astype(o.dtype) if o.dtype.kind in "fc" else None
            for o in outs]


def _same(a, b, rtol, what):
    if rtol is None:
        rtol = RTOL.get(b.dtype.itemsize, 1e-10) if b.dtype.kind in "fc" else 0
    scale = np.abs(b).max() if b.size else 0
    if a.shape != b.shape or not np.allclose(a, b, rtol=rtol, atol=rtol * scale,
                                             equal_nan=True):
        err = np.abs(a - b).max() if a.shape == b.shape else "shapes %s, %s" % (a.shape, b.shape)
        raise AutogradError("check: %s differ between the compiled and the eager call (largest "
                            "difference %s); the trace froze Python state or control flow "
                            "that the eager call took differently: call the function "
                            "uncompiled, or make that state an argument" % (what, err))
