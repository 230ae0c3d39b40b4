"""How numbers, shapes, arrays and nodes are written, in the debugger and in the pictures alike.

The one set of text helpers: ``viz`` imports them from here.
"""
import unicodedata

import numpy as np

from ..tensor import is_released

_DTYPES = {"float32": "f32", "float64": "f64", "float16": "f16", "int64": "i64", "int32": "i32",
           "bool": "bool", "uint8": "u8", "int8": "i8", "complex128": "c128", "complex64": "c64"}


def num(x, digits=4):
    """A number in at most ``digits`` significant digits; NaN and Inf spelt out."""
    x = float(x)
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "Inf" if x > 0 else "-Inf"
    if x == 0:
        return "0"
    return "%.*g" % (digits, x)


def norm(a):
    """Frobenius norm in float64 (NaN or Inf if any entry is)."""
    a = np.asarray(a, dtype=np.float64)
    return float(np.sqrt(np.vdot(a, a).real)) if a.size else 0.0


def shape_text(shape):
    return "[%s]" % ",".join(str(n) for n in shape)


def dtype_text(dtype):
    return _DTYPES.get(dtype.name, dtype.name)


def type_text(a):
    """``f32[32,128]``"""
    return dtype_text(a.dtype) + shape_text(a.shape)


def values_text(a, limit=6, digits=4):
    """A small array's values (``[1, 2.5]``), or None when it has more than ``limit`` entries."""
    a = np.asarray(a)
    if a.size > limit:
        return None
    if a.ndim == 0:
        return num(a, digits)
    return "[%s]" % ", ".join(num(v, digits) for v in a.reshape(-1))


def stats(a):
    """Small arrays in full, large ones as shape, min, mean, max and norm."""
    if is_released(a):
        return "%s released (no derivative reads it; set keep_values on a layer to keep it)" \
            % shape_text(a.shape)
    a = np.asarray(a)
    if a.size <= 6:
        return values_text(a)
    f = a.astype(np.float64)
    return "%s min %s mean %s max %s ‖·‖ %s%s" % (
        shape_text(a.shape), num(np.nanmin(f)), num(np.nanmean(f)), num(np.nanmax(f)), num(norm(f)),
        "  (%d NaN)" % np.isnan(f).sum() if np.isnan(f).any() else "")


def op_text(t):
    """What made a node: its op, ``input`` for a leaf that requires grad, else ``const``."""
    return t.op_name or ("input" if t.requires_grad else "const")


def label(t):
    """A node as people read it: its name, else ``op#id`` (``input#id`` for leaves)."""
    if t.name is not None:
        return printable(str(t.name))
    return "%s#%d" % (op_text(t), t._id)


# Not drawable as text: control characters (NUL ends DOT's strings, XML forbids most of them, a
# terminal obeys ESC), line and paragraph separators, lone surrogates (UTF-8 cannot encode them)
# and the noncharacters U+FFFE and U+FFFF (not XML).
_UNPRINTABLE = ("Cc", "Cs", "Zl", "Zp")


def printable(text):
    """``text`` with each character that cannot be shown as text on one line (newlines, NUL
    and other control characters, separators, lone surrogates) written as Python writes it
    in a string literal (``\\n``, ``\\x00``, ``\\u2028``); every other character unchanged."""
    if text.isprintable():
        return text
    return "".join(ch.encode("unicode_escape").decode("ascii")
                   if unicodedata.category(ch) in _UNPRINTABLE or ch in "\ufffe\uffff" else ch
                   for ch in text)


def describe(t, g=None):
    """One line: label, op, scope, shape and, given a gradient, its norm."""
    text = "%s = %s%s %s" % (label(t), op_text(t), "  " + printable(t._scope) if t._scope else "",
                             shape_text(t.shape))
    if g is not None:
        text += "  ‖grad‖ %s" % num(norm(g))
    return text
