"""The end of a test run names the tests skipped for want of a system program, and the command
that installs it (tests/conftest.py), so that a quiet skip is never mistaken for a pass."""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

TESTS = '''
import pytest

@pytest.mark.skipif(True, reason="no headless browser found (looked for chromium)")
def test_in_a_browser():
    pass

@pytest.mark.skipif(True, reason="no headless browser found (looked for chromium)")
def test_in_a_browser_again():
    pass

def test_anywhere():
    pass
'''


def run_pytest(folder, tests):
    shutil.copy(os.path.join(HERE, "conftest.py"), folder / "conftest.py")
    (folder / "test_it.py").write_text(tests)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                          cwd=folder, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_skipped_browser_tests_are_named_with_how_to_run_them(tmp_path):
    out = run_pytest(tmp_path, TESTS)
    summary = out[out.index("skipped: not run on this machine"):]
    assert "2 tests: no headless browser found (looked for chromium)" in summary
    assert "bash scripts/system-deps.sh chromium" in summary
    assert "graphviz" not in summary


def test_a_run_without_skips_says_nothing_more(tmp_path):
    out = run_pytest(tmp_path, "def test_anywhere():\n    pass\n")
    assert "skipped" not in out and "1 passed" in out
