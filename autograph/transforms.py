"""Functional transforms in JAX's style: grad, value_and_grad, vjp, jvp, jacobian, hessian.

Each transform traces ``f`` on fresh differentiable aliases of the chosen arguments. When the
output also depends on a tensor that required grad before the trace began (an outer transform is
tracing, through an argument or a closure), the results keep their graph, so transforms nest:
``grad(grad(grad(f)))`` works, and ``hessian`` is forward-over-reverse.
"""
import numpy as np

from . import modes
from . import primitives as P
from .backward import grads_of
from .errors import AutogradError
from .forward import push_tangents
from .ops import concat, reshape, stack, zeros
from .tensor import Tensor, apply, as_array, constant


def _alias(x, what):
    """A differentiable stand-in for an argument, still connected to it if it has a graph."""
    if isinstance(x, Tensor) and x.requires_grad:
        return apply(P.identity, (x,))
    arr = as_array(x)
    if arr.dtype.kind != "f":
        raise AutogradError("%s: cannot differentiate with respect to an argument of dtype %s; "
                            "pass floating-point values" % (what, arr.dtype))
    return Tensor(arr, requires_grad=True)


def _nums(argnums, nargs, what):
    nums = argnums if isinstance(argnums, (tuple, list)) else (argnums,)
    for n in nums:
        if not -nargs <= n < nargs:
            raise AutogradError("%s: argnums=%r but the function got %d arguments"
                                % (what, argnums, nargs))
    return [n % nargs for n in nums]


def _trace(f, args, argnums, what):
    """Run f on aliases; return (output, aliases, whether an outer trace is active)."""
    nums = _nums(argnums, len(args), what)
    args = list(args)
    with modes.enable_grad():
        xs = [_alias(args[n], what) for n in nums]
        for n, x in zip(nums, xs):
            args[n] = x
        out = f(*args)
    if not isinstance(out, Tensor):
        raise AutogradError("%s: the function must return a Tensor, got %s"
                            % (what, type(out).__name__))
    return out, xs, out.requires_grad and _reaches_outside(out, min(x._id for x in xs))


def _reaches_outside(out, floor):
    """True when ``out`` depends on a tensor that requires grad and existed before the trace
    began (an outer transform's variable, or a closure over one): the results must then keep
    their graph so that the outer transform can differentiate them."""
    stack, seen = [out], set()
    while stack:
        t = stack.pop()
        if t._id < floor:
            return True
        if t._id in seen or t._inputs is None:
            continue
        seen.add(t._id)
        stack.extend(x for x in t._inputs if x.requires_grad)
    return False


def _result(t, nested):
    return t if nested else constant(t.data)


def _pack(items, argnums):
    return tuple(items) if isinstance(argnums, (tuple, list)) else items[0]


def _filled(gs, xs):
    return [g if g is not None else zeros(x.shape, dtype=x.dtype) for g, x in zip(gs, xs)]


def value_and_grad(f, argnums=0):
    """``g(*args) -> (f(*args), d f / d args[argnums])``; f must return a scalar."""
    def value_and_grad_f(*args):
        out, xs, nested = _trace(f, args, argnums, "grad")
        if out.size != 1:
            raise AutogradError("grad: the function must return a scalar, got shape %s; use "
                                "jacobian() or vjp() for non-scalar outputs" % (out.shape,))
        if not out.requires_grad:
            gs = [None] * len(xs)
        else:
            gs = grads_of(out, xs, create_graph=nested)
        gs = [_result(g, nested) for g in _filled(gs, xs)]
        return _result(out, nested), _pack(gs, argnums)
    return value_and_grad_f


def grad(f, argnums=0):
    """``g(*args) -> d f / d args[argnums]`` (a tuple when argnums is a tuple)."""
    vg = value_and_grad(f, argnums)

    def grad_f(*args):
        return vg(*args)[1]
    return grad_f


def vjp(f, *primals):
    """``(f(*primals), vjp_fn)``; ``vjp_fn(cotangent)`` returns one cotangent per primal."""
    out, xs, nested = _trace(f, primals, tuple(range(len(primals))), "vjp")

    def vjp_fn(cotangent):
        if not out.requires_grad:
            gs = [None] * len(xs)
        else:
            gs = grads_of(out, xs, gradient=cotangent, retain_graph=True, create_graph=nested)
        return tuple(_result(g, nested) for g in _filled(gs, xs))
    return _result(out, nested), vjp_fn


def jvp(f, primals, tangents):
    """Forward mode: ``(f(*primals), J · tangents)``."""
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise AutogradError("jvp: got %d primals but %d tangents" % (len(primals), len(tangents)))
    out, xs, nested = _trace(f, primals, tuple(range(len(primals))), "jvp")
    ts = []
    for x, t in zip(xs, tangents):
        t = t if isinstance(t, Tensor) else constant(np.asarray(as_array(t), dtype=x.dtype))
        if t.shape != x.shape:
            raise AutogradError("jvp: a tangent has shape %s but its primal has shape %s"
                                % (t.shape, x.shape))
        ts.append(t)
    nested = nested or any(t.requires_grad for t in ts)
    (tout,) = push_tangents([out], xs, ts)
    return _result(out, nested), _result(tout, nested)


def jacobian(f, argnums=0, mode="rev"):
    """``J(*args)`` of shape ``out.shape + arg.shape``: rows by vjp ("rev") or columns by jvp
    ("fwd")."""
    if mode not in ("rev", "fwd"):
        raise AutogradError("jacobian: mode must be 'rev' or 'fwd', got %r" % (mode,))

    def jacobian_f(*args):
        out, xs, nested = _trace(f, args, argnums, "jacobian")
        jacs = []
        for x in xs:
            if not out.requires_grad:
                jac = zeros(out.shape + x.shape, dtype=out.dtype)
            elif mode == "rev":
                rows = []
                for k in range(out.size):
                    e = np.zeros(out.size, dtype=out.dtype)
                    e[k] = 1
                    (g,) = _filled(grads_of(out, [x], gradient=e.reshape(out.shape),
                                            retain_graph=True, create_graph=nested), [x])
                    rows.append(g)
                jac = reshape(stack(rows), out.shape + x.shape) if rows else \
                    zeros(out.shape + x.shape, dtype=out.dtype)
            else:
                cols = []
                for k in range(x.size):
                    e = np.zeros(x.size, dtype=x.dtype)
                    e[k] = 1
                    (t,) = push_tangents([out], [x], [constant(e.reshape(x.shape))])
                    cols.append(reshape(t, (-1, 1)))
                jac = reshape(concat(cols, axis=1), out.shape + x.shape) if cols else \
                    zeros(out.shape + x.shape, dtype=out.dtype)
            jacs.append(_result(jac, nested))
        return _pack(jacs, argnums)
    return jacobian_f


def hessian(f, argnums=0):
    """Second derivatives of a scalar f: forward-over-reverse."""
    return jacobian(jacobian(f, argnums, mode="rev"), argnums, mode="fwd")
