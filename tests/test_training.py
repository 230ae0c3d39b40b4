"""Training pieces against PyTorch's numbers (fixtures from tests/fixtures/make_optim.py and
make_losses.py) and closed forms: losses, optimizers, gradient clipping, truncated BPTT, and a
learning test on the adding problem."""
import json
import os

import numpy as np
import pytest

import autograph as ag
import nets
from autograph.graph import walk

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def fixture(name):
    with np.load(os.path.join(FIXTURES, name), allow_pickle=False) as f:
        return dict(f)


OPTIM = fixture("optim.npz")
LOSSES = fixture("losses.npz")


# -- losses ----------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["rows", "rows_ignore", "all_ignored", "spatial", "unbatched"])
def test_cross_entropy_matches_pytorch(case):
    ref = {k.split("/", 1)[1]: v for k, v in LOSSES.items() if k.startswith(case + "/")}
    x = ag.tensor(ref["logits"], requires_grad=True)
    loss = nets.cross_entropy(x, ref["targets"],
                              ignore_index=int(ref["ignore"]) if ref["uses_ignore"] else None)
    loss.backward()
    if case == "all_ignored":
        assert np.isnan(loss.item())                  # 0/0, as in PyTorch
    else:
        np.testing.assert_allclose(loss.item(), ref["loss"], rtol=1e-12)
    np.testing.assert_allclose(x.grad.data, ref["grad"], rtol=1e-10, atol=1e-15)


def test_cross_entropy_of_a_sequence_flattens_time_and_batch():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((5, 3, 4))           # (T, B, C)
    targets = rng.integers(0, 4, (5, 3))
    loss = nets.cross_entropy(ag.tensor(logits).reshape(-1, 4), targets.reshape(-1))
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(logp, targets[..., None], -1)
    np.testing.assert_allclose(loss.item(), -picked.mean(), rtol=1e-12)


def test_cross_entropy_rejects_bad_targets():
    x = ag.zeros(4, 3)
    with pytest.raises(ag.ShapeError, match=r"\[0, 3\).*got 3"):
        nets.cross_entropy(x, np.array([0, 1, 2, 3]))
    with pytest.raises(ag.ShapeError, match=r"targets of shape \(4,\), got \(2,\)"):
        nets.cross_entropy(x, np.array([0, 1]))
    with pytest.raises(ag.ShapeError, match="integer targets"):
        nets.cross_entropy(x, np.zeros(4))
    with pytest.raises(ag.ShapeError, match="ignore_index=-1"):
        nets.cross_entropy(x, np.array([0, -1, -2, 0]), ignore_index=-1)


def test_mse_loss_value_and_gradient():
    rng = np.random.default_rng(1)
    p, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    pt = ag.tensor(p, requires_grad=True)
    loss = nets.mse_loss(pt, t)
    loss.backward()
    np.testing.assert_allclose(loss.item(), ((p - t) ** 2).mean(), rtol=1e-12)
    np.testing.assert_allclose(pt.grad.data, 2 * (p - t) / p.size, rtol=1e-12)
    with pytest.raises(ag.ShapeError, match=r"\(4, 3\) and target \(3,\)"):
        nets.mse_loss(pt, t[0])


# -- optimizers ------------------------------------------------------------------------------
OPTIM_CASES = sorted({k.split("/")[0] for k in OPTIM if "/options" in k})


@pytest.mark.parametrize("case", OPTIM_CASES)
def test_optimizer_matches_pytorch(case):
    options = json.loads(str(OPTIM[case + "/options"]))
    cls = getattr(nets.optim, options.pop("class"))
    n = sum(1 for k in OPTIM if k.startswith(case + "/start/"))
    params = [nets.Parameter(OPTIM["%s/start/%d" % (case, i)].copy()) for i in range(n)]
    opt = cls(params, **options)
    step = 0
    while "%s/after%d/0" % (case, step) in OPTIM:
        for i, p in enumerate(params):
            g = OPTIM["%s/grad%d/%d" % (case, step, i)]
            p.grad = None if np.isnan(g).any() else ag.tensor(g)
        opt.step()
        for i, p in enumerate(params):
            np.testing.assert_allclose(p.data, OPTIM["%s/after%d/%d" % (case, step, i)],
                                       rtol=1e-10, atol=1e-14, err_msg="%s step %d" % (case, step))
        step += 1
    assert step >= 5


def test_optimizer_updates_in_place_and_zero_grad():
    p = nets.Parameter(np.ones(3))
    array = p.data
    opt = nets.optim.SGD([p], lr=0.5)
    (p * p).sum().backward()
    opt.step()
    assert np.shares_memory(p.data, array)         # the same array, changed in place
    np.testing.assert_allclose(p.data, 0.0)
    opt.zero_grad()
    assert p.grad is None


def test_parameter_groups_override_defaults():
    a, b = nets.Parameter(np.ones(2)), nets.Parameter(np.ones(2))
    opt = nets.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad = b.grad = ag.tensor(np.ones(2))
    opt.step()
    np.testing.assert_allclose(a.data, 0.9)
    np.testing.assert_allclose(b.data, 0.5)


def test_optimizer_rejects_bad_arguments():
    with pytest.raises(ValueError, match="lr must be >= 0"):
        nets.optim.SGD([nets.Parameter([1.0])], lr=-1)
    with pytest.raises(ValueError, match="empty"):
        nets.optim.Adam([])
    with pytest.raises(ag.AutogradError, match="leaf tensor with requires_grad"):
        nets.optim.Adam([ag.tensor([1.0])])
    with pytest.raises(ValueError, match="betas"):
        nets.optim.Adam([nets.Parameter([1.0])], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="unknown option"):
        nets.optim.RMSprop([{"params": [nets.Parameter([1.0])], "beta": 1}])


OPTIMIZERS = [
    (nets.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    (nets.optim.Adam, dict(lr=0.1)),
    (nets.optim.RMSprop, dict(lr=0.1, momentum=0.5, centered=True)),
]


def two_groups(cls, options):
    """An optimizer over two groups of named parameters, after one step (so that its buffers
    and step counts exist)."""
    rng = np.random.default_rng(0)
    params = [nets.Parameter(rng.standard_normal(shape), name=name)
              for name, shape in [("a", (3,)), ("b", (2, 2)), ("c", (4,)), ("d", (2, 3))]]
    opt = cls([{"params": params[:2]}, {"params": params[2:], "lr": 0.05}], **options)
    for p in params:
        p.grad = ag.tensor(rng.standard_normal(p.shape))
    opt.step()
    return params, opt


def snapshot(params, opt):
    return ([p.data.copy() for p in params],
            [{k: np.copy(v) for k, v in opt.state[id(p)].items()} for p in params])


@pytest.mark.parametrize("cls, options", OPTIMIZERS, ids=[c.__name__ for c, _ in OPTIMIZERS])
def test_a_step_with_one_bad_gradient_changes_nothing(cls, options):
    params, opt = two_groups(cls, options)
    ref_params, ref_opt = two_groups(cls, options)
    for p, q in zip(params, ref_params):
        p.grad = ag.tensor(np.full(p.shape, 0.5))
        q.grad = ag.tensor(np.full(q.shape, 0.5))
    params[3].grad = ag.tensor(np.ones((3, 2)))                  # the last one is wrong
    before = snapshot(params, opt)
    with pytest.raises(ag.ShapeError) as err:
        opt.step()
    assert ("%s.step: parameter 'd' (group 1, index 1) has shape (2, 3) and dtype float64, but "
            "its gradient has shape (3, 2); nothing was updated" % cls.__name__ in str(err.value))
    after = snapshot(params, opt)
    for was, now in zip(before[0] + before[1], after[0] + after[1]):
        if isinstance(was, dict):
            assert was.keys() == now.keys()
            for k in was:
                np.testing.assert_array_equal(now[k], was[k], err_msg=k)
        else:
            np.testing.assert_array_equal(now, was)
    params[3].grad = ag.tensor(np.full((2, 3), 0.5))            # fixed: the step is the one a
    opt.step()                                                   # run without the error takes
    ref_opt.step()
    for p, q in zip(params, ref_params):
        np.testing.assert_array_equal(p.data, q.data, err_msg=p.name)


def test_a_gradient_of_another_kind_or_a_reshaped_parameter_changes_nothing():
    params, opt = two_groups(nets.optim.Adam, {})
    before = snapshot(params, opt)
    params[0].grad = ag.tensor(np.ones(3) + 1j)
    with pytest.raises(ag.AutogradError, match="parameter 'a' \\(group 0, index 0\\) has "
                                               "shape \\(3,\\) and dtype float64, but its "
                                               "gradient has dtype complex128"):
        opt.step()
    params[0].grad = None
    params[2].data = np.zeros(5)
    params[2].grad = ag.tensor(np.ones(5))
    with pytest.raises(ag.ShapeError, match="'c' .* has shape \\(5,\\) .* but its exp_avg "
                                            "from earlier steps has shape \\(4,\\).*needs a "
                                            "new optimizer"):
        opt.step()
    after = snapshot(params, opt)
    for was, now in zip(before[0][:2] + before[0][3:], after[0][:2] + after[0][3:]):
        np.testing.assert_array_equal(now, was)
    assert [s["step"] for s in after[1]] == [s["step"] for s in before[1]] == [1, 1, 1, 1]


def test_a_parameter_given_twice_is_refused():
    p, q = nets.Parameter([1.0]), nets.Parameter([2.0])
    with pytest.raises(ValueError, match="a parameter is given twice"):
        nets.optim.SGD([p, q, p], lr=0.1)
    with pytest.raises(ValueError, match="a parameter is given twice"):
        nets.optim.Adam([{"params": [p]}, {"params": [q, p]}])


# -- clipping --------------------------------------------------------------------------------
def _with_grads():
    params = []
    i = 0
    while "clip_norm/grad/%d" % i in OPTIM:
        p = nets.Parameter(np.zeros_like(OPTIM["clip_norm/grad/%d" % i]))
        p.grad = ag.tensor(OPTIM["clip_norm/grad/%d" % i].copy())
        params.append(p)
        i += 1
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_pytorch(norm_type, max_norm):
    params = _with_grads()
    key = "clip_norm/%g/%g" % (norm_type, max_norm)
    total = nets.clip_grad_norm(params, max_norm, norm_type)
    np.testing.assert_allclose(total, OPTIM[key + "/total"], rtol=1e-12)
    for i, p in enumerate(params):
        np.testing.assert_allclose(p.grad.data, OPTIM["%s/%d" % (key, i)], rtol=1e-12)


def test_clip_grad_norm_closed_form():
    p, q = nets.Parameter(np.zeros(2)), nets.Parameter(np.zeros(1))
    p.grad, q.grad = ag.tensor(np.array([3.0, 0.0])), ag.tensor(np.array([4.0]))
    assert nets.clip_grad_norm([p, q, nets.Parameter([1.0])], 1.0) == 5.0   # no grad: skipped
    np.testing.assert_allclose(p.grad.data, [3 / (5 + 1e-6), 0.0])
    np.testing.assert_allclose(q.grad.data, [4 / (5 + 1e-6)])


def test_clip_grad_norm_leaves_non_finite_gradients_alone():
    p = nets.Parameter(np.zeros(2))
    p.grad = ag.tensor(np.array([np.inf, 1.0]))
    assert nets.clip_grad_norm([p], 1.0) == np.inf
    np.testing.assert_array_equal(p.grad.data, [np.inf, 1.0])


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, float("inf")])
def test_clip_grad_norm_reports_a_nan_or_inf_gradient(norm_type):
    def params(bad):
        p, q = nets.Parameter(np.zeros(3), name="w"), nets.Parameter(np.zeros(2))
        p.grad, q.grad = ag.tensor(np.array([5.0, bad, -7.0])), ag.tensor(np.array([3.0, 4.0]))
        return p, q
    for bad, expected in [(np.nan, np.nan), (np.inf, np.inf), (-np.inf, np.inf)]:
        p, q = params(bad)
        total = nets.clip_grad_norm([q, p], 1.0, norm_type)
        np.testing.assert_array_equal(total, expected)            # NaN only equals NaN here
        np.testing.assert_array_equal(p.grad.data, [5.0, bad, -7.0])
        np.testing.assert_array_equal(q.grad.data, [3.0, 4.0])
    p, q = params(np.nan)
    q.grad.data[0] = np.inf
    with pytest.raises(ag.AutogradError) as err:
        nets.clip_grad_norm(iter([q, nets.Parameter([1.0]), p]), 1.0, norm_type,
                            error_if_nonfinite=True)
    assert ("the total %g-norm of the gradients is nan, so they cannot be clipped: parameter 0 "
            "(shape (2,)) has 1 Inf; parameter 2 'w' (shape (3,)) has 1 NaN" % norm_type
            in str(err.value))
    assert "error_if_nonfinite=False" in str(err.value)
    np.testing.assert_array_equal(p.grad.data, [5.0, np.nan, -7.0])
    np.testing.assert_array_equal(q.grad.data, [np.inf, 4.0])
    p, q = params(1.0)
    assert nets.clip_grad_norm([p, q], 100.0, norm_type, error_if_nonfinite=True) > 0


def test_clip_grad_value_matches_pytorch():
    params = _with_grads()
    nets.clip_grad_value(params, 0.7)
    for i, p in enumerate(params):
        np.testing.assert_array_equal(p.grad.data, OPTIM["clip_value/%d" % i])


# -- truncated backpropagation through time ----------------------------------------------------
def _chunk_loss(rnn, x, h0):
    out, h = rnn(x, h0)
    return (out * out).sum(), h


def test_truncated_bptt_detaches_state_between_chunks():
    """Carrying ``h.detach()`` into the next chunk cuts the graph there: the next chunk's gradient
    is that of the chunk alone, started from a constant state. Finite differences show which
    objective each gradient belongs to."""
    ag.manual_seed(0)
    rnn = nets.RNN(3, 4).double()
    x = np.random.default_rng(0).standard_normal((10, 2, 3))
    first, second = ag.tensor(x[:5]), ag.tensor(x[5:])
    w = rnn.weight_hh_l0

    loss1, h = _chunk_loss(rnn, first, None)
    loss1.backward()
    carried = h.detach()
    assert carried.is_leaf and not carried.requires_grad
    rnn.zero_grad()
    loss2, _ = _chunk_loss(rnn, second, carried)
    # the second chunk's graph holds no op of the first, and no leaf but the parameters
    nodes = walk([loss2])
    assert all(t.is_leaf or t.id > carried.id for t in nodes)
    assert {t.id for t in nodes if t.is_leaf} == {p.id for p in rnn.parameters()}
    loss2.backward()
    truncated = w.grad.data.copy()

    rnn.zero_grad()
    full, _ = _chunk_loss(rnn, second, _chunk_loss(rnn, first, None)[1])
    assert len(walk([full])) > 1.5 * len(nodes)     # without the cut: both chunks
    full.backward()
    untruncated = w.grad.data.copy()

    def objective(recompute_state, i, j, eps):
        w.data[i, j] += eps
        h0 = _chunk_loss(rnn, first, None)[1] if recompute_state else carried
        value = _chunk_loss(rnn, second, h0)[0].item()
        w.data[i, j] -= eps
        return value

    with ag.no_grad():
        for i, j in [(0, 1), (2, 3)]:
            for recompute, grad in [(False, truncated), (True, untruncated)]:
                fd = (objective(recompute, i, j, 1e-6) - objective(recompute, i, j, -1e-6)) / 2e-6
                np.testing.assert_allclose(grad[i, j], fd, rtol=1e-6)
    assert np.abs(truncated - untruncated).max() > 1e-3     # the cut really changed something


# -- learning: the adding problem ---------------------------------------------------------------
def adding_batch(rng, batch, steps=50):
    """Inputs (T, B, 2): a value in [0, 1) and a marker that is 1 at two steps, one in each half;
    the target is the sum of the two marked values. Predicting its mean (1) gives MSE 1/6."""
    values = rng.random((steps, batch))
    marks = np.zeros((steps, batch))
    cols = np.arange(batch)
    marks[rng.integers(0, steps // 2, batch), cols] = 1
    marks[rng.integers(steps // 2, steps, batch), cols] = 1
    x = np.stack([values, marks], -1).astype(np.float32)
    return x, (values * marks).sum(0, keepdims=True).T.astype(np.float32)


class Adder(nets.Module):
    def __init__(self, layer, hidden):
        super().__init__()
        self.rnn = layer(2, hidden)
        self.head = nets.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[-1])


def train_adder(layer, max_steps, seed=0, hidden=32, batch=64, target=None):
    """Adam on fresh batches; returns (test MSE, steps taken). Stops early below ``target``."""
    ag.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Adder(layer, hidden)
    opt = nets.optim.Adam(model.parameters(), lr=1e-2)
    x_test, y_test = adding_batch(np.random.default_rng(1000), 500)
    mse = None
    for step in range(1, max_steps + 1):
        x, y = adding_batch(rng, batch)
        loss = nets.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0:
            with ag.no_grad():
                mse = nets.mse_loss(model(x_test), y_test).item()
            if target is not None and mse < target:
                break
    return mse, step


@pytest.mark.slow
def test_lstm_learns_the_adding_problem_where_a_tanh_rnn_does_not():
    lstm_mse, steps = train_adder(nets.LSTM, max_steps=3000, target=0.01)
    assert lstm_mse < 0.01, "LSTM test MSE %.4f after %d steps" % (lstm_mse, steps)
    rnn_mse, _ = train_adder(nets.RNN, max_steps=steps)       # the same budget
    assert rnn_mse > 0.12, "tanh RNN test MSE %.4f: expected to stay near 1/6" % rnn_mse
