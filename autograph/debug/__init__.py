"""Step-through debugging of gradients: the backward pass one node at a time.

    from autograph import debug
    s = debug.step_backward(loss)          # nothing runs until you step
    step = next(s)                         # the loss itself: grad_out is 1
    s.breakpoints.add("scope:lstm[t=3]*")
    hit = s.run()                          # the first node of time step 3 that backward reaches
    s.finish()                             # the rest: .grad exactly as loss.backward() leaves it
    print(debug.explain(e, b))             # the chain rule path by path
    debug.interact(loss)                   # the same as a pdb-like prompt

The debugger is a client of the engine: the stepper is the engine's own backward loop, explain
uses the table's own rules. ``stepper`` holds steps and breakpoints, ``explain`` the chain rule
as text, ``text`` how numbers and nodes are written, ``prompt`` the REPL.
"""
from .explain import explain
from .prompt import Debugger, interact
from .stepper import Accumulated, Breakpoints, Step, Stepper, breakpoint_test, glob, step_backward
from .text import describe, label, norm, num, shape_text, stats
