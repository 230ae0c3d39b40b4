"""Every engine name that API.md lists exists and works: values against numpy, derivatives of
the composites (functions that are not primitives) against finite differences."""
import numpy as np
import pytest

import autograph as ag

rng = np.random.default_rng(7)
A = rng.uniform(0.5, 2.0, (2, 3))          # positive: log and sqrt are defined
B = rng.uniform(-2.0, 2.0, (2, 3))
M = rng.uniform(-1.0, 1.0, (3, 4))
D = np.array([[0.3, -1.2, 2.5], [1.7, 0.1, -0.4]])   # distinct entries: max/min have no ties


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_logsumexp(x, axis=None, keepdims=False):
    m = x.max(axis=axis, keepdims=True)
    out = m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


# name -> (autograph function of tensors, numpy reference, inputs)
FUNCTIONS = {
    "exp": (ag.exp, np.exp, [B]),
    "log": (ag.log, np.log, [A]),
    "sqrt": (ag.sqrt, np.sqrt, [A]),
    "abs": (ag.abs, np.abs, [D]),
    "tanh": (ag.tanh, np.tanh, [B]),
    "sigmoid": (ag.sigmoid, lambda x: 1 / (1 + np.exp(-x)), [B]),
    "relu": (ag.relu, lambda x: np.maximum(x, 0), [D]),
    "softplus": (ag.softplus, lambda x: np.log1p(np.exp(x)), [B]),
    "maximum": (ag.maximum, np.maximum, [D, D.T[::-1].reshape(2, 3) + 0.05]),
    "minimum": (ag.minimum, np.minimum, [D, D.T[::-1].reshape(2, 3) + 0.05]),
    "where": (lambda a, b: ag.where(D > 0, a, b), lambda a, b: np.where(D > 0, a, b), [A, B]),
    "clip": (lambda x: ag.clip(x, -1, 1), lambda x: np.clip(x, -1, 1), [D]),
    "clip lo only": (lambda x: ag.clip(x, lo=0), lambda x: np.clip(x, 0, None), [D]),
    "matmul": (ag.matmul, np.matmul, [B, M]),
    "sum": (lambda x: ag.sum(x, axis=1), lambda x: x.sum(axis=1), [B]),
    "mean": (ag.mean, np.mean, [B]),
    "mean axis keepdims": (lambda x: ag.mean(x, axis=0, keepdims=True),
                           lambda x: x.mean(axis=0, keepdims=True), [B]),
    "softmax": (ag.softmax, np_softmax, [B]),
    "softmax axis 0": (lambda x: ag.softmax(x, axis=0), lambda x: np_softmax(x, 0), [B]),
    "log_softmax": (ag.log_softmax, lambda x: np.log(np_softmax(x)), [B]),
    "logsumexp": (ag.logsumexp, np_logsumexp, [B]),
    "logsumexp axis keepdims": (lambda x: ag.logsumexp(x, axis=1, keepdims=True),
                                lambda x: np_logsumexp(x, 1, True), [B]),
    "concat": (lambda a, b: ag.concat([a, b], axis=1), lambda a, b: np.concatenate([a, b], 1),
               [A, B]),
    "stack": (lambda a, b: ag.stack([a, b], axis=1), lambda a, b: np.stack([a, b], 1), [A, B]),
    "split sections": (lambda x: ag.split(x, 3, axis=1)[1] * ag.split(x, 3, axis=1)[2],
                       lambda x: np.split(x, 3, 1)[1] * np.split(x, 3, 1)[2], [B]),
    "split indices": (lambda x: ag.split(x, [1])[0] - ag.split(x, [1])[1],
                      lambda x: np.split(x, [1])[0] - np.split(x, [1])[1], [B]),
    "reshape": (lambda x: ag.reshape(x, (3, 2)), lambda x: x.reshape(3, 2), [B]),
    "reshape -1": (lambda x: ag.reshape(x, -1, 1), lambda x: x.reshape(-1, 1), [B]),
    "transpose": (ag.transpose, np.transpose, [B]),
    "broadcast_to": (lambda x: ag.broadcast_to(x, (4, 2, 3)), lambda x: np.broadcast_to(x, (4, 2, 3)),
                     [B]),
    # methods
    ".sum": (lambda x: x.sum(axis=(0, 1), keepdims=True), lambda x: x.sum((0, 1), keepdims=True),
             [B]),
    ".mean": (lambda x: x.mean(axis=1), lambda x: x.mean(1), [B]),
    ".max": (lambda x: x.max(axis=1), lambda x: x.max(1), [D]),
    ".min": (lambda x: x.min(axis=0, keepdims=True), lambda x: x.min(0, keepdims=True), [D]),
    ".max all": (lambda x: x.max(), np.max, [D]),
    ".exp .log .sqrt .abs": (lambda x: x.exp().log().sqrt().abs(), lambda x: np.sqrt(x), [A]),
    ".tanh .sigmoid .relu": (lambda x: x.tanh().sigmoid().relu(),
                             lambda x: 1 / (1 + np.exp(-np.tanh(x))), [B]),
    ".reshape": (lambda x: x.reshape(3, 2), lambda x: x.reshape(3, 2), [B]),
    ".reshape tuple": (lambda x: x.reshape((6,)), lambda x: x.reshape(6), [B]),
    ".transpose axes": (lambda x: x.reshape(1, 2, 3).transpose(2, 0, 1),
                        lambda x: x.reshape(1, 2, 3).transpose(2, 0, 1), [B]),
    ".T": (lambda x: x.T, lambda x: x.T, [B]),
    ".swapaxes": (lambda x: x.reshape(2, 3, 1).swapaxes(0, 2),
                  lambda x: x.reshape(2, 3, 1).swapaxes(0, 2), [B]),
    ".squeeze": (lambda x: x.reshape(1, 2, 1, 3).squeeze(), lambda x: x.reshape(2, 3), [B]),
    ".squeeze axis": (lambda x: x.reshape(1, 2, 1, 3).squeeze(2), lambda x: x.reshape(1, 2, 3), [B]),
    ".unsqueeze": (lambda x: x.unsqueeze(1), lambda x: x[:, None], [B]),
    ".expand_dims": (lambda x: x.expand_dims(-1), lambda x: x[..., None], [B]),
    ".flip": (lambda x: x.flip(1), lambda x: x[:, ::-1], [B]),
    ".flip all": (lambda x: x.flip(), lambda x: x[::-1, ::-1], [B]),
    ".clip": (lambda x: x.clip(-1, 1), lambda x: np.clip(x, -1, 1), [D]),
    ".softmax": (lambda x: x.softmax(axis=0), lambda x: np_softmax(x, 0), [B]),
    ".log_softmax": (lambda x: x.log_softmax(), lambda x: np.log(np_softmax(x)), [B]),
    ".logsumexp": (lambda x: x.logsumexp(axis=1), lambda x: np_logsumexp(x, 1), [B]),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_values_and_derivatives(name):
    fn, ref, inputs = FUNCTIONS[name]
    out = fn(*[ag.tensor(x, requires_grad=True) for x in inputs])
    assert out.requires_grad
    np.testing.assert_allclose(out.numpy(), ref(*inputs), rtol=1e-12, atol=1e-12)
    assert ag.gradcheck(fn, inputs)


def test_every_listed_function_is_covered():
    listed = ("exp log sqrt abs tanh sigmoid relu softplus maximum minimum where clip matmul sum "
              "mean softmax log_softmax logsumexp concat stack split reshape transpose "
              "broadcast_to").split()
    for name in listed:
        assert callable(getattr(ag, name))
        assert any(k.split()[0] == name for k in FUNCTIONS), name
    methods = ("sum mean max min exp log sqrt abs tanh sigmoid relu reshape transpose swapaxes "
               "squeeze unsqueeze expand_dims flip clip softmax log_softmax logsumexp").split()
    for name in methods:
        assert callable(getattr(ag.Tensor, name))
        assert any(("." + name) in k.split() for k in FUNCTIONS), name


def test_the_other_listed_names_exist():
    names = ("tensor zeros ones full arange randn rand manual_seed set_default_dtype no_grad "
             "enable_grad scope detect_anomaly grad value_and_grad vjp jvp jacobian hessian "
             "gradcheck").split()
    for name in names:
        assert callable(getattr(ag, name)), name
    for err in (ag.ShapeError, ag.AnomalyError, ag.GradcheckError):
        assert issubclass(err, ag.AutogradError)
    for attr in ("data", "grad", "requires_grad", "is_leaf", "name", "shape", "ndim", "dtype",
                 "T"):
        getattr(ag.tensor([1.0, 2.0]), attr)
    for method in ("numpy", "item", "backward", "detach", "retain_grad", "register_hook",
                   "zero_grad", "__array__", "size", "dim", "numel"):
        assert callable(getattr(ag.Tensor, method)), method


def test_creation_functions():
    assert ag.zeros(2, 3).shape == (2, 3) and not ag.zeros(2, 3).numpy().any()
    assert ag.zeros((2, 3)).shape == (2, 3)
    np.testing.assert_array_equal(ag.ones(2).numpy(), [1, 1])
    np.testing.assert_array_equal(ag.full((2,), 7.5).numpy(), [7.5, 7.5])
    assert ag.full((2,), 7.5).dtype == np.float32
    assert ag.ones(2, dtype=np.float64, requires_grad=True, name="w").name == "w"
    np.testing.assert_array_equal(ag.arange(4).numpy(), np.arange(4))
    assert ag.arange(0.0, 1.0, 0.25).dtype == np.float32
    assert ag.arange(3, dtype=np.float64).dtype == np.float64
    assert ag.zeros_like(ag.ones(3, dtype=np.float64)).dtype == np.float64
    np.testing.assert_array_equal(ag.ones_like(ag.zeros(2)).numpy(), [1, 1])
    x = ag.tensor(3.0, requires_grad=True, name="x")
    assert x.ndim == 0 and x.shape == () and x.numel() == 1 and x.name == "x" and x.is_leaf


def test_random_tensors_follow_rng_and_manual_seed():
    a = ag.randn(2, 3, rng=5).numpy()
    np.testing.assert_array_equal(a, np.random.default_rng(5).standard_normal((2, 3))
                                  .astype(np.float32))
    np.testing.assert_array_equal(ag.rand(4, rng=np.random.default_rng(1)).numpy(),
                                  np.random.default_rng(1).random(4).astype(np.float32))
    assert ((0 <= ag.rand(100).numpy()) & (ag.rand(100).numpy() < 1)).all()
    ag.manual_seed(11)
    first = ag.randn(3).numpy()
    ag.manual_seed(11)
    np.testing.assert_array_equal(ag.randn(3).numpy(), first)
    assert ag.randn(2, 2, dtype=np.float64, requires_grad=True).requires_grad


def test_tensor_facts_and_conversions():
    t = ag.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, name="t")
    assert (t.shape, t.ndim, t.numel(), t.dtype) == ((2, 3), 2, 6, np.float64)
    assert np.shares_memory(t.numpy(), t.data) and np.shares_memory(t.data, np.asarray(t))
    np.testing.assert_array_equal(np.asarray(t), t.data)
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    assert t[1, 2].item() == 5.0 and float(t[0, 1]) == 1.0 and int(t[1, 0]) == 3
    assert "requires_grad=True" in repr(t) and "'t'" in repr(t)
    assert "op=mul" in repr(t * 2)
    assert isinstance(t.id, int) and (t * 1).id > t.id
    assert t.grad is None
    (t * t).sum().backward()
    assert isinstance(t.grad, ag.Tensor)
    t.grad = None
    assert t.grad is None
    with pytest.raises(TypeError):
        len(ag.tensor(1.0))


def test_requires_grad_can_be_switched_on_leaves_only():
    x = ag.tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad
    with pytest.raises(ag.AutogradError, match="only leaves"):
        (x * 2).requires_grad_(False)


def test_astype_and_getitem_functions():
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = ag.astype(x, np.float32)
    assert y.dtype == np.float32 and ag.astype(y, np.float32) is y
    (y * 2).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(ag.getitem(x, [1, 1]).numpy(), [2, 2])


def test_mean_of_empty_is_nan_and_max_of_empty_is_an_error():
    with np.errstate(invalid="ignore"):
        assert np.isnan(ag.mean(ag.zeros(0)).item())
    with pytest.raises(ag.ShapeError, match="max"):
        ag.max(ag.zeros(0))


def test_squeeze_of_a_non_unit_axis_is_an_error():
    with pytest.raises(ag.ShapeError, match=r"squeeze.*axis 0 of shape \(2, 1\)"):
        ag.ones(2, 1).squeeze(0)
