"""nets' recurrent layers and cells against PyTorch, in float64: outputs, final states and the
gradients of every parameter, of the input and of the initial states agree to a relative error
of 1e-10. The reference numbers are in fixtures/nets.npz, written by fixtures/make_nets.py."""
import json
import os

import numpy as np
import pytest

import autograph as ag
import nets

FIXTURES = np.load(os.path.join(os.path.dirname(__file__), "fixtures", "nets.npz"),
                   allow_pickle=False)
CASES = sorted({k.split("/", 1)[0] for k in FIXTURES.files})
TOL = 1e-10


def case(name):
    prefix = name + "/"
    return {k[len(prefix):]: FIXTURES[k] for k in FIXTURES.files if k.startswith(prefix)}


def close(what, got, want):
    got = np.asarray(got.data if isinstance(got, ag.Tensor) else got)
    assert got.shape == want.shape, "%s: shape %s, PyTorch %s" % (what, got.shape, want.shape)
    err = np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-300)
    assert err <= TOL, "%s: relative error %.3g" % (what, err)


def build(f):
    config = json.loads(str(f["config"]))
    state = {k[3:]: v for k, v in f.items() if k.startswith("sd/")}
    cls = getattr(nets, config["class"])
    module = cls(int(f["x"].shape[-1]), int(state[next(iter(state))].shape[0]) // _gates(cls),
                 **config["kwargs"]).double()
    assert list(module.state_dict()) == list(state), "state_dict keys or their order differ"
    module.load_state_dict(state)
    return module


def _gates(cls):
    return {"LSTM": 4, "LSTMCell": 4, "GRU": 3, "GRUCell": 3}.get(cls.__name__, 1)


@pytest.mark.parametrize("name", CASES)
def test_matches_pytorch(name):
    f = case(name)
    module = build(f)
    x = ag.tensor(f["x"], requires_grad=True)
    states = [ag.tensor(f[k], requires_grad=True) for k in ("hx0", "hx1") if k in f]
    hx = None if not states else (tuple(states) if len(states) == 2 else states[0])
    if isinstance(module, nets.Recurrent):
        out, finals = module(x, hx, lengths=f.get("lengths"))
        finals = list(finals) if isinstance(finals, tuple) else [finals]
    else:
        result = module(x, hx)
        finals = list(result) if isinstance(result, tuple) else [result]
        out = finals[0]
    close("output", out, f["out"])
    loss = (out * f["R_out"]).sum()
    for k, t in enumerate(finals):
        close("final state %d" % k, t, f["final%d" % k])
        loss = loss + (t * f["R_final%d" % k]).sum()
    loss.backward()
    for k, p in module.named_parameters():
        close("d loss / d " + k, p.grad, f["grad/" + k])
    close("d loss / d input", x.grad, f["grad_x"])
    for k, s in enumerate(states):
        close("d loss / d initial state %d" % k, s.grad, f["grad_hx%d" % k])


def test_fixtures_cover_the_issue():
    """Every configuration the parity requirement lists has at least one case."""
    configs = [json.loads(str(case(n)["config"])) for n in CASES]
    kw = [c["kwargs"] for c in configs]
    classes = {c["class"] for c in configs}
    assert {"RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"} <= classes
    assert {k.get("nonlinearity", "tanh") for k, c in zip(kw, configs) if c["class"] == "RNN"} \
        == {"tanh", "relu"}
    assert any(k.get("proj_size") for k in kw) and any(k.get("num_layers") == 3 for k in kw)
    assert any(k.get("bidirectional") for k in kw) and any(k.get("batch_first") for k in kw)
    assert any(k.get("bias") is False for k in kw) and any(c["unbatched"] for c in configs)
    with_lengths = [case(n)["lengths"] for n in CASES if "lengths" in case(n)]
    assert any(np.any(np.diff(lengths) > 0) and np.any(np.diff(lengths) < 0)
               for lengths in with_lengths), "no case with unsorted lengths"
    assert any("hx0" in case(n) for n in CASES) and any("hx0" not in case(n) for n in CASES)
