"""PyTorch's spellings and ops against PyTorch's own numbers (tests/fixtures/surface.npz, made by
tests/fixtures/make_surface.py; torch is not needed here): each case of surface_cases.py, written
once, runs here on autograph and must give PyTorch's values, gradients and Hessian-vector
products in float64, in reverse and in forward mode; the dtypes and facts of its calls too."""
import os

import numpy as np
import pytest

import autograph as ag
from fixtures.surface_cases import CASES, DTYPES, FACTS, RENAMED

FIXTURE = np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures",
                               "surface.npz"))
TOL = dict(rtol=1e-10, atol=1e-12)
# where autograph chose otherwise, and what it gives there instead of PyTorch's NaN
CHOSEN = {
    # a norm's second derivative at 0: PyTorch's is 0/0; autograph's is 0, the derivative of the
    # zero subgradient it takes there, as |x|'' = 0 at 0
    "case/norm_at_zero": 0.0,
}


def cases():
    for name, (_, fn) in CASES.items():
        yield "case/" + name, fn
    for name, (_, _, fn) in RENAMED.items():
        yield "renamed/" + name, fn


ALL = dict(cases())


def stored(prefix, key):
    return {k[len(prefix) + len(key):]: FIXTURE[k] for k in FIXTURE.files
            if k.startswith(prefix + key)}


def test_every_case_is_in_the_fixture_and_every_fixture_entry_is_a_case():
    in_fixture = {k.rsplit("/", 1)[0] for k in FIXTURE.files if k.endswith("/out")}
    assert in_fixture == set(ALL)
    assert {k.split("/", 1)[1] for k in FIXTURE.files if k.startswith("dtype/")} == set(DTYPES)
    assert {k.split("/", 1)[1] for k in FIXTURE.files if k.startswith("fact/")} == set(FACTS)


@pytest.mark.parametrize("name", sorted(ALL))
def test_values_gradients_and_second_derivatives_match_pytorch(name):
    fn, prefix = ALL[name], name + "/"
    inputs = stored(prefix, "in_")
    ts = {k: ag.tensor(v, requires_grad=True) for k, v in inputs.items()}
    out = fn(ag, **ts)
    want = FIXTURE[prefix + "out"]
    assert out.shape == want.shape and out.dtype.kind == want.dtype.kind, name
    np.testing.assert_allclose(out.numpy(), want, **TOL)
    if want.dtype.kind != "f":
        assert not out.requires_grad        # integer results carry no gradient, as PyTorch's
        return
    G = FIXTURE[prefix + "G"]

    def inner(*xs):
        """<d sum(out * G) / d inputs, U>: its gradient is PyTorch's Hessian-vector product."""
        grads = ag.grad(lambda *ys: (fn(ag, **dict(zip(ts, ys))) * G).sum(),
                        argnums=tuple(range(len(xs))))(*xs)
        return sum((g * FIXTURE[prefix + "U_" + k]).sum() for k, g in zip(ts, grads))

    grads = ag.grad(lambda *xs: (fn(ag, **dict(zip(ts, xs))) * G).sum(),
                    argnums=tuple(range(len(ts))))(*ts.values())
    hvps = ag.grad(inner, argnums=tuple(range(len(ts))))(*ts.values())
    for k, g, h in zip(ts, grads, hvps):
        np.testing.assert_allclose(g.numpy(), FIXTURE[prefix + "grad_" + k], err_msg="d/d" + k,
                                   **TOL)
        want = FIXTURE[prefix + "hvp_" + k]
        if name in CHOSEN:
            assert np.isnan(want).any(), "PyTorch now agrees: drop %s from CHOSEN" % name
            want = np.where(np.isnan(want), CHOSEN[name], want)
        np.testing.assert_allclose(h.numpy(), want, err_msg="second order, d/d" + k, **TOL)
    # forward mode: the derivative along U is <gradient, U>
    U = [ag.tensor(FIXTURE[prefix + "U_" + k]) for k in ts]
    _, tangent = ag.jvp(lambda *xs: (fn(ag, **dict(zip(ts, xs))) * G).sum(),
                        tuple(ts.values()), tuple(U))
    np.testing.assert_allclose(
        tangent.item(), sum((FIXTURE[prefix + "grad_" + k] * u.numpy()).sum()
                            for k, u in zip(ts, U)), **TOL)


@pytest.mark.parametrize("name", sorted(DTYPES))
def test_dtypes_match_pytorch(name):
    t = DTYPES[name](ag)
    assert str(t.dtype) == str(FIXTURE["dtype/" + name]), name
    np.testing.assert_array_equal(t.numpy(), FIXTURE["dtype_value/" + name])


@pytest.mark.parametrize("name", sorted(FACTS))
def test_facts_match_pytorch(name):
    np.testing.assert_array_equal(np.array(FACTS[name](ag)), FIXTURE["fact/" + name])
