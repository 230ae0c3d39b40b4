"""viz: pictures of recorded graphs.

    import viz
    viz.draw(loss)                          # a graphviz.Digraph; shows inline in Jupyter
    viz.render(loss, "graph.svg", rolled=True)
    print(viz.to_text(loss))                # SSA-style listing, no Graphviz needed
    viz.plot_grad_norms(viz.grad_norms(loss), "norms.png")   # a matplotlib Figure, saved
    viz.plot_jacobian_spectrum(viz.jacobian_spectrum(loss))   # singular values of ∂s_t/∂s_t-1

Variables are nodes (name, shape, small values, gradient), each op a small node in front of the
variable it makes. Time steps (scopes tagged ``t=k``) are boxes; big graphs are folded to fit
``max_nodes`` with a note saying what was folded.
"""
from .dot import draw, picture
from .norms import grad_norms, plot_grad_norms
from .render import GraphvizMissing, RenderError, render
from .spectrum import jacobian_spectrum, plot_jacobian_spectrum
from .text import to_text

__all__ = ["draw", "render", "to_text", "grad_norms", "plot_grad_norms", "jacobian_spectrum",
           "plot_jacobian_spectrum", "export_player", "picture", "RenderError", "GraphvizMissing"]


def __getattr__(name):
    # The HTML player builds on the pictures; imported on first use.
    if name == "export_player":
        from .player import export_player
        return export_player
    raise AttributeError("module 'viz' has no attribute %r" % name)
