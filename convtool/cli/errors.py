"""One-line user errors for the CLI.

Bad input is the user's problem, not a bug, so it must read as one line on
stderr and exit with status 2 (the same status as click's own usage errors),
never as a traceback. :class:`ConvtoolInputError` is that line;
:func:`user_errors` turns the library's :class:`~convtool.errors.InputError`,
a registry ``KeyError`` and file-system ``OSError`` into it.

Examples
--------
>>> from convtool.errors import InputError
>>> try:
...     with user_errors():
...         raise InputError("missing array 'X'\\nin data.npz")
... except ConvtoolInputError as exc:
...     exc.exit_code, exc.format_message()
(2, "missing array 'X' in data.npz")
"""

from __future__ import annotations

import contextlib
import functools

import click

__all__ = ["ConvtoolInputError", "user_errors", "handle_user_errors"]


class ConvtoolInputError(click.ClickException):
    """Bad user input: printed as one ``Error: ...`` line on stderr, exit status 2."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        # One line, whatever the library wrote.
        super().__init__(" ".join(str(message).split()))


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        # KeyError's str() adds quotes around its argument; use the argument itself.
        return str(exc.args[0]) if exc.args else "unknown key"
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    return str(exc) or type(exc).__name__


@contextlib.contextmanager
def user_errors(*, keyerror: bool = False):
    """Context in which user-input errors become :class:`ConvtoolInputError`.

    Converted: :class:`convtool.errors.InputError`, ``OSError`` (unreadable or
    unwritable files) and, with ``keyerror=True``, ``KeyError`` (an unknown
    registry name; the registry's message already lists close matches). Use
    ``keyerror=True`` only around a registry lookup: elsewhere a KeyError is a
    bug. Anything else propagates unchanged.
    """
    from convtool.errors import InputError

    caught: tuple = (InputError, OSError) + ((KeyError,) if keyerror else ())
    try:
        yield
    except click.ClickException:
        raise
    except caught as exc:
        raise ConvtoolInputError(_message(exc)) from exc
    except MemoryError as exc:
        raise ConvtoolInputError(f"out of memory ({_message(exc)}); the instance, --width, --seeds or --steps is "
                                 f"too large for this machine") from exc
    except Exception as exc:
        if not _numerical(exc):
            raise
        raise ConvtoolInputError(f"float64 cannot hold this instance's numbers ({type(exc).__name__}: "
                                 f"{_message(exc)}); rescale the data or the weights") from exc


def _numerical(exc: BaseException) -> bool:
    """Overflow and linear-algebra failures: the last line of defence behind the library's own range checks
    (``convtool.numeric.data`` refuses the values that overflow float64 before any work)."""
    if isinstance(exc, (OverflowError, FloatingPointError)):
        return True
    import sys

    np = sys.modules.get("numpy")
    return np is not None and isinstance(exc, np.linalg.LinAlgError)


def handle_user_errors(func):
    """Decorator form of :func:`user_errors` (without KeyError) for a command callback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with user_errors():
            return func(*args, **kwargs)

    return wrapper
