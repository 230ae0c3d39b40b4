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
