"""Writing a file atomically: readers see the old file or the new one, never half of one.

One helper for everything the packages write (pictures, pages, checkpoints). The bytes go to a
temporary file in the target's directory, which then replaces the target in one rename.

The temporary file is created the way ``open(path, "w")`` creates a file, with mode 0o666 and the
kernel applying the process umask (``tempfile.mkstemp`` would make it 0o600, leaving a user's
picture unreadable to everyone else), and an existing target keeps its permission bits, as it
does when ``open()`` overwrites it. The umask is never read or changed, so nothing here races
with other threads.

Only a regular file (or nothing) at the path is replaced. A character device (``/dev/null``, a
terminal) or a FIFO that a reader holds open (``/dev/stdout`` piped to another program) is
written through, as ``open()`` writes it: a rename would put a regular file in its place, and as
root would replace the system's ``/dev/null``. Anything else (a directory, a block device, a
socket, a FIFO nobody reads) is refused with an error naming the path and what it is.
"""
import errno
import os
import secrets
import stat

_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
          | getattr(os, "O_CLOEXEC", 0))
# opening a FIFO with no reader fails at once with this flag instead of waiting for one
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_THROUGH_FLAGS = (os.O_WRONLY | _NONBLOCK | getattr(os, "O_BINARY", 0)
                  | getattr(os, "O_CLOEXEC", 0))

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISSOCK, "a socket"))


def file_kind(mode):
    """What a ``st_mode`` describes, for messages: "a regular file", "a directory", ..."""
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def _create_temporary(folder, base):
    """Open a new, uniquely named file next to the target; return (fd, path)."""
    for _ in range(100):
        tmp = os.path.join(folder, ".%s.%s.tmp" % (base, secrets.token_hex(6)))
        try:
            return os.open(tmp, _FLAGS, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError("could not create a temporary file for %r in %s" % (base, folder))


def _write(f, data):
    if callable(data):
        data(f)
    else:
        f.write(data)


def write_atomic(path, data, *, durable=False):
    """Write ``data`` to ``path`` atomically; return ``path``.

    ``data`` is bytes, or a function called with the open binary file that writes the contents.
    ``durable=True`` also flushes the file and the rename to disk before returning (checkpoints),
    so that a power cut leaves the old file or the complete new one.
    """
    path = os.fspath(path)
    try:
        mode = os.stat(path).st_mode      # through symlinks, as open() resolves them
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        _write_through(path, mode, data)
        return path
    target = os.path.realpath(path)     # through a symlink to its file, as open() writes
    folder = os.path.dirname(target)
    try:
        fd, tmp = _create_temporary(folder, os.path.basename(target))
    except FileNotFoundError:       # name the user's path, not the temporary file's
        raise FileNotFoundError(errno.ENOENT, "the folder %s does not exist" % folder,
                                path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            _write(f, data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode & 0o777)
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


def _write_through(path, mode, data):
    """Write to the device or FIFO at ``path`` in place, or refuse what cannot take a file."""
    def refused(why):
        error = IsADirectoryError if stat.S_ISDIR(mode) else OSError
        return error("cannot write %s: it is %s, not a regular file%s; give the path of a file"
                     % (path, file_kind(mode), why))
    if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
        raise refused("")
    try:
        fd = os.open(path, _THROUGH_FLAGS)
    except OSError as err:
        if err.errno == errno.ENXIO and stat.S_ISFIFO(mode):
            raise refused(", and no program is reading from it (a write would wait for "
                          "one)") from None
        raise
    if _NONBLOCK:
        os.set_blocking(fd, True)     # the flag was for the open: writes wait for the reader
    with os.fdopen(fd, "wb") as f:
        _write(f, data)


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
