"""`autograph demo --quick` end to end: it trains, tags, and writes four pictures that parse; and
the progress it shows while training, on a terminal and in a log."""
import io
import os
import re
import subprocess
import sys

from autograph_cli import Progress
from test_examples import ROOT, check_file

FILES = ["unrolled.svg", "unrolled_steps.svg", "rolled.svg", "grad_norms.svg", "backprop.html"]


def test_demo_trains_and_writes_its_pictures(tmp_path):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, "-m", "autograph_cli", "demo", "--quick", "--out",
                             str(tmp_path)], cwd=tmp_path, env=env, capture_output=True,
                            timeout=600)             # bytes: text mode would turn \r into \n
    out = result.stdout.decode("utf-8")
    assert result.returncode == 0, out[-3000:] + result.stderr.decode("utf-8")[-3000:]
    # into a pipe, the progress is a few plain lines, not a bar redrawn with \r
    assert "\r" not in out and not result.stderr
    progress = re.findall(r"^  training: epoch (\d+)/40  loss [\d.e-]+  \([\d.]+ s\)$", out, re.M)
    assert progress == ["8", "16", "24", "32", "40"], out
    assert len(out.splitlines()) < 30, out
    right = int(re.search(r"(\d+)% of the training tags right", out).group(1))
    assert right >= 90, out
    # The chapter's ambiguous word: a noun after 爱, a verb after 在 华联.
    assert "我/n 爱/v 购物/n" in out and "我/n 在/pre 华联/n 购物/v" in out, out
    for name in FILES:
        path = os.path.join(tmp_path, name)
        assert path in out                                 # it says what it wrote
        check_file(path)


class Terminal(io.StringIO):
    def isatty(self):
        return True


def run(steps, out, **kwargs):
    with Progress(steps, "training", file=out, **kwargs) as progress:
        for step in range(steps):
            progress.update(1.0 / (step + 1))
    return out.getvalue()


def test_on_a_terminal_the_progress_is_a_bar_with_the_running_loss():
    text = run(50, Terminal(), window=1)
    assert text.count("\r") >= 2 and "50/50" in text and "100%" in text
    assert "loss 0.02" in text.rsplit("\r", 1)[-1]                  # 1/50, the last step's loss


def test_in_a_log_the_progress_is_a_line_at_each_fifth_with_the_running_mean():
    lines = run(100, io.StringIO()).splitlines()
    assert [line.split("  ")[0] for line in lines] == ["training: step %d/100" % s
                                                       for s in (20, 40, 60, 80, 100)]
    mean = sum(1.0 / s for s in range(81, 101)) / 20          # the mean of the last 20 steps
    assert "loss %.4g" % mean in lines[-1]
    assert len(run(103, io.StringIO()).splitlines()) == 6     # the fifths, then the last step
    assert len(run(3, io.StringIO(), unit="epoch").splitlines()) == 3
