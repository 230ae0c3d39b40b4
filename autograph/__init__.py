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
from .ops import (abs, add, addcmul, addmm, arange, as_tensor, astype, broadcast_to, clip,
                  concat, divide, exp, expand_dims, eye, flip, from_numpy, full, full_like,
                  getitem, linspace, log, log_softmax, logsumexp, manual_seed, matmul, max,
                  maximum, mean, min, minimum, multiply, negative, ones, ones_like, power, rand,
                  randn, relu, reshape, sigmoid, softmax, softplus, split, sqrt, squeeze, stack,
                  subtract, sum, swapaxes, tanh, tensor, transpose, unsqueeze, where, zeros,
                  zeros_like)
from .rules import TABLE
from .transforms import grad, hessian, jacobian, jvp, value_and_grad, vjp
from .gradcheck import gradcheck
from .backward import grads_of

cat = concat

__version__ = "0.1.0"
