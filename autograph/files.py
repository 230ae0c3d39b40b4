"""Writing a file atomically: readers see the old file or the new one, never half of one.

One helper for everything the packages write (pictures, pages, checkpoints). The bytes go to a
temporary file in the target's directory, which then replaces the target in one rename.

The temporary file is created the way ``open(path, "w")`` creates a file, with mode 0o666 and the
kernel applying the process umask (``tempfile.mkstemp`` would make it 0o600, leaving a user's
picture unreadable to everyone else), and an existing target keeps its permission bits, as it
does when ``open()`` overwrites it. The umask is never read or changed, so nothing here races
with other threads.
"""
import os
import secrets

_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
          | getattr(os, "O_CLOEXEC", 0))


def _create_temporary(folder, base):
    """Open a new, uniquely named file next to the target; return (fd, path)."""
    for _ in range(100):
        tmp = os.path.join(folder, ".%s.%s.tmp" % (base, secrets.token_hex(6)))
        try:
            return os.open(tmp, _FLAGS, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError("could not create a temporary file for %r in %s" % (base, folder))


def write_atomic(path, data, *, durable=False):
    """Write ``data`` to ``path`` atomically; return ``path``.

    ``data`` is bytes, or a function called with the open binary file that writes the contents.
    ``durable=True`` also flushes the file and the rename to disk before returning (checkpoints),
    so that a power cut leaves the old file or the complete new one.
    """
    path = os.fspath(path)
    target = os.path.realpath(path)     # through a symlink to its file, as open() writes
    folder = os.path.dirname(target)
    fd, tmp = _create_temporary(folder, os.path.basename(target))
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        try:
            os.chmod(tmp, os.stat(target).st_mode & 0o777)
        except FileNotFoundError:
            pass                     # a new file: the mode open() gave it, umask applied
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if durable:
        sync_directory(folder)
    return path


def sync_directory(directory):
    """Make a rename in ``directory`` durable (POSIX; a no-op where directories cannot be
    opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
