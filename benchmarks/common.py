"""What the benchmarks share. Import it first: it sets one BLAS/OpenMP thread (before numpy is
loaded, or it has no effect), puts the repository on the path, and gives ``torch`` with one
thread when it is importable (else None), so that every library is measured on one core, and
keeps freed memory in the process between steps (ag.keep_freed_memory(), as a training program
may).
With ``BENCH_WITHOUT_TORCH`` set, torch is not imported: a process timing another library then
holds no more objects than that library's user would (the garbage collector walks them all).

    from common import seconds_per_call, torch   # before importing numpy
"""
import os
import sys
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
# JAX's CPU backend (XLA) likewise on one thread, where it is used
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                           " intra_op_parallelism_threads=1").strip()

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import autograph  # noqa: E402  (after the thread settings: it loads numpy)

autograph.keep_freed_memory()   # as a training program would: freed memory kept for the next step

try:
    if os.environ.get("BENCH_WITHOUT_TORCH"):   # a child process timing another library
        raise ImportError
    import torch
    torch.set_num_threads(1)
except ImportError:
    torch = None


def seconds_per_call(fn, min_time=0.1, clock=time.process_time):
    """Mean seconds per call of ``fn``, calling it until ``min_time`` has passed on ``clock``
    (CPU time of this process by default: other jobs on the machine disturb it less)."""
    n, start = 0, clock()
    while True:
        fn()
        n += 1
        elapsed = clock() - start
        if elapsed >= min_time:
            return elapsed / n
