"""detect_anomaly blames the op that made the first NaN or Inf, forward or backward, with the
line of user code that created it; outside the mode nothing is captured."""
import numpy as np
import pytest

import autograph as ag

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
HERE = __file__


def line_of(marker):
    """The line number in this file of the source line containing ``marker``."""
    with open(HERE, encoding="utf-8") as f:
        lines = f.read().splitlines()
    return next(i + 1 for i, text in enumerate(lines) if marker in text and "line_of" not in text)


def test_forward_nan_blames_the_first_sqrt_not_the_one_that_passes_it_on():
    x = ag.tensor(1.0, requires_grad=True)
    with pytest.raises(ag.AnomalyError) as err:
        with ag.detect_anomaly():
            with ag.scope("block", t=4):
                y = ag.sqrt(x - 2)  # first sqrt
                ag.sqrt(y)          # second sqrt
    msg = str(err.value)
    assert msg.startswith("sqrt produced NaN in the forward pass in scope 'block[t=4]'")
    assert "%s:%d" % (HERE, line_of("# first sqrt")) in msg
    assert "%s:%d" % (HERE, line_of("# second sqrt")) not in msg
    assert "shapes () -> output ()" in msg


def test_forward_inf_from_log_of_zero_names_the_shapes():
    x = ag.tensor(np.array([1.0, 0.0, 2.0]), requires_grad=True)
    with pytest.raises(ag.AnomalyError, match=r"log produced Inf in the forward pass from finite "
                                              r"inputs of shapes \(3,\) -> output \(3,\)"):
        with ag.detect_anomaly():
            ag.log(x * 1.0)


def test_inf_made_only_in_backward_by_log_near_zero():
    # log(1e-45) = -103.6 is finite, but its derivative 1/x overflows float32: Inf in backward
    x = ag.tensor(np.float32(1e-45), requires_grad=True)
    with ag.detect_anomaly():
        with ag.scope("loss"):
            y = ag.log(x) * 2.0  # the log
        assert np.isfinite(y.data)
        with pytest.raises(ag.AnomalyError) as err:
            y.backward()
    msg = str(err.value)
    assert msg.startswith("the backward of log produced Inf in the gradient of its input 0")
    assert "scope 'loss'" in msg and "%s:%d" % (HERE, line_of("# the log")) in msg


def test_inf_in_backward_of_sqrt_at_zero_blames_sqrt_not_the_ops_after_it():
    x = ag.tensor(np.zeros((2, 3)), requires_grad=True)
    with ag.detect_anomaly():
        r = ag.sqrt(x)  # sqrt at 0
        loss = (r * 3.0).sum()
        with pytest.raises(ag.AnomalyError) as err:
            loss.backward()
    msg = str(err.value)
    assert "backward of sqrt produced Inf" in msg and "shape (2, 3)" in msg
    assert "%s:%d" % (HERE, line_of("# sqrt at 0")) in msg


def test_nan_is_not_reported_where_it_was_only_passed_on():
    x = ag.tensor(np.array([np.nan, 1.0]), requires_grad=True)   # already NaN: not made by an op
    with ag.detect_anomaly():
        y = ag.tanh(x) * 2.0
    assert np.isnan(y.data[0])


def test_creation_lines_are_captured_only_inside_the_mode():
    x = ag.tensor(2.0, requires_grad=True)
    y = x * 3.0
    assert y._origin is None
    with ag.detect_anomaly():
        z = x * 3.0  # inside
    assert z._origin == "%s:%d" % (HERE, line_of("# inside"))
    w = z + 1.0
    assert w._origin is None
    w.backward()                                    # finite everywhere: no error
    assert x.grad.item() == 3.0


def test_finite_gradients_that_overflow_when_added_are_blamed_on_the_sum():
    x = ag.tensor(np.float32(1e-30), requires_grad=True)   # the forward stays small
    with ag.detect_anomaly():
        with ag.scope("shared"):
            h = x * 1.0  # used twice
        loss = h * 3e38 + h * 3e38          # each path's gradient is finite, their sum is not
        with pytest.raises(ag.AnomalyError) as err:
            loss.backward()
    msg = str(err.value)
    assert msg.startswith("the gradient of mul (unnamed, shape ())")
    assert "scope 'shared'" in msg and "adding them up overflowed float32" in msg
    assert "%s:%d" % (HERE, line_of("# used twice")) in msg


def test_a_hook_that_returns_nan_is_blamed():
    x = ag.tensor(np.ones(3), requires_grad=True, name="x")
    with ag.detect_anomaly():
        y = x * 2.0
        y.register_hook(lambda g: g * np.nan)
        with pytest.raises(ag.AnomalyError, match=r"a hook registered on mul \(unnamed, shape "
                                                  r"\(3,\)\) returned a gradient with NaN"):
            y.sum().backward()


def test_a_non_finite_seed_gradient_is_named():
    x = ag.tensor(np.ones(2), requires_grad=True)
    with ag.detect_anomaly():
        y = x * 2.0
        with pytest.raises(ag.AnomalyError, match="the gradient passed to backward"):
            y.backward(np.array([1.0, np.inf]))
