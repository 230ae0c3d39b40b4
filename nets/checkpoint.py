"""Checkpoints in the safetensors format: a JSON header and raw little-endian array bytes, so a
model file holds numbers only and loading it cannot run code (no pickle anywhere).

The header's metadata carries a SHA-256 of the array bytes; a file whose bytes changed after it
was written is refused. Files written by other safetensors tools (without the checksum) load too.
"""
import hashlib
import json
import os
import struct

import numpy as np
import safetensors.numpy

import autograph as ag
from autograph.files import write_atomic
from .module import Module, StateDictError


class CheckpointError(ag.AutogradError, ValueError):
    """A checkpoint file that cannot be read: truncated, corrupt, or not safetensors at all."""


def _write(f, data):
    f.write(data)


def _arrays(module_or_state_dict):
    if isinstance(module_or_state_dict, Module):
        return module_or_state_dict.state_dict()
    out = {}
    for name, value in module_or_state_dict.items():
        array = np.asarray(value.data if isinstance(value, ag.Tensor) else value)
        if not isinstance(name, str) or array.dtype.kind not in "biuf":
            raise TypeError("nets.save: entries must map str names to numeric arrays; %r has "
                            "dtype %s" % (name, array.dtype))
        out[name] = np.asarray(array, order="C")    # ascontiguousarray would make 0-d 1-d
    return out


def save(module_or_state_dict, path, metadata=None):
    """Write a module's state dict (or a dict of arrays) to ``path``, atomically.

    The bytes go to a temporary file in the same directory, are flushed to disk, and only then
    replace ``path`` in one rename: an interrupted save leaves the previous file as it was.
    ``metadata`` is an optional dict of strings stored in the header.
    """
    path = os.fspath(path)
    arrays = _arrays(module_or_state_dict)
    # the data region does not depend on the header's metadata, so its checksum can go there
    plain = safetensors.numpy.save(arrays)
    (n,) = struct.unpack("<Q", plain[:8])
    # safetensors stores tensors sorted by dtype and name; the order of the state dict is kept
    # in the metadata so that load() gives the names back in the order they were saved
    meta = {**(metadata or {}), "sha256": hashlib.sha256(plain[8 + n:]).hexdigest(),
            "order": json.dumps(list(arrays))}
    data = safetensors.numpy.save(arrays, metadata=meta)
    def contents(f):
        _write(f, data)
    write_atomic(path, contents, durable=True)


def load(path, into=None):
    """Read a safetensors file into {name: ndarray}. With ``into=module`` also load it into the
    module (strictly; nothing is changed if any name or shape does not fit)."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    header = _check(path, data)
    try:
        state = safetensors.numpy.load(data)
    except Exception as err:      # the reader's own error type is not importable by name
        raise CheckpointError("%s: corrupt safetensors file (%s)" % (path, err)) from None
    state = {k: state[k] for k in _order(header, state)}
    if into is not None:
        try:
            into.load_state_dict(state)
        except StateDictError as err:
            raise StateDictError("%s does not fit %s: %s" % (path, type(into).__name__, err)) \
                from None
    return state


def _check(path, data):
    """The parsed header, after the checks that give a precise reason for a bad file."""
    def bad(what):
        return CheckpointError("%s: %s" % (path, what))
    if len(data) < 8:
        raise bad("only %d bytes; a safetensors file starts with an 8-byte header length "
                  "(empty or truncated file?)" % len(data))
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise bad("the header length field says %d bytes but only %d follow: truncated, or not "
                  "a safetensors file" % (n, len(data) - 8))
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise bad("the header is not JSON: not a safetensors file, or corrupt") from None
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object: not a safetensors file")
    meta = header.get("__metadata__") or {}
    entries = [v for k, v in header.items() if k != "__metadata__"]
    try:
        needed = max((int(v["data_offsets"][1]) for v in entries), default=0)
    except (TypeError, KeyError, IndexError, ValueError):
        raise bad("the header does not describe tensors: not a safetensors file") from None
    have = len(data) - 8 - n
    if have < needed:
        raise bad("truncated: the tensors need %d bytes of data, the file holds %d"
                  % (needed, have))
    if have > needed:
        raise bad("%d unexpected bytes after the tensor data: corrupt" % (have - needed))
    if "sha256" in meta and hashlib.sha256(data[8 + n:]).hexdigest() != meta["sha256"]:
        raise bad("the tensor data does not match the checksum in the header: corrupt")
    return header


def _order(header, state):
    """The saved order when the file records it, else the file's data order."""
    try:
        order = json.loads((header.get("__metadata__") or {}).get("order", "null"))
    except json.JSONDecodeError:
        order = None
    if isinstance(order, list) and sorted(order) == sorted(state):
        return order
    return sorted(state, key=lambda k: header[k]["data_offsets"][0])
