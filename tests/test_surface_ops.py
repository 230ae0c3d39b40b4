"""The PyTorch surface against independent references: the new composites' derivatives against
finite differences in float64 (both modes, second order), einsum against numpy in every form,
products at zeros against closed forms, dtypes in every spelling, and the errors that say what
to do. PyTorch's own numbers are compared in test_surface.py."""
import numpy as np
import pytest

import autograph as ag

rng = np.random.default_rng(21)
X = rng.standard_normal((3, 4))
A3 = rng.standard_normal((2, 3, 4))
V = rng.standard_normal(4)
ZEROS = np.array([[0.0, 1.5, -2.0, 0.5], [0.0, 0.0, 3.0, 1.0], [1.0, 2.0, -1.0, 0.5]])

# name: (f of tensors, numpy reference, inputs); each is gradchecked to second order
COMPOSITES = {
    "prod": (lambda x: ag.prod(x, axis=1), lambda x: np.prod(x, axis=1), [X]),
    "prod all keepdims": (lambda x: ag.prod(x, keepdims=True), lambda x: np.prod(x, keepdims=True),
                          [X[:, :3]]),
    "prod axes": (lambda x: ag.prod(x, axis=(0, 2)), lambda x: np.prod(x, axis=(0, 2)), [A3]),
    "prod zeros": (lambda x: ag.prod(x, axis=1), lambda x: np.prod(x, axis=1), [ZEROS]),
    "prod zeros all": (lambda x: ag.prod(x), np.prod, [ZEROS[:2, :3]]),
    "prod odd length": (lambda x: ag.prod(x, axis=0), lambda x: np.prod(x, 0),
                        [rng.uniform(0.5, 1.5, (7, 2))]),
    "cumprod": (lambda x: ag.cumprod(x, axis=1), lambda x: np.cumprod(x, axis=1), [X]),
    "cumprod zeros": (lambda x: ag.cumprod(x, axis=1), lambda x: np.cumprod(x, axis=1), [ZEROS]),
    "cumprod flat": (ag.cumprod, np.cumprod, [X[:2]]),
    "cumsum flat": (ag.cumsum, np.cumsum, [X]),
    "var": (lambda x: ag.var(x, axis=1), lambda x: np.var(x, axis=1), [X]),
    "var ddof": (lambda x: ag.var(x, axis=(0, 2), ddof=1, keepdims=True),
                 lambda x: np.var(x, axis=(0, 2), ddof=1, keepdims=True), [A3]),
    "std": (lambda x: ag.std(x, axis=0, ddof=1), lambda x: np.std(x, axis=0, ddof=1), [X]),
    "std all": (ag.std, np.std, [X]),
    "norm 2": (lambda x: ag.norm(x, axis=1), lambda x: np.linalg.norm(x, axis=1), [X]),
    "norm inf": (lambda x: ag.norm(x, np.inf, axis=0), lambda x: np.abs(x).max(0), [X]),
    "norm -inf": (lambda x: ag.norm(x, -np.inf), lambda x: np.abs(x).min(), [X]),
    "norm 3": (lambda x: ag.norm(x, 3), lambda x: (np.abs(x) ** 3).sum() ** (1 / 3), [X]),
    "tensordot int": (lambda a, b: ag.tensordot(a, b, 1), lambda a, b: np.tensordot(a, b, 1),
                      [A3, rng.standard_normal((4, 2))]),
    "tensordot pairs": (lambda a, b: ag.tensordot(a, b, axes=([0, 1], [1, 0])),
                        lambda a, b: np.tensordot(a, b, axes=([0, 1], [1, 0])),
                        [A3, rng.standard_normal((3, 2, 5))]),
    "outer": (ag.outer, np.outer, [V, X[0, :3]]),
    "dot vectors": (ag.dot, np.dot, [V, X[1]]),
    "dot matrices": (ag.dot, np.dot, [X, X.T]),
    "dot n-d": (ag.dot, np.dot, [A3, rng.standard_normal((2, 4, 3))]),
    "dot matrix vector": (ag.dot, np.dot, [X, V]),
    "dot scalar": (ag.dot, np.dot, [np.array(1.5), X]),
    "trace": (ag.trace, np.trace, [X]),
    "trace offset axes": (lambda x: ag.trace(x, 1, 0, 2), lambda x: np.trace(x, 1, 0, 2), [A3]),
    "diagonal": (ag.diagonal, np.diagonal, [X]),
    "diagonal offsets": (lambda x: ag.diagonal(x, -1, 2, 1) * 2 + ag.diagonal(x, 2, 1, 2)[..., :1],
                         lambda x: np.diagonal(x, -1, 2, 1) * 2 + np.diagonal(x, 2, 1, 2)[..., :1],
                         [A3]),
    "tile": (lambda x: ag.tile(x, (2, 1, 3)), lambda x: np.tile(x, (2, 1, 3)), [X]),
    "repeat": (lambda x: x.repeat(1, 2, 2), lambda x: np.tile(x, (1, 2, 2)), [X]),
    "expand": (lambda x: x[:, None].expand(-1, 2, 4), lambda x: np.broadcast_to(x[:, None], (3, 2, 4)),
               [X]),
    "gather": (lambda x: x.gather(0, np.array([[2, 0, 1, 1], [0, 0, 2, 1]])),
               lambda x: np.take_along_axis(x, np.array([[2, 0, 1, 1], [0, 0, 2, 1]]), 0), [X]),
    "masked_fill": (lambda x: x.masked_fill(np.array([True, False, True, False]), -1.0),
                    lambda x: np.where([True, False, True, False], -1.0, x), [X]),
    "chunk": (lambda x: x.chunk(3, 1)[1] * 2, lambda x: x[:, 2:4] * 2, [X]),
    "flatten": (lambda x: x.flatten(1, 2), lambda x: x.reshape(2, 12), [A3]),
    "permute view": (lambda x: x.permute(1, 2, 0).view(12, 2), lambda x: x.transpose(1, 2, 0)
                     .reshape(12, 2), [A3]),
    "sign": (lambda x: ag.sign(x) * x, lambda x: np.abs(x), [X]),
}


@pytest.mark.parametrize("name", sorted(COMPOSITES))
def test_composites_against_numpy_and_finite_differences_to_second_order(name):
    fn, ref, inputs = COMPOSITES[name]
    out = fn(*[ag.tensor(x, requires_grad=True) for x in inputs])
    np.testing.assert_allclose(out.numpy(), ref(*inputs), rtol=1e-12, atol=1e-12)
    assert ag.gradcheck(fn, inputs, order=2)


def test_prod_gradient_at_zeros_is_the_product_of_the_others():
    x = ag.tensor(ZEROS, requires_grad=True)
    ag.prod(x, axis=1).sum().backward()
    others = np.array([[np.prod(np.delete(row, j)) for j in range(4)] for row in ZEROS])
    np.testing.assert_array_equal(x.grad.numpy(), others)
    assert others[0, 0] != 0 and not others[1].any()      # one zero in a row, and two


def test_prod_second_derivative_at_a_zero():
    """d²/dx_i dx_j of x0 x1 x2 x3 is the product of the two others, also at x0 = 0."""
    row = ZEROS[0]
    hess = ag.hessian(lambda t: ag.prod(t))(ag.tensor(row)).numpy()
    want = np.array([[0.0 if i == j else np.prod(np.delete(row, [i, j])) for j in range(4)]
                     for i in range(4)])
    np.testing.assert_allclose(hess, want, rtol=1e-14)
    assert want[1, 2] == 0 and want[0, 1] != 0


def test_empty_products_are_one_and_keep_the_graph():
    x = ag.zeros(2, 0, dtype=np.float64, requires_grad=True)
    y = ag.prod(x, axis=1)
    np.testing.assert_array_equal(y.numpy(), [1.0, 1.0])
    y.sum().backward()
    assert x.grad.shape == (2, 0)


@pytest.mark.parametrize("p", [2, 1, 3, np.inf, "fro"])
def test_norm_gradient_at_zero_is_zero_not_nan(p):
    x = ag.tensor(np.zeros((2, 3)), requires_grad=True)
    ag.norm(x, p).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)))
    hess = ag.hessian(lambda t: ag.norm(t, p))(ag.tensor(np.zeros(3))).numpy()
    np.testing.assert_array_equal(hess, np.zeros((3, 3)))


def test_norm_refuses_what_it_does_not_compute():
    for p in (0.5, 0, "nuc", -1):
        with pytest.raises(ag.AutogradError, match=r"norm: p=.* is not provided; use 2"):
            ag.norm(ag.ones(3), p)


# -- einsum ------------------------------------------------------------------------------------
EINSUMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]), ("ij->", [(2, 3)]), ("ji", [(2, 3)]), ("aB", [(2, 3)]),
    ("i...j", [(2, 3, 4, 5)]), ("...ij,...jk", [(2, 1, 2, 3), (4, 3, 2)]),
    ("i...,...i", [(3, 2), (2, 3)]), (" b ij , b jk -> b ik ", [(2, 2, 3), (2, 3, 2)]),
    ("i,j,k->ijk", [(2,), (3,), (2,)]), (",i->i", [(), (3,)]), ("iij->j", [(2, 2, 3)]),
    ("...", [(2, 3)]), ("...,...->...", [(2, 1), (3,)]),
]


@pytest.mark.parametrize("subscripts, shapes", EINSUMS)
def test_einsum_gives_numpys_values_in_every_form_and_differentiates(subscripts, shapes):
    xs = [rng.standard_normal(s) for s in shapes]
    out = ag.einsum(subscripts, *[ag.tensor(x) for x in xs])
    np.testing.assert_allclose(out.numpy(), np.einsum(subscripts, *xs), rtol=1e-12, atol=1e-12)
    assert ag.gradcheck(lambda *ts: ag.einsum(subscripts, *ts), xs, order=2)


def test_einsum_sublist_form_and_a_list_of_operands():
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    want = np.einsum(a, [0, 1], b, [1, 2], [2, 0])
    np.testing.assert_allclose(ag.einsum(ag.tensor(a), [0, 1], ag.tensor(b), [1, 2], [2, 0])
                               .numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(ag.einsum(ag.tensor(a), [0, Ellipsis]).numpy(),
                               np.einsum(a, [0, Ellipsis]), rtol=1e-12)
    np.testing.assert_allclose(ag.einsum("ij,jk->ki", [a, b]).numpy(), want, rtol=1e-12)


def test_einsum_differentiates_to_third_order():
    """The vjp of an einsum is an einsum, so every order is one: d³/dx³ of Σ x_i² x_j is 2 on
    the permutations of (i, i, j), 6 where all three indices agree, 0 elsewhere."""
    x = rng.standard_normal(3)

    def f(t):
        return ag.einsum("i,i,j->", t, t, t)
    third = ag.jacobian(ag.hessian(f))(ag.tensor(x)).numpy()
    want = np.zeros((3, 3, 3))
    for i in range(3):
        for j in range(3):
            for k in range(3):
                n = len({i, j, k})
                want[i, j, k] = 6.0 if n == 1 else 2.0 if n == 2 else 0.0
    np.testing.assert_allclose(third, want, atol=1e-12)
    assert ag.gradcheck(f, [x], order=3)


@pytest.mark.parametrize("subscripts, shapes, message", [
    ("ij,jk", [(2, 3)], "2 operand subscripts for 1 operands"),
    ("ijk", [(2, 3)], "'ijk' names 3 axes of an operand of shape \\(2, 3\\)"),
    ("ij->ii", [(2, 3)], "each output letter must appear once"),
    ("ij->k", [(2, 3)], "each output letter must appear once"),
    ("i1", [(2, 3)], "use letters"),
    ("...i->i", [(2, 3)], "the output needs '...' too"),
    ("i..j", [(2, 3)], "an ellipsis is three dots"),
    ("ij,jk", [(2, 3), (4, 5)], "letter 'j' stands for axes of lengths 3 and 4"),
])
def test_einsum_errors_name_the_subscripts_and_what_is_wrong(subscripts, shapes, message):
    with pytest.raises(ag.ShapeError, match="einsum: .*" + message):
        ag.einsum(subscripts, *[ag.ones(s) for s in shapes])


def test_tensordot_refuses_axes_that_do_not_match():
    with pytest.raises(ag.ShapeError, match=r"tensordot: axes \[1\] of shape \(2, 3\) do not "
                                            r"match axes \[0\] of shape \(1, 3\)"):
        ag.tensordot(ag.ones(2, 3), ag.ones(1, 3), axes=([1], [0]))


# -- PyTorch's names and dtypes ------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda x: ag.sum(x, axis=0, dim=0), lambda x: ag.sum(x, 0, dim=0),
    lambda x: x.mean(keepdims=True, keepdim=True), lambda x: ag.max(x, 1, dim=1),
    lambda x: ag.min(x, axis=1, dim=1), lambda x: ag.logsumexp(x, axis=0, dim=0),
    lambda x: ag.softmax(x, 0, dim=0), lambda x: ag.log_softmax(x, axis=0, dim=0),
    lambda x: ag.var(x, axis=0, dim=0), lambda x: ag.var(x, ddof=1, correction=1),
    lambda x: ag.var(x, ddof=1, unbiased=True), lambda x: ag.std(x, dim=0, axis=0),
    lambda x: ag.prod(x, 0, dim=0), lambda x: ag.norm(x, 2, 0, dim=0),
    lambda x: ag.cumsum(x, 0, dim=0), lambda x: ag.cumprod(x, axis=0, dim=0),
    lambda x: ag.argmax(x, 0, dim=0), lambda x: ag.argmin(x, keepdims=True, keepdim=True),
    lambda x: ag.squeeze(x, 0, dim=0), lambda x: ag.unsqueeze(x, 0, dim=0),
    lambda x: ag.flip(x, 0, dims=0), lambda x: ag.cat([x, x], 0, dim=0),
    lambda x: ag.stack([x, x], axis=0, dim=0), lambda x: ag.split(x, 2, 1, dim=1),
    lambda x: ag.chunk(x, 2, 0, dim=0), lambda x: ag.roll(x, 1, 0, dims=0),
    lambda x: ag.roll(x, 1, shifts=1), lambda x: ag.diagonal(x, 0, 0, dim1=0),
    lambda x: ag.tensordot(x, x, 1, dims=1), lambda x: ag.clip(x, 0, min=0),
])
def test_both_spellings_of_one_argument_is_an_error(call):
    with pytest.raises(TypeError, match=r"got both \w+= and \w+=|got both unbiased"):
        call(ag.ones(2, 2))


def test_pytorch_names_are_documented_in_the_docstrings():
    assert "dim= for axis=, keepdim= for keepdims=" in ag.sum.__doc__
    assert "correction= for ddof=" in ag.var.__doc__ and "shifts= for shift=" in ag.roll.__doc__


SPELLINGS = [(ag.long, np.int64), (ag.float64, np.float64), (np.float32, np.float32),
             ("float32", np.float32), (float, np.float64), (int, np.int64), (bool, np.bool_),
             (ag.double, np.float64), (ag.float, np.float32), (np.dtype("int32"), np.int32)]

MAKERS = {
    "tensor": lambda d: ag.tensor([1, 0], dtype=d),
    "as_tensor": lambda d: ag.as_tensor([1, 0], dtype=d),
    "zeros": lambda d: ag.zeros(2, dtype=d),
    "ones": lambda d: ag.ones((2,), dtype=d),
    "full": lambda d: ag.full((2,), 1, dtype=d),
    "arange": lambda d: ag.arange(2, dtype=d),
    "linspace": lambda d: ag.linspace(0, 1, 2, dtype=d),
    "eye": lambda d: ag.eye(2, dtype=d),
    "zeros_like": lambda d: ag.zeros_like(ag.ones(2), dtype=d),
    "ones_like": lambda d: ag.ones_like(ag.ones(2), dtype=d),
    "full_like": lambda d: ag.full_like(ag.ones(2), 1, dtype=d),
    "astype": lambda d: ag.astype(ag.tensor([1.5, 0.0]), d),
    ".astype": lambda d: ag.tensor([1.5, 0.0]).astype(d),
    ".to": lambda d: ag.tensor([1.5, 0.0]).to(d),
    ".to cpu": lambda d: ag.tensor([1.5, 0.0]).to("cpu", d),
    ".to dtype=": lambda d: ag.tensor([1.5, 0.0]).to(dtype=d),
    ".to other": lambda d: ag.tensor([1.5, 0.0]).to(ag.zeros(1, dtype=d)),
    "Tensor": lambda d: ag.Tensor([1, 0], dtype=d),
}


@pytest.mark.parametrize("maker", sorted(MAKERS))
def test_every_spelling_of_a_dtype_is_accepted_everywhere(maker):
    for spelling, want in SPELLINGS:
        t = MAKERS[maker](spelling)
        assert t.dtype == want, (maker, spelling)


@pytest.mark.parametrize("spelling, want", SPELLINGS)
def test_random_tensors_and_the_default_dtype_take_every_floating_spelling(spelling, want):
    if np.dtype(want).kind != "f":
        with pytest.raises(TypeError, match="randn: draws floating values, so dtype must be "
                                            "floating"):
            ag.randn(2, dtype=spelling)
        return
    assert ag.randn(2, dtype=spelling).dtype == want and ag.rand(2, dtype=spelling).dtype == want
    before = ag.get_default_dtype()
    try:
        ag.set_default_dtype(spelling)
        assert ag.tensor([1.0]).dtype == want and ag.zeros(1).dtype == want
    finally:
        ag.set_default_dtype(before)


@pytest.mark.parametrize("call, what", [
    (lambda: ag.tensor([1.0], dtype="flaot32"), "tensor"),
    (lambda: ag.zeros(2, dtype="cuda"), "zeros"),
    (lambda: ag.ones(2, dtype=3.5), "ones"),
    (lambda: ag.astype(ag.ones(2), "nope"), "astype"),
    (lambda: ag.ones(2).to("nope"), "astype"),
    (lambda: ag.set_default_dtype("nope"), "set_default_dtype"),
])
def test_a_wrong_dtype_is_named_with_the_function(call, what):
    with pytest.raises(TypeError, match=r"%s: .* is not a dtype; pass one such as ag.float32"
                       % what):
        call()


def test_to_refuses_a_device_it_does_not_have():
    with pytest.raises(ag.AutogradError, match="to: autograph computes with numpy on the CPU"):
        ag.ones(2).to("cuda:0")
    assert ag.ones(2).to("cpu").dtype == np.float32


def test_casts_to_integers_carry_no_gradient_and_floats_do():
    x = ag.tensor([1.7, -2.5], requires_grad=True)
    for t in (x.long(), x.int(), x.bool(), ag.astype(x, int), x.argmax(), x > 0):
        assert not t.requires_grad and t.is_leaf
    np.testing.assert_array_equal(x.long().numpy(), [1, -2])
    y = x.double()
    assert y.requires_grad and y.dtype == np.float64
    (y * 3).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [3, 3])


def test_a_python_float_with_an_integer_tensor_gives_the_default_float_dtype():
    i = ag.tensor([1, 2])
    for t in (i + 0.5, 0.5 + i, i * 2.0, 1.0 - i, i / 2):
        assert t.dtype == np.float32, t
    assert (i * 2).dtype == np.int64 and (i + True).dtype == np.int64


# -- methods and their errors ---------------------------------------------------------------
def test_size_is_pytorchs_method_and_numel_is_numpys_size():
    t = ag.zeros(2, 3, 4)
    assert t.size() == (2, 3, 4) and t.size(0) == 2 and t.size(-1) == 4
    assert t.dim() == 3 and t.numel() == 24 and ag.tensor(5.0).numel() == 1
    with pytest.raises(ag.ShapeError, match=r"size: dim 3 is out of range for a tensor of shape "
                                            r"\(2, 3, 4\)"):
        t.size(3)


def test_argmax_and_argmin_pick_the_first_of_ties_and_are_int64():
    x = ag.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 0.0]], requires_grad=True)
    assert x.argmax().item() == 1 and x.argmin().item() == 4
    np.testing.assert_array_equal(x.argmax(dim=1).numpy(), [1, 0])
    np.testing.assert_array_equal(ag.argmin(x, axis=1, keepdims=True).numpy(), [[0], [1]])
    assert x.argmax(1).dtype == np.int64 and x.argmax(keepdim=True).shape == (1, 1)
    with pytest.raises(ag.ShapeError, match="argmax: the tensor .* is empty"):
        ag.zeros(0).argmax()


@pytest.mark.parametrize("call, message", [
    (lambda x: x.gather(1, np.array([[0.5, 1]])), r"gather: index .* must be integers"),
    (lambda x: x.gather(1, np.array([0, 1])), r"gather: index .* with the 2 axes"),
    (lambda x: x.gather(1, np.array([[0, 3]])), r"gather: index out of range: .* length 3"),
    (lambda x: x.gather(0, np.zeros((1, 4), int)), r"gather: .*no longer than x"),
    (lambda x: x.masked_fill(np.array([1, 0, 1]), 0.0), r"masked_fill: mask must be bool"),
    (lambda x: x.masked_fill(np.ones((3, 2, 3), bool), 0.0), r"masked_fill: mask of shape"),
    (lambda x: x.expand(3), r"expand: sizes \(3,\) for shape \(2, 3\)"),
    (lambda x: x.expand(-1, 2, 3), r"expand: .*-1 only for an existing axis"),
    (lambda x: x.repeat(2), r"repeat: 1 sizes for a tensor of shape \(2, 3\)"),
    (lambda x: x.chunk(0), r"chunk: chunks must be a positive integer"),
    (lambda x: x.flatten(1, 0), r"flatten: start_dim 1 comes after end_dim 0"),
    (lambda x: x.view(np.float64), r"view: .*use .to\(dtype\)"),
    (lambda x: x.diagonal(0, 1, 1), r"diagonal: axis1 and axis2 are both axis 1"),
    (lambda x: x.transpose(0, 0), r"transpose: .*PyTorch's transpose\(dim0, dim1\)"),
    (lambda x: x.transpose(0, 1), r"transpose: transpose\(0, 1\) of a matrix changes nothing "
                                  r"in numpy's meaning and swaps the axes in PyTorch's"),
    (lambda x: ag.transpose(x, 0, 1), r"write swapaxes\(0, 1\) \(or .T\)"),
    (lambda x: ag.prod(x, (0, 0)), r"prod: axis \(0, 0\) names an axis twice"),
])
def test_errors_name_the_method_and_say_what_to_do(call, message):
    with pytest.raises(ag.ShapeError, match=message):
        call(ag.ones(2, 3))


def test_transpose_keeps_numpys_meaning_where_it_is_not_ambiguous():
    x = ag.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(x.transpose(1, 0).numpy(), x.numpy().T)
    np.testing.assert_array_equal(x.transpose((0, 1)).numpy(), x.numpy())
    assert x.transpose(1, 0).shape == x.swapaxes(0, 1).shape == (3, 2)


def test_expand_shares_memory_and_tolist_contiguous_are_as_pytorch():
    x = ag.tensor([[1.0], [2.0]])
    e = x.expand(2, 3)
    assert e.shape == (2, 3) and np.shares_memory(e.numpy(), x.numpy())
    assert x.tolist() == [[1.0], [2.0]] and x.contiguous() is x
    assert ag.clamp is ag.clip and ag.amax is ag.max and ag.cat is ag.concat
    assert ag.asin is ag.arcsin and ag.acos is ag.arccos and ag.atan is ag.arctan
