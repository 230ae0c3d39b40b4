"""Optimizers with PyTorch's update formulas. They change each parameter's ``.data`` in place
(plain numpy, outside any graph), so the parameter tensors, and the modules holding them, stay
the same objects.

    opt = nets.optim.Adam(model.parameters(), lr=1e-3)
    opt.zero_grad(); loss.backward(); opt.step()

``params`` is an iterable of parameters, or of dicts ``{"params": [...], "lr": ...}`` (parameter
groups) whose entries override the optimizer's defaults for those parameters.
"""
import numpy as np

import autograph as ag
from autograph.errors import AutogradError, ShapeError


class Optimizer:
    """Parameter groups, per-parameter state and ``zero_grad``; subclasses define ``update``."""

    def __init__(self, params, defaults):
        name = type(self).__name__
        for key in ("lr", "momentum", "dampening", "weight_decay", "eps", "alpha"):
            if defaults.get(key, 0) < 0:
                raise ValueError("%s: %s must be >= 0, got %r" % (name, key, defaults[key]))
        params = list(params)
        if not params:
            raise ValueError("%s: got an empty list of parameters" % name)
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = []
        for group in groups:
            unknown = set(group) - set(defaults) - {"params"}
            if unknown:
                raise ValueError("%s: unknown option(s) %s in a parameter group"
                                 % (name, ", ".join(sorted(unknown))))
            ps = list(group["params"])
            for p in ps:
                if not (isinstance(p, ag.Tensor) and p.is_leaf and p.requires_grad):
                    raise AutogradError("%s: every parameter must be a leaf tensor with "
                                        "requires_grad=True (e.g. module.parameters()), got %r"
                                        % (name, type(p).__name__))
            self.param_groups.append({**defaults, **group, "params": ps})
        ids = [id(p) for group in self.param_groups for p in group["params"]]
        if len(set(ids)) != len(ids):
            raise ValueError("%s: a parameter is given twice, so a step would update it twice; "
                             "list each parameter once, in one group" % name)
        self.state = {}        # id(parameter) -> that parameter's buffers

    def zero_grad(self):
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self):
        """Update every parameter that has a gradient. Every gradient is checked before any
        parameter changes: one that does not fit raises an error and nothing is updated."""
        for p, g, group in self._checked_gradients():
            g = np.asarray(g, dtype=p.data.dtype)
            if group["weight_decay"]:
                g = g + group["weight_decay"] * p.data
            state = self.state.setdefault(id(p), {})
            p.data -= self.update(g, p.data, state, group)

    def _checked_gradients(self):
        """[(parameter, its gradient's array, its group)] for the parameters with a gradient,
        once every one of them fits its parameter."""
        out = []
        for gi, group in enumerate(self.param_groups):
            for i, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                misfit = self._misfit(p, p.grad.data)
                if misfit:
                    error, problem = misfit
                    raise error("%s.step: parameter %s(group %d, index %d) has shape %s and dtype "
                                "%s, but %s; nothing was updated. Give each parameter a gradient "
                                "of its own shape and dtype (zero_grad(), then backward()); a "
                                "parameter whose shape changed needs a new optimizer"
                                % (type(self).__name__, "%r " % p.name if p.name else "", gi, i,
                                   p.shape, p.data.dtype, problem))
                out.append((p, p.grad.data, group))
        return out

    def _misfit(self, p, g):
        """(error class, what is wrong) when gradient ``g`` cannot update ``p``, else None."""
        if g.shape != p.shape:
            return ShapeError, "its gradient has shape %s" % (g.shape,)
        if not np.can_cast(g.dtype, p.data.dtype, "same_kind"):
            return AutogradError, "its gradient has dtype %s" % g.dtype
        for name, buffer in self.state.get(id(p), {}).items():
            if isinstance(buffer, np.ndarray) and buffer.shape != p.shape:
                return ShapeError, "its %s from earlier steps has shape %s" % (name, buffer.shape)
        return None

    def update(self, g, p, state, group):
        """The step to subtract from parameter ``p`` given its gradient ``g``."""
        raise NotImplementedError


class SGD(Optimizer):
    """p ← p − lr·g, or with momentum μ: b ← μ·b + (1 − dampening)·g (b = g at the first step),
    p ← p − lr·b (Nesterov: p ← p − lr·(g + μ·b))."""

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def update(self, g, p, state, group):
        mu = group["momentum"]
        if mu:
            b = state.get("momentum_buffer")
            if b is None:
                b = state["momentum_buffer"] = g.copy()
            else:
                b *= mu
                b += (1 - group["dampening"]) * g
            g = g + mu * b if group["nesterov"] else b
        return group["lr"] * g


class Adam(Optimizer):
    """m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError("Adam: betas must lie in [0, 1), got %r" % (betas,))
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay))

    def update(self, g, p, state, group):
        beta1, beta2 = group["betas"]
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p), exp_avg_sq=np.zeros_like(p))
        state["step"] += 1
        t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        m += (1 - beta1) * (g - m)          # PyTorch's lerp form of β₁m + (1−β₁)g
        v *= beta2
        v += (1 - beta2) * g * g
        denom = np.sqrt(v) / np.sqrt(1 - beta2 ** t) + group["eps"]
        return group["lr"] / (1 - beta1 ** t) * m / denom


class RMSprop(Optimizer):
    """s ← αs + (1−α)g²; centered: ḡ ← αḡ + (1−α)g and s − ḡ² replaces s; d = √s + ε;
    p ← p − lr·g/d, or with momentum μ: b ← μb + g/d, p ← p − lr·b."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def update(self, g, p, state, group):
        alpha = group["alpha"]
        if not state:
            state.update(square_avg=np.zeros_like(p), grad_avg=np.zeros_like(p),
                         momentum_buffer=np.zeros_like(p))
        s = state["square_avg"]
        s *= alpha
        s += (1 - alpha) * g * g
        if group["centered"]:
            mean = state["grad_avg"]
            mean += (1 - alpha) * (g - mean)
            denom = np.sqrt(s - mean * mean) + group["eps"]
        else:
            denom = np.sqrt(s) + group["eps"]
        if group["momentum"]:
            b = state["momentum_buffer"]
            b *= group["momentum"]
            b += g / denom
            return group["lr"] * b
        return group["lr"] * g / denom
