"""A user-level cache of what start-up would otherwise rebuild with sympy: compiled stable forms and each
paper's start-up index, so that a command neither imports sympy nor re-derives formulas at every start.

What is cached
--------------
* **Compiled formulas.** Deriving a quantity's stable form (:func:`convtool.analysis.evaluate.stable_form`:
  sympy's ``factor`` inside ``optimize``) and lambdifying it with common-subexpression elimination costs
  seconds for a registry. The generated Python source is cached with, for every global name it uses, the
  module attribute that name is bound to (``exp`` -> ``numpy.exp``), so a warm start compiles the source in
  a namespace rebuilt from those imports alone: no sympy.
* **The start-up index** of each paper: name, kind, LaTeX, description, reference, inputs, stable variable,
  derived flag and unknown of every quantity, in registration order
  (:class:`convtool.analysis.registry._Namespace` builds :class:`~convtool.analysis.registry.Quantity`
  objects from it, and imports the paper's module, with sympy, only when a formula is read).
* **Facts about a formula** (:func:`store_value`): the argument names and number of coefficients of an
  equation's polynomial in its unknown, or that it is not one (:func:`convtool.analysis.evaluate.polynomial`).

The key, and why it needs no registry
-------------------------------------
Every entry is keyed by :func:`code_key`: a SHA-256 of this :data:`FORMAT`, the Python version, sympy's
version (its ``release.py``), numpy's version, and the bytes of every ``.py`` file of the
``convtool.analysis`` package, plus, for a formula compiled elsewhere (``convtool.numeric.roots`` builds
its mpmath twins and eq. 88's scaled residual), the file that holds the build function. These are all
the inputs of the result: each paper's registry is built only by its module in ``convtool/analysis``
from sympy (the paper modules import nothing else of convtool), the stable forms by ``evaluate.py``,
and a build function is in the file hashed with it. So the key is computed from a dozen small file
reads (about a millisecond) without importing sympy or building any registry, and any edit of a formula,
of the stable-form code or of a build function, or another sympy, changes it. The previous layout keyed
by the registry's content (``srepr`` of every expression), which needed the registry (and sympy) to be
built on every start just to look up the cache.

Verification on load: an entry is used only when its key is the current one and the SHA-256 of its
payload matches the stored one; a compiled source must define exactly one function whose every global
name is bound by its recorded imports, from :data:`_IMPORT_OK` modules only. A truncated, edited, stale
or foreign entry is rebuilt (by the sympy path) and rewritten. Files are written atomically, one JSON
file per paper, under ``$CONVTOOL_CACHE_DIR`` (default ``$XDG_CACHE_HOME/convtool`` or
``~/.cache/convtool``); ``CONVTOOL_CACHE_DIR=off`` disables the cache (every start then takes the sympy
path). An installation without source files (no ``.py`` of convtool.analysis readable) has no key and
no cache. Nothing a user types reaches the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading

__all__ = ["FORMAT", "cache_dir", "code_key", "entry_key", "load", "store", "load_index", "store_index",
           "load_value", "store_value", "imports_of", "function_from_source"]

#: bump when the stable-form derivation or the stored layout changes
FORMAT = 2
_LOCK = threading.Lock()
_MEMO: dict = {}
_KEYS: dict = {}

#: modules whose attributes a cached source may bind
_IMPORT_OK = ("numpy", "mpmath", "functools", "math", "operator", "itertools", "builtins")


def cache_dir() -> str | None:
    d = os.environ.get("CONVTOOL_CACHE_DIR")
    if d is not None:
        return None if d.strip().lower() in ("", "off", "0", "none") else d
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "convtool")


def _sympy_version() -> str:
    """sympy's ``release.py`` (where its ``__version__`` is written), read without importing sympy."""
    import importlib.util

    spec = importlib.util.find_spec("sympy")
    origin = getattr(spec, "origin", None)
    if origin:
        try:
            with open(os.path.join(os.path.dirname(origin), "release.py"), "rb") as fh:
                return hashlib.sha256(fh.read()).hexdigest()
        except OSError:
            pass
    from importlib import metadata  # pragma: no cover - a sympy without release.py

    return metadata.version("sympy")  # pragma: no cover


def code_key(extra_file: str | None = None) -> str | None:
    """SHA-256 of everything a cached entry is derived from (module doc); None when a source is unreadable."""
    extra = os.path.abspath(extra_file) if extra_file else None
    if extra in _KEYS:
        return _KEYS[extra]
    import numpy as np

    here = os.path.dirname(os.path.abspath(__file__))
    try:
        files = sorted(os.path.join(here, f) for f in os.listdir(here) if f.endswith(".py") and not f.startswith("."))
        if extra is not None and extra not in files:
            files.append(extra)
        h = hashlib.sha256(json.dumps([FORMAT, list(sys.version_info[:2]), _sympy_version(),
                                       np.__version__]).encode())
        for path in files:
            with open(path, "rb") as fh:
                data = fh.read()
            h.update(os.path.basename(path).encode() + b"\0" + hashlib.sha256(data).digest())
        key = h.hexdigest()
    except (OSError, ImportError, ValueError):
        key = None
    _KEYS[extra] = key
    return key


def entry_key(code: str, name: str) -> str:
    """The key of entry ``name`` (``"numpy:alpha1"``, ``"index"``) under code key ``code``."""
    return hashlib.sha256(json.dumps([FORMAT, code, name]).encode()).hexdigest()


def _path(paper: str) -> str | None:
    d = cache_dir()
    if d is None:
        return None
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in paper)
    return os.path.join(d, f"forms-{safe}-v{FORMAT}.json")


def _read(paper: str) -> dict:
    path = _path(paper)
    memo = _MEMO.get(paper)
    if memo is not None and memo[0] == path:
        return memo[1]
    data = {}
    if path and os.path.isfile(path):
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
            if not isinstance(data, dict):
                data = {}
        except (OSError, ValueError):
            data = {}
    _MEMO[paper] = (path, data)
    return data


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def load(paper: str, name: str, key: str) -> tuple | None:
    """``(source, argnames, imports)`` of a verified entry, or None."""
    e = _read(paper).get(name)
    if not isinstance(e, dict) or e.get("key") != key:
        return None
    src = e.get("source")
    if not isinstance(src, str) or _sha(src) != e.get("sha256"):
        return None
    imports = e.get("imports", {})
    if not isinstance(imports, dict) or any(str(v).partition(":")[0].split(".")[0] not in _IMPORT_OK
                                            for v in imports.values()):
        return None
    argnames = e.get("argnames", ())
    if not isinstance(argnames, list) or not all(isinstance(a, str) for a in argnames):
        return None
    return src, tuple(argnames), imports


def _write(paper: str, update: dict) -> None:
    path = _path(paper)
    if path is None:
        return
    with _LOCK:
        data = dict(_read(paper))
        data.update(update)
        _MEMO[paper] = (path, data)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            from convtool.files import atomic_write

            text = json.dumps(data, sort_keys=True)
            atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))
        except OSError:
            pass  # the cache is an optimization: a read-only home directory only costs start-up time


def store(paper: str, name: str, key: str, source: str, argnames, imports: dict | None = None) -> None:
    """Add an entry and rewrite the paper's file atomically (errors ignored: the cache is an optimization)."""
    _write(paper, {name: {"key": key, "source": source, "sha256": _sha(source), "argnames": list(argnames),
                          "imports": dict(imports or {})}})


def load_value(paper: str, name: str, key: str):
    """A verified JSON value stored by :func:`store_value` (a fact about a formula, e.g. a polynomial's degree),
    or None."""
    e = _read(paper).get(name)
    if not isinstance(e, dict) or e.get("key") != key or not isinstance(e.get("value"), str) \
            or _sha(e["value"]) != e.get("sha256"):
        return None
    try:
        return json.loads(e["value"])
    except ValueError:
        return None


def store_value(paper: str, name: str, key: str, value) -> None:
    text = json.dumps(value)
    _write(paper, {name: {"key": key, "value": text, "sha256": _sha(text)}})


#: fields of one index record and their types (a record of another shape is refused)
_RECORD = {"name": str, "kind": str, "latex": str, "description": str, "reference": str, "inputs": list,
           "stable_in": (str, type(None)), "derived": bool, "unknown_name": (str, type(None))}


def load_index(paper: str) -> list | None:
    """The verified start-up index of ``paper`` (list of records, registration order), or None."""
    code = code_key()
    if code is None or cache_dir() is None:
        return None
    e = _read(paper).get("index")
    if not isinstance(e, dict) or e.get("key") != entry_key(code, "index"):
        return None
    text = e.get("records")
    if not isinstance(text, str) or _sha(text) != e.get("sha256"):
        return None
    try:
        records = json.loads(text)
    except ValueError:
        return None
    if not isinstance(records, list) or not records:
        return None
    for r in records:
        if not isinstance(r, dict) or set(r) != set(_RECORD) or \
                not all(isinstance(r[k], t) for k, t in _RECORD.items()):
            return None
    return records


def store_index(paper: str, records: list) -> None:
    """Write the start-up index of ``paper`` (records as :meth:`Quantity._record` gives them)."""
    code = code_key()
    if code is None or cache_dir() is None or not records:
        return
    text = json.dumps(records)
    _write(paper, {"index": {"key": entry_key(code, "index"), "records": text, "sha256": _sha(text)}})


def _co_names(code) -> set:
    out = set(code.co_names)
    for c in code.co_consts:
        if hasattr(c, "co_code"):
            out |= _co_names(c)
    return out


def _global_names(code) -> set:
    """Names ``code`` (and the code objects nested in it) loads as globals."""
    import dis

    out = set()
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            out.add(ins.argval)
    for c in code.co_consts:
        if hasattr(c, "co_code"):
            out |= _global_names(c)
    return out


def _resolve(path: str):
    import importlib

    mod, _, attr = path.partition(":")
    if mod.split(".")[0] not in _IMPORT_OK:
        raise ValueError(f"cached source imports {path}")
    m = importlib.import_module(mod)
    return getattr(m, attr) if attr else m


def imports_of(f, modules: str = "numpy") -> dict | None:
    """``{global name: "module:attr"}`` (``"module"`` for a module itself) binding every global ``f`` uses,
    checked to give back the very objects ``f`` sees; None when one cannot be named from an
    :data:`_IMPORT_OK` module (then ``f`` is not cached). ``modules`` is lambdify's (unused: the names say it)."""
    import builtins
    import types

    out = {}
    g = f.__globals__
    for n in sorted(_global_names(f.__code__)):
        if n not in g:
            if hasattr(builtins, n):
                continue
            return None
        obj = g[n]
        if isinstance(obj, types.ModuleType):
            cands = [obj.__name__]
        else:
            cands = [f"{m}:{n}" for m in _IMPORT_OK]
            mod, name = getattr(obj, "__module__", None), getattr(obj, "__name__", None)
            if isinstance(mod, str) and isinstance(name, str):
                cands.append(f"{mod}:{name}")
        for path in cands:
            try:
                if _resolve(path) is obj:
                    out[n] = path
                    break
            except (ImportError, AttributeError, ValueError):
                continue
        else:
            return None
    return out


def function_from_source(source: str, label: str = "<convtool formcache>", imports: dict | None = None,
                         modules: str = "numpy"):
    """Compile cached lambdify source in a namespace of ``imports`` alone (``{name: "module:attr"}``, from
    :data:`_IMPORT_OK` modules only); returns the function it defines (its source stays readable by
    ``inspect.getsource`` under ``label``). Raises ``ValueError`` for a foreign import, a source that does
    not define exactly one function, or a global name that nothing binds."""
    import builtins
    import linecache

    ns = {}
    for n, path in (imports or {}).items():
        try:
            ns[n] = _resolve(str(path))
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"cached source imports {path}: {exc}") from None
    code = compile(source, label, "exec")
    exec(code, ns)  # noqa: S102 - source generated by sympy.lambdify and verified by its SHA-256 (module doc)
    fns = [v for k, v in ns.items() if callable(v) and getattr(v, "__code__", None) is not None
           and v.__code__.co_filename == label]
    if len(fns) != 1:
        raise ValueError("cached source does not define exactly one function")
    # every name the code mentions (co_names: globals and attributes) bound? else look at its global loads only
    unknown = sorted(n for n in _co_names(fns[0].__code__) if n not in ns and not hasattr(builtins, n))
    if unknown:
        unknown = sorted(n for n in _global_names(fns[0].__code__) if n not in ns and not hasattr(builtins, n))
    if unknown:  # verified now, not as a NameError at the first call
        raise ValueError(f"cached source uses undefined names {unknown}")
    linecache.cache[label] = (len(source), None, source.splitlines(True), label)
    return fns[0]
