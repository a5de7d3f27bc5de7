"""Output files that never destroy anything: atomic writes, same-file detection, early writability checks.

Every file convtool writes (``--out``, ``--plot``, ``--save-init``, ``generate -o``) goes through
:func:`atomic_write`: the bytes go to a temporary file in the target folder, which is renamed over the
target only once complete, so a failed or interrupted write leaves the old file (or none), never half a
file. :func:`same_file` says whether two paths name one file (after symlinks, and hard links of an
existing file), which the CLI uses to refuse an output that would overwrite an input or another output.

Examples
--------
>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> p = os.path.join(d, "a.txt")
>>> atomic_write(p, lambda fh: fh.write(b"hello"))
>>> open(p, "rb").read(), sorted(os.listdir(d))
(b'hello', ['a.txt'])
>>> same_file(p, os.path.join(d, ".", "a.txt"))
True
"""

from __future__ import annotations

import os
import tempfile

__all__ = ["atomic_write", "same_file", "probe_writable"]

_PREFIX = ".convtool-partial-"


def same_file(a: str, b: str) -> bool:
    """Whether paths ``a`` and ``b`` name the same file: equal real paths, or one inode (hard links)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return False


def probe_writable(folder: str) -> None:
    """Create and remove a temporary file in ``folder``; the OSError of a folder that cannot take one."""
    fd, tmp = tempfile.mkstemp(prefix=_PREFIX, dir=folder)
    os.close(fd)
    os.unlink(tmp)


def atomic_write(path: str, write) -> None:
    """Call ``write(fh)`` on a binary temporary file beside ``path``, then rename it to ``path``.

    The file gets the permissions a plain ``open(path, "wb")`` would give (0666 less the umask).
    On any exception (KeyboardInterrupt included) the temporary file is removed and ``path`` is
    untouched.
    """
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=_PREFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
