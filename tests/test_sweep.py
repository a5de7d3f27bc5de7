"""convtool sweep: spec validation, the tidy table, the cache, failures, local processes against in-process,
Dask on loopback with a worker killed mid-sweep (convtool.sweeps, convtool/cli/cmd_sweep.py)."""

from __future__ import annotations

import csv
import json
import os

import pytest
from click.testing import CliRunner

from convtool.cli.main import cli
from convtool.errors import InputError
from convtool.sweeps import FAILED_EXIT_BASE, parse_spec, run_sweep, sweep
from tests.clihelpers import assert_user_error, ok, strict_json

SPEC = """
name = "tiny"
[options]
steps = 40
[grid]
width = [20, 30]
schedule = ["adaptive", "local"]
[plot]
x = "width"
y = "observed_rate"
hue = "schedule"
predicted = "rhobar0"
"""

#: columns that differ between two executions of the same runs
_VOLATILE = ("wall_time", "summary.wall_time", "wall_time.median")


def _stable(rows):
    return [{k: v for k, v in r.items() if k not in _VOLATILE and not k.endswith("wall_time")} for r in rows]


# ---------------------------------------------------------------- spec parsing

def test_grid_is_the_cartesian_product_plus_explicit_points():
    spec = parse_spec(SPEC + '\n[[point]]\nschedule = "constant"\neta0 = 1e-3\nwidth = 25\n')
    assert len(spec.points) == 5
    assert [(p["width"], p["schedule"]) for p in spec.points[:4]] == [
        (20, "adaptive"), (20, "local"), (30, "adaptive"), (30, "local")]
    assert spec.points[4]["eta0"] == 1e-3 and spec.points[4]["steps"] == 40
    assert spec.axis_keys[:2] == ["width", "schedule"]


@pytest.mark.parametrize("axis,expected", [
    ("{range = [0, 3]}", [0, 1, 2]),
    ("{linspace = [0.0, 1.0, 3]}", [0.0, 0.5, 1.0]),
    ("{geomspace = [10, 1000, 3]}", [10.0, 100.0, 1000.0]),
    ("{logspace = [-2, 0, 3]}", [0.01, 0.1, 1.0]),
])
def test_range_axes(axis, expected):
    spec = parse_spec(f"[grid]\nseed = {axis}\n" if "range" in axis else f"[grid]\ntol = {axis}\n")
    key = "seed" if "range" in axis else "tol"
    assert [p[key] for p in spec.points] == pytest.approx(expected)


@pytest.mark.parametrize("text,fragment", [
    ("[grid]\nwidht = [1, 2]\n", "unknown run option 'widht' (closest: width"),
    ("[options]\nout = 'x.npz'\n", "set by the sweep itself"),
    ("[grid]\nwidth = []\n", "empty list"),
    ("[grid]\nwidth = [10, -1]\n", "point 2"),
    ("[grid]\nschedule = ['adaptive', 'nosuch']\n", "point 2"),
    ("[grid]\nseed = {range = [0, 2], linspace = [0, 1, 2]}\n", "give one of range"),
    ("grdi = 1\n", "unknown top-level key 'grdi' (closest: grid)"),
    ("[grid\nwidth = 1\n", "not valid TOML"),
    ("[plot]\nxx = 'width'\n", "unknown key 'xx'"),
    ("[data]\nh = 3\n", "needs generate"),
])
def test_bad_specs_are_one_line_errors(text, fragment, tmp_path):
    with pytest.raises(InputError, match=None) as exc:
        parse_spec(text)
    assert fragment in str(exc.value)
    p = tmp_path / "bad.toml"
    p.write_text(text)
    res = CliRunner().invoke(cli, ["sweep", str(p), "--out", str(tmp_path / "o")])
    assert_user_error(res, fragment)
    assert not (tmp_path / "o").exists()


def test_unreadable_spec(tmp_path):
    assert_user_error(CliRunner().invoke(cli, ["sweep", str(tmp_path / "missing.toml")]), "cannot read the spec")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00")
    assert_user_error(CliRunner().invoke(cli, ["sweep", str(tmp_path / "bin.toml")]), "not UTF-8")


# ---------------------------------------------------------------- runs, table, cache

def test_table_cache_and_rerun_of_changed_points(tmp_path):
    out = str(tmp_path / "o")
    res = run_sweep(parse_spec(SPEC), out)
    assert (res.ran, res.cached, res.failed) == (4, 0, 0)
    assert [(r["width"], r["schedule"]) for r in res.rows] == [(20, "adaptive"), (20, "local"), (30, "adaptive"),
                                                               (30, "local")]
    for r in res.rows:  # every row carries the run summary and key constants
        assert r["run_status"] == "ok" and r["steps"] <= 40 and r["observed_rate"] is not None
        assert "violations.thm31" in r and "const.eta_max" in r
    with open(os.path.join(out, "table.csv")) as fh:
        table = list(csv.DictReader(fh))
    assert [int(t["width"]) for t in table] == [20, 20, 30, 30]
    assert float(table[1]["final_loss"]) == res.rows[1]["final_loss"]  # the CSV keeps every digit (repr)
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    assert manifest["environment"]["convtool"] and manifest["points"] == 4 and manifest["spec"]["name"] == "tiny"
    # unchanged: nothing reruns; the table is the same
    again = run_sweep(parse_spec(SPEC), out)
    assert (again.ran, again.cached) == (0, 4)
    assert _stable(again.rows) == _stable(res.rows)
    # one changed point (the steps of one width) reruns, the others come from the cache
    changed = run_sweep(parse_spec(SPEC.replace("width = [20, 30]", "width = [20, 31]")), out)
    assert (changed.ran, changed.cached) == (2, 2)
    # a corrupted cache entry is detected and recomputed
    from convtool import __version__
    from convtool.sweeps.cache import point_key

    entries = [point_key(p, None, __version__) + ".json" for p in parse_spec(SPEC).points[:2]]
    path = os.path.join(out, "cache", entries[0])
    doc = json.load(open(path))
    doc["row"]["final_loss"] = 123.0
    json.dump(doc, open(path, "w"))
    with open(os.path.join(out, "cache", entries[1]), "w") as fh:
        fh.write("{not json")
    fixed = run_sweep(parse_spec(SPEC), out)
    assert fixed.corrupted == 2 and fixed.ran == 2  # the 2 corrupted; the width-30 entries are still there
    assert all(r.get("final_loss") != 123.0 for r in fixed.rows)
    # --force reruns everything
    assert run_sweep(parse_spec(SPEC), out, force=True).ran == 4


def test_failed_run_is_a_row_and_sets_the_exit_status(tmp_path):
    spec = tmp_path / "f.toml"
    # the constant schedule with eta0 = 0 is refused by run: one failed row, the other point runs
    spec.write_text("[options]\nsteps = 20\nwidth = 20\n[grid]\neta0 = [0.0, 1e-3]\nschedule = ['constant']\n")
    res = CliRunner().invoke(cli, ["sweep", str(spec), "--jobs", "1", "--json"])
    assert res.exit_code == FAILED_EXIT_BASE + 1, res.stderr
    doc = strict_json(res.stdout)
    rows = doc["rows"]
    assert [r["run_status"] for r in rows] == ["failed", "ok"]
    assert rows[0]["error"] and "Traceback" not in res.stderr
    assert "1 failed" in res.stderr
    # the failed point is not cached: it reruns next time
    assert run_sweep(str(spec), str(tmp_path / "f-sweep")).ran == 1


def test_local_processes_give_the_in_process_table_and_plot(tmp_path):
    serial = run_sweep(parse_spec(SPEC), str(tmp_path / "a"), jobs=1)
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC)
    res = ok(CliRunner().invoke(cli, ["sweep", str(spec), "--jobs", "2", "--out", str(tmp_path / "b"),
                                      "--plot", str(tmp_path / "f.png")], env={"COLUMNS": "200"}))
    with open(tmp_path / "f.png", "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    par = run_sweep(parse_spec(SPEC), str(tmp_path / "b"))  # all cached by the CLI run
    assert par.cached == 4
    assert _stable(par.rows) == _stable(serial.rows)
    assert "observed_rate" in res.stdout
    for r in serial.rows:
        assert f"{r['observed_rate']:.6g}" in res.stdout


def test_dataframe_and_parquet(tmp_path):
    import pandas as pd
    import pyarrow.parquet as pq

    df = sweep(SPEC, out_dir=str(tmp_path / "o"))
    assert isinstance(df, pd.DataFrame) and list(df["width"]) == [20, 20, 30, 30]
    t = pq.read_table(str(tmp_path / "o" / "table.parquet"))
    assert t.num_rows == 4 and "observed_rate" in t.column_names


def test_generated_data_and_deep_linear_model(tmp_path):
    spec = parse_spec('model = "deep-linear"\n[data]\ngenerate = "zhao-xu"\nd = 6\nM = 30\nk = 2\n'
                      '[options]\nsteps = 5\nwidths = "8"\n[grid]\ndepth = [2, 3]\n')
    res = run_sweep(spec, str(tmp_path / "o"))
    assert res.failed == 0, [r.get("error") for r in res.rows]
    assert [r["depth"] for r in res.rows] == [2, 3]
    assert any(f.startswith("data-zhao-xu") for f in os.listdir(tmp_path / "o"))


# ---------------------------------------------------------------- Dask

def test_dask_cluster_with_a_worker_killed_mid_sweep(tmp_path):
    from dask.distributed import LocalCluster

    spec = parse_spec("[options]\nsteps = 300\nschedule = 'constant'\neta0 = 1e-3\n[grid]\nwidth = [20, 30]\n"
                      "seed = [0, 1, 2]\n")
    local = run_sweep(spec, str(tmp_path / "local"), jobs=1)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        killed = []

        def progress(done, total):
            if done == 1 and not killed:  # one run back: kill a worker while others are in flight
                w = next(iter(cluster.workers.values()))
                w.process.process.kill()
                killed.append(True)

        res = run_sweep(spec, str(tmp_path / "dask"), scheduler=cluster.scheduler_address, retries=3,
                        progress=progress)
    assert killed
    assert res.failed == 0, [r.get("error") for r in res.rows]
    assert [r["point"] for r in res.rows] == list(range(6))  # none lost, none duplicated
    assert _stable(res.rows) == _stable(local.rows)


def test_scheduler_that_cannot_be_reached_is_one_line(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text("[options]\nsteps = 5\nwidth = 10\n")
    res = CliRunner().invoke(cli, ["sweep", str(spec), "--scheduler", "tcp://127.0.0.1:9", "--out",
                                   str(tmp_path / "o")])
    assert_user_error(res, "cannot connect")


def test_data_generator_axes_and_quick_overrides(tmp_path):
    text = ('[data]\ngenerate = "fig1"\nn = 3\n[options]\nsteps = 30\n[grid]\n"data.h" = [8, 12]\n'
            '"data.sigma" = [0.5, 1.0]\n[quick.grid]\n"data.h" = [8]\n')
    full = parse_spec(text)
    assert len(full.points) == 4 and full.axis_keys == ["data.h", "data.sigma"]
    quick = parse_spec(text, quick=True)
    assert [p["data.h"] for p in quick.points] == [8, 8]
    res = run_sweep(quick, str(tmp_path / "o"))
    assert res.failed == 0, [r.get("error") for r in res.rows]
    assert [r["data.sigma"] for r in res.rows] == [0.5, 1.0]
    assert len([f for f in os.listdir(tmp_path / "o") if f.startswith("data-fig1")]) == 2  # one file per setting
    assert res.rows[0]["const.h"] == 8  # the generated width reached the run
    with pytest.raises(InputError, match="needs a \\[data\\] table"):
        parse_spec('[grid]\n"data.h" = [8]\n')
    with pytest.raises(InputError, match="fig1"):
        run_sweep(parse_spec('[data]\ngenerate = "fig1"\nnosuch = 1\n'), str(tmp_path / "p"))


def test_scheduler_without_dask_says_how_to_install(monkeypatch, tmp_path):
    import builtins

    from convtool.sweeps.execute import DASK_HINT

    real = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name == "dask" or name.startswith("dask."):
            raise ImportError("No module named 'dask'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    spec = tmp_path / "s.toml"
    spec.write_text("[options]\nsteps = 5\nwidth = 10\n")
    res = CliRunner().invoke(cli, ["sweep", str(spec), "--scheduler", "auto", "--out", str(tmp_path / "o")])
    assert_user_error(res, "pip install 'convtool[dask]'")
    assert DASK_HINT.startswith("--scheduler needs Dask")


def test_out_folder_never_overwrites_the_spec(tmp_path):
    spec = tmp_path / "table.csv"  # a spec that happens to share the table's name, in the output folder
    spec.write_text("[options]\nsteps = 5\nwidth = 10\n")
    before = spec.read_bytes()
    link = tmp_path / "o"
    link.mkdir()
    (link / "manifest.json").symlink_to(spec)
    for out in (tmp_path, link):
        res = CliRunner().invoke(cli, ["sweep", str(spec), "--out", str(out)])
        assert_user_error(res, "would overwrite the input")
    assert spec.read_bytes() == before
