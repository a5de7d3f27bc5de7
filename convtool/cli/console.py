"""The two consoles of the CLI and the reporting of library warnings.

Tables and JSON go to stdout; warnings, progress and notes go to stderr
(:func:`stderr_console`). Both consoles are created per command, so they pick
up the streams click (or ``CliRunner``) has in place, and rich honours
``NO_COLOR`` and ``COLUMNS`` from the environment.
"""

from __future__ import annotations

import contextlib
import warnings

__all__ = ["stdout_console", "stderr_console", "report_warnings", "is_quiet", "info"]


def is_quiet() -> bool:
    """True under ``convtool --quiet``: no progress bars and no ``saved ...`` notes (warnings still show)."""
    import click

    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.find_root().meta.get("convtool_quiet"))


def info(console, text: str) -> None:
    """An informational line (``saved run arrays to ...``) on ``console`` (stderr), unless ``--quiet``."""
    if is_quiet():
        return
    from rich.text import Text

    console.print(Text(text), soft_wrap=True)


def _tolerant(stream) -> None:
    """On a stream whose encoding is not UTF (``PYTHONIOENCODING=ascii``), replace what it cannot encode.

    rich already draws ASCII table borders there and the check marks print as ``ok`` / ``NO``
    (:class:`convtool.cli.render.Mark`); anything else non-ASCII (a sympy pretty formula) becomes ``?``
    instead of a ``UnicodeEncodeError``.
    """
    enc = (getattr(stream, "encoding", None) or "utf-8").lower().replace("-", "")
    if not enc.startswith("utf") and hasattr(stream, "reconfigure"):
        try:
            stream.reconfigure(errors="replace")
        except (ValueError, OSError):  # pragma: no cover - a stream that cannot be reconfigured
            pass


def stdout_console():
    """Console for results (tables) on stdout; no automatic highlighting of numbers."""
    import sys

    from rich.console import Console

    _tolerant(sys.stdout)
    return Console(highlight=False)


def stderr_console():
    """Console for diagnostics on stderr."""
    import sys

    from rich.console import Console

    _tolerant(sys.stderr)
    return Console(stderr=True, highlight=False)


@contextlib.contextmanager
def report_warnings(console=None):
    """Show the library's :class:`~convtool.errors.ConvtoolWarning` s as ``Warning: ...`` lines on stderr.

    Each distinct message is shown once, after the block; other warnings keep
    Python's default handling.
    """
    from convtool.errors import ConvtoolWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvtoolWarning)
        try:
            yield
        finally:
            seen: list[str] = []
            others = []
            for w in caught:
                if issubclass(w.category, ConvtoolWarning):
                    msg = " ".join(str(w.message).split())
                    if msg not in seen:
                        seen.append(msg)
                else:
                    others.append(w)
    for w in others:  # re-issue what we did not handle, outside the recording context
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if seen:
        from rich.text import Text

        con = console if console is not None else stderr_console()
        for msg in seen:
            con.print(Text("Warning: " + msg), soft_wrap=True)
