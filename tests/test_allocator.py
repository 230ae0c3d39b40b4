"""The allocator setting made at import: freed memory stays in the process for the next step."""
import os
import subprocess
import sys

import pytest

from autograph import allocator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Builds and frees a step's worth of arrays twice; prints the resident set after the second
# free and how many pages the second build faulted in, both relative to the first.
PROGRAM = """
import resource, numpy as np, autograph
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
arrays = [np.ones(16384, np.float32) for _ in range(2000)]; del arrays     # 128 MiB
before = faults()
arrays = [np.ones(16384, np.float32) for _ in range(2000)]; del arrays
print(rss() >> 20, (faults() - before) * 4096 >> 20)
"""


def run(env):
    out = subprocess.run([sys.executable, "-c", PROGRAM], cwd=ROOT, capture_output=True,
                         env=dict(os.environ, **env), text=True, check=True).stdout
    return [int(v) for v in out.split()]


@pytest.mark.skipif(not allocator.keep_freed_memory({"AUTOGRAPH_MALLOC": "unset"}),
                    reason="needs glibc's mallopt")
def test_a_second_step_reuses_the_memory_the_first_freed():
    kept_rss, kept_faults = run({})
    system_rss, system_faults = run({"AUTOGRAPH_MALLOC": "system"})
    assert kept_faults < 16 <= system_faults, (kept_faults, system_faults)
    assert kept_rss > system_rss + 64, (kept_rss, system_rss)


def test_the_environment_can_keep_the_system_setting():
    assert not allocator.keep_freed_memory({"AUTOGRAPH_MALLOC": "system"})
    assert not allocator.keep_freed_memory({"MALLOC_TRIM_THRESHOLD_": "0"})
