"""Checkpoints in the safetensors format: a JSON header and raw little-endian array bytes, so a
model file holds numbers only and loading it cannot run code (no pickle anywhere).

The header's metadata carries a SHA-256 of the array bytes; a file whose bytes changed after it
was written is refused. Files written by other safetensors tools (without the checksum) load too.

Loading trusts nothing in the file: it opens it once, refuses what is not a regular file (a
symlink to ``/dev/zero`` would read forever), reads the header's length first, checks every
field of the header, and reads only as many bytes as the header declares and the file holds.
"""
import errno
import hashlib
import json
import math
import os
import stat
import struct

import numpy as np
import safetensors.numpy

import autograph as ag
from autograph.files import file_kind, write_atomic
from .module import Module, StateDictError

# safetensors' own reader refuses longer headers; a real one takes ~100 bytes a tensor
MAX_HEADER_BYTES = 100_000_000
# the safetensors dtypes numpy holds, little-endian as the format stores them
DTYPES = {name: np.dtype(code) for name, code in [
    ("BOOL", "?"), ("U8", "u1"), ("I8", "i1"), ("U16", "<u2"), ("I16", "<i2"), ("F16", "<f2"),
    ("U32", "<u4"), ("I32", "<i4"), ("F32", "<f4"), ("U64", "<u8"), ("I64", "<i8"),
    ("F64", "<f8"), ("C64", "<c8")]}
# O_NONBLOCK lets a FIFO be opened (and then refused) without waiting for a writer; it does
# nothing to a regular file
_READ_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
               | getattr(os, "O_CLOEXEC", 0))


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
    data = _contents(module_or_state_dict, metadata)
    def contents(f):
        _write(f, data)
    write_atomic(path, contents, durable=True)


def _contents(module_or_state_dict, metadata):
    """The bytes of the checkpoint file."""
    arrays = _arrays(module_or_state_dict)
    # the data region does not depend on the header's metadata, so its checksum can go there
    plain = safetensors.numpy.save(arrays)
    (n,) = struct.unpack("<Q", plain[:8])
    # safetensors stores tensors sorted by dtype and name; the order of the state dict is kept
    # in the metadata so that load() gives the names back in the order they were saved
    meta = {**(metadata or {}), "sha256": hashlib.sha256(plain[8 + n:]).hexdigest(),
            "order": json.dumps(list(arrays))}
    return safetensors.numpy.save(arrays, metadata=meta)


def load(path, into=None):
    """Read a safetensors file into {name: ndarray}. With ``into=module`` also load it into the
    module (strictly; nothing is changed if any name or shape does not fit).

    The arrays are writable views of one buffer holding the file's tensor bytes."""
    path = os.fspath(path)

    def bad(what):
        return CheckpointError("%s: %s" % (path, what))
    with _open(path, bad) as f:
        size = os.fstat(f.fileno()).st_size
        header_bytes = _read_header_bytes(f, size, bad)
        tensors, meta, needed = _layout(_parse_header(header_bytes, bad), bad)
        have = size - 8 - len(header_bytes)
        if have < needed:
            raise bad("truncated: the tensors need %d bytes of data, the file holds %d"
                      % (needed, have))
        if have > needed:
            raise bad("%d unexpected bytes after the tensor data: corrupt" % (have - needed))
        data = _read(f, needed, bad)
    if "sha256" in meta and hashlib.sha256(data).hexdigest() != meta["sha256"]:
        raise bad("the tensor data does not match the checksum in the header: corrupt")
    state = _decode(tensors, data, bad)
    state = {k: state[k] for k in _order(meta, state, bad)}
    if into is not None:
        try:
            into.load_state_dict(state)
        except StateDictError as err:
            raise StateDictError("%s does not fit %s: %s" % (path, type(into).__name__, err)) \
                from None
    return state


def _open(path, bad):
    """The file at ``path`` open for reading, once it is known to be a regular file."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as err:
        if err.errno == errno.ENXIO:        # a socket, which cannot be opened
            raise bad("it is %s, not a checkpoint file" % file_kind(os.stat(path).st_mode)) \
                from None
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise bad("it is %s, not a checkpoint file" % file_kind(mode))
    return os.fdopen(fd, "rb")


def _read_header_bytes(f, size, bad):
    """The header's bytes, read after its 8-byte length is checked against the file's size."""
    if size < 8:
        raise bad("only %d bytes; a safetensors file starts with an 8-byte header length "
                  "(empty or truncated file?)" % size)
    (n,) = struct.unpack("<Q", _read(f, 8, bad))
    if n > size - 8:
        raise bad("the header length field says %d bytes but only %d follow: truncated, or not "
                  "a safetensors file" % (n, size - 8))
    if n > MAX_HEADER_BYTES:
        raise bad("the header length field says %d bytes, more than the %d a safetensors header "
                  "may have: not a safetensors file, or corrupt" % (n, MAX_HEADER_BYTES))
    return _read(f, n, bad)


def _read(f, n, bad):
    """Exactly ``n`` bytes (fewer only if the file shrank after its size was taken)."""
    data = bytearray(n)
    if f.readinto(data) != n:
        raise bad("truncated while it was read (is another program writing it?)")
    return data


def _parse_header(header_bytes, bad):
    try:
        return _parse_json(header_bytes.decode("utf-8"))
    except UnicodeDecodeError:
        raise bad("the header is not UTF-8 text: not a safetensors file, or corrupt") from None
    except ValueError as err:
        raise bad("the header is not valid JSON (%s): not a safetensors file, or corrupt"
                  % err) from None


def _parse_json(text):
    """Strict JSON: no NaN or Infinity (also none by overflow, 1e400), no -0 (safetensors' counts
    are unsigned), no name twice in one object, no deep nesting (the decoder's RecursionError
    becomes a ValueError)."""
    try:
        return json.loads(text, parse_constant=_no_constant, parse_int=_integer,
                          parse_float=_finite, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise ValueError("lists or objects nested too deeply") from None


def _integer(text):
    value = int(text)
    if value == 0 and text.startswith("-"):
        raise ValueError("-0 is not a count")
    return value


def _finite(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("%s is out of a number's range" % text)
    return value


def _no_constant(name):
    raise ValueError("%s is not a JSON number" % name)


def _no_duplicates(pairs):
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError("the name %s appears twice in one object" % json.dumps(twice))
    return out


def _layout(header, bad):
    """Check every field of the header; return its tensors as (begin, end, name, dtype, shape)
    in data order, its metadata, and the number of data bytes the tensors take."""
    if not isinstance(header, dict):
        raise bad("the header is %s, not a JSON object: not a safetensors file" % _show(header))
    meta = header.get("__metadata__")
    if meta is None:
        meta = {}
    elif not isinstance(meta, dict):
        raise bad("__metadata__ is %s, not an object of strings: corrupt" % _show(meta))
    for key, value in meta.items():
        if not isinstance(value, str):
            raise bad("__metadata__[%s] is %s, not a string: corrupt"
                      % (json.dumps(key), _show(value)))
    tensors = [_tensor(name, info, bad) for name, info in header.items()
               if name != "__metadata__"]
    tensors.sort()
    end, previous = 0, None
    for begin, stop, name, _, _ in tensors:
        if begin > end:
            raise bad("tensor %s starts at data byte %d, but the tensors before it end at %d "
                      "(a gap): corrupt" % (json.dumps(name), begin, end))
        if begin < end:
            raise bad("tensor %s starts at data byte %d, inside tensor %s, which ends at %d: "
                      "corrupt" % (json.dumps(name), begin, json.dumps(previous), end))
        end, previous = stop, name
    return tensors, meta, end


def _tensor(name, info, bad):
    """One header entry, checked: (begin, end, name, dtype, shape)."""
    what = "tensor %s" % json.dumps(name)
    if not isinstance(info, dict):
        raise bad("%s is %s, not an object with dtype, shape and data_offsets: not a "
                  "safetensors file" % (what, _show(info)))
    missing = [k for k in ("dtype", "shape", "data_offsets") if k not in info]
    if missing:
        raise bad("%s has no %s: not a safetensors file" % (what, " or ".join(missing)))
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not (isinstance(dtype, str) and dtype in DTYPES):
        raise bad("%s has dtype %s; numpy holds only %s" % (what, _show(dtype),
                                                             ", ".join(DTYPES)))
    if not _naturals(shape):
        raise bad("%s has shape %s, not a list of integers >= 0: corrupt" % (what, _show(shape)))
    if not (_naturals(offsets) and len(offsets) == 2 and offsets[0] <= offsets[1]):
        raise bad("%s has data_offsets %s, not two integers 0 <= begin <= end: corrupt"
                  % (what, _show(offsets)))
    begin, end = offsets
    nbytes = math.prod(shape) * DTYPES[dtype].itemsize
    if end - begin != nbytes:
        raise bad("%s: %s of shape %s takes %d bytes, but its data_offsets [%d, %d] span %d: "
                  "corrupt" % (what, dtype, tuple(shape), nbytes, begin, end, end - begin))
    return begin, end, name, dtype, tuple(shape)


def _naturals(value):
    return isinstance(value, list) and all(type(x) is int and x >= 0 for x in value)


def _show(value):
    """A header value for a message: short, and never the text of a huge or deep structure."""
    if isinstance(value, dict):
        return "an object with %d names" % len(value)
    if isinstance(value, list) and any(isinstance(x, (list, dict)) for x in value):
        return "a list of %d items with lists or objects in it" % len(value)
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _decode(tensors, data, bad):
    """{name: array} in data order, each a view of its bytes in ``data``."""
    state = {}
    for begin, end, name, dtype, shape in tensors:
        try:
            array = np.frombuffer(memoryview(data)[begin:end], DTYPES[dtype]).reshape(shape)
        except ValueError as err:
            raise bad("tensor %s cannot be a numpy array (%s)" % (json.dumps(name), err)) \
                from None
        if dtype == "BOOL" and array.view(np.uint8).max(initial=0) > 1:
            raise bad("tensor %s is BOOL but holds bytes other than 0 and 1: corrupt"
                      % json.dumps(name))
        state[name] = array
    return state


def _order(meta, state, bad):
    """The saved order when the file records it, else the file's data order."""
    if "order" not in meta:
        return list(state)
    try:
        order = _parse_json(meta["order"])
    except ValueError:
        order = None
    if not (isinstance(order, list) and all(isinstance(k, str) for k in order)
            and sorted(order) == sorted(state)):
        raise bad("__metadata__[\"order\"] is not a JSON list of the tensor names: corrupt")
    return order
