"""nets: the recurrent networks of the RNN chapter, built from autograph ops, PyTorch-compatible.

Each line below exports one file's public names; add a line for a new file.
"""
from . import functional
from .functional import cross_entropy, mse_loss
from .module import (Dropout, Embedding, Flatten, Identity, Linear, LogSoftmax, Module,
                     Parameter, ReLU, Sequential, Sigmoid, Softmax, StateDictError, Tanh,
                     generator, normal, uniform)
from .losses import CrossEntropyLoss, MSELoss, NLLLoss
from .clip import clip_grad_norm, clip_grad_value
from . import optim
from .checkpoint import CheckpointError, load, save
from .cells import Cell, CTRNNCell, GRUCell, JordanCell, LSTMCell, PeepholeLSTMCell, RNNCell
from .layers import CTRNN, GRU, LSTM, RNN, JordanRNN, PeepholeLSTM, Recurrent
