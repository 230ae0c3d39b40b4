"""The `autograph` command line: subcommands listed, scripts' variables rendered, clear errors."""
import pytest

import autograph_cli


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit) as exit:
        autograph_cli.main(["--help"])
    assert exit.value.code == 0
    text = capsys.readouterr().out
    for command in ("demo", "render", "debug"):
        assert command in text


def test_no_subcommand_prints_help(capsys):
    assert autograph_cli.main([]) == 0
    assert "demo" in capsys.readouterr().out


SCRIPT = """
import autograph as ag
a = ag.tensor(2.0, requires_grad=True, name="a")
b = ag.tensor(1.0, requires_grad=True, name="b")
e = (a + b) * (b + 1)
"""


def test_render_draws_a_variable_of_a_script(tmp_path):
    script = tmp_path / "chain.py"
    script.write_text(SCRIPT)
    out = tmp_path / "e.dot"
    assert autograph_cli.main(["render", str(script), "--var", "e", "-o", str(out)]) == 0
    text = out.read_text()
    assert text.lstrip().startswith("digraph") and "mul" in text


def test_render_names_the_variables_when_one_is_missing(tmp_path):
    script = tmp_path / "chain.py"
    script.write_text(SCRIPT)
    with pytest.raises(SystemExit) as exit:
        autograph_cli.main(["render", str(script), "--var", "loss"])
    message = str(exit.value.code)
    assert "no variable 'loss'" in message and "e" in message.split("it has:")[1]


def test_debug_steps_through_a_variable_of_a_script(tmp_path, monkeypatch, capsys):
    script = tmp_path / "chain.py"
    script.write_text(SCRIPT)
    import io
    monkeypatch.setattr("sys.stdin", io.StringIO("continue\nquit\n"))
    assert autograph_cli.main(["debug", str(script), "--var", "e"]) == 0
    assert capsys.readouterr().out


TRAINED = """
import numpy as np
import autograph as ag, nets
lstm = nets.LSTM(3, 4, rng=0)
head = nets.Linear(4, 1, rng=0)
out, _ = lstm(ag.tensor(np.random.default_rng(0).standard_normal((6, 2, 3)), dtype=ag.float32))
loss = (head(out) ** 2).mean()
loss.backward()
"""


def run_cli(*args, stdin=""):
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return subprocess.run([sys.executable, "-m", "autograph_cli", *args], cwd=root, input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_render_and_debug_work_on_a_script_that_called_backward(tmp_path):
    script = tmp_path / "trained.py"
    script.write_text(TRAINED)
    out = tmp_path / "loss.dot"
    done = run_cli("render", str(script), "-o", str(out))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "lstm[t=5]" in out.read_text()
    done = run_cli("debug", str(script), stdin="step 3\nprint\nexplain\ncontinue\nquit\n")
    assert done.returncode == 0 and "Traceback" not in done.stderr + done.stdout, done.stderr
    assert "backward finished" in done.stdout and "[2]" in done.stdout


def test_a_failing_script_or_picture_gives_a_message_not_a_traceback(tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("import autograph as ag\nloss = ag.ones(3) @ ag.ones(4)\n")
    done = run_cli("render", str(script))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "broken.py" in done.stderr and "ShapeError" in done.stderr and "matmul" in done.stderr
    script.write_text(SCRIPT)
    done = run_cli("render", str(script), "--var", "e", "-o", str(tmp_path / "no" / "x.svg"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "no" in done.stderr and "x.svg" in done.stderr
