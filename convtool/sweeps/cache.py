"""The sweep cache: one JSON file per run, named by a content hash of everything that determines the run.

The key hashes the point's options (sorted), the data file's SHA-256 (or None for a built-in instance) and
convtool's version; so a changed point, changed data or a new convtool reruns, an unchanged point does
not. Each entry stores its key and a checksum of its row: an entry that does not parse, holds another key
or fails its checksum is treated as missing (and counted as corrupted), never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os

from convtool.files import atomic_write

__all__ = ["point_key", "file_sha256", "Cache"]


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def point_key(point: dict, data_sha: str | None, version: str) -> str:
    doc = {"point": {k: point[k] for k in sorted(point)}, "data": data_sha, "convtool": version}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=repr).encode()).hexdigest()


def _check(row: dict) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True, allow_nan=False).encode()).hexdigest()


class Cache:
    """Entries ``<dir>/<key>.json``; ``get`` returns the row or None, ``put`` writes atomically."""

    def __init__(self, directory: str):
        self.dir = directory
        self.corrupted = 0
        os.makedirs(directory, exist_ok=True)

    def _path(self, key: str) -> str:
        return os.path.join(self.dir, key + ".json")

    def get(self, key: str) -> dict | None:
        path = self._path(key)
        if not os.path.exists(path):
            return None
        try:
            with open(path, encoding="utf-8") as fh:
                doc = json.load(fh)
            row = doc["row"]
            if doc.get("key") != key or doc.get("check") != _check(row):
                raise ValueError("checksum")
        except (OSError, ValueError, KeyError, TypeError):
            self.corrupted += 1
            return None
        return row

    def put(self, key: str, row: dict) -> None:
        text = json.dumps({"key": key, "row": row, "check": _check(row)}, sort_keys=True, allow_nan=False)
        atomic_write(self._path(key), lambda fh: fh.write(text.encode("utf-8")))
