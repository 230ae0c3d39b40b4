"""Keep freed memory in the process from one training step to the next (glibc only).

A training step builds a graph and frees it, and the next step builds the same graph again.
With its default, self-adjusting thresholds glibc's malloc hands the freed top of its heap back
to the kernel and serves arrays above a size from fresh mappings, so every step page-faults its
whole working set in again: a third of an LSTM step's time (see benchmarks/README.md). Fixed
thresholds keep up to ``TRIM`` bytes of freed memory for reuse.

This changes the whole process, so importing autograph never does it: a training program asks
for it with ``ag.keep_freed_memory()`` (the ``autograph`` command and the benchmarks do).
Nothing is changed when the environment already sets glibc's own ``MALLOC_TRIM_THRESHOLD_`` or
``MALLOC_MMAP_THRESHOLD_``, or sets ``AUTOGRAPH_MALLOC=system``.
"""
import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3     # mallopt parameters, from glibc's malloc.h
TRIM = 512 << 20        # freed memory kept for the next step
MMAP = 32 << 20         # arrays up to this size come from the heap (glibc's own upper limit)


def keep_freed_memory(environ=os.environ):
    """Set the thresholds; True when they were set."""
    if not sys.platform.startswith("linux") or environ.get("AUTOGRAPH_MALLOC") == "system" \
            or "MALLOC_TRIM_THRESHOLD_" in environ or "MALLOC_MMAP_THRESHOLD_" in environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):           # not glibc
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt(M_TRIM_THRESHOLD, TRIM) == 1 and mallopt(M_MMAP_THRESHOLD, MMAP) == 1
