"""Sweep specs: a TOML file naming a model, a data source, fixed options and grid axes of ``convtool run``.

A spec (``convtool sweep SPEC.toml``)::

    name = "width sweep"              # optional, shown in the manifest
    model = "two-layer"               # any --model (default two-layer)
    data = "fig1.npz"                 # a file (relative to the spec's folder), or a generator:
    # [data]
    # generate = "fig1"               #   convtool generate's instances, with their parameters
    # h = 500

    [options]                         # fixed options of every run
    steps = 2000

    [grid]                            # axes: the Cartesian product of these lists is the set of runs
    width = [100, 200, 400]
    schedule = ["adaptive", "local"]
    seed = {range = [0, 5]}           # also {linspace = [a, b, num]}, {logspace = [a, b, num]},
                                      # {geomspace = [a, b, num]}

    [[point]]                         # explicit points (non-product designs), added to the grid's
    schedule = "constant"
    eta0 = 1e-3

    [plot]                            # convtool sweep --plot: the summary figure
    x = "width"
    y = "observed_rate"
    hue = "schedule"
    predicted = "rhobar0"             # a dashed line of the same colour
    logx = true

Every option of ``convtool run`` is a valid key (its name as in ``--help``, dashes or underscores);
``out``, ``plot`` and ``json`` are the sweep's own business. An unknown key is an error naming the key and
the closest valid ones. Each point is checked by ``run``'s own option parser before anything runs.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import itertools
import math
import os
try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib
from dataclasses import dataclass, field

from convtool.errors import InputError

__all__ = ["SweepSpec", "load_spec", "parse_spec", "run_option_keys", "RESERVED", "PLOT_KEYS"]

#: run options a sweep sets itself
RESERVED = ("out", "plot", "as_json", "data")
#: keys of the [plot] table
PLOT_KEYS = ("x", "y", "hue", "predicted", "logx", "logy", "title")
_TOP_KEYS = ("name", "model", "data", "options", "grid", "point", "plot", "quick")
#: prefix of the grid axes (and point keys) that are parameters of the [data] generator
DATA_PREFIX = "data."


@functools.lru_cache(maxsize=1)
def run_option_keys() -> dict:
    """``{spec key: click parameter}`` for every option of ``convtool run`` (both spellings of each); built once
    (every point's validation and argv read it; callers do not modify it)."""
    from convtool.cli.cmd_run import run

    out = {}
    for p in run.params:
        if p.name in RESERVED or not getattr(p, "opts", None):
            continue
        for flag in p.opts:
            if flag.startswith("--"):
                out[flag[2:]] = p
                out[flag[2:].replace("-", "_")] = p
        out[p.name] = p
    return out


def _expand(key: str, value):
    """A grid axis value: a list, a range table, or a single value (an axis of one)."""
    if isinstance(value, list):
        if not value:
            raise InputError(f"grid axis {key!r} is an empty list")
        return value
    if isinstance(value, dict):
        if len(value) != 1:
            raise InputError(f"grid axis {key!r}: give one of range, linspace, logspace, geomspace, "
                             f"got {', '.join(value) or 'nothing'}")
        (kind, args), = value.items()
        if not isinstance(args, list) or not all(isinstance(a, (int, float)) and not isinstance(a, bool)
                                                 for a in args):
            raise InputError(f"grid axis {key!r}: {kind} takes a list of numbers")
        if kind == "range":
            if not (1 <= len(args) <= 3) or not all(isinstance(a, int) for a in args):
                raise InputError(f"grid axis {key!r}: range = [start, stop(, step)] of integers")
            vals = list(range(*args))
        elif kind in ("linspace", "logspace", "geomspace"):
            if len(args) != 3 or not isinstance(args[2], int) or args[2] < 1:
                raise InputError(f"grid axis {key!r}: {kind} = [a, b, num] with an integer num >= 1")
            a, b, num = float(args[0]), float(args[1]), args[2]
            if kind == "geomspace" and (a <= 0 or b <= 0):
                raise InputError(f"grid axis {key!r}: geomspace needs positive ends")
            lo, hi = (math.log10(a), math.log10(b)) if kind == "geomspace" else (a, b)
            grid = [lo + (hi - lo) * i / (num - 1) for i in range(num)] if num > 1 else [lo]
            vals = [10 ** g for g in grid] if kind != "linspace" else grid
        else:
            raise InputError(f"grid axis {key!r}: unknown range kind {kind!r} (range, linspace, logspace, geomspace)")
        if not vals:
            raise InputError(f"grid axis {key!r}: {kind} {args} is empty")
        return vals
    return [value]


@dataclass
class SweepSpec:
    """A parsed spec: ``points`` is the list of option dicts (fixed options, then the point's axes)."""

    name: str
    model: str
    data: str | None
    generator: dict | None
    options: dict
    axes: dict
    points: list
    plot: dict = field(default_factory=dict)
    source: str = ""
    text: str = ""

    @property
    def axis_keys(self) -> list:
        """The keys that vary between points (grid axes and explicit points' keys), in spec order."""
        keys = list(self.axes)
        for p in self.points:
            for k in p:
                if k not in keys and k not in self.options:
                    keys.append(k)
        return [k for k in keys if len({repr(p.get(k)) for p in self.points}) > 1 or k in self.axes]

    def to_dict(self) -> dict:
        return {"name": self.name, "model": self.model, "data": self.data, "generator": self.generator,
                "options": self.options, "axes": self.axes, "n_points": len(self.points), "plot": self.plot,
                "source": self.source, "sha256": hashlib.sha256(self.text.encode()).hexdigest()}


def _closest(key: str, valid) -> str:
    near = difflib.get_close_matches(key, list(valid), n=3, cutoff=0.6)
    return f" (closest: {', '.join(near)})" if near else ""


def _check_keys(table: dict, where: str, valid: dict, data_ok: bool = False) -> dict:
    out = {}
    for k, v in table.items():
        if k.startswith(DATA_PREFIX):
            if not data_ok:
                raise InputError(f"{where}: {k!r} varies the data generator; it needs a [data] table with "
                                 f"generate = NAME")
            if not k[len(DATA_PREFIX):].isidentifier():
                raise InputError(f"{where}: {k!r} is not a generator parameter name")
            out[k] = v
            continue
        if k in RESERVED or k in ("json", "as-json"):
            raise InputError(f"{where}: {k!r} is set by the sweep itself (its results go to the sweep's table)")
        if k not in valid:
            raise InputError(f"{where}: unknown run option {k!r}{_closest(k, valid)}")
        out[valid[k].name] = v
    return out


def parse_spec(text: str, source: str = "<spec>", base_dir: str | None = None, quick: bool = False) -> SweepSpec:
    """Parse and validate a spec's TOML text (module docstring); InputError names the problem.

    With ``quick``, the spec's ``[quick]`` table (``[quick.options]``, ``[quick.grid]``, ``[quick.data]``)
    overrides the corresponding entries: the small version of a paper's experiment."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{source}: not valid TOML: {exc}") from None
    q = raw.pop("quick", {}) or {}
    if not isinstance(q, dict) or any(k not in ("options", "grid", "data") for k in q):
        raise InputError(f"{source}: [quick] may hold options, grid and data tables only")
    if quick:
        for k, v in q.items():
            if not isinstance(v, dict) or not isinstance(raw.get(k, {}), dict):
                raise InputError(f"{source}: [quick.{k}] must be a table overriding [{k}]")
            raw[k] = {**(raw.get(k) or {}), **v}
    unknown = [k for k in raw if k not in _TOP_KEYS]
    if unknown:
        raise InputError(f"{source}: unknown top-level key {unknown[0]!r}{_closest(unknown[0], _TOP_KEYS)}; "
                         f"keys: {', '.join(_TOP_KEYS)}")
    valid = run_option_keys()
    for k in ("options", "grid", "plot"):
        if k in raw and not isinstance(raw[k], dict):
            raise InputError(f"{source}: [{k}] must be a table")
    gen = isinstance(raw.get("data"), dict)
    options = _check_keys(raw.get("options", {}) or {}, f"{source} [options]", valid)
    axes = {k: _expand(k, v) for k, v in _check_keys(raw.get("grid", {}) or {}, f"{source} [grid]", valid,
                                                     data_ok=gen).items()}
    explicit = raw.get("point", []) or []
    if not isinstance(explicit, list) or not all(isinstance(p, dict) for p in explicit):
        raise InputError(f"{source}: [[point]] entries must be tables")
    explicit = [_check_keys(p, f"{source} [[point]] {i + 1}", valid, data_ok=gen) for i, p in enumerate(explicit)]
    model = raw.get("model", options.pop("model", "two-layer"))
    if "model" in axes:
        raise InputError(f"{source}: one model per sweep; 'model' cannot be a grid axis")
    data, generator = raw.get("data"), None
    if isinstance(data, dict):
        generator = dict(data)
        if "generate" not in generator:
            raise InputError(f"{source}: [data] needs generate = NAME (a convtool generate instance)")
        data = None
    elif data is not None:
        if not isinstance(data, str) or not data:
            raise InputError(f"{source}: data must be a file name or a [data] table")
        if base_dir and not os.path.isabs(data):
            data = os.path.join(base_dir, data)
    plot = raw.get("plot", {}) or {}
    bad = [k for k in plot if k not in PLOT_KEYS]
    if bad:
        raise InputError(f"{source} [plot]: unknown key {bad[0]!r}{_closest(bad[0], PLOT_KEYS)}")
    grid_points = [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())] if axes else []
    points = [{**options, **p} for p in grid_points + explicit] or [dict(options)]
    for i, p in enumerate(points):
        p["model"] = model
        _validate_point(run_options(p), valid, f"{source}: point {i + 1}")
    return SweepSpec(name=str(raw.get("name", os.path.basename(source))), model=model, data=data,
                     generator=generator, options=options, axes=axes, points=points, plot=plot, source=source,
                     text=text)


def load_spec(path: str, quick: bool = False) -> SweepSpec:
    """Read and parse a spec file (one-line InputError when it cannot be read)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read((1 << 20) + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the spec: {exc.strerror or exc}") from None
    if len(data) > 1 << 20:
        raise InputError(f"{path}: a spec larger than 1 MiB is not a spec")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: the spec is not UTF-8 text") from None
    return parse_spec(text, source=str(path), base_dir=os.path.dirname(os.path.abspath(path)), quick=quick)


def run_options(point: dict) -> dict:
    """The run options of a point (without its ``data.*`` generator parameters)."""
    return {k: v for k, v in point.items() if not k.startswith(DATA_PREFIX)}


def data_params(point: dict) -> dict:
    """The point's ``data.*`` generator parameters, without the prefix."""
    return {k[len(DATA_PREFIX):]: v for k, v in point.items() if k.startswith(DATA_PREFIX)}


def point_argv(point: dict) -> list:
    """The ``convtool run`` arguments of one point (option names as click knows them)."""
    valid = run_option_keys()
    argv = []
    for k, v in run_options(point).items():
        p = valid[k]
        flag = next(f for f in p.opts if f.startswith("--"))
        if getattr(p, "is_flag", False):
            if not isinstance(v, bool):
                raise InputError(f"option {k!r} is a flag: give true or false, got {v!r}")
            if v:
                argv.append(flag)
            continue
        if isinstance(v, bool):
            raise InputError(f"option {k!r} takes a value, not {str(v).lower()}")
        if isinstance(v, list):
            v = ",".join(str(x) for x in v)
        argv += [flag, repr(v) if isinstance(v, float) else str(v)]
    return argv


def _validate_point(point: dict, valid: dict, where: str) -> None:
    """Parse a point's arguments with ``convtool run``'s own parser (types, choices, ranges)."""
    import click

    from convtool.cli.cmd_run import run

    argv = point_argv(point)
    try:
        run.make_context("run", argv + ["--json"], resilient_parsing=False)
    except click.ClickException as exc:
        raise InputError(f"{where}: {' '.join(exc.format_message().split())}") from None
