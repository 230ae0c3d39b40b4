"""Modules: objects that own parameters and compute with autograph ops, in PyTorch's manner.

A parameter is an ordinary leaf ``autograph.Tensor`` with ``requires_grad=True``. Assigning one
(or a submodule) as an attribute of a Module registers it, in assignment order; ``None`` marks
an absent parameter (``bias=False``). A parameter without a name takes the attribute's
(``Linear(3, 2).weight.name == "weight"``), so pictures and debugger messages can say which it
is. Names are dotted for submodules (``encoder.weight``), so ``state_dict`` keys are PyTorch's
keys.
"""
from collections import namedtuple

import numpy as np

import autograph as ag
from autograph.errors import AutogradError, ShapeError

from . import functional as F


class StateDictError(AutogradError, ValueError):
    """A state dict that does not fit the module: missing, unexpected or wrong-shaped entries."""


LoadResult = namedtuple("LoadResult", "missing_keys unexpected_keys")


def Parameter(data, name=None):
    """A trainable leaf tensor. numpy arrays of a float dtype keep it; anything else (lists,
    numbers, integer arrays) becomes the default float dtype (float32 unless set)."""
    if isinstance(data, ag.Tensor):
        data = data.data
    array = np.asarray(data)
    if array.dtype.kind != "f" or not isinstance(data, (np.ndarray, np.generic)):
        array = array.astype(ag.get_default_dtype())
    return ag.Tensor(array, requires_grad=True, name=name)


def generator(rng):
    """None (autograph's default generator, seeded by ``ag.manual_seed``), a numpy Generator, or
    a seed, turned once into a Generator so that successive draws differ."""
    if rng is None or isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def uniform(shape, bound, rng=None, name=None):
    """A parameter drawn from U(-bound, bound): PyTorch's default for Linear and recurrent
    layers."""
    u = ag.rand(*shape, rng=rng, dtype=np.float64).data
    return Parameter(((2 * u - 1) * bound).astype(ag.get_default_dtype()), name=name)


def normal(shape, rng=None, name=None):
    """A parameter drawn from N(0, 1): PyTorch's default for Embedding."""
    return Parameter(ag.randn(*shape, rng=rng, dtype=np.float64).data
                     .astype(ag.get_default_dtype()), name=name)


def _is_parameter(value):
    return isinstance(value, ag.Tensor) and value.requires_grad and value.is_leaf


class Module:
    """Base class: subclasses set parameters and submodules in ``__init__`` and define ``forward``.

    Attributes are stored as usual (so reading ``self.weight`` in a hot loop costs nothing extra);
    the registries below only remember which names are parameters, buffers and submodules.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    # -- registration ----------------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AutogradError("%s: call super().__init__() before assigning attributes"
                                % type(self).__name__)
        if isinstance(value, Module):
            self._register(self._modules, name, value)
        elif _is_parameter(value) or (value is None and name in self._parameters):
            self._register_parameter(name, value)
        elif name in self._parameters:
            raise AutogradError(
                "%s.%s is a parameter; assign a trainable leaf (nets.Parameter(...)) or None, "
                "or change the existing one in place through .data" % (type(self).__name__, name))
        elif name in self._buffers:
            self._buffers[name] = None if value is None else np.asarray(value)
            value = self._buffers[name]
        else:
            self._forget(name)
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._forget(name)
        object.__delattr__(self, name)

    def _forget(self, name, keep=None):
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)

    def _register(self, registry, name, value):
        # a name registered again keeps its place, as in PyTorch: state dict order is stable
        self._forget(name, keep=registry)
        registry[name] = value

    def register_parameter(self, name, tensor):
        """Register ``tensor`` (a trainable leaf, or None for an absent one) as ``name``."""
        if tensor is not None and not _is_parameter(tensor):
            raise AutogradError("%s.register_parameter(%r): expected a leaf tensor with "
                                "requires_grad=True or None" % (type(self).__name__, name))
        self._register_parameter(name, tensor)
        object.__setattr__(self, name, tensor)

    def _register_parameter(self, name, tensor):
        # an unnamed parameter takes its attribute's name, so that pictures, listings and
        # debugger messages say "weight" rather than showing an anonymous leaf; a name the
        # tensor already has (a layer's full key such as weight_ih_l0) is kept
        if tensor is not None and not tensor.name:
            tensor.name = name
        self._register(self._parameters, name, tensor)

    def register_buffer(self, name, array):
        """Register a non-trainable array that is saved in the state dict and moved by ``to``."""
        self._register(self._buffers, name, None if array is None else np.asarray(array))
        object.__setattr__(self, name, self._buffers[name])

    # -- walking ---------------------------------------------------------------------------
    def named_modules(self, prefix=""):
        """(dotted name, module) for this module and every descendant, depth first, each once."""
        seen, out = set(), []
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            out.append((name, module))
            stack.extend(reversed([(name + "." + k if name else k, m)
                                   for k, m in module._modules.items() if m is not None]))
        return out

    def modules(self):
        return [m for _, m in self.named_modules()]

    def named_children(self):
        return [(k, m) for k, m in self._modules.items() if m is not None]

    def children(self):
        return [m for _, m in self.named_children()]

    def named_parameters(self):
        """(dotted name, tensor) in registration order; a shared tensor is listed once."""
        seen, out = set(), []
        for prefix, module in self.named_modules():
            for k, p in module._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    out.append((prefix + "." + k if prefix else k, p))
        return out

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def named_buffers(self):
        return [(prefix + "." + k if prefix else k, b) for prefix, module in self.named_modules()
                for k, b in module._buffers.items() if b is not None]

    def _state_slots(self):
        """name -> (owner, registry, key) for every entry of the state dict, in order."""
        slots = {}
        for prefix, module in self.named_modules():
            for registry in (module._parameters, module._buffers):
                for k, v in registry.items():
                    if v is not None:
                        slots[prefix + "." + k if prefix else k] = (module, registry, k)
        return slots

    # -- state -----------------------------------------------------------------------------
    def state_dict(self):
        """{dotted name: copy of the array}, parameters then buffers of each module, in order."""
        out = {}
        for name, (_, registry, k) in self._state_slots().items():
            value = registry[k]
            out[name] = np.array(value.data if isinstance(value, ag.Tensor) else value)
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays (or anything ``np.asarray`` takes) into the parameters and buffers.

        Every entry is checked before any is written, so a bad dict changes nothing. With
        ``strict`` missing and unexpected keys are errors; shape mismatches always are. Values
        are converted to each parameter's dtype. Returns ``(missing_keys, unexpected_keys)``.
        """
        slots = self._state_slots()
        missing = [k for k in slots if k not in state_dict]
        unexpected = [k for k in state_dict if k not in slots]
        problems, staged = [], []
        for name, (module, registry, k) in slots.items():
            if name not in state_dict:
                continue
            current = registry[k]
            target = current.data if isinstance(current, ag.Tensor) else current
            try:
                value = np.asarray(state_dict[name])
                if value.dtype.kind not in "biuf":
                    raise TypeError("dtype %s" % value.dtype)
                value = value.astype(target.dtype)
            except (TypeError, ValueError) as err:
                problems.append("%s: not a numeric array (%s)" % (name, err))
                continue
            if value.shape != target.shape:
                problems.append("%s: shape %s in the state dict, %s in the module"
                                % (name, value.shape, target.shape))
                continue
            staged.append((module, registry, k, value))
        if strict and missing:
            problems.append("missing keys: %s" % ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: %s" % ", ".join(unexpected))
        if problems:
            raise StateDictError("%s.load_state_dict: nothing was loaded:\n  %s%s" % (
                type(self).__name__, "\n  ".join(problems),
                "\n(pass strict=False to skip missing and unexpected keys)"
                if strict and (missing or unexpected) else ""))
        for module, registry, k, value in staged:
            if isinstance(registry[k], ag.Tensor):
                registry[k].data = value
            else:
                registry[k] = value
                object.__setattr__(module, k, value)
        return LoadResult(missing, unexpected)

    # -- modes and dtypes ------------------------------------------------------------------
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def to(self, dtype):
        """Convert floating parameters (and their grads) and buffers to ``dtype`` in place; the
        parameter tensors stay the same objects, so an optimizer built on them keeps working."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise AutogradError("%s.to: parameters must stay floating, got dtype %s"
                                % (type(self).__name__, dtype))
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            if p.grad is not None:
                p.grad = p.grad.astype(dtype)
        for m in self.modules():
            for k, b in m._buffers.items():
                if b is not None and b.dtype.kind == "f":
                    m._buffers[k] = b.astype(dtype)
                    object.__setattr__(m, k, m._buffers[k])
        return self

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    # -- calling and showing ---------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError("%s defines no forward()" % type(self).__name__)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def extra_repr(self):
        """The arguments shown between the parentheses of ``repr``."""
        return ""

    def __repr__(self):
        # Each module's line is its own; children are indented under it (an explicit stack,
        # since modules may nest deeply).
        lines = []
        stack = [(0, None, self)]
        while stack:
            depth, name, module = stack.pop()
            if isinstance(module, str):
                lines.append("  " * depth + module)
                continue
            head = "%s%s(%s" % ("(%s): " % name if name else "", type(module).__name__,
                                module.extra_repr())
            kids = module.named_children()
            if not kids:
                lines.append("  " * depth + head + ")")
                continue
            lines.append("  " * depth + head)
            stack.append((depth, None, ")"))
            stack.extend(reversed([(depth + 1, k, m) for k, m in kids]))
        return "\n".join(lines)


class Linear(Module):
    """y = x Wᵀ + b with W of shape (out_features, in_features); W, b ~ U(-1/√in, 1/√in)."""

    def __init__(self, in_features, out_features, bias=True, rng=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        rng = generator(rng)
        bound = 1.0 / np.sqrt(in_features) if in_features else 0.0
        self.weight = uniform((out_features, in_features), bound, rng)
        self.bias = uniform((out_features,), bound, rng) if bias else None

    def forward(self, x):
        return F._affine("Linear(%d, %d)" % (self.in_features, self.out_features), x,
                         self.weight, self.bias)

    def extra_repr(self):
        return "in_features=%d, out_features=%d, bias=%s" % (
            self.in_features, self.out_features, self.bias is not None)


class Embedding(Module):
    """Row lookup: ``weight[indices]`` with weight (num_embeddings, embedding_dim) ~ N(0, 1).

    The indices are integers of any shape: a list of ints, an integer numpy array or tensor;
    the output has their shape plus (embedding_dim,). The gradient of a lookup is a
    scatter-add into the rows that were used."""

    def __init__(self, num_embeddings, embedding_dim, rng=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = normal((num_embeddings, embedding_dim), rng)

    def forward(self, indices):
        return F._lookup("Embedding(%d, %d)" % (self.num_embeddings, self.embedding_dim),
                         indices, self.weight)

    def extra_repr(self):
        return "%d, %d" % (self.num_embeddings, self.embedding_dim)


class Dropout(Module):
    """Inverted dropout (``F.dropout``) in training; in eval, the identity."""

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        F._check_probability("Dropout", p)
        self.p, self.rng = p, generator(rng)

    def forward(self, x):
        return F.dropout(x, self.p, self.training, rng=self.rng)

    def extra_repr(self):
        return "p=%g" % self.p


class Sequential(Module):
    """Modules applied in order; the i-th is registered as ``str(i)`` like PyTorch's."""

    def __init__(self, *modules):
        super().__init__()
        for i, m in enumerate(modules):
            setattr(self, str(i), m)

    def __getitem__(self, i):
        return self.children()[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self.children())

    def forward(self, x):
        for m in self.children():
            x = m(x)
        return x


# -- modules without parameters: the functions of nets.functional, as layers ------------------
class ReLU(Module):
    """max(x, 0), elementwise."""

    def forward(self, input):
        return F.relu(input)


class Tanh(Module):
    """tanh(x), elementwise."""

    def forward(self, input):
        return F.tanh(input)


class Sigmoid(Module):
    """1 / (1 + exp(-x)), elementwise."""

    def forward(self, input):
        return F.sigmoid(input)


class _AlongDim(Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def extra_repr(self):
        return "dim=%d" % self.dim


class Softmax(_AlongDim):
    """``F.softmax(input, dim)``: each slice along ``dim`` becomes a distribution."""

    def forward(self, input):
        return F.softmax(input, self.dim)


class LogSoftmax(_AlongDim):
    """``F.log_softmax(input, dim)``: log-probabilities along ``dim``."""

    def forward(self, input):
        return F.log_softmax(input, self.dim)


class Identity(Module):
    """Its input, unchanged; takes and ignores any arguments, as PyTorch's does."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Flatten(Module):
    """Axes ``start_dim`` to ``end_dim`` (inclusive; negative counts from the end) merged into one:
    (N, C, H, W) -> (N, C*H*W) by default, keeping the batch axis."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        x = ag.as_tensor(input)
        n = max(x.ndim, 1)              # a scalar flattens as a one-axis tensor, as in PyTorch
        start, end = self.start_dim, self.end_dim
        if not (-n <= start < n and -n <= end < n) or start % n > end % n:
            raise ShapeError("Flatten(start_dim=%d, end_dim=%d): an input of shape %s has axes "
                             "%d to %d, and start_dim must not come after end_dim"
                             % (start, end, x.shape, -n, n - 1))
        start, end = start % n, end % n
        merged = int(np.prod(x.shape[start:end + 1], dtype=np.int64))
        return x.reshape(x.shape[:start] + (merged,) + x.shape[end + 1:])

    def extra_repr(self):
        return "start_dim=%d, end_dim=%d" % (self.start_dim, self.end_dim)
