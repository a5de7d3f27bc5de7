"""bench/run.py's plumbing: ratios reported by a script reach results.json and the generated README section."""

from __future__ import annotations

import importlib.util
import json
import os

BENCH = os.path.join(os.path.dirname(__file__), os.pardir, "bench")


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(BENCH, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_report_appends_json_lines_only_when_asked(tmp_path, monkeypatch):
    res = _load("_results")
    monkeypatch.delenv("CONVTOOL_BENCH_RESULTS", raising=False)
    res.report("b", "nothing written", 1.0)
    path = tmp_path / "r.jsonl"
    monkeypatch.setenv("CONVTOOL_BENCH_RESULTS", str(path))
    res.report("b", "speed-up", 1.7, target=1.6, op=">=")
    res.report("b", "cost", 2.5, target=2.0)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [(x["name"], x["met"]) for x in lines] == [("speed-up", True), ("cost", False)]


def test_readme_section_is_generated_and_replaced(tmp_path):
    run = _load("run")
    results = {"machine": {"cpus": 2, "platform": "p", "python": "3", "numpy": "2"}, "mode": "quick",
               "date": "2026-01-01", "benches": {
                   "bench_x": {"exit_status": 0, "ratios": [{"name": "a / b", "ratio": 1.2345, "target": 2.0,
                                                              "op": "<=", "met": True}]},
                   "bench_y": {"exit_status": 1, "ratios": []}}}
    readme = tmp_path / "README.md"
    readme.write_text("# t\n\nintro\n")
    run.update_readme(results, str(readme))
    text = readme.read_text()
    assert "| bench_x | a / b | 1.23 | <= 2 | yes |" in text and "failed, exit status 1" in text
    results["benches"]["bench_x"]["ratios"][0]["ratio"] = 3.0
    results["benches"]["bench_x"]["ratios"][0]["met"] = False
    run.update_readme(results, str(readme))
    text = readme.read_text()
    assert text.count(run.START) == 1 and "| bench_x | a / b | 3 | <= 2 | **no** |" in text and "intro" in text


def test_every_bench_script_reports_its_ratios():
    names = [f for f in os.listdir(BENCH) if f.startswith("bench_") and f.endswith(".py")]
    assert names
    for f in names:
        with open(os.path.join(BENCH, f), encoding="utf-8") as fh:
            assert "report(" in fh.read(), f"{f} does not report its ratios to bench/run.py"
