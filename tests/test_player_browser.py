"""The player in a real headless browser: clicks on "step" mark nodes visited, "back" undoes one,
user names stay text; on a long sequence the picture zooms, pans, goes to a node or a time step
and keeps the current node in view. Skips when no Chromium/Chrome is installed."""
import html
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

import autograph as ag
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


# -- a long sequence: pan, zoom, go to a node or a time step ----------------------------------
T_LONG = 120
WINDOW = "--window-size=1400,900"


@pytest.fixture(scope="module")
def long_pages(tmp_path_factory):
    """An Elman RNN over 120 steps: drawn in full, and with the old steps folded."""
    import nets
    ag.manual_seed(0)
    x = np.random.default_rng(0).standard_normal((T_LONG, 2, 3)).astype(np.float32)
    out, _ = nets.RNN(3, 4)(x)
    loss = (out * out).mean()
    loss.name = "loss"
    where = tmp_path_factory.mktemp("long")
    return (viz.export_player(loss, where / "full.html", max_nodes=5000),
            viz.export_player(loss, where / "folded.html", max_nodes=300))


@pytest.fixture(scope="module")
def first_view(long_pages, tmp_path_factory):
    """The page of the full picture as it opens."""
    return browse(long_pages[0], "", tmp_path_factory.mktemp("first"), WINDOW, "--dump-dom")


def view_of(dom):
    """(dx, dy, scale) of the picture in the page, and the picture area's (width, height)."""
    m = re.search(r'<svg [^>]*style="transform: translate\((-?[\d.]+)px, (-?[\d.]+)px\) '
                  r'scale\(([\d.]+)\);"', dom)
    size = re.search(r'<div id="graph" [^>]*data-size="(\d+)x(\d+)"', dom)
    return tuple(map(float, m.groups())), tuple(map(int, size.groups()))


def on_screen(dom, element_id):
    """The box (x0, y0, x1, y1) that an SVG element covers in the picture area, in pixels:
    its outline's points, through Graphviz's translate and the page's transform."""
    (dx, dy, s), _ = view_of(dom)
    ox, oy = map(float, re.search(r'<g id="graph0" [^>]*translate\(([\d.]+) ([\d.]+)\)', dom).groups())
    start = depth = dom.index('<g id="%s"' % element_id)
    for tag in re.finditer(r"<g[ >]|</g>", dom[start:]):
        depth = depth + 1 if tag.group() != "</g>" else depth - 1
        if depth == start:
            part = dom[start:start + tag.end()]
            break
    outline = " ".join(re.findall(r' (?:d|points)="([^"]*)"', part))
    pts = [tuple(map(float, p)) for p in re.findall(r"(-?[\d.]+),(-?[\d.]+)", outline)]
    for cx, cy, rx, ry in re.findall(r'<ellipse [^>]*cx="(-?[\d.]+)" cy="(-?[\d.]+)" rx="([\d.]+)" '
                                     r'ry="([\d.]+)"', part):
        pts += [(float(cx) - float(rx), float(cy) - float(ry)), (float(cx) + float(rx), float(cy) + float(ry))]
    xs = [dx + s * (x + ox) for x, _ in pts]
    ys = [dy + s * (y + oy) for _, y in pts]
    return min(xs), min(ys), max(xs), max(ys)


def inside(box, size):
    return box[0] >= 0 and box[1] >= 0 and box[2] <= size[0] and box[3] <= size[1]


def status_of(dom):
    return html.unescape(re.search(r'<div id="status">(.*?)</div>', dom, re.S).group(1))


def test_the_long_picture_zooms_with_the_wheel_and_the_buttons(long_pages, first_view, tmp_path):
    page = long_pages[0]
    (x0, y0, s0), _ = view_of(first_view)
    (_, _, s1), _ = view_of(browse(page, "press=zoomin,zoomin", tmp_path, WINDOW, "--dump-dom"))
    assert s1 == pytest.approx(s0 * 1.25 ** 2, rel=1e-3)
    (x2, y2, s2), size = view_of(browse(page, "wheel=-300", tmp_path, WINDOW, "--dump-dom"))
    assert s2 == pytest.approx(s0 * 1.002 ** 300, rel=1e-3)            # wheel up: closer
    # about the middle of the picture area: the point there stays where it was
    mid = size[0] / 2, size[1] / 2
    assert (mid[0] - x2) / s2 == pytest.approx((mid[0] - x0) / s0, abs=0.5)
    assert (mid[1] - y2) / s2 == pytest.approx((mid[1] - y0) / s0, abs=0.5)
    (_, _, s3), _ = view_of(browse(page, "press=zoomout,zoomout,zoomout", tmp_path, WINDOW, "--dump-dom"))
    assert s3 == pytest.approx(s0 * 0.8 ** 3, rel=1e-3)


def test_the_long_picture_pans_by_dragging(long_pages, first_view, tmp_path):
    page = long_pages[0]
    (x0, y0, s0), _ = view_of(first_view)
    (x1, y1, s1), _ = view_of(browse(page, "drag=-250,120", tmp_path, WINDOW, "--dump-dom"))
    assert (x1 - x0, y1 - y0, s1) == pytest.approx((-250, 120, s0))


def test_going_to_a_time_step_shows_its_nodes(long_pages, first_view, tmp_path):
    page = long_pages[0]
    data = page.read_text(encoding="utf-8")
    step = re.search(r'<g id="(step_\w+_110)" class="cluster step t110">', data).group(1)
    nodes = re.findall(r'<g id="(v\d+)" class="node var n\d+ t110">', data)
    assert nodes
    _, size = view_of(first_view)
    assert not inside(on_screen(first_view, step), size)    # not in view at first
    dom = browse(page, "goto=t%3D110", tmp_path, WINDOW, "--dump-dom")
    assert status_of(dom).startswith("t=110: 1 step box")
    assert inside(on_screen(dom, step), size)
    for v in nodes:
        assert inside(on_screen(dom, v), size)
    assert re.search(r'<g id="%s" class="cluster step t110 found">' % step, dom)


def test_going_to_a_folded_step_shows_the_node_it_is_folded_into(long_pages, tmp_path):
    page = long_pages[1]
    data = page.read_text(encoding="utf-8")
    folded = re.search(r'<g id="(g\d+)" class="node group[^"]*">\s*<title>g\d+</title>\s*'
                       r'<g id="a_g\d+"><a xlink:title="rnn\[t=0…(\d+)\]', data)
    assert int(folded.group(2)) > 5
    dom = browse(page, "goto=t%3D5", tmp_path, WINDOW, "--dump-dom")
    assert "t=5 is folded into one node" in status_of(dom)
    assert inside(on_screen(dom, folded.group(1)), view_of(dom)[1])
    assert re.search(r'<g id="%s" class="node group[^"]* found">' % folded.group(1), dom)


def test_going_to_a_node_by_name_or_number(long_pages, tmp_path):
    page = long_pages[0]
    data = json.loads(re.search(r'<script id="player-data" type="application/json">(.*?)</script>',
                                page.read_text(encoding="utf-8"), re.S).group(1))
    k = data["names"]["loss"][0]                         # the last node, the one named
    assert data["numbers"][str(k)] == ["v%d" % k] and data["nodes"]["v%d" % k]["what"] == "loss = mul []"
    for query, node, said in (("loss", "v%d" % k, "loss: 1 of 1, %%%d" % k), ("%2550", "v50", "%50 (")):
        dom = browse(page, "goto=" + query, tmp_path, WINDOW, "--dump-dom")
        assert re.findall(r'<g id="(\w+)" class="node [^"]* found">', dom) == [node]
        assert inside(on_screen(dom, node), view_of(dom)[1])
        assert status_of(dom).startswith(said)
    dom = browse(page, "goto=nothing_like_it", tmp_path, WINDOW, "--dump-dom")
    assert status_of(dom).startswith("no node named nothing_like_it")


def test_the_current_node_stays_in_view_as_backward_steps_on(long_pages, tmp_path):
    page = long_pages[0]
    for clicks in (1, 150):
        dom = browse(page, "clicks=%d" % clicks, tmp_path, WINDOW, "--dump-dom")
        current = re.findall(r'<g id="(\w+)" class="node [^"]*current[^"]*">', dom)
        assert len(current) == 1, clicks
        assert inside(on_screen(dom, current[0]), view_of(dom)[1]), clicks
