"""The README's table from PyTorch's names to autograph's stays true: every name on the right
exists, every case the last column cites is in its fixture of PyTorch's numbers (and the surface
cases agree with them once more here), and every surface case is cited."""
import importlib
import os
import re

import numpy as np
import pytest

import autograph as ag
import nets  # noqa: F401  (resolved by name below)
from fixtures.surface_cases import CASES, RENAMED
import test_surface

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")


def table_rows():
    """The rows of the table under '## From PyTorch': lists of cell texts."""
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = text.split("\n## From PyTorch\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    assert lines[0].split("|")[1:5] == [" PyTorch ", " autograph ", " note ", " PyTorch's numbers "]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


ROWS = table_rows()


def resolve(name):
    """The object a dotted name of the autograph column stands for (``t.`` is a Tensor)."""
    name = name.split("(", 1)[0]
    head, *rest = name.split(".")
    if head == "t":
        obj = ag.Tensor
    elif head == "ag":
        obj = ag
    else:
        obj = importlib.import_module(head)
    for part in rest:
        try:
            obj = getattr(obj, part)
        except AttributeError:
            obj = importlib.import_module(obj.__name__ + "." + part)
    return obj


def test_the_table_has_rows():
    assert len(ROWS) > 40


@pytest.mark.parametrize("row", ROWS, ids=[r[0][:40] for r in ROWS])
def test_every_autograph_name_in_the_table_exists(row):
    names = re.findall(r"`([^`]+)`", row[1])
    assert names, row
    for name in names:
        assert resolve(name) is not None, name


def citations():
    """(fixture, case) for every case the last column names; 'tutorial' is the tutorial test."""
    out = []
    for row in ROWS:
        for part in filter(None, (p.strip() for p in row[3].split(";"))):
            if part == "tutorial":
                out.append(("tutorial", None))
                continue
            fixture, cases = part.split(":", 1)
            out += [(fixture.strip(), c.strip()) for c in cases.split(",")]
    return out


CITED = citations()


def fixture_keys(fixture):
    with np.load(os.path.join(FIXTURES, fixture + ".npz")) as f:
        return f.files


@pytest.mark.parametrize("fixture, case", CITED)
def test_every_cited_case_is_in_its_fixture_and_agrees(fixture, case):
    if fixture == "tutorial":
        assert os.path.exists(os.path.join(ROOT, "tests", "test_pytorch_tutorial.py"))
        return
    keys = fixture_keys(fixture)
    if fixture == "surface":
        if case in ("dtypes", "facts"):
            assert any(k.startswith(case[:-1] + "/") for k in keys), case
            return
        name = ("case/" if case in CASES else "renamed/") + case
        assert name + "/out" in keys, name
        test_surface.test_values_gradients_and_second_derivatives_match_pytorch(name)
    else:
        assert any(k.startswith(case + "/") for k in keys), "%s: no case %r" % (fixture, case)


def test_every_surface_case_is_cited():
    cited = {case for fixture, case in CITED if fixture == "surface"}
    assert set(CASES) | set(RENAMED) <= cited, sorted(set(CASES) | set(RENAMED) - cited)
    assert {"dtypes", "facts"} <= cited
