"""Modes read on every op: gradient recording, anomaly detection, the current scope, the speed
layer, release, tracing. Each thread has its own, as PyTorch's grad mode: a thread inside ``no_grad()``
leaves every other thread recording.

The per-op dispatch reads them from one object per thread, ``current()``: one lookup of a
context variable (a new thread starts with an empty context, so it gets its own object on its
first op), then plain attributes. The context managers below set and restore them.

Scope paths are written here (``scope_name``) and read here (``parse_scope``), nowhere else.
"""
import contextvars
import functools
import re


class State:
    """One thread's modes."""

    __slots__ = ("grad", "anomaly", "scope", "fast", "release", "trace")

    def __init__(self):
        self.grad = True        # ops record the graph
        self.anomaly = False    # inside detect_anomaly()
        self.scope = ""         # the scope path of ops recorded now
        self.fast = True        # the speed layer is on (autograph.fast); off: the reference
        self.release = None     # inside release_unneeded(): that thread's release state
        self.trace = None       # while ag.compile traces a function: its recorder (fast/trace.py)


_state = contextvars.ContextVar("autograph_modes")
_lookup = _state.get        # bound once: the dispatch calls it per op


def current():
    """This thread's modes."""
    st = _lookup(None)
    if st is None:
        st = State()
        _state.set(st)
    return st


current()                   # the importing thread's


class _Switch:
    """Set one mode of this thread for a block; usable as a decorator."""

    __slots__ = ("field", "value", "prev")

    def __init__(self, field, value):
        self.field, self.value = field, value

    def __enter__(self):
        st = current()
        self.prev = getattr(st, self.field)
        setattr(st, self.field, self.value)

    def __exit__(self, *exc):
        setattr(current(), self.field, self.prev)

    def __call__(self, fn):
        field, value = self.field, self.value

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with _Switch(field, value):
                return fn(*args, **kwargs)
        return wrapped


def no_grad():
    """Ops inside record nothing: results do not require grad."""
    return _Switch("grad", False)


def enable_grad():
    """Re-enable recording inside a ``no_grad`` block."""
    return _Switch("grad", True)


def is_grad_enabled():
    return current().grad


def detect_anomaly():
    """Raise ``AnomalyError`` at the first op whose forward or backward makes a NaN or Inf.

    Inside this block every op also records the line of user code that created it, and the
    backward pass runs the reference engine (every contribution checked as the table computes it).
    """
    return _Switch("anomaly", True)


def reference():
    """Run the reference engine inside: the primitive table's rules as written, gradients added
    as numpy adds them, nothing released. The speed layer (``autograph.fast``) is checked against
    it on the same graphs."""
    return _Switch("fast", False)


# -- scopes -------------------------------------------------------------------------------------
def scope_name(name, **tags):
    """``scope_name("lstm", t=3)`` -> ``"lstm[t=3]"``."""
    if not tags:
        return str(name)
    try:
        return _cached(name, tuple(tags.items()))
    except TypeError:           # an unhashable tag value
        return _tagged(name, tags.items())


def _tagged(name, tags):
    return "%s[%s]" % (name, ",".join("%s=%s" % kv for kv in tags))


# a layer names every time step of every call alike: each name is formatted once
_cached = functools.lru_cache(maxsize=4096)(_tagged)


class scope:
    """Name every op recorded inside: ``with scope("lstm", t=3)`` gives ``lstm[t=3]/...``; nests.
    ``with scope(...) as path`` binds the full path. (A class, not a generator: cells open one
    per gate per step, and this costs a quarter of a ``contextlib`` manager.)"""

    __slots__ = ("part", "prev", "state")

    def __init__(self, name, **tags):
        self.part = scope_name(name, **tags) if tags else str(name)

    def __enter__(self):
        self.state = st = _lookup(None) or current()
        self.prev = prev = st.scope
        st.scope = path = prev + "/" + self.part if prev else self.part
        return path

    def __exit__(self, *exc):
        self.state.scope = self.prev


_TAGGED = re.compile(r"^(.*)\[(.*)\]\Z", re.S)      # a name may hold line breaks


class Scope:
    """A scope path split into components, with its time step found: the only reader of what
    ``scope_name`` writes.

    A component tagged ``t=<int>`` marks a time step: ``lstm_l1[t=3]/forget_gate`` is step 3 of
    the track ``lstm_l1`` (a track is one layer/direction), ``inner`` is ``forget_gate``. The
    outermost tagged component counts.
    """

    __slots__ = ("path", "parts", "time_at", "track", "t", "inner")

    def __init__(self, path):
        self.path = path or ""
        self.parts = tuple(self.path.split("/")) if self.path else ()
        self.time_at = self.track = self.t = None
        self.inner = ""
        for i, part in enumerate(self.parts):
            m = _TAGGED.match(part)
            if not m:
                continue
            tags = [kv for kv in m.group(2).split(",") if kv]
            t = [kv[2:] for kv in tags if kv.startswith("t=")]
            if t and t[0].lstrip("-").isdigit():
                rest = [kv for kv in tags if not kv.startswith("t=")]
                base = m.group(1) + ("[%s]" % ",".join(rest) if rest else "")
                self.time_at, self.t = i, int(t[0])
                self.track = "/".join(self.parts[:i] + (base,))
                self.inner = "/".join(self.parts[i + 1:])
                break

    def base(self, i):
        """Component i without its tags: ``lstm[t=3]`` -> ``lstm``."""
        m = _TAGGED.match(self.parts[i])
        return m.group(1) if m else self.parts[i]


@functools.lru_cache(maxsize=4096)
def parse_scope(path):
    """The parsed ``Scope`` of a path (shared: read only)."""
    return Scope(path)
