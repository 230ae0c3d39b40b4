"""Writing pictures to files: DOT text directly, everything else through Graphviz's ``dot``,
run with a time limit so that a picture too big to lay out stops with a message instead of
hanging."""
import os
import shutil
import subprocess

from autograph.errors import AutogradError
from autograph.files import write_atomic

from .dot import picture

FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}
TIMEOUT = 60.0
LAYOUT_LIMIT = 10000    # drawn nodes; dot 2.43 takes ~7 s for 7,000 nodes of an unrolled LSTM


class RenderError(AutogradError):
    """A picture could not be rendered (Graphviz missing, too slow, or failing)."""


class GraphvizMissing(RenderError):
    """The Graphviz ``dot`` program is not installed or not on the PATH."""


def render(output, path, *, timeout=TIMEOUT, **options):
    """Draw ``output``'s graph into ``path``; the format comes from the suffix (.svg .png .pdf
    .dot). ``options`` are those of ``viz.draw``. Returns the path."""
    fmt = format_of(path)
    pic = picture(output, **options)
    n = len(pic.layout.items)
    if fmt != "dot" and n > LAYOUT_LIMIT:
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


def dot_program():
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizMissing(
            "viz.render: the Graphviz program 'dot' was not found on the PATH, and it is needed "
            "to make SVG, PNG or PDF; install Graphviz (Debian/Ubuntu: sudo apt-get install "
            "graphviz; macOS: brew install graphviz; conda: conda install graphviz). Without it "
            "you can still write the DOT text (viz.render(out, 'graph.dot')) or use viz.to_text")
    return exe


def run_dot(source, fmt, timeout=TIMEOUT, nodes=None):
    """``dot -T<fmt>`` on the DOT text; the run is stopped after ``timeout`` seconds."""
    exe = dot_program()
    try:
        done = subprocess.run([exe, "-T" + fmt], input=source.encode("utf-8"),
                              capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RenderError(
            "viz.render: Graphviz 'dot' took longer than %g s to lay out a picture of %s nodes "
            "and was stopped; draw less (rolled=True, collapse=1, a smaller max_nodes), raise "
            "timeout=, or write the .dot text" % (timeout, nodes if nodes is not None else "many")) from None
    if done.returncode != 0:
        raise RenderError("viz.render: Graphviz 'dot -T%s' failed (exit %d): %s"
                          % (fmt, done.returncode, done.stderr.decode("utf-8", "replace").strip()))
    return done.stdout
