"""The engine against the chapter's worked examples, hand-derived formulas and closed forms."""
import numpy as np
import pytest

import autograph as ag


def f64(x, **kw):
    return ag.tensor(np.asarray(x, dtype=np.float64), **kw)


# -- the chapter's worked examples ------------------------------------------------------------
def test_example_1_sum_times_sum():
    """e = (a + b)(b + 1). The chapter says a = 3, but its numbers (c = 3, e = 6, de/da = 2,
    de/db = 5) hold for a = 2, b = 1: with a = 3, c would be 4 and e = 8."""
    a = ag.tensor(2.0, requires_grad=True)
    b = ag.tensor(1.0, requires_grad=True)
    c = a + b
    d = b + 1
    e = c * d
    assert (c.item(), d.item(), e.item()) == (3, 2, 6)
    e.backward()
    assert a.grad.item() == 2          # de/dc * dc/da = d
    assert b.grad.item() == 5          # d + c: the two paths from b to e add


GREEK = dict(alpha=0.5, beta=-1.5, gamma=2.0, delta=3.0, epsilon=0.25, zeta=-0.75)


def example_2(X, alpha, beta, gamma, delta, epsilon, zeta):
    """X -> three nodes (weights α, β, γ) -> Y -> three nodes (δ, ε, ζ) -> Z."""
    Y = alpha * X + beta * X + gamma * X
    return delta * Y + epsilon * Y + zeta * Y


def test_example_2_path_sum_in_reverse_mode():
    g = GREEK
    X = f64(1.7, requires_grad=True)
    example_2(X, **g).backward()
    want = (g["alpha"] + g["beta"] + g["gamma"]) * (g["delta"] + g["epsilon"] + g["zeta"])
    assert X.grad.item() == pytest.approx(want, rel=1e-14)
    nine_paths = sum(a * d for a in (g["alpha"], g["beta"], g["gamma"])
                     for d in (g["delta"], g["epsilon"], g["zeta"]))
    assert X.grad.item() == pytest.approx(nine_paths, rel=1e-14)


def test_example_2_path_sum_in_forward_mode():
    g = GREEK
    _, dZ = ag.jvp(lambda X: example_2(X, **g), (np.float64(1.7),), (np.float64(1.0),))
    want = (g["alpha"] + g["beta"] + g["gamma"]) * (g["delta"] + g["epsilon"] + g["zeta"])
    assert dZ.item() == pytest.approx(want, rel=1e-14)


def test_bptt_formula_for_dE3_dW_equals_backward():
    """§2: dE3/dW = Σ_k dE3/dŷ3 dŷ3/ds3 (Π_{j=k+1}^{3} ds_j/ds_{j-1}) ds_k/dW, by hand in numpy,
    for s_t = tanh(U x_t + W s_{t-1}), ŷ_t = softmax(V s_t), E_3 = -y_3 · log ŷ_3."""
    rng = np.random.default_rng(3)
    n_in, n_hid, n_out = 3, 4, 5
    U, W, V = (rng.standard_normal(s) * 0.7 for s in ((n_hid, n_in), (n_hid, n_hid),
                                                         (n_out, n_hid)))
    xs = rng.standard_normal((4, n_in))                  # x_0 .. x_3
    s_init = rng.standard_normal(n_hid)                  # s_{-1}, so the k = 0 term counts
    y3 = np.eye(n_out)[2]

    # by hand: forward, then the sum over k of products of Jacobians
    s = [s_init]
    for x in xs:
        s.append(np.tanh(U @ x + W @ s[-1]))
    s = s[1:]                                            # s[k] is s_k; s_{k-1} is s[k-1]
    z3 = V @ s[3]
    y_hat = np.exp(z3 - z3.max()) / np.exp(z3 - z3.max()).sum()
    dE_dyhat = -y3 / y_hat                                # dE3/dŷ3
    dyhat_dz = np.diag(y_hat) - np.outer(y_hat, y_hat)   # softmax Jacobian
    dE_ds3 = dE_dyhat @ dyhat_dz @ V                     # dE3/dŷ3 dŷ3/ds3
    want = np.zeros_like(W)
    for k in range(4):
        chain = dE_ds3
        for j in range(3, k, -1):                        # Π_{j=k+1}^{3} ds_j/ds_{j-1}
            chain = chain @ (np.diag(1 - s[j] ** 2) @ W)
        prev = s[k - 1] if k > 0 else s_init
        # ds_k/dW with s_{k-1} held fixed: d s_k[m] / d W[m, n] = (1 - s_k[m]²) s_{k-1}[n]
        want += np.outer(chain * (1 - s[k] ** 2), prev)

    Wt = f64(W, requires_grad=True)
    st = f64(s_init)
    for x in xs:
        st = ag.tanh(f64(U) @ f64(x) + Wt @ st)
    E3 = -(f64(y3) * ag.log_softmax(f64(V) @ st)).sum()
    E3.backward()
    np.testing.assert_allclose(E3.item(), -np.log(y_hat[2]), rtol=1e-12)
    np.testing.assert_allclose(Wt.grad.numpy(), want, rtol=1e-10, atol=1e-12)


# -- requires_grad, leaves and retained gradients ---------------------------------------------
def test_requires_grad_propagates_and_only_leaves_get_grad():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    c = ag.tensor([3.0, 4.0])
    y = x * c
    z = (c * 2).sum()
    assert y.requires_grad and not y.is_leaf and y.op_name == "mul"
    assert not z.requires_grad and z.is_leaf
    loss = (y * y).sum()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([1, 2]) * np.array([3, 4]) ** 2)
    assert y.grad is None and c.grad is None


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3).retain_grad()
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * 3 * np.array([1, 2]))
    np.testing.assert_allclose(x.grad.numpy(), 18 * np.array([1, 2]))


def test_gradients_accumulate_across_backward_calls_and_zero_grad_resets():
    x = ag.tensor(3.0, requires_grad=True)
    (x * x).backward()
    (x * 2).backward()
    assert x.grad.item() == 8
    x.zero_grad()
    assert x.grad is None
    (x * 5).backward()
    assert x.grad.item() == 5


def test_backward_with_gradient_argument():
    x = f64([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    y.backward(np.array([1.0, 0.5, -1.0]))
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([1, 2, 3]) * [1, 0.5, -1])
    with pytest.raises(ag.AutogradError, match=r"gradient has shape \(2,\).*\(3,\)"):
        (x * 2).backward(np.ones(2))


def test_backward_on_a_non_scalar_says_so():
    y = ag.tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(ag.AutogradError, match=r"shape \(2,\), not a scalar.*gradient="):
        y.backward()


def test_backward_without_a_graph_says_why():
    with pytest.raises(ag.AutogradError, match="does not require grad"):
        ag.tensor(1.0).backward()


def test_second_backward_needs_retain_graph():
    x = ag.tensor(2.0, requires_grad=True)
    y = ag.tanh(x) * x
    y.backward(retain_graph=True)
    first = x.grad.item()
    y.backward()                                          # allowed: the graph was retained
    assert x.grad.item() == pytest.approx(2 * first)
    with pytest.raises(ag.AutogradError, match=r"retain_graph=True"):
        y.backward()


# -- operators and indexing ---------------------------------------------------------------------
def test_operators_match_numpy_and_their_derivatives():
    a_np, b_np = np.array([[1.5, -2.0], [0.5, 3.0]]), np.array([[2.0, 0.5], [-1.0, 4.0]])
    a, b = f64(a_np, requires_grad=True), f64(b_np, requires_grad=True)
    cases = [
        (lambda a, b: a + b, a_np + b_np), (lambda a, b: a - b, a_np - b_np),
        (lambda a, b: a * b, a_np * b_np), (lambda a, b: a / b, a_np / b_np),
        (lambda a, b: a @ b, a_np @ b_np), (lambda a, b: -a, -a_np),
        (lambda a, b: abs(a) ** 2.5, np.abs(a_np) ** 2.5), (lambda a, b: 2 ** a, 2 ** a_np),
        (lambda a, b: 1 - a, 1 - a_np), (lambda a, b: 3 / b, 3 / b_np),
        (lambda a, b: b_np @ a, b_np @ a_np), (lambda a, b: a_np * b, a_np * b_np),
        (lambda a, b: +a, a_np),
    ]
    for fn, want in cases:
        np.testing.assert_allclose(fn(a, b).numpy(), want)
        assert ag.gradcheck(fn, [a_np, b_np])


def test_comparisons_give_constant_boolean_tensors():
    x = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result, want in [(x > 2, [0, 0, 1]), (x >= 2, [0, 1, 1]), (x < 2, [1, 0, 0]),
                         (x <= 2, [1, 1, 0]), (x == 2, [0, 1, 0]), (x != 2, [1, 0, 1]),
                         ((x > 1) & (x < 3), [0, 1, 0]), ((x < 2) | (x > 2), [1, 0, 1]),
                         (~(x > 2), [1, 1, 0])]:
        assert result.dtype == bool and not result.requires_grad
        np.testing.assert_array_equal(result.numpy(), want)


def test_basic_slicing_gradient():
    x_np = np.arange(24.0).reshape(2, 3, 4)
    x = f64(x_np, requires_grad=True)
    y = x[1, ::2, 1:3] * 2 + x[..., -1, None].sum()
    np.testing.assert_allclose(y.numpy(), x_np[1, ::2, 1:3] * 2 + x_np[..., -1, None].sum())
    y.sum().backward()
    want = np.zeros_like(x_np)
    want[1, ::2, 1:3] += 2
    want[..., -1] += y.numel()
    np.testing.assert_allclose(x.grad.numpy(), want)


def test_integer_array_indexing_scatter_adds_repeated_indices():
    x = f64([10.0, 20.0, 30.0, 40.0], requires_grad=True)
    idx = np.array([0, 2, 0, 0, 3])
    y = x[idx]
    np.testing.assert_allclose(y.numpy(), [10, 30, 10, 10, 40])
    y.backward(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    np.testing.assert_allclose(x.grad.numpy(), [1 + 3 + 4, 0, 2, 5])

    emb = f64(np.arange(12.0).reshape(4, 3), requires_grad=True)       # an embedding lookup
    tokens = ag.tensor(np.array([[1, 1], [3, 1]]))
    emb[tokens].sum().backward()
    np.testing.assert_allclose(emb.grad.numpy(), [[0] * 3, [3] * 3, [0] * 3, [1] * 3])

    m = f64(np.arange(6.0).reshape(2, 3), requires_grad=True)
    m[np.array([1, 1]), [0, 2]].sum().backward()                         # paired index arrays
    np.testing.assert_allclose(m.grad.numpy(), [[0, 0, 0], [1, 0, 1]])


def test_indexing_a_0d_tensor_several_times():
    x = f64(2.0, requires_grad=True)
    (x[()] * x[...] + x[None].sum() + x * x[()]).backward()
    assert x.grad.item() == 2 * 2 + 1 + 2 * 2


def test_boolean_mask_indexing():
    x = f64([1.0, -2.0, 3.0], requires_grad=True)
    (x[x.numpy() > 0] ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2, 0, 6])


def test_iteration_and_len_slice_the_first_axis():
    x = f64(np.arange(6.0).reshape(3, 2), requires_grad=True)
    assert len(x) == 3
    rows = list(x)
    (rows[0] * rows[2]).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[4, 5], [0, 0], [0, 1]])


def _split_parts_weighted(x, cuts, axis, hold):
    """A loss over the parts of a split (one part unused, one reached through a further
    slice); ``hold(parts)`` may add hooks or retain gradients."""
    parts = ag.split(x, cuts, axis=axis)
    hold(parts)
    loss = (parts[0] * 2).sum() + (ag.tanh(parts[2]) * parts[2]).sum()
    if len(parts) > 3:
        loss = loss + (parts[3][..., :1] * 5).sum()
    return loss


@pytest.mark.parametrize("cuts", [[1, 2, 4], [1, 3, 2], [2, -1, 5]])
def test_split_outputs_are_back_propagated_together(cuts):
    """.backward() and the stepper join the parts' gradients in one step (not the path of
    vjp() or create_graph); both give finite differences' numbers, also with a hook, a retained
    part and overlapping parts (cut points out of order)."""
    rng = np.random.default_rng(0)
    x = ag.tensor(rng.standard_normal((3, 6)), requires_grad=True)
    seen = []

    def hold(parts):
        parts[2].register_hook(lambda g: g * 3)
        parts[0].retain_grad()
        seen.append(parts[0])
    _split_parts_weighted(x, cuts, 1, hold).backward()
    joint = x.grad.data
    separate = ag.grad(lambda t: _split_parts_weighted(t, cuts, 1, hold))(x).data
    np.testing.assert_array_equal(joint, separate)
    np.testing.assert_array_equal(seen[0].grad.data, np.full(seen[0].shape, 2.0))

    def plain(a):
        return float(_split_parts_weighted(ag.tensor(a), cuts, 1, lambda parts: None).data)
    a = x.data.copy()
    numeric = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        d = np.zeros_like(a)
        d[i] = 1e-6
        numeric[i] = (plain(a + d) - plain(a - d)) / 2e-6
    # the hook triples what reaches parts[2]: the numeric gradient of that term times 3
    tripled = np.zeros_like(a)
    p2 = np.split(a, cuts, axis=1)[2]
    np.split(tripled, cuts, axis=1)[2][...] += 2 * (np.tanh(p2) + p2 * (1 - np.tanh(p2) ** 2))
    np.testing.assert_allclose(joint, numeric + tripled, rtol=1e-6, atol=1e-7)


def test_a_concatenation_or_stack_of_one_tensor_records_no_join():
    x = ag.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert ag.concat([x], axis=1) is x and ag.concat([x], axis=-2) is x
    s = ag.stack([x])
    assert s.op_name == "reshape" and s.shape == (1, 2, 3)
    with pytest.raises(ag.ShapeError, match="concat"):
        ag.concat([x], axis=2)                  # an axis it does not have: numpy's error
    (s * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full((2, 3), 2.0))


def test_split_in_a_retained_graph_runs_backward_twice():
    x = ag.tensor(np.arange(6.0), requires_grad=True)
    a, b, c = ag.split(x, 3)
    loss = (a * 1).sum() + (c * 3).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_array_equal(x.grad.data, [2, 2, 0, 0, 6, 6])


def _projected_steps(x, W, b, T, hold=lambda proj: None):
    """A recurrent layer's pattern: one projection of all rows, cut into T steps' shares."""
    proj = ag.addmm(b, x, W) if b is not None else x @ W
    hold(proj)
    loss = 0
    for t, share in enumerate(ag.split(proj, T)):
        loss = loss + (ag.tanh(share) * (t + 1)).sum()
    return loss


@pytest.mark.parametrize("case", ["addmm", "matmul", "hooked", "retained"])
def test_a_projection_takes_its_steps_gradients_in_row_blocks(monkeypatch, case):
    """The shares' gradients reach the projection as row blocks (Rows); its rules use them as
    they are, batch by batch: the numbers of the per-share path and of the closed form."""
    from autograph.fast import lazy
    monkeypatch.setattr(lazy, "PRODUCT_BYTES", 200)        # as rows, in batches
    rng = np.random.default_rng(5)
    T, B, I, G = 6, 2, 3, 4
    x = ag.tensor(rng.standard_normal((T * B, I)), requires_grad=True)
    W = ag.tensor(rng.standard_normal((I, G)), requires_grad=True)
    b = None if case == "matmul" else ag.tensor(rng.standard_normal(G), requires_grad=True)
    kept = []

    def hold(proj):
        if case == "hooked":
            proj.register_hook(lambda g: g * 1)
        if case == "retained":
            proj.retain_grad()
            kept.append(proj)
    seen = []
    real = lazy.Rows.products
    monkeypatch.setattr(lazy.Rows, "products", lambda self, a: seen.append(1) or real(self, a))
    _projected_steps(x, W, b, T, hold).backward()
    assert bool(seen) == (case in ("addmm", "matmul"))   # a hook or retain_grad needs it whole
    args = [t for t in (x, W, b) if t is not None]
    per_share = ag.grad(lambda *a: _projected_steps(a[0], a[1], a[2] if b is not None else None,
                                                    T), argnums=tuple(range(len(args))))(*args)
    proj = x.data @ W.data + (0 if b is None else b.data)
    dproj = (1 - np.tanh(proj) ** 2) * np.repeat(np.arange(1, T + 1), B)[:, None]
    want = [dproj @ W.data.T, x.data.T @ dproj] + ([dproj.sum(0)] if b is not None else [])
    for t, g, w in zip(args, per_share, want):
        np.testing.assert_allclose(t.grad.data, w, rtol=1e-12)
        np.testing.assert_allclose(g.data, w, rtol=1e-12)
    if kept:
        np.testing.assert_allclose(kept[0].grad.data, dproj, rtol=1e-12)


def test_rows_behave_as_their_concatenation():
    from autograph.fast.lazy import Rows
    rng = np.random.default_rng(6)
    blocks = [rng.standard_normal((n, 3)) for n in (2, 1, 4)]
    whole = np.concatenate(blocks)
    rows = Rows(blocks)
    assert rows.shape == whole.shape and rows.dtype == whole.dtype
    np.testing.assert_array_equal(rows.dense(), whole)
    np.testing.assert_array_equal(rows.add_into(np.ones((7, 3))), whole + 1)
    np.testing.assert_array_equal(rows.merge(Rows([b * 2 for b in blocks])), whole * 3)
    np.testing.assert_allclose(rows.sum(axis=(0,)), whole.sum(0), rtol=1e-12)
    np.testing.assert_allclose(rows.sum(axis=(1,)), whole.sum(1), rtol=1e-12)
    m = rng.standard_normal((3, 5))
    np.testing.assert_allclose(rows @ m, whole @ m, rtol=1e-12)
    a = rng.standard_normal((7, 2))
    np.testing.assert_allclose(rows.products(a).dense(), a.T @ whole, rtol=1e-12)


def test_the_stepper_shows_each_split_output_as_its_own_step():
    """Joined or not, every output of a split is a step with its own gradient and piece."""
    from autograph.debug import step_backward
    x = ag.tensor(np.arange(12.0).reshape(6, 2), requires_grad=True)
    parts = ag.split(x, 3)
    loss = sum((p * (k + 1)).sum() for k, p in enumerate(parts))
    steps = {s.id: s for s in step_backward(loss)}
    for k, p in enumerate(parts):
        step = steps[p.id]
        np.testing.assert_array_equal(step.grad_out, np.full((2, 2), k + 1.0))
        piece = np.zeros((6, 2))
        piece[2 * k:2 * k + 2] = k + 1
        np.testing.assert_array_equal(step.grad_inputs[0], piece)
    np.testing.assert_array_equal(x.grad.data, np.repeat([1.0, 2, 3], 4).reshape(6, 2))


# -- dtypes ----------------------------------------------------------------------------------------
def test_python_numbers_and_lists_take_pytorchs_dtypes():
    assert ag.tensor(1.0).dtype == ag.tensor([1.0, 2]).dtype == np.float32 == ag.float32
    assert ag.tensor([1, 2]).dtype == ag.tensor(3).dtype == np.int64 == ag.long
    assert ag.tensor([True, False]).dtype == np.bool_ == ag.bool
    assert ag.tensor(np.ones(2)).dtype == np.float64
    assert ag.tensor(np.ones(2, np.float16)).dtype == np.float16
    assert ag.tensor(np.arange(3)).dtype == np.arange(3).dtype
    assert ag.tensor(1.0, dtype=np.float64).dtype == np.float64
    assert ag.zeros(2).dtype == ag.randn(2).dtype == np.float32
    before = ag.get_default_dtype()
    try:
        ag.set_default_dtype(np.float64)
        assert ag.tensor(1.0).dtype == ag.tensor([1.0, 2]).dtype == ag.ones(3).dtype == np.float64
        assert ag.tensor([1, 2]).dtype == np.int64
    finally:
        ag.set_default_dtype(before)
    assert ag.tensor(1.0).dtype == np.float32


def test_float32_stays_float32_with_python_scalars():
    x = ag.tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    y = ((x * 2.5 + 1) / 3 - 0.5) ** 2 + 2 ** x + 1 / x - 7 * ag.tanh(x) + ag.maximum(x, 1.5)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_gradients_have_their_tensors_dtype():
    x32 = ag.tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    w64 = ag.tensor(np.array([0.5, 0.25]), requires_grad=True)
    y = x32 * w64                        # numpy promotes the product to float64
    assert y.dtype == np.float64
    y.sum().backward()
    assert x32.grad.dtype == np.float32 and w64.grad.dtype == np.float64
    np.testing.assert_allclose(x32.grad.numpy(), [0.5, 0.25])


@pytest.mark.parametrize("shape", [(), (2,)])
@pytest.mark.parametrize("create_graph", [False, True])
def test_accumulated_gradients_keep_their_tensors_dtype(shape, create_graph):
    x = ag.tensor(np.ones(shape, np.float32), requires_grad=True)
    w = ag.tensor(np.full(shape, 2.0))                       # float64
    for _ in range(2):
        (x * w).sum().backward(create_graph=create_graph)
        assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), np.full(shape, 4.0))


def test_only_floating_tensors_can_require_grad():
    with pytest.raises(ag.AutogradError, match="floating"):
        ag.tensor(np.arange(3), requires_grad=True)


# -- modes, detach, hooks, scopes ------------------------------------------------------------------
def test_no_grad_and_enable_grad():
    x = ag.tensor(1.0, requires_grad=True)
    with ag.no_grad():
        y = x * 2
        assert not ag.is_grad_enabled()
        with ag.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad and ag.is_grad_enabled()

    @ag.no_grad()
    def frozen(t):
        return t * 3
    assert not frozen(x).requires_grad and ag.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = ag.tensor(2.0, requires_grad=True)
    y = x * x
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and d.item() == 4
    (y * d).backward()
    assert x.grad.item() == 2 * 2 * 4           # d is a constant 4: only y's path counts


def test_hooks_see_the_complete_gradient_and_may_replace_it():
    x = ag.tensor(1.0, requires_grad=True)
    h = x * 3
    seen = []
    handle = h.register_hook(lambda g: seen.append(g.item()))
    doubling = h.register_hook(lambda g: g * 2)
    (h * h + h).backward(retain_graph=True)      # d/dh = 2h + 1 = 7, arriving by two paths
    assert seen == [7.0]
    assert x.grad.item() == 7 * 2 * 3
    handle.remove()
    doubling.remove()
    x.grad = None
    (h * 1).backward()
    assert seen == [7.0] and x.grad.item() == 3


def test_hook_on_a_leaf_changes_its_grad():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: ag.zeros_like(g))
    (x * 5).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0])
    with pytest.raises(ag.AutogradError, match="does not require grad"):
        ag.tensor(1.0).register_hook(print)


def test_a_hook_returning_the_wrong_shape_is_an_error():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: ag.zeros(3))
    with pytest.raises(ag.AutogradError, match=r"shape \(3,\).*shape \(2,\)"):
        y.sum().backward()


def test_scopes_are_recorded_on_nodes_and_nest():
    x = ag.tensor(1.0, requires_grad=True)
    with ag.scope("lstm", t=3) as outer:
        a = x * 2
        with ag.scope("forget_gate"):
            b = ag.sigmoid(a)
        c = b + 1
    d = c * 2
    assert outer == "lstm[t=3]"
    assert a.scope == "lstm[t=3]" and b.scope == "lstm[t=3]/forget_gate"
    assert c.scope == "lstm[t=3]" and d.scope == ""
    with ag.scope("layer", t=1, d=0):
        assert (x * 1).scope == "layer[t=1,d=0]"


# -- errors -------------------------------------------------------------------------------------------
def test_shape_errors_name_the_op_the_scope_and_the_shapes():
    a, b = ag.ones(2, 3, requires_grad=True), ag.ones(4, 5)
    with pytest.raises(ag.ShapeError, match=r"^matmul: \(2, 3\) @ \(4, 5\)") as err:
        a @ b
    assert "transpose" in str(err.value)                 # says what to do
    with ag.scope("rnn", t=2):
        with pytest.raises(ag.ShapeError, match=r"matmul: \(2, 3\) @ \(4, 5\) in scope 'rnn\[t=2\]'"):
            a @ b
        with pytest.raises(ag.ShapeError, match=r"add: \(2, 3\) \+ \(4, 5\) in scope 'rnn\[t=2\]'"):
            a + b
    with pytest.raises(ag.ShapeError, match=r"concat"):
        ag.concat([ag.ones(2, 3), ag.ones(3, 2)], axis=0)
    with pytest.raises(ag.ShapeError, match=r"split.*\(5,\).*3 equal parts"):
        ag.split(ag.ones(5), 3)
    with pytest.raises(ag.ShapeError, match=r"stack.*\(2,\), \(3,\)"):
        ag.stack([ag.ones(2), ag.ones(3)])
    with pytest.raises(ag.ShapeError, match=r"getitem"):
        ag.ones(2)[5]
    assert issubclass(ag.ShapeError, ag.AutogradError) and issubclass(ag.ShapeError, ValueError)


def test_gradcheck_catches_a_wrong_rule():
    from autograph import rules as P
    # d(x³)/dx is 3x², not 2x²: a wrong vjp, and separately a wrong jvp
    P.primitive("cube_bad_vjp", lambda x: x ** 3,
                vjp=(lambda g, y, x: g * 2 * x * x,), jvp=(lambda d, y, x: d * 3 * x * x,))
    P.primitive("cube_bad_jvp", lambda x: x ** 3,
                vjp=(lambda g, y, x: g * 3 * x * x,), jvp=(lambda d, y, x: d * 2 * x * x,))
    try:
        x = np.array([0.5, 1.5])
        with pytest.raises(ag.GradcheckError, match=r"rev mode.*cube_bad_vjp"):
            ag.gradcheck(lambda t: P.TABLE["cube_bad_vjp"](t), [x])
        with pytest.raises(ag.GradcheckError, match=r"fwd mode.*cube_bad_jvp"):
            ag.gradcheck(lambda t: P.TABLE["cube_bad_jvp"](t), [x])
    finally:
        del P.TABLE["cube_bad_vjp"], P.TABLE["cube_bad_jvp"]


def test_gradcheck_at_second_order_catches_a_rule_that_is_not_differentiable():
    from autograph import rules as P
    # right first derivative, but computed on raw arrays: no graph for the second one
    P.primitive("square_flat", lambda x: x * x,
                vjp=(lambda g, y, x: g * 2 * np.asarray(x),),
                jvp=(lambda d, y, x: d * 2 * np.asarray(x),))
    try:
        f = lambda t: P.TABLE["square_flat"](t)            # noqa: E731
        assert ag.gradcheck(f, [np.array([1.0, 2.0])])
        with pytest.raises(ag.GradcheckError, match="analytic 0"):
            ag.gradcheck(f, [np.array([1.0, 2.0])], order=2)
    finally:
        del P.TABLE["square_flat"]
