"""Composite expressions against PyTorch's values and gradients (tests/fixtures/engine.npz, made
by tests/fixtures/make_engine.py; torch is not needed here)."""
import os

import numpy as np
import pytest

import autograph as ag

FIXTURE = np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures",
                               "engine.npz"))

EXPRESSIONS = {
    "log_softmax_nll": lambda x, t: -ag.log_softmax(x, axis=1)[np.arange(5), t.numpy()].mean(),
    "logsumexp_large": lambda x: ag.logsumexp(x, axis=(0, 2)),
    "matmul_broadcast": lambda a, b, v: ag.tanh(a @ b) * ag.unsqueeze(v @ b, -2),
    "attention": lambda q, k, v: ag.softmax(q @ k.T / 2, axis=-1) @ v,
    "elementwise": lambda x, y: ag.sigmoid(x) * ag.softplus(y)
    + ag.sqrt(ag.abs(x) + 1) / (1 + y ** 2) - ag.clip(x * y, -0.5, 0.5),
    "ties": lambda a, b: ag.maximum(a, b) + ag.minimum(a, b) * 3
    + ag.max(a, axis=1, keepdims=True) + ag.relu(a) * 5 + ag.abs(a) * 7,
    "indexing": lambda x: x[np.array([2, 0, 2, 2])] * 2 + x[1:, ::2].sum() - x[-1, None, 1:2],
    "split_stack_concat": lambda x: ag.concat([ag.stack(ag.split(x, 3, axis=1), axis=0).sum(0),
                                               x[:, :1]], axis=1) ** 2,
}


def inputs_of(name):
    prefix = name + "/in_"
    return {k[len(prefix):]: FIXTURE[k] for k in FIXTURE.files if k.startswith(prefix)}


def test_every_fixture_case_is_compared():
    cases = {k.split("/")[0] for k in FIXTURE.files if "/in_" in k}
    assert cases == set(EXPRESSIONS)


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_values_and_gradients_match_pytorch(name):
    tensors = {k: ag.tensor(v, requires_grad=v.dtype.kind == "f")
               for k, v in inputs_of(name).items()}
    out = EXPRESSIONS[name](**tensors)
    np.testing.assert_allclose(out.numpy(), FIXTURE[name + "/out"], rtol=1e-10, atol=1e-12)
    (out * FIXTURE[name + "/G"]).sum().backward()
    for k, t in tensors.items():
        if t.requires_grad:
            np.testing.assert_allclose(t.grad.numpy(), FIXTURE[name + "/grad_" + k], rtol=1e-10,
                                       atol=1e-12, err_msg="%s: d/d%s" % (name, k))


def test_hessian_vector_product_matches_pytorch():
    X, V, Y, U = (FIXTURE["hvp/" + k] for k in "XVYU")

    def loss(w):
        return -(ag.log_softmax(ag.tanh(ag.tensor(X) @ w) @ ag.tensor(V), axis=1)
                 * ag.tensor(Y)).sum()

    w = ag.tensor(FIXTURE["hvp/W"], requires_grad=True)
    out = loss(w)
    out.backward(create_graph=True)
    g = w.grad
    np.testing.assert_allclose(out.item(), FIXTURE["hvp/loss"], rtol=1e-12)
    np.testing.assert_allclose(g.numpy(), FIXTURE["hvp/grad"], rtol=1e-10, atol=1e-12)
    w.grad = None
    (g * ag.tensor(U)).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), FIXTURE["hvp/hvp"], rtol=1e-9, atol=1e-12)

    _, hvp = ag.jvp(ag.grad(loss), (FIXTURE["hvp/W"],), (U,))        # forward over reverse
    np.testing.assert_allclose(hvp.numpy(), FIXTURE["hvp/hvp"], rtol=1e-9, atol=1e-12)
