"""`autograph demo --quick` end to end: it trains, tags, and writes four pictures that parse."""
import os
import re
import subprocess
import sys

from test_examples import ROOT, check_file

FILES = ["unrolled.svg", "unrolled_steps.svg", "rolled.svg", "grad_norms.svg", "backprop.html"]


def test_demo_trains_and_writes_its_pictures(tmp_path):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, "-m", "autograph_cli", "demo", "--quick", "--out",
                             str(tmp_path)], cwd=tmp_path, env=env, capture_output=True,
                            timeout=600)             # bytes: text mode would turn \r into \n
    out = result.stdout.decode("utf-8")
    assert result.returncode == 0, out[-3000:] + result.stderr.decode("utf-8")[-3000:]
    assert "\r" in out and "loss" in out                   # the progress bar redraws in place
    right = int(re.search(r"(\d+)% of the training tags right", out).group(1))
    assert right >= 90, out
    # The chapter's ambiguous word: a noun after 爱, a verb after 在 华联.
    assert "我/n 爱/v 购物/n" in out and "我/n 在/pre 华联/n 购物/v" in out, out
    for name in FILES:
        path = os.path.join(tmp_path, name)
        assert path in out                                 # it says what it wrote
        check_file(path)
