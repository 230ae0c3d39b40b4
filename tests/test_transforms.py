"""The functional transforms against closed forms and finite differences."""
import numpy as np
import pytest

import autograph as ag
from autograph.gradcheck import numerical_jacobian


def f64(x, **kw):
    return ag.tensor(np.asarray(x, dtype=np.float64), **kw)


X = np.array([0.3, -1.1, 2.0])


def test_grad_and_value_and_grad():
    f = lambda x: (ag.tanh(x) * x).sum()                   # noqa: E731
    g = ag.grad(f)(X)
    t = np.tanh(X)
    np.testing.assert_allclose(g.numpy(), t + X * (1 - t * t), rtol=1e-12)
    value, g2 = ag.value_and_grad(f)(X)
    assert value.item() == pytest.approx((t * X).sum())
    np.testing.assert_allclose(g2.numpy(), g.numpy())
    assert not g.requires_grad and not value.requires_grad


def test_grad_with_argnums():
    f = lambda a, b, c: (a * b * b + c).sum()                # noqa: E731
    a, b, c = np.array([1.0, 2.0]), np.array([3.0, -1.0]), np.array([5.0, 5.0])
    np.testing.assert_allclose(ag.grad(f, argnums=1)(a, b, c).numpy(), 2 * a * b)
    da, dc = ag.grad(f, argnums=(0, 2))(a, b, c)
    np.testing.assert_allclose(da.numpy(), b * b)
    np.testing.assert_allclose(dc.numpy(), [1, 1])
    np.testing.assert_allclose(ag.grad(f, argnums=-1)(a, b, c).numpy(), [1, 1])
    with pytest.raises(ag.AutogradError, match="argnums=3"):
        ag.grad(f, argnums=3)(a, b, c)


def test_grad_leaves_inputs_grad_untouched_and_gives_zeros_when_unused():
    w = f64([1.0, 2.0], requires_grad=True)
    g = ag.grad(lambda x: (x * w).sum())(np.array([3.0, 4.0]))
    np.testing.assert_allclose(g.numpy(), [1, 2])
    assert w.grad is None
    np.testing.assert_array_equal(ag.grad(lambda x, y: (y * 2).sum())(X, f64(X)).numpy(), 0 * X)


def test_grad_errors():
    with pytest.raises(ag.AutogradError, match="scalar"):
        ag.grad(lambda x: x * 2)(X)
    with pytest.raises(ag.AutogradError, match="must return a Tensor"):
        ag.grad(lambda x: 3.0)(X)
    with pytest.raises(ag.AutogradError, match="dtype int"):
        ag.grad(lambda x: x.sum())(np.arange(3))


def test_grad_of_grad_of_grad_matches_closed_forms():
    x = np.float64(1.3)
    d3 = ag.grad(ag.grad(ag.grad(lambda x: x ** 4)))(x)
    assert d3.item() == pytest.approx(24 * 1.3, rel=1e-12)
    # tanh''' = -2 sech²(x) (1 - 3 tanh²(x))
    d3 = ag.grad(ag.grad(ag.grad(ag.tanh)))(x)
    t = np.tanh(x)
    assert d3.item() == pytest.approx(-2 * (1 - t * t) * (1 - 3 * t * t), rel=1e-10)
    # (x·e^x)''' = (x + 3) e^x
    d3 = ag.grad(ag.grad(ag.grad(lambda x: x * ag.exp(x))))(x)
    assert d3.item() == pytest.approx((x + 3) * np.exp(x), rel=1e-12)
    d4 = ag.grad(ag.grad(ag.grad(ag.grad(lambda x: x ** 4))))(x)
    assert d4.item() == pytest.approx(24, rel=1e-12)


def test_backward_with_create_graph_gives_differentiable_gradients():
    x = f64(1.5, requires_grad=True)
    y = x ** 3
    y.backward(create_graph=True)
    first = x.grad
    assert first.requires_grad and first.item() == pytest.approx(3 * 1.5 ** 2)
    x.grad = None
    first.backward()
    assert x.grad.item() == pytest.approx(6 * 1.5)


def test_vjp():
    A = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    f = lambda x, y: ag.tanh(f64(A) @ x) * y               # noqa: E731
    y = np.array([2.0, -1.0])
    out, vjp_fn = ag.vjp(f, X, y)
    u = np.array([1.0, 0.5])
    gx, gy = vjp_fn(u)
    h = np.tanh(A @ X)
    np.testing.assert_allclose(out.numpy(), h * y)
    np.testing.assert_allclose(gx.numpy(), A.T @ (u * y * (1 - h * h)), rtol=1e-12)
    np.testing.assert_allclose(gy.numpy(), u * h, rtol=1e-12)
    gx2, _ = vjp_fn(2 * u)                                  # vjp_fn can be called again
    np.testing.assert_allclose(gx2.numpy(), 2 * gx.numpy(), rtol=1e-12)


def test_jvp_forward_mode():
    A = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    f = lambda x: ag.sigmoid(f64(A) @ x).sum() * ag.exp(x[0])   # noqa: E731
    v = np.array([0.2, -0.7, 1.0])
    out, tangent = ag.jvp(f, (X,), (v,))
    J = numerical_jacobian(f, [X], 0, 1e-6)
    assert out.item() == pytest.approx(float(f(f64(X)).item()))
    assert tangent.item() == pytest.approx(J @ v, rel=1e-7)
    with pytest.raises(ag.AutogradError, match=r"tangent has shape \(2,\)"):
        ag.jvp(f, (X,), (np.ones(2),))
    with pytest.raises(ag.AutogradError, match="1 primals but 2 tangents"):
        ag.jvp(f, (X,), (v, v))


def test_jvp_of_several_primals_sums_their_contributions():
    f = lambda a, b: a * b * b                             # noqa: E731
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    da, db = np.array([1.0, 0.0]), np.array([0.5, 1.0])
    _, t = ag.jvp(f, (a, b), (da, db))
    np.testing.assert_allclose(t.numpy(), da * b * b + 2 * a * b * db)


def vector_function(x):
    return ag.concat([ag.tanh(x) * x[0], ag.log_softmax(x * x), ag.reshape((x ** 3).sum(), (1,))])


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_jacobian_matches_finite_differences(mode):
    J = ag.jacobian(vector_function, mode=mode)(X)
    assert J.shape == (7, 3)
    np.testing.assert_allclose(J.numpy(), numerical_jacobian(vector_function, [X], 0, 1e-6),
                               rtol=1e-6, atol=1e-8)


def test_jacobian_modes_agree_on_matrix_arguments():
    W = np.random.default_rng(0).standard_normal((2, 3))
    f = lambda w, x: ag.tanh(w @ x)                         # noqa: E731
    for argnums in (0, 1):
        rev = ag.jacobian(f, argnums=argnums, mode="rev")(W, X)
        fwd = ag.jacobian(f, argnums=argnums, mode="fwd")(W, X)
        np.testing.assert_allclose(rev.numpy(), fwd.numpy(), rtol=1e-12, atol=1e-14)
    assert rev.shape == (2, 3)
    assert ag.jacobian(f, argnums=0)(W, X).shape == (2, 2, 3)
    jw, jx = ag.jacobian(f, argnums=(0, 1))(W, X)
    assert jw.shape == (2, 2, 3) and jx.shape == (2, 3)
    with pytest.raises(ag.AutogradError, match="mode must be"):
        ag.jacobian(f, mode="sideways")


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_jacobian_of_an_empty_output_or_input(mode):
    assert ag.jacobian(lambda x: x[:0] * 2, mode=mode)(X).shape == (0, 3)
    assert ag.jacobian(lambda x: x.sum() * 2, mode=mode)(np.zeros(0)).shape == (0,)


def test_hessian_matches_closed_forms():
    A = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, -1.0], [0.0, -1.0, 4.0]])
    quadratic = lambda x: 0.5 * (x * (f64(A) @ x)).sum()    # noqa: E731
    np.testing.assert_allclose(ag.hessian(quadratic)(X).numpy(), A, rtol=1e-12)
    # f = Σ x_i³ + x_0 x_1: H = diag(6 x) + [[0, 1], [1, 0]] on the first two
    f = lambda x: (x ** 3).sum() + x[0] * x[1]              # noqa: E731
    H = ag.hessian(f)(X)
    want = np.diag(6 * X)
    want[0, 1] = want[1, 0] = 1
    np.testing.assert_allclose(H.numpy(), want, rtol=1e-12)
    # logsumexp: H = diag(p) - p pᵀ
    p = np.exp(X - X.max()) / np.exp(X - X.max()).sum()
    np.testing.assert_allclose(ag.hessian(ag.logsumexp)(X).numpy(), np.diag(p) - np.outer(p, p),
                               rtol=1e-10, atol=1e-14)


def test_transforms_nest_for_mixed_derivatives():
    # d/dy (d/dx x²y³) = 6 x y²
    f = lambda x, y: x * x * y * y * y                      # noqa: E731
    dxy = ag.grad(lambda x, y: ag.grad(f, argnums=0)(x, y), argnums=1)
    assert dxy(np.float64(2.0), np.float64(3.0)).item() == pytest.approx(6 * 2 * 9)
    # the same with the outer variable reaching the inner function through a closure
    y = np.float64(3.0)
    dxy = ag.grad(lambda y: ag.grad(lambda x: f(x, y))(np.float64(2.0)))
    assert dxy(y).item() == pytest.approx(6 * 2 * 9)
    # jvp of grad: Hessian-vector product of Σ x³ is 6 x ⊙ v
    v = np.array([1.0, 2.0, 3.0])
    _, hv = ag.jvp(ag.grad(lambda x: (x ** 3).sum()), (X,), (v,))
    np.testing.assert_allclose(hv.numpy(), 6 * X * v, rtol=1e-12)


def test_gradcheck_accepts_correct_composites_at_second_order():
    assert ag.gradcheck(vector_function, [X], order=2)
    assert ag.gradcheck(lambda a, b: ag.softmax(a @ b, axis=0),
                        [np.ones((2, 3)) * 0.3, np.arange(6.0).reshape(3, 2) / 6], order=2)
