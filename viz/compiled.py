"""``to_text`` of a compiled function: each traced program, planned, and the code it runs.

    trace 1: LSTM(f32[50,32,64]), grad on
    forward
      %0 = arg 0 : f32[50,32,64]
      %2 = input "weight_ih_l0" : f32[512,64]
      %9 = addmm %8 %1 %3 : f32[1600,512]  lstm  kept
      loop k in 0..49                      # 50 steps of 13 ops
        %60[k] = addmm %10..%59[k] %72[k-1] %5 : f32[32,512]  lstm[t=0]  stack S0_0
        %65[k] = sigmoid %61[k] : f32[32,128]  in place of %61, joined with %66, kept
      ...
    backward (planned once)
      %9: gradient assembled in place by its parts ...
    generated code
      def forward(A, E): ...

Value numbers are the trace's (the order the function ran its ops), so the same program gives
the same text in every process.
"""
from autograph import rules as R
from autograph.debug.text import dtype_text, shape_text, values_text
from autograph.fast.loops import Loop
from autograph.fast.trace import ARG, CONST, EXT
from .text import params_text, quoted


def program_text(compiled):
    """The listing of every trace of ``compiled`` (see the module's docstring)."""
    plans = compiled.programs()
    out = ["compiled %s: %d trace%s" % (compiled.name, len(plans), "" if len(plans) == 1
                                        else "s")]
    if not plans:
        out.append("  (not called yet: a call traces it)")
    for n, plan in enumerate(plans, 1):
        out.append("")
        out.extend(_trace(n, plan))
    return "\n".join(out) + "\n"


def _trace(n, cplan):
    p = cplan.program
    plan = cplan.emitter.plan
    args = ", ".join(_type(p, v) for _, v in p.args)
    lines = ["trace %d: %s(%s)" % (n, cplan.name, args), "forward"]
    for _, v in p.args:
        lines.append("  %%%d = arg %d : %s" % (v, p.data[v], _type(p, v)))
    for _, v in p.exts:
        t = p.externals[p.data[v]]
        lines.append("  %%%d = input%s : %s" % (v, " " + quoted(t.name) if t.name is not None
                                                else "", _type(p, v)))
    for v in p.consts:
        shown = values_text(p.data[v], limit=4)
        lines.append("  %%%d = const%s : %s" % (v, " " + shown if shown else "", _type(p, v)))
    done = set()
    for item in plan.items:
        if type(item) is Loop:
            lines.extend(_loop(p, plan, item))
        elif item.out not in done:
            group = cplan.emitter.groups.get(item.out)
            if group is None:
                lines.append("  " + _node(p, plan, item, None))
            else:
                done.update(group)
                lines.append("  %%%d..%%%d = split %%%d into %s : %s each  view" % (
                    group[0], group[-1], item.ins[0], item.params["parts"], _type(p, item.out)))
    lines.append("  return %s" % ", ".join(_name(plan, v) for v in p.outputs))
    lines.append("backward (planned once)")
    lines.extend("  " + line for line in _backward(p, plan))
    lines.append("generated code")
    for source in (cplan.forward_source, cplan.backward_source):
        lines.extend("  " + line for line in source.rstrip("\n").split("\n"))
    return lines


def _type(p, v):
    return dtype_text(p.dtype[v]) + shape_text(p.shape[v])


def _name(plan, v):
    """A value as code after its loop reads it: its position and step."""
    w = plan.loop_of.get(v)
    return "%%%d" % v if w is None else "%%%d[%d]" % (plan.key(v), w[1])


def _ref(p, loop, ref):
    if ref.kind == "local":
        return "%%%d[k]" % loop.outs[0][ref.pos]
    if ref.kind == "carried":
        return "%%%d[k-1] (first %%%d)" % (loop.outs[0][ref.pos], ref.values[0])
    if ref.kind == "stream":
        return "%%%d..%%%d[k]" % (ref.values[0], ref.values[-1])
    return "%%%d" % ref.values[0]


def _node(p, plan, node, loop, refs=None, streamed=None):
    if loop is None:
        name = "%%%d" % node.out
        ins = [_name(plan, v) for v in node.ins]
    else:
        name = "%%%d[k]" % node.out
        ins = [_ref(p, loop, ref) for ref in refs]
    params = dict(node.params or {})
    for key in streamed or ():
        params[key] = "<one per step>"
    if node.op is R.split:
        params = {"part": params["part"], "of": str(params["parts"])}
    text = " ".join([node.op.name] + ins)
    shown = params_text(params) if params else ""
    if shown:
        text += " " + shown
    text = "%s = %s : %s" % (name, text, _type(p, node.out))
    if node.scope:
        text += "  " + node.scope
    notes = _notes(p, plan, node.out)
    return text + ("  " + ", ".join(notes) if notes else "")


def _notes(p, plan, key):
    notes = []
    if key in plan.inplace:
        notes.append("in place of %%%d" % plan.node[key].ins[plan.inplace[key]])
    elif plan.node[key].op in _VIEW_NAMES:
        notes.append("view")
    for run in plan.joined:
        if key in run:
            others = [k for k in run if k != key]
            notes.append("joined with %s" % " ".join("%%%d" % k for k in others))
    store = plan.storage.get(key)
    if store is not None:
        notes.append({"stack": "stacked", "rstack": "stacked with the first input",
                      "fresh": "new each step", "temp": "one buffer"}[store])
    if key in plan.kept or key in plan.carried_kept:
        notes.append("kept")
    return notes


_VIEW_NAMES = {R.reshape, R.transpose, R.getitem, R.broadcast_to, R.identity, R.split}


def _loop(p, plan, loop):
    m = p.loops.index(loop)
    first = loop.start
    lines = ["  loop k in 0..%d  # %d steps of %d ops (nodes %d..%d of the trace)%s" % (
        loop.n - 1, loop.n, len(loop), first, first + loop.n * len(loop) - 1,
        ", stacked last step first" if plan.orient[m] < 0 else "")]
    for j, node in enumerate(loop.body):
        lines.append("    " + _node(p, plan, node, loop, loop.refs[j], loop.stream_params[j]))
    return lines


def _backward(p, plan):
    lines = []
    rows = {}
    for key, (kind, detail) in sorted(plan.home.items()):
        if kind == "rows":
            rows.setdefault(plan.aligned[(detail[0],) + detail[1][0]][0], []).append(key)
    for x, keys in sorted(rows.items()):
        lines.append("%%%d..%%%d: gradients written by the steps into the rows of %%%d's"
                     % (keys[0], keys[-1], x))
    for key, (kind, detail) in sorted(plan.home.items()):
        if kind == "part":
            lines.append("%%%d: gradient written into its part of %%%d's" % (key, detail[0]))
        elif kind == "same":
            lines.append("%%%d: gradient computed in the buffer of %%%d's" % (key, detail))
        elif kind == "stack":
            lines.append("%%%d: gradient stacked over the steps" % key)
    for m, products in sorted(plan.products.items()):
        loop = p.loops[m]
        for j, qs in sorted(products.items()):
            for q in qs:
                what = "one stacked product" if q else "one sum"
                lines.append("%%%d: gradient of %%%d after the loop by %s" % (
                    loop.outs[0][j], loop.refs[j][q].values[0], what))
    kept = sorted(k for k in plan.kept if p.kind[k] not in (ARG, EXT, CONST))
    lines.append("kept: %s" % (" ".join("%%%d" % k for k in kept) or "nothing"))
    return lines
