"""viz on long sequences: a track of more than 16 steps is tiled (each step laid out by dot on its
own, the steps placed in wrapping rows, every position in the DOT text), every option still
works, the same program gives the same text, and T = 500 and 1000 draw in seconds."""
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import autograph as ag
import nets
import viz
from viz.layout import TILE_STEPS
from test_viz_models import elman, lstm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
from render import lstm_model_loss  # noqa: E402  (the benchmark's model)
SVG = "{http://www.w3.org/2000/svg}"
POS = r"[ \[]pos="
pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")


def boxes(dot):
    """{t: (x0, y0, x1, y1)} of the step boxes of a positioned DOT text."""
    return {int(t): tuple(map(float, bb.split(",")))
            for t, bb in re.findall(r'class="step t(\d+)".*? bb="([^"]+)"', dot)}


def positions(dot):
    """{node id: (x, y)} of a positioned DOT text."""
    return {n: (float(x), float(y)) for n, x, y in
            re.findall(r'^(\w+) \[id=.*? pos="(-?[\d.]+),(-?[\d.]+)"', dot, flags=re.M)}


def overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_a_short_chain_is_left_to_dot_and_a_long_one_is_tiled():
    short, _, _ = lstm(TILE_STEPS)
    pic = viz.picture(short)
    assert not pic.layout.tiled and "layout=nop2" not in pic.dot and not re.search(POS, pic.dot)
    long, _, _ = lstm(TILE_STEPS + 1)
    pic = viz.picture(long)
    assert pic.layout.tiled and "layout=nop2" in pic.dot
    statements = [s for s in pic.dot.splitlines()[4:-1] if s != "}" and not s.startswith(
        ("subgraph", "id=", "labelloc"))]
    assert statements and all(re.search(POS, s) for s in statements)   # every node, every edge
    assert len(positions(pic.dot)) == len(pic.layout.items)


@pytest.mark.parametrize("rankdir", ["LR", "TB", "RL", "BT"])
def test_the_steps_run_in_rows_that_wrap(rankdir):
    loss, _, _ = elman(60)
    pic = viz.picture(loss, rankdir=rankdir)
    at = boxes(pic.dot)
    assert sorted(at) == list(range(60))
    for t in at:                                          # no two step boxes overlap
        assert not any(overlap(at[t], at[u]) for u in at if u < t)
    centre = {t: ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for t, b in at.items()}
    along = {"LR": (1, 0), "RL": (-1, 0), "TB": (0, -1), "BT": (0, 1)}[rankdir]
    across = {"LR": (0, -1), "RL": (0, -1), "TB": (1, 0), "BT": (1, 0)}[rankdir]
    ahead = lambda t: sum((centre[t + 1][i] - centre[t][i]) * along[i] for i in (0, 1))   # noqa: E731
    side = lambda t: sum((centre[t + 1][i] - centre[t][i]) * across[i] for i in (0, 1))   # noqa: E731
    wraps = [t for t in range(59) if ahead(t) < 0]
    assert 2 <= len(wraps) <= 20                          # several rows, each several steps long
    for t in range(59):
        if t in wraps:
            assert side(t) > 0                            # the next row
        else:
            assert ahead(t) > 0 and abs(side(t)) < 1      # the next step of the row
    width = max(b[2] for b in at.values()) - min(b[0] for b in at.values())
    height = max(b[3] for b in at.values()) - min(b[1] for b in at.values())
    assert 0.7 < width / height < 6                       # a screen's shape, not a ribbon


def test_one_box_per_step_reaches_each_step_through_stand_ins():
    loss, _, _ = lstm(40)
    pic = viz.picture(loss, collapse=1)
    lay = pic.layout
    groups = [i for i in lay.items.values() if i.kind == "group"]
    assert sorted(i.unit[1] for i in groups) == list(range(40))       # one box per step
    units = {}
    for e in lay.edges.values():
        for a, b in ((e.src, e.dst), (e.dst, e.src)):
            units.setdefault(a, set()).add(lay.items[b].unit)
    # no node is wired to more than its own step and the ones next to it
    assert max(len(u - {None}) for u in units.values()) <= 3
    assert all(i.kind != "proxy" or i.unit is not None for i in lay.items.values())


def test_the_folded_old_steps_are_the_first_box_of_their_row():
    loss, _, _ = lstm(80, H=2)
    pic = viz.picture(loss, max_nodes=900)
    lay = pic.layout
    assert lay.keep_steps and lay.tiled
    folded = next(i for i in lay.items.values() if i.kind == "group")
    assert folded.unit == ("lstm", None)
    at, first = positions(pic.dot), min(boxes(pic.dot).items())
    assert at[folded.id][0] < first[1][0]                  # left of the first drawn step


def test_folding_takes_in_the_steps_collapsed_into_one_node():
    # one box per step, more steps than the budget: the oldest are folded, not the picture rolled
    loss, _, _ = lstm(30, H=2)
    pic = viz.picture(loss, collapse=1, max_nodes=20)
    assert not pic.layout.rolled and pic.layout.keep_steps >= 2
    assert "the oldest time steps are folded" in pic.notes[0]
    assert pic.layout.size <= 20


@pytest.mark.parametrize("options", [
    dict(), dict(collapse=1), dict(collapse=2), dict(collapse=["forget_gate"]),
    dict(color_by="grad"), dict(edge_labels="local"), dict(edge_labels="shape"),
    dict(rankdir="TB", collapse=1), dict(show=("name",)), dict(max_nodes=900)])
def test_every_option_draws_a_tiled_picture(tmp_path, options):
    loss, _, _ = lstm(60 if "max_nodes" in options else 24)
    pic = viz.picture(loss, **options)
    assert pic.layout.tiled and "layout=nop2" in pic.dot
    path = str(tmp_path / "long.svg")
    viz.render(loss, path, **options)
    root = ET.parse(path).getroot()
    drawn = {g.get("id") for g in root.iter(SVG + "g") if "node" in (g.get("class") or "").split()}
    assert drawn - {"legend"} == set(pic.layout.items)
    if options.get("color_by") == "grad":
        assert 'id="legend"' in pic.dot and "legend" in positions(pic.dot)
    if options.get("edge_labels"):
        labels = re.findall(r" -> .*label=.* lp=", pic.dot)
        assert len(labels) >= 24                          # labels keep their places


def test_a_highlighted_path_runs_through_the_tiled_steps():
    loss, p, _ = lstm(20)
    pic = viz.picture(loss, highlight=(p["weight_hh"], loss))
    red = [s for s in pic.dot.splitlines() if " -> " in s and 'class="path"' in s]
    between = [s for s in red if "in_" not in s and re.search(r"weight=8", s)]
    assert between and all(re.search(POS, s) for s in red)   # the chain from step to step is red
    assert any("paths from weight_hh to L" in n or "from weight_hh" in n for n in pic.notes)


def test_forward_mode_and_a_rolled_picture_of_a_long_chain():
    loss, p, x = lstm(30)
    pic = viz.picture(loss, mode="forward", wrt=p["bias"])
    assert pic.layout.tiled and "∂%7/∂bias" not in pic.dot and "/∂bias" in pic.dot
    rolled = viz.picture(loss, rolled=True)
    assert not rolled.layout.tiled and "layout=nop2" not in rolled.dot    # one step: dot's own


WITHOUT_DOT = """
import sys
sys.path[:0] = [%r, %r]
import viz
from test_viz_models import lstm
loss, _, _ = lstm(30)
pic = viz.picture(loss)
assert pic.layout.tiled and "layout=nop2" not in pic.dot and "pos=" not in pic.dot
print("plain")
""" % (ROOT, os.path.join(ROOT, "tests"))


def test_without_graphviz_a_long_chain_gets_the_plain_text(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", WITHOUT_DOT], env=env, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "plain"


SAME = """
import sys, hashlib
sys.path[:0] = [%r, %r]
import viz
from render import lstm_model_loss
loss = lstm_model_loss(40)
text = viz.picture(loss).dot + viz.picture(loss, collapse=1, rankdir="TB").dot
print(hashlib.sha256(text.encode()).hexdigest())
""" % (ROOT, os.path.join(ROOT, "benchmarks"))


def test_a_tiled_picture_is_the_same_text_in_other_processes():
    digests = set()
    for seed in ("0", "7"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run([sys.executable, "-c", SAME], env=env, capture_output=True,
                             text=True, check=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1


@pytest.mark.slow
@pytest.mark.parametrize("T", [500, 1000])
@pytest.mark.parametrize("options", [dict(collapse=1), dict()], ids=["one box per step", "default"])
def test_long_sequences_draw_in_seconds(tmp_path, T, options):
    # the target is 10 s on one idle core; the bound is generous so that a loaded machine passes
    loss = lstm_model_loss(T)
    start = time.perf_counter()
    path = viz.render(loss, str(tmp_path / "long.svg"), **options)
    took = time.perf_counter() - start
    assert took < 60, "%.1f s" % took
    root = ET.parse(path).getroot()
    classes = [(g.get("class") or "").split() for g in root.iter(SVG + "g")]
    if options:
        groups = [c for c in classes if "group" in c]
        assert len(groups) == T + 1                       # a box per step, and the input projection
    else:
        steps = [c for c in classes if "step" in c]
        assert 40 <= len(steps) <= 60                     # the newest steps, the rest folded
