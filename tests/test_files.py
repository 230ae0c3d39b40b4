"""Files the packages write get the mode open() would give them, and are written atomically."""
import os
import socket
import stat

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


# -- what is at the path: only a regular file is replaced ------------------------------------
def char_device(folder):
    """A character device like /dev/null (major 1, minor 3), made in ``folder`` so that the
    system's own is never touched; needs root."""
    path = os.path.join(folder, "null")
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")
    return path


def test_a_character_device_is_written_through_and_stays_a_device(tmp_path):
    null = char_device(tmp_path)
    link = tmp_path / "out.svg"
    link.symlink_to(null)
    assert write_atomic(null, b"data") == null
    write_atomic(link, lambda f: f.write(b"data"), durable=True)
    nets.save(nets.Linear(3, 2), link)
    assert stat.S_ISCHR(os.stat(null).st_mode) and os.stat(null).st_rdev == os.makedev(1, 3)
    assert link.is_symlink()
    assert sorted(os.listdir(tmp_path)) == ["null", "out.svg"]


def test_a_fifo_with_a_reader_is_written_through(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        write_atomic(fifo, b"through the pipe")
        assert os.read(reader, 100) == b"through the pipe"
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and os.listdir(tmp_path) == ["pipe"]


def test_a_fifo_nobody_reads_is_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="cannot write .*pipe: it is a FIFO .*no program is "
                                      "reading from it"):
        write_atomic(fifo, b"data")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and os.listdir(tmp_path) == ["pipe"]


def test_a_socket_and_a_directory_are_refused(tmp_path):
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tmp_path / "s"))
        with pytest.raises(OSError, match="cannot write .*s: it is a socket, not a regular "
                                          "file"):
            write_atomic(tmp_path / "s", b"data")
    finally:
        sock.close()
    assert stat.S_ISSOCK(os.stat(tmp_path / "s").st_mode)
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError, match="it is a directory, not a regular file"):
        write_atomic(tmp_path / "d", b"data")
    assert sorted(os.listdir(tmp_path)) == ["d", "s"]


def test_a_block_device_is_refused(tmp_path):
    # an unassigned device number (240-254 are for local use), so that nothing real is behind it
    path = tmp_path / "disk"
    try:
        os.mknod(path, stat.S_IFBLK | 0o600, os.makedev(240, 0))
    except PermissionError:
        pytest.skip("making a device node needs root")
    with pytest.raises(OSError, match="it is a block device, not a regular file"):
        write_atomic(path, b"data")
    assert stat.S_ISBLK(os.stat(path).st_mode) and os.listdir(tmp_path) == ["disk"]


def test_a_missing_folder_is_named_not_the_temporary_file(tmp_path):
    path = tmp_path / "missing" / "x.svg"
    with pytest.raises(FileNotFoundError) as err:
        write_atomic(path, b"data")
    assert err.value.filename == str(path) and ".tmp" not in str(err.value)
