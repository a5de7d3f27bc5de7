"""Size limits: refuse work whose memory would not fit, before allocating it.

Every array whose size the user controls (``--steps``, ``--width``, ``--seeds``, an ``.npz`` header's
shape) is checked against :func:`memory_limit`: half of this machine's physical memory, or the
``CONVTOOL_MEMORY_LIMIT`` environment variable (bytes, suffixes K, M, G allowed). Over the limit the
library raises :class:`~convtool.errors.InputError` naming the option, the size needed and the
limit, instead of a ``MemoryError`` or numpy's "Maximum allowed dimension exceeded".

Examples
--------
>>> check_bytes(8 * 10 ** 3, "a test array", "use fewer")
>>> human(3 * 2 ** 30)
'3.22 GB'
"""

from __future__ import annotations

import os

from convtool.errors import InputError

__all__ = ["memory_limit", "check_bytes", "human", "ENV_VAR"]

ENV_VAR = "CONVTOOL_MEMORY_LIMIT"
_SUFFIX = {"K": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12}


def memory_limit() -> int:
    """Bytes one array (or one run's records) may take: ``$CONVTOOL_MEMORY_LIMIT`` or half the physical memory."""
    text = os.environ.get(ENV_VAR, "").strip().upper().rstrip("B")
    if text:
        scale = _SUFFIX.get(text[-1], 1)
        digits = text[:-1] if text[-1] in _SUFFIX else text
        try:
            return max(1, int(float(digits) * scale))
        except ValueError:
            raise InputError(f"{ENV_VAR}={os.environ[ENV_VAR]!r} is not a size (bytes, or e.g. 8G)") from None
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2)
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 4 * 10 ** 9


def human(nbytes: float) -> str:
    """Bytes in decimal units, 3 significant digits."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= size:
            return f"{nbytes / size:.3g} {unit}"
    return f"{int(nbytes)} B"


def check_bytes(nbytes: float, what: str, hint: str) -> None:
    """Raise InputError when ``nbytes`` exceed :func:`memory_limit`; ``what`` needs them, ``hint`` says what to change."""
    limit = memory_limit()
    if nbytes > limit:
        raise InputError(f"{what} needs {human(nbytes)} of memory, above the limit of {human(limit)} "
                         f"(half this machine's memory; {ENV_VAR} sets it); {hint}")
