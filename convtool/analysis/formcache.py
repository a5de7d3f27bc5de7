"""A user-level cache of the compiled stable forms, so that a command does not re-derive them at every start.

Deriving a quantity's stable form (:func:`convtool.analysis.evaluate.stable_form`: sympy's ``factor`` inside
``optimize``) and lambdifying it with common-subexpression elimination costs seconds for a registry, on
every process start. The result is pure: it depends only on the quantity's expression, its stable
variable, sympy's version and this module's :data:`FORMAT`. So the generated Python source is cached,
one JSON file per paper, under ``$CONVTOOL_CACHE_DIR`` (default ``$XDG_CACHE_HOME/convtool`` or
``~/.cache/convtool``), keyed by a SHA-256 of exactly those inputs.

Verification on load: an entry is used only when its key is the key of the current expression and its
source's SHA-256 matches the stored one (a truncated, edited or stale file is recompiled and rewritten);
the source is then compiled in lambdify's own numpy namespace. The cache is written atomically and only
ever read back by convtool; ``CONVTOOL_CACHE_DIR=off`` disables it. Nothing a user types reaches it.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading

__all__ = ["FORMAT", "cache_dir", "entry_key", "registry_sha", "load", "store", "function_from_source"]

#: bump when the stable-form derivation or the stored layout changes
FORMAT = 1
_LOCK = threading.Lock()
_MEMO: dict = {}


def cache_dir() -> str | None:
    d = os.environ.get("CONVTOOL_CACHE_DIR")
    if d is not None:
        return None if d.strip().lower() in ("", "off", "0", "none") else d
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "convtool")


def entry_key(registry_sha: str, name: str) -> str:
    """The key of quantity ``name``: the paper's registry content (every expression, :func:`registry_sha`),
    the name, sympy's version and :data:`FORMAT` (a stable form may substitute other quantities' formulas)."""
    import sympy as sp

    return hashlib.sha256(json.dumps([FORMAT, sp.__version__, registry_sha, name]).encode()).hexdigest()


def registry_sha(reg: dict) -> str:
    """SHA-256 of a registry's content: each quantity's name, kind, expression (srepr), inputs, stable variable."""
    import sympy as sp

    h = hashlib.sha256()
    for name in sorted(reg):
        q = reg[name]
        expr = getattr(q, "expr", None)
        h.update(json.dumps([name, q.kind, None if expr is None else sp.srepr(expr), list(q.inputs),
                             getattr(q, "stable_in", None)]).encode())
    return h.hexdigest()


def _path(paper: str) -> str | None:
    d = cache_dir()
    if d is None:
        return None
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in paper)
    return os.path.join(d, f"forms-{safe}-v{FORMAT}.json")


def _read(paper: str) -> dict:
    if paper in _MEMO:
        return _MEMO[paper]
    path = _path(paper)
    data = {}
    if path and os.path.isfile(path):
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
            if not isinstance(data, dict):
                data = {}
        except (OSError, ValueError):
            data = {}
    _MEMO[paper] = data
    return data


def load(paper: str, name: str, key: str) -> tuple | None:
    """``(source, argnames, imports)`` of a verified entry, or None."""
    e = _read(paper).get(name)
    if not isinstance(e, dict) or e.get("key") != key:
        return None
    src = e.get("source")
    if not isinstance(src, str) or hashlib.sha256(src.encode()).hexdigest() != e.get("sha256"):
        return None
    imports = e.get("imports", {})
    if not isinstance(imports, dict) or any(str(v).split(".")[0] not in _IMPORT_OK for v in imports.values()):
        return None
    return src, tuple(e.get("argnames", ())), imports


#: modules whose functions a cached source may import besides lambdify's numpy namespace
_IMPORT_OK = ("functools", "math", "numpy", "operator", "itertools", "builtins", "mpmath")


def _probe_namespace(modules: str = "numpy") -> dict:
    """The namespace lambdify gives a function for ``modules`` (``numpy`` or ``mpmath``)."""
    if modules not in _NAMESPACES:
        import sympy as sp

        probe = sp.lambdify([sp.Symbol("x")], sp.Symbol("x"), modules=modules)
        _NAMESPACES[modules] = dict(probe.__globals__)
    return _NAMESPACES[modules]


def _names(code) -> set:
    out = set(code.co_names)
    for c in code.co_consts:
        if hasattr(c, "co_names"):
            out |= _names(c)
    return out


def imports_of(f, modules: str = "numpy") -> dict | None:
    """``{global name: "module.attr"}`` that ``f`` (a lambdified function) uses beyond the numpy namespace;
    None when one of them comes from a module outside :data:`_IMPORT_OK` (then it is not cached)."""
    ns = _probe_namespace(modules)
    out = {}
    for n in sorted(_names(f.__code__)):
        if n in ns or n not in f.__globals__:
            continue
        obj = f.__globals__[n]
        mod, attr = getattr(obj, "__module__", None), getattr(obj, "__name__", None)
        if mod is None and hasattr(obj, "__name__") and hasattr(obj, "__spec__"):  # a module itself
            mod, attr = obj.__name__, None
        if mod not in _IMPORT_OK:
            return None
        out[n] = mod if attr is None else f"{mod}.{attr}"
    return out


def store(paper: str, name: str, key: str, source: str, argnames, imports: dict | None = None) -> None:
    """Add an entry and rewrite the paper's file atomically (errors ignored: the cache is an optimization)."""
    path = _path(paper)
    if path is None:
        return
    with _LOCK:
        data = dict(_read(paper))
        data[name] = {"key": key, "source": source, "sha256": hashlib.sha256(source.encode()).hexdigest(),
                      "argnames": list(argnames), "imports": dict(imports or {})}
        _MEMO[paper] = data
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            from convtool.files import atomic_write

            text = json.dumps(data, sort_keys=True)
            atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))
        except OSError:
            pass


_NAMESPACES: dict = {}


def function_from_source(source: str, label: str = "<convtool formcache>", imports: dict | None = None,
                         modules: str = "numpy"):
    """Compile lambdify-generated source in lambdify's numpy namespace (plus ``imports``, from
    :data:`_IMPORT_OK` modules only); returns the function it defines (its source stays readable by
    ``inspect.getsource`` under ``label``)."""
    import importlib
    import linecache

    ns = dict(_probe_namespace(modules))
    for n, path in (imports or {}).items():
        mod, _, attr = str(path).rpartition(".") if "." in str(path) else (str(path), "", "")
        if mod.split(".")[0] not in _IMPORT_OK:
            raise ValueError(f"cached source imports {path}")
        ns[n] = getattr(importlib.import_module(mod), attr) if attr else importlib.import_module(mod)
    code = compile(source, label, "exec")
    exec(code, ns)  # noqa: S102 - source generated by sympy.lambdify and verified by its SHA-256 (module doc)
    linecache.cache[label] = (len(source), None, source.splitlines(True), label)
    fns = [v for k, v in ns.items() if callable(v) and getattr(v, "__code__", None) is not None
           and v.__code__.co_filename == label]
    if len(fns) != 1:
        raise ValueError("cached source does not define exactly one function")
    import builtins

    unknown = [n for n in _names(fns[0].__code__) if n not in ns and not hasattr(builtins, n)]
    if unknown:  # verified now, not as a NameError at the first call
        raise ValueError(f"cached source uses undefined names {unknown}")
    return fns[0]
