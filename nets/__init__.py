"""nets: the recurrent networks of the RNN chapter, built from autograph ops, PyTorch-compatible.

Each line below exports one file's public names; add a line for a new file.
"""
from .module import (Dropout, Embedding, Linear, Module, Parameter, Sequential, StateDictError,
                     generator, normal, uniform)
from .losses import cross_entropy, mse_loss
from .clip import clip_grad_norm, clip_grad_value
from . import optim
from .checkpoint import CheckpointError, load, save
from .cells import CTRNNCell, GRUCell, JordanCell, LSTMCell, PeepholeLSTMCell, RNNCell
from .layers import CTRNN, GRU, LSTM, RNN, JordanRNN, PeepholeLSTM, Recurrent
