"""Global modes read on every op: gradient recording, anomaly detection, the current scope.

They are plain module attributes rather than ``contextvars`` because the per-op dispatch reads
them on every call; the context managers below set and restore them.
"""
import contextlib
import functools

grad_enabled = True
anomaly = False
release = False             # inside release.release_unneeded()
scope_path = ""


class _GradMode:
    __slots__ = ("enabled", "prev")

    def __init__(self, enabled):
        self.enabled = enabled

    def __enter__(self):
        global grad_enabled
        self.prev, grad_enabled = grad_enabled, self.enabled

    def __exit__(self, *exc):
        global grad_enabled
        grad_enabled = self.prev

    def __call__(self, fn):
        """Use as a decorator: run ``fn`` in this mode."""
        def wrapped(*args, **kwargs):
            with _GradMode(self.enabled):
                return fn(*args, **kwargs)
        wrapped.__name__, wrapped.__doc__ = fn.__name__, fn.__doc__
        return wrapped


def no_grad():
    """Ops inside record nothing: results do not require grad."""
    return _GradMode(False)


def enable_grad():
    """Re-enable recording inside a ``no_grad`` block."""
    return _GradMode(True)


def is_grad_enabled():
    return grad_enabled


@contextlib.contextmanager
def detect_anomaly():
    """Raise ``AnomalyError`` at the first op whose forward or backward makes a NaN or Inf.

    Inside this block every op also records the line of user code that created it.
    """
    global anomaly
    prev, anomaly = anomaly, True
    try:
        yield
    finally:
        anomaly = prev


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

    __slots__ = ("part", "prev")

    def __init__(self, name, **tags):
        self.part = scope_name(name, **tags) if tags else str(name)

    def __enter__(self):
        global scope_path
        self.prev = prev = scope_path
        scope_path = prev + "/" + self.part if prev else self.part
        return scope_path

    def __exit__(self, *exc):
        global scope_path
        scope_path = self.prev
