"""Section 1 of the chapter: computation graphs and the chain rule on them.

Example 1: e = (a + b)(b + 1) at a = 2, b = 1, drawn with each node's value and gradient and
each edge's local derivative. Example 2: the nine paths from X to Z and their factorisation
(α+β+γ)(δ+ε+ζ). The same graph labelled in forward mode (d·/dX) and in reverse mode (dZ/d·).
"""
import os

import common

args = common.parse_args("01_computation_graphs", __doc__)

import autograph as ag  # noqa: E402  (after common has put the repository on sys.path)
import viz  # noqa: E402
from autograph import debug  # noqa: E402

out = args.out


def named(t, name):
    t.name = name
    return t


common.section("Example 1: e = (a + b)(b + 1) at a = 2, b = 1")
a = ag.tensor(2.0, dtype="float64", requires_grad=True, name="a")
b = ag.tensor(1.0, dtype="float64", requires_grad=True, name="b")
c = named(a + b, "c").retain_grad()
d = named(b + 1, "d").retain_grad()
e = named(c * d, "e")
e.backward(retain_graph=True)
print("c = a + b = %g,  d = b + 1 = %g,  e = c * d = %g" % (c.item(), d.item(), e.item()))
print("de/da = de/dc * dc/da = d * 1 = %g" % a.grad.item())
print("de/db = de/dc * dc/db + de/dd * dd/db = d * 1 + c * 1 = %g" % b.grad.item())
assert (e.item(), a.grad.item(), b.grad.item()) == (6.0, 2.0, 5.0)
print("""
The chapter writes a = 3, b = 1 and then c = 4, d = 2, e = 6, de/da = 2, de/db = 5.
c = 4 fits a = 3, but e = c * d = 6 and de/db = d + c = 5 need c = 3, i.e. a = 2
(a = 3 would give e = 8 and de/db = 6). Everything after the first line is right for a = 2.""")
print("\nThe recorded graph as text:\n" + viz.to_text(e))
print("\nThe chain rule on it, path by path:\n" + debug.explain(e, b))
viz.render(e, os.path.join(out, "example1.svg"), show=("name", "value", "grad"),
           edge_labels="local")

common.section("Example 2: nine paths from X to Z")
greek = dict(zip("αβγδεζ", (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)))
k = {name: ag.tensor(v, dtype="float64", name=name) for name, v in greek.items()}
X = ag.tensor(1.0, dtype="float64", requires_grad=True, name="X")


def example2(X):
    """Three edges X -> Y, three edges Y -> Z: Y = αX + βX + γX, Z = δY + εY + ζY."""
    Y = named(sum_of([named(k[g] * X, g + "X") for g in "αβγ"]), "Y")
    return named(sum_of([named(k[g] * Y, g + "Y") for g in "δεζ"]), "Z")


def sum_of(terms):
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


Z = example2(X)
Z.backward(retain_graph=True)
first, second = "αβγ", "δεζ"
paths = [(p, q, greek[p] * greek[q]) for p in first for q in second]
for p, q, product in paths:
    print("  X -%s-> Y -%s-> Z   product %g" % (p, q, product))
factored = sum(greek[p] for p in first) * sum(greek[q] for q in second)
print("sum of the nine products = %g = (α+β+γ)(δ+ε+ζ) = %g = dZ/dX from backward() = %g"
      % (sum(r for _, _, r in paths), factored, X.grad.item()))
assert sum(r for _, _, r in paths) == factored == X.grad.item()
print("\n" + debug.explain(Z, X))
viz.render(Z, os.path.join(out, "example2_paths.svg"), highlight=(X, Z), edge_labels="local")

common.section("Forward mode carries d/dX forward, reverse mode carries dZ/d back")
_, tangent = ag.jvp(example2, (X.detach(),), (ag.tensor(1.0, dtype="float64"),))
gradient = ag.grad(example2)(X.detach())
print("forward mode (jvp, one sweep per input):   dZ/dX = %g" % tangent.item())
print("reverse mode (grad, one sweep per output): dZ/dX = %g" % gradient.item())
assert tangent.item() == gradient.item() == factored
viz.render(Z, os.path.join(out, "forward_mode.svg"), mode="forward", wrt=X)
viz.render(Z, os.path.join(out, "reverse_mode.svg"), mode="reverse")

common.section("Pictures")
common.wrote(*[os.path.join(out, name) for name in ("example1.svg", "example2_paths.svg",
                                                    "forward_mode.svg", "reverse_mode.svg")])
