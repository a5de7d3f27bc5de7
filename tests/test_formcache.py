"""The user-level cache of compiled stable forms (convtool.analysis.formcache): the same numbers from a cached
start, tampered or stale entries rebuilt, foreign imports refused, and the cache off when asked."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CODE = ("import json; from convtool.numeric.constants import compute_constants; "
        "from convtool.numeric.experiments import default_batch; "
        "b = default_batch(seeds=1, h=40); "
        "r = compute_constants(b.losses[0], b.W1[0], b.W2[0]); "
        "print(json.dumps({k: r.to_dict()[k] for k in ('eta_max', 'rhobar0', 'alpha1', 'kappa', 'local_rate')}))")


def _run(cache):
    env = {**os.environ, "CONVTOOL_CACHE_DIR": str(cache)}
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_cached_start_gives_the_same_numbers_and_tampering_is_detected(tmp_path):
    cold = _run(tmp_path)
    files = [f for f in os.listdir(tmp_path) if f.startswith("forms-local-pl")]
    assert files, os.listdir(tmp_path)
    path = tmp_path / files[0]
    entries = json.loads(path.read_text())
    assert any(k.startswith("numpy:") for k in entries) and any(k.startswith("mpmath:") for k in entries)
    warm = _run(tmp_path)
    assert warm == cold  # bit-identical from the cached sources
    # tamper with one source: its checksum no longer matches, the entry is rebuilt, the numbers do not change
    name = next(k for k in entries if k.startswith("numpy:eta"))
    entries[name]["source"] = entries[name]["source"].replace("return", "return 0 *", 1)
    path.write_text(json.dumps(entries))
    assert _run(tmp_path) == cold
    assert json.loads(path.read_text())[name]["sha256"] != entries[name]["sha256"] or \
        json.loads(path.read_text())[name]["source"] != entries[name]["source"]
    # a truncated file is ignored and rewritten
    path.write_text(path.read_text()[:100])
    assert _run(tmp_path) == cold
    json.loads(path.read_text())


def test_load_refuses_stale_keys_and_foreign_imports(tmp_path, monkeypatch):
    from convtool.analysis import formcache

    monkeypatch.setenv("CONVTOOL_CACHE_DIR", str(tmp_path))
    formcache._MEMO.clear()
    src = "def _lambdifygenerated(x):\n    return x + 1\n"
    formcache.store("t", "numpy:q", "k1", src, ("x",), {})
    assert formcache.load("t", "numpy:q", "k1")[0] == src
    assert formcache.load("t", "numpy:q", "k2") is None  # the registry changed: another key
    formcache.store("t", "numpy:r", "k1", src, ("x",), {"system": "os.system"})
    assert formcache.load("t", "numpy:r", "k1") is None
    with pytest.raises(ValueError):
        formcache.function_from_source(src, "<t>", {"system": "os.system"})
    with pytest.raises(ValueError, match="undefined names"):
        formcache.function_from_source("def f(x):\n    return nosuchname(x)\n", "<t2>")
    assert formcache.function_from_source(src, "<t3>")(2.0) == 3.0
    formcache._MEMO.clear()


def test_cache_off(tmp_path, monkeypatch):
    from convtool.analysis import formcache

    monkeypatch.setenv("CONVTOOL_CACHE_DIR", "off")
    assert formcache.cache_dir() is None
    formcache.store("t", "numpy:q", "k", "def f(x):\n    return x\n", ("x",), {})
    assert not list(tmp_path.iterdir())
