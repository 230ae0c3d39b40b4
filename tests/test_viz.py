"""viz: DOT text, folding, gradients drawn, paths, rendering, escaping, determinism.

Golden files in tests/golden/ hold the DOT text of small graphs; after an intended change of the
pictures, rewrite them with  VIZ_REGEN_GOLDEN=1 python -m pytest tests/test_viz.py  and review
the diff.
"""
import os
import re
import shutil
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import autograph as ag
import viz
from autograph.errors import AutogradError
from test_viz_models import chapter_example, elman, lstm

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden")
SVG = "{http://www.w3.org/2000/svg}"


def golden(name, text):
    path = os.path.join(GOLDEN, name)
    if os.environ.get("VIZ_REGEN_GOLDEN"):
        os.makedirs(GOLDEN, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    with open(path, encoding="utf-8") as f:
        assert text == f.read(), "DOT text of %s changed; see the module docstring" % name


def steps_per_track(dot):
    """{track: [t, ...]} from the time-step clusters of a DOT text."""
    found = {}
    for track, t in re.findall(r'id="step_(.*?)_(\d+)" class="step', dot):
        found.setdefault(track, []).append(int(t))
    return found


def node_ids(dot):
    return re.findall(r'^(\w+) \[id=', dot, flags=re.M)


# -- golden DOT text --------------------------------------------------------------------------
def test_golden_chapter_example():
    e, a, b = chapter_example()
    golden("chapter_example.dot", viz.picture(e, edge_labels="local").dot)


def test_golden_elman_three_steps():
    loss, _, _ = elman(3)
    golden("elman_T3.dot", viz.picture(loss).dot)
    golden("elman_T3_rolled.dot", viz.picture(loss, rolled=True).dot)


def test_golden_lstm_step():
    loss, _, _ = lstm(1, last_only=True)
    golden("lstm_step.dot", viz.picture(loss).dot)


def test_draw_returns_a_digraph_with_the_same_text():
    import graphviz
    e, _, _ = chapter_example()
    g = viz.draw(e)
    assert isinstance(g, graphviz.Digraph)
    assert g.source == viz.picture(e).dot


# -- the chapter's example: values, gradients, chain rule -------------------------------------
def test_chapter_example_labels_show_values_and_gradients():
    e, a, b = chapter_example()
    dot = viz.picture(e).dot
    for text in ("a = 2", "b = 1", "c = 3", "d = 2", "e = 6", "∂e/∂a = 2", "∂e/∂b = 5",
                 "∂e/∂c = 2", "∂e/∂d = 3", 'label="· + 1"'):
        assert text in dot, text


def test_local_derivatives_on_edges():
    e, a, b = chapter_example()
    pic = viz.picture(e, edge_labels="local")
    # de/dc = d = 2 and de/dd = c = 3 on the edges into the product; 1 on the edges into the sums
    assert re.search(r'v2 -> o5 \[label="2"\]', pic.dot)
    assert re.search(r'v4 -> o5 \[label="3"\]', pic.dot)
    assert len(re.findall(r'-> o[24] \[label="1"\]', pic.dot)) == 3


def test_shape_edge_labels():
    loss, _, _ = lstm(1, last_only=True)
    dot = viz.picture(loss, edge_labels="shape").dot
    assert re.search(r'v0 -> o6 \[label="\[12,2\]"\]', dot)        # weight_ih into its transpose
    assert dot.count('label="[1,3]"') >= 6


def test_local_jacobian_norm_of_a_tensor_edge():
    x = ag.tensor(np.array([0.1, -0.5, 2.0]), requires_grad=True, name="x")
    y = ag.tanh(x)
    dot = viz.picture(y.sum(), edge_labels="local").dot
    expected = np.linalg.norm(1 - np.tanh(x.data) ** 2)      # tanh's Jacobian is diagonal
    assert "∂[3]/∂[3]\\n‖J‖=%s" % ("%.4g" % expected) in dot


def test_highlighted_path_products_sum_to_the_gradient():
    e, a, b = chapter_example()
    e.backward(retain_graph=True)
    pic = viz.picture(e, highlight=(b, e))
    notes = "\n".join(pic.notes)
    assert "2 paths from b to e" in notes
    assert "b → c → e : 1 × 2 = 2" in notes and "b → d → e : 1 × 3 = 3" in notes
    assert "sum = 5" in notes and b.grad.item() == 5
    assert pic.dot.count('class="path"') == 7           # b->+->c->×, b->+->d->×, ×->e


@pytest.mark.skipif(not shutil.which("dot"), reason="Graphviz 'dot' is not installed")
def test_highlight_without_a_path_says_so_and_still_draws(tmp_path):
    e, a, b = chapter_example()
    z = ag.tensor(3.0, dtype="float64", requires_grad=True, name="z")
    f = e * 2 + z
    for (src, dst), note in [((a, z), "no path from a to z: z does not depend on a"),
                             ((e, a), "no path from e to a: a does not depend on e; e depends "
                                      "on a: highlight=(a, e) draws those paths")]:
        pic = viz.picture(f, highlight=(src, dst))
        assert pic.notes == [note] and 'class="path"' not in pic.dot
        path = tmp_path / "no_path.svg"
        viz.render(f, str(path), highlight=(src, dst))
        root = ET.parse(str(path)).getroot()
        label = [t.text for t in root.find(SVG + "g").findall(SVG + "text")]
        assert label == [note]
        drawn = [g for g in root.iter(SVG + "g") if "var" in (g.get("class") or "").split()]
        assert len(drawn) == len(pic.ids)                     # every variable is drawn


def test_nine_paths_of_example_two():
    k = [ag.tensor(float(v), dtype="float64") for v in range(1, 7)]
    X = ag.tensor(1.0, dtype="float64", requires_grad=True, name="X")
    Y = k[0] * X + k[1] * X + k[2] * X
    Z = k[3] * Y + k[4] * Y + k[5] * Y
    Z.backward(retain_graph=True)
    from viz.calculus import Paths
    paths = Paths(viz.picture(Z).graph, X, Z)
    assert paths.count == 9 and len(paths.listed) == 9
    assert sorted(float(p) for _, p in paths.listed) == sorted(a * b for a in (1, 2, 3) for b in (4, 5, 6))
    assert float(paths.total) == X.grad.item() == 6 * 15


def test_many_paths_are_counted_not_listed_and_still_sum_to_the_gradient():
    loss, p, _ = lstm(6, H=2, last_only=True)
    loss.backward(retain_graph=True)
    from viz.calculus import MAX_LISTED_PATHS, Paths
    paths = Paths(viz.picture(loss, max_nodes=None).graph, p["weight_hh"], loss)
    assert paths.count > MAX_LISTED_PATHS and paths.listed is None
    np.testing.assert_allclose(paths.total, p["weight_hh"].grad.data, rtol=1e-10)


def test_forward_and_reverse_mode_labels():
    X = ag.tensor(1.5, dtype="float64", requires_grad=True, name="X")
    Y = X * X
    Y.name = "Y"
    Z = ag.sin(Y)
    Z.name = "Z"
    dYdX, dZdX = 2 * 1.5, 2 * 1.5 * np.cos(1.5 ** 2)
    fwd = viz.picture(Z, mode="forward", wrt=X, show=("name", "value")).dot
    assert "∂Y/∂X = %.4g" % dYdX in fwd and "∂Z/∂X = %.4g" % dZdX in fwd
    rev = viz.picture(Z, mode="reverse").dot
    assert "∂Z/∂X = %.4g" % dZdX in rev and "∂Z/∂Y = %.4g" % np.cos(1.5 ** 2) in rev


def test_leaf_grad_from_an_earlier_backward_is_shown_when_it_differs():
    e, a, b = chapter_example()
    e.backward(retain_graph=True)
    e.backward(retain_graph=True)           # .grad accumulates to 2 * de/da
    dot = viz.picture(e).dot
    assert "∂e/∂a = 2\\n.grad 4" in dot


def test_a_picture_after_backward_is_the_picture_before_it():
    """micrograd's flow: backward, then draw. The gradients drawn are the ones backward
    computed; a second backward still raises."""
    e, a, b = chapter_example()
    before = viz.picture(e, edge_labels="local", color_by="grad").dot
    text = viz.to_text(e)
    e.backward()
    assert viz.picture(e, edge_labels="local", color_by="grad").dot == before
    assert viz.to_text(e) == text
    with pytest.raises(AutogradError, match="already freed by an earlier backward"):
        e.backward()


# -- time -------------------------------------------------------------------------------------
def two_tracks(T):
    fwd, _, _ = elman(T, track="rnn")
    rev, _, _ = elman(T, track="rnn_reverse", seed=1)
    return fwd + rev


@pytest.mark.parametrize("T", [2, 5])
def test_one_cluster_per_step_and_track(T):
    dot = viz.picture(two_tracks(T)).dot
    assert steps_per_track(dot) == {"rnn": list(range(T)), "rnn_reverse": list(range(T))}
    assert "rnn_reverse  t=%d" % (T - 1) in dot            # several tracks: the track is named


def test_rolled_size_does_not_grow_with_T():
    sizes = []
    for T in (10, 60):
        dot = viz.picture(lstm(T)[0], rolled=True, max_nodes=None).dot
        sizes.append(len(node_ids(dot)))
        assert steps_per_track(dot) == {"lstm": [T - 1]}
        assert "×%d" % (T - 1) in dot and "t-1 → t" in dot         # the recurrent loop
    assert sizes[0] == sizes[1]


def test_no_hub_wired_to_several_steps():
    loss, _, _ = lstm(4)
    lay = viz.picture(loss).layout
    reads, feeds = {}, {}
    for e in lay.edges.values():
        src, dst = lay.items[e.src].box[:1], lay.items[e.dst].box[:1]
        if dst and not src:
            reads.setdefault(e.src, set()).add(dst)
        if src and not dst:
            feeds.setdefault(e.dst, set()).add(src)
    assert reads and all(len(s) == 1 for s in reads.values())
    assert feeds and all(len(s) == 1 for s in feeds.values())
    proxies = [i for i in lay.items.values() if i.kind == "proxy"]
    assert len(proxies) == 4 * 3 and len({i.k for i in proxies}) == 3   # W_ih, W_hh, b per step
    sinks = [i for i in lay.items.values() if i.kind == "sink"]
    fed_from = {lay.items[e.src].box[:1] for e in lay.edges.values() if lay.items[e.dst].kind == "sink"}
    assert len(sinks) == 3 and fed_from == {("lstm[t=%d]" % t,) for t in range(3)}
    assert all(lay.graph.nodes[i.k].op_name == "concat" for i in sinks)   # the stack of h_t


def test_collapse_scopes():
    loss, _, _ = lstm(3)
    lay = viz.picture(loss, collapse=1).layout
    groups = [i for i in lay.items.values() if i.kind == "group"]
    assert ["/".join(lay.groups[i.group].path) for i in groups] == ["lstm[t=%d]" % t for t in range(3)]
    lay = viz.picture(loss, collapse=["forget_gate"]).layout
    assert len([i for i in lay.items.values() if i.kind == "group"]) == 3
    with pytest.raises(ValueError, match="collapse depth"):
        viz.picture(loss, collapse=0)


def test_node_budget_folds_old_steps_and_says_so():
    loss, _, _ = lstm(40, H=2)
    assert len(viz.picture(loss, max_nodes=None).layout.items) > 300
    pic = viz.picture(loss, max_nodes=300)
    lay = pic.layout
    assert len(lay.items) <= 300 and lay.keep_steps >= 2
    kept = steps_per_track(pic.dot)["lstm"]
    assert kept == list(range(40 - lay.keep_steps, 40))               # the newest steps
    assert "oldest time steps are folded" in pic.dot and "max_nodes=300" in pic.dot
    assert "lstm t=0…%d" % (39 - lay.keep_steps) in pic.dot
    groups = [i for i in lay.items.values() if i.kind == "group"]
    assert len(groups) == 1 and len(lay.groups[0].members) > 100


def test_node_budget_rolls_when_not_even_two_steps_fit():
    loss, _, _ = lstm(40, H=2)
    pic = viz.picture(loss, max_nodes=80)
    assert pic.layout.rolled and len(pic.layout.items) <= 80
    assert "rolled=True" in pic.dot and steps_per_track(pic.dot) == {"lstm": [39]}


def test_budget_leaves_out_old_nodes_of_a_graph_without_scopes():
    x = ag.tensor(0.5, dtype="float64", requires_grad=True, name="x")
    y = x
    for _ in range(3000):
        y = y * 1.0001
    pic = viz.picture(y, max_nodes=200)
    assert len(pic.layout.items) <= 200 and "older nodes left out" in pic.dot


def test_twenty_thousand_step_chain_exports_without_recursion():
    x = ag.tensor(0.5, dtype="float64", requires_grad=True, name="x")
    y = x
    for _ in range(20000):
        y = ag.tanh(y)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        dot = viz.picture(y, max_nodes=None, show=("name",)).dot
        text = viz.to_text(y)
    finally:
        sys.setrecursionlimit(limit)
    assert len(node_ids(dot)) == 40001 and text.count("\n") == 20001


# -- gradients as colour ----------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_and_inf_values_are_marked():
    w = ag.tensor(np.array([1.0, 6.0]), requires_grad=True, name="w")
    loss = ag.sqrt(w - 5.0).sum()          # sqrt(-4) is NaN
    dot = viz.picture(loss).dot
    marked = re.findall(r'^(\w+) \[.*class="([^"]*\bnan)"', dot, flags=re.M)
    assert [m[0] for m in marked] == ["v3", "v4"]         # sqrt's output and the sum
    assert 'color="#e31a1c" penwidth="2.5" peripheries="2"' in dot


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_color_by_grad_uses_the_fixed_scale_and_marks_nan_inf_zero():
    w = ag.tensor(np.array([1.0, 2.0]), requires_grad=True, name="w")
    z = ag.tensor(np.array([3.0]), requires_grad=True, name="z")
    u = ag.tensor(np.array([3.0]), requires_grad=True, name="u")
    loss = ag.log(w - 1.0).sum() * 0.0 + (z * 0.0).sum() + ag.sqrt(u - 5.0).sum()
    dot = viz.picture(loss, color_by="grad").dot
    classes = dict(re.findall(r'^(v\d+) \[.*class="([^"]*)"', dot, flags=re.M))
    assert "grad-nan" in classes["v0"]         # d/dw of 0 * log(w - 1) at w = 1: 0 * inf = NaN
    assert "grad-zero" in classes["v%d" % viz.picture(loss).graph.number(z)]
    assert 'id="legend"' in dot and ">NaN<" in dot and ">Inf<" in dot and ">1e-8<" in dot
    e, _, _ = chapter_example()
    dot = viz.picture(e, color_by="grad").dot
    assert 'id="v1" fillcolor="#bddf26"' in dot       # de/db = 5: log10 rounds to the 1e1 colour
    assert 'id="v0" fillcolor="#7ad151"' in dot       # de/da = 2: the 1e0 colour


# -- the recurrent layers of nets -------------------------------------------------------------
def nets_lstm_loss(T, **kw):
    import nets
    ag.manual_seed(0)
    x = np.random.default_rng(0).standard_normal((T, 2, 3)).astype(np.float32)
    out, _ = nets.LSTM(3, 4, **kw)(x)
    return out.sum()


def test_nets_layers_get_one_box_per_step_for_every_layer_and_direction():
    T = 3
    dot = viz.picture(nets_lstm_loss(T, num_layers=2, bidirectional=True)).dot
    assert steps_per_track(dot) == {"lstm": [0, 1, 2], "lstm_reverse": [2, 1, 0],
                                    "lstm_l1": [0, 1, 2], "lstm_l1_reverse": [2, 1, 0]}
    sizes = [len(viz.picture(nets_lstm_loss(T), rolled=True, max_nodes=None).layout.items)
             for T in (4, 9)]
    assert sizes[0] == sizes[1]
    norms = viz.grad_norms(nets_lstm_loss(5))
    assert norms.shape == (5,) and np.all(norms > 0)
