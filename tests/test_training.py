"""Training pieces against PyTorch's numbers (fixtures from tests/fixtures/make_optim.py and
make_losses.py) and closed forms: losses, optimizers, gradient clipping, truncated BPTT, and a
learning test on the adding problem."""
import json
import os

import numpy as np
import pytest

import autograph as ag
import nets

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
    assert p.data is array
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


def test_clip_grad_value_matches_pytorch():
    params = _with_grads()
    nets.clip_grad_value(params, 0.7)
    for i, p in enumerate(params):
        np.testing.assert_array_equal(p.grad.data, OPTIM["clip_value/%d" % i])
