"""autograph: an automatic-differentiation engine on numpy whose graphs can be seen and stepped.

    import autograph as ag
    a = ag.tensor(2.0, requires_grad=True); b = ag.tensor(1.0, requires_grad=True)
    e = (a + b) * (b + 1); e.backward()      # a.grad = 2, b.grad = 5
"""
from . import allocator
from .errors import AnomalyError, AutogradError, GradcheckError, ShapeError
from .modes import detect_anomaly, enable_grad, is_grad_enabled, no_grad, scope
from .release import release_unneeded
from .tensor import Tensor, get_default_dtype, set_default_dtype
from .ops import (abs, add, addcmul, addmm, arange, as_tensor, astype, broadcast_to, clip,
                  concat, divide, exp, expand_dims, flip, full, getitem, log, log_softmax,
                  logsumexp, manual_seed, matmul, max, maximum, mean, min, minimum, multiply,
                  negative, ones, ones_like, power, rand, randn, relu, reshape, sigmoid, softmax,
                  softplus, split, sqrt, squeeze, stack, subtract, sum, swapaxes, tanh, tensor,
                  transpose, unsqueeze, where, zeros, zeros_like)
from .primitives import TABLE
from .transforms import grad, hessian, jacobian, jvp, value_and_grad, vjp
from .gradcheck import gradcheck
from .backward import grads_of

__version__ = "0.1.0"

allocator.keep_freed_memory()
