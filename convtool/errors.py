"""Exceptions and warnings shared by every layer of convtool.

The library raises :class:`InputError` for bad user input (missing arrays, wrong
shapes, non-finite entries, unreadable files); the CLI turns it into a one-line
message with exit status 2. :class:`ConvtoolWarning` marks results that are
valid but outside a theorem's range (for example ``eta0 > eta_max``).
"""

from __future__ import annotations


class ConvtoolError(Exception):
    """Base class of convtool's own exceptions."""


class InputError(ConvtoolError, ValueError):
    """Bad input from the user; the message is one line naming the problem."""


class ConvtoolWarning(UserWarning):
    """A result is computed but lies outside the range where a theorem applies."""
