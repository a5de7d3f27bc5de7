"""Grids of ``convtool run``: a spec (:mod:`convtool.sweeps.spec`), one tidy table, a cache, local or Dask execution.

:func:`run_sweep` is the library entry point (``convtool sweep`` is a thin layer over it) and returns a
:class:`SweepResult` (rows, columns, counts, manifest); :func:`sweep` returns the same table as a pandas
DataFrame (``pip install convtool[frame]``). The output folder holds ``table.csv`` (always),
``table.parquet`` (with pyarrow, ``convtool[parquet]``), ``manifest.json`` (the spec, convtool's version,
the environment, the data hash, the counts) and ``cache/`` (one entry per run, :mod:`convtool.sweeps.cache`).

Examples
--------
>>> import tempfile, os
>>> spec = '''
... [options]
... steps = 50
... [grid]
... width = [20, 40]
... '''
>>> with tempfile.TemporaryDirectory() as d:
...     res = run_sweep(parse_spec(spec), out_dir=d)
...     sorted(os.listdir(d))[:3], [r["width"] for r in res.rows], res.ran, res.failed
(['cache', 'manifest.json', 'table.csv'], [20, 40], 2, 0)
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import time
from dataclasses import dataclass, field

from convtool.errors import InputError
from convtool.sweeps.cache import Cache, file_sha256, point_key
from convtool.sweeps.spec import SweepSpec, load_spec, parse_spec

__all__ = ["run_sweep", "sweep", "SweepResult", "SweepSpec", "load_spec", "parse_spec", "FAILED_EXIT_BASE"]

#: ``convtool sweep`` exits with FAILED_EXIT_BASE + (number of failed runs, at most 155) when runs failed
FAILED_EXIT_BASE = 100


@dataclass
class SweepResult:
    """The sweep's table (``rows`` in point order, ``columns``), its counts and manifest."""

    rows: list
    columns: list
    ran: int
    cached: int
    failed: int
    corrupted: int
    out_dir: str
    manifest: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"columns": self.columns, "rows": self.rows, "ran": self.ran, "cached": self.cached,
                "failed": self.failed, "corrupted_cache_entries": self.corrupted, "out_dir": self.out_dir,
                "manifest": self.manifest}

    def to_frame(self):
        try:
            import pandas as pd
        except ImportError:
            raise InputError("a DataFrame needs pandas: pip install 'convtool[frame]'") from None
        return pd.DataFrame(self.rows, columns=self.columns)


def environment() -> dict:
    """The versions every convtool result carries (:func:`convtool.results.provenance`), the platform and the
    core count: the manifest's environment."""
    from convtool.results import provenance

    return {**provenance()["versions"], "platform": platform.platform(), "cpus": os.cpu_count()}


def _data_file(spec: SweepSpec, out_dir: str, point: dict | None = None) -> str | None:
    """The data file of a point: the spec's, or its generator's instance (with the point's ``data.*``
    parameters) written once to ``out_dir``."""
    from convtool.sweeps.spec import data_params

    if spec.generator is None:
        if spec.data is not None and not os.path.isfile(spec.data):
            raise InputError(f"{spec.source}: data file {spec.data} does not exist")
        return spec.data
    import hashlib

    from convtool.numeric.data import save_arrays
    from convtool.numeric.generators import GENERATORS
    from convtool.numeric import generators as gens

    params = {k: v for k, v in spec.generator.items() if k != "generate"}
    params.update(data_params(point or {}))
    name = spec.generator["generate"]
    table = dict(GENERATORS)
    for attr in dir(gens):  # every model's table (DLN_GENERATORS, RESNET_GENERATORS, ...)
        if attr.endswith("_GENERATORS") and isinstance(getattr(gens, attr), dict):
            table.update(getattr(gens, attr))
    if name not in table:
        raise InputError(f"{spec.source}: unknown generator {name!r}; choose from {', '.join(sorted(table))}")
    tag = hashlib.sha256(json.dumps([name, params], sort_keys=True).encode()).hexdigest()[:16]
    path = os.path.join(out_dir, f"data-{name}-{tag}.npz")
    if not os.path.exists(path):
        try:
            arrays = table[name](**params)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{spec.source} [data]: {name}({', '.join(f'{k}={v!r}' for k, v in params.items())})"
                             f": {exc}") from None
        save_arrays(path, arrays)
    return path


def _columns(rows: list, axis_keys: list) -> list:
    cols = ["point", *axis_keys]
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    return cols


def write_csv(path: str, rows: list, columns: list) -> None:
    from convtool.files import atomic_write

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
    atomic_write(path, lambda fh: fh.write(buf.getvalue().encode("utf-8")))


def write_parquet(path: str, rows: list, columns: list) -> bool:
    """Write the table as Parquet when pyarrow is there (mixed-type columns as strings); False without it."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return False
    data = {}
    for c in columns:
        vals = [r.get(c) for r in rows]
        kinds = {type(v) for v in vals if v is not None}
        if kinds <= {int} or kinds <= {float} or kinds <= {int, float} or kinds <= {str} or kinds <= {bool}:
            if kinds == {int, float}:
                vals = [None if v is None else float(v) for v in vals]
            data[c] = vals
        else:
            data[c] = [None if v is None else str(v) for v in vals]
    from convtool.files import atomic_write

    table = pa.table(data)
    atomic_write(path, lambda fh: pq.write_table(table, fh))
    return True


def run_sweep(spec: SweepSpec | str, out_dir: str, *, jobs: int = 1, scheduler: str | None = None,
              retries: int = 2, force: bool = False, progress=None, command: list | None = None) -> SweepResult:
    """Run every point of ``spec`` not already in ``out_dir``'s cache (all of them with ``force``).

    ``progress(done, total)`` after each run (cached ones count at once). Failed runs are rows with
    ``run_status = "failed"`` and their ``error``; the sweep goes on.
    """
    from convtool.files import atomic_write
    from convtool.sweeps.execute import execute

    if isinstance(spec, str):
        spec = load_spec(spec)
    os.makedirs(out_dir, exist_ok=True)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    env = environment()
    datas = [_data_file(spec, out_dir, p) for p in spec.points]
    shas = {d: file_sha256(d) for d in set(datas) if d}
    cache = Cache(os.path.join(out_dir, "cache"))
    keys = [point_key(p, shas.get(d), env["convtool"]) for p, d in zip(spec.points, datas)]
    rows: list = [None] * len(spec.points)
    todo = []
    for i, (p, k) in enumerate(zip(spec.points, keys)):
        row = None if force else cache.get(k)
        if row is None:
            todo.append((i, p, datas[i]))
        else:
            rows[i] = row
    total = len(spec.points)
    done = total - len(todo)
    if progress is not None:
        progress(done, total)
    for i, row in execute(todo, jobs=jobs, scheduler=scheduler, retries=retries):
        if rows[i] is not None:
            continue  # a rerun of a point already gathered (Dask after a lost worker): keep the first
        rows[i] = row
        if row.get("run_status") == "ok":
            cache.put(keys[i], row)
        done += 1
        if progress is not None:
            progress(done, total)
    axis_keys = spec.axis_keys
    table = []
    for i, (p, row) in enumerate(zip(spec.points, rows)):
        table.append({"point": i, **{k: p.get(k) for k in axis_keys}, **row})
    columns = _columns(table, axis_keys)
    failed = sum(r.get("run_status") != "ok" for r in table)
    write_csv(os.path.join(out_dir, "table.csv"), table, columns)
    parquet = write_parquet(os.path.join(out_dir, "table.parquet"), table, columns)
    manifest = {"spec": spec.to_dict(), "spec_text": spec.text, "environment": env,
                "data": sorted(shas), "data_sha256": shas, "started": started,
                "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "points": total,
                "ran": len(todo), "cached": total - len(todo), "failed": failed,
                "corrupted_cache_entries": cache.corrupted, "parquet": parquet,
                "execution": {"jobs": jobs, "scheduler": scheduler, "retries": retries, "force": force},
                "command": command}
    text = json.dumps(manifest, indent=2, allow_nan=False, default=str)
    atomic_write(os.path.join(out_dir, "manifest.json"), lambda fh: fh.write(text.encode("utf-8")))
    return SweepResult(rows=table, columns=columns, ran=len(todo), cached=total - len(todo), failed=failed,
                       corrupted=cache.corrupted, out_dir=out_dir, manifest=manifest)


def sweep(spec, out_dir: str | None = None, **kwargs):
    """:func:`run_sweep` returning the table as a pandas DataFrame (``spec``: a path, TOML text or a SweepSpec).

    Without ``out_dir`` the outputs go to ``<spec name>-sweep`` beside the spec file (a temporary folder
    for TOML text)."""
    if isinstance(spec, str) and not os.path.exists(spec) and ("[" in spec or "=" in spec):
        spec = parse_spec(spec)
    elif isinstance(spec, str):
        spec = load_spec(spec)
    if out_dir is None:
        if spec.source and os.path.exists(spec.source):
            out_dir = os.path.splitext(spec.source)[0] + "-sweep"
        else:
            import tempfile

            out_dir = tempfile.mkdtemp(prefix="convtool-sweep-")
    return run_sweep(spec, out_dir, **kwargs).to_frame()
