"""einsum's subscripts: any form numpy accepts, written out in one explicit form, and the
subscripts of each operand's gradient.

The einsum primitive records ``"ij,jk->ik"``-style subscripts only: an ellipsis becomes letters
(right-aligned, so that its axes broadcast as numpy's do), and an implicit output is spelt out
(the ellipsis axes, then the letters used once, in sorted order, as numpy's rule). Its gradient
with respect to one operand is another einsum (``vjp_plan``), so einsum differentiates to any
order.
"""
import collections
import functools
import string

from .errors import ShapeError

LETTERS = string.ascii_letters      # numpy's too: sublist integers 0-25 are a-z, 26-51 A-Z


def _error(subscripts, message):
    return ShapeError("einsum: subscripts %r: %s" % (subscripts, message))


def from_sublists(args):
    """numpy's other form, ``einsum(op0, [0, 1], op1, [1, 2], [0, 2])``: (subscripts,
    operands). An integer k names letter k of a-zA-Z, ``...`` (Ellipsis) the ellipsis."""
    def letters(sublist):
        out = []
        for k in sublist:
            if k is Ellipsis:
                out.append("...")
            elif isinstance(k, int) and 0 <= k < len(LETTERS):
                out.append(LETTERS[k])
            else:
                raise ShapeError("einsum: sublist entries must be integers 0 to 51 or Ellipsis, "
                                 "got %r" % (k,))
        return "".join(out)
    operands, subs = list(args[0::2]), [letters(s) for s in args[1::2]]
    if len(args) % 2:                       # a last sublist: the output's
        operands.pop()
        return ",".join(subs) + "->" + letters(args[-1]), operands
    return ",".join(subs), operands


@functools.lru_cache(maxsize=1024)
def explicit(subscripts, shapes):
    """``subscripts`` for operands of ``shapes`` (a tuple of tuples) in the explicit form the
    primitive records."""
    s = subscripts.replace(" ", "")
    if s.count("->") > 1 or set(s) - set(LETTERS) - set(".,->"):
        raise _error(subscripts, "use letters, commas, '...' and one '->'")
    lhs, arrow, out = s.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise _error(subscripts, "%d operand subscripts for %d operands"
                     % (len(terms), len(shapes)))
    used = set(s) & set(LETTERS)
    fresh = [c for c in LETTERS if c not in used]
    ranks = []                                      # axes each operand's ellipsis stands for
    for term, shape in zip(terms, shapes):
        named = len(term.replace("...", ""))
        if term.replace("...", "").count(".") or term.count("...") > 1:
            raise _error(subscripts, "%r: an ellipsis is three dots, at most one per operand"
                         % term)
        if "..." in term:
            if named > len(shape):
                raise _error(subscripts, "%r names %d axes of an operand of shape %s"
                             % (term, named, shape))
            ranks.append(len(shape) - named)
        elif named != len(shape):
            raise _error(subscripts, "%r names %d axes of an operand of shape %s; give one letter "
                         "per axis, or '...' for the rest" % (term, named, shape))
        else:
            ranks.append(0)
    rank = max(ranks, default=0)
    if rank > len(fresh):
        raise _error(subscripts, "the ellipsis stands for more axes than there are free letters")
    ellipsis = "".join(fresh[:rank])
    terms = [t.replace("...", ellipsis[rank - r:]) for t, r in zip(terms, ranks)]
    if not arrow:
        counts = collections.Counter("".join(terms))
        out = ellipsis + "".join(sorted(c for c in counts if counts[c] == 1 and
                                        c not in ellipsis))
    elif "..." in out:
        out = out.replace("...", ellipsis)
    elif rank:
        raise _error(subscripts, "the operands have ellipsis axes, so the output needs '...' too")
    if len(set(out)) != len(out) or set(out) - set("".join(terms)) or "." in out:
        raise _error(subscripts, "each output letter must appear once, and in an operand")
    lengths = {}
    for term, shape in zip(terms, shapes):
        for c, n in zip(term, shape):
            if n != 1 and lengths.setdefault(c, n) != n:    # length 1 broadcasts, as in numpy
                raise _error(subscripts, "letter %r stands for axes of lengths %d and %d; a "
                             "letter's axes must have one length (or 1)" % (c, lengths[c], n))
    return ",".join(terms) + "->" + out


class Plan:
    """The einsum that gives one operand's gradient: ``subscripts`` over (the upstream gradient,
    the other operands, ones over the ``summed`` axes, an identity per ``repeated`` axis)."""

    __slots__ = ("subscripts", "summed", "repeated")

    def __init__(self, subscripts, summed, repeated):
        self.subscripts, self.summed, self.repeated = subscripts, summed, repeated


@functools.lru_cache(maxsize=1024)
def vjp_plan(subscripts, i):
    """How to compute the gradient of operand ``i`` of the explicit ``subscripts``.

    A letter only operand i has was summed over in the forward: a tensor of ones over those axes
    spreads the gradient back along them. A letter repeated in operand i read a diagonal: the
    repeat is renamed to a fresh letter tied to the first by an identity matrix, which writes the
    gradient back onto that diagonal (an output cannot repeat a letter)."""
    lhs, out = subscripts.split("->")
    terms = lhs.split(",")
    wrt, others = terms[i], terms[:i] + terms[i + 1:]
    elsewhere = set(out + "".join(others))
    fresh = iter(c for c in LETTERS if c not in set(subscripts))
    target, summed, repeated, eyes, seen = "", [], [], [], set()
    for k, c in enumerate(wrt):
        if c in seen:
            f = next(fresh)
            target += f
            repeated.append(k)
            eyes.append(c + f)
        else:
            seen.add(c)
            target += c
            if c not in elsewhere:
                summed.append(k)
    ones = ["".join(wrt[k] for k in summed)] if summed else []
    return Plan(",".join([out] + others + ones + eyes) + "->" + target, tuple(summed),
                tuple(repeated))
