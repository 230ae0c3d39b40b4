"""The debugger's prompt, driven by a script of commands as a user would type them."""
import io
import shutil

import numpy as np
import pytest

from autograph import debug
from test_debug import example1, lstm_loss


def session(loss, commands, render=None):
    out = io.StringIO()
    debug.interact(loss, stdin=io.StringIO("\n".join(commands) + "\n"), stdout=out,
                   render=render)
    return out.getvalue()


def test_a_scripted_session_on_the_chapter_example():
    a, b, e = example1()
    text = session(e, ["step", "print", "step 2", "where", "list", "print b", "break name:b",
                       "break", "continue", "print", "explain", "c", "c", "quit"])
    lines = text.splitlines()
    assert lines[0].startswith("Stepping through the backward pass of e = mul []")
    assert "(agdb) [0] e = mul []  ‖grad‖ 1" in lines
    assert "  value: 6" in lines and "  grad:  1" in lines               # print: e = 6, de/de = 1
    assert "(agdb) [2] c = add []  ‖grad‖ 2" in lines                   # d visited, then c
    where = lines.index("(agdb) e = mul []  ‖grad‖ 1")
    assert lines[where + 1] == "  c = add []  ‖grad‖ 2"                  # e -> c
    assert "  input 0: a = input []  ← sent ‖·‖ 2" in lines               # list: c's inputs
    assert "  input 1: b = input []  ← sent ‖·‖ 2" in lines
    assert "  used by: e = mul []  ‖grad‖ 1" in lines
    assert "  grad:  not complete yet (backward has not reached this node)" in lines  # b pending
    assert "(agdb) breakpoint 1: name:b" in lines and "(agdb) 1: name:b" in lines
    assert "(agdb) breakpoint 1 (name:b) hit" in lines
    assert "[3] b = input []  ‖grad‖ 5" in lines
    assert "  grad:  5" in lines                                           # de/db = 2 + 3
    assert "      = 2·1 + 3·1" in lines                                    # explain at b
    # no more hits: continue runs to the end (twice: the second has nothing left to run)
    assert lines.count("(agdb) backward finished: 5 steps, .grad set on 2 leaves") == 2
    assert a.grad.item() == 2.0 and b.grad.item() == 5.0


def test_next_skips_to_the_next_time_step_and_breakpoints_on_scopes():
    loss, (W, b) = lstm_loss(T=4)
    text = session(loss, ["s", "n", "n", "b scope:lstm[t=1]/hidden", "c", "p W", "b norm>1e9",
                          "b nonsense", "clear 1", "c", "bogus", "q"])
    lines = [ln[7:] if ln.startswith("(agdb) ") else ln for ln in text.splitlines()]
    assert "[3] h_3 = mul  lstm[t=3]/hidden [2,4]  ‖grad‖" in "\n".join(lines)
    jumps = [ln for ln in lines if ln.startswith("[")]
    assert jumps[0].startswith("[0] add#") and " lstm[t=3]/hidden " in jumps[1]
    assert "lstm[t=3]" not in jumps[2]            # next leaves time step 3 for the loss terms
    hit = lines.index("breakpoint 1 (scope:lstm[t=1]/hidden) hit")
    assert lines[hit + 1].startswith("[") and " lstm[t=1]/hidden " in lines[hit + 1]
    assert "  grad:  not complete yet (backward has not reached this node)" in lines
    assert any(ln.startswith("breakpoint: cannot read 'nonsense'; use one of") for ln in lines)
    assert "breakpoint 1 removed" in lines
    assert "backward finished: %d steps, .grad set on 2 leaves" % len(
        debug.step_backward(lstm_loss(T=4)[0]).finish()) in lines
    assert "unknown command 'bogus'; type help" in lines
    np.testing.assert_array_equal(W.grad.data, _grad_of_W())


def _grad_of_W():
    loss, (W, _) = lstm_loss(T=4)
    loss.backward()
    return W.grad.data


def test_help_lists_the_commands():
    _, _, e = example1()
    text = session(e, ["help", "help next"])
    for name in ("step", "next", "continue", "break", "clear", "print", "where", "list",
                 "explain", "render", "quit"):
        assert name in text
    assert "next: run to the first node of the next time step (or the next scope)." in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_render_writes_an_svg_frame(tmp_path):
    from viz.player import render_steps
    _, _, e = example1()
    path = tmp_path / "frame.svg"
    missing = tmp_path / "no" / "such" / "folder" / "x.svg"
    text = session(e, ["step 2", "render %s" % path, "render", "render %s" % missing, "step"],
                   render=render_steps)
    assert "wrote %s" % path in text and path.read_text().startswith("<?xml")
    assert 'stroke="#d62728"' in path.read_text()               # the current node, outlined
    assert "render needs a file name" in text
    # a folder that does not exist: the user's path is named, and the session goes on
    assert "render: cannot write %s" % missing in text and ".tmp" not in text
    assert text.rstrip().endswith("(agdb)") and text.count("[") >= 3


def test_render_without_a_picture_maker_says_how_to_get_one():
    _, _, e = example1()
    text = session(e, ["render x.svg", "step"])
    assert "autograph debug" in text and "render_steps" in text and "[0]" in text
