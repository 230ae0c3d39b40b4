"""Functional transforms in JAX's style: grad, value_and_grad, vjp, jvp, jacobian, hessian.

Each transform traces ``f`` on fresh differentiable aliases of the chosen arguments (keyword
arguments pass through to ``f`` untouched). When the output also depends on a tensor that
required grad before the trace began (an outer transform is tracing, through an argument or a
closure), the results keep their graph, so transforms nest: ``grad(grad(grad(f)))`` works, and
``hessian`` is forward-over-reverse. ``has_aux=True``: ``f`` returns ``(output, aux)`` and the
aux data comes back beside the result, undifferentiated, as in JAX.
"""
import numpy as np

from . import rules as P
from .backward import grads_of
from .errors import AutogradError
from .forward import push_tangents
from .modes import enable_grad
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
        if not isinstance(n, int) or not -nargs <= n < nargs:
            raise AutogradError("%s: argnums=%r but the function got %d positional arguments"
                                % (what, argnums, nargs))
    return [n % nargs for n in nums]


def _trace(f, args, kwargs, argnums, what, has_aux=False, several=False):
    """Run f on aliases; return (output, aux, aliases, whether an outer trace is active).
    ``several``: the output may be a tuple of Tensors."""
    nums = _nums(argnums, len(args), what)
    args = list(args)
    with enable_grad():
        xs = [_alias(args[n], what) for n in nums]
        for n, x in zip(nums, xs):
            args[n] = x
        out = f(*args, **kwargs)
    aux = None
    if has_aux:
        if not (isinstance(out, tuple) and len(out) == 2):
            raise AutogradError("%s: has_aux=True needs the function to return a pair "
                                "(output, aux), got %s" % (what, type(out).__name__))
        out, aux = out
    outs = out if several and isinstance(out, tuple) else (out,)
    for o in outs:
        if not isinstance(o, Tensor):
            raise AutogradError("%s: the function must return a Tensor%s, got %s"
                                % (what, " or a tuple of them" if several else "",
                                   type(o).__name__))
    floor = min(x._id for x in xs)
    nested = any(o.requires_grad and _reaches_outside(o, floor) for o in outs)
    return out, aux, xs, nested


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
    return t if nested else constant(t._data)


def _pack(items, argnums):
    return tuple(items) if isinstance(argnums, (tuple, list)) else items[0]


def _filled(gs, xs):
    return [g if g is not None else zeros(x.shape, dtype=x.dtype) for g, x in zip(gs, xs)]


def value_and_grad(f, argnums=0, has_aux=False):
    """``g(*args, **kwargs) -> (f(*args), d f / d args[argnums])``; f must return a scalar.
    With ``has_aux``: ``((value, aux), grad)``."""
    def value_and_grad_f(*args, **kwargs):
        out, aux, xs, nested = _trace(f, args, kwargs, argnums, "grad", has_aux)
        if out._data.size != 1:
            raise AutogradError("grad: the function must return a scalar, got shape %s; use "
                                "jacobian() or vjp() for non-scalar outputs" % (out.shape,))
        gs = grads_of(out, xs, create_graph=nested) if out.requires_grad else [None] * len(xs)
        grads = _pack([_result(g, nested) for g in _filled(gs, xs)], argnums)
        value = _result(out, nested)
        return ((value, aux) if has_aux else value), grads
    return value_and_grad_f


def grad(f, argnums=0, has_aux=False):
    """``g(*args, **kwargs) -> d f / d args[argnums]`` (a tuple when argnums is a tuple);
    with ``has_aux``: ``(grad, aux)``."""
    vg = value_and_grad(f, argnums, has_aux)

    def grad_f(*args, **kwargs):
        value, grads = vg(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads
    return grad_f


def vjp(f, *primals, has_aux=False):
    """``(f(*primals), vjp_fn)``; ``vjp_fn(cotangent)`` returns one cotangent per primal.
    With ``has_aux``: ``(output, vjp_fn, aux)``."""
    out, aux, xs, nested = _trace(f, primals, {}, tuple(range(len(primals))), "vjp", has_aux)

    def vjp_fn(cotangent):
        if not out.requires_grad:
            gs = [None] * len(xs)
        else:
            gs = grads_of(out, xs, gradient=cotangent, retain_graph=True, create_graph=nested)
        return tuple(_result(g, nested) for g in _filled(gs, xs))
    if has_aux:
        return _result(out, nested), vjp_fn, aux
    return _result(out, nested), vjp_fn


def jvp(f, primals, tangents):
    """Forward mode: ``(f(*primals), J · tangents)``."""
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise AutogradError("jvp: got %d primals but %d tangents" % (len(primals), len(tangents)))
    out, _, xs, nested = _trace(f, primals, {}, tuple(range(len(primals))), "jvp")
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
    """``J(*args, **kwargs)`` of shape ``out.shape + arg.shape``: rows by vjp ("rev") or
    columns by jvp ("fwd"). A tuple for a tuple of argnums; for a function returning a tuple,
    a tuple over its outputs (of tuples over argnums), as JAX's jacrev/jacfwd."""
    if mode not in ("rev", "fwd"):
        raise AutogradError("jacobian: mode must be 'rev' or 'fwd', got %r" % (mode,))

    def jacobian_f(*args, **kwargs):
        out, _, xs, nested = _trace(f, args, kwargs, argnums, "jacobian", several=True)
        outs = out if isinstance(out, tuple) else (out,)
        per_out = [_pack([_result(j, nested) for j in _jacobians(o, xs, mode, nested)], argnums)
                   for o in outs]
        return tuple(per_out) if isinstance(out, tuple) else per_out[0]
    return jacobian_f


def _jacobians(out, xs, mode, nested):
    """d out / d x for each x, each of shape out.shape + x.shape."""
    if not out.requires_grad:
        return [zeros(out.shape + x.shape, dtype=out.dtype) for x in xs]
    if mode == "rev":
        rows = [[] for _ in xs]
        for k in range(out._data.size):
            e = np.zeros(out._data.size, dtype=out.dtype)
            e[k] = 1
            gs = _filled(grads_of(out, xs, gradient=e.reshape(out.shape), retain_graph=True,
                                  create_graph=nested), xs)
            for row, g in zip(rows, gs):
                row.append(g)
        return [reshape(stack(r), out.shape + x.shape) if r else
                zeros(out.shape + x.shape, dtype=out.dtype) for r, x in zip(rows, xs)]
    jacs = []
    for x in xs:
        cols = []
        for k in range(x._data.size):
            e = np.zeros(x._data.size, dtype=x.dtype)
            e[k] = 1
            (t,) = push_tangents([out], [x], [constant(e.reshape(x.shape))])
            cols.append(reshape(t, (-1, 1)))
        jacs.append(reshape(concat(cols, axis=1), out.shape + x.shape) if cols else
                    zeros(out.shape + x.shape, dtype=out.dtype))
    return jacs


def hessian(f, argnums=0):
    """Second derivatives of a scalar f: forward-over-reverse. For a tuple of argnums, nested
    tuples ``H[i][j]`` of shape ``x_i.shape + x_j.shape``, as JAX's."""
    return jacobian(jacobian(f, argnums, mode="rev"), argnums, mode="fwd")
