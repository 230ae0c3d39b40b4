"""Every example runs at reduced size, from outside the repository, and writes its pictures.

Each example asserts inside itself that what it demonstrates holds (the gradients agree, the
model learned); here we check that it exits cleanly and that every file it promises parses.
"""
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

EXPECTED = {
    "01_computation_graphs": ["example1.svg", "example2_paths.svg", "forward_mode.svg",
                              "reverse_mode.svg"],
    "02_rnn": ["rnn_unrolled.svg", "rnn_rolled.svg", "elman.svg", "jordan.svg",
               "structure_one_to_one.svg", "structure_one_to_many.svg",
               "structure_many_to_one.svg", "structure_encoder_decoder.svg",
               "structure_synced.svg"],
    "03_lstm": ["grad_norms.svg", "lstm_cell.svg", "forget_gate.svg", "input_gate.svg",
                "output_gate.svg", "state_update.svg"],
    "04_other_rnns": ["gru_cell.svg", "peephole_lstm_cell.svg", "bidirectional.svg",
                      "ctrnn_oscillator.svg", "ctrnn_irregular.svg"],
    "05_applications": ["tagger/unrolled.svg", "tagger/unrolled_steps.svg", "tagger/rolled.svg",
                        "tagger/grad_norms.svg",
                        "tagger/backprop.html", "generated.txt", "char_lm_loss.svg",
                        "forecast.svg"],
}


def check_file(path):
    """An SVG parses as XML with an <svg> root; an HTML page embeds an SVG; text is non-empty."""
    assert os.path.getsize(path) > 0, path
    if path.endswith(".svg"):
        assert ET.parse(path).getroot().tag.endswith("svg"), path
    elif path.endswith(".html"):
        with open(path, encoding="utf-8") as f:
            assert "<svg" in f.read(), path


def run_example(name, out, cwd):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH="")
    return subprocess.run([sys.executable, os.path.join(ROOT, "examples", name + ".py"), "--small",
                           "--out", str(out)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def test_every_example_is_checked():
    scripts = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "examples"))
                     if f[:2].isdigit() and f.endswith(".py"))
    assert scripts == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_and_writes_its_pictures(name, tmp_path):
    out = tmp_path / "out"
    result = run_example(name, out, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for rel in EXPECTED[name]:
        check_file(os.path.join(out, rel))


def test_the_readme_tour_runs_as_written(tmp_path, monkeypatch):
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        tour = f.read().split("## A tour of the Python API", 1)[1]
    code = tour.split("```python", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md (tour)", "exec"), {"__name__": "tour"})
    for name in ("e.svg", "lstm.svg", "backprop.html"):
        check_file(str(tmp_path / name))


def test_the_readme_gallery_shows_exactly_the_generated_pictures():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        shown = re.findall(r"\]\((docs/gallery/[^)]+)\)", f.read())
    on_disk = sorted("docs/gallery/" + f for f in os.listdir(os.path.join(ROOT, "docs", "gallery")))
    assert sorted(shown) == on_disk and shown
    for path in shown:
        check_file(os.path.join(ROOT, path))
