"""Files the packages write get the mode open() would give them, and are written atomically."""
import os

import numpy as np
import pytest

import autograph as ag
import nets
import viz
from autograph.files import write_atomic


@pytest.fixture
def umask():
    """Set the process umask for one test and put the old one back."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


def mode(path):
    return os.stat(path).st_mode & 0o777


def small_graph():
    a = ag.tensor([1.0, 2.0], requires_grad=True, name="a")
    return (ag.tanh(a) * a).sum()


def test_a_new_file_gets_the_mode_open_gives(tmp_path, umask):
    umask(0o022)
    write_atomic(tmp_path / "x.bin", b"data")
    with open(tmp_path / "plain.bin", "wb") as f:
        f.write(b"data")
    assert mode(tmp_path / "x.bin") == mode(tmp_path / "plain.bin") == 0o644
    umask(0o077)
    write_atomic(tmp_path / "private.bin", b"data")
    assert mode(tmp_path / "private.bin") == 0o600
    assert (tmp_path / "x.bin").read_bytes() == b"data"


def test_an_overwritten_file_keeps_its_mode(tmp_path, umask):
    path = tmp_path / "x.bin"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    write_atomic(path, b"new")
    assert mode(path) == 0o640 and path.read_bytes() == b"new"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"old")

    def half_then_fail(f):
        f.write(b"ne")
        raise OSError("disk full")
    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, half_then_fail)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["x.bin"]


def test_what_viz_and_nets_write_is_readable_by_others(tmp_path, umask):
    umask(0o022)
    written = [viz.render(small_graph(), str(tmp_path / "g.dot")),
               viz.render(small_graph(), str(tmp_path / "g.svg")),
               viz.export_player(small_graph(), str(tmp_path / "p.html"))]
    viz.plot_grad_norms(np.array([1.0, 0.1, 0.01]), str(tmp_path / "n.svg"))
    written.append(tmp_path / "n.svg")
    nets.save(nets.Linear(3, 2), tmp_path / "m.safetensors")
    written.append(tmp_path / "m.safetensors")
    for path in written:
        assert mode(path) == 0o644, path
    assert sorted(os.listdir(tmp_path)) == ["g.dot", "g.svg", "m.safetensors", "n.svg", "p.html"]


def test_a_symlink_is_written_through_and_stays_a_symlink(tmp_path):
    (tmp_path / "models").mkdir()
    target = tmp_path / "models" / "v2.safetensors"
    target.write_bytes(b"old")
    link = tmp_path / "latest.safetensors"
    link.symlink_to(target)
    write_atomic(link, b"new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.safetensors", "models"]
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["v2.safetensors"]
