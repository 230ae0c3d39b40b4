"""autograph: an automatic-differentiation engine on numpy whose graphs can be seen and stepped.

    import autograph as ag
    a = ag.tensor(2.0, requires_grad=True); b = ag.tensor(1.0, requires_grad=True)
    e = (a + b) * (b + 1); e.backward()      # a.grad = 2, b.grad = 5

Importing it changes nothing outside it: no allocator setting, no global numpy state.
"""
from .errors import AnomalyError, AutogradError, GradcheckError, ShapeError
from .modes import (detect_anomaly, enable_grad, is_grad_enabled, no_grad, reference, scope)
from .fast.release import release_unneeded
from .fast.allocator import keep_freed_memory
from .tensor import Tensor, get_default_dtype, set_default_dtype
from .dtypes import *  # noqa: F401,F403  (float32, long, double, bool, ... as PyTorch spells them)
from .ops import (abs, acos, add, addcmul, addmm, arange, arccos, arcsin, arctan, argmax, argmin,
                  as_tensor, asin, astype, atan, broadcast_to, chunk, clip, concat, cos, cosh,
                  cumprod, cumsum, diagonal, divide, dot, einsum, exp, expand, expand_dims, expm1,
                  eye, flatten, flip, from_numpy, full, full_like, gather, getitem, linspace, log,
                  log10, log1p, log2, log_softmax, logsumexp, manual_seed, masked_fill, matmul,
                  max, maximum, mean, min, minimum, multiply, negative, norm, ones, ones_like,
                  outer, permute, power, prod, rand, randn, reciprocal, relu, reshape,
                  roll, rsqrt, sigmoid, sign, sin, sinh, softmax, softplus, split, sqrt, square,
                  squeeze, stack, std, subtract, sum, swapaxes, tan, tanh, tensor, tensordot,
                  tile, trace, transpose, unsqueeze, var, where, zeros, zeros_like)
from .rules import TABLE
from .transforms import grad, hessian, jacobian, jvp, value_and_grad, vjp
from .gradcheck import gradcheck
from .backward import grads_of
from .fast.compile import compile

cat = concatenate = concat        # PyTorch's and numpy's names
clamp = clip
amax, amin = max, min

__version__ = "0.1.0"
