"""viz: rendering with Graphviz, escaping of user names, determinism across processes, and what
happens without Graphviz."""
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

import autograph as ag
import viz
from test_viz_models import chapter_example, lstm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SVG = "{http://www.w3.org/2000/svg}"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")


@needs_dot
def test_render_svg_parses_and_carries_ids_classes_tooltips(tmp_path):
    loss, _, _ = lstm(2)
    path = str(tmp_path / "lstm.svg")
    assert viz.render(loss, path) == path
    root = ET.parse(path).getroot()
    groups = {g.get("id"): g.get("class") for g in root.iter(SVG + "g") if g.get("id")}
    pic = viz.picture(loss)
    for k, ids in pic.ids.items():
        for i in ids:
            assert "n%d" % k in groups[i].split()       # each tensor's nodes are findable
    assert any("step" in (c or "").split() for c in groups.values())
    titles = [a.get("{http://www.w3.org/1999/xlink}title") for a in root.iter(SVG + "a")]
    assert any(t and t.startswith("%") for t in titles)   # tooltips are the listing's lines


@needs_dot
@pytest.mark.parametrize("suffix", [".png", ".pdf", ".dot"])
def test_render_other_formats(tmp_path, suffix):
    e, _, _ = chapter_example()
    path = tmp_path / ("e" + suffix)
    viz.render(e, str(path))
    head = path.read_bytes()[:8]
    assert head.startswith({".png": b"\x89PNG", ".pdf": b"%PDF", ".dot": b"digraph"}[suffix])


def test_unknown_suffix_is_refused(tmp_path):
    e, _, _ = chapter_example()
    with pytest.raises(ValueError, match=".svg"):
        viz.render(e, str(tmp_path / "e.jpeg2000"))


@needs_dot
def test_user_names_are_escaped(tmp_path):
    evil = '<script>alert(1)</script> "quoted" \\N back\\slash'
    x = ag.tensor(2.0, requires_grad=True, name=evil)
    with ag.scope(evil):
        y = x * x
    y.name = evil
    path = str(tmp_path / "evil.svg")
    viz.render(y, path, color_by="grad", edge_labels="shape")
    text = open(path, encoding="utf-8").read()
    assert "<script" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    root = ET.parse(path).getroot()                     # still well-formed XML
    assert not list(root.iter(SVG + "script"))
    labels = "".join(t.text or "" for t in root.iter(SVG + "text"))
    assert evil.split(" ")[0] in labels and '"quoted"' in labels and "\\N" in labels
    assert evil in viz.to_text(y).replace('\\"', '"').replace("\\\\", "\\")


SCRIPT = """
import sys, hashlib
sys.path[:0] = [%r, %r]
import viz
from test_viz_models import elman, lstm
loss, _, _ = lstm(3)
rnn, _, _ = elman(4)
text = viz.picture(loss, color_by="grad", edge_labels="local").dot + viz.picture(rnn, rolled=True).dot
text += viz.picture(loss, collapse=2).dot + viz.to_text(loss)
print(hashlib.sha256(text.encode()).hexdigest())
""" % (ROOT, os.path.join(ROOT, "tests"))


def test_same_program_same_dot_text_in_other_processes():
    digests = set()
    for seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                             text=True, check=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1


MISSING = """
import sys
sys.path[:0] = [%r, %r]
import viz
from test_viz_models import chapter_example
e, _, _ = chapter_example()
assert viz.to_text(e).startswith("%%0 = input")
viz.render(e, sys.argv[1] + "/e.dot")
try:
    viz.render(e, sys.argv[1] + "/e.svg")
except viz.GraphvizMissing as err:
    print(err)
""" % (ROOT, os.path.join(ROOT, "tests"))


def test_without_graphviz_dot_text_works_and_rendering_says_what_to_install(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    env = dict(os.environ, PATH=str(empty))
    out = subprocess.run([sys.executable, "-c", MISSING, str(tmp_path)], env=env,
                         capture_output=True, text=True, check=True)
    assert "'dot'" in out.stdout and "apt-get install graphviz" in out.stdout
    assert "brew install graphviz" in out.stdout
    assert (tmp_path / "e.dot").read_text().startswith("digraph")
    assert not (tmp_path / "e.svg").exists()


def test_a_dot_run_that_overruns_is_stopped(tmp_path, monkeypatch):
    slow = tmp_path / "dot"
    slow.write_text("#!/bin/sh\nexec %s 30\n" % shutil.which("sleep"))
    slow.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    e, _, _ = chapter_example()
    with pytest.raises(viz.RenderError, match="longer than 0.5 s"):
        viz.render(e, str(tmp_path / "e.svg"), timeout=0.5)
    assert not (tmp_path / "e.svg").exists()


def test_dot_is_not_started_on_a_picture_too_big_to_lay_out(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules["viz.render"], "LAYOUT_LIMIT", 20)   # the module, not the function
    loss, _, _ = lstm(3)
    with pytest.raises(viz.RenderError, match="more than dot lays out in seconds"):
        viz.render(loss, str(tmp_path / "big.svg"), max_nodes=None)
    viz.render(loss, str(tmp_path / "big.dot"), max_nodes=None)       # the text is always fine
    assert not (tmp_path / "big.svg").exists()


def test_to_text_listing():
    e, a, b = chapter_example()
    assert viz.to_text(e) == (
        '%0 = input "a" : f64[]\n'
        '%1 = input "b" : f64[]\n'
        '%2 = add %0 %1 : f64[]  "c"\n'
        '%3 = const 1 : f64[]\n'
        '%4 = add %1 %3 : f64[]  "d"\n'
        '%5 = mul %2 %4 : f64[]  "e"\n')
    loss, _, _ = lstm(1)
    lines = viz.to_text(loss).splitlines()
    assert "%15 = sigmoid %14 : f64[1,3]  lstm[t=0]/forget_gate" in lines
    assert "%12 = getitem %11 index=[:, 0:3] : f64[1,3]  lstm[t=0]/input_gate" in lines
    assert "%26 = sum %25 : f64[]" in lines            # stack of one output: a reshape
