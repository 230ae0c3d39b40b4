"""Global modes read on every op: gradient recording, anomaly detection, the current scope.

They are plain module attributes rather than ``contextvars`` because the per-op dispatch reads
them on every call; the context managers below set and restore them.
"""
import contextlib

grad_enabled = True
anomaly = False
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
    return "%s[%s]" % (name, ",".join("%s=%s" % kv for kv in tags.items()))


@contextlib.contextmanager
def scope(name, **tags):
    """Name every op recorded inside: ``with scope("lstm", t=3)`` gives ``lstm[t=3]/...``; nests."""
    global scope_path
    prev = scope_path
    part = scope_name(name, **tags)
    scope_path = prev + "/" + part if prev else part
    try:
        yield scope_path
    finally:
        scope_path = prev
