"""The one way the bench scripts write their numbers into a README: the text between two markers replaced."""

import os

__all__ = ["replace_block"]


def replace_block(path: str, begin: str, end: str, block: str, heading: str = "") -> None:
    """Write ``block`` (which starts with ``begin`` and ends with ``end``) into the file ``path`` in place of the
    text from ``begin`` to ``end``, markers included; where the markers are missing, append ``heading + block``
    after a blank line. Written to a temporary file first, then moved over ``path``."""
    with open(path, encoding="utf-8") as fh:
        doc = fh.read()
    if begin in doc and end in doc:
        doc = doc[: doc.index(begin)] + block + doc[doc.index(end) + len(end):]
    else:
        doc = doc.rstrip() + "\n\n" + heading + block + "\n"
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(doc)
    os.replace(tmp, path)
