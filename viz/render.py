"""Writing pictures to files: DOT text directly, everything else through Graphviz's ``dot``,
run with a time limit so that a picture too big to lay out stops with a message instead of
hanging. (A tiled picture, see ``viz.tiles``, comes laid out: ``dot`` only draws it.)"""
import os

from autograph.files import write_atomic

from .dot import picture
from .program import TIMEOUT, GraphvizMissing, RenderError, run_dot  # noqa: F401 (the public names)

FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}
LAYOUT_LIMIT = 10000    # drawn nodes; dot 2.43 takes ~7 s for 7,000 nodes of an unrolled LSTM
                        # (a tiled picture comes laid out: it has no such limit)


def render(output, path, *, timeout=TIMEOUT, **options):
    """Draw ``output``'s graph into ``path``; the format comes from the suffix (.svg .png .pdf
    .dot). ``options`` are those of ``viz.draw``. Returns the path."""
    fmt = format_of(path)
    pic = picture(output, **options)
    n = len(pic.layout.items)
    if fmt != "dot" and not pic.layout.tiled and n > LAYOUT_LIMIT:
        raise RenderError(
            "viz.render: the picture has %d nodes, more than dot lays out in seconds (%d); draw "
            "less (the default max_nodes=1500, rolled=True, collapse=1), or write the .dot text "
            "and run dot on it yourself" % (n, LAYOUT_LIMIT))
    data = pic.dot.encode("utf-8") if fmt == "dot" else run_dot(pic.dot, fmt, timeout, n)
    write_atomic(path, data)
    return path


def format_of(path):
    ext = os.path.splitext(str(path))[1].lower()
    if ext not in FORMATS:
        raise ValueError("viz.render: cannot tell the format of %r from its suffix; use one of %s"
                         % (str(path), ", ".join(FORMATS)))
    return FORMATS[ext]
