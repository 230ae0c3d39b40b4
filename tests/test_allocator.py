"""The allocator setting is an explicit call (``ag.keep_freed_memory()``): importing autograph
leaves the process's malloc as it was, and the call keeps freed memory for the next step."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Builds and frees a step's worth of arrays twice; prints whether the setting was made, the
# resident set after the second free and how many pages the second build faulted in.
PROGRAM = """
import resource, sys, numpy as np, autograph
made = autograph.keep_freed_memory() if sys.argv[1] == "call" else False
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
arrays = [np.ones(16384, np.float32) for _ in range(2000)]; del arrays     # 128 MiB
before = faults()
arrays = [np.ones(16384, np.float32) for _ in range(2000)]; del arrays
print(int(made), rss() >> 20, (faults() - before) * 4096 >> 20)
"""


def run(how, **env):
    out = subprocess.run([sys.executable, "-c", PROGRAM, how], cwd=ROOT, capture_output=True,
                         env=dict(os.environ, **env), text=True, check=True).stdout
    return [int(v) for v in out.split()]


def test_importing_changes_nothing_and_the_call_keeps_freed_memory():
    _, plain_rss, plain_faults = run("import")
    made, kept_rss, kept_faults = run("call")
    if not made:                    # not glibc: the call changes nothing and says so
        assert abs(kept_faults - plain_faults) < 16
        return
    assert kept_faults < 16 <= plain_faults, (kept_faults, plain_faults)
    assert kept_rss > plain_rss + 64, (kept_rss, plain_rss)


def test_the_environment_can_keep_the_system_setting():
    made, _, faults = run("call", AUTOGRAPH_MALLOC="system")
    assert not made and faults >= 16
    made, _, _ = run("call", MALLOC_TRIM_THRESHOLD_="0")
    assert not made
