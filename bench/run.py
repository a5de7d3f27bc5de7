"""Run every benchmark and write ``bench/results.json`` (ratios only, with the machine description).

``python bench/run.py [--full] [--only NAME ...] [--readme]``: each ``bench/bench_*.py`` runs in its own
process (``--quick`` unless ``--full``), reporting its ratios through ``bench/_results.py``; a script that
fails is recorded with its exit status. ``--readme`` then rewrites README.md's performance section (between
``<!-- bench:start -->`` and ``<!-- bench:end -->``), and the same section of bench/README.md, from the results file: the numbers are generated, not
typed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results.json")
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
if HERE not in sys.path:  # bench/'s helpers, also where this file is loaded by path (tests/test_bench_runner.py)
    sys.path.insert(0, HERE)
from _readme import replace_block  # noqa: E402


def machine() -> dict:
    import numpy

    return {"platform": platform.platform(), "python": sys.version.split()[0], "cpus": os.cpu_count(),
            "numpy": numpy.__version__, "processor": platform.processor() or platform.machine()}


def scripts(only=None) -> list:
    names = sorted(f[:-3] for f in os.listdir(HERE) if f.startswith("bench_") and f.endswith(".py"))
    return [n for n in names if not only or n in only or n[len("bench_"):] in only]


def run_all(full: bool = False, only=None) -> dict:
    out = {"machine": machine(), "mode": "full" if full else "quick", "only": list(only) if only else None,
           "date": time.strftime("%Y-%m-%d", time.gmtime()), "benches": {}}
    for name in scripts(only):
        with tempfile.NamedTemporaryFile("w+", suffix=".jsonl", delete=False) as tmp:
            path = tmp.name
        env = {**os.environ, "CONVTOOL_BENCH_RESULTS": path}
        args = [sys.executable, os.path.join(HERE, name + ".py")] + ([] if full else ["--quick"])
        t0 = time.perf_counter()
        proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        with open(path, encoding="utf-8") as fh:
            ratios = [json.loads(line) for line in fh if line.strip()]
        os.unlink(path)
        out["benches"][name] = {"exit_status": proc.returncode, "wall_s": round(wall, 1), "ratios": ratios,
                                "mode": "full" if full else "quick",
                                **({"stderr_tail": proc.stderr[-2000:]} if proc.returncode else {})}
        print(f"{name}: exit {proc.returncode}, {len(ratios)} ratio(s), {wall:.0f} s", flush=True)
    return out


def readme_section(results: dict) -> str:
    m = results["machine"]
    only = results.get("only")
    cmd = "python bench/run.py" + ("" if results["mode"] in ("quick", "mixed") else " --full") + \
        (f" --only {' '.join(only)}" if only else "")
    cmd = f"`{cmd}`" + (" runs (benches run separately; the mode of each is in its row)"
                        if results["mode"] == "mixed" else "")
    lines = [START, "", f"Measured by {cmd} on "
             f"{results['date']} ({m['cpus']} CPU(s), {m['platform']}, Python {m['python']}, numpy {m['numpy']}); "
             f"ratios only, generated from `bench/results.json`.", "",
             "| benchmark | ratio | value | target | met |", "|---|---|---|---|---|"]
    for name, b in results["benches"].items():
        if b["exit_status"] and not b["ratios"]:
            lines.append(f"| {name} | (failed, exit status {b['exit_status']}) | | | |")
        for r in b["ratios"]:
            tgt = "" if r["target"] is None else f"{r['op']} {r['target']:g}"
            met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
            mode = f" ({b['mode']})" if results["mode"] == "mixed" and b.get("mode") else ""
            lines.append(f"| {name}{mode} | {r['name']} | {r['ratio']:.3g} | {tgt} | {met} |")
    lines += ["", END]
    return "\n".join(lines)


def update_readme(results: dict, path: str = os.path.join(ROOT, "README.md")) -> None:
    replace_block(path, START, END, readme_section(results), heading="## Performance\n\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="run each bench at full size (default --quick)")
    ap.add_argument("--only", nargs="*", default=None, help="bench names to run (default all)")
    ap.add_argument("--readme", action="store_true", help="regenerate README.md's performance section")
    ap.add_argument("--readme-only", action="store_true", help="regenerate README.md from bench/results.json")
    a = ap.parse_args(argv)
    if a.readme_only:
        with open(RESULTS, encoding="utf-8") as fh:
            res = json.load(fh)
        update_readme(res)
        update_readme(res, os.path.join(HERE, "README.md"))
        return 0
    res = run_all(a.full, a.only)
    if a.only and os.path.exists(RESULTS):  # update the named benches, keep the others' last results
        with open(RESULTS, encoding="utf-8") as fh:
            old = json.load(fh)
        old.setdefault("benches", {}).update(res["benches"])
        old.update({k: res[k] for k in ("machine", "date")})
        old["only"], old["mode"] = None, "mixed"
        res = old
    with open(RESULTS, "w", encoding="utf-8") as fh:
        json.dump(res, fh, indent=2)
    if a.readme:  # the same generated section in README.md and bench/README.md
        update_readme(res)
        update_readme(res, os.path.join(HERE, "README.md"))
    return 0 if all(b["exit_status"] == 0 for b in res["benches"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
