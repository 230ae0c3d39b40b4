"""Every example runs at reduced size, from outside the repository, and writes its pictures.

Each example asserts inside itself that what it demonstrates holds (the gradients agree, the
model learned); here we check that it exits cleanly and that every file it promises parses.
"""
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

EXPECTED = {
    "01_computation_graphs": ["example1.svg", "example2_paths.svg", "forward_mode.svg",
                              "reverse_mode.svg"],
    "02_rnn": ["rnn_unrolled.svg", "rnn_rolled.svg", "elman.svg", "jordan.svg",
               "structure_one_to_one.svg", "structure_one_to_many.svg",
               "structure_many_to_one.svg", "structure_encoder_decoder.svg",
               "structure_synced.svg"],
    "03_lstm": ["grad_norms.svg", "jacobian_spectrum.svg", "lstm_cell.svg", "forget_gate.svg",
                "input_gate.svg", "output_gate.svg", "state_update.svg"],
    "04_other_rnns": ["gru_cell.svg", "peephole_lstm_cell.svg", "bidirectional.svg",
                      "ctrnn_oscillator.svg", "ctrnn_irregular.svg"],
    "05_applications": ["tagger/unrolled.svg", "tagger/unrolled_steps.svg", "tagger/rolled.svg",
                        "tagger/grad_norms.svg",
                        "tagger/backprop.html", "generated.txt", "char_lm_loss.svg",
                        "forecast.svg"],
    "06_your_own_cell": ["mgu_step.svg", "mgu_steps.svg", "mgu_rolled.svg", "adding_loss.svg"],
}


def check_file(path):
    """An SVG parses as XML with an <svg> root; an HTML page embeds an SVG; text is non-empty."""
    assert os.path.getsize(path) > 0, path
    if path.endswith(".svg"):
        assert ET.parse(path).getroot().tag.endswith("svg"), path
    elif path.endswith(".html"):
        with open(path, encoding="utf-8") as f:
            assert "<svg" in f.read(), path


# how many times each example trains something, each showing its progress
TRAININGS = {"01_computation_graphs": 0, "02_rnn": 0, "03_lstm": 2, "04_other_rnns": 3,
             "05_applications": 3, "06_your_own_cell": 2}


def run_example(name, out, cwd):
    """Run an example with its output into a pipe, as in a log; returns (exit code, stdout,
    stderr), the output read as bytes since text mode would turn \r into \n."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH="")
    done = subprocess.run([sys.executable, os.path.join(ROOT, "examples", name + ".py"), "--small",
                           "--out", str(out)], cwd=cwd, env=env, capture_output=True, timeout=600)
    return done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8")


def test_every_example_is_checked():
    scripts = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "examples"))
                     if f[:2].isdigit() and f.endswith(".py"))
    assert scripts == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_and_writes_its_pictures(name, tmp_path):
    out = tmp_path / "out"
    code, stdout, stderr = run_example(name, out, cwd=tmp_path)
    assert code == 0, stdout[-3000:] + stderr[-3000:]
    for rel in EXPECTED[name]:
        check_file(os.path.join(out, rel))
    # a clean log: no bar redrawn with \r, five progress lines for each training, not more
    assert "\r" not in stdout and not stderr, stderr
    progress = re.findall(r"^ +[\w -]+: (?:step|epoch) (\d+)/(\d+)  loss ", stdout, re.M)
    assert len(progress) == 5 * TRAININGS[name], stdout
    assert all(done == total for done, total in progress[4::5]), progress
    assert len(stdout.splitlines()) < 100, stdout


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_longer_runs_are_behind_a_flag(name):
    """The default run is the minute's version; --long, where an example has one, says what
    it adds and cannot be combined with --small."""
    script = os.path.join(ROOT, "examples", name + ".py")
    shown = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True)
    assert shown.returncode == 0 and "--small" in shown.stdout
    has_long = name in ("03_lstm", "05_applications", "06_your_own_cell")
    assert ("--long" in shown.stdout) == has_long, shown.stdout
    if "--long" in shown.stdout:
        both = subprocess.run([sys.executable, script, "--small", "--long"], capture_output=True,
                              text=True)
        assert both.returncode == 2 and "not allowed with" in both.stderr


def readme_python_blocks():
    """Every ```python block of the README, in the order a reader meets them."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        return re.findall(r"^```python\n(.*?)^```", f.read(), re.S | re.M)


def run_readme(blocks, seed):
    import autograph as ag
    ag.manual_seed(seed)
    ns = {"__name__": "tour"}
    for i, code in enumerate(blocks):
        exec(compile(code, "README.md (python block %d)" % (i + 1), "exec"), ns)
    return ns


def test_the_readme_tour_runs_as_written(tmp_path, monkeypatch, capsys):
    blocks = readme_python_blocks()
    assert blocks and "step_backward" in "".join(blocks)
    monkeypatch.chdir(tmp_path)
    ns = run_readme(blocks, seed=0)
    printed = capsys.readouterr().out
    for name in ("e.svg", "e_after.svg", "lstm.svg", "backprop.html", "mgu_steps.svg"):
        check_file(str(tmp_path / name))
    # what the comments say the prints show
    for claim in ("%2 = add %0 %1 : f32[]", "d((a + b)·(b + 1))/db", "2·1 + 3·1", "= 5",
                  "tensor(2.) tensor(5.)", "(9, 8)", "h_t = mul  lstm[t=3]/hidden [1,4]", "(8, 30, 32) (4, 8, 16) ['W_f_l0', 'U_f_l0', 'b_f_l0']",
                  "f_t = sigmoid  mgu[t=4]/forget_gate"):
        assert claim in printed, claim
    # "s.finish(): the same .grad values as loss.backward()": run the tour again from the same
    # seed with the stepper replaced by backward() and compare every parameter's gradient
    tour = "".join(blocks)
    head = tour[:tour.index("s = debug.step_backward(loss)")]
    again = run_readme([head + "loss.backward()\n"], seed=0)
    capsys.readouterr()
    stepped = dict(ns["lstm"].named_parameters())
    for key, p in again["lstm"].named_parameters():
        assert p.grad is not None and stepped[key].grad is not None, key
        np.testing.assert_array_equal(stepped[key].grad.data, p.grad.data, err_msg=key)


def test_the_readme_gallery_shows_exactly_the_generated_pictures():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        shown = re.findall(r"\]\((docs/gallery/[^)]+)\)", f.read())
    on_disk = sorted("docs/gallery/" + f for f in os.listdir(os.path.join(ROOT, "docs", "gallery")))
    assert sorted(shown) == on_disk and shown
    for path in shown:
        check_file(os.path.join(ROOT, path))
