import collections
import os
import sys

# One BLAS thread, set before numpy loads: the tests' matrices are small, and a BLAS thread pool
# competing for busy cores makes a recurrent training step about ten times slower.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hypothesis import settings  # noqa: E402

# The same examples on every run (a test run is a check, not a search: a new example that fails
# would fail an unrelated change); HYPOTHESIS_PROFILE=explore draws new ones each run.
settings.register_profile("project", deadline=None, max_examples=25, derandomize=True)
settings.register_profile("explore", deadline=None, max_examples=25)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "project"))

# Tests that need a system program skip without it. So that a quiet skip is never mistaken for a
# pass, the end of the run names each reason and, where the project can install the program,
# the command that does.
INSTALL = {"headless browser": "bash scripts/system-deps.sh chromium",
           "Graphviz 'dot'": "bash scripts/system-deps.sh graphviz"}


def pytest_terminal_summary(terminalreporter):
    reasons = collections.Counter()
    for report in terminalreporter.stats.get("skipped", []):
        if isinstance(report.longrepr, tuple):                  # (path, line, "Skipped: why")
            reasons[report.longrepr[2].removeprefix("Skipped: ")] += 1
    if not reasons:
        return
    terminalreporter.section("skipped: not run on this machine", yellow=True)
    for reason, count in sorted(reasons.items()):
        terminalreporter.write_line("%d test%s: %s" % (count, "s" * (count > 1), reason))
    for needle, command in INSTALL.items():
        if any(needle in reason for reason in reasons):
            terminalreporter.write_line("to run the tests that need a %s: %s" % (needle, command))
