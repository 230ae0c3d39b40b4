"""User text in pictures: names and scopes are drawn exactly as text in the SVG that Graphviz
writes (labels, tooltips, ids, the legend, the notes) and in the HTML player, the DOT text stays
valid whatever they hold, and the listing keeps one line per node."""
import html
import json
import re
import shutil
import xml.etree.ElementTree as ET

import pytest

import autograph as ag
import viz

SVG = "{http://www.w3.org/2000/svg}"
TITLE = "{http://www.w3.org/1999/xlink}title"
pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")

# (name, the lines a picture draws, the name on one line as the player writes it, and as the
# listing quotes it)
CASES = [
    ("a&amp;b", ["a&amp;b"], "a&amp;b", '"a&amp;b"'),
    ("a&b &lt; &#38; &#x26;", ["a&b &lt; &#38; &#x26;"], "a&b &lt; &#38; &#x26;",
     '"a&b &lt; &#38; &#x26;"'),
    ("<b>bold <script>alert(1)", ["<b>bold <script>alert(1)"], "<b>bold <script>alert(1)",
     '"<b>bold <script>alert(1)"'),                        # no "/": it would nest scopes
    ('quote " \\N \\G \\l back\\', ['quote " \\N \\G \\l back\\'], 'quote " \\N \\G \\l back\\',
     '"quote \\" \\\\N \\\\G \\\\l back\\\\"'),
    ("nul\x00byte", ["nul\\x00byte"], "nul\\x00byte", '"nul\\x00byte"'),
    ("esc\x1b[31mred\x7f", ["esc\\x1b[31mred\\x7f"], "esc\\x1b[31mred\\x7f",
     '"esc\\x1b[31mred\\x7f"'),
    ("tab\tsep\u2028lone\udc80", ["tab\\tsep\\u2028lone\\udc80"], "tab\\tsep\\u2028lone\\udc80",
     '"tab\\tsep\\u2028lone\\udc80"'),
    ("two\nlines", ["two", "lines"], "two\\nlines", '"two\\nlines"'),
    ("cr\rand\r\ncrlf", ["cr", "and", "crlf"], "cr\\rand\\r\\ncrlf", '"cr\\rand\\r\\ncrlf"'),
    ("华联 购物 ‖∂h‖", ["华联 购物 ‖∂h‖"], "华联 购物 ‖∂h‖", '"华联 购物 ‖∂h‖"'),
]


def named_graph():
    """x_i * x_i inside scope name_i, for every case, summed; x_i and the product named name_i."""
    total, leaves, products = None, [], []
    for i, (name, _, _, _) in enumerate(CASES):
        x = ag.tensor(float(i + 1), dtype="float64", requires_grad=True, name=name)
        with ag.scope(name):
            y = x * x
        y.name = name
        leaves.append(x)
        products.append(y)
        total = y if total is None else total + y
    return total, leaves, products


def texts(el):
    return [t.text or "" for t in el.iter(SVG + "text")]


def by_id(root):
    return {g.get("id"): g for g in root.iter(SVG + "g") if g.get("id")}


def listing_line(s):
    # Graphviz writes the second of two spaces as a no-break space (the listing's separators)
    return s.replace("\xa0", " ")


def test_names_and_scopes_are_drawn_exactly_and_the_dot_stays_valid(tmp_path):
    total, leaves, products = named_graph()
    path = tmp_path / "names.svg"
    viz.render(total, str(path), show=("name",))       # dot fails on a DOT text it cannot read
    root = ET.parse(str(path)).getroot()               # and the SVG is well-formed XML
    pic = viz.picture(total, show=("name",))
    groups = by_id(root)
    listing = viz.to_text(total).splitlines()
    boxes = [texts(g) for key, g in groups.items() if key.startswith("box_")]
    for (name, lines, _, _), x, y in zip(CASES, leaves, products):
        for t in (x, y):
            k = pic.graph.number(t)
            node = groups[pic.ids[k][0]]
            assert texts(node) == lines, name
            tooltip = next(a.get(TITLE) for a in node.iter(SVG + "a"))
            assert listing_line(tooltip) == listing[k]
        assert lines in boxes, name                        # the scope's box
    assert len(listing) == len(pic.graph)                  # one line per node
    for (_, _, _, quoted), x in zip(CASES, leaves):
        k = pic.graph.number(x)
        assert listing[k] == "%%%d = input %s : f64[]" % (k, quoted)


@pytest.mark.parametrize("name, lines, one_line, _", CASES[:1] + CASES[3:5] + CASES[7:8])
def test_the_legend_the_notes_and_the_step_ids_draw_names_exactly(tmp_path, name, lines, one_line, _):
    x = ag.tensor(2.0, dtype="float64", requires_grad=True, name=name)
    with ag.scope(name, t=0):
        y = x * x
    y.name = name
    path = tmp_path / "legend.svg"
    viz.render(y, str(path), color_by="grad", highlight=(x, y))
    root = ET.parse(str(path)).getroot()
    drawn = "\n".join(lines)
    legend = texts(by_id(root)["legend"])
    assert "\n".join(legend[:len(lines)]) == "‖∂%s/∂·‖" % drawn
    notes = "\n".join(t.text for t in root.find(SVG + "g").findall(SVG + "text"))
    assert notes.startswith("2 paths from %s to %s; the sum of the path products is d%s/d%s\n"
                            % ((drawn,) * 4))
    assert "step_%s_0" % "_".join(one_line.replace("\\n", " ").split()) in by_id(root)


def test_the_player_shows_names_exactly(tmp_path):
    total, leaves, _ = named_graph()
    total.name = CASES[4][0]                               # a NUL byte in the page's title
    page = viz.export_player(total, tmp_path / "p.html")
    text = page.read_text(encoding="utf-8")
    assert "\x00" not in text
    title = re.search(r"<h1>(.*?)</h1>", text, re.S).group(1)
    assert html.unescape(title) == "Backward pass of nul\\x00byte"
    svg = ET.fromstring(text[text.index("<svg"):text.index("</svg>") + 6])
    data = json.loads(re.search(r'<script id="player-data" type="application/json">(.*?)</script>',
                                text, re.S).group(1))
    pic = viz.picture(total, show=("name", "shape"), max_nodes=600)
    groups = by_id(svg)
    for (name, lines, one_line, _), x in zip(CASES, leaves):
        node_id = pic.ids[pic.graph.number(x)][0]
        assert texts(groups[node_id])[:len(lines)] == lines
        assert data["nodes"][node_id]["what"] == "%s = input []" % one_line
