"""The player in a real headless browser: clicks on "step" mark nodes visited, "back" undoes one,
user names stay text. Skips when no Chromium/Chrome is installed."""
import re
import shutil
import subprocess

import pytest

import viz

from test_debug import example1

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = next((b for b in map(shutil.which, BROWSERS) if b), None)
pytestmark = [
    pytest.mark.skipif(BROWSER is None, reason="no headless browser found (looked for %s); "
                                               "install chromium to run the player's browser test"
                       % ", ".join(BROWSERS)),
    pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed"),
]
EVIL = "<script>alert(1)</script>"


def browse(page, fragment, tmp_path, *extra):
    """Run the browser headless on page#fragment with ``extra`` flags; return its stdout."""
    cmd = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--mute-audio",
           "--user-data-dir=%s" % (tmp_path / "profile"), "--virtual-time-budget=3000", *extra,
           "%s#%s" % (page.as_uri(), fragment)]
    done = subprocess.run(cmd, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")[-2000:]
    return done.stdout.decode("utf-8")


def node_classes(dom):
    return [c.split() for c in re.findall(r'<g id="[^"]+" class="(node [^"]*)"', dom)]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    _, _, e = example1(EVIL)
    return viz.export_player(e, tmp_path_factory.mktemp("player") / "backprop.html")


@pytest.mark.parametrize("clicks", [0, 1, 3, 5])
def test_n_clicks_on_step_mark_exactly_n_nodes_visited(page, tmp_path, clicks):
    dom = browse(page, "clicks=%d" % clicks, tmp_path, "--dump-dom")
    classes = node_classes(dom)
    assert len(classes) == 8                              # 5 variables and 3 op nodes drawn
    assert sum("visited" in c for c in classes) == clicks
    assert sum("current" in c for c in classes) == (1 if clicks else 0)
    status = re.search(r'<div id="status">(.*?)</div>', dom, re.S).group(1)
    if clicks:
        assert status.startswith("step %d / 5: " % clicks)
    else:
        assert status.startswith("before the first step")


def test_back_undoes_one_step_and_the_order_is_backwards(page, tmp_path):
    dom = browse(page, "press=step,step,step,back", tmp_path, "--dump-dom")
    visited = [c for c in node_classes(dom) if "visited" in c]
    assert len(visited) == 2
    status = re.search(r'<div id="status">(.*?)</div>', dom, re.S).group(1)
    assert status.startswith("step 2 / 5: d = add")        # e first, then d (newest first)
    assert re.search(r'class="node var n\d+ visited current"', dom)


def test_names_stay_text_in_the_browser(page, tmp_path):
    dom = browse(page, "clicks=5", tmp_path, "--dump-dom")
    assert "alert(1)" in dom                               # the name is shown ...
    assert "<script>alert" not in dom                      # ... never as an element
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom


def test_a_screenshot_of_the_player_after_a_few_steps(page, tmp_path):
    shot = tmp_path / "player.png"
    browse(page, "clicks=3", tmp_path, "--screenshot=%s" % shot, "--window-size=1000,420")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_hovering_a_node_shows_its_value_gradient_and_shape(page, tmp_path):
    data = page.read_text(encoding="utf-8")
    vid = re.search(r'<g id="(v\d+)" class="node var n\d+ param">\s*<title>v\d+</title>\s*'
                    r'<g id="a_v\d+"><a xlink:title="[^"]*&quot;b&quot;', data).group(1)
    dom = browse(page, "clicks=4&hover=%s" % vid, tmp_path, "--dump-dom")
    info = re.search(r'<div id="info">(.*?)</div>', dom, re.S).group(1)
    assert info.splitlines() == ["b = input []", "shape []  float64", "value 1", "grad  5"]
    dom = browse(page, "clicks=3&hover=%s" % vid, tmp_path, "--dump-dom")
    assert "grad  (backward has not reached it yet)" in dom


def test_user_text_reads_exactly_in_the_browser(tmp_path):
    """Names holding entities, backslash escapes, control characters and line breaks: the
    browser's own text of each node, of the hover panel and of the title."""
    import html
    from test_viz_escaping import CASES, named_graph
    total, leaves, _ = named_graph()
    total.name = CASES[4][0]
    page = viz.export_player(total, tmp_path / "names.html")
    pic = viz.picture(total, show=("name", "shape"), max_nodes=600)
    ids = [pic.ids[pic.graph.number(x)][0] for x in leaves]
    dom = browse(page, "hover=%s" % ids[3], tmp_path, "--dump-dom")
    for (name, lines, _, _), node_id in zip(CASES, ids):
        node = re.search(r'<g id="%s" class="node[^"]*">(.*?)</g>\s*</g>' % node_id, dom, re.S).group(1)
        drawn = [html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", node, re.S)]
        assert drawn[:len(lines)] == lines, name
    info = html.unescape(re.search(r'<div id="info">(.*?)</div>', dom, re.S).group(1))
    assert info.splitlines()[0] == CASES[3][2] + " = input []"
    title = html.unescape(re.search(r"<h1>(.*?)</h1>", dom, re.S).group(1))
    assert title == "Backward pass of " + CASES[4][2]
