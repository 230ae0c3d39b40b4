"""nets.functional and the modules built on it against PyTorch's numbers (values and gradients in
float64, stored by tests/fixtures/make_functional.py), and their errors."""
import json
import os

import numpy as np
import pytest

import autograph as ag
import nets
import nets.functional as F

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "functional.npz")
with np.load(FIXTURE, allow_pickle=False) as _f:
    REF = dict(_f)
CASES = sorted({k.split("/", 1)[0] for k in REF})

# the module PyTorch users write for each function, built from a case's keyword arguments
MODULES = {
    "relu": lambda kw: nets.ReLU(),
    "tanh": lambda kw: nets.Tanh(),
    "sigmoid": lambda kw: nets.Sigmoid(),
    "softmax": lambda kw: nets.Softmax(kw["dim"]),
    "log_softmax": lambda kw: nets.LogSoftmax(dim=kw["dim"]),
    "cross_entropy": lambda kw, weight=None: nets.CrossEntropyLoss(weight, **kw),
    "nll_loss": lambda kw, weight=None: nets.NLLLoss(weight, **kw),
    "mse_loss": lambda kw: nets.MSELoss(**kw),
}


def case(name):
    config = json.loads(str(REF[name + "/config"]))
    inputs = {k: ag.tensor(REF["%s/in/%s" % (name, k)], requires_grad=k in config["grads"])
              for k in config["args"]}
    return config, inputs


def check(name, out, inputs, config):
    """The output and the gradients of sum(out * R) against PyTorch's."""
    expected = REF[name + "/out"]
    assert out.shape == expected.shape and out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-14)
    (out * REF[name + "/R"]).sum().backward()
    for k in config["grads"]:
        np.testing.assert_allclose(inputs[k].grad.data, REF["%s/grad/%s" % (name, k)],
                                   rtol=1e-10, atol=1e-14, err_msg=k)


@pytest.mark.parametrize("name", CASES)
def test_functional_matches_pytorch(name):
    config, inputs = case(name)
    out = getattr(F, config["fn"])(*inputs.values(), **config["kwargs"])
    check(name, out, inputs, config)


@pytest.mark.parametrize("name", [c for c in CASES if json.loads(str(REF[c + "/config"]))["fn"]
                                  in MODULES])
def test_modules_match_pytorch(name):
    config, inputs = case(name)
    weight = inputs.pop("weight", None)
    module = MODULES[config["fn"]](config["kwargs"], **({} if weight is None
                                                        else {"weight": weight.data}))
    check(name, module(*inputs.values()), inputs, config)


def test_the_losses_that_nets_exports_are_the_functional_ones():
    assert nets.cross_entropy is F.cross_entropy and nets.mse_loss is F.mse_loss


# -- cross_entropy and nll_loss beyond the fixture ---------------------------------------------
def test_cross_entropy_is_nll_of_log_softmax_for_a_sequence_model():
    rng = np.random.default_rng(0)
    logits = ag.tensor(rng.standard_normal((5, 3, 4)))          # (T, B, C)
    targets = rng.integers(0, 4, (5, 3))
    flat = F.cross_entropy(logits.reshape(-1, 4), targets.reshape(-1), reduction="none")
    logp = logits.data - np.log(np.exp(logits.data).sum(-1, keepdims=True))
    np.testing.assert_allclose(flat.data.reshape(5, 3),
                               -np.take_along_axis(logp, targets[..., None], -1)[..., 0],
                               rtol=1e-12)
    np.testing.assert_allclose(
        F.nll_loss(F.log_softmax(logits, dim=-1).reshape(-1, 4), targets.reshape(-1)).item(),
        flat.data.mean(), rtol=1e-12)


_rng = np.random.default_rng(1)
X, W, P = _rng.standard_normal((5, 3)), _rng.uniform(0.5, 2, 3), _rng.uniform(0.1, 1, (5, 3))
Y = np.array([2, -100, 0, 1, 1])


@pytest.mark.parametrize("loss", [
    lambda x, w: F.cross_entropy(x, Y, w, label_smoothing=0.2),
    lambda x, w: F.cross_entropy(x, P, w, label_smoothing=0.1, reduction="sum"),
    lambda x, w: F.nll_loss(x, Y, w, reduction="none"),
    lambda x, p: F.cross_entropy(x, p, reduction="none"),
], ids=["smoothing", "probabilities", "nll", "soft targets"])
def test_losses_differentiate_in_both_modes_to_second_order(loss):
    """Class weights and soft targets given as tensors stay in the graph and get gradients."""
    assert ag.gradcheck(loss, [X, W if "w" in loss.__code__.co_varnames else P], order=2)


def test_an_ignored_target_gives_zero_even_where_its_row_is_minus_infinity():
    logp = ag.tensor(np.array([[0.0, -np.inf], [-np.inf, 0.0]]), requires_grad=True)
    loss = F.nll_loss(logp, np.array([1, -100]), reduction="none")
    np.testing.assert_array_equal(loss.data, [np.inf, 0.0])
    loss = F.nll_loss(logp, np.array([0, -100]))
    assert loss.item() == 0.0
    loss.backward()
    np.testing.assert_array_equal(logp.grad.data, [[-1.0, 0.0], [0.0, 0.0]])


def test_bad_arguments_are_explained():
    x = ag.zeros(4, 3)
    with pytest.raises(ValueError, match=r"reduction must be one of 'mean', 'sum', 'none', got "
                                         r"'avg'"):
        F.cross_entropy(x, np.zeros(4, np.int64), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing must lie in"):
        F.cross_entropy(x, np.zeros(4, np.int64), label_smoothing=1.5)
    with pytest.raises(ag.ShapeError, match=r"weight must have shape \(3,\)"):
        F.cross_entropy(x, np.zeros(4, np.int64), np.ones(4))
    with pytest.raises(ag.ShapeError, match=r"class probabilities and need the input's shape "
                                            r"\(4, 3\), got \(4,\)"):
        F.cross_entropy(x, np.zeros(4))
    with pytest.raises(ag.ShapeError, match="ignore_index=0 applies to class-index targets"):
        F.cross_entropy(x, np.full((4, 3), 1 / 3), ignore_index=0)
    with pytest.raises(ag.ShapeError, match="integer targets .* dtype bool"):
        F.nll_loss(x, np.zeros(4, bool))
    with pytest.raises(ag.ShapeError, match=r"nll_loss: .*class axis.*got shape \(\) "):
        F.nll_loss(ag.tensor(1.0), np.array(0))
    with pytest.raises(ag.ShapeError, match=r"\[0, 3\) or ignore_index=-100; got 3"):
        F.nll_loss(x, np.array([0, 3, 1, 2]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        nets.MSELoss(reduction="mean ")
    with pytest.raises(ValueError, match="CrossEntropyLoss: label_smoothing"):
        nets.CrossEntropyLoss(label_smoothing=-0.1)


def test_loss_modules_keep_their_weight_in_the_state_dict_and_show_their_options():
    loss = nets.CrossEntropyLoss(np.array([1.0, 2.0, 3.0]), ignore_index=0, label_smoothing=0.1)
    assert list(loss.state_dict()) == ["weight"] and not loss.parameters()
    assert repr(loss) == "CrossEntropyLoss(ignore_index=0, reduction='mean', label_smoothing=0.1)"
    assert nets.NLLLoss().state_dict() == {} and repr(nets.MSELoss()) == "MSELoss(reduction='mean')"


# -- mse_loss, layers, dropout -------------------------------------------------------------------
def test_mse_loss_needs_equal_shapes():
    with pytest.raises(ag.ShapeError, match=r"\(4, 3\) and target \(3,\)"):
        F.mse_loss(ag.zeros(4, 3), np.zeros(3))


def test_linear_and_embedding_errors_name_the_shapes():
    with pytest.raises(ag.ShapeError, match=r"linear: input of shape \(2, 4\) does not fit "
                                            r"weight \(5, 3\)"):
        F.linear(ag.zeros(2, 4), ag.zeros(5, 3))
    with pytest.raises(ag.ShapeError, match=r"embedding: indices must lie in \[0, 5\), got min "
                                            r"-1, max 2"):
        F.embedding([2, -1], ag.zeros(5, 3))


def test_dropout_keeps_each_entry_with_probability_1_minus_p_and_scales_it():
    x = ag.ones(300, 200, dtype=np.float64, requires_grad=True)
    y = F.dropout(x, 0.3, rng=0)
    kept = y.data != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y.data[kept], 1 / 0.7)
    np.testing.assert_array_equal(F.dropout(x, 0.3, rng=0).data, y.data)     # a seed repeats
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, kept / 0.7)
    assert F.dropout(x, 0.3, training=False) is x and F.dropout(x, 0.0) is x
    with pytest.raises(ValueError, match=r"dropout: p must lie in \[0, 1\], got -0.5"):
        F.dropout(x, -0.5)


# -- modules without parameters ---------------------------------------------------------------
@pytest.mark.parametrize("start, end, shape", [(1, -1, (2, 60)), (0, -1, (120,)), (1, 2, (2, 12, 5)),
                                               (-2, -1, (2, 3, 20)), (2, 2, (2, 3, 4, 5)),
                                               (0, 1, (6, 4, 5))])
def test_flatten_merges_the_axes_from_start_to_end(start, end, shape):
    x = ag.tensor(np.arange(120.0).reshape(2, 3, 4, 5), requires_grad=True)
    y = nets.Flatten(start, end)(x)
    assert y.shape == shape
    np.testing.assert_array_equal(y.data.ravel(), np.arange(120.0))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 3, 4, 5)))


def test_flatten_explains_axes_out_of_order_or_range():
    with pytest.raises(ag.ShapeError, match=r"Flatten\(start_dim=2, end_dim=1\).*\(2, 3, 4\) has "
                                            r"axes -3 to 2"):
        nets.Flatten(2, 1)(ag.zeros(2, 3, 4))
    with pytest.raises(ag.ShapeError, match="start_dim=1"):
        nets.Flatten()(ag.zeros(5))
    assert nets.Flatten(0)(ag.tensor(3.0)).shape == (1,)                  # as torch.flatten


def test_a_sequential_of_the_new_modules_is_written_as_in_pytorch():
    ag.manual_seed(0)
    model = nets.Sequential(nets.Flatten(), nets.Linear(12, 8), nets.ReLU(), nets.Identity(54),
                            nets.Linear(8, 3), nets.LogSoftmax(dim=1))
    x = ag.randn(5, 3, 4, dtype=np.float64)
    y = np.array([0, 2, 1, 1, 0])
    loss = nets.NLLLoss()(model(x), y)
    h = np.maximum(x.data.reshape(5, 12) @ model[1].weight.data.T + model[1].bias.data, 0)
    z = h @ model[4].weight.data.T + model[4].bias.data
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    np.testing.assert_allclose(loss.item(), -logp[np.arange(5), y].mean(), rtol=1e-6)
    assert "(5): LogSoftmax(dim=1)" in repr(model) and "(0): Flatten(start_dim=1, end_dim=-1)" \
        in repr(model)


# -- Embedding's indices ----------------------------------------------------------------------
def test_embedding_takes_a_list_an_array_or_a_tensor_of_ints():
    e = nets.Embedding(5, 3).double()
    rows = e.weight.data[[[1, 4], [0, 0]]]
    for indices in ([[1, 4], [0, 0]], np.array([[1, 4], [0, 0]], np.int32),
                    ag.tensor(np.array([[1, 4], [0, 0]]))):
        np.testing.assert_array_equal(e(indices).data, rows)
    assert e([]).shape == (0, 3) and e(2).shape == (3,)
    assert F.embedding([3, 3], e.weight).shape == (2, 3)


def test_embedding_rejects_float_indices_and_says_to_pass_integers():
    e = nets.Embedding(5, 3)
    with pytest.raises(ag.ShapeError, match=r"Embedding\(5, 3\): indices must be integers, got a "
                                            r"tensor of dtype float32; pass integers.*int64"):
        e(ag.tensor(np.array([1.0, 2.0], np.float32)))
    with pytest.raises(ag.ShapeError, match="dtype float64"):
        e([1.0, 2.0])
    with pytest.raises(ag.ShapeError, match="dtype bool"):
        e([True])
    with pytest.raises(ag.ShapeError, match=r"\[0, 5\), got min 0, max 5"):
        e(ag.tensor(np.array([0, 5])))
