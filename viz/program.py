"""Graphviz's ``dot`` program: found on the PATH, and run with a time limit so that a picture too
big to lay out stops with a message instead of hanging."""
import shutil
import subprocess

from autograph.errors import AutogradError

TIMEOUT = 60.0


class RenderError(AutogradError):
    """A picture could not be rendered (Graphviz missing, too slow, or failing)."""


class GraphvizMissing(RenderError):
    """The Graphviz ``dot`` program is not installed or not on the PATH."""


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
