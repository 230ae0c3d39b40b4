"""Code templates for the common ops: forwards that write into a given buffer (``out=``) and
backward rules that write a contribution where its gradient lives.

Each computes what the table's forward or rule computes (rules.py, numerics.py), in the same
order of operations, so that a compiled program agrees with the eager one to the last bit
wherever the summation order is the same. An op without a template here runs the table's own
forward or rule (emit.py).

A forward template ``f(em, node, target, args, out)`` adds lines that assign ``target``;
``out`` is None (a new array) or the expression of a buffer of the result's shape and dtype.

A backward template ``b(em, node, g, y, xs, want, dest, consume)`` adds lines computing the
contribution to each input position in ``want``, and returns {position: (expression, kind)}:
kind "written" (into ``dest[position]``), "fresh" (a new array the caller owns) or "alias"
(``g`` itself, or a view of something else: the caller must not write into it). ``consume``
says ``g`` is the caller's own buffer and dead after this node: a template may write into it.

Scalars (0-d float64) are Python floats in compiled code where IEEE arithmetic gives numpy's
answer exactly (``+ - *``, negation, relu); ``scalar_*`` hold those templates.
"""
from .. import numerics as N
from .. import rules as R


def _out(out):
    return ", out=%s" % out if out else ""


def ufunc(name):
    def forward(em, node, target, args, out):
        em.add("%s = np.%s(%s%s)" % (target, name, ", ".join(args), _out(out)))
    return forward


def relu(em, node, target, args, out):
    em.add("%s = np.maximum(%s, 0%s)" % (target, args[0], _out(out)))


def sigmoid(em, node, target, args, out):
    """numerics.sigmoid: exp(min(x, log max)) / (that + 1), in place."""
    dtype = em.p.dtype[node.out]
    log_max, one = N._EXP_LIMITS.get(dtype) or N._exp_limits(dtype)
    lm, one = em.const(log_max), em.const(one)
    em.add("%s = np.minimum(%s, %s%s)" % (target, args[0], lm, _out(out)))
    em.add("np.exp(%s, out=%s)" % (target, target))
    s = em.scratch(node.out)
    em.add("np.add(%s, %s, out=%s)" % (target, one, s))
    em.add("np.divide(%s, %s, out=%s)" % (target, s, target))


def addcmul(em, node, target, args, out):
    """numerics.addcmul: a * b, then + c, in the product's buffer."""
    c, a, b = args
    if out == c:                    # written over c: the product goes elsewhere first
        s = em.scratch(node.out)
        em.add("np.multiply(%s, %s, out=%s)" % (a, b, s))
        em.add("%s = np.add(%s, %s, out=%s)" % (target, c, s, c))
        return
    em.add("%s = np.multiply(%s, %s%s)" % (target, a, b, _out(out)))
    em.add("np.add(%s, %s, out=%s)" % (target, c, target))


def matmul(em, node, target, args, out):
    em.add("%s = np.matmul(%s, %s%s)" % (target, args[0], args[1], _out(out)))


def addmm(em, node, target, args, out):
    """numerics.addmm: a @ b, then + c, in the product's buffer."""
    c, a, b = args
    em.add("%s = np.matmul(%s, %s%s)" % (target, a, b, _out(out)))
    em.add("np.add(%s, %s, out=%s)" % (target, c, target))


def reshape(em, node, target, args, out):
    em.add("%s = %s.reshape(%r)" % (target, args[0], node.params["shape"]))


def transpose(em, node, target, args, out):
    axes = node.params["axes"]
    if axes == tuple(range(len(axes) - 1, -1, -1)):
        em.add("%s = %s.T" % (target, args[0]))
    else:
        em.add("%s = %s.transpose(%r)" % (target, args[0], axes))


def part(em, node, target, args, out):
    em.add("%s = %s[%s]" % (target, args[0], em.index(node.params["parts"].indices[
        node.params["part"]])))


def getitem(em, node, target, args, out):
    em.add("%s = %s[%s]" % (target, args[0], em.index(node.params["index"])))


def detach(em, node, target, args, out):
    em.add("%s = %s" % (target, args[0]))


def _fits(em, node, *values):
    """Every value has the output's dtype (so ``out=`` changes no result type)."""
    dtype = em.p.dtype[node.out]
    return all(em.p.dtype[v] == dtype for v in values)


def _elementwise_ok(em, node):
    """Inputs of the output's shape and dtype: no broadcasting, no promotion."""
    p = em.p
    return all(p.shape[v] == p.shape[node.out] and p.dtype[v] == p.dtype[node.out]
               for v in node.ins) and p.dtype[node.out].kind == "f"


def _matrices(em, node, *positions):
    p = em.p
    return all(len(p.shape[node.ins[q]]) == 2 for q in positions) and \
        _fits(em, node, *node.ins) and p.dtype[node.out].kind == "f"


def forward_template(em, node):
    """The template for node's forward, or None for the table's own."""
    op = node.op
    if op in VIEW_FORWARD:
        return VIEW_FORWARD[op]
    if op in ARRAY_FORWARD and _elementwise_ok(em, node):
        return ARRAY_FORWARD[op]
    if op is R.addcmul and _fits(em, node, *node.ins) and em.p.dtype[node.out].kind == "f" \
            and all(em.p.shape[v] == em.p.shape[node.out] for v in node.ins):
        return addcmul
    if op is R.matmul and _matrices(em, node, 0, 1):
        return matmul
    if op is R.addmm and _matrices(em, node, 1, 2) and _fits(em, node, node.ins[0]):
        return addmm
    return None


ARRAY_FORWARD = {R.add: ufunc("add"), R.sub: ufunc("subtract"), R.mul: ufunc("multiply"),
                 R.div: ufunc("divide"), R.neg: ufunc("negative"), R.exp: ufunc("exp"),
                 R.log: ufunc("log"), R.sqrt: ufunc("sqrt"), R.tanh: ufunc("tanh"),
                 R.relu: relu, R.sigmoid: sigmoid}
VIEW_FORWARD = {R.reshape: reshape, R.transpose: transpose, R.split: part}

SCALAR_FORWARD = {R.add: "%s + %s", R.sub: "%s - %s", R.mul: "%s * %s", R.neg: "-%s",
                  R.relu: "max(%s, 0.0)"}


# -- backward ----------------------------------------------------------------------------------
def _into(dest, consume, g):
    """Where a contribution computed by one call goes: (buffer or None, kind)."""
    if dest is not None:
        return dest, "written"
    if consume:
        return g, "fresh"
    return None, "fresh"


def _call(em, expr_fmt, args, where, name):
    """``name = np.f(args..., out=where)``: the contribution's expression."""
    em.add("%s = %s" % (name, expr_fmt % (", ".join(args) + _out(where))))
    return name


def b_mul(em, node, g, y, xs, want, dest, consume):
    out = {}
    last = want[-1]
    for q in want:
        other = xs[1 - q]
        where, kind = _into(dest.get(q), consume and q == last, g)
        out[q] = (_call(em, "np.multiply(%s)", [g, other], where, em.fresh()), kind)
    return out


def b_add(em, node, g, y, xs, want, dest, consume):
    out = {}
    for q in want:
        out[q] = (g, "alias")
    return out


def b_sub(em, node, g, y, xs, want, dest, consume):
    out = {}
    for q in want:
        if q == 0:
            out[q] = (g, "alias")
        else:           # g is also input 0's contribution when it has one: no writing into it
            where, kind = _into(dest.get(q), consume and 0 not in want, g)
            out[q] = (_call(em, "np.negative(%s)", [g], where, em.fresh()), kind)
    return out


def b_neg(em, node, g, y, xs, want, dest, consume):
    where, kind = _into(dest.get(0), consume, g)
    return {0: (_call(em, "np.negative(%s)", [g], where, em.fresh()), kind)}


def b_exp(em, node, g, y, xs, want, dest, consume):
    where, kind = _into(dest.get(0), consume, g)
    return {0: (_call(em, "np.multiply(%s)", [g, y], where, em.fresh()), kind)}


def b_relu(em, node, g, y, xs, want, dest, consume):
    where, kind = _into(dest.get(0), consume, g)
    return {0: (_call(em, "np.multiply(%s)", [g, "(%s > 0)" % xs[0]], where, em.fresh()),
                kind)}


def b_sigmoid(em, node, g, y, xs, want, dest, consume):
    """g * y * (1 - y), as the table's rule: (g * y), then times (1 - y)."""
    where, kind = _into(dest.get(0), consume, g)
    d = _call(em, "np.multiply(%s)", [g, y], where, em.fresh())
    s = em.scratch(node.out, shape=em.shape_of(y, node.out))
    em.add("np.subtract(%s, %s, out=%s)" % (em.const(em.one(node.out)), y, s))
    em.add("np.multiply(%s, %s, out=%s)" % (d, s, d))
    return {0: (d, kind)}


def b_tanh(em, node, g, y, xs, want, dest, consume):
    """g * (1 - y * y), as the table's rule."""
    s = em.scratch(node.out, shape=em.shape_of(y, node.out))
    em.add("np.multiply(%s, %s, out=%s)" % (y, y, s))
    em.add("np.subtract(%s, %s, out=%s)" % (em.const(em.one(node.out)), s, s))
    where, kind = _into(dest.get(0), consume, g)
    return {0: (_call(em, "np.multiply(%s)", [g, s], where, em.fresh()), kind)}


def b_addcmul(em, node, g, y, xs, want, dest, consume):
    out = {}
    products = [q for q in want if q]
    for q in want:
        if q == 0:
            out[q] = (g, "alias")
            continue
        other = xs[3 - q]
        where, kind = _into(dest.get(q), consume and q == products[-1] and 0 not in want, g)
        out[q] = (_call(em, "np.multiply(%s)", [g, other], where, em.fresh()), kind)
    return out


def _matmul_rules(em, g, a, b, qa, qb, want, dest):
    out = {}
    for q in want:
        if q == qa:             # g @ bᵀ
            args = [g, "%s.T" % b]
        elif q == qb:           # aᵀ @ g
            args = ["%s.T" % a, g]
        else:
            continue
        where, kind = _into(dest.get(q), False, g)
        out[q] = (_call(em, "np.matmul(%s)", args, where, em.fresh()), kind)
    return out


def b_matmul(em, node, g, y, xs, want, dest, consume):
    return _matmul_rules(em, g, xs[0], xs[1], 0, 1, want, dest)


def b_addmm(em, node, g, y, xs, want, dest, consume):
    out = _matmul_rules(em, g, xs[1], xs[2], 1, 2, want, dest)
    if 0 in want:
        out[0] = (g, "alias")       # the caller sums it down to the bias's shape
    return out


def backward_template(em, node):
    """The backward template of node, or None for the table's rules."""
    op = node.op
    p = em.p
    dtype = p.dtype[node.out]
    if dtype.kind != "f" or any(p.dtype[v] != dtype for v in node.ins):
        return None
    if op in ARRAY_BACKWARD and all(p.shape[v] == p.shape[node.out] for v in node.ins):
        return ARRAY_BACKWARD[op]
    if op is R.addcmul and all(p.shape[v] == p.shape[node.out] for v in node.ins):
        return b_addcmul
    if op is R.matmul and all(len(p.shape[v]) == 2 for v in node.ins):
        return b_matmul
    if op is R.addmm and all(len(p.shape[v]) == 2 for v in node.ins[1:]):
        return b_addmm
    if op is R.add or op is R.sub:
        return ARRAY_BACKWARD[op]   # broadcasting: the caller sums the alias down
    return None


ARRAY_BACKWARD = {R.mul: b_mul, R.add: b_add, R.sub: b_sub, R.neg: b_neg, R.exp: b_exp,
                  R.relu: b_relu, R.sigmoid: b_sigmoid, R.tanh: b_tanh}

# 0-d float64 as Python floats: (format per input position) for the rule's contribution
SCALAR_BACKWARD = {R.add: ("%(g)s", "%(g)s"), R.sub: ("%(g)s", "-%(g)s"),
                   R.mul: ("%(g)s * %(x1)s", "%(g)s * %(x0)s"), R.neg: ("-%(g)s",),
                   R.relu: ("%(g)s * (%(x0)s > 0.0)",)}
