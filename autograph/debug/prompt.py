"""``interact``: a pdb-like prompt over the stepper (step, next, continue, break, print, where,
list, explain, render, quit).

Pictures are not the engine's business: ``render`` draws through a callback that the caller
supplies (the ``autograph debug`` command passes viz's), so nothing here imports viz.
"""
import cmd
import sys

from ..errors import AutogradError
from ..graph import walk
from ..modes import parse_scope
from .explain import explain
from .stepper import Stepper
from .text import describe, label, norm, num, stats


ALIASES = {"s": "step", "n": "next", "c": "continue", "cont": "continue", "b": "break",
           "p": "print", "w": "where", "bt": "where", "l": "list", "q": "quit", "exit": "quit",
           "EOF": "quit", "h": "help", "?": "help"}

class Debugger(cmd.Cmd):
    """A pdb-like prompt over a stepper. Type ``help`` for the commands."""

    prompt = "(agdb) "
    intro = ("Stepping through the backward pass of %s. Commands: step [n], next, continue, "
             "break SPEC, clear [N], print [node], where, list, explain, render FILE, quit "
             "(s n c b p w l q for short); help CMD for more.")

    def __init__(self, loss, stdin=None, stdout=None, render=None):
        super().__init__(stdin=stdin, stdout=stdout)
        self.render = render
        if stdin is not None:
            self.use_rawinput = False
        self.loss = loss
        self.stepper = Stepper(loss, retain_graph=True)
        self._nodes = None
        self.intro = self.intro % describe(loss)

    # -- helpers
    def say(self, text):
        self.stdout.write(text + "\n")

    def nodes(self):
        """{id: tensor} of the whole graph (built on first use: only the prompt needs it)."""
        if self._nodes is None:
            self._nodes = {t._id: t for t in walk([self.loss], constants=True, what="debug")}
        return self._nodes

    def show(self, step):
        self.say("[%d] %s" % (step.index, describe(step.node, step.grad_out)))

    def finished(self):
        leaves = sum(1 for s in self.stepper.steps if s.node._op is None)
        self.say("backward finished: %d steps, .grad set on %d leaves"
                 % (len(self.stepper.steps), leaves))

    def advance(self, test=None):
        """Step once, or until ``test`` or a breakpoint; print where it stopped."""
        s = self.stepper
        if s.done:
            self.finished()
            return
        step = s.run(until=test) if test is not None else next(s, None)
        if step is None:
            self.finished()
            return
        if s.hit is not None and s.hit[0]:
            self.say("breakpoint %d (%s) hit" % s.hit)
        self.show(step)

    def lookup(self, arg):
        """A node by id or by name (the current node when arg is empty)."""
        arg = arg.strip()
        if not arg:
            if self.stepper.current is None:
                self.say("no current node yet: type step")
            return self.stepper.current.node if self.stepper.current else None
        nodes = self.nodes()
        if arg.lstrip("#").isdigit() and int(arg.lstrip("#")) in nodes:
            return nodes[int(arg.lstrip("#"))]
        named = [t for t in nodes.values() if t.name == arg or label(t) == arg]
        if not named:
            self.say("no node %r in the graph; give an id (as in [3] mul#57) or a name" % arg)
            return None
        return named[0]

    # -- commands
    def do_step(self, arg):
        """step [n]: run n nodes of the backward pass (1 by default), stopping at breakpoints."""
        n = int(arg) if arg.strip().isdigit() else 1
        if n == 1:
            self.advance()
            return
        count = [0]

        def nth(step):
            count[0] += 1
            return count[0] >= n
        self.advance(nth)

    def do_next(self, arg):
        """next: run to the first node of the next time step (or the next scope)."""
        cur = self.stepper.current
        if cur is None:
            self.advance()
            return
        here = parse_scope(cur.scope)
        here = (here.track, here.t) if here.track is not None else cur.scope

        def elsewhere(st):
            s = parse_scope(st.scope)
            return (s.track, s.t) != here if isinstance(here, tuple) else st.scope != here
        self.advance(elsewhere)

    def do_continue(self, arg):
        """continue: run to the next breakpoint or the end."""
        s = self.stepper
        if s.done:
            self.finished()
            return
        step = s.run()
        if step is None:
            self.finished()
            return
        self.say("breakpoint %d (%s) hit" % s.hit)
        self.show(step)

    def do_break(self, arg):
        """break [SPEC]: add a breakpoint (nan, inf, norm>1e3, scope:lstm[t=3]*, name:h_5,
        op:tanh); without SPEC list them. clear N removes one."""
        arg = arg.strip()
        if not arg:
            listed = list(self.stepper.breakpoints)
            self.say("\n".join("%d: %s" % b for b in listed) if listed else "no breakpoints")
            return
        try:
            n = self.stepper.breakpoints.add(arg)
        except ValueError as err:
            self.say(str(err))
            return
        self.say("breakpoint %d: %s" % (n, arg))

    def do_clear(self, arg):
        """clear [N]: remove breakpoint N (all without N)."""
        if not arg.strip():
            self.stepper.breakpoints.clear()
            self.say("all breakpoints removed")
            return
        try:
            self.stepper.breakpoints.remove(int(arg))
            self.say("breakpoint %s removed" % arg.strip())
        except (KeyError, ValueError) as err:
            self.say(str(err).strip("'\""))

    def do_print(self, arg):
        """print [node]: value, gradient and their statistics (the current node by default;
        a node is an id or a name)."""
        t = self.lookup(arg)
        if t is None:
            return
        self.say(describe(t))
        self.say("  value: %s" % stats(t._data))
        g = self.stepper.grad(t)
        self.say("  grad:  %s" % (stats(g) if g is not None else
                                   "not complete yet (backward has not reached this node)"))

    def do_where(self, arg):
        """where: the path from the loss down to the current node."""
        t = self.lookup(arg)
        if t is None:
            return
        parent, queue = {self.loss._id: None}, [self.loss]
        for node in queue:                       # breadth first: the shortest path
            if node._id == t._id:
                break
            for x in node._inputs or ():
                if x._id not in parent:
                    parent[x._id] = node
                    queue.append(x)
        chain, k = [], t
        while k is not None:
            chain.append(k)
            k = parent.get(k._id)
        for depth, node in enumerate(reversed(chain)):
            self.say("%s%s" % ("  " * depth, describe(node, self.stepper.grad(node))))

    def do_list(self, arg):
        """list: the current node's inputs (with the gradient sent to each) and its consumers."""
        t = self.lookup(arg)
        if t is None:
            return
        self.say(describe(t, self.stepper.grad(t)))
        step = next((s for s in reversed(self.stepper.steps) if s.node is t), None)
        for i, x in enumerate(t._inputs or ()):
            sent = step.grad_inputs[i] if step is not None else None
            self.say("  input %d: %s%s" % (i, describe(x), "" if sent is None else
                                           "  ← sent ‖·‖ %s" % num(norm(sent))))
        users = [u for u in self.nodes().values() if any(x is t for x in u._inputs or ())]
        for u in users:
            self.say("  used by: %s" % describe(u, self.stepper.grad(u)))

    def do_explain(self, arg):
        """explain [node]: the chain rule from the node (the current one by default) to the loss."""
        t = self.lookup(arg)
        if t is not None:
            try:
                self.say(explain(self.loss, t))
            except AutogradError as err:
                self.say(str(err))

    def do_render(self, arg):
        """render FILE: an SVG of the graph, the current node highlighted and visited nodes
        coloured by their gradient."""
        path = arg.strip()
        if not path:
            self.say("render needs a file name, e.g. render graph.svg")
            return
        if self.render is None:
            self.say("render: no picture maker was given; start the debugger with "
                     "`autograph debug SCRIPT.py`, or pass render=viz.render_steps to interact()")
            return
        try:
            self.render(self.loss, self.stepper.steps, path)
        except OSError as err:          # the session goes on: only this picture failed
            self.say("render: cannot write %s: %s" % (path, err.strerror or err))
            return
        except AutogradError as err:
            self.say(str(err))
            return
        self.say("wrote %s" % path)

    def do_quit(self, arg):
        """quit: leave the debugger (the rest of the backward pass does not run)."""
        return True

    def precmd(self, line):
        word, _, rest = line.strip().partition(" ")
        word = ALIASES.get(word, word)
        return "%s %s" % (word, rest) if rest else word

    def default(self, line):
        self.say("unknown command %r; type help" % line)

    def emptyline(self):
        return None


def interact(loss, stdin=None, stdout=None, render=None):
    """A pdb-like prompt on the backward pass of ``loss`` (reads stdin unless given a file).
    Running it to the end leaves the ``.grad`` values of ``loss.backward()``; the graph is kept,
    so it can still be drawn or stepped again. ``render(loss, steps, path)`` draws the ``render``
    command's picture (``viz.render_steps``)."""
    Debugger(loss, stdin, stdout if stdout is not None else sys.stdout, render).cmdloop()
