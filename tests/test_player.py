"""The HTML player's file: self-contained, escaped, its steps those of the engine's backward pass;
and the debugger's single SVG frames."""
import json
import re
import shutil

import numpy as np
import pytest

import autograph as ag
import viz
from autograph.backward import node_grads
from viz.dot import grad_colour
from viz.player import render_steps, steps_of

from test_debug import example1

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
EVIL = "<script>alert(1)</script>"


def data_of(page):
    m = re.search(r'<script id="player-data" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def rnn(T):
    """h_t = tanh(h_t-1 W + x) over T steps (three nodes a step), its sum."""
    x = ag.tensor(np.ones((2, 3)), requires_grad=True, name="x")
    W = ag.tensor(np.full((3, 3), 0.1), requires_grad=True, name="W")
    h = x
    for t in range(T):
        with ag.scope("rnn", t=t):
            h = ag.tanh(h @ W + x)
    return h.sum()


def test_the_page_is_self_contained_and_carries_every_step(tmp_path):
    a, b, e = example1()
    path = viz.export_player(e, tmp_path / "backprop.html")
    page = path.read_text(encoding="utf-8")
    for outside in ("<link", "src=", "@import", "url(", "https://", "xlink:href"):
        assert outside not in page
    assert re.findall(r"http://\S+", page) == ['http://www.w3.org/2000/svg"',
                                               'http://www.w3.org/1999/xlink">']  # namespaces
    data = data_of(page)
    want = node_grads(e)
    steps = data["steps"]
    assert len(steps) == len(want) == 5
    for st, (k, g) in zip(steps, sorted(want.items(), reverse=True)):
        assert len(st["ids"]) == 1 and st["ids"][0] in data["nodes"]
        assert st["fill"] == grad_colour(float(np.abs(g)))[0]
        assert "‖grad‖ %.4g" % abs(float(g)) in st["text"]
    assert [s["text"].split(" =")[0] for s in steps] == ["e", "d", "c", "b", "a"]
    assert a.grad is None and b.grad is None            # exporting changes no .grad
    e.backward()                                         # and keeps the graph
    assert b.grad.item() == 5.0


def test_user_names_show_as_text_and_cannot_close_the_script(tmp_path):
    a, b, e = example1(EVIL)
    b.name = "</script><script>alert(2)</script>"
    page = viz.export_player(e, tmp_path / "p.html", title="<b>" + EVIL).read_text(encoding="utf-8")
    assert "alert(1)</script>" not in page and "<script>alert" not in page
    assert "</script><script>alert(2)" not in page
    assert page.count("<script") == 2                  # the data and the player's code
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page    # shown in the picture as text
    data = data_of(page)
    assert any(EVIL in n["what"] for n in data["nodes"].values())


def test_a_name_like_a_template_slot_is_not_filled_in(tmp_path):
    _, _, e = example1("{{data}} {{svg}}")
    page = viz.export_player(e, tmp_path / "p.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 1 and page.count("<script") == 2
    assert "{{data}} {{svg}}" in page                       # shown in the picture as typed
    assert len(data_of(page)["steps"]) == 5


def test_big_graphs_are_folded_but_every_step_is_kept(tmp_path):
    loss = rnn(60)
    page = viz.export_player(loss, tmp_path / "big.html", max_nodes=80).read_text(encoding="utf-8")
    data = data_of(page)
    assert len(data["steps"]) == len(steps_of(loss))
    assert any("max_nodes=80" in n for n in data["notes"])
    drawn = [s for s in data["steps"] if s["ids"]]
    assert drawn and len(drawn) <= len(data["steps"])
    assert all(i in data["nodes"] for s in drawn for i in s["ids"])


def test_the_player_of_a_graph_after_backward_shows_the_same_pass(tmp_path):
    a, b, e = example1()
    before = viz.export_player(e, tmp_path / "before.html").read_text(encoding="utf-8")
    e.backward()
    grads = a.grad.numpy().copy(), b.grad.numpy().copy()
    after = viz.export_player(e, tmp_path / "after.html").read_text(encoding="utf-8")
    assert after == before
    assert (a.grad.numpy(), b.grad.numpy()) == grads          # no .grad touched again


def test_a_frame_colours_visited_nodes_and_outlines_the_current_one(tmp_path):
    a, b, e = example1()
    steps = steps_of(e)[:3]                               # e, d, c visited; c is current
    svg = render_steps(e, steps, tmp_path / "frame.svg").read_text(encoding="utf-8")
    nodes = dict(re.findall(r'<g id="(v\d+)" class="node[^"]*">(.*?)</g>\n</g>', svg, re.S))
    fills = {k: re.search(r'<path fill="([^"]+)" stroke="([^"]+)"', v).groups() for k, v in nodes.items()}
    pic = viz.picture(e)
    vid = {name: "v%d" % k for k, t in enumerate(pic.graph.nodes) for name in [t.name] if name}
    for st in steps:
        assert fills[vid[st.name]][0] == grad_colour(st.norm)[0]
    assert fills[vid["c"]][1] == "#d62728" and fills[vid["d"]][1] != "#d62728"
    assert fills[vid["a"]][0] == "#fff2cc"                # not reached yet: its own colour


def test_the_page_can_find_each_name_each_number_and_the_folded_steps(tmp_path):
    loss = rnn(60)
    data = data_of(viz.export_player(loss, tmp_path / "big.html", max_nodes=80).read_text(
        encoding="utf-8"))
    assert data["names"] == {"x": [0], "W": [1]}            # numbered in creation order
    newest = int(re.search(r"rnn t=0…(\d+)", data["notes"][0]).group(1))
    [(track, folded, group)] = data["folded"]
    assert track == "rnn" and folded == list(range(newest + 1)) and group in data["nodes"]
    # the three nodes of a folded step (h @ W, + x, tanh; step 4's are %14-%16) find the folded
    # node; every number finds nodes of the page
    assert data["numbers"]["14"] == data["numbers"]["16"] == [group]
    assert all(ids and all(i in data["nodes"] for i in ids) for ids in data["numbers"].values())
