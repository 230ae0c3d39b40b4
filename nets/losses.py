"""Losses as modules, PyTorch's ``nn.CrossEntropyLoss``, ``nn.NLLLoss`` and ``nn.MSELoss``: each
keeps its options and calls the function of the same name in nets.functional."""
import numpy as np

from . import functional as F
from .module import Module


class _WeightedLoss(Module):
    """A class-index loss: optional class weights (a buffer, saved in the state dict as PyTorch
    saves them), ``ignore_index`` and ``reduction``."""

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean"):
        super().__init__()
        F._check_reduction(type(self).__name__, reduction)
        self.register_buffer("weight", None if weight is None else np.asarray(weight))
        self.ignore_index, self.reduction = ignore_index, reduction

    def extra_repr(self):
        return "ignore_index=%r, reduction=%r" % (self.ignore_index, self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """``F.cross_entropy(input, target)`` with the options given here."""

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(weight, ignore_index=ignore_index, reduction=reduction)
        F._check_label_smoothing("CrossEntropyLoss", label_smoothing)
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)

    def extra_repr(self):
        return super().extra_repr() + ", label_smoothing=%g" % self.label_smoothing


class NLLLoss(_WeightedLoss):
    """``F.nll_loss(input, target)`` (input: log-probabilities) with the options given here."""

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(Module):
    """``F.mse_loss(input, target)`` with the reduction given here."""

    def __init__(self, *, reduction="mean"):
        super().__init__()
        F._check_reduction("MSELoss", reduction)
        self.reduction = reduction

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)

    def extra_repr(self):
        return "reduction=%r" % self.reduction
